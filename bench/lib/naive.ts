/**
 * Naive GEMM in plain JavaScript on Float32Arrays: the loops a reasonable JS programmer
 * would write, used as the baseline the wasm kernels are compared against and as the
 * reference for the agreement check. Shapes match assembly/gemm.ts (row-major, tight):
 *
 *   nn: C(m,n) = A(m,k) · B(k,n)     i-p-j: inner loop streams a row of B and of C
 *   nt: C(m,n) = A(m,k) · B(n,k)ᵀ    i-j-p: inner loop is a dot product of two rows
 *                                     (i-p-j would stride B by k in the inner loop)
 *   tn: C(m,n) = A(k,m)ᵀ · B(k,n)    i-p-j: A(p,i) hoisted, inner loop streams B and C
 */

export type GemmForm = "nn" | "nt" | "tn";

export type NaiveGemm = (c: Float32Array, a: Float32Array, b: Float32Array, m: number, n: number, k: number) => void;

export function naiveGemmNN(c: Float32Array, a: Float32Array, b: Float32Array, m: number, n: number, k: number): void {
  for (let i = 0; i < m; i++) {
    const ci = i * n;
    c.fill(0, ci, ci + n);
    for (let p = 0; p < k; p++) {
      const aip = a[i * k + p]!;
      const bp = p * n;
      for (let j = 0; j < n; j++) c[ci + j]! += aip * b[bp + j]!;
    }
  }
}

export function naiveGemmNT(c: Float32Array, a: Float32Array, b: Float32Array, m: number, n: number, k: number): void {
  for (let i = 0; i < m; i++) {
    const ai = i * k;
    for (let j = 0; j < n; j++) {
      const bj = j * k;
      let s = 0;
      for (let p = 0; p < k; p++) s += a[ai + p]! * b[bj + p]!;
      c[i * n + j] = s;
    }
  }
}

export function naiveGemmTN(c: Float32Array, a: Float32Array, b: Float32Array, m: number, n: number, k: number): void {
  for (let i = 0; i < m; i++) {
    const ci = i * n;
    c.fill(0, ci, ci + n);
    for (let p = 0; p < k; p++) {
      const aip = a[p * m + i]!;
      const bp = p * n;
      for (let j = 0; j < n; j++) c[ci + j]! += aip * b[bp + j]!;
    }
  }
}

export const NAIVE_GEMM: Record<GemmForm, NaiveGemm> = { nn: naiveGemmNN, nt: naiveGemmNT, tn: naiveGemmTN };

/** Element-wise absolute values. */
export function absF32(x: Float32Array): Float32Array {
  return x.map(Math.abs);
}

/**
 * max_ij |got − want| / scale_ij, where scale = |A|·|B| (Σ_p |a_ip·b_pj|): the error relative
 * to the size of the terms summed, which bounds what rounding alone can explain.
 */
export function maxScaledError(got: Float32Array, want: Float32Array, scale: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i]! - want[i]!) / Math.max(scale[i]!, Number.MIN_VALUE);
    if (Number.isNaN(err)) return NaN;
    if (err > worst) worst = err;
  }
  return worst;
}
