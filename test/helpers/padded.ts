/**
 * Kernel test buffers with guard bands: inputs are followed by NaN padding (a read past
 * the end poisons a sum or a comparison), outputs checked afterwards for writes past the end.
 */
import { expect } from "vitest";
import type { Engine } from "../../src/index.js";

export const PAD = 4;
export const NAN_BITS = 0x7fc0abcd;

/** Copies values into the arena followed by PAD NaNs. */
export function putPadded(engine: Engine, values: ArrayLike<number>): number {
  const ptr = engine.allocF32(values.length + PAD);
  engine.f32(ptr, values.length).set(values);
  new Uint32Array(engine.kernels.memory.buffer, ptr + values.length * 4, PAD).fill(NAN_BITS);
  return ptr;
}

/** Fails unless the PAD words after `length` floats at ptr still hold the NaN pattern. */
export function expectPaddingIntact(engine: Engine, ptr: number, length: number, what: string): void {
  const pad = new Uint32Array(engine.kernels.memory.buffer, ptr + length * 4, PAD);
  expect(
    Array.from(pad, (b) => b.toString(16)),
    `${what}: wrote past the end`,
  ).toEqual(Array(PAD).fill(NAN_BITS.toString(16)));
}
