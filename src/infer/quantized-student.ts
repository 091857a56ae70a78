/**
 * An int8 student (a quantized model file, src/quantize/file.ts) in distill-wasm/infer: the
 * same runner as the full library's QuantizedModel (src/quantize/runner.ts) on an instance
 * of the inference kernels, so its outputs equal the full library's bit for bit. The same
 * methods as `Student`.
 */
import { ShapeError } from "../errors.js";
import type { LayerSpec } from "../nn/layers/index.js";
import type { QuantizedNet } from "../quantize/net.js";
import { Int8Runner } from "../quantize/runner.js";
import { requireArray, requireDim, rowsOf, type FloatArray } from "../validate.js";
import type { InferKernelExports } from "./abi.generated.js";

export class QuantizedStudent {
  readonly inputs: number;
  readonly outputs: number;
  readonly inputShape: readonly number[];
  readonly specs: readonly LayerSpec[];
  /** The file's `__metadata__` (with `quantization`: {"weights":"int8","activations":…}). */
  readonly metadata: Readonly<Record<string, string>>;
  /** "int8": integer products of int8 inputs; "float": int8 weights, float compute. */
  readonly activations: "int8" | "float";
  private readonly runner: Int8Runner;

  /** Use `loadStudent`; this takes a checked net (src/quantize/file.ts). */
  constructor(kernels: InferKernelExports, net: QuantizedNet, metadata: Record<string, string>) {
    this.runner = new Int8Runner(kernels, net);
    this.inputs = net.inputs;
    this.outputs = net.outputs;
    this.inputShape = net.inputShape;
    this.specs = net.specs;
    this.metadata = metadata;
    this.activations = net.activations;
  }

  /** Raw outputs (rows, outputs) for x (rows, inputs). */
  logits(x: FloatArray): Float32Array {
    return this.runner.logits("logits", x);
  }

  /** softmax(logits / T) per row. */
  probabilities(x: FloatArray, options: { temperature?: number } = {}): Float32Array {
    return this.runner.probabilities("probabilities", x, options.temperature ?? 1);
  }

  /** The class id of each row of x; `rows`, if given, must be the number of rows x holds. */
  predict(x: FloatArray, rows?: number): Int32Array {
    if (rows !== undefined && !this.runner.isDisposed) {
      const count = rowsOf("predict", "x", requireArray("predict", "x", x), this.inputs);
      if (requireDim("predict", "rows", rows) !== count) throw new ShapeError(`predict: x holds ${count} row(s) of ${this.inputs} values, but rows is ${rows}`);
    }
    return this.runner.predict("predict", x);
  }

  /** Frees the model's wasm memory; any later call throws ArgumentError. */
  dispose(): void {
    this.runner.dispose();
  }

  get isDisposed(): boolean {
    return this.runner.isDisposed;
  }
}
