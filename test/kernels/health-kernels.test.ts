/**
 * The collapse-check kernels (assembly/health.ts: count_nonzero, rows_equal) and the
 * max-norm constraint (assembly/optim.ts: max_norm_rows), against their `_ref` twins and
 * against TypeScript references: counts and flags exactly; max-norm bit for bit against
 * a transcription of its documented order and within rounding of float64 norms. Sizes run
 * below, at and above the 4-lane SIMD width; inputs are followed by NaN padding (a read
 * past the end would count or compare it) and outputs by a sentinel.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../../src/index.js";
import { EXACT_BUILDS, loadBuild, type TestEngine } from "../helpers/engines.js";
import { expectSameBits } from "../helpers/compare.js";
import { TestRandom } from "../helpers/rand.js";
import { kernelBuffers } from "../helpers/kernel-buffers.js";

const SIZES = [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 63, 64, 65, 257];
const f32 = Math.fround;
const U = 2 ** -24;

/** Values with many exact zeros (and −0), some NaN and ±Infinity. */
function sparse(rnd: TestRandom, n: number, zeroShare: number): Float32Array {
  return Float32Array.from({ length: n }, () => {
    const u = rnd.next();
    if (u < zeroShare) return rnd.next() < 0.5 ? 0 : -0;
    if (u < zeroShare + 0.02) return NaN;
    if (u < zeroShare + 0.04) return rnd.next() < 0.5 ? Infinity : -Infinity;
    return f32(rnd.next() * 2 - 1);
  });
}

/** The documented max-norm: √(f32 squares summed in four f64 lanes, then the tail) and row·f32(maxNorm / (norm + 1e-7)). */
function maxNormInOrder(w: Float32Array, rows: number, cols: number, maxNorm: number): { w: Float32Array; scaled: number } {
  const out = w.slice();
  let scaled = 0;
  for (let r = 0; r < rows; r++) {
    const row = out.subarray(r * cols, (r + 1) * cols);
    const full = cols & ~3;
    const lanes = [0, 0, 0, 0];
    for (let i = 0; i < full; i++) lanes[i % 4]! += f32(row[i]! * row[i]!);
    let sum = lanes[0]! + lanes[1]! + (lanes[2]! + lanes[3]!);
    for (let i = full; i < cols; i++) sum += f32(row[i]! * row[i]!);
    const norm = Math.sqrt(sum);
    if (norm > f32(maxNorm)) {
      const s = f32(f32(maxNorm) / (norm + 1e-7));
      for (let i = 0; i < cols; i++) row[i] = f32(row[i]! * s);
      scaled++;
    }
  }
  return { w: out, scaled };
}

describe.each(EXACT_BUILDS)("collapse checks and max-norm, %s build", (build) => {
  let engine: TestEngine;
  beforeAll(async () => {
    engine = await loadBuild(build);
  });

  it(`count_nonzero counts every non-zero (NaN and ±Infinity included, ±0 not) for n in {${SIZES.join(", ")}}`, () => {
    let seed = 1;
    for (const n of SIZES) {
      for (const share of [0, 0.5, 1]) {
        const x = sparse(new TestRandom(seed++), n, share);
        const want = Array.from(x).filter((v) => v !== 0).length;
        engine.scoped(() => {
          const p = kernelBuffers(engine).input(x);
          expect(engine.kernels.count_nonzero(p, n), `n=${n} zeros ${share}`).toBe(want);
          expect(engine.kernels.count_nonzero_ref(p, n), `n=${n} zeros ${share} (reference)`).toBe(want);
        });
      }
    }
  });

  it("count_nonzero of n = 0 is 0 and reads nothing", () => {
    engine.scoped(() => {
      const p = kernelBuffers(engine).input([]);
      expect(engine.kernels.count_nonzero(p, 0)).toBe(0);
      expect(engine.kernels.count_nonzero_ref(p, 0)).toBe(0);
    });
  });

  it(`rows_equal: 1 exactly when every row equals row 0 (±0 equal, NaN never), rows × cols in {1, 2, 3, 9} × {${SIZES.join(", ")}}`, () => {
    let seed = 100;
    for (const rows of [1, 2, 3, 9]) {
      for (const cols of SIZES) {
        const rnd = new TestRandom(seed++);
        const row = Float32Array.from(rnd.uniform(cols));
        const same = new Float32Array(rows * cols);
        for (let r = 0; r < rows; r++) same.set(row, r * cols);
        const check = (x: Float32Array, want: number, what: string) =>
          engine.scoped(() => {
            const p = kernelBuffers(engine).input(x);
            expect(engine.kernels.rows_equal(p, rows, cols), `${rows}×${cols} ${what}`).toBe(want);
            expect(engine.kernels.rows_equal_ref(p, rows, cols), `${rows}×${cols} ${what} (reference)`).toBe(want);
          });
        check(same, 1, "identical rows");
        // −0 in a later row where row 0 has +0 still counts as equal.
        const signed = same.slice();
        signed[0] = 0;
        for (let r = 1; r < rows; r++) signed[r * cols] = -0;
        check(signed, 1, "±0");
        if (rows > 1) {
          for (const at of [0, cols - 1, Math.floor(cols / 2)]) {
            const differ = same.slice();
            differ[(rows - 1) * cols + at] = f32(differ[(rows - 1) * cols + at]! + 1);
            check(differ, 0, `last row differs at column ${at}`);
          }
          const nan = same.slice();
          for (let r = 0; r < rows; r++) nan[r * cols + cols - 1] = NaN;
          check(nan, 0, "a NaN column");
        }
      }
    }
  });

  it(`max_norm_rows scales exactly the rows above the limit, bit for bit as documented, rows × cols in {1, 3, 8} × {${SIZES.join(", ")}}`, () => {
    let seed = 500;
    for (const rows of [1, 3, 8]) {
      for (const cols of SIZES) {
        const rnd = new TestRandom(seed++);
        // Row scales from 0.1 to 10 around maxNorm 1: some rows pass, some are scaled.
        const w = new Float32Array(rows * cols);
        for (let r = 0; r < rows; r++) {
          const scale = 10 ** (rnd.next() * 2 - 1) / Math.sqrt(cols);
          for (let i = 0; i < cols; i++) w[r * cols + i] = f32((rnd.next() * 2 - 1) * scale * 1.7);
        }
        const want = maxNormInOrder(w, rows, cols, 1);
        for (const reference of [false, true]) {
          const what = `${rows}×${cols}${reference ? " (reference)" : ""}`;
          engine.scoped(() => {
            const p = kernelBuffers(engine).input(w);
            const fn = reference ? engine.kernels.max_norm_rows_ref : engine.kernels.max_norm_rows;
            expect(fn(p, rows, cols, 1), `${what}: rows scaled`).toBe(want.scaled);
            const got = engine.readF32(p, rows * cols);
            kernelBuffers(engine).expectGuard(p, rows * cols, what);
            expectSameBits(got, want.w, `${what}: vs the documented order`);
            for (let r = 0; r < rows; r++) {
              let norm = 0;
              for (let i = 0; i < cols; i++) norm += got[r * cols + i]! ** 2;
              norm = Math.sqrt(norm);
              expect(norm, `${what}: row ${r} norm after`).toBeLessThanOrEqual(1 + (cols + 4) * U);
            }
          });
        }
      }
    }
  });

  it("max_norm_rows leaves a matrix whose rows are all within the limit bit for bit unchanged", () => {
    const w = Float32Array.from(new TestRandom(9).uniform(5 * 33), (v) => f32(v * 0.01));
    engine.scoped(() => {
      const p = kernelBuffers(engine).input(w);
      expect(engine.kernels.max_norm_rows(p, 5, 33, 3.5)).toBe(0);
      expectSameBits(engine.readF32(p, w.length), w, "unchanged weights");
    });
  });
});
