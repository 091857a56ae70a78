/**
 * The kernels against PyTorch (test/fixtures/torch-fixtures.json, written by
 * test/fixtures/make_torch_fixtures.py: seeded float32 cases with autograd gradients),
 * on the release and debug builds, plus the public functional API on a few cases.
 *
 * Tolerances. PyTorch and the kernels both compute in float32 but round differently
 * (other exp / tanh, other summation orders, FMA), so each bound is twice the worst-case
 * rounding error of one float32 evaluation: c·u·scale_i with u = 2⁻²⁴, scale_i the size of
 * the terms that make up element i (not the size of the result, which may be a small
 * difference of large terms) and c the number of rounding steps (a k-term sum counts k).
 * Softmax needs one more term, see softmaxBound.
 */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { crossEntropy, distillationLoss, GEMM_RELU, init, klDivergence, logSoftmax, mseLoss, softmax, type Engine } from "../../src/index.js";
import { EXACT_BUILDS, loadBuild } from "../helpers/engines.js";
import { expectClose, expectSameBits } from "../helpers/compare.js";
import { logSoftmax64, softmax64 } from "../helpers/reference.js";

// ---------------------------------------------------------------- fixture file

interface SoftmaxCase {
  rows: number;
  cols: number;
  T: number;
  x: number[];
  softmax: number[];
  log_softmax: number[];
  dy: number[];
  softmax_grad: number[];
  log_softmax_grad: number[];
}
interface CrossEntropyCase {
  rows: number;
  cols: number;
  logits: number[];
  labels: number[];
  loss: number;
  grad: number[];
}
interface KlCase {
  rows: number;
  cols: number;
  T: number;
  student: number[];
  teacher: number[];
  loss: number;
  grad: number[];
}
interface DistillCase {
  rows: number;
  cols: number;
  T: number;
  alpha: number;
  student: number[];
  teacher: number[];
  labels: number[];
  loss: number;
  hard: number;
  soft: number;
  grad: number[];
}
interface MseCase {
  rows: number;
  cols: number;
  pred: number[];
  target: number[];
  loss: number;
  grad: number[];
}
type ActName = "relu" | "leaky_relu" | "tanh" | "sigmoid" | "gelu";
interface ActivationCase {
  name: ActName;
  slope?: number;
  n: number;
  x: number[];
  y: number[];
  dy: number[];
  dx: number[];
}
interface LinearCase {
  batch: number;
  in: number;
  out: number;
  relu: boolean;
  x: number[];
  weight: number[];
  bias: number[];
  y: number[];
  dy: number[];
  dx: number[];
  dweight: number[];
  dbias: number[];
}
interface SgdCase {
  lr: number;
  momentum: number;
  nesterov: boolean;
  weight_decay: number;
  n: number;
  param0: number[];
  grads: number[][];
  params: number[][];
}
interface AdamCase {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weight_decay: number;
  decoupled: boolean;
  n: number;
  param0: number[];
  grads: number[][];
  params: number[][];
}
interface ClipCase {
  max_norm: number;
  grads: number[][];
  total_norm: number;
  clipped: number[][];
}

interface Fixtures {
  torch_version: string;
  softmax: SoftmaxCase[];
  cross_entropy: CrossEntropyCase[];
  kl_div: KlCase[];
  distill: DistillCase[];
  mse: MseCase[];
  activations: ActivationCase[];
  linear: LinearCase[];
  sgd: SgdCase[];
  adam: AdamCase[];
  clip_grad_norm: ClipCase[];
}

const FIXTURES = JSON.parse(readFileSync(new URL("../fixtures/torch-fixtures.json", import.meta.url), "utf8")) as Fixtures;

// ---------------------------------------------------------------- error bounds

/** float32 unit roundoff. */
const U = 2 ** -24;
/** Both PyTorch and the kernel round: a bound for one evaluation is doubled. */
const BOTH = 2;
/** Smallest normal float32: results below it may be flushed to 0 by either side. */
const TINY = 2 ** -126;

/** |actual_i − expected_i| ≤ bound_i (+ TINY) for every element. */
function expectWithin(actual: ArrayLike<number>, expected: ArrayLike<number>, bound: ArrayLike<number>, what: string): void {
  expectClose(actual, expected, { rtol: 1, atol: TINY }, what, bound);
}

/** Largest |x|/T: the size of the exp arguments before the max is subtracted. */
function maxArgument(x: ArrayLike<number>, t: number): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]!) / t);
  return m;
}

/**
 * Bound on the float32 error of p = softmax(x/T) (one evaluation), element by element.
 *
 * Rounding x/T and subtracting the max perturbs each exp argument by ε_k, |ε_k| ≤ 3u·A
 * with A = max|x|/T; softmax turns that into a relative error of p_i of
 * |Σ_{k≠i} p_k·(ε_i − ε_k)| ≤ 6u·A·(1 − p_i). With huge logits at a small T (|x|/T up
 * to 2e5, where float32 values are 1/64 apart) this is the dominant term, and it is
 * what lets a probability near 1 still be checked to a few ulp while a mid-sized one
 * may legitimately differ in its fifth digit. exp, the cols-term sum and the division
 * add (cols + 4)·u relative.
 */
function softmaxBound(p: ArrayLike<number>, x: ArrayLike<number>, cols: number, t: number): Float64Array {
  const a = maxArgument(x, t);
  return Float64Array.from(p, (pi) => pi * ((cols + 4) * U + 6 * U * a * (1 - pi)));
}

/**
 * Bound on the float32 error of log p = log_softmax(x/T): the same argument perturbation
 * (absolute now, 6u·A·(1 − p_i)), the log of a sum off by (cols + 4)·u, and the final
 * subtractions, u·(|x_i/T − m| + |log p_i|) ≤ u·(2|log p_i| + 2 log cols).
 */
function logSoftmaxBound(logp: ArrayLike<number>, x: ArrayLike<number>, cols: number, t: number): Float64Array {
  const a = maxArgument(x, t);
  return Float64Array.from(logp, (lp) => 6 * U * a * (1 - Math.exp(lp)) + (cols + 4) * U + 2 * U * (Math.abs(lp) + Math.log(cols)));
}

/**
 * Loss-gradient bounds. Cross-entropy: (p − onehot)/rows; the soft term: T·(p_s − p_t)/rows;
 * the distillation gradient mixes them with α, 1 − α. Two more roundings per term for
 * the subtraction and the scaling.
 */
function lossGradBound(
  s: ArrayLike<number>,
  t: ArrayLike<number> | undefined,
  labels: ArrayLike<number> | undefined,
  rows: number,
  cols: number,
  temp: number,
  alpha: number,
): Float64Array {
  const bound = new Float64Array(rows * cols);
  if (labels && alpha > 0) {
    const p = softmax64(s, rows, cols);
    const b = softmaxBound(p, s, cols, 1);
    for (let i = 0; i < bound.length; i++) {
      const onehot = i % cols === labels[Math.floor(i / cols)] ? 1 : 0;
      bound[i] = bound[i]! + (alpha * (b[i]! + 2 * U * (p[i]! + onehot))) / rows;
    }
  }
  if (t && alpha < 1) {
    const ps = softmax64(s, rows, cols, temp);
    const pt = softmax64(t, rows, cols, temp);
    const bs = softmaxBound(ps, s, cols, temp);
    const bt = softmaxBound(pt, t, cols, temp);
    for (let i = 0; i < bound.length; i++) {
      bound[i] = bound[i]! + ((1 - alpha) * temp * (bs[i]! + bt[i]! + 2 * U * (ps[i]! + pt[i]!))) / rows;
    }
  }
  return bound.map((b) => BOTH * b);
}

/** Bound on the mean cross-entropy: each row loss is −log p_label, off by logSoftmaxBound, plus the f32 row sum. */
function crossEntropyBound(s: ArrayLike<number>, labels: ArrayLike<number>, rows: number, cols: number): number {
  const lp = logSoftmax64(s, rows, cols);
  const b = logSoftmaxBound(lp, s, cols, 1);
  let sum = 0;
  for (let r = 0; r < rows; r++) {
    const i = r * cols + labels[r]!;
    sum += b[i]! + (rows + 1) * U * Math.abs(lp[i]!);
  }
  return (BOTH * sum) / rows;
}

/**
 * Bound on T²·KL(p_t ‖ p_s), batch mean: each term p_t·(log p_t − log p_s) is off by
 * p_t·(error of both log-probabilities) + (error of p_t + cols·u·p_t)·|log p_t − log p_s|
 * (the last for the cols-term row sum); then times T².
 */
function klBound(s: ArrayLike<number>, t: ArrayLike<number>, rows: number, cols: number, temp: number): number {
  const ls = logSoftmax64(s, rows, cols, temp);
  const lt = logSoftmax64(t, rows, cols, temp);
  const pt = softmax64(t, rows, cols, temp);
  const bls = logSoftmaxBound(ls, s, cols, temp);
  const blt = logSoftmaxBound(lt, t, cols, temp);
  const bpt = softmaxBound(pt, t, cols, temp);
  let sum = 0;
  for (let i = 0; i < rows * cols; i++) {
    sum += pt[i]! * (bls[i]! + blt[i]!) + (bpt[i]! + (cols + rows) * U * pt[i]!) * Math.abs(lt[i]! - ls[i]!);
  }
  return (BOTH * sum * temp * temp) / rows;
}

// ---------------------------------------------------------------- kernel runners

function rowOp(engine: Engine, kind: "softmax" | "log_softmax", c: SoftmaxCase): Float32Array {
  return engine.scoped(() => {
    const x = engine.putF32(c.x);
    const y = engine.allocF32(c.x.length);
    engine.kernels[`${kind}_forward`](y, x, c.rows, c.cols, c.T);
    return engine.readF32(y, c.x.length);
  });
}

/** dx from `<kind>_backward`, fed PyTorch's forward output so that only the backward kernel is tested. */
function rowGrad(engine: Engine, kind: "softmax" | "log_softmax", c: SoftmaxCase): Float32Array {
  return engine.scoped(() => {
    const dy = engine.putF32(c.dy);
    const y = engine.putF32(kind === "softmax" ? c.softmax : c.log_softmax);
    const dx = engine.allocF32(c.x.length);
    engine.kernels[`${kind}_backward`](dx, dy, y, c.rows, c.cols, c.T);
    return engine.readF32(dx, c.x.length);
  });
}

/** distill_loss: returns the kernel's return value, out = [total, hard, soft] and the gradient. */
function runDistill(engine: Engine, c: DistillCase) {
  return engine.scoped(() => {
    const out = engine.alloc(3 * 8);
    const s = engine.putF32(c.student);
    const t = engine.putF32(c.teacher);
    const labels = engine.putI32(c.labels);
    const grad = engine.allocF32(c.student.length);
    const ret = engine.kernels.distill_loss(out, grad, s, t, labels, c.rows, c.cols, c.T, c.alpha, 0);
    const [total, hard, soft] = engine.f64(out, 3);
    return { ret, total: total!, hard: hard!, soft: soft!, grad: engine.readF32(grad, c.student.length) };
  });
}

/** Forward activation y and its backward dx (fed PyTorch's y where the kernel reads the output). */
function runActivation(engine: Engine, c: ActivationCase) {
  return engine.scoped(() => {
    const k = engine.kernels;
    const x = engine.putF32(c.x);
    const dy = engine.putF32(c.dy);
    const yTorch = engine.putF32(c.y);
    const y = engine.allocF32(c.n);
    const dx = engine.allocF32(c.n);
    const slope = c.slope ?? 0;
    switch (c.name) {
      case "relu":
        k.relu_forward(y, x, c.n);
        k.relu_backward(dx, dy, x, c.n);
        break;
      case "leaky_relu":
        k.leaky_relu_forward(y, x, c.n, slope);
        k.leaky_relu_backward(dx, dy, x, c.n, slope);
        break;
      case "tanh":
        k.tanh_forward(y, x, c.n);
        k.tanh_backward(dx, dy, yTorch, c.n);
        break;
      case "sigmoid":
        k.sigmoid_forward(y, x, c.n);
        k.sigmoid_backward(dx, dy, yTorch, c.n);
        break;
      case "gelu":
        k.gelu_forward(y, x, c.n);
        k.gelu_backward(dx, dy, x, c.n);
        break;
    }
    return { y: engine.readF32(y, c.n), dx: engine.readF32(dx, c.n) };
  });
}

/**
 * A dense layer as in PyTorch, x (batch, in), weight (out, in):
 *   y = x·wᵀ + b (gemm_nt, bias fused, GEMM_RELU when relu)
 *   dz = relu_backward(dy, y) (y > 0 exactly where the pre-activation is) or dy
 *   dx = dz·w (gemm_nn), dweight = dzᵀ·x (gemm_tn), dbias = Σ_rows dz (bias_grad)
 */
function runLinear(engine: Engine, c: LinearCase) {
  return engine.scoped(() => {
    const k = engine.kernels;
    const { batch, in: nIn, out: nOut } = c;
    const x = engine.putF32(c.x);
    const w = engine.putF32(c.weight);
    const b = engine.putF32(c.bias);
    const dy = engine.putF32(c.dy);
    const y = engine.allocF32(batch * nOut);
    k.gemm_nt(y, x, w, b, batch, nOut, nIn, nIn, nIn, nOut, c.relu ? GEMM_RELU : 0);
    let dz = dy;
    if (c.relu) {
      dz = engine.allocF32(batch * nOut);
      k.relu_backward(dz, dy, y, batch * nOut);
    }
    const dx = engine.allocF32(batch * nIn);
    const dw = engine.allocF32(nOut * nIn);
    const db = engine.allocF32(nOut);
    k.gemm_nn(dx, dz, w, 0, batch, nIn, nOut, nOut, nIn, nIn, 0);
    k.gemm_tn(dw, dz, x, 0, nOut, nIn, batch, nOut, nIn, nIn, 0);
    k.bias_grad(db, dz, batch, nOut, 0);
    return {
      y: engine.readF32(y, batch * nOut),
      dx: engine.readF32(dx, batch * nIn),
      dweight: engine.readF32(dw, nOut * nIn),
      dbias: engine.readF32(db, nOut),
    };
  });
}

// ---------------------------------------------------------------- labels

const shape = (rows: number, cols: number) => `${rows}×${cols}`;
function softmaxLabel(c: SoftmaxCase): string {
  const huge = maxArgument(c.x, 1) > 100 ? ", logits up to ±1e4" : "";
  return `${shape(c.rows, c.cols)} T=${c.T}${huge}`;
}
const actLabel = (c: ActivationCase) => `${c.name}${c.slope === undefined ? "" : `(slope ${c.slope})`} n=${c.n}`;
const linearLabel = (c: LinearCase) => `batch ${c.batch}, ${c.in}→${c.out}${c.relu ? ", relu" : ""}`;

// ---------------------------------------------------------------- kernels, per build

describe.each(EXACT_BUILDS)("PyTorch fixtures, %s build", (build) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await loadBuild(build);
  });

  it("the fixture file has every section", () => {
    for (const section of ["softmax", "cross_entropy", "kl_div", "distill", "mse", "activations", "linear", "sgd", "adam", "clip_grad_norm"] as const) {
      expect(FIXTURES[section].length, section).toBeGreaterThan(0);
    }
  });

  describe("softmax and log_softmax", () => {
    for (const c of FIXTURES.softmax) {
      const what = softmaxLabel(c);
      it(`softmax_forward ${what}: values`, () => {
        const bound = softmaxBound(c.softmax, c.x, c.cols, c.T).map((b) => BOTH * b);
        expectWithin(rowOp(engine, "softmax", c), c.softmax, bound, `softmax ${what}`);
      });
      it(`log_softmax_forward ${what}: values`, () => {
        const bound = logSoftmaxBound(c.log_softmax, c.x, c.cols, c.T).map((b) => BOTH * b);
        expectWithin(rowOp(engine, "log_softmax", c), c.log_softmax, bound, `log_softmax ${what}`);
      });
      it(`softmax_backward ${what}: gradient of Σ dy ⊙ softmax(x/T)`, () => {
        // dx_i = y_i·(dy_i − Σ_k dy_k·y_k)/T: a cols-term dot product and four more roundings.
        const bound = rowTermScale(c, "softmax").map((s) => BOTH * (c.cols + 4) * U * s);
        expectWithin(rowGrad(engine, "softmax", c), c.softmax_grad, bound, `softmax_backward ${what}`);
      });
      it(`log_softmax_backward ${what}: gradient of Σ dy ⊙ log_softmax(x/T)`, () => {
        // dx_i = (dy_i − e^{y_i}·Σ_k dy_k)/T: a cols-term sum, exp (2 ulp) and three more roundings.
        const bound = rowTermScale(c, "log_softmax").map((s) => BOTH * (c.cols + 6) * U * s);
        expectWithin(rowGrad(engine, "log_softmax", c), c.log_softmax_grad, bound, `log_softmax_backward ${what}`);
      });
    }
  });

  describe("cross_entropy", () => {
    for (const c of FIXTURES.cross_entropy) {
      it(`cross_entropy ${shape(c.rows, c.cols)}: mean loss and gradient`, () => {
        const got = engine.scoped(() => {
          const s = engine.putF32(c.logits);
          const labels = engine.putI32(c.labels);
          const grad = engine.allocF32(c.logits.length);
          const loss = engine.kernels.cross_entropy(grad, s, labels, c.rows, c.cols);
          return { loss, grad: engine.readF32(grad, c.logits.length) };
        });
        const what = `cross_entropy ${shape(c.rows, c.cols)}`;
        expectWithin([got.loss], [c.loss], [crossEntropyBound(c.logits, c.labels, c.rows, c.cols)], `${what}: loss`);
        expectWithin(got.grad, c.grad, lossGradBound(c.logits, undefined, c.labels, c.rows, c.cols, 1, 1), `${what}: gradient`);
      });
    }
  });

  describe("kl_div", () => {
    for (const c of FIXTURES.kl_div) {
      const same = c.student.every((v, i) => v === c.teacher[i]);
      it(`kl_div ${shape(c.rows, c.cols)} T=${c.T}${same ? " (teacher = student)" : ""}: T²·KL and gradient`, () => {
        const got = engine.scoped(() => {
          const s = engine.putF32(c.student);
          const t = engine.putF32(c.teacher);
          const grad = engine.allocF32(c.student.length);
          const loss = engine.kernels.kl_div(grad, s, t, c.rows, c.cols, c.T);
          return { loss, grad: engine.readF32(grad, c.student.length) };
        });
        const what = `kl_div ${shape(c.rows, c.cols)} T=${c.T}`;
        expectWithin([got.loss], [c.loss], [klBound(c.student, c.teacher, c.rows, c.cols, c.T)], `${what}: loss`);
        const bound = lossGradBound(c.student, c.teacher, undefined, c.rows, c.cols, c.T, 0);
        expectWithin(got.grad, c.grad, bound, `${what}: gradient`);
      });
    }
  });

  describe("distill_loss", () => {
    for (const c of FIXTURES.distill) {
      it(`distill_loss ${shape(c.rows, c.cols)} T=${c.T} α=${c.alpha}: total, hard, soft and gradient`, () => {
        const got = runDistill(engine, c);
        const what = `distill_loss ${shape(c.rows, c.cols)} T=${c.T} α=${c.alpha}`;
        const hardBound = crossEntropyBound(c.student, c.labels, c.rows, c.cols);
        const softBound = klBound(c.student, c.teacher, c.rows, c.cols, c.T);
        const totalBound = c.alpha * hardBound + (1 - c.alpha) * softBound + BOTH * U * Math.abs(c.loss);
        expectWithin([got.hard], [c.hard], [hardBound], `${what}: hard (out[1])`);
        expectWithin([got.soft], [c.soft], [softBound], `${what}: soft (out[2])`);
        expectWithin([got.total, got.ret], [c.loss, c.loss], [totalBound, totalBound], `${what}: total (out[0], returned)`);
        const bound = lossGradBound(c.student, c.teacher, c.labels, c.rows, c.cols, c.T, c.alpha);
        expectWithin(got.grad, c.grad, bound, `${what}: gradient`);
      });
    }
  });

  describe("mse", () => {
    for (const c of FIXTURES.mse) {
      const n = c.rows * c.cols;
      it(`mse ${shape(c.rows, c.cols)} with scale 1/n: loss and gradient`, () => {
        const got = engine.scoped(() => {
          const p = engine.putF32(c.pred);
          const t = engine.putF32(c.target);
          const grad = engine.allocF32(n);
          const loss = engine.kernels.mse(grad, p, t, n, 1 / n);
          return { loss, grad: engine.readF32(grad, n) };
        });
        const what = `mse ${shape(c.rows, c.cols)}`;
        // A mean of n non-negative squares: (n + 4)·u relative (PyTorch sums in float32).
        expectWithin([got.loss], [c.loss], [BOTH * (n + 4) * U * c.loss], `${what}: loss`);
        // 2·(p − t)/n: the difference, the scale and the product each round once.
        const bound = c.pred.map((p, i) => (BOTH * 4 * U * 2 * (Math.abs(p) + Math.abs(c.target[i]!))) / n);
        expectWithin(got.grad, c.grad, bound, `${what}: gradient`);
      });
    }
  });

  describe("activations", () => {
    for (const c of FIXTURES.activations) {
      it(`${actLabel(c)}: forward y and backward dx`, () => {
        const got = runActivation(engine, c);
        const b = activationBounds(c);
        expectWithin(got.y, c.y, b.y, `${actLabel(c)}: forward`);
        expectWithin(got.dx, c.dx, b.dx, `${actLabel(c)}: backward`);
      });
    }
  });

  describe("linear layer (gemm_nt forward, relu_backward, gemm_nn, gemm_tn, bias_grad)", () => {
    for (const c of FIXTURES.linear) {
      it(`linear ${linearLabel(c)}: y, dx, dweight and dbias`, () => {
        const got = runLinear(engine, c);
        const b = linearBounds(c);
        const what = `linear ${linearLabel(c)}`;
        expectWithin(got.y, c.y, b.y, `${what}: y (gemm_nt + bias${c.relu ? " + relu" : ""})`);
        expectWithin(got.dx, c.dx, b.dx, `${what}: dx (gemm_nn)`);
        expectWithin(got.dweight, c.dweight, b.dweight, `${what}: dweight (gemm_tn)`);
        expectWithin(got.dbias, c.dbias, b.dbias, `${what}: dbias (bias_grad)`);
      });
    }
  });

  describe("sgd_step", () => {
    for (const c of FIXTURES.sgd) {
      const what = `sgd lr=${c.lr} momentum=${c.momentum}${c.nesterov ? " nesterov" : ""} wd=${c.weight_decay}`;
      it(`${what}: parameters after each of ${c.grads.length} steps`, () => {
        engine.scoped(() => {
          const param = engine.putF32(c.param0);
          const velocity = engine.putF32(new Float32Array(c.n));
          const grad = engine.allocF32(c.n);
          const scale = sgdScale(c);
          c.grads.forEach((g, s) => {
            engine.f32(grad, c.n).set(g);
            engine.kernels.sgd_step(param, grad, velocity, c.n, c.lr, c.momentum, c.weight_decay, c.nesterov ? 1 : 0);
            // Each step rounds about six times on values of size `scale`; errors add up over steps.
            const bound = scale.map((m) => BOTH * 6 * (s + 1) * U * m);
            expectWithin(engine.readF32(param, c.n), c.params[s]!, bound, `${what}: step ${s + 1}`);
          });
        });
      });
    }
  });

  describe("adam_step", () => {
    for (const c of FIXTURES.adam) {
      const what = `${c.decoupled ? "adamw" : "adam"} lr=${c.lr} β=(${c.beta1}, ${c.beta2}) eps=${c.eps} wd=${c.weight_decay}`;
      it(`${what}: parameters after each of ${c.grads.length} steps`, () => {
        engine.scoped(() => {
          const param = engine.putF32(c.param0);
          const m = engine.putF32(new Float32Array(c.n));
          const v = engine.putF32(new Float32Array(c.n));
          const grad = engine.allocF32(c.n);
          c.grads.forEach((g, s) => {
            engine.f32(grad, c.n).set(g);
            engine.kernels.adam_step(param, grad, m, v, c.n, c.lr, c.beta1, c.beta2, c.eps, c.weight_decay, s + 1, c.decoupled ? 1 : 0);
            const bound = adamBound(c, s);
            expectWithin(engine.readF32(param, c.n), c.params[s]!, bound, `${what}: step ${s + 1}`);
          });
        });
      });
    }
  });

  describe("clip_grad_norm", () => {
    for (const c of FIXTURES.clip_grad_norm) {
      const sizes = c.grads.map((g) => g.length);
      const clipped = c.total_norm > c.max_norm;
      it(`clip_grad_norm max_norm=${c.max_norm} over buffers of ${sizes.join(", ")}: norm and ${clipped ? "clipped" : "untouched"} gradients`, () => {
        engine.scoped(() => {
          const ptrs = c.grads.map((g) => engine.putF32(g));
          // The list is `count` pairs of u32 (pointer, length).
          const list = engine.putI32(ptrs.flatMap((p, i) => [p, sizes[i]!]));
          const norm = engine.kernels.clip_grad_norm(list, ptrs.length, c.max_norm);
          const total = sizes.reduce((a, b) => a + b, 0);
          // PyTorch sums the squares in float32 (per buffer, then the buffer norms): (total + 4)·u relative.
          expectWithin([norm], [c.total_norm], [BOTH * (total + 4) * U * c.total_norm], `clip_grad_norm ${c.max_norm}: total norm`);
          ptrs.forEach((p, i) => {
            const got = engine.readF32(p, sizes[i]!);
            const what = `clip_grad_norm ${c.max_norm}: buffer ${i}`;
            if (!clipped) {
              expectSameBits(got, Float32Array.from(c.grads[i]!), `${what} (norm ≤ max_norm: must be untouched)`);
            } else {
              // The coefficient max_norm/(norm + 1e-6) inherits the norm's error; one more rounding per element.
              const bound = c.clipped[i]!.map((v) => BOTH * (total + 8) * U * Math.abs(v));
              expectWithin(got, c.clipped[i]!, bound, what);
            }
          });
        });
      });
    }
  });
});

// ---------------------------------------------------------------- bounds for the sections above

/**
 * The terms making up each row-softmax gradient element, divided by T:
 *   softmax:     y_i·(|dy_i| + Σ_k |dy_k|·y_k)/T
 *   log_softmax: (|dy_i| + p_i·Σ_k |dy_k|)/T,  p = e^y
 */
function rowTermScale(c: SoftmaxCase, kind: "softmax" | "log_softmax"): Float64Array {
  const out = new Float64Array(c.rows * c.cols);
  for (let r = 0; r < c.rows; r++) {
    let dotAbs = 0;
    let sumAbs = 0;
    for (let j = 0; j < c.cols; j++) {
      dotAbs += Math.abs(c.dy[r * c.cols + j]!) * c.softmax[r * c.cols + j]!;
      sumAbs += Math.abs(c.dy[r * c.cols + j]!);
    }
    for (let j = 0; j < c.cols; j++) {
      const i = r * c.cols + j;
      const p = c.softmax[i]!;
      const g = Math.abs(c.dy[i]!);
      out[i] = (kind === "softmax" ? p * (g + dotAbs) : g + p * sumAbs) / c.T;
    }
  }
  return out;
}

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_K = 0.044715;

/**
 * Forward and backward bounds for the element-wise activations.
 * relu, leaky_relu: at most one rounding (slope·x, slope·dy).
 * tanh, sigmoid: a few ulp (exp, one division, one subtraction): 8u·|y|; their backward
 *   dy·(1 − y²) and dy·y·(1 − y) from the same y round three times: 4u·|dy|.
 * gelu: ½x·(1 + t), t = tanh(v), v = √(2/π)·(x + 0.044715x³): t is off by 8u plus
 *   (1 − t²)·4u·|v| from rounding v, which ½|x| multiplies; the backward
 *   ½(1 + t) + ½x·(1 − t²)·v′ carries that error of t times (½ + |x|·|v′|), plus rounding.
 */
function activationBounds(c: ActivationCase): { y: Float64Array; dx: Float64Array } {
  const y = new Float64Array(c.n);
  const dx = new Float64Array(c.n);
  for (let i = 0; i < c.n; i++) {
    const x = c.x[i]!;
    const g = Math.abs(c.dy[i]!);
    switch (c.name) {
      case "relu":
      case "leaky_relu":
        y[i] = U * Math.abs(c.y[i]!);
        dx[i] = U * g;
        break;
      case "tanh":
      case "sigmoid":
        y[i] = 8 * U * Math.abs(c.y[i]!);
        dx[i] = 4 * U * g;
        break;
      case "gelu": {
        const v = GELU_C * (x + GELU_K * x ** 3);
        const t = Math.tanh(v);
        const dt = 8 * U + (1 - t * t) * 4 * U * Math.abs(v);
        const dv = GELU_C * (1 + 3 * GELU_K * x * x);
        y[i] = 0.5 * Math.abs(x) * dt + 4 * U * Math.abs(c.y[i]!);
        dx[i] = g * (dt * (0.5 + Math.abs(x) * dv) + 8 * U * (1 + Math.abs(x) * dv * (1 - t * t)));
        break;
      }
    }
    y[i] = BOTH * y[i]!;
    dx[i] = BOTH * dx[i]!;
  }
  return { y, dx };
}

/**
 * Dot-product bounds for the dense layer: a k-term float32 sum is off by at most
 * k·u·Σ|terms| (plus one rounding for the bias); dz is dy masked by the ReLU.
 */
function linearBounds(c: LinearCase) {
  const { batch, in: nIn, out: nOut } = c;
  const dz = c.dy.map((g, i) => (c.relu && !(c.y[i]! > 0) ? 0 : g));
  const y = new Float64Array(batch * nOut);
  const dx = new Float64Array(batch * nIn);
  const dweight = new Float64Array(nOut * nIn);
  const dbias = new Float64Array(nOut);
  for (let r = 0; r < batch; r++) {
    for (let o = 0; o < nOut; o++) {
      const g = Math.abs(dz[r * nOut + o]!);
      let terms = Math.abs(c.bias[o]!);
      for (let i = 0; i < nIn; i++) {
        const xv = Math.abs(c.x[r * nIn + i]!);
        const wv = Math.abs(c.weight[o * nIn + i]!);
        terms += xv * wv;
        dx[r * nIn + i] = dx[r * nIn + i]! + (nOut + 1) * U * g * wv;
        dweight[o * nIn + i] = dweight[o * nIn + i]! + (batch + 1) * U * g * xv;
      }
      y[r * nOut + o] = (nIn + 2) * U * terms;
      dbias[o] = dbias[o]! + (batch + 1) * U * g;
    }
  }
  const both = (a: Float64Array) => a.map((v) => BOTH * v);
  return { y: both(y), dx: both(dx), dweight: both(dweight), dbias: both(dbias) };
}

/**
 * The size of the values an SGD step rounds, per element, over the whole run: the
 * parameter, and lr times the gradient with decay, the velocity (Σ|g|/(1 − μ) at most)
 * and its Nesterov look-ahead.
 */
function sgdScale(c: SgdCase): Float64Array {
  const n = c.n;
  const scale = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let pMax = Math.abs(c.param0[i]!);
    let gSum = 0;
    for (let s = 0; s < c.grads.length; s++) {
      pMax = Math.max(pMax, Math.abs(c.params[s]![i]!));
      gSum += Math.abs(c.grads[s]![i]!) + c.weight_decay * pMax;
    }
    const velocity = c.momentum > 0 ? gSum / (1 - c.momentum) : gSum;
    scale[i] = pMax + c.lr * (gSum + (1 + c.momentum) * velocity);
  }
  return scale;
}

/**
 * Bound after Adam step s (0-based). Each step rounds the parameter (u·|p|) and an update
 * of size lr/(1 − β1^t)·|m|/(√v̂ + eps) about ten times (moments, square root, divisions,
 * bias corrections); errors of m and v carry over to later steps, so the bound grows
 * with the step count. The update size is taken from a float64 replay of the moments.
 */
function adamBound(c: AdamCase, step: number): Float64Array {
  const bound = new Float64Array(c.n);
  for (let i = 0; i < c.n; i++) {
    let m = 0;
    let v = 0;
    let acc = 0;
    for (let s = 0; s <= step; s++) {
      const p = s === 0 ? c.param0[i]! : c.params[s - 1]![i]!;
      const g = c.grads[s]![i]! + (c.decoupled ? 0 : c.weight_decay * p);
      m = c.beta1 * m + (1 - c.beta1) * g;
      v = c.beta2 * v + (1 - c.beta2) * g * g;
      const t = s + 1;
      const update = (c.lr / (1 - c.beta1 ** t)) * (Math.abs(m) / (Math.sqrt(v / (1 - c.beta2 ** t)) + c.eps));
      acc += 2 * U * Math.abs(p) + 10 * U * update;
    }
    bound[i] = BOTH * (step + 1) * acc;
  }
  return bound;
}

// ---------------------------------------------------------------- public API

describe("public API on PyTorch fixture cases (after init())", () => {
  beforeAll(async () => {
    await init();
  });

  const softmaxCases = FIXTURES.softmax.filter((_, i) => [1, 5, 9].includes(i));
  for (const c of softmaxCases) {
    it(`softmax and logSoftmax ${softmaxLabel(c)}`, () => {
      const bound = softmaxBound(c.softmax, c.x, c.cols, c.T).map((b) => BOTH * b);
      expectWithin(softmax(c.x, c.cols, { temperature: c.T }), c.softmax, bound, `softmax ${softmaxLabel(c)}`);
      const lbound = logSoftmaxBound(c.log_softmax, c.x, c.cols, c.T).map((b) => BOTH * b);
      expectWithin(logSoftmax(c.x, c.cols, { temperature: c.T }), c.log_softmax, lbound, `logSoftmax ${softmaxLabel(c)}`);
    });
  }

  for (const c of FIXTURES.cross_entropy.filter((_, i) => [1, 7].includes(i))) {
    it(`crossEntropy ${shape(c.rows, c.cols)}`, () => {
      const got = crossEntropy(c.logits, c.labels, c.cols);
      expectWithin([got.loss], [c.loss], [crossEntropyBound(c.logits, c.labels, c.rows, c.cols)], "crossEntropy: loss");
      const bound = lossGradBound(c.logits, undefined, c.labels, c.rows, c.cols, 1, 1);
      expectWithin(got.grad, c.grad, bound, "crossEntropy: grad");
    });
  }

  for (const c of FIXTURES.kl_div.filter((_, i) => [2, 6].includes(i))) {
    it(`klDivergence ${shape(c.rows, c.cols)} T=${c.T}`, () => {
      const got = klDivergence(c.student, c.teacher, c.cols, { temperature: c.T });
      expectWithin([got.loss], [c.loss], [klBound(c.student, c.teacher, c.rows, c.cols, c.T)], "klDivergence: loss");
      const bound = lossGradBound(c.student, c.teacher, undefined, c.rows, c.cols, c.T, 0);
      expectWithin(got.grad, c.grad, bound, "klDivergence: grad");
    });
  }

  for (const c of FIXTURES.distill.filter((_, i) => [0, 2, 6].includes(i))) {
    it(`distillationLoss ${shape(c.rows, c.cols)} T=${c.T} α=${c.alpha}`, () => {
      const got = distillationLoss(c.student, c.teacher, c.labels, c.cols, { temperature: c.T, alpha: c.alpha });
      const hardBound = crossEntropyBound(c.student, c.labels, c.rows, c.cols);
      const softBound = klBound(c.student, c.teacher, c.rows, c.cols, c.T);
      expectWithin([got.hard], [c.hard], [hardBound], "distillationLoss: hard");
      expectWithin([got.soft], [c.soft], [softBound], "distillationLoss: soft");
      const totalBound = c.alpha * hardBound + (1 - c.alpha) * softBound + BOTH * U * Math.abs(c.loss);
      expectWithin([got.loss], [c.loss], [totalBound], "distillationLoss: loss");
      const bound = lossGradBound(c.student, c.teacher, c.labels, c.rows, c.cols, c.T, c.alpha);
      expectWithin(got.grad, c.grad, bound, "distillationLoss: grad");
    });
  }

  for (const c of FIXTURES.mse.filter((_, i) => [2, 4].includes(i))) {
    it(`mseLoss ${shape(c.rows, c.cols)} (mean reduction)`, () => {
      const n = c.rows * c.cols;
      const got = mseLoss(c.pred, c.target);
      expectWithin([got.loss], [c.loss], [BOTH * (n + 4) * U * c.loss], "mseLoss: loss");
      const bound = c.pred.map((p, i) => (BOTH * 4 * U * 2 * (Math.abs(p) + Math.abs(c.target[i]!))) / n);
      expectWithin(got.grad, c.grad, bound, "mseLoss: grad");
    });
  }
});
