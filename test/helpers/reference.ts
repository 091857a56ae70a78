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

// ---------------------------------------------------------------- token layers (assembly/embedding.ts, layernorm.ts)

/** y (rows·seqLen, dim) = w[ids] in float64; dw (vocab, dim) = Σ dy rows into their ids' rows (padding: none), with Σ|terms| as scale. */
export function embedding64(ids: ArrayLike<number>, w: ArrayLike<number>, dy: ArrayLike<number>, vocab: number, dim: number, paddingIdx: number) {
  const y = new Float64Array(ids.length * dim);
  const dw = new Float64Array(vocab * dim);
  const scale = new Float64Array(vocab * dim);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    for (let j = 0; j < dim; j++) {
      y[i * dim + j] = w[id * dim + j]!;
      if (id === paddingIdx) continue;
      dw[id * dim + j]! += dy[i * dim + j]!;
      scale[id * dim + j]! += Math.abs(dy[i * dim + j]!);
    }
  }
  return { y, dw, scale };
}

/** The mean bag in float64: y (rows, dim), dw (vocab, dim) and each element's Σ|terms|. */
export function embeddingBag64(
  ids: ArrayLike<number>,
  w: ArrayLike<number>,
  dy: ArrayLike<number>,
  rows: number,
  seqLen: number,
  vocab: number,
  dim: number,
  paddingIdx: number,
) {
  const y = new Float64Array(rows * dim);
  const yScale = new Float64Array(rows * dim);
  const dw = new Float64Array(vocab * dim);
  const dwScale = new Float64Array(vocab * dim);
  for (let r = 0; r < rows; r++) {
    const tokens = Array.from({ length: seqLen }, (_, t) => ids[r * seqLen + t]!).filter((id) => id !== paddingIdx);
    if (tokens.length === 0) continue;
    for (let j = 0; j < dim; j++) {
      for (const id of tokens) {
        y[r * dim + j]! += w[id * dim + j]! / tokens.length;
        yScale[r * dim + j]! += Math.abs(w[id * dim + j]!) / tokens.length;
        dw[id * dim + j]! += dy[r * dim + j]! / tokens.length;
        dwScale[id * dim + j]! += Math.abs(dy[r * dim + j]!) / tokens.length;
      }
    }
  }
  return { y, yScale, dw, dwScale };
}

/** nn.LayerNorm over the last dimension in float64: y and the gradients for upstream dy. */
export function layerNorm64(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>, dy: ArrayLike<number>, rows: number, dim: number, eps: number) {
  const y = new Float64Array(rows * dim);
  const dx = new Float64Array(rows * dim);
  const dw = new Float64Array(dim);
  const db = new Float64Array(dim);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let j = 0; j < dim; j++) mean += x[r * dim + j]!;
    mean /= dim;
    let v = 0;
    for (let j = 0; j < dim; j++) v += (x[r * dim + j]! - mean) ** 2;
    const rstd = 1 / Math.sqrt(v / dim + eps);
    const xhat = Array.from({ length: dim }, (_, j) => (x[r * dim + j]! - mean) * rstd);
    const g = Array.from({ length: dim }, (_, j) => dy[r * dim + j]! * w[j]!);
    const m1 = g.reduce((a, c) => a + c, 0) / dim;
    const m2 = g.reduce((a, c, j) => a + c * xhat[j]!, 0) / dim;
    for (let j = 0; j < dim; j++) {
      y[r * dim + j] = xhat[j]! * w[j]! + b[j]!;
      dx[r * dim + j] = (g[j]! - m1 - xhat[j]! * m2) * rstd;
      dw[j]! += dy[r * dim + j]! * xhat[j]!;
      db[j]! += dy[r * dim + j]!;
    }
  }
  return { y, dx, dw, db };
}
