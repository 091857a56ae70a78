/**
 * The one way kernel tests lay out their buffers, and the sizes they test at.
 *
 * Every buffer is followed by GUARD words holding a quiet NaN with a recognisable payload:
 * - an input read past its end poisons a sum or a comparison, so the result shows it;
 * - an output starts as those NaNs (a slot the kernel forgets to write shows) and its guard
 *   is checked when it is read back (a write past the end shows).
 * With `misaligned`, a buffer starts 4 bytes past a 16-byte boundary: the kernels promise to
 * need only 4-byte alignment, so every SIMD load and store must be unaligned-safe.
 */
import { expect } from "vitest";
import type { Engine } from "../../src/index.js";

/** Guard words after every buffer. */
export const GUARD = 4;
/** A quiet NaN no kernel produces: arithmetic on it changes or spreads it. */
export const NAN_BITS = 0x7fc0abcd;
/** The SIMD width in f32 lanes. */
export const LANES = 4;

/**
 * Sizes below, at and above each boundary (the SIMD width, an unroll, a tile): 1, and
 * b − 1, b, b + 1 for every b, plus `extra`, sorted and without repeats.
 */
export function sizesAround(boundaries: number[], extra: number[] = []): number[] {
  const sizes = new Set<number>([1, ...extra]);
  for (const b of boundaries) for (const s of [b - 1, b, b + 1]) if (s >= 1) sizes.add(s);
  return [...sizes].sort((a, b) => a - b);
}

/** Below, at and above one and two SIMD widths, an odd size, and long runs with a tail. */
export const VECTOR_SIZES = [1, 3, 4, 5, 7, 8, 17, 64, 129, 257];

export interface KernelBuffers {
  /** float32 values followed by the guard. */
  input(values: ArrayLike<number>): number;
  /** int32 values followed by the guard. */
  inputI32(values: ArrayLike<number>): number;
  /** n float32 slots that all start as NaN, followed by the guard. */
  output(n: number): number;
  /** n floats at ptr (a copy), after checking their guard. */
  read(ptr: number, n: number, what: string): Float32Array;
  /** n int32 values at ptr (a copy), after checking their guard. */
  readI32(ptr: number, n: number, what: string): Int32Array;
  /** Fails unless the guard after n words at ptr is intact. */
  expectGuard(ptr: number, n: number, what: string): void;
}

export function kernelBuffers(engine: Engine, { misaligned = false }: { misaligned?: boolean } = {}): KernelBuffers {
  const words = (ptr: number, n: number) => new Uint32Array(engine.kernels.memory.buffer, ptr, n);
  const reserve = (n: number): number => {
    const base = engine.allocF32(n + GUARD + 1);
    const ptr = base + (misaligned ? 4 : 0);
    words(ptr + n * 4, GUARD).fill(NAN_BITS);
    return ptr;
  };
  const expectGuard = (ptr: number, n: number, what: string): void => {
    const guard = Array.from(words(ptr + n * 4, GUARD), (w) => w.toString(16));
    expect(guard, `${what}: wrote past the end`).toEqual(Array(GUARD).fill(NAN_BITS.toString(16)));
  };
  return {
    input(values) {
      const ptr = reserve(values.length);
      engine.f32(ptr, values.length).set(values);
      return ptr;
    },
    inputI32(values) {
      const ptr = reserve(values.length);
      engine.i32(ptr, values.length).set(values);
      return ptr;
    },
    output(n) {
      const ptr = reserve(n);
      words(ptr, n).fill(NAN_BITS);
      return ptr;
    },
    read(ptr, n, what) {
      expectGuard(ptr, n, what);
      return engine.f32(ptr, n).slice();
    },
    readI32(ptr, n, what) {
      expectGuard(ptr, n, what);
      return engine.i32(ptr, n).slice();
    },
    expectGuard,
  };
}
