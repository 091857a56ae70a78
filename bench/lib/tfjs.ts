/**
 * TensorFlow.js as a comparison: loading tfjs-core with the wasm backend (XNNPACK, single
 * thread, its .wasm files where the platform says: node_modules, or the URL a page serves
 * them at) and the cpu backend (plain JS), and the benchmarked MLP written the way a
 * tfjs-core user writes it. The bare module names resolve through node_modules in Node,
 * Deno and Bun, and through the bench page's import map in a browser.
 *
 * Loading never throws: a runtime where a backend cannot start gets a reason, and the
 * suites skip that backend and print the reason.
 */
import type * as TF from "@tensorflow/tfjs-core";
import type { MlpParams } from "./mlp.js";
import type { Platform } from "./platform.js";

export type Tf = typeof TF;
export type TfBackend = "wasm" | "cpu";
export const TF_LIBS: Record<TfBackend, string> = { wasm: "tfjs-wasm", cpu: "tfjs-cpu" };

export interface TfjsEnv {
  tf?: Tf;
  /** Backends that initialised. */
  available: TfBackend[];
  /** Backend (or "tfjs") → why it is unavailable. */
  skipped: Partial<Record<TfBackend, string>>;
  version: string;
  /** What the wasm backend runs: which binary, how many threads. */
  wasmInfo?: { binary: string; threads: number; simd: boolean };
}

const errorText = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e)).split("\n")[0]!;

export async function loadTfjs(platform: Platform): Promise<TfjsEnv> {
  const env: TfjsEnv = { available: [], skipped: {}, version: platform.packageVersion("@tensorflow/tfjs-core") };
  let tf: Tf;
  try {
    tf = await import("@tensorflow/tfjs-core");
  } catch (e) {
    const reason = `@tensorflow/tfjs-core failed to load (${errorText(e)})`;
    return { ...env, skipped: { wasm: reason, cpu: reason } };
  }
  env.tf = tf;
  try {
    await platform.registerTfjsGradients();
  } catch (e) {
    const reason = `tfjs gradients failed to register (${errorText(e)})`;
    return { ...env, skipped: { wasm: reason, cpu: reason } };
  }
  try {
    await import("@tensorflow/tfjs-backend-cpu");
    if (await tf.setBackend("cpu")) env.available.push("cpu");
    else env.skipped.cpu = 'tf.setBackend("cpu") returned false';
  } catch (e) {
    env.skipped.cpu = `@tensorflow/tfjs-backend-cpu failed (${errorText(e)})`;
  }
  try {
    const wasm = await import("@tensorflow/tfjs-backend-wasm");
    // The directory of tfjs-backend-wasm-simd.wasm etc.
    wasm.setWasmPaths(platform.tfjsWasmPaths);
    wasm.setThreadsCount(1);
    if (await tf.setBackend("wasm")) {
      env.available.push("wasm");
      const simd = tf.env().getBool("WASM_HAS_SIMD_SUPPORT");
      const threads = tf.env().getBool("WASM_HAS_MULTITHREAD_SUPPORT");
      env.wasmInfo = {
        binary: threads ? "tfjs-backend-wasm-threaded-simd.wasm" : simd ? "tfjs-backend-wasm-simd.wasm" : "tfjs-backend-wasm.wasm",
        threads: wasm.getThreadsCount(),
        simd,
      };
    } else {
      env.skipped.wasm = 'tf.setBackend("wasm") returned false (the backend failed to initialise)';
    }
  } catch (e) {
    env.skipped.wasm = `@tensorflow/tfjs-backend-wasm failed (${errorText(e)})`;
  }
  return env;
}

/** Switches tfjs to a backend (tensors must be created after this to live on it). */
export async function useBackend(tf: Tf, backend: TfBackend): Promise<void> {
  if (!(await tf.setBackend(backend))) throw new Error(`tf.setBackend("${backend}") failed`);
}

/**
 * The MLP in tfjs-core. Weights are variables of shape (inputs, outputs) — the layout of
 * tfjs-layers' Dense kernel, so the forward product is a plain tf.matMul(x, w) — holding
 * the transposes of the PyTorch-layout weights they are created from.
 */
export class TfMlp {
  readonly weights: TF.Variable[];
  readonly biases: TF.Variable[];
  private readonly tf: Tf;

  constructor(tf: Tf, params: MlpParams) {
    this.tf = tf;
    this.weights = params.map((p, i) => tf.variable(tf.tensor2d(transpose(p.weight, p.outputs, p.inputs), [p.inputs, p.outputs]), true));
    this.biases = params.map((p, i) => tf.variable(tf.tensor1d(p.bias), true));
  }

  /** Dense layers as tf.matMul + tf.add + tf.relu (the training graph). */
  forward(x: TF.Tensor2D): TF.Tensor2D {
    const tf = this.tf;
    let h = x;
    this.weights.forEach((w, i) => {
      const z = tf.add(tf.matMul(h, w), this.biases[i]!) as TF.Tensor2D;
      h = i < this.weights.length - 1 ? (tf.relu(z) as TF.Tensor2D) : z;
    });
    return h;
  }

  /** Dense layers as tf.fused.matMul with bias and ReLU: what tfjs-layers' Dense runs at inference. */
  forwardFused(x: TF.Tensor2D): TF.Tensor2D {
    const tf = this.tf;
    let h = x;
    this.weights.forEach((w, i) => {
      h = tf.fused.matMul({ a: h, b: w, bias: this.biases[i]!, activation: i < this.weights.length - 1 ? "relu" : "linear" }) as TF.Tensor2D;
    });
    return h;
  }

  /**
   * One training step, as a function returning the loss (read with dataSync, so the whole
   * step has executed when it returns; the wasm and cpu backends run ops eagerly):
   * tf.variableGrads of the loss, then tf.train.momentum's applyGradients. `teacherLogits`
   * given: α·softmaxCrossEntropy + (1 − α)·T²·KL(softmax(t/T) ‖ softmax(s/T)); else
   * softmaxCrossEntropy alone. Every intermediate tensor is disposed by tf.tidy.
   */
  trainStep(
    x: TF.Tensor2D,
    onehot: TF.Tensor2D,
    teacherLogits: TF.Tensor2D | undefined,
    options: { lr: number; momentum: number; temperature: number; alpha: number },
  ): () => number {
    const tf = this.tf;
    const optimizer = tf.train.momentum(options.lr, options.momentum);
    const vars = [...this.weights, ...this.biases];
    const rows = x.shape[0];
    const { temperature: t, alpha } = options;
    const lossFn = (): TF.Scalar => {
      const logits = this.forward(x);
      const hard = tf.losses.softmaxCrossEntropy(onehot, logits);
      if (!teacherLogits) return hard as TF.Scalar;
      const logPs = tf.logSoftmax(tf.div(logits, t));
      const logPt = tf.logSoftmax(tf.div(teacherLogits, t));
      const kl = tf.div(tf.sum(tf.mul(tf.exp(logPt), tf.sub(logPt, logPs))), rows);
      return tf.add(tf.mul(hard, alpha), tf.mul(kl, (1 - alpha) * t * t)) as TF.Scalar;
    };
    return () =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(lossFn, vars);
        optimizer.applyGradients(grads as TF.NamedTensorMap as Parameters<typeof optimizer.applyGradients>[0]);
        return value.dataSync()[0]!;
      });
  }

  /** The current weights in PyTorch layout. */
  params(): MlpParams {
    return this.weights.map((w, i) => {
      const [inputs, outputs] = w.shape as [number, number];
      return { inputs, outputs, weight: transpose(w.dataSync() as Float32Array, inputs, outputs), bias: (this.biases[i]!.dataSync() as Float32Array).slice() };
    });
  }

  dispose(): void {
    for (const v of [...this.weights, ...this.biases]) v.dispose();
  }
}

/** (rows, cols) → (cols, rows) */
export function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c]!;
  return out;
}
