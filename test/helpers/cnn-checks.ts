/**
 * What the model tests of convolutional networks share, 2-D (test/api/cnn.test.ts) and
 * 1-D (test/api/signals.test.ts) alike: a forward and a backward pass of a Sequential on
 * arrays through wasm, and the check of its gradients against central finite differences
 * of the float64 reference (test/helpers/cnn64.ts).
 */
import { expectClose } from "./compare.js";
import { cnnForward64, params64, type Params64 } from "./cnn64.js";
import { numericGradient } from "./gradcheck.js";
import type { Sequential } from "../../src/index.js";

/** Runs a forward pass on x (rows, inputs) through wasm and returns the output (and frees the input). */
export function forwardOf(model: Sequential, x: Float32Array, rows: number, training: boolean): Float32Array {
  const e = model.engine;
  model.reserve(rows);
  const ptr = e.allocOwned(x.length * 4);
  try {
    e.f32(ptr, x.length).set(x);
    return e.readF32(model.forward(ptr, rows, training), rows * model.outputs);
  } finally {
    e.free(ptr);
  }
}

/**
 * A training-mode forward pass on x, then the backward pass of the loss Σ g ⊙ outputs:
 * the gradient block (blockLength floats) and, with `inputGradient`, dx (else the 0 that
 * backward returns).
 */
export function backwardOf(
  model: Sequential,
  x: Float32Array,
  g: Float32Array,
  rows: number,
  inputGradient: boolean,
): { grads: Float32Array; dx: Float32Array | 0 } {
  const e = model.engine;
  model.reserve(rows);
  const xPtr = e.allocOwned(x.length * 4);
  const gPtr = e.allocOwned(g.length * 4);
  try {
    e.f32(xPtr, x.length).set(x);
    model.forward(xPtr, rows, true);
    e.f32(gPtr, g.length).set(g);
    const dxPtr = model.backward(gPtr, rows, { inputGradient });
    return { dx: inputGradient ? e.readF32(dxPtr, x.length) : (dxPtr as 0), grads: e.readF32(model.gradsPtr, model.blockLength) };
  } finally {
    e.free(xPtr);
    e.free(gPtr);
  }
}

/**
 * Every parameter's gradient in `grads` and the input gradient `dx` against central finite
 * differences (step 1e-6) of Σ g ⊙ cnnForward64(model, x) in training mode, each within
 * 2e-4 of its largest value (+ 1e-6) or 1e-3 relative.
 */
export function expectFiniteDifferenceGradients(
  model: Sequential,
  inputShape: number[],
  rows: number,
  x: Float32Array,
  g: Float32Array,
  got: { grads: Float32Array; dx: Float32Array },
): void {
  const base = params64(model);
  const x64 = Float64Array.from(x);
  const loss = (p: Params64, xs: Float64Array) => {
    const out = cnnForward64(model.specs, p, xs, rows, inputShape, true).output;
    let s = 0;
    for (let i = 0; i < out.length; i++) s += out[i]! * g[i]!;
    return s;
  };
  const fd = (values: Float64Array) => {
    const original = values.slice();
    const result = numericGradient(
      (v) => {
        values.set(v);
        return loss(base, x64);
      },
      original,
      1e-6,
    );
    values.set(original);
    return result;
  };
  const check = (actual: ArrayLike<number>, expected: Float64Array, what: string) => {
    const scale = Math.max(...Array.from(expected, Math.abs), 1e-3);
    expectClose(actual, expected, { atol: 2e-4 * scale + 1e-6, rtol: 1e-3 }, what);
  };
  for (const p of model.namedParameters()) check(got.grads.subarray(p.offset, p.offset + p.length), fd(base.get(p.name)!), `d loss / d ${p.name}`);
  check(got.dx, fd(x64), "d loss / d x");
}
