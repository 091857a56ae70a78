/**
 * Reading a model file without building a model: the bytes of a safetensors file → the
 * layer list, the input shape and the checked tensors. `modelFromSafetensors` (the full
 * library) and `loadStudent` (distill-wasm/infer) both start here, so that a file is
 * accepted or refused, with the same FormatError, by either. This module imports no
 * engine and no model: only the layer table, the safetensors decoder and the errors.
 *
 * With `architecture` metadata the layers are its JSON (each spec keeping only its kind's
 * fields; `input_shape` for image models); without it (a PyTorch `nn.Sequential` of
 * Linear layers) they are inferred from the tensor names, see `inferArchitecture`. Every
 * tensor of the layers must be present, of a float dtype (F32, F64, F16, BF16: converted
 * to float32 by the decoder), of the right shape and finite, batchNorm variances must not
 * be negative, and no other tensor may be in the file.
 */
import { DistillError, FormatError, OptionError } from "../errors.js";
import { ACTIVATIONS, checkLayers, cleanSpec, layerTensors, type ActivationName, type LayerSpec } from "../nn/layers/index.js";
import { decodeSafetensors, type SafetensorsFile, type SafetensorsTensor } from "./safetensors.js";
import { taskOfMetadata, type ModelTask } from "../nn/task.js";

/** Parameter-free layers allowed between two Linear layers of an inferred architecture. */
const MAX_GAP = 8;

/**
 * Decodes and checks a model file (`name` labels the messages). `activation` is assumed
 * between two Linear layers of a file without architecture metadata ("none" for none).
 * The tensors' data are Float32Arrays for every parameter of the plan, F32 ones viewing
 * `bytes` (copy them before the bytes change); `metadata` is the file's `__metadata__` as it is.
 */
export function readModelFile(
  bytes: Uint8Array,
  activation: ActivationName | "none",
  name: string,
): { plan: Plan; tensors: Map<string, SafetensorsTensor>; metadata: Record<string, string> } {
  return planModelFile(decodeSafetensors(bytes, name, { copy: false }), activation, name); // the caller copies the weights into wasm
}

/**
 * `readModelFile` on a decoded file. A quantized model file (src/quantize/file.ts) is a FormatError saying how to load it.
 * Every tensor's dtype, shape (and a variance's sign) is checked first, then every value's
 * finiteness, in the plan's order. `finite: "caller"` leaves that last pass to the caller,
 * which must make it in the same order with `requireFiniteTensor` (distill-wasm/infer checks the
 * values once they are in wasm memory: a cold JavaScript loop over a 5 MB model costs ~10 ms).
 */
export function planModelFile(
  file: SafetensorsFile,
  activation: ActivationName | "none",
  name: string,
  finite: "check" | "caller" = "check",
): { plan: Plan; tensors: Map<string, SafetensorsTensor>; metadata: Record<string, string> } {
  const { tensors, metadata } = file;
  const fail = (problem: string) => new FormatError(`${name}: ${problem}`);
  if (metadata.quantization !== undefined) {
    throw fail("this is a quantized model file (it has quantization metadata): load it with loadQuantized, or with distill-wasm/infer's loadStudent");
  }
  const task = taskOfMetadata(metadata, fail);
  const plan: Plan = {
    ...(metadata.architecture !== undefined
      ? fromArchitecture(metadata.architecture, metadata.input_shape, fail)
      : inferArchitecture(tensors, activation, fail)),
    task,
  };
  const expected = new Map(plan.parameters.map((p) => [p.fileName, p]));
  for (const [tensorName] of tensors) {
    if (!expected.has(tensorName)) {
      throw fail(`unexpected tensor ${JSON.stringify(tensorName)}: the architecture has ${[...expected.keys()].join(", ")}`);
    }
  }
  for (const p of plan.parameters) {
    const t = tensors.get(p.fileName);
    if (!t) throw fail(`missing tensor ${JSON.stringify(p.fileName)} of shape [${p.shape.join(", ")}]`);
    checkTensor(p.fileName, t, p.shape, fail);
    if (p.fileName.endsWith("running_var")) {
      const negative = (t.data as Float32Array).findIndex((v) => v < 0);
      if (negative >= 0) throw fail(`tensor ${JSON.stringify(p.fileName)} holds ${t.data[negative]} at index ${negative}; a variance cannot be negative`);
    }
  }
  if (finite === "check") for (const p of plan.parameters) requireFiniteTensor(name, p.fileName, tensors.get(p.fileName)!.data as Float32Array);
  return { plan, tensors, metadata };
}

/** FormatError naming the first non-finite value of a parameter tensor (`name` labels the file). */
export function requireFiniteTensor(name: string, tensorName: string, data: Float32Array): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) {
      throw new FormatError(`${name}: tensor ${JSON.stringify(tensorName)} holds ${data[i]} at index ${i}; parameters must be finite (in float32)`);
    }
  }
}

// ---------------------------------------------------------------- architecture plans

export interface Plan {
  specs: LayerSpec[];
  /** what the outputs mean: the file's `task` metadata (src/nn/task.ts), classification when it has none */
  task?: ModelTask;
  inputShape?: number[];
  /** name: the model's parameter name; fileName: the tensor's name in the file. */
  parameters: { name: string; fileName: string; shape: number[] }[];
}

type Fail = (problem: string) => FormatError;

function fromArchitecture(text: string, shapeText: string | undefined, fail: Fail): Plan {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw fail("the architecture metadata is not valid JSON");
  }
  if (!Array.isArray(raw)) throw fail("the architecture metadata must be a JSON array of layers");
  const specs = raw.map((s: unknown, i) => fileSpec(s, i, fail));
  let inputShape: number[] | undefined;
  if (shapeText !== undefined) {
    try {
      inputShape = JSON.parse(shapeText);
    } catch {
      throw fail("the input_shape metadata is not valid JSON");
    }
  }
  try {
    checkLayers(specs, inputShape);
  } catch (cause) {
    if (cause instanceof DistillError) throw fail(`invalid architecture metadata: ${cause.message}`);
    throw cause;
  }
  return { specs, inputShape, parameters: tensorPlan(specs, "") };
}

/** Keeps only the fields of each layer type (the layer table's `fields`), so that nothing else from the file reaches the model. */
function fileSpec(s: unknown, i: number, fail: Fail): LayerSpec {
  if (typeof s !== "object" || s === null) throw fail(`invalid architecture metadata: Sequential: layer ${i} is not an object`);
  try {
    return cleanSpec(s, `Sequential: layer ${i}`);
  } catch (cause) {
    if (cause instanceof DistillError) throw fail(`invalid architecture metadata: ${cause.message}`);
    throw cause;
  }
}

/** Every parameter and buffer of the layers, as the model names them and as the file does (with `prefix`). */
function tensorPlan(specs: readonly LayerSpec[], prefix: string): Plan["parameters"] {
  return layerTensors(specs).map((t) => ({ name: t.name, fileName: `${prefix}${t.name}`, shape: t.shape }));
}

function inferArchitecture(tensors: Map<string, SafetensorsTensor>, act: ActivationName | "none", fail: Fail): Plan {
  if (act !== "none" && !ACTIVATIONS.includes(act)) {
    throw new OptionError(`modelFromSafetensors: activation must be one of ${ACTIVATIONS.join(", ")} or "none"; got ${JSON.stringify(act)}`);
  }
  const hint = "and the file has no architecture metadata to say otherwise";
  let prefix: string | undefined;
  const layers = new Map<number, { weight?: SafetensorsTensor; bias?: SafetensorsTensor }>();
  for (const [tensorName, t] of tensors) {
    const m = /^(.*\.)?(0|[1-9][0-9]{0,5})\.(weight|bias)$/.exec(tensorName);
    if (!m)
      throw fail(
        `cannot infer the architecture: tensor ${JSON.stringify(tensorName)} is not named "<index>.weight" or "<index>.bias" (nn.Sequential of Linear layers), ${hint}`,
      );
    const p = m[1] ?? "";
    if (prefix !== undefined && p !== prefix)
      throw fail(`cannot infer the architecture: tensors are under different prefixes (${JSON.stringify(prefix)}, ${JSON.stringify(p)})`);
    prefix = p;
    const index = Number(m[2]);
    const layer = layers.get(index) ?? {};
    layer[m[3] as "weight" | "bias"] = t;
    layers.set(index, layer);
  }
  if (layers.size === 0) throw fail(`the file holds no tensors, ${hint}`);
  const indices = [...layers.keys()].sort((a, b) => a - b);
  const specs: LayerSpec[] = [];
  let width = 0;
  for (const index of indices) {
    const { weight, bias } = layers.get(index)!;
    const where = `${prefix}${index}`;
    if (!weight) throw fail(`missing tensor "${where}.weight" (the file has "${where}.bias")`);
    if (!bias) throw fail(`missing tensor "${where}.bias": Linear layers without a bias are not supported`);
    if (weight.shape.length !== 2) throw fail(`tensor "${where}.weight" has shape [${weight.shape.join(", ")}]; a Linear weight is 2-D (out, in)`);
    const [outputs, inputs] = weight.shape as [number, number];
    if (outputs < 1 || inputs < 1) throw fail(`tensor "${where}.weight" has an empty shape [${outputs}, ${inputs}]`);
    if (specs.length > 0 && inputs !== width) {
      throw fail(`tensor "${where}.weight" has shape [${outputs}, ${inputs}]: it takes ${inputs} inputs, but the layer before gives ${width}`);
    }
    const gap = index - specs.length;
    if (gap > MAX_GAP) throw fail(`layers ${specs.length}–${index - 1} would hold no parameters; at most ${MAX_GAP} such layers in a row are supported`);
    for (let k = 0; k < gap; k++) {
      const first = k === 0 && specs.length > 0 && act !== "none";
      specs.push(first ? { type: "activation", name: act as ActivationName } : { type: "dropout", p: 0 });
    }
    specs.push({ type: "dense", inputs, outputs });
    width = outputs;
  }
  return { specs, parameters: tensorPlan(specs, prefix ?? "") };
}

function checkTensor(tensorName: string, t: SafetensorsTensor, shape: readonly number[], fail: Fail): void {
  const where = `tensor ${JSON.stringify(tensorName)}`;
  if (!["F32", "F64", "F16", "BF16"].includes(t.dtype)) throw fail(`${where} has dtype ${t.dtype}; parameters must be F32, F64, F16 or BF16`);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw fail(`${where} has shape [${t.shape.join(", ")}]; the architecture needs [${shape.join(", ")}]`);
  }
}
