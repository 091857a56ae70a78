/**
 * Losses (cross-entropy, T²-scaled KL, the fused distillation loss, MSE): SIMD vs `_ref`
 * bit for bit, float64 agreement for values and gradients, and the properties the
 * distillation literature relies on.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../../src/index.js";
import { EXACT_BUILDS, loadBuild, type TestEngine } from "../helpers/engines.js";
import { expectClose, expectNear, expectSameBits } from "../helpers/compare.js";
import { crossEntropy64, distill64, kl64 } from "../helpers/reference.js";
import { TestRandom } from "../helpers/rand.js";

const COLS = [1, 3, 4, 5, 7, 8, 17, 64, 129, 257];
const ROWS = [1, 3, 5, 17];

interface Batch {
  s: Float32Array;
  t: Float32Array;
  labels: Int32Array;
  rows: number;
  cols: number;
}

function batch(rows: number, cols: number, seed: number, std = 3): Batch {
  const rnd = new TestRandom(seed);
  return { s: rnd.normal(rows * cols, std), t: rnd.normal(rows * cols, std), labels: rnd.ints(rows, cols), rows, cols };
}

interface LossOut {
  loss: number;
  hard: number;
  soft: number;
  grad: Float32Array;
}

type Which = "cross_entropy" | "kl_div" | "distill_loss";

/** Runs one loss kernel (or its `_ref` twin) and returns loss, parts and gradient. */
function runLoss(engine: TestEngine, which: Which, ref: boolean, b: Batch, t = 1, alpha = 0.5): LossOut {
  return engine.scoped(() => {
    const k = engine.kernels;
    const sp = engine.putF32(b.s);
    const tp = engine.putF32(b.t);
    const lp = engine.putI32(b.labels);
    const gp = engine.allocF32(b.s.length);
    const out = engine.alloc(24);
    let loss: number;
    if (which === "cross_entropy") loss = (ref ? k.cross_entropy_ref : k.cross_entropy)(gp, sp, lp, b.rows, b.cols);
    else if (which === "kl_div") loss = (ref ? k.kl_div_ref : k.kl_div)(gp, sp, tp, b.rows, b.cols, t);
    else loss = (ref ? k.distill_loss_ref : k.distill_loss)(out, gp, sp, tp, lp, b.rows, b.cols, t, alpha, 0);
    const [, hard, soft] = engine.f64(out, 3);
    return { loss, hard: hard!, soft: soft!, grad: engine.readF32(gp, b.s.length) };
  });
}

function runMse(engine: TestEngine, ref: boolean, p: Float32Array, q: Float32Array, scale: number) {
  return engine.scoped(() => {
    const pp = engine.putF32(p);
    const qp = engine.putF32(q);
    const gp = engine.allocF32(p.length);
    const loss = (ref ? engine.kernels.mse_ref : engine.kernels.mse)(gp, pp, qp, p.length, scale);
    return { loss, grad: engine.readF32(gp, p.length) };
  });
}

describe.each(EXACT_BUILDS)("losses, %s build", (build) => {
  let engine: TestEngine;
  beforeAll(async () => {
    engine = await loadBuild(build);
  });

  it("cross_entropy, kl_div and distill_loss: SIMD equals reference bit for bit", () => {
    let seed = 1;
    for (const rows of ROWS) {
      for (const cols of COLS) {
        const b = batch(rows, cols, seed++);
        for (const [which, t, alpha] of [
          ["cross_entropy", 1, 1],
          ["kl_div", 4, 0],
          ["distill_loss", 3, 0.3],
        ] as const) {
          const fast = runLoss(engine, which, false, b, t, alpha);
          const ref = runLoss(engine, which, true, b, t, alpha);
          const at = `${which} rows=${rows} cols=${cols}`;
          expect(fast.loss, `${at}: loss`).toBe(ref.loss);
          expect([fast.hard, fast.soft], `${at}: parts`).toEqual([ref.hard, ref.soft]);
          expectSameBits(fast.grad, ref.grad, `${at}: grad`);
        }
      }
    }
  });

  it("cross_entropy agrees with float64 (value and gradient)", () => {
    let seed = 100;
    for (const rows of ROWS) {
      for (const cols of COLS) {
        const b = batch(rows, cols, seed++);
        const got = runLoss(engine, "cross_entropy", false, b);
        const want = crossEntropy64(b.s, b.labels, rows, cols);
        expectNear(got.loss, want.loss, { rtol: 1e-6, atol: 1e-6 }, `CE loss rows=${rows} cols=${cols}`);
        expectClose(got.grad, want.grad, { rtol: 1e-5, atol: 1e-7 / rows }, `CE grad rows=${rows} cols=${cols}`);
      }
    }
  });

  it("kl_div (T²-scaled) agrees with float64 for T from 0.5 to 20", () => {
    let seed = 200;
    for (const cols of COLS) {
      for (const t of [0.5, 1, 2, 4, 8, 20]) {
        const b = batch(5, cols, seed++);
        const got = runLoss(engine, "kl_div", false, b, t);
        const want = kl64(b.s, b.t, 5, cols, t);
        // The loss is a sum of terms p_t·(log p_t − log p_s) of both signs: its error is
        // relative to the size of the logs involved (|x|/T ≈ 3σ/T) times T².
        const atol = 4e-6 * t * t * (1 + 10 / t) * Math.log2(cols + 1);
        expectNear(got.loss, want.loss, { rtol: 1e-5, atol }, `KL loss cols=${cols} T=${t}`);
        expectClose(got.grad, want.grad, { rtol: 1e-5, atol: (1e-6 * t) / 5 }, `KL grad cols=${cols} T=${t}`);
      }
    }
  });

  it("distill_loss agrees with float64 and returns its two parts", () => {
    let seed = 300;
    for (const cols of [3, 10, 17]) {
      for (const t of [1, 4, 10]) {
        for (const alpha of [0, 0.1, 0.5, 0.9, 1]) {
          const b = batch(7, cols, seed++);
          const got = runLoss(engine, "distill_loss", false, b, t, alpha);
          const want = distill64(b.s, b.t, b.labels, 7, cols, t, alpha);
          const at = `cols=${cols} T=${t} α=${alpha}`;
          const atol = 1e-5 * t * t;
          expectNear(got.hard, want.hard, { rtol: 1e-6, atol: 1e-6 }, `hard ${at}`);
          expectNear(got.soft, want.soft, { rtol: 1e-5, atol }, `soft ${at}`);
          expectNear(got.loss, want.loss, { rtol: 1e-5, atol }, `total ${at}`);
          expectClose(got.grad, want.grad, { rtol: 1e-5, atol: 1e-6 }, `grad ${at}`);
        }
      }
    }
  });

  it("KL ≥ 0 always, and exactly 0 (with a zero gradient) for identical logits", () => {
    let seed = 400;
    for (const cols of COLS) {
      for (const t of [0.5, 1, 4, 20]) {
        const b = batch(3, cols, seed++);
        expect(runLoss(engine, "kl_div", false, b, t).loss, `cols=${cols} T=${t}`).toBeGreaterThanOrEqual(0);
        const same = runLoss(engine, "kl_div", false, { ...b, t: b.s }, t);
        expect(same.loss, `identical, cols=${cols} T=${t}`).toBe(0);
        expect(
          same.grad.every((g) => g === 0),
          `identical grad, cols=${cols} T=${t}`,
        ).toBe(true);
      }
    }
  });

  it("the fused loss at α = 1 is exactly cross-entropy, and at α = 0 exactly T²·KL", () => {
    let seed = 500;
    for (const cols of COLS) {
      const b = batch(5, cols, seed++);
      const t = 3.5;
      const ce = runLoss(engine, "cross_entropy", false, b);
      const kl = runLoss(engine, "kl_div", false, b, t);
      const hardOnly = runLoss(engine, "distill_loss", false, b, t, 1);
      const softOnly = runLoss(engine, "distill_loss", false, b, t, 0);
      expect(hardOnly.loss, `α=1 loss cols=${cols}`).toBe(ce.loss);
      expectSameBits(hardOnly.grad, ce.grad, `α=1 grad cols=${cols}`);
      expect(softOnly.loss, `α=0 loss cols=${cols}`).toBe(kl.loss);
      // 0·g_hard + g_soft may turn −0 into +0; every value is equal.
      expect(
        Array.from(softOnly.grad).every((g, i) => g === kl.grad[i]),
        `α=0 grad cols=${cols}`,
      ).toBe(true);
    }
  });

  it("the total is α·hard + (1 − α)·soft of its returned parts", () => {
    const b = batch(9, 10, 600);
    for (const alpha of [0.1, 0.25, 0.9]) {
      const r = runLoss(engine, "distill_loss", false, b, 4, alpha);
      expect(r.loss).toBe(Math.fround(alpha) * r.hard + Math.fround(1 - Math.fround(alpha)) * r.soft);
    }
  });

  it("is finite for logits of ±1e4 at T = 0.05 and T = 100", () => {
    const rnd = new TestRandom(9);
    const b: Batch = { s: rnd.uniform(40, -1e4, 1e4), t: rnd.uniform(40, -1e4, 1e4), labels: rnd.ints(4, 10), rows: 4, cols: 10 };
    for (const t of [0.05, 1, 100]) {
      for (const which of ["cross_entropy", "kl_div", "distill_loss"] as const) {
        const r = runLoss(engine, which, false, b, t, 0.5);
        expect(Number.isFinite(r.loss) && r.grad.every(Number.isFinite), `${which} T=${t}`).toBe(true);
      }
      const want = distill64(b.s, b.t, b.labels, 4, 10, t, 0.5);
      const got = runLoss(engine, "distill_loss", false, b, t, 0.5);
      expectNear(got.loss, want.loss, { rtol: 1e-5, atol: 1e-3 }, `distill ±1e4 T=${t}`);
      expectClose(got.grad, want.grad, { rtol: 1e-4, atol: 1e-6 }, `distill grad ±1e4 T=${t}`);
    }
  });

  it("one class: cross-entropy is 0 with a zero gradient", () => {
    const r = runLoss(engine, "cross_entropy", false, { ...batch(4, 1, 7), labels: new Int32Array(4) });
    expect(r.loss).toBe(0);
    expect(r.grad.every((g) => g === 0)).toBe(true);
  });

  it("mse: SIMD equals reference bit for bit and agrees with float64", () => {
    let seed = 700;
    for (const n of COLS) {
      const rnd = new TestRandom(seed++);
      const p = rnd.normal(n, 2);
      const q = rnd.normal(n, 2);
      for (const scale of [1 / n, 1, 0.125]) {
        const fast = runMse(engine, false, p, q, scale);
        const ref = runMse(engine, true, p, q, scale);
        expect(fast.loss, `n=${n}`).toBe(ref.loss);
        expectSameBits(fast.grad, ref.grad, `mse grad n=${n}`);
        let want = 0;
        for (let i = 0; i < n; i++) want += (p[i]! - q[i]!) ** 2;
        expectNear(fast.loss, scale * want, { rtol: 1e-6, atol: 0 }, `mse loss n=${n}`);
        const wantGrad = Array.from(p, (v, i) => 2 * scale * (v - q[i]!));
        expectClose(fast.grad, wantGrad, { rtol: 2 ** -22, atol: 0 }, `mse grad n=${n}`);
      }
    }
  });
});
