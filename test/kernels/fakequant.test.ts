/**
 * Fake-quantization kernels (assembly/fakequant.ts) and im2row_i8 (assembly/int8.ts):
 * fast against `_ref` bit for bit at sizes below, at and above the SIMD width (4 lanes) with
 * unaligned offsets and odd row lengths; against float64 arithmetic in JavaScript (each
 * kernel is one IEEE operation per step, so the comparison is exact); against PyTorch's
 * fake_quantize_per_tensor_affine / per_channel_affine forward and backward and its
 * MovingAverageMinMaxObserver (test/fixtures/make_fakequant_fixtures.py).
 */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../../src/index.js";
import { EXACT_BUILDS, loadBuild, type BuildName } from "../helpers/engines.js";
import { expectSameBits } from "../helpers/compare.js";
import { TestRandom } from "../helpers/rand.js";

const SIZES = [1, 3, 4, 5, 7, 8, 17, 64, 129, 257];
type Kernels = Record<string, (...args: number[]) => number>;

interface Fixtures {
  tensor: { n: number; scale: number; x: number[]; dy: number[]; y: number[]; dx: number[] }[];
  channels: { channels: number; size: number; scales: number[]; x: number[]; dy: number[]; y: number[]; dx: number[] }[];
  observer: { n: number; batches: number[][]; min: number[]; max: number[]; scale: number[] }[];
}
const FIXTURES = JSON.parse(readFileSync(new URL("../fixtures/fakequant-fixtures.json", import.meta.url), "utf8")) as Fixtures;

function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** The int8 code the kernels give: the f32 quotient (float64 division of f32 values rounds to it exactly), rounded half to even. */
const code = (x: number, s: number) => roundHalfEven(Math.fround(x / s));
const clamp = (q: number) => Math.min(127, Math.max(-127, q));
/** PyTorch's code: x times the f32 reciprocal of the scale. */
const torchCode = (x: number, s: number) => roundHalfEven(Math.fround(x * Math.fround(1 / s)));

/** Values spread over about ±150 steps of `scale`, with exact ties, zeros and −0. */
function values(n: number, scale: number, seed: number): Float32Array {
  const r = new TestRandom(seed);
  const x = r.normal(n, 60 * scale);
  for (let i = 0; i < n; i += 4) x[i] = (((i * 13) % 300) - 150 + 0.5) * scale;
  for (let i = 2; i < n; i += 9) x[i] = i % 2 ? -0 : 0;
  return x;
}

describe.each(EXACT_BUILDS)("fake-quantization kernels (%s build)", (build: BuildName) => {
  let engine: Engine;
  let k: Kernels;
  beforeAll(async () => {
    engine = await loadBuild(build);
    k = engine.kernels as unknown as Kernels;
  });

  /** Runs a kernel on copies of the arrays placed `offset` bytes past aligned allocations; returns the first array after the call. */
  function run(name: string, offset: number, arrays: Float32Array[], scalars: number[]): Float32Array {
    return engine.scoped(() => {
      const ptrs = arrays.map((a) => {
        const p = engine.alloc(a.length * 4 + 32) + offset;
        engine.f32(p, a.length).set(a);
        return p;
      });
      k[name]!(...ptrs, ...scalars);
      return engine.f32(ptrs[0]!, arrays[0]!.length).slice();
    });
  }

  it("fake_quant_tensor_forward / _backward equal their twins and exact float64 math", () => {
    let seed = 1;
    for (const n of SIZES) {
      for (const offset of [0, 4, 12]) {
        const scale = Math.fround(0.0173 * (1 + (n % 5)));
        const x = values(n, scale, seed++);
        const dy = new TestRandom(seed++).normal(n);
        const y = run("fake_quant_tensor_forward", offset, [new Float32Array(n).fill(NaN), x], [n, scale]);
        expectSameBits(y, run("fake_quant_tensor_forward_ref", offset, [new Float32Array(n).fill(NaN), x], [n, scale]), `forward n ${n}`);
        expectSameBits(
          y,
          Float32Array.from(x, (v) => clamp(code(v, scale)) * scale + 0),
          `forward n ${n} vs float64`,
        );
        const dx = run("fake_quant_tensor_backward", offset, [new Float32Array(n).fill(NaN), dy, x], [n, scale]);
        expectSameBits(dx, run("fake_quant_tensor_backward_ref", offset, [new Float32Array(n).fill(NaN), dy, x], [n, scale]), `backward n ${n}`);
        const q = Array.from(x, (v) => code(v, scale));
        expectSameBits(
          dx,
          Float32Array.from(dy, (g, i) => g * (Math.abs(q[i]!) <= 127 ? 1 : 0)),
          `backward n ${n} vs float64`,
        );
      }
    }
    // ties round to even; ±127.5 steps clamp and stop the gradient
    const ties = new Float32Array([0.5, 1.5, 2.5, -2.5, 126.5, 127.5, -127.5, -128]);
    expect(Array.from(run("fake_quant_tensor_forward", 0, [new Float32Array(8), ties], [8, 1]))).toEqual([0, 2, 2, -2, 126, 127, -127, -127]);
    expect(Array.from(run("fake_quant_tensor_backward", 0, [new Float32Array(8), new Float32Array(8).fill(1), ties], [8, 1]))).toEqual([
      1, 1, 1, 1, 1, 0, 0, 0,
    ]);
  });

  it("the backward kernels work in place (dx aliasing dy)", () => {
    const n = 37;
    const scale = 0.05;
    const x = values(n, scale, 9);
    const dy = new TestRandom(10).normal(n);
    const separate = run("fake_quant_tensor_backward", 4, [new Float32Array(n), dy, x], [n, scale]);
    const inPlace = engine.scoped(() => {
      const g = engine.alloc(n * 4);
      const xp = engine.alloc(n * 4);
      engine.f32(g, n).set(dy);
      engine.f32(xp, n).set(x);
      k.fake_quant_tensor_backward!(g, g, xp, n, scale);
      return engine.f32(g, n).slice();
    });
    expectSameBits(inPlace, separate);
  });

  it("fake_quant_channels_forward / _backward equal their twins and exact float64 math, rows of every length", () => {
    let seed = 100;
    for (const size of SIZES) {
      for (const channels of [1, 3, 5]) {
        const offset = (size + channels) % 3 === 0 ? 4 : 0;
        const scales = new TestRandom(seed++).uniform(channels, 0.001, 0.05);
        const x = new Float32Array(channels * size);
        for (let c = 0; c < channels; c++) x.set(values(size, scales[c]!, seed++), c * size);
        const dy = new TestRandom(seed++).normal(channels * size);
        const out = () => new Float32Array(channels * size).fill(NaN);
        const what = `channels ${channels} size ${size}`;
        const y = run("fake_quant_channels_forward", offset, [out(), x, scales], [channels, size]);
        expectSameBits(y, run("fake_quant_channels_forward_ref", offset, [out(), x, scales], [channels, size]), what);
        expectSameBits(
          y,
          Float32Array.from(x, (v, i) => clamp(code(v, scales[Math.floor(i / size)]!)) * scales[Math.floor(i / size)]! + 0),
          `${what} float64`,
        );
        const dx = run("fake_quant_channels_backward", offset, [out(), dy, x, scales], [channels, size]);
        expectSameBits(dx, run("fake_quant_channels_backward_ref", offset, [out(), dy, x, scales], [channels, size]), what);
        expectSameBits(
          dx,
          Float32Array.from(dy, (g, i) => g * (Math.abs(code(x[i]!, scales[Math.floor(i / size)]!)) <= 127 ? 1 : 0)),
          `${what} float64`,
        );
      }
    }
  });

  it("channel_scales equals its twin and max |row| / 127 (1 for a row of zeros), as quantize()'s weight scales", () => {
    let seed = 200;
    for (const size of SIZES) {
      for (const channels of [1, 2, 7]) {
        const x = new TestRandom(seed++).normal(channels * size, 0.3);
        if (channels > 1) x.fill(0, size, 2 * size); // a row of zeros
        if (size > 5) x[size - 1] = -4; // the maximum in the tail, negative
        const s = run("channel_scales", 4, [new Float32Array(channels).fill(NaN), x], [channels, size]);
        expectSameBits(s, run("channel_scales_ref", 4, [new Float32Array(channels).fill(NaN), x], [channels, size]), `size ${size}`);
        const want = Float32Array.from({ length: channels }, (_, c) => {
          let m = 0;
          for (let p = 0; p < size; p++) m = Math.max(m, Math.abs(x[c * size + p]!));
          const v = Math.fround(m / 127);
          return v > 0 ? v : 1;
        });
        expectSameBits(s, want, `size ${size} float64`);
      }
    }
  });

  it("observe_range equals its twin and the moving average in f32, batch after batch", () => {
    for (const n of SIZES) {
      const momentum = Math.fround(0.01);
      const run2 = (name: string) =>
        engine.scoped(() => {
          const state = engine.alloc(16);
          engine.f32(state, 2).set([Infinity, -Infinity]);
          const out: number[] = [];
          for (let b = 0; b < 4; b++) {
            const x = new TestRandom(n * 10 + b).normal(n, 1 + b);
            const p = engine.alloc(n * 4 + 16) + 4;
            engine.f32(p, n).set(x);
            out.push(k[name]!(state, p, n, momentum), ...engine.f32(state, 2));
          }
          return out;
        });
      const fast = run2("observe_range");
      expect(fast, `n ${n}`).toEqual(run2("observe_range_ref"));
      let mn = Infinity;
      let mx = -Infinity;
      const want: number[] = [];
      for (let b = 0; b < 4; b++) {
        const x = new TestRandom(n * 10 + b).normal(n, 1 + b);
        const lo = Math.min(...x);
        const hi = Math.max(...x);
        if (b === 0) [mn, mx] = [lo, hi];
        else {
          mn = Math.fround(mn + Math.fround(momentum * Math.fround(lo - mn)));
          mx = Math.fround(mx + Math.fround(momentum * Math.fround(hi - mx)));
        }
        want.push(Math.max(Math.fround(Math.max(-Math.min(mn, 0), Math.max(mx, 0)) / 127), Math.fround(2 ** -23)), mn, mx);
      }
      expect(fast, `n ${n} float64`).toEqual(want);
    }
  });

  it("match PyTorch's fake_quantize_per_tensor_affine forward and backward (except where x·(1/s) and x/s round apart)", () => {
    let ties = 0;
    for (const c of FIXTURES.tensor) {
      const x = Float32Array.from(c.x);
      const y = run("fake_quant_tensor_forward", 0, [new Float32Array(c.n), x], [c.n, c.scale]);
      const dx = run("fake_quant_tensor_backward", 0, [new Float32Array(c.n), Float32Array.from(c.dy), x], [c.n, c.scale]);
      for (let i = 0; i < c.n; i++) {
        const ours = code(x[i]!, c.scale);
        const theirs = torchCode(x[i]!, c.scale);
        if (ours !== theirs) {
          ties++;
          expect(Math.abs(ours - theirs), `n ${c.n} element ${i}`).toBe(1); // a tie resolved a step apart
          continue;
        }
        expect(y[i], `y n ${c.n} element ${i}`).toBe(Math.fround(c.y[i]!));
        expect(dx[i], `dx n ${c.n} element ${i}`).toBe(Math.fround(c.dx[i]!));
      }
    }
    expect(ties).toBeLessThan(FIXTURES.tensor.reduce((n, c) => n + c.n, 0) / 20);
  });

  it("match PyTorch's fake_quantize_per_channel_affine forward and backward (same exception)", () => {
    let ties = 0;
    for (const c of FIXTURES.channels) {
      const x = Float32Array.from(c.x);
      const scales = Float32Array.from(c.scales);
      const n = c.channels * c.size;
      const y = run("fake_quant_channels_forward", 0, [new Float32Array(n), x, scales], [c.channels, c.size]);
      const dx = run("fake_quant_channels_backward", 0, [new Float32Array(n), Float32Array.from(c.dy), x, scales], [c.channels, c.size]);
      for (let i = 0; i < n; i++) {
        const s = scales[Math.floor(i / c.size)]!;
        if (code(x[i]!, s) !== torchCode(x[i]!, s)) {
          ties++;
          continue;
        }
        expect(y[i], `y ${c.channels}×${c.size} element ${i}`).toBe(Math.fround(c.y[i]!));
        expect(dx[i], `dx ${c.channels}×${c.size} element ${i}`).toBe(Math.fround(c.dx[i]!));
      }
    }
    expect(ties).toBeLessThan(FIXTURES.channels.reduce((n, c) => n + c.channels * c.size, 0) / 20);
  });

  it("observe_range matches PyTorch's MovingAverageMinMaxObserver (symmetric, −127..127) batch by batch", () => {
    for (const c of FIXTURES.observer) {
      engine.scoped(() => {
        const state = engine.alloc(16);
        engine.f32(state, 2).set([Infinity, -Infinity]);
        c.batches.forEach((batch, b) => {
          const p = engine.alloc(c.n * 4);
          engine.f32(p, c.n).set(batch);
          const scale = k.observe_range!(state, p, c.n, Math.fround(0.01));
          const [mn, mx] = engine.f32(state, 2);
          expect([mn, mx, scale], `n ${c.n} batch ${b}`).toEqual([Math.fround(c.min[b]!), Math.fround(c.max[b]!), Math.fround(c.scale[b]!)]);
        });
      });
    }
  });

  it("im2row_i8 gives every patch as a row of ld bytes, zeros in the padding and past the depth", () => {
    const shapes: (readonly [number, number, number, number, number, number, number])[] = [
      // cin, h, w, kh, kw, stride, pad
      [1, 1, 1, 1, 1, 1, 0],
      [1, 5, 5, 3, 3, 1, 0],
      [3, 7, 6, 3, 2, 2, 1],
      [2, 9, 9, 5, 5, 1, 2],
      [4, 8, 5, 1, 3, 3, 0],
      [16, 14, 14, 3, 3, 1, 1],
      [1, 28, 28, 5, 5, 1, 0], // the MNIST CNN's layers
      [8, 12, 12, 3, 3, 1, 0],
    ];
    // kernel widths around the 8-byte copy (7, 8, 9), images as narrow as a patch or a little wider
    for (const kw of [1, 7, 8, 9]) for (const w of [kw, kw + 1, kw + 8]) for (const stride of [1, 3]) shapes.push([2, 3, w, 2, kw, stride, kw % 2]);
    let seed = 300;
    for (const [cin, h, w, kh, kw, stride, pad] of shapes) {
      const oh = Math.floor((h + 2 * pad - kh) / stride) + 1;
      const ow = Math.floor((w + 2 * pad - kw) / stride) + 1;
      const r = new TestRandom(seed++);
      const x = Int8Array.from({ length: cin * h * w }, () => Math.floor(r.next() * 255) - 127);
      const depth = cin * kh * kw;
      for (const ld of [depth, depth + 5, Math.ceil(depth / 16) * 16]) {
        const got = engine.scoped(() => {
          const xp = engine.alloc(x.length + 16) + 1;
          const rp = engine.alloc(oh * ow * ld + 16) + 3;
          new Int8Array(engine.kernels.memory.buffer, xp, x.length).set(x);
          new Int8Array(engine.kernels.memory.buffer, rp, oh * ow * ld + 8).fill(99);
          k.im2row_i8!(rp, xp, cin, h, w, kh, kw, stride, pad, ld);
          return new Int8Array(engine.kernels.memory.buffer, rp, oh * ow * ld + 8).slice();
        });
        const want = new Int8Array(oh * ow * ld + 8).fill(0);
        want.fill(99, oh * ow * ld); // past the last row: untouched
        for (let oy = 0; oy < oh; oy++)
          for (let ox = 0; ox < ow; ox++)
            for (let c = 0; c < cin; c++)
              for (let ky = 0; ky < kh; ky++)
                for (let kx = 0; kx < kw; kx++) {
                  const iy = oy * stride - pad + ky;
                  const ix = ox * stride - pad + kx;
                  const v = iy >= 0 && iy < h && ix >= 0 && ix < w ? x[(c * h + iy) * w + ix]! : 0;
                  want[(oy * ow + ox) * ld + (c * kh + ky) * kw + kx] = v;
                }
        expect(Array.from(got), `${[cin, h, w, kh, kw, stride, pad]} ld ${ld}`).toEqual(Array.from(want));
      }
    }
  });
});
