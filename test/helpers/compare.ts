/** Array comparisons that say where and by how much two arrays differ. */
import { expect } from "vitest";

/** Same float32 bit patterns, element by element (so -0 ≠ +0 and NaN payloads count). */
export function expectSameBits(actual: Float32Array, expected: Float32Array, what = "array"): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const e = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== e[i]) {
      expect.fail(`${what}: element ${i} differs: ${actual[i]} (0x${a[i]!.toString(16)}) vs ${expected[i]} (0x${e[i]!.toString(16)})`);
    }
  }
}

export interface Tolerance {
  /** Relative tolerance, scaled by |expected| (or by `scale[i]` when given). */
  rtol: number;
  /** Absolute tolerance. */
  atol: number;
}

/**
 * |actual − expected| ≤ atol + rtol·(scale ?? |expected|) for every element. `scale` lets
 * a caller pass the natural size of each element's error (e.g. Σ|a||b| for a dot product).
 */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance, what = "array", scale?: ArrayLike<number>): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const bound = tol.atol + tol.rtol * (scale ? scale[i]! : Math.abs(e));
    const err = Math.abs(a - e);
    if (!(err <= bound) && (worst < 0 || err - bound > worstExcess || Number.isNaN(err))) {
      worst = i;
      worstExcess = err - bound;
    }
  }
  if (worst >= 0) {
    expect.fail(
      `${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} ` +
        `(error ${Math.abs(actual[worst]! - expected[worst]!)} over tolerance atol ${tol.atol}, rtol ${tol.rtol})`,
    );
  }
}

/** Scalar version of expectClose. */
export function expectNear(actual: number, expected: number, tol: Tolerance, what = "value"): void {
  expectClose([actual], [expected], tol, what);
}
