/**
 * Reductions (assembly/reduce.ts): bias gradient (column sums), argmax / accuracy count,
 * sum of squares, in-place scaling and clipping by global L2 norm.
 *
 * Where a kernel documents its summation order, a TypeScript transcription of that
 * order (f32 or f64 as documented) must match it bit for bit; independently, results must
 * agree with exact (float64) sums within the worst-case rounding of that order. Inputs
 * are followed by NaN padding so that any read past the end would show, and outputs by a
 * sentinel so that any write past the end would.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../../src/index.js";
import { EXACT_BUILDS, loadBuild, type TestEngine } from "../helpers/engines.js";
import { expectClose, expectSameBits } from "../helpers/compare.js";
import { TestRandom } from "../helpers/rand.js";
import { kernelBuffers, VECTOR_SIZES } from "../helpers/kernel-buffers.js";

const SIZES = VECTOR_SIZES;
const ROWS = [1, 2, 3, 8, 17, 64];
const U = 2 ** -24;
const f32 = Math.fround;

// ---------------------------------------------------------------- memory helpers

/** Values of widely different magnitudes (2^−10 .. 2^10), so rounding actually happens. */
function spread(rnd: TestRandom, n: number): Float32Array {
  return Float32Array.from(rnd.uniform(n), (x) => f32(x * 2 ** Math.floor(rnd.next() * 21 - 10)));
}

// ---------------------------------------------------------------- TypeScript references

/** Column sums in f32, rows in order (the documented order), optionally onto db0. */
function biasGradInOrder(dy: Float32Array, rows: number, cols: number, db0?: Float32Array): Float32Array {
  const db = new Float32Array(cols);
  for (let j = 0; j < cols; j++) {
    let acc = db0 ? db0[j]! : 0;
    for (let r = 0; r < rows; r++) acc = f32(acc + dy[r * cols + j]!);
    db[j] = acc;
  }
  return db;
}

/** Exact-ish column sums in f64 and Σ|terms| per column (the scale of the rounding error). */
function biasGrad64(dy: Float32Array, rows: number, cols: number, db0?: Float32Array) {
  const sum = new Float64Array(cols);
  const scale = new Float64Array(cols);
  for (let j = 0; j < cols; j++) {
    sum[j] = db0 ? db0[j]! : 0;
    scale[j] = Math.abs(sum[j]!);
    for (let r = 0; r < rows; r++) {
      sum[j] = sum[j]! + dy[r * cols + j]!;
      scale[j] = scale[j]! + Math.abs(dy[r * cols + j]!);
    }
  }
  return { sum, scale };
}

/** First index of the largest non-NaN entry of each row; 0 when a row is all NaN. */
function argmaxReference(x: Float32Array, rows: number, cols: number): Int32Array {
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = -1;
    for (let j = 0; j < cols; j++) {
      const v = x[r * cols + j]!;
      if (!Number.isNaN(v) && (best < 0 || v > x[r * cols + best]!)) best = j;
    }
    out[r] = Math.max(best, 0);
  }
  return out;
}

/** The documented order: f32 squares into four f64 lanes (i mod 4), (l0 + l1) + (l2 + l3), then the tail. */
function sumSquaresInOrder(x: Float32Array): number {
  const full = x.length & ~3;
  const lanes = new Float64Array(4);
  for (let i = 0; i < full; i++) lanes[i % 4] = lanes[i % 4]! + f32(x[i]! * x[i]!);
  let sum = lanes[0]! + lanes[1]! + (lanes[2]! + lanes[3]!);
  for (let i = full; i < x.length; i++) sum += f32(x[i]! * x[i]!);
  return sum;
}

function sumSquares64(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!; // exact products: an f32 squared fits in f64
  return s;
}

/** Squares rounded to f32 (relative u each) and n − 1 f64 additions: the relative error bound. */
function sumSquaresRtol(n: number): number {
  return U + (n + 1) * 2 ** -53;
}

// ---------------------------------------------------------------- tests

describe.each(EXACT_BUILDS)("reductions, %s build", (build) => {
  let engine: TestEngine;
  beforeAll(async () => {
    engine = await loadBuild(build);
  });

  describe("bias_grad", () => {
    function check(rows: number, cols: number, accumulate: boolean, seed: number): void {
      const rnd = new TestRandom(seed);
      const dy = spread(rnd, rows * cols);
      const db0 = accumulate ? rnd.uniform(cols) : undefined;
      const what = `bias_grad rows=${rows} cols=${cols}${accumulate ? " accumulate" : ""}`;
      const run = (reference: boolean) =>
        engine.scoped(() => {
          // Overwrite mode must not read db: start it as NaN.
          const db = kernelBuffers(engine).input(db0 ?? new Float32Array(cols).fill(NaN));
          const fn = reference ? engine.kernels.bias_grad_ref : engine.kernels.bias_grad;
          fn(db, kernelBuffers(engine).input(dy), rows, cols, accumulate ? 1 : 0);
          kernelBuffers(engine).expectGuard(db, cols, `${what}${reference ? " (reference)" : ""}`);
          return engine.readF32(db, cols);
        });
      const fast = run(false);
      expectSameBits(fast, run(true), `${what}: SIMD vs reference`);
      expectSameBits(fast, biasGradInOrder(dy, rows, cols, db0), `${what}: vs f32 sum in row order`);
      const want = biasGrad64(dy, rows, cols, db0);
      // Sequential f32 summation of rows (+1) terms: error ≤ rows·u·Σ|terms| (first order).
      expectClose(fast, want.sum, { rtol: (rows + 1) * U, atol: 0 }, `${what}: vs float64`, want.scale);
    }

    it(`overwrite: column sums for rows in {${ROWS.join(", ")}} × cols in {${SIZES.join(", ")}}`, () => {
      let seed = 1;
      for (const rows of ROWS) for (const cols of SIZES) check(rows, cols, false, seed++);
    });

    it(`accumulate: db += column sums for rows in {${ROWS.join(", ")}} × cols in {${SIZES.join(", ")}}`, () => {
      let seed = 1000;
      for (const rows of ROWS) for (const cols of SIZES) check(rows, cols, true, seed++);
    });

    it("a tall matrix (1000 rows) stays within the sequential-summation bound", () => {
      check(1000, 33, false, 7);
      check(1000, 33, true, 8);
    });

    it("rows = 0: overwrite writes zeros, accumulate leaves db bit for bit unchanged", () => {
      for (const cols of SIZES) {
        const db0 = new TestRandom(cols).uniform(cols);
        for (const reference of [false, true]) {
          const fn = reference ? engine.kernels.bias_grad_ref : engine.kernels.bias_grad;
          const what = `cols=${cols}${reference ? " (reference)" : ""}`;
          engine.scoped(() => {
            const db = kernelBuffers(engine).input(db0);
            fn(db, kernelBuffers(engine).input([]), 0, cols, 1);
            expectSameBits(engine.readF32(db, cols), db0, `${what}, accumulate`);
            fn(db, kernelBuffers(engine).input([]), 0, cols, 0);
            expectSameBits(engine.readF32(db, cols), new Float32Array(cols), `${what}, overwrite`);
          });
        }
      }
    });
  });

  describe("argmax / accuracy_count", () => {
    function argmax(x: Float32Array, rows: number, cols: number): Int32Array {
      return engine.scoped(() => {
        const out = engine.alloc(rows * 4);
        engine.kernels.argmax(out, kernelBuffers(engine).input(x), rows, cols);
        return engine.i32(out, rows).slice();
      });
    }

    it("picks the first index of the maximum on hand-made rows (ties, NaN, ±Infinity, ±0)", () => {
      const cases: [number[], number][] = [
        [[1, 3, 3, 2], 1], // tie: first wins
        [[5, 5, 5, 5, 5], 0],
        [[NaN, 1, 3, 3], 2], // a leading NaN is skipped
        [[1, NaN, 5, NaN], 2],
        [[2, NaN, 1], 0],
        [[NaN, NaN, NaN], 0], // nothing to pick: 0
        [[NaN, NaN, -7], 2],
        [[-Infinity, -Infinity], 0],
        [[-Infinity, -1e30, Infinity, Infinity], 2],
        [[-0, 0], 0], // −0 == +0: a tie
        [[0, -0], 0],
        [[-3], 0],
      ];
      for (const [row, want] of cases) {
        expect(argmax(Float32Array.from(row), 1, row.length)[0], `argmax of [${row.join(", ")}]`).toBe(want);
      }
    });

    it(`matches the reference on random rows with many ties and NaNs, cols in {${SIZES.join(", ")}}`, () => {
      const rnd = new TestRandom(42);
      for (const cols of SIZES) {
        const rows = 37;
        // Small integers make ties common; about 1 in 8 entries is NaN.
        const x = Float32Array.from({ length: rows * cols }, () => (rnd.next() < 0.125 ? NaN : Math.floor(rnd.next() * 5) - 2));
        expect(Array.from(argmax(x, rows, cols)), `cols=${cols}`).toEqual(Array.from(argmaxReference(x, rows, cols)));
      }
    });

    it("accuracy_count counts rows whose argmax equals the label (labels out of range never count)", () => {
      const rnd = new TestRandom(43);
      for (const cols of SIZES) {
        for (const rows of [0, 1, 5, 100]) {
          const x = Float32Array.from({ length: rows * cols }, () => (rnd.next() < 0.05 ? NaN : Math.floor(rnd.next() * 4)));
          const predicted = argmaxReference(x, rows, cols);
          // Half the labels are the prediction; the rest are random, some outside [0, cols).
          const labels = Int32Array.from(predicted, (p) => (rnd.next() < 0.5 ? p : Math.floor(rnd.next() * (cols + 2)) - 1));
          const want = labels.reduce((c, l, r) => c + (l === predicted[r] ? 1 : 0), 0);
          const got = engine.scoped(() => engine.kernels.accuracy_count(kernelBuffers(engine).input(x), engine.putI32(labels), rows, cols));
          expect(got, `rows=${rows} cols=${cols}`).toBe(want);
        }
      }
    });
  });

  describe("sum_squares", () => {
    function sumSquares(x: Float32Array, reference: boolean): number {
      return engine.scoped(() => (reference ? engine.kernels.sum_squares_ref : engine.kernels.sum_squares)(kernelBuffers(engine).input(x), x.length));
    }

    it(`SIMD = reference = the documented lane order, bit for bit, n in {0, ${SIZES.join(", ")}, 1000}`, () => {
      const rnd = new TestRandom(5);
      for (const n of [0, ...SIZES, 1000]) {
        const x = spread(rnd, n);
        const fast = sumSquares(x, false);
        expect(fast, `n=${n}: SIMD vs reference`).toBe(sumSquares(x, true));
        expect(fast, `n=${n}: vs documented order`).toBe(sumSquaresInOrder(x));
      }
    });

    it("agrees with the exact sum within u (f32 squares) plus the f64 additions", () => {
      const rnd = new TestRandom(6);
      for (const n of [...SIZES, 1000, 100_000]) {
        const x = spread(rnd, n);
        const want = sumSquares64(x);
        expectClose([sumSquares(x, false)], [want], { rtol: sumSquaresRtol(n), atol: 0 }, `sum_squares n=${n}`);
      }
    });
  });

  describe("scale_inplace", () => {
    it(`multiplies each element by s in f32 and nothing past n, n in {${SIZES.join(", ")}}`, () => {
      const rnd = new TestRandom(11);
      for (const s of [0.5, -3, 0, 1e-3, 1]) {
        for (const n of SIZES) {
          const x = spread(rnd, n);
          engine.scoped(() => {
            const ptr = kernelBuffers(engine).input(x);
            engine.kernels.scale_inplace(ptr, n, s);
            const what = `scale_inplace s=${s} n=${n}`;
            expectSameBits(
              engine.readF32(ptr, n),
              Float32Array.from(x, (v) => f32(v * f32(s))),
              what,
            );
            kernelBuffers(engine).expectGuard(ptr, n, what);
          });
        }
      }
    });
  });

  describe("clip_grad_norm", () => {
    /** Puts the buffers and their (pointer, length) list; returns the list pointer. */
    function putList(buffers: Float32Array[]): { list: number; ptrs: number[] } {
      const ptrs = buffers.map((b) => kernelBuffers(engine).input(b));
      return { list: engine.putI32(ptrs.flatMap((p, i) => [p, buffers[i]!.length])), ptrs };
    }

    function clip(buffers: Float32Array[], maxNorm: number): { norm: number; after: Float32Array[] } {
      return engine.scoped(() => {
        const { list, ptrs } = putList(buffers);
        const norm = engine.kernels.clip_grad_norm(list, buffers.length, maxNorm);
        ptrs.forEach((p, i) => kernelBuffers(engine).expectGuard(p, buffers[i]!.length, `clip_grad_norm buffer ${i}`));
        return { norm, after: ptrs.map((p, i) => engine.readF32(p, buffers[i]!.length)) };
      });
    }

    function makeBuffers(seed: number, lengths = [...SIZES, 0]): Float32Array[] {
      const rnd = new TestRandom(seed);
      return lengths.map((n) => spread(rnd, n));
    }

    /** √(Σ over buffers, in list order, of the documented sum of squares). */
    const normInOrder = (buffers: Float32Array[]) => Math.sqrt(buffers.reduce((s, b) => s + sumSquaresInOrder(b), 0));
    const norm64 = (buffers: Float32Array[]) => Math.sqrt(buffers.reduce((s, b) => s + sumSquares64(b), 0));

    it("returns the global norm over every buffer: the documented order exactly, the exact norm within rounding", () => {
      for (const seed of [1, 2, 3]) {
        const buffers = makeBuffers(seed);
        const { norm, after } = clip(buffers, 1e30);
        expect(norm, `seed ${seed}: vs documented order`).toBe(normInOrder(buffers));
        // √ halves the relative error of the sum (squares rounded to f32, f64 additions).
        const n = buffers.reduce((c, b) => c + b.length, 0);
        expectClose([norm], [norm64(buffers)], { rtol: sumSquaresRtol(n) / 2 + 2 ** -53, atol: 0 }, `seed ${seed}: vs float64`);
        after.forEach((b, i) => expectSameBits(b, buffers[i]!, `seed ${seed}: buffer ${i} below max_norm must be untouched`));
      }
    });

    it("above max_norm, scales every buffer by f32(max_norm / (norm + 1e-6)), leaving a norm just under max_norm", () => {
      for (const [seed, fraction] of [
        [4, 0.5],
        [5, 0.01],
        [6, 0.999],
      ] as const) {
        const buffers = makeBuffers(seed);
        const total = normInOrder(buffers);
        const maxNorm = f32(total * fraction);
        const { norm, after } = clip(buffers, maxNorm);
        expect(norm, "the returned norm is the norm before clipping").toBe(total);
        const coef = f32(maxNorm / (total + 1e-6));
        after.forEach((b, i) => {
          expectSameBits(
            b,
            Float32Array.from(buffers[i]!, (x) => f32(x * coef)),
            `max_norm ${maxNorm}: buffer ${i}`,
          );
        });
        // coef and each product are rounded once: the new norm is max_norm·norm/(norm + 1e-6) within ~2u.
        expectNearRelative(norm64(after), (maxNorm * total) / (total + 1e-6), 3 * U, `max_norm ${maxNorm}: norm after clipping`);
      }
    });

    it("the threshold is strict: norm = max_norm exactly is not clipped, a slightly smaller max_norm is", () => {
      const buffers = [Float32Array.of(3), Float32Array.of(4)]; // norm exactly 5
      const atLimit = clip(buffers, 5);
      expect(atLimit.norm).toBe(5);
      atLimit.after.forEach((b, i) => expectSameBits(b, buffers[i]!, `max_norm 5: buffer ${i}`));
      const below = clip(buffers, 4.999);
      const coef = f32(f32(4.999) / (5 + 1e-6));
      expect(Array.from(below.after, (b) => b[0])).toEqual([f32(3 * coef), f32(4 * coef)]);
    });

    it("an empty list has norm 0 and changes nothing", () => {
      engine.scoped(() => {
        expect(engine.kernels.clip_grad_norm(engine.alloc(16), 0, 1)).toBe(0);
      });
    });
  });
});

function expectNearRelative(actual: number, expected: number, rtol: number, what: string): void {
  expect(Math.abs(actual - expected), `${what}: ${actual} vs ${expected}`).toBeLessThanOrEqual(rtol * Math.abs(expected));
}
