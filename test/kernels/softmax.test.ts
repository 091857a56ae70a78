/**
 * Row-wise softmax / log-softmax with temperature: SIMD vs `_ref` bit for bit across
 * column counts around the 4-lane width, float64 agreement, rows summing to 1, and
 * stability for logits of ±1e4 at T from 0.05 to 100.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../../src/index.js";
import { EXACT_BUILDS, loadBuild, type TestEngine } from "../helpers/engines.js";
import { expectClose, expectSameBits } from "../helpers/compare.js";
import { logSoftmax64, softmax64 } from "../helpers/reference.js";
import { TestRandom } from "../helpers/rand.js";

const COLS = [1, 3, 4, 5, 7, 8, 17, 64, 129, 257];
const ROWS = [1, 3, 7];
const TEMPERATURES = [0.05, 1, 4, 100];
const U = 2 ** -24;

type Forward = "softmax_forward" | "log_softmax_forward";
type Backward = "softmax_backward" | "log_softmax_backward";

function forward(engine: TestEngine, kernel: Forward | `${Forward}_ref`, x: Float32Array, rows: number, cols: number, t: number) {
  return engine.scoped(() => {
    const xp = engine.putF32(x);
    const yp = engine.allocF32(x.length);
    engine.kernels[kernel](yp, xp, rows, cols, t);
    return engine.readF32(yp, x.length);
  });
}

function backward(engine: TestEngine, kernel: Backward | `${Backward}_ref`, dy: Float32Array, y: Float32Array, rows: number, cols: number, t: number) {
  return engine.scoped(() => {
    const dyp = engine.putF32(dy);
    const yp = engine.putF32(y);
    const dxp = engine.allocF32(y.length);
    engine.kernels[kernel](dxp, dyp, yp, rows, cols, t);
    return engine.readF32(dxp, y.length);
  });
}

describe.each(EXACT_BUILDS)("softmax and log_softmax, %s build", (build) => {
  let engine: TestEngine;
  beforeAll(async () => {
    engine = await loadBuild(build);
  });

  it("forward and backward: SIMD equals reference bit for bit for every shape and temperature", () => {
    let seed = 1;
    for (const rows of ROWS) {
      for (const cols of COLS) {
        for (const t of TEMPERATURES) {
          const rnd = new TestRandom(seed++);
          const x = rnd.normal(rows * cols, 5);
          const dy = rnd.normal(rows * cols);
          const at = `rows=${rows} cols=${cols} T=${t}`;
          for (const [f, b] of [
            ["softmax_forward", "softmax_backward"],
            ["log_softmax_forward", "log_softmax_backward"],
          ] as const) {
            const y = forward(engine, f, x, rows, cols, t);
            expectSameBits(y, forward(engine, `${f}_ref`, x, rows, cols, t), `${f} ${at}`);
            expectSameBits(backward(engine, b, dy, y, rows, cols, t), backward(engine, `${b}_ref`, dy, y, rows, cols, t), `${b} ${at}`);
          }
        }
      }
    }
  });

  it("softmax agrees with float64 to a few ulp, and rows sum to 1", () => {
    let seed = 50;
    for (const cols of COLS) {
      for (const t of TEMPERATURES) {
        const rows = 3;
        const x = new TestRandom(seed++).normal(rows * cols, 5);
        const y = forward(engine, "softmax_forward", x, rows, cols, t);
        const want = softmax64(x, rows, cols, t);
        // Each probability: the rounding of x/T − m is amplified by exp into a relative
        // error of (|x/T| + |m|)·u; then a 2-ulp exp, a cols-term sum and a division.
        const scale = Array.from(want, (p, i) => {
          const r = Math.floor(i / cols);
          const m = Math.max(...Array.from(x.subarray(r * cols, (r + 1) * cols), Math.abs)) / t;
          return p * (cols + 6 + 2 * (Math.abs(x[i]! / t) + m));
        });
        expectClose(y, want, { rtol: U, atol: 1e-44 }, `softmax cols=${cols} T=${t}`, scale);
        for (let r = 0; r < rows; r++) {
          let sum = 0;
          for (let j = 0; j < cols; j++) sum += y[r * cols + j]!;
          expect(Math.abs(sum - 1), `row ${r} sum, cols=${cols} T=${t}`).toBeLessThanOrEqual((2 * cols + 6) * U);
        }
      }
    }
  });

  it("log_softmax agrees with float64 (error relative to the magnitudes involved)", () => {
    let seed = 80;
    for (const cols of COLS) {
      for (const t of TEMPERATURES) {
        const rows = 3;
        const x = new TestRandom(seed++).normal(rows * cols, 5);
        const want = logSoftmax64(x, rows, cols, t);
        const got = forward(engine, "log_softmax_forward", x, rows, cols, t);
        // (x/T − m) − lse: each step rounds relative to |x/T| + |m| + |lse|; the log of a
        // cols-term sum adds (cols + 2)·u absolute.
        const scale = Array.from(x, (v, i) => Math.abs(v / t) + Math.abs(want[i]!) + 1);
        expectClose(got, want, { rtol: (cols + 8) * U, atol: 0 }, `log_softmax cols=${cols} T=${t}`, scale);
      }
    }
  });

  it("uniform logits give exactly 1/cols", () => {
    for (const cols of COLS) {
      const y = forward(engine, "softmax_forward", new Float32Array(2 * cols).fill(3.25), 2, cols, 0.7);
      expect(
        y.every((p) => p === Math.fround(1 / cols)),
        `cols=${cols}`,
      ).toBe(true);
    }
  });

  it("is stable for logits of ±1e4 at T = 0.05 and T = 100: no NaN, no Inf, correct limits", () => {
    const cols = 10;
    const x = new TestRandom(3).uniform(4 * cols, -1e4, 1e4);
    x[7] = 1e4; // a clear winner in row 0
    for (const t of [0.05, 100]) {
      const p = forward(engine, "softmax_forward", x, 4, cols, t);
      const lp = forward(engine, "log_softmax_forward", x, 4, cols, t);
      expect(p.every(Number.isFinite) && lp.every(Number.isFinite), `T=${t}`).toBe(true);
      expectClose(p, softmax64(x, 4, cols, t), { rtol: 1e-5, atol: 1e-30 }, `softmax ±1e4 T=${t}`);
      expectClose(lp, logSoftmax64(x, 4, cols, t), { rtol: 1e-6, atol: 1e-6 }, `log_softmax ±1e4 T=${t}`);
    }
    const sharp = forward(engine, "softmax_forward", x, 4, cols, 0.05);
    expect(sharp[7]).toBe(1); // row 0 is one-hot at T = 0.05
    expect(sharp.subarray(0, cols).filter((v) => v === 0).length).toBe(cols - 1);
  });

  it("backward kernels are consistent with their closed forms in float64", () => {
    const rows = 3;
    for (const cols of [1, 5, 8, 17]) {
      for (const t of [0.5, 1, 4]) {
        const rnd = new TestRandom(cols * 10 + t);
        const x = rnd.normal(rows * cols, 2);
        const dy = rnd.normal(rows * cols);
        const p = softmax64(x, rows, cols, t);
        const y = forward(engine, "softmax_forward", x, rows, cols, t);
        const ly = forward(engine, "log_softmax_forward", x, rows, cols, t);
        const want = new Float64Array(rows * cols);
        const wantLog = new Float64Array(rows * cols);
        for (let r = 0; r < rows; r++) {
          let dot = 0;
          let sum = 0;
          for (let j = 0; j < cols; j++) {
            dot += dy[r * cols + j]! * p[r * cols + j]!;
            sum += dy[r * cols + j]!;
          }
          for (let j = 0; j < cols; j++) {
            const i = r * cols + j;
            want[i] = (p[i]! * (dy[i]! - dot)) / t;
            wantLog[i] = (dy[i]! - p[i]! * sum) / t;
          }
        }
        const tol = { rtol: 1e-5, atol: 1e-6 / t };
        expectClose(backward(engine, "softmax_backward", dy, y, rows, cols, t), want, tol, `softmax_backward cols=${cols} T=${t}`);
        expectClose(backward(engine, "log_softmax_backward", dy, ly, rows, cols, t), wantLog, tol, `log_softmax_backward cols=${cols} T=${t}`);
      }
    }
  });
});
