/**
 * int8 kernels (assembly/int8.ts): gemm_i8_nt, dequantize_i32, dequantize_i32_rows and quantize_i8 against their
 * `_ref` twins bit for bit, at sizes below, at and above the SIMD widths (4 int32 lanes, 16
 * int8 lanes) and the 4-output tile, with odd strides and unaligned offsets; against exact
 * integer math in JavaScript and float64 for the dequantised values; the relaxed build
 * gives the same integers (no relaxed instruction is used).
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../../src/index.js";
import { EXACT_BUILDS, loadBuild, relaxedAvailable, type BuildName } from "../helpers/engines.js";
import { expectClose, expectSameBits } from "../helpers/compare.js";
import { TestRandom } from "../helpers/rand.js";

const SIZES = [1, 3, 4, 5, 7, 8, 15, 16, 17, 31, 33, 129];
type Kernels = Record<string, (...args: number[]) => void>;

/** int8 values in [−128, 127], with the extremes sprinkled in. */
function int8s(n: number, seed: number): Int8Array {
  const r = new TestRandom(seed);
  const out = new Int8Array(n);
  for (let i = 0; i < n; i++) out[i] = i % 7 === 0 ? (i % 2 ? -128 : 127) : Math.floor(r.next() * 256) - 128;
  return out;
}

interface GemmCase {
  rows: number;
  n: number;
  k: number;
  ldx: number;
  ldw: number;
  ldy: number;
  xOff: number;
  wOff: number;
  yOff: number;
}

/** y (rows, ldy) int32 of gemm_i8_nt(_ref) on x (rows, ldx) and w (n, ldw) placed at byte offsets past aligned allocations. */
function gemm(engine: Engine, name: string, c: GemmCase, x: Int8Array, w: Int8Array): Int32Array {
  return engine.scoped(() => {
    const xp = engine.alloc(x.length + 32) + c.xOff;
    const wp = engine.alloc(w.length + 32) + c.wOff;
    const yp = engine.alloc(c.rows * c.ldy * 4 + 32) + c.yOff;
    new Int8Array(engine.kernels.memory.buffer, xp, x.length).set(x);
    new Int8Array(engine.kernels.memory.buffer, wp, w.length).set(w);
    engine.i32(yp, c.rows * c.ldy).fill(-7); // the padding between rows must stay untouched
    (engine.kernels as unknown as Kernels)[name]!(yp, xp, wp, c.rows, c.n, c.k, c.ldx, c.ldw, c.ldy);
    return engine.i32(yp, c.rows * c.ldy).slice();
  });
}

/** The same product in JavaScript (exact: every sum is far below 2⁵³). */
function gemm64(c: GemmCase, x: Int8Array, w: Int8Array): Int32Array {
  const y = new Int32Array(c.rows * c.ldy).fill(-7);
  for (let i = 0; i < c.rows; i++) {
    for (let j = 0; j < c.n; j++) {
      let s = 0;
      for (let p = 0; p < c.k; p++) s += x[i * c.ldx + p]! * w[j * c.ldw + p]!;
      y[i * c.ldy + j] = s;
    }
  }
  return y;
}

function gemmCases(): GemmCase[] {
  const cases: GemmCase[] = [];
  const add = (rows: number, n: number, k: number, pad: boolean) =>
    cases.push({
      rows,
      n,
      k,
      ldx: k + (pad ? 3 : 0),
      ldw: k + (pad ? 5 : 0),
      ldy: n + (pad ? 1 : 0),
      xOff: pad ? 1 : 0,
      wOff: pad ? 3 : 0,
      yOff: pad ? 4 : 0,
    });
  for (const s of SIZES) {
    add(s, s, s, false);
    add(s, s, s, true);
    add(3, 5, s, true); // every depth against a small tile
    add(2, s, 17, true); // every width
    add(s, 7, 33, false); // every row count
  }
  return cases;
}

/** Round half to even of a float64 (JavaScript's Math.round rounds half up). */
function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** What quantize_i8 must give: the f32 quotient (float64 division of f32 values rounds to the f32 quotient exactly), rounded, clamped. */
function quantize64(x: Float32Array, scale: number): Int8Array {
  return Int8Array.from(x, (v) => (Number.isNaN(v) ? 0 : Math.min(127, Math.max(-127, roundHalfEven(Math.fround(v / scale))))));
}

function quantize(engine: Engine, name: string, x: Float32Array, scale: number, offset: number): Int8Array {
  return engine.scoped(() => {
    const xp = engine.alloc(x.length * 4 + 32) + offset;
    const qp = engine.alloc(x.length + 32) + (offset ? 1 : 0);
    engine.f32(xp, x.length).set(x);
    (engine.kernels as unknown as Kernels)[name]!(qp, xp, x.length, scale);
    return new Int8Array(engine.kernels.memory.buffer, qp, x.length).slice();
  });
}

/**
 * dequantize_i32(_ref) on acc (rows, ws.length), or with `rowsOfScales` dequantize_i32_rows(_ref)
 * on acc (rowsOfScales, width) with one scale and bias per row: the second dimension is then
 * `rows` (here the row length). The scales and bias are ws.length long either way.
 */
function dequantize(
  engine: Engine,
  name: string,
  acc: Int32Array,
  ws: Float32Array,
  bias: Float32Array | undefined,
  rows: number,
  xs: number,
  relu: number,
  offset: number,
  rowsOfScales?: number,
): Float32Array {
  const n = ws.length;
  return engine.scoped(() => {
    const ap = engine.alloc(acc.length * 4 + 32) + offset;
    const sp = engine.alloc(n * 4 + 32) + offset;
    const bp = bias ? engine.alloc(n * 4 + 32) + offset : 0;
    const yp = engine.alloc(acc.length * 4 + 32) + offset;
    engine.i32(ap, acc.length).set(acc);
    engine.f32(sp, n).set(ws);
    if (bias) engine.f32(bp, n).set(bias);
    const [r, c] = rowsOfScales === undefined ? [rows, n] : [rowsOfScales, rows];
    (engine.kernels as unknown as Kernels)[name]!(yp, ap, sp, bp, r, c, xs, relu);
    return engine.readF32(yp, acc.length);
  });
}

describe.each(EXACT_BUILDS)("int8 kernels (%s build)", (build: BuildName) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await loadBuild(build);
  });

  it("gemm_i8_nt equals gemm_i8_nt_ref and exact integer math, with strides, offsets and untouched padding", () => {
    let seed = 1;
    for (const c of gemmCases()) {
      const x = int8s(c.rows * c.ldx, seed++);
      const w = int8s(c.n * c.ldw, seed++);
      const fast = gemm(engine, "gemm_i8_nt", c, x, w);
      const ref = gemm(engine, "gemm_i8_nt_ref", c, x, w);
      const what = `rows ${c.rows} n ${c.n} k ${c.k} ld ${c.ldx}/${c.ldw}/${c.ldy}`;
      expect(Array.from(fast), what).toEqual(Array.from(ref));
      expect(Array.from(fast), what).toEqual(Array.from(gemm64(c, x, w)));
    }
  });

  it("gemm_i8_nt at the extremes: −128·−128 over a long depth", () => {
    const c: GemmCase = { rows: 2, n: 5, k: 4099, ldx: 4099, ldw: 4099, ldy: 5, xOff: 0, wOff: 0, yOff: 0 };
    const x = new Int8Array(2 * 4099).fill(-128);
    const w = new Int8Array(5 * 4099).fill(-128);
    w.fill(127, 4099, 2 * 4099);
    const fast = gemm(engine, "gemm_i8_nt", c, x, w);
    expect(fast[0]).toBe(4099 * 16384);
    expect(fast[1]).toBe(-4099 * 128 * 127);
    expect(Array.from(fast)).toEqual(Array.from(gemm(engine, "gemm_i8_nt_ref", c, x, w)));
  });

  it("quantize_i8 equals quantize_i8_ref and rounds half to even, saturating at ±127", () => {
    const scale = 0.25;
    const special = [0, -0, 0.125, -0.125, 0.375, 0.625, -0.625, 31.625, 31.875, 200, -200, 31.74, -31.76, Infinity, -Infinity, NaN, 1e-40];
    let seed = 100;
    for (const n of [...SIZES, 257]) {
      for (const offset of [0, 4, 12]) {
        const x = new TestRandom(seed++).normal(n, 12);
        for (let i = 0; i < n; i += 3) x[i] = special[(i / 3 + seed) % special.length]!;
        const fast = quantize(engine, "quantize_i8", x, scale, offset);
        expect(Array.from(fast), `n ${n}`).toEqual(Array.from(quantize(engine, "quantize_i8_ref", x, scale, offset)));
        expect(Array.from(fast), `n ${n}`).toEqual(Array.from(quantize64(x, scale)));
      }
    }
    // ties: 0.5 → 0, 1.5 → 2, 2.5 → 2, −2.5 → −2, 126.5 → 126, 127.5 → 127 (clamped)
    const ties = new Float32Array([0.5, 1.5, 2.5, -2.5, 126.5, 127.5, -127.5, 3.5, -0.5, 0.49999997, 0, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(quantize(engine, "quantize_i8", ties, 1, 0)).slice(0, 10)).toEqual([0, 2, 2, -2, 126, 127, -127, 4, 0, 0]);
  });

  it("dequantize_i32 equals dequantize_i32_ref, and float64 math within 3 roundings", () => {
    let seed = 200;
    for (const n of SIZES) {
      for (const rows of [1, 3, 5]) {
        for (const [hasBias, relu] of [
          [true, 0],
          [true, 1],
          [false, 0],
          [false, 1],
        ] as const) {
          const r = new TestRandom(seed++);
          const acc = Int32Array.from({ length: rows * n }, () => Math.floor((r.next() - 0.5) * 2 ** 22));
          acc[0] = 2 ** 24 + 1; // not exact in f32: the conversion must round the same way in both
          const ws = r.uniform(n, 1e-4, 2e-2);
          const bias = hasBias ? r.normal(n, 2) : undefined;
          const xs = 0.0123;
          const fast = dequantize(engine, "dequantize_i32", acc, ws, bias, rows, xs, relu, 4);
          expectSameBits(fast, dequantize(engine, "dequantize_i32_ref", acc, ws, bias, rows, xs, relu, 4), `n ${n} rows ${rows}`);
          const want = new Float64Array(acc.length);
          const size = new Float64Array(acc.length);
          for (let i = 0; i < acc.length; i++) {
            const j = i % n;
            const v = acc[i]! * Math.fround(xs) * ws[j]! + (bias ? bias[j]! : 0);
            want[i] = relu ? Math.max(v, 0) : v;
            size[i] = Math.abs(acc[i]! * xs * ws[j]!) + Math.abs(bias ? bias[j]! : 0);
          }
          expectClose(fast, want, { rtol: 4 * 2 ** -24, atol: 0 }, `n ${n} rows ${rows}`, size);
        }
      }
    }
  });

  it("dequantize_i32_rows equals its _ref twin, and dequantize_i32 on the transposed sums bit for bit", () => {
    let seed = 400;
    for (const n of SIZES) {
      for (const rows of [1, 3, 8]) {
        for (const [hasBias, relu] of [
          [true, 0],
          [true, 1],
          [false, 0],
          [false, 1],
        ] as const) {
          const r = new TestRandom(seed++);
          // acc (rows, n): a scale and bias per row; its transpose (n, rows) for dequantize_i32's per-column ones
          const acc = Int32Array.from({ length: rows * n }, () => Math.floor((r.next() - 0.5) * 2 ** 22));
          acc[0] = 2 ** 24 + 1;
          const ws = r.uniform(rows, 1e-4, 2e-2);
          const bias = hasBias ? r.normal(rows, 2) : undefined;
          const xs = 0.0123;
          const fast = dequantize(engine, "dequantize_i32_rows", acc, ws, bias, n, xs, relu, 4, rows);
          const what = `n ${n} rows ${rows}`;
          expectSameBits(fast, dequantize(engine, "dequantize_i32_rows_ref", acc, ws, bias, n, xs, relu, 4, rows), what);
          const accT = new Int32Array(rows * n);
          for (let i = 0; i < rows; i++) for (let j = 0; j < n; j++) accT[j * rows + i] = acc[i * n + j]!;
          const viaColumns = dequantize(engine, "dequantize_i32", accT, ws, bias, n, xs, relu, 0);
          const back = new Float32Array(rows * n);
          for (let i = 0; i < rows; i++) for (let j = 0; j < n; j++) back[i * n + j] = viaColumns[j * rows + i]!;
          expectSameBits(fast, back, what);
        }
      }
    }
  });
});

describe.runIf(relaxedAvailable)("int8 kernels in the relaxed build", () => {
  it("give the release build's integers and floats", async () => {
    const [release, relaxed] = await Promise.all([loadBuild("release"), loadBuild("relaxed")]);
    const c: GemmCase = { rows: 17, n: 33, k: 129, ldx: 131, ldw: 130, ldy: 34, xOff: 1, wOff: 2, yOff: 4 };
    const x = int8s(c.rows * c.ldx, 7);
    const w = int8s(c.n * c.ldw, 8);
    expect(Array.from(gemm(relaxed, "gemm_i8_nt", c, x, w))).toEqual(Array.from(gemm(release, "gemm_i8_nt", c, x, w)));
    const v = new TestRandom(9).normal(257, 20);
    expect(Array.from(quantize(relaxed, "quantize_i8", v, 0.3, 4))).toEqual(Array.from(quantize(release, "quantize_i8", v, 0.3, 4)));
    const acc = Int32Array.from({ length: 5 * 33 }, (_, i) => ((i * 7919) % 100003) - 50000);
    const ws = new TestRandom(10).uniform(33, 1e-3, 1e-2);
    const bias = new TestRandom(11).normal(33);
    expectSameBits(dequantize(relaxed, "dequantize_i32", acc, ws, bias, 5, 0.07, 1, 0), dequantize(release, "dequantize_i32", acc, ws, bias, 5, 0.07, 1, 0));
  });
});
