/**
 * The multi-label losses (assembly/bce.ts): bce_logits and the fused distill_bce against
 * their `_ref` twins bit for bit (widths below, at and above the four SIMD lanes, odd widths
 * so that rows start unaligned, unaligned base pointers), against float64, against central
 * finite differences, and against PyTorch (test/fixtures/make_bce_fixtures.py).
 */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../../src/index.js";
import { MISSING_LABEL } from "../../src/index.js";
import { EXACT_BUILDS, loadBuild, type TestEngine } from "../helpers/engines.js";
import { expectClose, expectNear, expectSameBits } from "../helpers/compare.js";
import { bceWithLogits64, multiLabel64 } from "../helpers/reference.js";
import { numericGradient } from "../helpers/gradcheck.js";
import { TestRandom } from "../helpers/rand.js";

const COLS = [1, 3, 4, 5, 7, 8, 17, 64, 129, 257];
const ROWS = [1, 3, 5];

interface Case {
  s: Float32Array;
  t: Float32Array;
  y: Float32Array;
  /** (rows) 0 or MISSING_LABEL */
  labels: Int32Array;
  rows: number;
  cols: number;
}

function makeCase(rows: number, cols: number, seed: number, std = 3, missingEvery = 0): Case {
  const rnd = new TestRandom(seed);
  const y = Float32Array.from(rnd.uniform(rows * cols, 0, 1), (u) => (u < 0.4 ? 1 : 0));
  const labels = Int32Array.from({ length: rows }, (_, r) => (missingEvery > 0 && r % missingEvery === 1 ? MISSING_LABEL : 0));
  return { s: rnd.normal(rows * cols, std), t: rnd.normal(rows * cols, std), y, labels, rows, cols };
}

interface Out {
  loss: number;
  hard: number;
  soft: number;
  grad: Float32Array;
}

/**
 * Runs bce_logits (alpha undefined) or distill_bce, SIMD or `_ref`, with every input placed
 * `shift` bytes past a 16-byte boundary (0, 4, 8 or 12).
 */
function run(engine: TestEngine, c: Case, ref: boolean, temp?: number, alpha?: number, shift = 0, withLabels = true): Out {
  return engine.scoped(() => {
    const k = engine.kernels;
    const n = c.rows * c.cols;
    const put = (v: Float32Array) => {
      const p = engine.alloc(v.length * 4 + 16) + shift;
      engine.f32(p, v.length).set(v);
      return p;
    };
    const sp = put(c.s);
    const tp = put(c.t);
    const yp = put(c.y);
    const gp = put(new Float32Array(n).fill(Number.NaN)); // overwritten, never read
    const lp = withLabels ? engine.putI32(c.labels) : 0;
    const out = engine.alloc(24);
    const loss =
      alpha === undefined
        ? (ref ? k.bce_logits_ref : k.bce_logits)(gp, sp, yp, lp, c.rows, c.cols)
        : (ref ? k.distill_bce_ref : k.distill_bce)(out, gp, sp, tp, yp, lp, c.rows, c.cols, temp!, alpha);
    const [, hard, soft] = engine.f64(out, 3);
    return { loss, hard: hard!, soft: soft!, grad: engine.readF32(gp, n) };
  });
}

interface Fixture {
  rows: number;
  cols: number;
  temperature: number;
  alpha: number;
  s: number[];
  t: number[];
  y: number[];
  missing: number[];
  hard: number;
  soft: number;
  total: number;
  mean_bce: number;
  grad: number[];
  grad_hard: number[];
}

const FIXTURES = (JSON.parse(readFileSync(new URL("../fixtures/bce-fixtures.json", import.meta.url), "utf8")) as { cases: Fixture[] }).cases;

describe.each(EXACT_BUILDS)("multi-label losses, %s build", (build) => {
  let engine: TestEngine;
  beforeAll(async () => {
    engine = await loadBuild(build);
  });

  it("bce_logits and distill_bce: SIMD equals reference bit for bit (widths 1 … 257, unaligned, rows without labels)", () => {
    let seed = 1;
    for (const rows of ROWS) {
      for (const cols of COLS) {
        for (const shift of [0, 4, 12]) {
          const c = makeCase(rows, cols, seed++, 3, 2);
          for (const [temp, alpha] of [
            [undefined, undefined],
            [1, 0.5],
            [4, 0.1],
            [0.5, 0],
            [3, 1],
          ] as const) {
            const fast = run(engine, c, false, temp, alpha, shift);
            const ref = run(engine, c, true, temp, alpha, shift);
            const at = `rows=${rows} cols=${cols} shift=${shift} T=${temp} α=${alpha}`;
            expect(fast.loss, `${at}: loss`).toBe(ref.loss);
            expect([fast.hard, fast.soft], `${at}: parts`).toEqual([ref.hard, ref.soft]);
            expectSameBits(fast.grad, ref.grad, `${at}: grad`);
          }
        }
      }
    }
  });

  it("agrees with float64 (value, parts and gradient) for T from 0.5 to 20", () => {
    let seed = 100;
    for (const cols of COLS) {
      for (const [temp, alpha] of [
        [1, 1],
        [1, 0.5],
        [2, 0.3],
        [4, 0.1],
        [20, 0],
        [0.5, 0.7],
      ] as const) {
        const c = makeCase(5, cols, seed++, 3, 3);
        const got = run(engine, c, false, temp, alpha);
        const want = multiLabel64(
          c.s,
          c.t,
          c.y,
          Array.from(c.labels, (l) => l === MISSING_LABEL),
          5,
          cols,
          temp,
          alpha,
        );
        const at = `cols=${cols} T=${temp} α=${alpha}`;
        expectNear(got.hard, want.hard, { rtol: 1e-5, atol: 1e-6 }, `hard ${at}`);
        expectNear(got.soft, want.soft, { rtol: 1e-5, atol: 1e-6 * temp * temp }, `soft ${at}`);
        expectNear(got.loss, want.loss, { rtol: 1e-5, atol: 1e-6 * temp * temp }, `total ${at}`);
        expectClose(got.grad, want.grad, { rtol: 1e-5, atol: (1e-6 * temp) / (5 * cols) }, `grad ${at}`);
      }
    }
  });

  it("bce_logits is PyTorch's BCEWithLogitsLoss(mean) without a label pointer; a MISSING_LABEL row adds nothing", () => {
    const c = makeCase(4, 6, 7);
    const all = run(engine, c, false, undefined, undefined, 0, false);
    const want = multiLabel64(c.s, c.t, c.y, [0, 0, 0, 0], 4, 6, 1, 1);
    expectNear(all.loss, want.hard, { rtol: 1e-6, atol: 1e-7 }, "mean BCE");
    const flagged = run(engine, { ...c, labels: Int32Array.of(0, MISSING_LABEL, 0, 0) }, false);
    expect(flagged.grad.subarray(6, 12).every((g) => g === 0)).toBe(true);
    const without = multiLabel64(c.s, c.t, c.y, [0, 1, 0, 0], 4, 6, 1, 1);
    expectNear(flagged.loss, without.hard, { rtol: 1e-6, atol: 1e-7 }, "mean BCE without row 1");
  });

  it("one logit: the hand-computed binary cross-entropy", () => {
    // z = 2, y = 1: log(1 + e^−2); z = −3, y = 1: 3 + log(1 + e^−3); z = 0: log 2.
    for (const [z, y] of [
      [2, 1],
      [-3, 1],
      [0, 0],
      [5, 0],
    ] as const) {
      const got = run(engine, { s: Float32Array.of(z), t: Float32Array.of(0), y: Float32Array.of(y), labels: Int32Array.of(0), rows: 1, cols: 1 }, false);
      const byHand = Math.max(z, 0) - z * y + Math.log(1 + Math.exp(-Math.abs(z)));
      expectNear(got.loss, byHand, { rtol: 2e-7, atol: 0 }, `z=${z} y=${y}`);
      // σ(z) is within two float32 ulps (≤ 1.2e-7 near 1) before y is subtracted.
      expectNear(got.grad[0]!, 1 / (1 + Math.exp(-z)) - y, { rtol: 2e-7, atol: 1.2e-7 }, `grad z=${z} y=${y}`);
    }
  });

  it("α = 1 gives exactly bce_logits; α = 0 leaves the labels out", () => {
    let seed = 200;
    for (const cols of COLS) {
      const c = makeCase(3, cols, seed++, 3, 2);
      const plain = run(engine, c, false);
      const hardOnly = run(engine, c, false, 2.5, 1);
      expect(hardOnly.loss, `α=1 cols=${cols}`).toBe(plain.loss);
      expectSameBits(hardOnly.grad, plain.grad, `α=1 grad cols=${cols}`);
      const softOnly = run(engine, c, false, 2.5, 0);
      const otherLabels = run(engine, { ...c, y: c.y.map((v) => 1 - v) }, false, 2.5, 0);
      expect(softOnly.loss, `α=0 cols=${cols}`).toBe(otherLabels.loss);
      expectSameBits(softOnly.grad, otherLabels.grad, `α=0 grad cols=${cols}`);
    }
  });

  it("is stable: logits of ±1e4 give finite losses that match float64, at T = 0.05 … 100", () => {
    const rnd = new TestRandom(9);
    const c: Case = {
      s: rnd.uniform(40, -1e4, 1e4),
      t: rnd.uniform(40, -1e4, 1e4),
      y: Float32Array.from(rnd.uniform(40, 0, 1), (u) => (u < 0.5 ? 1 : 0)),
      labels: new Int32Array(4),
      rows: 4,
      cols: 10,
    };
    for (const t of [0.05, 1, 100]) {
      const got = run(engine, c, false, t, 0.5);
      expect(Number.isFinite(got.loss) && got.grad.every(Number.isFinite), `T=${t}`).toBe(true);
      const want = multiLabel64(c.s, c.t, c.y, [0, 0, 0, 0], 4, 10, t, 0.5);
      expectNear(got.loss, want.loss, { rtol: 1e-5, atol: 1e-3 }, `loss T=${t}`);
      expectClose(got.grad, want.grad, { rtol: 1e-4, atol: 1e-7 }, `grad T=${t}`);
    }
  });

  it("gradients match central finite differences of the float64 loss (SIMD and _ref)", () => {
    for (const [cols, temp, alpha, seed] of [
      [3, 1, 0.5, 11],
      [5, 4, 0.2, 22],
      [9, 0.5, 0.8, 33],
    ] as const) {
      const c = makeCase(3, cols, seed, 2, 2);
      const missing = Array.from(c.labels, (l) => l === MISSING_LABEL);
      const loss = (s: Float64Array) => {
        const n = 3 * cols;
        let hard = 0;
        let soft = 0;
        for (let i = 0; i < n; i++) {
          if (!missing[Math.floor(i / cols)]) hard += bceWithLogits64(s[i]!, c.y[i]!);
          const q = 1 / (1 + Math.exp(-c.t[i]! / temp));
          soft += bceWithLogits64(s[i]! / temp, q);
        }
        return (alpha * hard) / n + ((1 - alpha) * temp * temp * soft) / n;
      };
      const fd = numericGradient(loss, c.s);
      for (const ref of [false, true]) {
        const got = run(engine, c, ref, temp, alpha);
        // Each element is (σ − y)/n-sized: float32 rounding of a few operations on values ≤ T/n.
        expectClose(got.grad, fd, { rtol: 1e-5, atol: (4e-7 * Math.max(1, temp)) / (3 * cols) + 1e-9 }, `fd cols=${cols} T=${temp} ref=${ref}`);
      }
    }
  });

  it("matches PyTorch: F.binary_cross_entropy_with_logits and autograd of the soft term", () => {
    for (const [i, f] of FIXTURES.entries()) {
      const c: Case = {
        s: Float32Array.from(f.s),
        t: Float32Array.from(f.t),
        y: Float32Array.from(f.y),
        labels: Int32Array.from(f.missing, (m) => (m ? MISSING_LABEL : 0)),
        rows: f.rows,
        cols: f.cols,
      };
      const at = `case ${i} (${f.rows}×${f.cols}, T=${f.temperature}, α=${f.alpha})`;
      for (const ref of [false, true]) {
        const got = run(engine, c, ref, f.temperature, f.alpha);
        const scale = f.temperature * f.temperature;
        expectNear(got.hard, f.hard, { rtol: 1e-5, atol: 1e-6 }, `hard ${at}`);
        expectNear(got.soft, f.soft, { rtol: 1e-5, atol: 1e-6 * scale }, `soft ${at}`);
        expectNear(got.loss, f.total, { rtol: 1e-5, atol: 1e-6 * scale }, `total ${at}`);
        expectClose(got.grad, f.grad, { rtol: 1e-5, atol: (1e-6 * f.temperature) / (f.rows * f.cols) }, `grad ${at}`);
        const mean = run(engine, c, ref, undefined, undefined, 0, false);
        expectNear(mean.loss, f.mean_bce, { rtol: 1e-5, atol: 1e-6 }, `BCEWithLogitsLoss ${at}`);
        expectClose(mean.grad, f.grad_hard, { rtol: 1e-5, atol: 1e-7 / (f.rows * f.cols) }, `BCE grad ${at}`);
      }
    }
  });
});
