/**
 * Attention transfer kernels: maps and loss against a float64 reference, the gradient by
 * central finite differences, SIMD vs `_ref` bit for bit, and the properties the method
 * relies on (unit-norm maps, zero loss for equal maps, scale invariance of the map).
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../../src/index.js";
import { EXACT_BUILDS, loadBuild, type TestEngine } from "../helpers/engines.js";
import { expectClose, expectNear, expectSameBits } from "../helpers/compare.js";
import { TestRandom } from "../helpers/rand.js";
import { numericGradient } from "../helpers/gradcheck.js";

/** Float64 maps: f_j = mean_c |a_cj|^p, q = f/‖f‖. a is (rows, channels, spatial). */
function maps64(a: ArrayLike<number>, rows: number, channels: number, spatial: number, p: number): Float64Array {
  const q = new Float64Array(rows * spatial);
  for (let r = 0; r < rows; r++) {
    let norm = 0;
    for (let j = 0; j < spatial; j++) {
      let f = 0;
      for (let c = 0; c < channels; c++) f += Math.abs(a[(r * channels + c) * spatial + j]!) ** p;
      q[r * spatial + j] = f / channels;
      norm += (f / channels) ** 2;
    }
    norm = Math.max(Math.sqrt(norm), 1e-12);
    for (let j = 0; j < spatial; j++) q[r * spatial + j]! /= norm;
  }
  return q;
}

function loss64(a: ArrayLike<number>, qt: ArrayLike<number>, rows: number, channels: number, spatial: number, p: number, beta: number): number {
  const qs = maps64(a, rows, channels, spatial, p);
  let s = 0;
  for (let i = 0; i < qs.length; i++) s += (qs[i]! - qt[i]!) ** 2;
  return (beta / 2) * (s / (rows * spatial));
}

const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [2, 3, 4],
  [3, 5, 7],
  [2, 8, 16],
  [1, 4, 49],
  [4, 2, 129],
];

describe.each(EXACT_BUILDS)("attention transfer, %s build", (build) => {
  let engine: TestEngine;
  beforeAll(async () => {
    engine = await loadBuild(build);
  });

  const map = (kernel: "attention_map" | "attention_map_ref", a: Float32Array, rows: number, c: number, s: number, p: number) =>
    engine.scoped(() => {
      const ap = engine.putF32(a);
      const qp = engine.allocF32(rows * s);
      engine.kernels[kernel](qp, ap, rows, c, s, p);
      return engine.readF32(qp, rows * s);
    });

  const transfer = (
    kernel: "attention_transfer" | "attention_transfer_ref",
    a: Float32Array,
    qt: Float32Array,
    rows: number,
    c: number,
    s: number,
    p: number,
    beta: number,
  ) =>
    engine.scoped(() => {
      const ap = engine.putF32(a);
      const qp = engine.putF32(qt);
      const gp = engine.allocF32(a.length);
      const work = engine.allocF32(2 * s);
      const loss = engine.kernels[kernel](gp, work, ap, qp, rows, c, s, p, beta);
      return { loss, grad: engine.readF32(gp, a.length) };
    });

  it("maps: SIMD equals reference bit for bit, agree with float64, and have unit norm", () => {
    let seed = 1;
    for (const [rows, c, s] of SHAPES) {
      for (const p of [2, 1, 3]) {
        const a = new TestRandom(seed++).normal(rows * c * s, 1.5);
        const fast = map("attention_map", a, rows, c, s, p);
        expectSameBits(fast, map("attention_map_ref", a, rows, c, s, p), `map ${rows}×${c}×${s} p=${p}`);
        expectClose(fast, maps64(a, rows, c, s, p), { rtol: 2e-6, atol: 1e-7 }, `map vs float64 ${rows}×${c}×${s} p=${p}`);
        for (let r = 0; r < rows; r++) {
          let n = 0;
          for (let j = 0; j < s; j++) n += fast[r * s + j]! ** 2;
          expect(Math.abs(Math.sqrt(n) - 1), `row ${r} norm`).toBeLessThan(1e-6);
        }
      }
    }
  });

  it("a map ignores the activation's scale and sign (it is normalised, and |a|^p)", () => {
    const a = new TestRandom(9).normal(2 * 3 * 10);
    const scaled = Float32Array.from(a, (v) => -4 * v);
    expectClose(map("attention_map", scaled, 2, 3, 10, 2), map("attention_map", a, 2, 3, 10, 2), { rtol: 1e-6, atol: 1e-7 }, "scaled");
  });

  it("loss and gradient: SIMD equals reference bit for bit; values agree with float64", () => {
    let seed = 50;
    for (const [rows, c, s] of SHAPES) {
      for (const p of [2, 3]) {
        const rnd = new TestRandom(seed++);
        const a = rnd.normal(rows * c * s);
        const qt = map("attention_map", rnd.normal(rows * 2 * s), rows, 2, s, 2);
        const fast = transfer("attention_transfer", a, qt, rows, c, s, p, 1000);
        const ref = transfer("attention_transfer_ref", a, qt, rows, c, s, p, 1000);
        expect(fast.loss).toBe(ref.loss);
        expectSameBits(fast.grad, ref.grad, `grad ${rows}×${c}×${s} p=${p}`);
        expectNear(fast.loss, loss64(a, qt, rows, c, s, p, 1000), { rtol: 1e-5, atol: 1e-6 }, `loss ${rows}×${c}×${s} p=${p}`);
      }
    }
  });

  it("the gradient matches central finite differences of the float64 loss", () => {
    let seed = 80;
    for (const [rows, c, s] of [
      [1, 2, 3],
      [2, 3, 5],
      [2, 4, 8],
    ] as const) {
      for (const p of [2, 3]) {
        const rnd = new TestRandom(seed++);
        const a = Float32Array.from(rnd.normal(rows * c * s), (v) => (Math.abs(v) < 0.05 ? 0.3 : v));
        const qt = maps64(rnd.normal(rows * c * s), rows, c, s, 2);
        const { grad } = transfer("attention_transfer", a, Float32Array.from(qt), rows, c, s, p, 10);
        const qt32 = Float32Array.from(qt);
        const numeric = numericGradient((x) => loss64(x, qt32, rows, c, s, p, 10), a, 1e-6);
        expectClose(grad, numeric, { rtol: 1e-3, atol: 1e-5 }, `grad vs finite differences ${rows}×${c}×${s} p=${p}`);
      }
    }
  });

  it("equal maps give exactly zero loss and gradient", () => {
    const a = new TestRandom(3).normal(2 * 4 * 9);
    const q = map("attention_map", a, 2, 4, 9, 2);
    const { loss, grad } = transfer("attention_transfer", a, q, 2, 4, 9, 2, 1000);
    expect(loss).toBe(0);
    expect(grad.every((g) => g === 0)).toBe(true);
  });
});
