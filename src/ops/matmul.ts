/** Matrix products on plain arrays, through the blocked SIMD GEMM kernels. */
import { checkOptions, knownKeys } from "../options/schema.js";
import type { Engine } from "../engine.js";
import { GEMM_RELU } from "../runtime/abi.js";
import { OptionError } from "../errors.js";
import { getEngine } from "../init.js";
import { requireArray, requireDim, requireFinite, requireLength, type FloatArray } from "../validate.js";

export interface MatmulOptions {
  /** `a` holds Aᵀ, i.e. is stored (k, m). */
  transposeA?: boolean;
  /** `b` holds Bᵀ, i.e. is stored (n, k) — a PyTorch nn.Linear weight. */
  transposeB?: boolean;
  /** n values added to every row of the result. */
  bias?: FloatArray;
  /** Apply max(·, 0) to the result. */
  relu?: boolean;
  engine?: Engine;
}

/**
 * C(m, n) = A(m, k) · B(k, n) (+ bias) (ReLU), all flat row-major.
 * With transposeA, `a` is stored (k, m); with transposeB, `b` is stored (n, k).
 */
export function matmul(a: FloatArray, b: FloatArray, m: number, k: number, n: number, options: MatmulOptions = {}): Float32Array {
  const op = "matmul";
  options = checkOptions(op, knownKeys("transposeA", "transposeB", "bias", "relu", "engine"), options);
  requireDim(op, "m", m);
  requireDim(op, "k", k);
  requireDim(op, "n", n);
  const transA = options.transposeA ?? false;
  const transB = options.transposeB ?? false;
  if (transA && transB) {
    throw new OptionError(`${op}: transposeA and transposeB together are not supported; transpose one operand first`);
  }
  const aa = requireArray(op, "a", a);
  const bb = requireArray(op, "b", b);
  requireLength(op, "a", aa, m * k, transA ? `(k=${k}) × (m=${m})` : `(m=${m}) × (k=${k})`);
  requireLength(op, "b", bb, k * n, transB ? `(n=${n}) × (k=${k})` : `(k=${k}) × (n=${n})`);
  requireFinite(op, "a", aa);
  requireFinite(op, "b", bb);
  let bias: ArrayLike<number> | undefined;
  if (options.bias !== undefined) {
    bias = requireArray(op, "bias", options.bias);
    requireLength(op, "bias", bias, n, `n=${n}`);
    requireFinite(op, "bias", bias);
  }
  const engine = options.engine ?? getEngine();
  return engine.scoped(() => {
    const aPtr = engine.putF32(aa);
    const bPtr = engine.putF32(bb);
    const biasPtr = bias ? engine.putF32(bias) : 0;
    const cPtr = engine.allocF32(m * n);
    const flags = options.relu ? GEMM_RELU : 0;
    const kernels = engine.kernels;
    if (transA) kernels.gemm_tn(cPtr, aPtr, bPtr, biasPtr, m, n, k, m, n, n, flags);
    else if (transB) kernels.gemm_nt(cPtr, aPtr, bPtr, biasPtr, m, n, k, k, k, n, flags);
    else kernels.gemm_nn(cPtr, aPtr, bPtr, biasPtr, m, n, k, k, n, n, flags);
    return engine.readF32(cPtr, m * n);
  });
}
