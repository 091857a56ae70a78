/**
 * int8 products on i16 panels (assembly/int8-panels.ts): pack_panels_i16 against the layout
 * written out in JavaScript; gemm_i8_panels against its `_ref` twin, gemm_i8_nt and exact
 * integer math bit for bit, at sizes below, at and above the 4-channel panel, the 8-input
 * block and the 16-input step, with odd strides, unaligned offsets and untouched padding;
 * the dequantized result against float64; the relaxed build gives the same integers.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../../src/index.js";
import { EXACT_BUILDS, loadBuild, relaxedAvailable, type BuildName } from "../helpers/engines.js";
import { expectClose } from "../helpers/compare.js";
import { TestRandom } from "../helpers/rand.js";

type Kernels = Record<string, (...args: number[]) => number>;
const kernels = (engine: Engine) => engine.kernels as unknown as Kernels;

/** Around the panel (4 channels), the block (8 inputs) and the unrolled step (16 inputs). */
const CHANNELS = [1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 17];
const DEPTHS = [1, 2, 7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 32, 33, 40, 129];

/** int8 values in [−128, 127], with the extremes sprinkled in. */
function int8s(n: number, seed: number): Int8Array {
  const r = new TestRandom(seed);
  const out = new Int8Array(n);
  for (let i = 0; i < n; i++) out[i] = i % 7 === 0 ? (i % 2 ? -128 : 127) : Math.floor(r.next() * 256) - 128;
  return out;
}

/** The panel layout of assembly/int8-panels.ts, element by element. */
function panels64(w: Int8Array, n: number, k: number, ldw: number): Int16Array {
  const n4 = Math.ceil(n / 4) * 4;
  const k8 = Math.ceil(k / 8) * 8;
  const out = new Int16Array(n4 * k8);
  for (let j = 0; j < n4; j++)
    for (let p = 0; p < k8; p++) {
      const at = (Math.floor(j / 4) * (k8 / 8) + Math.floor(p / 8)) * 32 + (j % 4) * 8 + (p % 8);
      out[at] = j < n && p < k ? w[j * ldw + p]! : 0;
    }
  return out;
}

interface Case {
  rows: number;
  n: number;
  k: number;
  ldx: number;
  ldw: number;
  ldy: number;
  off: number;
}

/** pack_panels_i16 then the named product; y (rows, ldy) int32, its padding started at −7. */
function product(engine: Engine, name: "gemm_i8_panels" | "gemm_i8_panels_ref" | "gemm_i8_nt", c: Case, x: Int8Array, w: Int8Array): Int32Array {
  const k = kernels(engine);
  return engine.scoped(() => {
    const mem = () => engine.kernels.memory.buffer;
    const xp = engine.alloc(x.length + 32) + c.off;
    const wp = engine.alloc(w.length + 32) + c.off;
    const length = k.panels_i16_length!(c.n, c.k);
    const pp = engine.alloc(length * 2 + 32);
    const yp = engine.alloc(c.rows * c.ldy * 4 + 32) + 4 * (c.off % 2);
    new Int8Array(mem(), xp, x.length).set(x);
    new Int8Array(mem(), wp, w.length).set(w);
    engine.i32(yp, c.rows * c.ldy).fill(-7);
    if (name === "gemm_i8_nt") k.gemm_i8_nt!(yp, xp, wp, c.rows, c.n, c.k, c.ldx, c.ldw, c.ldy);
    else {
      k.pack_panels_i16!(pp, wp, c.n, c.k, c.ldw);
      k[name]!(yp, xp, pp, c.rows, c.n, c.k, c.ldx, c.ldy);
    }
    return engine.i32(yp, c.rows * c.ldy).slice();
  });
}

/** The same product in JavaScript (exact: every sum is far below 2⁵³), padding −7. */
function product64(c: Case, x: Int8Array, w: Int8Array): Int32Array {
  const y = new Int32Array(c.rows * c.ldy).fill(-7);
  for (let i = 0; i < c.rows; i++)
    for (let j = 0; j < c.n; j++) {
      let s = 0;
      for (let p = 0; p < c.k; p++) s += x[i * c.ldx + p]! * w[j * c.ldw + p]!;
      y[i * c.ldy + j] = s;
    }
  return y;
}

function cases(): Case[] {
  const out: Case[] = [];
  for (const n of CHANNELS)
    for (const k of DEPTHS) {
      out.push({ rows: 1, n, k, ldx: k, ldw: k, ldy: n, off: 0 });
      out.push({ rows: 3, n, k, ldx: k + 3, ldw: k + 5, ldy: n + 1, off: 1 });
    }
  for (const rows of [2, 4, 5]) out.push({ rows, n: 13, k: 33, ldx: 37, ldw: 34, ldy: 15, off: 3 });
  out.push({ rows: 1, n: 800, k: 784, ldx: 784, ldw: 784, ldy: 800, off: 0 }); // the MNIST MLP's first layer
  return out;
}

describe.each(EXACT_BUILDS)("int8 panel kernels (%s build)", (build: BuildName) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await loadBuild(build);
  });

  it("pack_panels_i16 writes the documented layout, zeros in every padding", () => {
    let seed = 1;
    for (const n of CHANNELS)
      for (const k of DEPTHS) {
        const ldw = k + (n % 3);
        const w = int8s(n * ldw, seed++);
        const k_ = kernels(engine);
        const length = k_.panels_i16_length!(n, k);
        expect(length, `n ${n} k ${k}`).toBe(Math.ceil(n / 4) * 4 * Math.ceil(k / 8) * 8);
        const got = engine.scoped(() => {
          const wp = engine.alloc(w.length + 16) + 1;
          const pp = engine.alloc(length * 2 + 16);
          new Int8Array(engine.kernels.memory.buffer, wp, w.length).set(w);
          new Int16Array(engine.kernels.memory.buffer, pp, length + 4).fill(-999); // 4 past the end must stay
          k_.pack_panels_i16!(pp, wp, n, k, ldw);
          return new Int16Array(engine.kernels.memory.buffer, pp, length + 4).slice();
        });
        expect(Array.from(got.subarray(0, length)), `n ${n} k ${k}`).toEqual(Array.from(panels64(w, n, k, ldw)));
        expect(Array.from(got.subarray(length))).toEqual([-999, -999, -999, -999]);
      }
  });

  it("gemm_i8_panels equals gemm_i8_panels_ref, gemm_i8_nt and exact integer math, with strides, offsets and untouched padding", () => {
    let seed = 1000;
    for (const c of cases()) {
      const x = int8s(c.rows * c.ldx, seed++);
      const w = int8s(c.n * c.ldw, seed++);
      const what = `rows ${c.rows} n ${c.n} k ${c.k} ld ${c.ldx}/${c.ldw}/${c.ldy}`;
      const fast = Array.from(product(engine, "gemm_i8_panels", c, x, w));
      expect(fast, what).toEqual(Array.from(product(engine, "gemm_i8_panels_ref", c, x, w)));
      expect(fast, what).toEqual(Array.from(product(engine, "gemm_i8_nt", c, x, w)));
      expect(fast, what).toEqual(Array.from(product64(c, x, w)));
    }
  });

  it("gemm_i8_panels at the extremes: −128·−128 over a long depth", () => {
    const c: Case = { rows: 1, n: 5, k: 4099, ldx: 4099, ldw: 4099, ldy: 5, off: 0 };
    const x = new Int8Array(4099).fill(-128);
    const w = new Int8Array(5 * 4099).fill(-128);
    w.fill(127, 4099, 2 * 4099);
    const fast = product(engine, "gemm_i8_panels", c, x, w);
    expect(fast[0]).toBe(4099 * 16384);
    expect(fast[1]).toBe(-4099 * 128 * 127);
    expect(Array.from(fast)).toEqual(Array.from(product64(c, x, w)));
  });

  it("quantize_i8 → gemm_i8_panels → dequantize_i32 matches float64 math on the quantized values", () => {
    const k_ = kernels(engine);
    const r = new TestRandom(77);
    for (const [n, k] of [
      [10, 33],
      [13, 100],
      [32, 784],
    ] as const) {
      const xf = r.normal(k, 1);
      const w = int8s(n * k, n + k).map((v) => Math.max(v, -127));
      const ws = r.uniform(n, 1e-3, 1e-2);
      const bias = r.normal(n, 0.5);
      const xs = 0.02;
      const { y, q } = engine.scoped(() => {
        const xp = engine.alloc(k * 4);
        const qp = engine.alloc(k + 16);
        const wp = engine.alloc(n * k + 16);
        const pp = engine.alloc(k_.panels_i16_length!(n, k) * 2);
        const ap = engine.alloc(n * 4);
        const sp = engine.alloc(n * 4);
        const bp = engine.alloc(n * 4);
        const yp = engine.alloc(n * 4);
        engine.f32(xp, k).set(xf);
        new Int8Array(engine.kernels.memory.buffer, wp, n * k).set(w);
        engine.f32(sp, n).set(ws);
        engine.f32(bp, n).set(bias);
        k_.quantize_i8!(qp, xp, k, xs);
        k_.pack_panels_i16!(pp, wp, n, k, k);
        k_.gemm_i8_panels!(ap, qp, pp, 1, n, k, k, n);
        k_.dequantize_i32!(yp, ap, sp, bp, 1, n, xs, 0);
        return { y: engine.readF32(yp, n), q: new Int8Array(engine.kernels.memory.buffer, qp, k).slice() };
      });
      const want = new Float64Array(n);
      const size = new Float64Array(n);
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += q[p]! * Math.fround(xs) * (w[j * k + p]! * ws[j]!);
        want[j] = s + bias[j]!;
        size[j] = Math.abs(s) + Math.abs(bias[j]!);
      }
      // the integer sum is exact; the f32 conversion, the scale product, the multiply and the add round once each
      expectClose(y, want, { rtol: 4 * 2 ** -24, atol: 0 }, `n ${n} k ${k}`, size);
    }
  });
});

describe.runIf(relaxedAvailable)("int8 panel kernels in the relaxed build", () => {
  it("give the release build's integers", async () => {
    const [release, relaxed] = await Promise.all([loadBuild("release"), loadBuild("relaxed")]);
    const c: Case = { rows: 3, n: 33, k: 129, ldx: 131, ldw: 130, ldy: 34, off: 1 };
    const x = int8s(c.rows * c.ldx, 7);
    const w = int8s(c.n * c.ldw, 8);
    expect(Array.from(product(relaxed, "gemm_i8_panels", c, x, w))).toEqual(Array.from(product(release, "gemm_i8_panels", c, x, w)));
  });
});
