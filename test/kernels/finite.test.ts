/**
 * first_non_finite (assembly/finite.ts): the index of the first NaN or ±∞, or n, against its
 * `_ref` twin and against JavaScript's Number.isFinite on the same values, at lengths below,
 * at and above the 4-lane vector and the 16-value step, at unaligned offsets, with the bad
 * value at every position of short inputs and around each step of long ones, and with the
 * largest finite floats and subnormals (finite: never reported).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { EXACT_BUILDS, loadBuild, type TestEngine } from "../helpers/engines.js";
import { kernelBuffers, sizesAround, VECTOR_SIZES } from "../helpers/kernel-buffers.js";
import { TestRandom } from "../helpers/rand.js";

const SIZES = sizesAround([4, 8, 16, 32, 48], [...VECTOR_SIZES, 1000, 4099]);
/** Not finite: quiet and signalling NaNs with payloads, both infinities, a negative NaN. */
const BAD = [NaN, Infinity, -Infinity, new Float32Array(new Uint32Array([0x7f800001]).buffer)[0]!, new Float32Array(new Uint32Array([0xffc00000]).buffer)[0]!];
/** Finite values at the edges: the largest float32, the smallest subnormal, −0. */
const EDGE = [3.4028234663852886e38, -3.4028234663852886e38, 2 ** -149, -0];

/** Positions to put a bad value in an input of n: all of them for short inputs, else around each 4- and 16-value boundary. */
function positions(n: number): number[] {
  if (n <= 40) return Array.from({ length: n }, (_, i) => i);
  const at = new Set<number>([0, 1, n - 1, n - 2, n >> 1]);
  for (const b of [4, 15, 16, 17, 31, 32, 47, 48, n - 16, n - 4, n - 3]) if (b >= 0 && b < n) at.add(b);
  return [...at].sort((a, b) => a - b);
}

describe.each(EXACT_BUILDS)("first_non_finite, %s build", (build) => {
  let engine: TestEngine;
  beforeAll(async () => {
    engine = await loadBuild(build);
  });

  const run = (x: Float32Array, misaligned: boolean): [number, number] =>
    engine.scoped(() => {
      const p = kernelBuffers(engine, { misaligned }).input(x);
      return [engine.kernels.first_non_finite(p, x.length), engine.kernels.first_non_finite_ref(p, x.length)];
    });

  it(`finds the first NaN or ±∞ like Number.isFinite, for n in {${SIZES.join(", ")}}, aligned and not`, () => {
    const rnd = new TestRandom(9);
    let checked = 0;
    for (const n of SIZES) {
      const clean = rnd.normal(n, 1000);
      for (let i = 0; i < n; i += 7) clean[i] = EDGE[(i / 7) % EDGE.length]!;
      for (const misaligned of [false, true]) {
        expect(run(clean, misaligned), `n=${n} all finite`).toEqual([n, n]);
        for (const at of positions(n)) {
          const x = clean.slice();
          x[at] = BAD[(at + n) % BAD.length]!;
          // A second bad value after the first must not change the answer.
          if (at + 5 < n) x[at + 5] = NaN;
          const want = Array.from(x).findIndex((v) => !Number.isFinite(v));
          expect(want).toBe(at);
          expect(run(x, misaligned), `n=${n}, bad value at ${at}, misaligned ${misaligned}`).toEqual([at, at]);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(500);
  });

  it("n = 0 reports 0 (nothing to check)", () => {
    expect(run(new Float32Array(0), false)).toEqual([0, 0]);
  });
});
