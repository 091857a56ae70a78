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
 *   input_shape          JSON [channels, height, width] or [channels, length], for models on images or signals only
 *   task                 what the outputs mean (src/nn/task.ts): "regression" (predict() gives the
 *                        outputs) or "multilabel" (a sigmoid per output, predict() 0/1 per output);
 *                        absent for a classifier, as in every file written before the key existed
 * plus any extra facts the caller passes (strings; numbers and booleans are converted), except
 * `quantization`, which marks a quantized model file (src/quantize/file.ts).
 *
 * Reading (./model-plan.ts, shared with distill-wasm/infer): with `architecture` metadata
 * the model is rebuilt from it; without (a file written from a PyTorch `nn.Sequential` of
 * Linear layers), the architecture is inferred from the names, see `modelFromSafetensors`. Either way every tensor must be present,
 * float, finite and of the right shape, and no other tensor may be: FormatError naming it.
 */
import { checkOptions, knownKeys } from "../options/schema.js";
import { NonFiniteError, OptionError } from "../errors.js";
import type { ActivationName } from "../nn/layers/index.js";
import { Sequential, type SequentialOptions } from "../nn/sequential.js";
import { TASK_KEY, taskMetadata } from "../nn/task.js";
import { readBytes, writeBytesAtomic, type PathOrUrl } from "../runtime/files.js";
import { readModelFile } from "./model-plan.js";
import { encodeSafetensors } from "./safetensors.js";
import { DISTILL_WASM_VERSION } from "../version.js";

/** The version written as `distill_wasm_version` (kept equal to package.json's by a test). */
export { DISTILL_WASM_VERSION };

const RESERVED = ["format", "distill_wasm_version", "architecture", "input_shape", "quantization", TASK_KEY];

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
  if (model.inputShape.length > 1) metadata.input_shape = JSON.stringify(model.inputShape);
  Object.assign(metadata, taskMetadata(model.task));
  for (const [key, value] of Object.entries(extraMetadata)) {
    if (RESERVED.includes(key)) throw new OptionError(`${op}: metadata key ${JSON.stringify(key)} is written by the library; choose another name`);
    if (!["string", "number", "boolean"].includes(typeof value)) {
      throw new OptionError(`${op}: metadata[${JSON.stringify(key)}] must be a string, number or boolean; got ${value === null ? "null" : typeof value}`);
    }
    Object.defineProperty(metadata, key, { value: String(value), enumerable: true });
  }
  const tensors = [...model.namedParameters(), ...model.namedBuffers()].map((p) => ({ name: p.name, shape: p.shape, data: model.getParameter(p.name) }));
  for (const t of tensors) {
    const bad = t.data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0)
      throw new NonFiniteError(`${op}: tensor ${JSON.stringify(t.name)} holds ${t.data[bad]} at index ${bad}; a model file holds finite weights only`);
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
  options = checkOptions("modelFromSafetensors", knownKeys("activation", "seed", "engine", "inputShape", "multiLabel", "task"), options);
  const { plan, tensors } = readModelFile(bytes, options.activation ?? "relu", name);
  const model = new Sequential(plan.specs, {
    seed: options.seed,
    engine: options.engine,
    ...(plan.inputShape ? { inputShape: plan.inputShape } : {}),
    // The options override the file's record (a PyTorch file without one may be marked here).
    ...(options.multiLabel === undefined && options.task === undefined ? { task: plan.task } : {}),
    ...(options.multiLabel !== undefined ? { multiLabel: options.multiLabel } : {}),
    ...(options.task !== undefined ? { task: options.task } : {}),
  });
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
