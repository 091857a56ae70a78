/**
 * quantize(model, calibration, options): a trained float model (an MLP or a CNN) → an int8
 * QuantizedModel (post-training quantization, no retraining).
 *
 *   weights "int8"        per-output-channel symmetric: s_j = max|w_j| / 127, q = round_half_even(w / s_j) in [−127, 127]
 *   batchNorm             folded into the dense or conv2d layer before it (./fold.ts), then quantized
 *   activations "int8"    each dense / conv2d layer's input quantized with a per-tensor scale
 *                         s_x = max|x| / 127, x the layer's input over the calibration rows
 *                         (the float model run on them); integer products, int32 sums
 *   activations "float"   the int8 weights dequantized once, float compute (storage only)
 *   weights "fp16"        half-precision weights (rounded to nearest, ties to even), float
 *                         compute; activations must be "float" (the default with fp16)
 * Biases stay float32. Every argument is checked before any wasm call.
 */
import { Dataset } from "../data/dataset.js";
import { ArgumentError, OptionError } from "../errors.js";
import type { Sequential } from "../nn/sequential.js";
import { checkOptions, oneOf } from "../options/schema.js";
import { requireArray, requireFinite, rowsOf, type FloatArray } from "../validate.js";
import { foldBatchNorm } from "./fold.js";
import { quantizableLayers, UNSUPPORTED_HINT, type QuantizableLayers } from "./layers.js";
import { QuantizedModel } from "./model.js";
import type { ActivationFormat, QuantizedDense, QuantizedLayer, QuantizedNet, WeightFormat } from "./net.js";
import { quantizeRows, roundToHalf, symmetricScale } from "./weights.js";

export interface QuantizeOptions {
  /** Weight storage: "int8" (default) or "fp16" (half precision, float compute). */
  weights?: WeightFormat;
  /** "int8" (default with int8 weights: integer compute, needs calibration rows) or "float" (float compute; the only choice with fp16). */
  activations?: ActivationFormat;
}

const OPTIONS = { weights: oneOf(["int8", "fp16"]), activations: oneOf(["int8", "float"]) };
/** Calibration rows per forward pass. */
const CHUNK = 256;

/**
 * The int8 model of `model`, on the same engine. `calibration` (a Dataset or rows of
 * `model.inputs` floats) sets the activation scales; it may be omitted with activations "float".
 * OptionError for a layer that cannot be quantized (standardize, a batchNorm that does not follow
 * a dense or conv2d layer), naming it.
 */
export function quantize(model: Sequential, calibration: Dataset | FloatArray | undefined, options: QuantizeOptions = {}): QuantizedModel {
  const op = "quantize";
  const { weights = "int8", activations = weights === "fp16" ? "float" : "int8" } = checkOptions(op, OPTIONS, options);
  if (weights === "fp16" && activations !== "float")
    throw new OptionError(`${op}: weights "fp16" compute in float: activations must be "float"; got "${activations}"`);
  model.ensureAlive();
  const layers = quantizableLayersOf(op, model);
  const rows = calibrationRows(op, model, calibration, activations === "int8");
  const maxAbs = rows
    ? inputMaxAbs(
        model,
        rows,
        layers.shapes.map((s) => s.type === "dense" || s.type === "conv2d"),
      )
    : [];
  const net = quantizedNet(op, model, layers, weights, activations, (i) => (rows ? symmetricScale(maxAbs[i]!) : undefined));
  return new QuantizedModel(net, { engine: model.engine });
}

/** The model's layers as quantizable shapes, or an OptionError naming the first that is not. */
export function quantizableLayersOf(op: string, model: Sequential): QuantizableLayers {
  const layers = quantizableLayers(model.specs, model.inputShape);
  if ("unsupported" in layers) throw new OptionError(`${op}: layer ${layers.unsupported} is ${layers.type}: ${UNSUPPORTED_HINT}`);
  return layers;
}

/**
 * The quantized net of a float model: each dense or conv2d layer's weights (after folding the
 * batchNorm that follows it, if any) quantized per output channel (or rounded to fp16), its
 * input scale from `inputScale(layer index)` (undefined with float activations). Used by
 * `quantize()` (scales from calibration) and by quantization-aware distillation (the scales its
 * observers tracked).
 */
export function quantizedNet(
  op: string,
  model: Sequential,
  layers: QuantizableLayers,
  weights: WeightFormat,
  activations: ActivationFormat,
  inputScale: (index: number) => number | undefined,
): QuantizedNet {
  const out: QuantizedLayer[] = layers.shapes.map((s, i) => {
    if (s.type === "folded") return { type: "identity" };
    if (s.type !== "dense" && s.type !== "conv2d") return s;
    let w = model.getParameter(`${i}.weight`);
    let bias = model.getParameter(`${i}.bias`);
    const next = layers.shapes[i + 1];
    if (next?.type === "folded") {
      const bn = `${i + 1}.`;
      ({ weight: w, bias } = foldBatchNorm(w, bias, {
        gamma: model.getParameter(`${bn}weight`),
        beta: model.getParameter(`${bn}bias`),
        mean: model.getParameter(`${bn}running_mean`),
        variance: model.getParameter(`${bn}running_var`),
        eps: next.eps,
      }));
    }
    const channels = bias.length;
    let tensors: Pick<QuantizedDense, "weight" | "weightScale" | "bias" | "inputScale">;
    if (weights === "fp16") {
      const half = roundToHalf(w);
      if (!half) throw new OptionError(`${op}: tensor "${i}.weight" holds values beyond the half-precision range (±65504); use weights "int8"`);
      tensors = { weight: half, weightScale: undefined, bias, inputScale: undefined };
    } else {
      const { weight, scale } = quantizeRows(w, channels, w.length / channels);
      tensors = { weight, weightScale: scale, bias, inputScale: activations === "int8" ? inputScale(i) : undefined };
    }
    if (s.type === "dense") return { type: "dense", inputs: s.inputs, outputs: s.outputs, ...tensors };
    const { inputs, outputs, inShape, outShape, kernel, stride, padding } = s;
    return { type: "conv2d", inputs, outputs, inShape, outShape, kernel, stride, padding, ...tensors };
  });
  return {
    specs: layers.specs,
    inputShape: layers.inputShape,
    inputs: layers.inputs,
    outputs: layers.outputs,
    layers: out,
    weights,
    activations,
    task: model.task,
  };
}

/** The calibration rows as one flat array (rows, inputs), checked; undefined when not needed and not given. */
function calibrationRows(op: string, model: Sequential, calibration: Dataset | FloatArray | undefined, needed: boolean): ArrayLike<number> | undefined {
  if (calibration === undefined) {
    if (needed)
      throw new ArgumentError(`${op}: activations "int8" needs calibration rows (a Dataset or rows of ${model.inputs} floats) to set the input scales`);
    return undefined;
  }
  if (!needed) return undefined;
  const x = calibration instanceof Dataset ? calibration.x : requireArray(op, "calibration", calibration);
  rowsOf(op, "calibration", x, model.inputs); // at least one whole row
  requireFinite(op, "calibration", x, model.inputs);
  return x;
}

/** max |input| of every dense or conv2d layer (index → value) over the rows, running the float model at inference. */
function inputMaxAbs(model: Sequential, x: ArrayLike<number>, weighted: boolean[]): number[] {
  const engine = model.engine;
  const inputs = model.inputs;
  const rows = x.length / inputs;
  const maxAbs = weighted.map(() => 0);
  model.reserve(Math.min(rows, CHUNK));
  for (let first = 0; first < rows; first += CHUNK) {
    const n = Math.min(CHUNK, rows - first);
    engine.scoped(() => {
      const p = engine.alloc(n * inputs * 4);
      engine
        .f32(p, n * inputs)
        .set(
          ArrayBuffer.isView(x)
            ? (x as Float32Array).subarray(first * inputs, (first + n) * inputs)
            : Array.prototype.slice.call(x, first * inputs, (first + n) * inputs),
        );
      model.forward(p, n, false);
      weighted.forEach((has, i) => {
        if (!has) return;
        const width = i === 0 ? inputs : model.layerWidth(i - 1);
        const values = engine.f32(i === 0 ? p : model.layerOutput(i - 1), n * width);
        let m = maxAbs[i]!;
        for (let j = 0; j < values.length; j++) m = Math.max(m, Math.abs(values[j]!));
        maxAbs[i] = m;
      });
    });
  }
  return maxAbs;
}
