/**
 * Independent float64 references, written from the textbook formulas (not from the
 * kernels): the wasm results must agree with these to float32 rounding.
 */

export interface GemmSpec {
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  lda: number;
  ldb: number;
}

/** op(A)(i, p) · op(B)(p, j) summed in f64; also returns Σ|a·b| per element (the error scale). */
export function gemm64(a: Float32Array, b: Float32Array, s: GemmSpec): { c: Float64Array; scale: Float64Array } {
  const c = new Float64Array(s.m * s.n);
  const scale = new Float64Array(s.m * s.n);
  for (let i = 0; i < s.m; i++) {
    for (let j = 0; j < s.n; j++) {
      let sum = 0;
      let abs = 0;
      for (let p = 0; p < s.k; p++) {
        const av = s.transA ? a[p * s.lda + i]! : a[i * s.lda + p]!;
        const bv = s.transB ? b[j * s.ldb + p]! : b[p * s.ldb + j]!;
        sum += av * bv;
        abs += Math.abs(av * bv);
      }
      c[i * s.n + j] = sum;
      scale[i * s.n + j] = abs;
    }
  }
  return { c, scale };
}

export function softmax64(x: ArrayLike<number>, rows: number, cols: number, t = 1): Float64Array {
  const y = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let j = 0; j < cols; j++) m = Math.max(m, x[r * cols + j]! / t);
    let s = 0;
    for (let j = 0; j < cols; j++) s += Math.exp(x[r * cols + j]! / t - m);
    for (let j = 0; j < cols; j++) y[r * cols + j] = Math.exp(x[r * cols + j]! / t - m) / s;
  }
  return y;
}

export function logSoftmax64(x: ArrayLike<number>, rows: number, cols: number, t = 1): Float64Array {
  const y = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let j = 0; j < cols; j++) m = Math.max(m, x[r * cols + j]! / t);
    let s = 0;
    for (let j = 0; j < cols; j++) s += Math.exp(x[r * cols + j]! / t - m);
    const lse = Math.log(s);
    for (let j = 0; j < cols; j++) y[r * cols + j] = x[r * cols + j]! / t - m - lse;
  }
  return y;
}

/** Mean cross-entropy and its gradient. */
export function crossEntropy64(x: ArrayLike<number>, labels: ArrayLike<number>, rows: number, cols: number) {
  const logp = logSoftmax64(x, rows, cols);
  const grad = new Float64Array(rows * cols);
  let loss = 0;
  for (let r = 0; r < rows; r++) {
    if (labels[r] === -1) continue; // MISSING_LABEL: no hard term, a zero gradient row
    loss -= logp[r * cols + labels[r]!]!;
    for (let j = 0; j < cols; j++) {
      grad[r * cols + j] = (Math.exp(logp[r * cols + j]!) - (j === labels[r] ? 1 : 0)) / rows;
    }
  }
  return { loss: loss / rows, grad };
}

/** T²·KL(softmax(t/T) ‖ softmax(s/T)) batch mean, and its gradient w.r.t. s. */
export function kl64(s: ArrayLike<number>, t: ArrayLike<number>, rows: number, cols: number, temp: number) {
  const ls = logSoftmax64(s, rows, cols, temp);
  const lt = logSoftmax64(t, rows, cols, temp);
  const grad = new Float64Array(rows * cols);
  let loss = 0;
  for (let i = 0; i < rows * cols; i++) {
    const pt = Math.exp(lt[i]!);
    if (pt > 0) loss += pt * (lt[i]! - ls[i]!);
    grad[i] = (temp * (Math.exp(ls[i]!) - pt)) / rows;
  }
  return { loss: (loss * temp * temp) / rows, grad };
}

/** α·CE + (1 − α)·T²·KL, its parts and gradient. */
export function distill64(s: ArrayLike<number>, t: ArrayLike<number>, labels: ArrayLike<number>, rows: number, cols: number, temp: number, alpha: number) {
  const hard = crossEntropy64(s, labels, rows, cols);
  const soft = kl64(s, t, rows, cols, temp);
  const grad = new Float64Array(rows * cols);
  for (let i = 0; i < grad.length; i++) grad[i] = alpha * hard.grad[i]! + (1 - alpha) * soft.grad[i]!;
  return { loss: alpha * hard.loss + (1 - alpha) * soft.loss, hard: hard.loss, soft: soft.loss, grad };
}

export const GELU_C = Math.sqrt(2 / Math.PI);

/** Forward activations in f64. */
export const activation64: Record<string, (x: number, slope?: number) => number> = {
  relu: (x) => Math.max(x, 0),
  leaky_relu: (x, slope = 0.01) => (x > 0 ? x : slope * x),
  tanh: (x) => Math.tanh(x),
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  exp: (x) => Math.exp(x),
  gelu: (x) => 0.5 * x * (1 + Math.tanh(GELU_C * (x + 0.044715 * x * x * x))),
};

/** log(1 + e^{−|z|}) + max(z, 0) − z·q: binary cross-entropy with logits, in float64. */
export function bceWithLogits64(z: number, q: number): number {
  return Math.max(z, 0) - z * q + Math.log1p(Math.exp(-Math.abs(z)));
}

export const sigmoid64 = (z: number): number => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

/**
 * The multi-label loss of assembly/bce.ts in float64: hard = Σ_{labelled rows} BCE(s, y) / n,
 * soft = T²·Σ BCE(s/T, σ(t/T)) / n (n = rows·cols), total = α·hard + (1 − α)·soft, and ∂total/∂s.
 * missing[r] = true: row r has no labels (no hard term).
 */
export function multiLabel64(
  s: ArrayLike<number>,
  t: ArrayLike<number>,
  y: ArrayLike<number>,
  missing: ArrayLike<boolean | number>,
  rows: number,
  cols: number,
  temp: number,
  alpha: number,
) {
  const n = rows * cols;
  const grad = new Float64Array(n);
  let hard = 0;
  let soft = 0;
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < cols; j++) {
      const i = r * cols + j;
      let g = 0;
      if (!missing[r]) {
        hard += bceWithLogits64(s[i]!, y[i]!);
        g += (alpha * (sigmoid64(s[i]!) - y[i]!)) / n;
      }
      const q = sigmoid64(t[i]! / temp);
      soft += bceWithLogits64(s[i]! / temp, q);
      g += ((1 - alpha) * temp * (sigmoid64(s[i]! / temp) - q)) / n;
      grad[i] = g;
    }
  }
  hard /= n;
  soft = (soft * temp * temp) / n;
  return { loss: alpha * hard + (1 - alpha) * soft, hard, soft, grad };
}
