/**
 * Backward kernels against central finite differences.
 *
 * Every check has the same shape: a scalar loss L is written in float64 from the
 * textbook formula (test/helpers/reference.ts or below — never from the kernels), its
 * gradient is estimated by central differences in float64,
 *
 *   ∂L/∂x_i ≈ (L(x + h·e_i) − L(x − h·e_i)) / 2h,   h = 1e-5·max(1, |x_i|),
 *
 * and the float32 gradient written by the wasm kernel (SIMD and `_ref` twin) must agree.
 * The inputs are float32 values, so the kernel and the float64 loss see the same x.
 *
 * Tolerances come from float32 rounding, element by element: |kernel − fd| ≤ c·u·scale_i
 * (+ FD_ATOL), u = 2⁻²⁴, where scale_i is the size of the terms the gradient formula adds
 * up for that element (so a small gradient made of large cancelling terms is allowed the
 * error of those terms) and c counts the rounding steps. The finite differences
 * themselves are accurate to about 1e-10 here (truncation h²·|L'''|/6, rounding
 * 2⁻⁵²·|L|/h), far below every bound.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../../src/index.js";
import { EXACT_BUILDS, loadBuild, type TestEngine } from "../helpers/engines.js";
import { expectClose } from "../helpers/compare.js";
import { activation64, crossEntropy64, distill64, kl64, logSoftmax64, softmax64 } from "../helpers/reference.js";
import { TestRandom } from "../helpers/rand.js";
import { dot64, numericGradient } from "../helpers/gradcheck.js";

/** float32 unit roundoff. */
const U = 2 ** -24;
/** Absolute slack for the float64 finite differences themselves. */
const FD_ATOL = 1e-9;
/** `""`: the SIMD kernel; `"_ref"`: its plain twin. Both must give the true gradient. */
const VARIANTS = ["", "_ref"] as const;
type Variant = (typeof VARIANTS)[number];
const SEEDS = [11, 22, 33];

// ---------------------------------------------------------------- finite differences

/** Uniform float32 values in [lo, hi] at least `gap` away from 0 (relu kinks). */
function uniformAwayFromZero(rnd: TestRandom, n: number, lo: number, hi: number, gap: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v = 0;
    do v = Math.fround(lo + (hi - lo) * rnd.next());
    while (Math.abs(v) < gap);
    out[i] = v;
  }
  return out;
}

// ---------------------------------------------------------------- dense layer (gemm + bias_grad)

interface DenseCase {
  batch: number;
  nIn: number;
  nOut: number;
  x: Float32Array; // (batch, nIn)
  w: Float32Array; // (nOut, nIn), PyTorch layout
  b: Float32Array; // (nOut)
  dy: Float32Array; // (batch, nOut)
}

/** L = Σ dy ⊙ (x·wᵀ + b) in float64. */
function denseLoss(c: DenseCase, x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>): number {
  let loss = 0;
  for (let r = 0; r < c.batch; r++) {
    for (let o = 0; o < c.nOut; o++) {
      let y = b[o]!;
      for (let i = 0; i < c.nIn; i++) y += x[r * c.nIn + i]! * w[o * c.nIn + i]!;
      loss += c.dy[r * c.nOut + o]! * y;
    }
  }
  return loss;
}

/** Analytic gradients from the kernels: dx = dy·w (gemm_nn), dw = dyᵀ·x (gemm_tn), db = Σ_rows dy (bias_grad). */
function denseBackward(engine: TestEngine, c: DenseCase, v: Variant) {
  return engine.scoped(() => {
    const k = engine.kernels;
    const x = engine.putF32(c.x);
    const w = engine.putF32(c.w);
    const dy = engine.putF32(c.dy);
    const dx = engine.allocF32(c.x.length);
    const dw = engine.allocF32(c.w.length);
    const db = engine.allocF32(c.nOut);
    // dx(batch, nIn) = dy(batch, nOut) · w(nOut, nIn)
    k[`gemm_nn${v}`](dx, dy, w, 0, c.batch, c.nIn, c.nOut, c.nOut, c.nIn, c.nIn, 0);
    // dw(nOut, nIn) = dy(batch, nOut)ᵀ · x(batch, nIn)
    k[`gemm_tn${v}`](dw, dy, x, 0, c.nOut, c.nIn, c.batch, c.nOut, c.nIn, c.nIn, 0);
    k[`bias_grad${v}`](db, dy, c.batch, c.nOut, 0);
    return { dx: engine.readF32(dx, c.x.length), dw: engine.readF32(dw, c.w.length), db: engine.readF32(db, c.nOut) };
  });
}

/** Per-element Σ|terms| of dx = dy·w, dw = dyᵀ·x and db = Σ dy: the size of their rounding error. */
function denseScales(c: DenseCase) {
  const sx = new Float64Array(c.x.length);
  const sw = new Float64Array(c.w.length);
  const sb = new Float64Array(c.nOut);
  for (let r = 0; r < c.batch; r++) {
    for (let o = 0; o < c.nOut; o++) {
      const g = Math.abs(c.dy[r * c.nOut + o]!);
      sb[o] = sb[o]! + g;
      for (let i = 0; i < c.nIn; i++) {
        sx[r * c.nIn + i] = sx[r * c.nIn + i]! + g * Math.abs(c.w[o * c.nIn + i]!);
        sw[o * c.nIn + i] = sw[o * c.nIn + i]! + g * Math.abs(c.x[r * c.nIn + i]!);
      }
    }
  }
  return { sx, sw, sb };
}

function checkDense(engine: TestEngine, batch: number, nIn: number, nOut: number, seed: number): void {
  const rnd = new TestRandom(seed);
  const c: DenseCase = {
    batch,
    nIn,
    nOut,
    x: rnd.uniform(batch * nIn),
    w: rnd.uniform(nOut * nIn),
    b: rnd.uniform(nOut),
    dy: rnd.uniform(batch * nOut),
  };
  const fdX = numericGradient((x) => denseLoss(c, x, c.w, c.b), c.x);
  const fdW = numericGradient((w) => denseLoss(c, c.x, w, c.b), c.w);
  const fdB = numericGradient((b) => denseLoss(c, c.x, c.w, b), c.b);
  const { sx, sw, sb } = denseScales(c);
  for (const v of VARIANTS) {
    const got = denseBackward(engine, c, v);
    const what = `dense ${batch}×${nIn}→${nOut} seed ${seed}${v}`;
    // A k-term f32 dot product is off by at most k·u·Σ|terms| (k = nOut for dx, batch for dw and db).
    expectClose(got.dx, fdX, { rtol: (nOut + 1) * U, atol: FD_ATOL }, `${what}: dx via gemm_nn`, sx);
    expectClose(got.dw, fdW, { rtol: (batch + 1) * U, atol: FD_ATOL }, `${what}: dw via gemm_tn`, sw);
    expectClose(got.db, fdB, { rtol: (batch + 1) * U, atol: FD_ATOL }, `${what}: db via bias_grad`, sb);
  }
}

// ---------------------------------------------------------------- element-wise activations

type ActName = "relu" | "leaky_relu" | "tanh" | "sigmoid" | "gelu";

interface ActSpec {
  name: ActName;
  slope?: number;
  /** The backward kernel reads the forward output y (tanh, sigmoid) instead of the input x. */
  savesOutput: boolean;
  /** Rounding steps c in the bound c·u·|dy_i| (times 1 + x_i² for gelu; see checkActivation). */
  steps: number;
}

const ACTIVATIONS: ActSpec[] = [
  { name: "relu", savesOutput: false, steps: 1 },
  { name: "leaky_relu", slope: 0.01, savesOutput: false, steps: 1 },
  { name: "leaky_relu", slope: 0.2, savesOutput: false, steps: 1 },
  { name: "tanh", savesOutput: true, steps: 16 },
  { name: "sigmoid", savesOutput: true, steps: 16 },
  { name: "gelu", savesOutput: false, steps: 32 },
];

function actLabel(a: ActSpec): string {
  return a.slope === undefined ? a.name : `${a.name}(slope ${a.slope})`;
}

/** dx from `<name>_backward` (fed the wasm forward output when the kernel saves y). */
function activationBackward(engine: TestEngine, a: ActSpec, x: Float32Array, dy: Float32Array, v: Variant): Float32Array {
  return engine.scoped(() => {
    const k = engine.kernels;
    const n = x.length;
    const xp = engine.putF32(x);
    const dyp = engine.putF32(dy);
    const dx = engine.allocF32(n);
    switch (a.name) {
      case "relu":
        k[`relu_backward${v}`](dx, dyp, xp, n);
        break;
      case "leaky_relu":
        k[`leaky_relu_backward${v}`](dx, dyp, xp, n, a.slope!);
        break;
      case "gelu":
        k[`gelu_backward${v}`](dx, dyp, xp, n);
        break;
      case "tanh":
      case "sigmoid": {
        const y = engine.allocF32(n);
        k[`${a.name}_forward`](y, xp, n);
        k[`${a.name}_backward${v}`](dx, dyp, y, n);
        break;
      }
    }
    return engine.readF32(dx, n);
  });
}

function checkActivation(engine: TestEngine, a: ActSpec, n: number, seed: number): void {
  const rnd = new TestRandom(seed);
  // ±4 covers the curved parts of tanh / sigmoid / gelu and their flat tails; no point
  // lies within 1e-3 of the relu kink, so x ± h never crosses it.
  const x = uniformAwayFromZero(rnd, n, -4, 4, 1e-3);
  const dy = rnd.uniform(n);
  const f = activation64[a.name]!;
  const fd = numericGradient((xs) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += dy[i]! * f(xs[i]!, a.slope);
    return s;
  }, x);
  // The derivative is O(1) (gelu's is x-weighted: its second term carries x·(1 + 0.134·x²)
  // times the rounding of 1 − tanh²), so the error is c·u·|dy|, scaled by 1 + x² for gelu.
  const scale = Float64Array.from(dy, (g, i) => Math.abs(g) * (a.name === "gelu" ? 1 + x[i]! ** 2 : 1));
  for (const v of VARIANTS) {
    const got = activationBackward(engine, a, x, dy, v);
    expectClose(got, fd, { rtol: a.steps * U, atol: FD_ATOL }, `${actLabel(a)}_backward${v} n=${n} seed ${seed}`, scale);
  }
}

// ---------------------------------------------------------------- softmax / log-softmax backward

type RowKind = "softmax" | "log_softmax";

/** dx from `<kind>_backward` given dy, fed the wasm forward output y = <kind>(x/T). */
function rowBackward(engine: TestEngine, kind: RowKind, x: Float32Array, dy: Float32Array, rows: number, cols: number, t: number, v: Variant): Float32Array {
  return engine.scoped(() => {
    const k = engine.kernels;
    const xp = engine.putF32(x);
    const dyp = engine.putF32(dy);
    const y = engine.allocF32(x.length);
    const dx = engine.allocF32(x.length);
    k[`${kind}_forward`](y, xp, rows, cols, t);
    k[`${kind}_backward${v}`](dx, dyp, y, rows, cols, t);
    return engine.readF32(dx, x.length);
  });
}

/**
 * Error scale of one row-softmax gradient element: the terms it adds up, divided by T.
 *   softmax:     dx_i = p_i·(dy_i − Σ_k dy_k·p_k)/T   → p_i·(|dy_i| + Σ_k |dy_k|·p_k)/T
 *   log_softmax: dx_i = (dy_i − p_i·Σ_k dy_k)/T       → (|dy_i| + p_i·Σ_k |dy_k|)/T
 */
function rowScale(kind: RowKind, p: Float64Array, dy: Float32Array, rows: number, cols: number, t: number): Float64Array {
  const s = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let dotAbs = 0;
    let sumAbs = 0;
    for (let j = 0; j < cols; j++) {
      dotAbs += Math.abs(dy[r * cols + j]!) * p[r * cols + j]!;
      sumAbs += Math.abs(dy[r * cols + j]!);
    }
    for (let j = 0; j < cols; j++) {
      const i = r * cols + j;
      s[i] = kind === "softmax" ? (p[i]! * (Math.abs(dy[i]!) + dotAbs)) / t : (Math.abs(dy[i]!) + p[i]! * sumAbs) / t;
    }
  }
  return s;
}

/**
 * Relative error of a float32 softmax probability: a cols-term sum, a few ulp for exp and
 * the division, and the rounding of the exp argument x/T − m (u·|x/T − m| absolute, which
 * exp turns into a relative error).
 */
function softmaxRtol(x: ArrayLike<number>, cols: number, t: number): number {
  let maxArg = 0;
  for (let i = 0; i < x.length; i++) maxArg = Math.max(maxArg, Math.abs(x[i]!) / t);
  return (cols + 16 + 4 * maxArg) * U;
}

function checkRowBackward(engine: TestEngine, kind: RowKind, rows: number, cols: number, t: number, seed: number): void {
  const rnd = new TestRandom(seed);
  const x = rnd.uniform(rows * cols, -3, 3);
  const dy = rnd.uniform(rows * cols);
  const forward = kind === "softmax" ? softmax64 : logSoftmax64;
  const fd = numericGradient((xs) => dot64(dy, forward(xs, rows, cols, t)), x);
  const scale = rowScale(kind, softmax64(x, rows, cols, t), dy, rows, cols, t);
  const rtol = softmaxRtol(x, cols, t);
  for (const v of VARIANTS) {
    const got = rowBackward(engine, kind, x, dy, rows, cols, t, v);
    expectClose(got, fd, { rtol, atol: FD_ATOL }, `${kind}_backward${v} ${rows}×${cols} T=${t} seed ${seed}`, scale);
  }
}

// ---------------------------------------------------------------- losses (gradient w.r.t. student logits)

interface LossInputs {
  rows: number;
  cols: number;
  s: Float32Array;
  t: Float32Array;
  labels: Int32Array;
}

function lossInputs(rows: number, cols: number, seed: number): LossInputs {
  const rnd = new TestRandom(seed);
  return {
    rows,
    cols,
    s: rnd.uniform(rows * cols, -4, 4),
    t: rnd.uniform(rows * cols, -6, 6),
    labels: rnd.ints(rows, cols),
  };
}

/** Calls distill_loss (or its twin) and returns [total, hard, soft], the returned total and the gradient. */
function runDistill(engine: TestEngine, inp: LossInputs, temp: number, alpha: number, v: Variant) {
  return engine.scoped(() => {
    const out = engine.alloc(3 * 8);
    const s = engine.putF32(inp.s);
    const t = engine.putF32(inp.t);
    const labels = engine.putI32(inp.labels);
    const grad = engine.allocF32(inp.s.length);
    const ret = engine.kernels[`distill_loss${v}`](out, grad, s, t, labels, inp.rows, inp.cols, temp, alpha, 0);
    return { ret, parts: Array.from(engine.f64(out, 3)), grad: engine.readF32(grad, inp.s.length) };
  });
}

function runCrossEntropy(engine: TestEngine, inp: LossInputs, v: Variant) {
  return engine.scoped(() => {
    const s = engine.putF32(inp.s);
    const labels = engine.putI32(inp.labels);
    const grad = engine.allocF32(inp.s.length);
    const loss = engine.kernels[`cross_entropy${v}`](grad, s, labels, inp.rows, inp.cols);
    return { loss, grad: engine.readF32(grad, inp.s.length) };
  });
}

function runKl(engine: TestEngine, inp: LossInputs, temp: number, v: Variant) {
  return engine.scoped(() => {
    const s = engine.putF32(inp.s);
    const t = engine.putF32(inp.t);
    const grad = engine.allocF32(inp.s.length);
    const loss = engine.kernels[`kl_div${v}`](grad, s, t, inp.rows, inp.cols, temp);
    return { loss, grad: engine.readF32(grad, inp.s.length) };
  });
}

/**
 * Error scales of the loss gradients: cross-entropy's element is (p_i − onehot_i)/rows,
 * made of terms of size (p_i + onehot_i)/rows; the soft term's is T·(p_s − p_t)/rows, of
 * size T·(p_s + p_t)/rows. The distillation gradient mixes them with α and 1 − α.
 */
function lossScale(inp: LossInputs, temp: number, alpha: number): Float64Array {
  const { rows, cols } = inp;
  const p1 = softmax64(inp.s, rows, cols);
  const ps = softmax64(inp.s, rows, cols, temp);
  const pt = softmax64(inp.t, rows, cols, temp);
  const scale = new Float64Array(rows * cols);
  for (let i = 0; i < scale.length; i++) {
    const onehot = i % cols === inp.labels[Math.floor(i / cols)] ? 1 : 0;
    const hard = (p1[i]! + onehot) / rows;
    const soft = (temp * (ps[i]! + pt[i]!)) / rows;
    scale[i] = alpha * hard + (1 - alpha) * soft;
  }
  return scale;
}

/** Relative rounding error of the loss gradients: that of the probabilities (at T = 1 and at T), plus the mixing. */
function lossRtol(inp: LossInputs, temp: number): number {
  const { s, t, cols } = inp;
  return Math.max(softmaxRtol(s, cols, 1), softmaxRtol(s, cols, temp), softmaxRtol(t, cols, temp)) + 8 * U;
}

/**
 * Absolute rounding error allowed for a returned loss. Row losses are f32 sums of
 * log-probabilities: cross-entropy −log p_label = lse − (x_label − max), and the KL row
 * Σ_k p_t·(log p_t − log p_s), each log-probability being off by about (cols + 16)·u times
 * (|log p| + 1). The soft part is then multiplied by T².
 */
function lossValueAtol(inp: LossInputs, temp: number, alpha: number): number {
  const { rows, cols } = inp;
  const ls1 = logSoftmax64(inp.s, rows, cols);
  const ls = logSoftmax64(inp.s, rows, cols, temp);
  const lt = logSoftmax64(inp.t, rows, cols, temp);
  let hard = 0;
  let soft = 0;
  for (let r = 0; r < rows; r++) {
    hard += Math.abs(ls1[r * cols + inp.labels[r]!]!) + 1;
    for (let j = 0; j < cols; j++) {
      const i = r * cols + j;
      soft += Math.exp(lt[i]!) * (Math.abs(lt[i]!) + Math.abs(ls[i]!) + 1);
    }
  }
  return ((cols + 16) * U * (alpha * hard + (1 - alpha) * temp * temp * soft)) / rows;
}

function checkCrossEntropy(engine: TestEngine, rows: number, cols: number, seed: number): void {
  const inp = lossInputs(rows, cols, seed);
  const fd = numericGradient((s) => crossEntropy64(s, inp.labels, rows, cols).loss, inp.s);
  const want = crossEntropy64(inp.s, inp.labels, rows, cols).loss;
  for (const v of VARIANTS) {
    const got = runCrossEntropy(engine, inp, v);
    const what = `cross_entropy${v} ${rows}×${cols} seed ${seed}`;
    expectClose(got.grad, fd, { rtol: lossRtol(inp, 1), atol: FD_ATOL }, `${what}: gradient`, lossScale(inp, 1, 1));
    expectClose([got.loss], [want], { rtol: 0, atol: lossValueAtol(inp, 1, 1) }, `${what}: returned loss`);
  }
}

function checkKl(engine: TestEngine, rows: number, cols: number, temp: number, seed: number): void {
  const inp = lossInputs(rows, cols, seed);
  const fd = numericGradient((s) => kl64(s, inp.t, rows, cols, temp).loss, inp.s);
  const want = kl64(inp.s, inp.t, rows, cols, temp).loss;
  for (const v of VARIANTS) {
    const got = runKl(engine, inp, temp, v);
    const what = `kl_div${v} ${rows}×${cols} T=${temp} seed ${seed}`;
    expectClose(got.grad, fd, { rtol: lossRtol(inp, temp), atol: FD_ATOL }, `${what}: gradient`, lossScale(inp, temp, 0));
    expectClose([got.loss], [want], { rtol: 0, atol: lossValueAtol(inp, temp, 0) }, `${what}: returned loss`);
  }
}

function checkDistill(engine: TestEngine, rows: number, cols: number, temp: number, alpha: number, seed: number): void {
  const inp = lossInputs(rows, cols, seed);
  const a32 = Math.fround(alpha); // the kernel weighs with f32 α and 1 − α
  const fd = numericGradient((s) => distill64(s, inp.t, inp.labels, rows, cols, temp, a32).loss, inp.s);
  const want = distill64(inp.s, inp.t, inp.labels, rows, cols, temp, a32);
  for (const v of VARIANTS) {
    const got = runDistill(engine, inp, temp, alpha, v);
    const what = `distill_loss${v} ${rows}×${cols} T=${temp} α=${alpha} seed ${seed}`;
    expectClose(got.grad, fd, { rtol: lossRtol(inp, temp), atol: FD_ATOL }, `${what}: gradient`, lossScale(inp, temp, alpha));
    const total = { rtol: 0, atol: lossValueAtol(inp, temp, a32) };
    expectClose([got.ret, got.parts[0]!], [want.loss, want.loss], total, `${what}: total (returned, out[0])`);
    // Both parts are reported whatever their weight (α = 0 or 1 included).
    const hard = { rtol: 0, atol: lossValueAtol(inp, temp, 1) };
    const soft = { rtol: 0, atol: lossValueAtol(inp, temp, 0) };
    expectClose([got.parts[1]!], [want.hard], hard, `${what}: hard (out[1])`);
    expectClose([got.parts[2]!], [want.soft], soft, `${what}: soft (out[2])`);
  }
}

/** L = scale·Σ (pred − target)² in float64. */
function mse64(pred: ArrayLike<number>, target: ArrayLike<number>, scale: number): number {
  let s = 0;
  for (let i = 0; i < pred.length; i++) s += (pred[i]! - target[i]!) ** 2;
  return scale * s;
}

function checkMse(engine: TestEngine, n: number, seed: number): void {
  const rnd = new TestRandom(seed);
  const pred = rnd.uniform(n, -3, 3);
  const target = rnd.uniform(n, -3, 3);
  const scale = Math.fround(1 / n); // PyTorch's mse_loss; the kernel takes scale as f32
  const fd = numericGradient((p) => mse64(p, target, scale), pred);
  // grad_i = 2·scale·(p_i − t_i): one rounding each for the difference, 2·scale and the product.
  const errScale = Float64Array.from(pred, (p, i) => 2 * scale * (Math.abs(p) + Math.abs(target[i]!)));
  for (const v of VARIANTS) {
    const got = engine.scoped(() => {
      const p = engine.putF32(pred);
      const t = engine.putF32(target);
      const g = engine.allocF32(n);
      const loss = engine.kernels[`mse${v}`](g, p, t, n, scale);
      return { loss, grad: engine.readF32(g, n) };
    });
    const what = `mse${v} n=${n} seed ${seed}`;
    expectClose(got.grad, fd, { rtol: 4 * U, atol: FD_ATOL }, `${what}: gradient`, errScale);
    expectClose([got.loss], [mse64(pred, target, scale)], { rtol: 4 * U, atol: 0 }, `${what}: returned loss`);
  }
}

// ---------------------------------------------------------------- dropout

/** mask(n) from rng_dropout_mask with a seeded generator, and dx = dropout_backward(dy, mask). */
function dropoutRun(engine: TestEngine, dy: Float32Array, p: number, seed: number) {
  return engine.scoped(() => {
    const k = engine.kernels;
    const n = dy.length;
    const state = engine.alloc(16);
    k.rng_seed(state, seed, 0);
    const mask = engine.allocF32(n);
    k.rng_dropout_mask(state, mask, n, p);
    const dyp = engine.putF32(dy);
    const dx = engine.allocF32(n);
    k.dropout_backward(dx, dyp, mask, n);
    return { mask: engine.readF32(mask, n), dx: engine.readF32(dx, n) };
  });
}

function checkDropout(engine: TestEngine, n: number, p: number, seed: number): void {
  const rnd = new TestRandom(seed);
  const x = rnd.uniform(n);
  const dy = rnd.uniform(n);
  const { mask, dx } = dropoutRun(engine, dy, p, seed);
  const what = `dropout_backward n=${n} p=${p} seed ${seed}`;
  const keep = Math.fround(1 / (1 - Math.fround(p))); // the kernel takes p as f32
  for (let i = 0; i < n; i++) {
    if (mask[i] !== 0 && mask[i] !== keep) expect.fail(`${what}: mask[${i}] = ${mask[i]}, expected 0 or ${keep}`);
  }
  // The forward y = x ⊙ mask with the mask held fixed; L = Σ dy ⊙ y.
  const fd = numericGradient((xs) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += dy[i]! * xs[i]! * mask[i]!;
    return s;
  }, x);
  expectClose(
    dx,
    fd,
    { rtol: U, atol: FD_ATOL },
    what,
    Float64Array.from(dy, (g, i) => Math.abs(g * mask[i]!)),
  );
}

// ---------------------------------------------------------------- the tests

const DENSE_SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 3, 5],
  [3, 5, 7],
  [5, 7, 3],
  [7, 4, 8],
  [4, 8, 4],
  [3, 9, 17],
  [8, 16, 12],
];
const ROW_SHAPES: [number, number][] = [
  [1, 1],
  [1, 5],
  [3, 3],
  [3, 4],
  [5, 7],
  [2, 8],
  [4, 12],
  [3, 13],
];
const SIZES = [1, 3, 4, 5, 7, 8, 16, 19];

describe.each(EXACT_BUILDS)("gradients by finite differences, %s build", (build) => {
  let engine: TestEngine;
  beforeAll(async () => {
    engine = await loadBuild(build);
  });

  it("dense layer: dx (gemm_nn), dw (gemm_tn) and db (bias_grad) are the gradients of Σ dy ⊙ (x·wᵀ + b)", () => {
    for (const [batch, nIn, nOut] of DENSE_SHAPES) for (const seed of SEEDS) checkDense(engine, batch, nIn, nOut, seed);
  });

  for (const a of ACTIVATIONS) {
    it(`${actLabel(a)}_backward is the derivative of ${a.name} (${a.savesOutput ? "from the forward output" : "from the input"})`, () => {
      for (const n of SIZES) for (const seed of SEEDS) checkActivation(engine, a, n, seed);
    });
  }

  for (const kind of ["softmax", "log_softmax"] as const) {
    for (const t of [0.5, 1, 4]) {
      it(`${kind}_backward at T=${t} is the gradient of Σ dy ⊙ ${kind}(x/T)`, () => {
        for (const [rows, cols] of ROW_SHAPES) for (const seed of SEEDS) checkRowBackward(engine, kind, rows, cols, t, seed);
      });
    }
  }

  it("cross_entropy writes the gradient of the mean cross-entropy it returns", () => {
    for (const [rows, cols] of ROW_SHAPES) for (const seed of SEEDS) checkCrossEntropy(engine, rows, cols, seed);
  });

  for (const t of [1, 2, 4, 8]) {
    it(`kl_div at T=${t} writes the gradient of the T²·KL it returns`, () => {
      for (const [rows, cols] of ROW_SHAPES) for (const seed of SEEDS) checkKl(engine, rows, cols, t, seed);
    });
  }

  for (const alpha of [0, 0.1, 0.5, 0.9, 1]) {
    it(`distill_loss with α=${alpha} writes the gradient of α·CE + (1 − α)·T²·KL (T = 1, 2, 4, 10)`, () => {
      for (const t of [1, 2, 4, 10]) {
        for (const [rows, cols] of ROW_SHAPES) for (const seed of SEEDS) checkDistill(engine, rows, cols, t, alpha, seed);
      }
    });
  }

  it("mse with scale 1/n writes the gradient of the mean squared error it returns", () => {
    for (const n of SIZES) for (const seed of SEEDS) checkMse(engine, n, seed);
  });

  it("dropout_backward is the derivative of x ⊙ mask for masks from rng_dropout_mask", () => {
    for (const p of [0, 0.25, 0.5, 0.9]) for (const n of SIZES) for (const seed of SEEDS) checkDropout(engine, n, p, seed);
  });

  it("the soft gradient scales as T²·(1/T): kl_div's gradient is T·(p_s − p_t)/rows", () => {
    // The plain KL(p_t ‖ p_s) has gradient (p_s − p_t)/(T·rows): check that by finite
    // differences, then that the kernel's gradient of T²·KL is T² times it, i.e. the
    // closed form T·(p_s − p_t)/rows with p = softmax(·/T) in float64.
    for (const t of [1, 2, 4, 8, 16]) {
      for (const [rows, cols] of [
        [1, 5],
        [3, 4],
        [4, 10],
      ] as const) {
        const inp = lossInputs(rows, cols, 500 + t);
        const ps = softmax64(inp.s, rows, cols, t);
        const pt = softmax64(inp.t, rows, cols, t);
        const closed = Float64Array.from(ps, (p, i) => (t * (p - pt[i]!)) / rows);
        const plainFd = numericGradient((s) => kl64(s, inp.t, rows, cols, t).loss / (t * t), inp.s);
        const what = `T=${t} ${rows}×${cols}`;
        const scale = lossScale(inp, t, 0);
        expectClose(
          plainFd.map((g) => g * t * t),
          closed,
          { rtol: 0, atol: 1e-9 * t * t },
          `${what}: T²·∂KL/∂s (finite differences)`,
        );
        for (const v of VARIANTS) {
          const got = runKl(engine, inp, t, v).grad;
          expectClose(got, closed, { rtol: lossRtol(inp, t), atol: 1e-12 }, `${what}: kl_div${v} gradient vs T·(p_s − p_t)/rows`, scale);
        }
      }
    }
  });
});
