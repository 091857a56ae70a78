/**
 * The int8 convolution kernels: gemm_i8_conv (assembly/int8-panels.ts: packed i16 weights ·
 * int8 patchesᵀ, channel by channel) against its `_ref` twin, gemm_i8_nt on the same operands
 * and exact integer math, bit for bit, at channel counts around the 2-channel step and the
 * 4-channel panel (1..17), patch counts around the 4-patch tile (1..9 and more), depths below,
 * at and above 8 and 16 and odd (patch rows zero-padded to a multiple of 8, as im2row_i8
 * writes them), with odd strides, unaligned operands and untouched padding;
 * the dequantized sums against float64. maxpool2x2_i32 (assembly/int8-pool.ts) against its
 * twin and a JavaScript loop at widths around its 4-output step and odd sizes, and the claim
 * the int8 runner rests on: pooling the sums and then dequantizing gives
 * dequantize-then-maxpool2d_forward's bits, with and without the ReLU, at a zero scale, at
 * scales whose products underflow or overflow, with ties, and with −0 biases under the ReLU.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { EXACT_BUILDS, loadBuild, relaxedAvailable, type BuildName, type TestEngine } from "../helpers/engines.js";
import { expectClose, expectSameBits } from "../helpers/compare.js";
import { kernelBuffers, NAN_BITS } from "../helpers/kernel-buffers.js";
import { TestRandom } from "../helpers/rand.js";

const CHANNELS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 16, 17];
const PATCHES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 100];
const DEPTHS = [1, 3, 7, 8, 9, 15, 16, 17, 25, 33, 72];

/** int8 values in [−128, 127], with the extremes sprinkled in. */
function int8s(n: number, seed: number): Int8Array {
  const r = new TestRandom(seed);
  const out = new Int8Array(n);
  for (let i = 0; i < n; i++) out[i] = i % 7 === 0 ? (i % 2 ? -128 : 127) : Math.floor(r.next() * 256) - 128;
  return out;
}

interface ConvCase {
  n: number;
  cols: number;
  /** the weight's depth; gemm_i8_conv runs k8 = depth rounded up to 8 over x's zero-padded rows */
  depth: number;
  ldx: number;
  ldw: number;
  ldy: number;
  /** byte offset of x and w past an aligned allocation */
  off: number;
}

const k8 = (depth: number) => Math.ceil(depth / 8) * 8;

/** x (cols, ldx) int8 as im2row_i8 writes it: columns depth..k8−1 zeros, the rest random (ldx − k8 columns of padding). */
function patches(c: ConvCase, seed: number): Int8Array {
  return int8s(c.cols * c.ldx, seed).map((v, i) => (i % c.ldx >= c.depth && i % c.ldx < k8(c.depth) ? 0 : v));
}

/** y (n, ldy) int32 of one product: the padding between rows starts (and must stay) NaN bits. */
function product(
  engine: TestEngine,
  name: "gemm_i8_conv" | "gemm_i8_conv_ref" | "gemm_i8_nt",
  c: ConvCase,
  x: Int8Array,
  w: Int8Array,
  misaligned: boolean,
): Int32Array {
  const k = engine.kernels;
  return engine.scoped(() => {
    const buffers = kernelBuffers(engine, { misaligned });
    const xp = engine.alloc(x.length + 32) + c.off;
    const wp = engine.alloc(w.length + 32) + c.off;
    new Int8Array(k.memory.buffer, xp, x.length).set(x);
    new Int8Array(k.memory.buffer, wp, w.length).set(w);
    const yp = buffers.output(c.n * c.ldy);
    if (name === "gemm_i8_nt") k.gemm_i8_nt(yp, wp, xp, c.n, c.cols, c.depth, c.ldw, c.ldx, c.ldy);
    else {
      const pp = engine.alloc(k.panels_i16_length(c.n, c.depth) * 2);
      k.pack_panels_i16(pp, wp, c.n, c.depth, c.ldw);
      k[name](yp, pp, xp, c.n, c.cols, k8(c.depth), c.ldx, c.ldy);
    }
    return buffers.readI32(yp, c.n * c.ldy, name);
  });
}

/** The same product in JavaScript (exact: every sum is far below 2⁵³); padding as NaN bits. */
function product64(c: ConvCase, x: Int8Array, w: Int8Array): Int32Array {
  const y = new Int32Array(c.n * c.ldy).fill(NAN_BITS);
  for (let j = 0; j < c.n; j++)
    for (let i = 0; i < c.cols; i++) {
      let s = 0;
      for (let p = 0; p < c.depth; p++) s += w[j * c.ldw + p]! * x[i * c.ldx + p]!;
      y[j * c.ldy + i] = s;
    }
  return y;
}

function convCases(): ConvCase[] {
  const out: ConvCase[] = [];
  for (const n of CHANNELS)
    for (const cols of PATCHES)
      for (const depth of DEPTHS) {
        if ((n + cols + depth) % 3 === 0) out.push({ n, cols, depth, ldx: k8(depth), ldw: depth, ldy: cols, off: 0 });
        else out.push({ n, cols, depth, ldx: k8(depth) + 3, ldw: depth + 5, ldy: cols + 1, off: 1 + ((n + depth) % 3) });
      }
  out.push({ n: 8, cols: 576, depth: 25, ldx: 32, ldw: 25, ldy: 576, off: 0 }); // the MNIST CNN's layers
  out.push({ n: 16, cols: 100, depth: 72, ldx: 72, ldw: 72, ldy: 100, off: 0 });
  return out;
}

/** The (h, w) planes' 2×2 max of stride 2 (floor mode), in JavaScript. */
function pool64(x: ArrayLike<number>, planes: number, h: number, w: number): number[] {
  const y: number[] = [];
  for (let pl = 0; pl < planes; pl++)
    for (let oy = 0; oy < Math.floor(h / 2); oy++)
      for (let ox = 0; ox < Math.floor(w / 2); ox++) {
        const at = (pl * h + 2 * oy) * w + 2 * ox;
        y.push(Math.max(x[at]!, x[at + 1]!, x[at + w]!, x[at + w + 1]!));
      }
  return y;
}

/** Pool shapes (planes, h, w): output widths around the 4-output step (1..9, 12), odd rows and columns left out. */
const POOLS: [planes: number, h: number, w: number][] = [
  [1, 2, 2],
  [2, 3, 5],
  [1, 4, 6],
  [3, 5, 7],
  [2, 6, 8],
  [1, 7, 9],
  [2, 4, 10],
  [1, 3, 11],
  [2, 8, 13],
  [1, 5, 14],
  [2, 10, 10],
  [2, 9, 17],
  [1, 6, 18],
  [8, 24, 24],
  [16, 10, 10],
];

/** int32 sums with repeats (ties) and both signs, some far apart. */
function sums(n: number, seed: number): Int32Array {
  const r = new TestRandom(seed);
  return Int32Array.from({ length: n }, (_, i) => (i % 5 === 0 ? Math.floor(r.next() * 7) - 3 : Math.floor((r.next() - 0.5) * 2 ** 20)));
}

describe.each(EXACT_BUILDS)("int8 convolution kernels (%s build)", (build: BuildName) => {
  let engine: TestEngine;
  beforeAll(async () => {
    engine = await loadBuild(build);
  });

  it("gemm_i8_conv equals gemm_i8_conv_ref, gemm_i8_nt on the same operands and exact integer math", () => {
    let seed = 1;
    for (const c of convCases()) {
      const x = patches(c, seed++);
      const w = int8s(c.n * c.ldw, seed++);
      const misaligned = seed % 4 === 1;
      const what = `n ${c.n} cols ${c.cols} depth ${c.depth} ld ${c.ldx}/${c.ldw}/${c.ldy} off ${c.off}`;
      const fast = Array.from(product(engine, "gemm_i8_conv", c, x, w, misaligned));
      expect(fast, what).toEqual(Array.from(product(engine, "gemm_i8_conv_ref", c, x, w, !misaligned)));
      expect(fast, what).toEqual(Array.from(product(engine, "gemm_i8_nt", c, x, w, misaligned)));
      expect(fast, what).toEqual(Array.from(product64(c, x, w)));
    }
  });

  it("gemm_i8_conv at the extremes: −128·−128 over a long depth", () => {
    const c: ConvCase = { n: 3, cols: 5, depth: 4099, ldx: 4104, ldw: 4099, ldy: 5, off: 0 };
    const x = patches(c, 1).fill(-128, 0, 4099);
    for (let i = 1; i < 5; i++) x.fill(-128, i * 4104, i * 4104 + 4099);
    const w = new Int8Array(3 * 4099).fill(-128);
    w.fill(127, 4099, 2 * 4099);
    const fast = product(engine, "gemm_i8_conv", c, x, w, false);
    expect(fast[0]).toBe(4099 * 16384);
    expect(fast[5]).toBe(-4099 * 128 * 127);
    expect(Array.from(fast)).toEqual(Array.from(product64(c, x, w)));
  });

  it("gemm_i8_conv → dequantize_i32_rows matches float64 math on the quantized values", () => {
    const k = engine.kernels;
    const r = new TestRandom(5);
    for (const [n, cols, depth] of [
      [8, 576, 25],
      [16, 100, 72],
      [5, 7, 9],
    ] as const) {
      const d8 = Math.ceil(depth / 8) * 8;
      const x = int8s(cols * d8, n).map((v, i) => (i % d8 < depth ? Math.max(v, -127) : 0));
      const w = int8s(n * depth, cols).map((v) => Math.max(v, -127));
      const ws = r.uniform(n, 1e-3, 1e-2);
      const bias = r.normal(n, 0.5);
      const xs = 0.02;
      const y = engine.scoped(() => {
        const buffers = kernelBuffers(engine);
        const xp = engine.alloc(x.length);
        const wp = engine.alloc(w.length);
        const pp = engine.alloc(k.panels_i16_length(n, depth) * 2);
        new Int8Array(k.memory.buffer, xp, x.length).set(x);
        new Int8Array(k.memory.buffer, wp, w.length).set(w);
        const yp = buffers.output(n * cols);
        k.pack_panels_i16(pp, wp, n, depth, depth);
        k.gemm_i8_conv(yp, pp, xp, n, cols, d8, d8, cols);
        k.dequantize_i32_rows(yp, yp, buffers.input(ws), buffers.input(bias), n, cols, xs, 0);
        return buffers.read(yp, n * cols, "y");
      });
      const want = new Float64Array(n * cols);
      const size = new Float64Array(n * cols);
      for (let j = 0; j < n; j++)
        for (let i = 0; i < cols; i++) {
          let s = 0;
          for (let p = 0; p < depth; p++) s += x[i * d8 + p]! * Math.fround(xs) * (w[j * depth + p]! * ws[j]!);
          want[j * cols + i] = s + bias[j]!;
          size[j * cols + i] = Math.abs(s) + Math.abs(bias[j]!);
        }
      // the integer sum is exact; the f32 conversion, the scale product, the multiply and the add round once each
      expectClose(y, want, { rtol: 4 * 2 ** -24, atol: 0 }, `n ${n} cols ${cols} depth ${depth}`, size);
    }
  });

  it("maxpool2x2_i32 equals maxpool2x2_i32_ref and a JavaScript loop, aligned or not", () => {
    const k = engine.kernels;
    let seed = 50;
    for (const [planes, h, w] of POOLS) {
      const outputs = planes * Math.floor(h / 2) * Math.floor(w / 2);
      const x = sums(planes * h * w, seed++);
      const what = `${planes}×${h}×${w}`;
      const run = (name: "maxpool2x2_i32" | "maxpool2x2_i32_ref", misaligned: boolean) =>
        engine.scoped(() => {
          const buffers = kernelBuffers(engine, { misaligned });
          const yp = buffers.output(outputs);
          k[name](yp, buffers.inputI32(x), planes, h, w);
          return Array.from(buffers.readI32(yp, outputs, `${name}, ${what}`));
        });
      const fast = run("maxpool2x2_i32", seed % 2 === 0);
      expect(fast, what).toEqual(run("maxpool2x2_i32_ref", seed % 2 === 1));
      expect(fast, what).toEqual(pool64(x, planes, h, w));
    }
  });

  it("maxpool2x2_i32 then dequantize_i32_rows gives dequantize_i32_rows then maxpool2d_forward's bits", () => {
    const k = engine.kernels;
    // per channel scales: ordinary, tiny (products that underflow to ±0 or subnormals), zero, huge (products that overflow to ±∞)
    const ws = Float32Array.from([3e-3, 1e-38, 0, 1e36, 7e-4, 2e-3]);
    const xs = 0.015;
    // biases: ordinary, +0, −0 (only with the ReLU: see poolsBeforeDequantizing), large
    const biases = (relu: boolean) => Float32Array.from([0.25, 0, relu ? -0 : 0, -1e3, -0.5, relu ? -0 : 1.5]);
    for (const relu of [1, 0])
      for (const [h, w] of [
        [24, 24],
        [10, 10],
        [9, 11],
        [7, 6],
      ] as const) {
        const c = ws.length;
        const oh = Math.floor(h / 2);
        const ow = Math.floor(w / 2);
        const acc = sums(c * h * w, h * w + relu);
        for (let i = 0; i < acc.length; i += 11) acc[i] = 0; // exact zeros beside small negatives: ±0 products
        for (let i = 3; i < acc.length; i += 13) acc[i] = -1;
        const bias = biases(relu === 1);
        const what = `relu ${relu}, ${h}×${w}`;
        const [pooledFirst, dequantizedFirst] = engine.scoped(() => {
          const buffers = kernelBuffers(engine);
          const sp = buffers.input(ws);
          const bp = buffers.input(bias);
          const ap = buffers.inputI32(acc);
          const yp = buffers.output(c * oh * ow);
          k.maxpool2x2_i32(yp, ap, c, h, w);
          k.dequantize_i32_rows(yp, yp, sp, bp, c, oh * ow, xs, relu);
          const fp = buffers.output(c * h * w);
          const zp = buffers.output(c * oh * ow);
          const argmax = buffers.output(c * oh * ow);
          k.dequantize_i32_rows(fp, ap, sp, bp, c, h * w, xs, relu);
          k.maxpool2d_forward(zp, argmax, fp, 1, c, h, w, 2, 2, 0);
          return [buffers.read(yp, c * oh * ow, "pooled first"), buffers.read(zp, c * oh * ow, "dequantized first")];
        });
        expectSameBits(pooledFirst, dequantizedFirst, what);
        if (relu)
          expect(
            pooledFirst.some((v) => Object.is(v, 0)),
            `${what}: a zero output`,
          ).toBe(true);
      }
  });
});

describe.runIf(relaxedAvailable)("int8 convolution kernels in the relaxed build", () => {
  it("give the release build's integers", async () => {
    const [release, relaxed] = await Promise.all([loadBuild("release"), loadBuild("relaxed")]);
    const c: ConvCase = { n: 13, cols: 37, depth: 41, ldx: 51, ldw: 44, ldy: 38, off: 1 };
    const x = patches(c, 3);
    const w = int8s(c.n * c.ldw, 4);
    expect(Array.from(product(relaxed, "gemm_i8_conv", c, x, w, true))).toEqual(Array.from(product(release, "gemm_i8_conv", c, x, w, true)));
    const acc = sums(3 * 11 * 13, 8);
    const pool = (e: TestEngine) =>
      e.scoped(() => {
        const buffers = kernelBuffers(e);
        const yp = buffers.output(3 * 5 * 6);
        e.kernels.maxpool2x2_i32(yp, buffers.inputI32(acc), 3, 11, 13);
        return Array.from(buffers.readI32(yp, 3 * 5 * 6, "pool"));
      });
    expect(pool(relaxed)).toEqual(pool(release));
  });
});
