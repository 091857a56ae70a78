/**
 * quantize(model, calibration, options): a trained float MLP → an int8 QuantizedModel
 * (post-training quantization, no retraining).
 *
 *   weights "int8"        per-output-channel symmetric: s_j = max|w_j| / 127, q = round_half_even(w / s_j) in [−127, 127]
 *   activations "int8"    each dense layer's input quantized with a per-tensor scale
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
import { quantizableLayers, UNSUPPORTED_HINT } from "./layers.js";
import { QuantizedModel } from "./model.js";
import type { ActivationFormat, QuantizedLayer, WeightFormat } from "./net.js";
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
 * OptionError for a layer that cannot be quantized (conv2d, pooling, batchNorm), naming it.
 */
export function quantize(model: Sequential, calibration: Dataset | FloatArray | undefined, options: QuantizeOptions = {}): QuantizedModel {
  const op = "quantize";
  const { weights = "int8", activations = weights === "fp16" ? "float" : "int8" } = checkOptions(op, OPTIONS, options);
  if (weights === "fp16" && activations !== "float")
    throw new OptionError(`${op}: weights "fp16" compute in float: activations must be "float"; got "${activations}"`);
  model.ensureAlive();
  const layers = quantizableLayers(model.specs, model.inputShape);
  if ("unsupported" in layers) throw new OptionError(`${op}: layer ${layers.unsupported} is ${layers.type}: ${UNSUPPORTED_HINT}`);
  const rows = calibrationRows(op, model, calibration, activations === "int8");
  const maxAbs = rows
    ? inputMaxAbs(
        model,
        rows,
        layers.shapes.map((s) => s.type === "dense"),
      )
    : [];
  const out: QuantizedLayer[] = layers.shapes.map((s, i) => {
    if (s.type !== "dense") return s;
    if (weights === "fp16") {
      const half = roundToHalf(model.getParameter(`${i}.weight`));
      if (!half) throw new OptionError(`${op}: tensor "${i}.weight" holds values beyond the half-precision range (±65504); use weights "int8"`);
      return {
        type: "dense",
        inputs: s.inputs,
        outputs: s.outputs,
        weight: half,
        weightScale: undefined,
        bias: model.getParameter(`${i}.bias`),
        inputScale: undefined,
      };
    }
    const { weight, scale } = quantizeRows(model.getParameter(`${i}.weight`), s.outputs, s.inputs);
    return {
      type: "dense",
      inputs: s.inputs,
      outputs: s.outputs,
      weight,
      weightScale: scale,
      bias: model.getParameter(`${i}.bias`),
      inputScale: rows ? symmetricScale(maxAbs[i]!) : undefined,
    };
  });
  return new QuantizedModel(
    {
      specs: layers.specs,
      inputShape: layers.inputShape,
      inputs: layers.inputs,
      outputs: layers.outputs,
      layers: out,
      weights,
      activations,
    },
    { engine: model.engine },
  );
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

/** max |input| of every dense layer (index → value) over the rows, running the float model at inference. */
function inputMaxAbs(model: Sequential, x: ArrayLike<number>, dense: boolean[]): number[] {
  const engine = model.engine;
  const inputs = model.inputs;
  const rows = x.length / inputs;
  const maxAbs = dense.map(() => 0);
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
      dense.forEach((isDense, i) => {
        if (!isDense) return;
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
