/**
 * Models as safetensors files that PyTorch code can read, and PyTorch MLPs as models.
 *
 * A file written here holds one F32 tensor per parameter, named as in the state_dict of
 * the equivalent torch `nn.Sequential`: "<layer index>.weight" (out, in) and
 * "<layer index>.bias" (out), layer indices counting every layer (activations and dropout
 * too); conv weights (out, in, kh, kw); batchNorm "weight" (γ), "bias" (β) and the
 * buffers "running_mean", "running_var" (PyTorch's "num_batches_tracked" is not written:
 * load_state_dict fills it in). `__metadata__` holds
 *   format               "pt"
 *   distill_wasm_version the library version that wrote it
 *   architecture         JSON of the layer list (`model.specs`), e.g.
 *                        [{"type":"dense","inputs":784,"outputs":32,"init":"he"},{"type":"activation","name":"relu"},…]
 *   input_shape          JSON [channels, height, width], for models on images only
 * plus any extra facts the caller passes (strings; numbers and booleans are converted).
 *
 * Reading: with `architecture` metadata the model is rebuilt from it; without (a file
 * written from a PyTorch `nn.Sequential` of Linear layers), the architecture is inferred
 * from the names, see `modelFromSafetensors`. Either way every tensor must be present,
 * float, finite and of the right shape, and no other tensor may be: FormatError naming it.
 */
import { DistillError, FormatError, NonFiniteError, OptionError } from "../errors.js";
import { ACTIVATIONS, checkLayers, cleanSpec, layerTensors, type ActivationName, type LayerSpec } from "../nn/layers/index.js";
import { Sequential, type SequentialOptions } from "../nn/sequential.js";
import { readBytes, writeBytesAtomic, type PathOrUrl } from "../runtime/files.js";
import { decodeSafetensors, encodeSafetensors, type SafetensorsTensor } from "./safetensors.js";

/** The version written as `distill_wasm_version` (kept equal to package.json's by a test). */
export const DISTILL_WASM_VERSION = "0.1.0";

const RESERVED = ["format", "distill_wasm_version", "architecture", "input_shape"];
/** Parameter-free layers allowed between two Linear layers of an inferred architecture. */
const MAX_GAP = 8;

export type ModelMetadata = Record<string, string | number | boolean>;

export interface ModelFileOptions extends SequentialOptions {
  /**
   * Only for files without `architecture` metadata: the activation assumed between two
   * Linear layers (default "relu"); "none" for none. Ignored when the file says.
   */
  activation?: ActivationName | "none";
}

/** The model's parameters and architecture as safetensors bytes (see the module comment). */
export function modelToSafetensors(model: Sequential, extraMetadata: ModelMetadata = {}): Uint8Array {
  const op = "modelToSafetensors";
  model.ensureAlive();
  if (typeof extraMetadata !== "object" || extraMetadata === null) throw new OptionError(`${op}: metadata must be an object of strings`);
  const metadata: Record<string, string> = {
    format: "pt",
    distill_wasm_version: DISTILL_WASM_VERSION,
    architecture: JSON.stringify(model.specs),
  };
  if (model.inputShape.length === 3) metadata.input_shape = JSON.stringify(model.inputShape);
  for (const [key, value] of Object.entries(extraMetadata)) {
    if (RESERVED.includes(key)) throw new OptionError(`${op}: metadata key ${JSON.stringify(key)} is written by the library; choose another name`);
    if (!["string", "number", "boolean"].includes(typeof value)) {
      throw new OptionError(`${op}: metadata[${JSON.stringify(key)}] must be a string, number or boolean; got ${value === null ? "null" : typeof value}`);
    }
    Object.defineProperty(metadata, key, { value: String(value), enumerable: true });
  }
  const tensors = [...model.namedParameters(), ...model.namedBuffers()]
    .map((p) => ({ name: p.name, shape: p.shape, data: model.getParameter(p.name) }));
  for (const t of tensors) {
    const bad = t.data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new NonFiniteError(`${op}: tensor ${JSON.stringify(t.name)} holds ${t.data[bad]} at index ${bad}; a model file holds finite weights only`);
  }
  return encodeSafetensors(tensors, metadata);
}

/**
 * A new model holding the weights of a safetensors file.
 *
 * Without `architecture` metadata (e.g. a PyTorch state_dict saved from an
 * `nn.Sequential` of `nn.Linear` layers) the architecture is inferred from the tensor
 * names: every tensor must be "<index>.weight" (2-D, (out, in)) or "<index>.bias"
 * (1-D, (out)), all optionally under one common prefix ("net.0.weight"); each index is a
 * Linear layer with a bias, and the widths must chain. The layers between two Linear
 * layers hold no parameters, so the file cannot say what they are: the first is taken to
 * be `options.activation` (default ReLU, "none" for none) and any further ones dropout
 * (the identity at inference), as are layers before the first Linear (e.g. nn.Flatten).
 * Two consecutive indices get no activation between them. The model's parameters then
 * have the same names as the file's (without the prefix).
 */
export function modelFromSafetensors(bytes: Uint8Array, options: ModelFileOptions = {}, name = "model file"): Sequential {
  const { tensors, metadata } = decodeSafetensors(bytes, name);
  const fail = (problem: string) => new FormatError(`${name}: ${problem}`);
  const plan = metadata.architecture !== undefined
    ? fromArchitecture(metadata.architecture, metadata.input_shape, fail)
    : inferArchitecture(tensors, options.activation ?? "relu", fail);
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
  const model = new Sequential(plan.specs, { seed: options.seed, engine: options.engine, ...(plan.inputShape ? { inputShape: plan.inputShape } : {}) });
  for (const p of plan.parameters) model.setParameter(p.name, tensors.get(p.fileName)!.data as Float32Array);
  return model;
}

/**
 * Writes the model atomically (temporary file + rename) as safetensors. Node, Deno, Bun.
 * A symbolic link's target is replaced and the link kept; a directory, device, FIFO or
 * socket at the path is refused with ArgumentError (see writeBytesAtomic).
 */
export async function saveModel(model: Sequential, path: PathOrUrl, metadata: ModelMetadata = {}): Promise<void> {
  await writeBytesAtomic(path, modelToSafetensors(model, metadata), "saveModel");
}

/** Reads a safetensors model file (a path or URL); see `modelFromSafetensors`. */
export async function loadModel(path: PathOrUrl, options: ModelFileOptions = {}): Promise<Sequential> {
  const bytes = await readBytes(path, "loadModel");
  return modelFromSafetensors(bytes, options, path instanceof URL ? path.href : path);
}

// ---------------------------------------------------------------- architecture plans

interface Plan {
  specs: LayerSpec[];
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
    if (!m) throw fail(`cannot infer the architecture: tensor ${JSON.stringify(tensorName)} is not named "<index>.weight" or "<index>.bias" (nn.Sequential of Linear layers), ${hint}`);
    const p = m[1] ?? "";
    if (prefix !== undefined && p !== prefix) throw fail(`cannot infer the architecture: tensors are under different prefixes (${JSON.stringify(prefix)}, ${JSON.stringify(p)})`);
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
  const data = t.data as Float32Array;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) throw fail(`${where} holds ${data[i]} at index ${i}; parameters must be finite (in float32)`);
  }
}
