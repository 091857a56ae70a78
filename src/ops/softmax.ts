/** Row-wise softmax and log-softmax with temperature, on plain arrays. */
import { checkOptions, knownKeys } from "../options/schema.js";
import type { Engine } from "../engine.js";
import { getEngine } from "../init.js";
import { requireArray, requireDim, requireFinite, requireTemperature, rowsOf, type FloatArray } from "../validate.js";

export interface SoftmaxOptions {
  /** Divides the logits before the softmax (default 1). Higher is softer. */
  temperature?: number;
  /** Engine to run on (default: the one `init()` created). */
  engine?: Engine;
}

type RowKernel = "softmax_forward" | "log_softmax_forward";

function rowwise(op: string, kernel: RowKernel, logits: FloatArray, classes: number, options: SoftmaxOptions): Float32Array {
  const x = requireArray(op, "logits", logits);
  const cols = requireDim(op, "classes", classes);
  const rows = rowsOf(op, "logits", x, cols);
  requireFinite(op, "logits", x, cols);
  const t = requireTemperature(op, options.temperature ?? 1, x);
  const engine = options.engine ?? getEngine();
  return engine.scoped(() => {
    const xPtr = engine.putF32(x);
    const yPtr = engine.allocF32(x.length);
    engine.kernels[kernel](yPtr, xPtr, rows, cols, t);
    return engine.readF32(yPtr, x.length);
  });
}

/**
 * softmax(logits / T) for each row of a flat (rows, classes) matrix.
 * Returns a new Float32Array of the same length whose rows sum to 1.
 */
export function softmax(logits: FloatArray, classes: number, options: SoftmaxOptions = {}): Float32Array {
  return rowwise("softmax", "softmax_forward", logits, classes, checkOptions("softmax", knownKeys("temperature", "engine"), options));
}

/** log(softmax(logits / T)) for each row, computed stably (no log of 0). */
export function logSoftmax(logits: FloatArray, classes: number, options: SoftmaxOptions = {}): Float32Array {
  return rowwise("logSoftmax", "log_softmax_forward", logits, classes, checkOptions("logSoftmax", knownKeys("temperature", "engine"), options));
}
