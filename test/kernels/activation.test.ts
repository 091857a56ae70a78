/**
 * Element-wise activations (and exp, the vector math under softmax): SIMD kernels vs
 * their `_ref` twins bit for bit, at lengths below, at and above the 4-lane width and
 * at unaligned offsets; forward values vs float64 math; special values.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Engine, KernelExports } from "../../src/index.js";
import { EXACT_BUILDS, loadBuild } from "../helpers/engines.js";
import { expectClose, expectSameBits } from "../helpers/compare.js";
import { activation64 } from "../helpers/reference.js";
import { TestRandom } from "../helpers/rand.js";
import { VECTOR_SIZES } from "../helpers/kernel-buffers.js";

const SIZES = VECTOR_SIZES;
/** Byte offsets from a 16-byte aligned allocation: aligned and misaligned starts. */
const OFFSETS = [0, 4, 12];
const SPECIAL = [0, -0, 1e-30, -1e-30, 30, -30, 100, -100, 1e4, -1e4, 0.625, -0.625, 88.7, -103.9];

/** Inputs of length n: normal(0, 3) with special values sprinkled in. */
function inputs(n: number, seed: number): Float32Array {
  const x = new TestRandom(seed).normal(n, 3);
  for (let i = 0; i < n; i += 5) x[i] = SPECIAL[(i / 5 + seed) % SPECIAL.length]!;
  return x;
}

type Unary = "relu_forward" | "tanh_forward" | "sigmoid_forward" | "gelu_forward" | "exp_forward";
type UnaryBackward = "relu_backward" | "tanh_backward" | "sigmoid_backward" | "gelu_backward";

/** Runs a unary kernel with its input at `offset` bytes past an aligned allocation. */
function unary(engine: Engine, name: Unary | `${Unary}_ref`, x: Float32Array, offset: number, slope?: number): Float32Array {
  return engine.scoped(() => {
    const base = engine.alloc(x.length * 4 + 16);
    const xp = base + offset;
    engine.f32(xp, x.length).set(x);
    const yp = engine.alloc(x.length * 4 + 16) + offset;
    const k = engine.kernels as unknown as Record<string, (...args: number[]) => void>;
    k[name]!(yp, xp, x.length, ...(slope === undefined ? [] : [slope]));
    return engine.readF32(yp, x.length);
  });
}

function backward(engine: Engine, name: string, dy: Float32Array, saved: Float32Array, offset: number, slope?: number): Float32Array {
  return engine.scoped(() => {
    const dyp = engine.alloc(dy.length * 4 + 16) + offset;
    const sp = engine.alloc(dy.length * 4 + 16) + offset;
    const dxp = engine.alloc(dy.length * 4 + 16) + offset;
    engine.f32(dyp, dy.length).set(dy);
    engine.f32(sp, dy.length).set(saved);
    const k = engine.kernels as unknown as Record<string, (...args: number[]) => void>;
    k[name]!(dxp, dyp, sp, dy.length, ...(slope === undefined ? [] : [slope]));
    return engine.readF32(dxp, dy.length);
  });
}

const FORWARD: { name: string; kernel: Unary | "leaky_relu_forward"; slope?: number }[] = [
  { name: "relu", kernel: "relu_forward" },
  { name: "leaky_relu", kernel: "leaky_relu_forward", slope: 0.01 },
  { name: "leaky_relu", kernel: "leaky_relu_forward", slope: 0.2 },
  { name: "tanh", kernel: "tanh_forward" },
  { name: "sigmoid", kernel: "sigmoid_forward" },
  { name: "gelu", kernel: "gelu_forward" },
  { name: "exp", kernel: "exp_forward" },
];

/** Backward kernels and what they save from the forward pass (input x or output y). */
const BACKWARD: { kernel: keyof KernelExports; forward: string; saves: "x" | "y"; slope?: number }[] = [
  { kernel: "relu_backward", forward: "relu_forward", saves: "x" },
  { kernel: "leaky_relu_backward", forward: "leaky_relu_forward", saves: "x", slope: 0.2 },
  { kernel: "tanh_backward", forward: "tanh_forward", saves: "y" },
  { kernel: "sigmoid_backward", forward: "sigmoid_forward", saves: "y" },
  { kernel: "gelu_backward", forward: "gelu_forward", saves: "x" },
];

describe.each(EXACT_BUILDS)("activations, %s build", (build) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await loadBuild(build);
  });

  for (const f of FORWARD) {
    it(`${f.kernel}${f.slope ? ` (slope ${f.slope})` : ""}: SIMD equals reference bit for bit`, () => {
      for (const n of SIZES) {
        for (const offset of OFFSETS) {
          const x = inputs(n, n + offset);
          const fast = unary(engine, f.kernel as Unary, x, offset, f.slope);
          const ref = unary(engine, `${f.kernel}_ref` as `${Unary}_ref`, x, offset, f.slope);
          expectSameBits(fast, ref, `${f.kernel} n=${n} offset=${offset}`);
        }
      }
    });
  }

  for (const b of BACKWARD) {
    it(`${b.kernel}: SIMD equals reference bit for bit`, () => {
      for (const n of SIZES) {
        for (const offset of OFFSETS) {
          const x = inputs(n, 3 * n + offset);
          const saved = b.saves === "x" ? x : unary(engine, b.forward as Unary, x, 0, b.slope);
          const dy = new TestRandom(n).normal(n);
          const fast = backward(engine, b.kernel, dy, saved, offset, b.slope);
          const ref = backward(engine, `${b.kernel}_ref`, dy, saved, offset, b.slope);
          expectSameBits(fast, ref, `${b.kernel} n=${n} offset=${offset}`);
        }
      }
    });
  }

  it("dropout_forward / dropout_backward multiply by the mask, SIMD equal to reference", () => {
    for (const n of SIZES) {
      const rnd = new TestRandom(n);
      const x = rnd.normal(n);
      const mask = Float32Array.from(rnd.uniform(n, 0, 1), (u) => (u < 0.3 ? 0 : Math.fround(1 / 0.7)));
      const run = (name: string) =>
        engine.scoped(() => {
          const xp = engine.putF32(x);
          const mp = engine.putF32(mask);
          const yp = engine.allocF32(n);
          (engine.kernels as unknown as Record<string, (...a: number[]) => void>)[name]!(yp, xp, mp, n);
          return engine.readF32(yp, n);
        });
      const expected = Float32Array.from(x, (v, i) => v * mask[i]!);
      expectSameBits(run("dropout_forward"), expected, `dropout_forward n=${n}`);
      expectSameBits(run("dropout_forward_ref"), expected, `dropout_forward_ref n=${n}`);
      expectSameBits(run("dropout_backward"), expected, `dropout_backward n=${n}`);
    }
  });

  describe("forward values against float64 math", () => {
    const x = inputs(257, 99);
    // Error budgets: exp is ≤ 2 ulp; tanh / sigmoid a few ulp of their output; gelu's
    // ½x(1 + tanh u) cancels for x ≪ 0 (as PyTorch's does), so its error is relative to |x|.
    const ulp = 2 ** -23;
    const FLT_MIN = 2 ** -126;
    const cases: [Unary | "leaky_relu_forward", string, (v: number, e: number) => number, number?][] = [
      ["relu_forward", "relu", () => 0],
      ["leaky_relu_forward", "leaky_relu", (_v, e) => ulp * Math.abs(e), 0.2],
      ["exp_forward", "exp", (_v, e) => 2 * ulp * Math.abs(e) + FLT_MIN * ulp],
      ["tanh_forward", "tanh", (_v, e) => 2 * ulp * Math.max(Math.abs(e), 1e-38)],
      // Below x ≈ −88.7, e^−x overflows and sigmoid returns 0 instead of a denormal.
      ["sigmoid_forward", "sigmoid", (_v, e) => 3 * ulp * Math.abs(e) + FLT_MIN],
      ["gelu_forward", "gelu", (v, e) => 4 * ulp * (Math.abs(e) + Math.abs(v))],
    ];
    for (const [kernel, name, budget, slope] of cases) {
      it(`${kernel} is within its rounding budget of float64 ${name}`, () => {
        // exp's overflow and underflow ends are checked separately below.
        const xs = name === "exp" ? x.filter((v) => Math.abs(v) <= 88) : x;
        const got = unary(engine, kernel as Unary, xs, 0, slope);
        const want = Array.from(xs, (v) => activation64[name]!(v, slope));
        const scale = Array.from(xs, (v, i) => budget(v, want[i]!));
        expectClose(got, want, { rtol: 1, atol: 0 }, kernel, scale);
      });
    }
  });

  it("exp covers the whole float32 range: 0 below −104, denormals, overflow to +∞, NaN stays NaN", () => {
    const x = Float32Array.from([-1e4, -104, -100, -87.5, 0, 1, 88.5, 88.8, 89, 1e4, NaN, -0]);
    const y = unary(engine, "exp_forward", x, 0);
    expect(y[0]).toBe(0);
    expect(y[1]).toBe(0);
    expect(y[2]).toBeGreaterThan(0); // e^-100 ≈ 3.7e-44 is a denormal
    expect(Math.abs(y[2]! - Math.exp(-100)) / Math.exp(-100)).toBeLessThan(0.05); // denormal spacing 1.4e-45
    expect(Math.abs(y[3]! - Math.exp(-87.5)) / Math.exp(-87.5)).toBeLessThan(1e-6);
    expect(y[4]).toBe(1);
    expect(y[5]).toBe(Math.fround(Math.E));
    expect(Math.abs(y[6]! - Math.exp(88.5)) / Math.exp(88.5)).toBeLessThan(1e-6);
    expect(y[7]).toBe(Infinity);
    expect(y[8]).toBe(Infinity);
    expect(y[9]).toBe(Infinity);
    expect(y[10]).toBeNaN();
    expect(y[11]).toBe(1);
  });

  it("tanh, sigmoid and gelu saturate exactly and keep signed zeros", () => {
    const x = Float32Array.from([0, -0, 50, -50, 1e4, -1e4]);
    expect(Array.from(unary(engine, "tanh_forward", x, 0))).toEqual([0, -0, 1, -1, 1, -1]);
    expect(Array.from(unary(engine, "sigmoid_forward", x, 0))).toEqual([0.5, 0.5, 1, Math.fround(Math.exp(-50)), 1, 0]);
    const g = unary(engine, "gelu_forward", x, 0);
    expect([g[0], g[2], g[4]]).toEqual([0, 50, 1e4]);
    expect(Math.abs(g[3]!)).toBe(0);
    // gelu'(x) is finite everywhere: 1 for large x, 0 for very negative x.
    const dx = backward(engine, "gelu_backward", new Float32Array(6).fill(1), x, 0);
    expect(Array.from(dx)).toEqual([0.5, 0.5, 1, 0, 1, 0]);
  });
});
