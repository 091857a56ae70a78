/**
 * QuantizedModel: an int8 student in the full library, on an engine (its kernels run the
 * int8 layers, ./runner.ts). It predicts, saves and reloads; it does not train. Its outputs
 * equal distill-wasm/infer's for the same file, bit for bit, on the default (non-relaxed) build.
 */
import type { Engine } from "../engine.js";
import { getEngine } from "../init.js";
import { DISTILL_WASM_VERSION, type ModelMetadata } from "../io/model-file.js";
import { decodeSafetensors } from "../io/safetensors.js";
import { FormatError } from "../errors.js";
import { checkOptions, checkedElsewhere } from "../options/schema.js";
import { readBytes, writeBytesAtomic, type PathOrUrl } from "../runtime/files.js";
import type { FloatArray } from "../validate.js";
import { encodeQuantized, isQuantizedFile, readQuantizedFile } from "./file.js";
import { netParameterBytes, type ActivationFormat, type QuantizedNet, type WeightFormat } from "./net.js";
import { Int8Runner } from "./runner.js";
import type { LayerSpec } from "../nn/layers/index.js";
import type { ModelTask } from "../nn/task.js";

export interface QuantizedModelOptions {
  /** The engine to run on (default: the one `init()` made). */
  engine?: Engine;
}

/** Each live model's net, for the exporters (src/export/to-onnx-qdq.ts); not part of the public API. */
const NETS = new WeakMap<QuantizedModel, QuantizedNet>();

/** The net a QuantizedModel holds, or undefined for anything else (or a disposed model). */
export function quantizedNetOf(model: unknown): QuantizedNet | undefined {
  const net = NETS.get(model as QuantizedModel);
  return net && !(model as QuantizedModel).isDisposed ? net : undefined;
}

/** True for a QuantizedModel, live or disposed. */
export function isQuantizedModel(model: unknown): model is QuantizedModel {
  return NETS.has(model as QuantizedModel);
}

export class QuantizedModel {
  readonly inputs: number;
  readonly outputs: number;
  readonly inputShape: readonly number[];
  /** The float model's layer list (defaults filled in). */
  readonly specs: readonly LayerSpec[];
  readonly weights: WeightFormat;
  readonly activations: ActivationFormat;
  readonly engine: Engine;
  private readonly runner: Int8Runner;

  /** Use `quantize()` or `loadQuantized`; this takes a checked net (./file.ts, ./quantize.ts). */
  constructor(
    private readonly net: QuantizedNet,
    options: QuantizedModelOptions = {},
  ) {
    const { engine } = checkOptions("QuantizedModel", { engine: checkedElsewhere }, options);
    this.engine = engine ?? getEngine();
    this.runner = new Int8Runner(this.engine.kernels, net);
    this.inputs = net.inputs;
    this.outputs = net.outputs;
    this.inputShape = net.inputShape;
    this.specs = net.specs;
    this.weights = net.weights;
    this.activations = net.activations;
    NETS.set(this, net);
  }

  /** Raw outputs (rows, outputs) for x (rows, inputs). */
  logits(x: FloatArray): Float32Array {
    return this.runner.logits("logits", x);
  }

  /** What the outputs mean (src/nn/task.ts): the float model's task, kept in the quantized file. */
  get task(): ModelTask {
    return this.runner.task;
  }

  /** softmax(logits / T) per row; σ(logits) per output for a multi-label model; TaskError for a regression model. */
  probabilities(x: FloatArray, options: { temperature?: number } = {}): Float32Array {
    return this.runner.probabilities("probabilities", x, options.temperature ?? 1);
  }

  /** What the task predicts for each row of x, as Sequential.predict: class ids, 0/1 per label, or the outputs (regression). */
  predict(x: FloatArray): Int32Array | Float32Array {
    return this.runner.predict("predict", x);
  }

  /** Bytes of the stored parameters (int8 weights, f32 scales and biases): about a quarter of the float model's. */
  get parameterBytes(): number {
    return netParameterBytes(this.net);
  }

  /** The model as a quantized safetensors file (layout in docs/api.md, "Quantized model files"). */
  toSafetensors(metadata: ModelMetadata = {}): Uint8Array {
    return encodeQuantized(this.net, DISTILL_WASM_VERSION, metadata);
  }

  /** Writes the file atomically (Node, Deno, Bun). */
  async save(path: PathOrUrl, metadata: ModelMetadata = {}): Promise<void> {
    await writeBytesAtomic(path, encodeQuantized(this.net, DISTILL_WASM_VERSION, metadata, "save"), "save");
  }

  /** Frees the model's wasm memory; any later call throws ArgumentError. */
  dispose(): void {
    this.runner.dispose();
  }

  get isDisposed(): boolean {
    return this.runner.isDisposed;
  }
}

/** A quantized model from the bytes of a quantized model file; FormatError for anything else. */
export function quantizedFromSafetensors(bytes: Uint8Array, options: QuantizedModelOptions = {}, name = "model file"): QuantizedModel {
  const file = decodeSafetensors(bytes, name, { copy: false });
  if (!isQuantizedFile(file.metadata)) throw new FormatError(`${name}: not a quantized model file (no quantization metadata); load it with loadModel`);
  return new QuantizedModel(readQuantizedFile(file, name), options);
}

/** Reads a quantized model file (a path or URL). */
export async function loadQuantized(path: PathOrUrl, options: QuantizedModelOptions = {}): Promise<QuantizedModel> {
  const bytes = await readBytes(path, "loadQuantized");
  return quantizedFromSafetensors(bytes, options, path instanceof URL ? path.href : path);
}
