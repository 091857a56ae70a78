/**
 * Quantized model files: safetensors that PyTorch code can read, named as the float
 * model's state_dict plus the scales:
 *   "<i>.weight"       I8  (out, in)  int8 weights of dense layer i; (out, in, kh, kw) of conv2d layer i
 *                                    (a batchNorm after layer i is folded into these and has no tensors)
 *   "<i>.weight_scale" F32 (out)      per-output-channel scale: w ≈ weight · weight_scale[:, None]
 *   "<i>.bias"         F32 (out)
 *   "<i>.input_scale"  F32 [1]        per-tensor scale of the layer's input (int8 activations only)
 * or, with fp16 weights, "<i>.weight" F16 (out, in) and "<i>.bias" F32 (out) only.
 * `__metadata__` as a float model file (format, distill_wasm_version, architecture,
 * input_shape for images, task for regression and multi-label models, the caller's keys) plus
 *   quantization  JSON {"weights":"int8","activations":"int8"|"float","scheme":"symmetric"}
 *                 or {"weights":"fp16","activations":"float"}
 * Read by `loadQuantized` (the full library) and `loadStudent` (distill-wasm/infer), both
 * through `readQuantizedFile`, which checks every tensor (dtype, shape, finite positive scales).
 */
import { DistillError, FormatError, OptionError } from "../errors.js";
import type { SafetensorsFile, SafetensorsTensor, TensorToEncode } from "../io/safetensors.js";
import { encodeSafetensors } from "../io/safetensors.js";
import type { LayerSpec } from "../nn/layers/index.js";
import { cleanSpec } from "../nn/layers/index.js";
import { quantizableLayers, UNSUPPORTED_HINT } from "./layers.js";
import { hasWeights, type ActivationFormat, type QuantizedLayer, type QuantizedNet, type QuantizedWeighted } from "./net.js";
import { halfBits } from "./weights.js";
import { TASK_KEY, taskMetadata, taskOfMetadata } from "../nn/task.js";

/** Metadata keys the library writes; the caller may not set them. */
const RESERVED = ["format", "distill_wasm_version", "architecture", "input_shape", "quantization", TASK_KEY];

/** Whether a decoded file is a quantized model (it has `quantization` metadata). */
export function isQuantizedFile(metadata: Record<string, string>): boolean {
  return metadata.quantization !== undefined;
}

/** The net as safetensors bytes (see the module comment); `version` is written as distill_wasm_version. */
export function encodeQuantized(net: QuantizedNet, version: string, extra: Record<string, string | number | boolean> = {}, op = "toSafetensors"): Uint8Array {
  if (typeof extra !== "object" || extra === null) throw new OptionError(`${op}: metadata must be an object of strings`);
  const metadata: Record<string, string> = {
    format: "pt",
    distill_wasm_version: version,
    architecture: JSON.stringify(net.specs),
    quantization: JSON.stringify(
      net.weights === "fp16" ? { weights: "fp16", activations: "float" } : { weights: net.weights, activations: net.activations, scheme: "symmetric" },
    ),
  };
  if (net.inputShape.length > 1) metadata.input_shape = JSON.stringify(net.inputShape);
  Object.assign(metadata, taskMetadata(net.task));
  for (const [key, value] of Object.entries(extra)) {
    if (RESERVED.includes(key)) throw new OptionError(`${op}: metadata key ${JSON.stringify(key)} is written by the library; choose another name`);
    if (!["string", "number", "boolean"].includes(typeof value)) {
      throw new OptionError(`${op}: metadata[${JSON.stringify(key)}] must be a string, number or boolean; got ${value === null ? "null" : typeof value}`);
    }
    Object.defineProperty(metadata, key, { value: String(value), enumerable: true });
  }
  const tensors: TensorToEncode[] = [];
  net.layers.forEach((l, i) => {
    if (!hasWeights(l)) return;
    const shape = weightShape(l);
    const channels = shape[0]!;
    if (l.weight instanceof Float32Array) tensors.push({ name: `${i}.weight`, shape, data: halfBits(l.weight), dtype: "F16" });
    else tensors.push({ name: `${i}.weight`, shape, data: l.weight });
    if (l.weightScale) tensors.push({ name: `${i}.weight_scale`, shape: [channels], data: l.weightScale });
    tensors.push({ name: `${i}.bias`, shape: [channels], data: l.bias });
    if (l.inputScale !== undefined) tensors.push({ name: `${i}.input_scale`, shape: [1], data: Float32Array.of(l.inputScale) });
  });
  return encodeSafetensors(tensors, metadata);
}

/** A decoded quantized model file → the net, or a FormatError naming what is wrong. */
export function readQuantizedFile(file: SafetensorsFile, name: string): QuantizedNet {
  const { tensors, metadata } = file;
  const fail = (problem: string) => new FormatError(`${name}: ${problem}`);
  const q = parseJson(metadata.quantization, "quantization", fail) as { weights?: unknown; activations?: unknown } | null;
  const int8 = q?.weights === "int8" && (q.activations === "int8" || q.activations === "float");
  const fp16 = q?.weights === "fp16" && q.activations === "float";
  if (typeof q !== "object" || q === null || !(int8 || fp16)) {
    throw fail(
      `the quantization metadata must say {"weights":"int8","activations":"int8" or "float"} or {"weights":"fp16","activations":"float"}; got ${metadata.quantization}`,
    );
  }
  const activations = q.activations as ActivationFormat;
  const task = taskOfMetadata(metadata, fail);
  if (metadata.architecture === undefined) throw fail("a quantized model file needs architecture metadata");
  const raw = parseJson(metadata.architecture, "architecture", fail);
  if (!Array.isArray(raw)) throw fail("the architecture metadata must be a JSON array of layers");
  const inputShape = metadata.input_shape === undefined ? undefined : (parseJson(metadata.input_shape, "input_shape", fail) as number[]);
  let layers;
  try {
    const specs: LayerSpec[] = raw.map((s: unknown, i) => {
      if (typeof s !== "object" || s === null) throw fail(`invalid architecture metadata: Sequential: layer ${i} is not an object`);
      return cleanSpec(s, `Sequential: layer ${i}`);
    });
    layers = quantizableLayers(specs, inputShape);
  } catch (cause) {
    if (cause instanceof DistillError && !(cause instanceof FormatError)) throw fail(`invalid architecture metadata: ${cause.message}`);
    throw cause;
  }
  if ("unsupported" in layers) throw fail(`layer ${layers.unsupported} is ${layers.type}: ${UNSUPPORTED_HINT}`);

  const expected = new Set<string>();
  const take = (tensorName: string, dtype: "I8" | "F16" | "F32", shape: number[]): SafetensorsTensor => {
    expected.add(tensorName);
    const t = tensors.get(tensorName);
    if (!t) throw fail(`missing tensor ${JSON.stringify(tensorName)} (${dtype}, shape [${shape.join(", ")}])`);
    if (t.dtype !== dtype) throw fail(`tensor ${JSON.stringify(tensorName)} has dtype ${t.dtype}; a quantized model file holds it as ${dtype}`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw fail(`tensor ${JSON.stringify(tensorName)} has shape [${t.shape.join(", ")}]; the architecture needs [${shape.join(", ")}]`);
    }
    return t;
  };
  const floats = (tensorName: string, shape: number[], positive: boolean, dtype: "F32" | "F16" = "F32"): Float32Array => {
    const data = (take(tensorName, dtype, shape).data as Float32Array).slice(); // F16 is decoded to f32
    const bad = data.findIndex((v) => !Number.isFinite(v) || (positive && !(v > 0)));
    if (bad >= 0) throw fail(`tensor ${JSON.stringify(tensorName)} holds ${data[bad]} at index ${bad}; it must be ${positive ? "finite and > 0" : "finite"}`);
    return data;
  };
  const out: QuantizedLayer[] = layers.shapes.map((s, i) => {
    if (s.type === "folded") return { type: "identity" };
    if (s.type !== "dense" && s.type !== "conv2d") return s;
    const shape = s.type === "dense" ? [s.outputs, s.inputs] : [s.outShape[0], s.inShape[0], s.kernel[0], s.kernel[1]];
    const channels = shape[0]!;
    const tensors = fp16
      ? {
          weight: floats(`${i}.weight`, shape, false, "F16"),
          weightScale: undefined,
          bias: floats(`${i}.bias`, [channels], false),
          inputScale: undefined,
        }
      : {
          weight: (take(`${i}.weight`, "I8", shape).data as Int8Array).slice(),
          weightScale: floats(`${i}.weight_scale`, [channels], true),
          bias: floats(`${i}.bias`, [channels], false),
          inputScale: activations === "int8" ? floats(`${i}.input_scale`, [1], true)[0]! : undefined,
        };
    if (s.type === "dense") return { type: "dense", inputs: s.inputs, outputs: s.outputs, ...tensors };
    const { inputs, outputs, inShape, outShape, kernel, stride, padding } = s;
    return { type: "conv2d", inputs, outputs, inShape, outShape, kernel, stride, padding, ...tensors };
  });
  for (const tensorName of tensors.keys()) {
    if (!expected.has(tensorName)) throw fail(`unexpected tensor ${JSON.stringify(tensorName)}: the architecture has ${[...expected].join(", ")}`);
  }
  return {
    specs: layers.specs,
    inputShape: layers.inputShape,
    inputs: layers.inputs,
    outputs: layers.outputs,
    layers: out,
    weights: fp16 ? "fp16" : "int8",
    activations,
    task,
  };
}

/** The stored shape of a layer's weight: (out, in) for dense, (out, in, kh, kw) for conv2d. */
function weightShape(l: QuantizedWeighted): number[] {
  return l.type === "dense" ? [l.outputs, l.inputs] : [l.outShape[0], l.inShape[0], l.kernel[0], l.kernel[1]];
}

function parseJson(text: string | undefined, what: string, fail: (problem: string) => FormatError): unknown {
  try {
    return JSON.parse(text ?? "");
  } catch {
    throw fail(`the ${what} metadata is not valid JSON`);
  }
}
