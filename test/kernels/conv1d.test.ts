/**
 * 1-D convolution and pooling kernels (assembly/conv1d.ts, pool1d.ts), (batch, channels, length):
 *   - every fast kernel against its `_ref` twin bit for bit, over batch 1–3, channels 1, 3, 4,
 *     5, 8, lengths 1 to 257 (odd and even, below / at / above the 4 lanes), kernels 1–7,
 *     strides 1–4 and pads 0–3, at unaligned (4-byte) offsets, plus shapes past the GEMM's
 *     tiles and blocks (K = cin·k > 256); outputs start as NaN (so "overwrites" is checked),
 *     and a sentinel after every output and after the work buffer must survive;
 *   - conv1d with pad 0 against conv2d on a 1×len image, bit for bit (the same summation order);
 *   - against float64 references written here from the definitions, to float32 rounding;
 *   - backward kernels by central finite differences of the float64 forward;
 *   - against PyTorch (test/fixtures/conv1d-fixtures.json, written by
 *     test/fixtures/make_conv1d_fixtures.py): F.conv1d, F.max_pool1d, F.avg_pool1d with autograd;
 *   - the debug build's argument assertions.
 */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { GEMM_ACCUMULATE, GEMM_RELU, KernelAssertionError, type Engine } from "../../src/index.js";
import { EXACT_BUILDS, loadBuild, type TestEngine } from "../helpers/engines.js";
import { expectClose, expectSameBits } from "../helpers/compare.js";
import { conv64, convBackward64, expectWithin, outLength, put, putNaN, take, takeI32, VARIANTS, type ConvShape, type Variant } from "../helpers/conv-setup.js";
import { TestRandom } from "../helpers/rand.js";
import { dot64, numericGradient } from "../helpers/gradcheck.js";

// ================================================================ convolution: float64 reference

interface Conv1dShape {
  batch: number;
  cin: number;
  len: number;
  cout: number;
  k: number;
  stride: number;
  pad: number;
}

const convLabel = (s: Conv1dShape) => `batch ${s.batch}, ${s.cin}×${s.len} → ${s.cout}, kernel ${s.k}, stride ${s.stride}, pad ${s.pad}`;

/** The 1-D shape as the 2-D one of height 1 it is (kernel height 1, no padding along the height). */
const as2d = (s: Conv1dShape): ConvShape => ({
  batch: s.batch,
  cin: s.cin,
  h: 1,
  w: s.len,
  cout: s.cout,
  kh: 1,
  kw: s.k,
  stride: s.stride,
  pad: s.pad,
  padY: 0,
});

/** y[b,o,ox] = Σ_{ci,kj} w[o,ci,kj]·x[b,ci,ox·s+kj−p] + bias[o] (+ y0), then relu; scale = Σ|terms|. */
const conv1d64 = (s: Conv1dShape, x: ArrayLike<number>, w: ArrayLike<number>, bias?: ArrayLike<number>, y0?: ArrayLike<number>, relu = false) =>
  conv64(as2d(s), x, w, bias, y0, relu);

/** Gradients of Σ dy·conv1d(x, w, b) and the size of their rounding errors. */
const conv1dBackward64 = (s: Conv1dShape, dy: ArrayLike<number>, x: ArrayLike<number>, w: ArrayLike<number>) => convBackward64(as2d(s), dy, x, w);

// ================================================================ convolution: running the kernels

interface ConvRun {
  y: Float32Array;
  dx?: Float32Array;
  dw: Float32Array;
  db?: Float32Array;
}

/** Forward with `flags` (y starts as y0, or NaN without ACCUMULATE), then backward with dy; every buffer at an offset when asked. */
function runConv1d(
  engine: TestEngine,
  variant: Variant,
  s: Conv1dShape,
  inp: { x: ArrayLike<number>; w: ArrayLike<number>; bias?: ArrayLike<number>; y0?: ArrayLike<number>; dy: ArrayLike<number> },
  flags: number,
  offset: boolean,
  withDx = true,
): ConvRun {
  const ol = outLength(s.len, s.k, s.stride, s.pad);
  const n = s.batch * s.cout * ol;
  const workLen = s.cin * s.k * ol;
  return engine.scoped(() => {
    const k = engine.kernels;
    const x = put(engine, inp.x, offset),
      w = put(engine, inp.w, offset);
    const b = inp.bias ? put(engine, inp.bias, offset) : 0;
    const y = inp.y0 ? put(engine, inp.y0, offset) : putNaN(engine, n, offset);
    const work = putNaN(engine, workLen, offset);
    k[`conv1d_forward${variant}`](y, x, w, b, work, s.batch, s.cin, s.len, s.cout, s.k, s.stride, s.pad, flags);
    const dy = put(engine, inp.dy, offset);
    const dx = withDx ? putNaN(engine, inp.x.length, offset) : 0;
    const dw = putNaN(engine, inp.w.length, offset);
    const db = inp.bias ? putNaN(engine, s.cout, offset) : 0;
    k[`conv1d_backward${variant}`](dx, dw, db, dy, x, w, work, s.batch, s.cin, s.len, s.cout, s.k, s.stride, s.pad);
    take(engine, work, workLen, "work"); // the documented size (the _ref twins do not use it)
    return {
      y: take(engine, y, n, "y"),
      dx: withDx ? take(engine, dx, inp.x.length, "dx") : undefined,
      dw: take(engine, dw, inp.w.length, "dw"),
      db: inp.bias ? take(engine, db, s.cout, "db") : undefined,
    };
  });
}

function convInputs(s: Conv1dShape, seed: number, bias = true, accumulate = false) {
  const rnd = new TestRandom(seed);
  const ol = outLength(s.len, s.k, s.stride, s.pad);
  return {
    x: rnd.normal(s.batch * s.cin * s.len),
    w: rnd.normal(s.cout * s.cin * s.k, 0.5),
    bias: bias ? rnd.normal(s.cout, 0.5) : undefined,
    y0: accumulate ? rnd.normal(s.batch * s.cout * ol) : undefined,
    dy: rnd.normal(s.batch * s.cout * ol),
  };
}

function shapeGrid(): Conv1dShape[] {
  const shapes: Conv1dShape[] = [];
  let i = 0;
  for (const len of [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33]) {
    for (const k of [1, 2, 3, 5, 7]) {
      for (const stride of [1, 2, 3]) {
        for (const pad of [0, 1, 3]) {
          if (len + 2 * pad < k) continue;
          i++;
          const batch = 1 + (i % 3);
          const cin = [1, 3, 4, 5, 8][i % 5]!;
          const cout = [1, 4, 5, 8, 3][(i * 7) % 5]!;
          shapes.push({ batch, cin, len, cout, k, stride, pad });
        }
      }
    }
  }
  return shapes;
}

/** Past the GEMM's tiles and blocks: K = cin·k beyond 256, long signals, many output channels. */
const BIG_SHAPES: Conv1dShape[] = [
  { batch: 2, cin: 40, len: 70, cout: 9, k: 7, stride: 1, pad: 3 },
  { batch: 1, cin: 16, len: 257, cout: 33, k: 9, stride: 2, pad: 4 },
  { batch: 3, cin: 6, len: 129, cout: 17, k: 5, stride: 1, pad: 2 },
  { batch: 2, cin: 64, len: 64, cout: 65, k: 1, stride: 1, pad: 0 },
];

// ================================================================ pooling: references and runs

interface Pool1dShape {
  batch: number;
  c: number;
  len: number;
  k: number;
  stride: number;
  pad: number;
}

const poolLabel = (s: Pool1dShape) => `batch ${s.batch}, ${s.c}×${s.len}, window ${s.k}, stride ${s.stride}, pad ${s.pad}`;

function maxpool64(s: Pool1dShape, x: ArrayLike<number>) {
  const ol = outLength(s.len, s.k, s.stride, s.pad);
  const y = new Float64Array(s.batch * s.c * ol);
  const index = new Int32Array(y.length);
  for (let r = 0; r < s.batch * s.c; r++) {
    for (let ox = 0; ox < ol; ox++) {
      let best = -Infinity,
        at = -1;
      for (let kx = 0; kx < s.k; kx++) {
        const ix = ox * s.stride - s.pad + kx;
        if (ix < 0 || ix >= s.len) continue;
        const v = x[r * s.len + ix]!;
        if (at < 0 || v > best || (Number.isNaN(v) && !Number.isNaN(best))) {
          best = v;
          at = ix;
        }
      }
      y[r * ol + ox] = best;
      index[r * ol + ox] = at;
    }
  }
  return { y, index };
}

function avgpool64(s: Pool1dShape, x: ArrayLike<number>) {
  const ol = outLength(s.len, s.k, s.stride, s.pad);
  const y = new Float64Array(s.batch * s.c * ol),
    scale = new Float64Array(y.length);
  for (let r = 0; r < s.batch * s.c; r++) {
    for (let ox = 0; ox < ol; ox++) {
      for (let kx = 0; kx < s.k; kx++) {
        const ix = ox * s.stride - s.pad + kx;
        if (ix < 0 || ix >= s.len) continue;
        y[r * ol + ox]! += x[r * s.len + ix]! / s.k;
        scale[r * ol + ox]! += Math.abs(x[r * s.len + ix]!) / s.k;
      }
    }
  }
  return { y, scale };
}

function avgpoolBackward64(s: Pool1dShape, dy: ArrayLike<number>) {
  const ol = outLength(s.len, s.k, s.stride, s.pad);
  const dx = new Float64Array(s.batch * s.c * s.len),
    scale = new Float64Array(dx.length);
  for (let r = 0; r < s.batch * s.c; r++) {
    for (let ox = 0; ox < ol; ox++) {
      for (let kx = 0; kx < s.k; kx++) {
        const ix = ox * s.stride - s.pad + kx;
        if (ix < 0 || ix >= s.len) continue;
        dx[r * s.len + ix]! += dy[r * ol + ox]! / s.k;
        scale[r * s.len + ix]! += Math.abs(dy[r * ol + ox]!) / s.k;
      }
    }
  }
  return { dx, scale };
}

function runMaxpool(engine: TestEngine, variant: Variant, s: Pool1dShape, x: ArrayLike<number>, dy: ArrayLike<number>, offset: boolean) {
  const ol = outLength(s.len, s.k, s.stride, s.pad);
  const n = s.batch * s.c * ol;
  return engine.scoped(() => {
    const k = engine.kernels;
    const xp = put(engine, x, offset),
      y = putNaN(engine, n, offset),
      am = putNaN(engine, n, offset);
    k[`maxpool1d_forward${variant}`](y, am, xp, s.batch, s.c, s.len, s.k, s.stride, s.pad);
    const dyp = put(engine, dy, offset),
      dx = putNaN(engine, x.length, offset);
    k[`maxpool1d_backward${variant}`](dx, dyp, am, s.batch, s.c, s.len, s.k, s.stride, s.pad);
    return { y: take(engine, y, n, "y"), index: takeI32(engine, am, n, "argmax"), dx: take(engine, dx, x.length, "dx") };
  });
}

function runAvgpool(engine: TestEngine, variant: Variant, s: Pool1dShape, x: ArrayLike<number>, dy: ArrayLike<number>, offset: boolean) {
  const ol = outLength(s.len, s.k, s.stride, s.pad);
  const n = s.batch * s.c * ol;
  return engine.scoped(() => {
    const k = engine.kernels;
    const xp = put(engine, x, offset),
      y = putNaN(engine, n, offset);
    k[`avgpool1d_forward${variant}`](y, xp, s.batch, s.c, s.len, s.k, s.stride, s.pad);
    const dyp = put(engine, dy, offset),
      dx = putNaN(engine, x.length, offset);
    k[`avgpool1d_backward${variant}`](dx, dyp, s.batch, s.c, s.len, s.k, s.stride, s.pad);
    return { y: take(engine, y, n, "y"), dx: take(engine, dx, x.length, "dx") };
  });
}

function poolGrid(): Pool1dShape[] {
  const shapes: Pool1dShape[] = [];
  let i = 0;
  for (const len of [1, 2, 3, 4, 5, 7, 8, 9, 12, 17, 33, 64, 129, 257]) {
    for (const k of [1, 2, 3, 4, 5]) {
      for (const stride of [1, 2, 3, 4]) {
        for (const pad of [0, 1, 2]) {
          if (2 * pad > k || len + 2 * pad < k) continue;
          i++;
          shapes.push({ batch: 1 + (i % 2), c: [1, 3, 4][i % 3]!, len, k, stride, pad });
        }
      }
    }
  }
  return shapes;
}

/** Inputs with ties (small integers), a NaN now and then, or plain normals. */
function poolInput(n: number, seed: number, kind: "normal" | "ties" | "nan"): Float32Array {
  const rnd = new TestRandom(seed);
  if (kind === "normal") return rnd.normal(n);
  const x = rnd.normal(n).map((v) => Math.round(v * 1.5));
  if (kind === "nan") for (let i = 3; i < n; i += 11) x[i] = NaN;
  return x;
}

// ================================================================ fixtures

interface ConvFixture {
  batch: number;
  cin: number;
  length: number;
  cout: number;
  k: number;
  stride: number;
  pad: number;
  relu: boolean;
  x: number[];
  weight: number[];
  bias?: number[];
  y: number[];
  dy: number[];
  dx: number[];
  dweight: number[];
  dbias?: number[];
}
interface PoolFixture {
  batch: number;
  c: number;
  length: number;
  k: number;
  stride: number;
  pad: number;
  x: number[];
  y: number[];
  indices?: number[];
  dy: number[];
  dx: number[];
}
const FIXTURES = JSON.parse(readFileSync(new URL("../fixtures/conv1d-fixtures.json", import.meta.url), "utf8")) as {
  torch_version: string;
  conv1d: ConvFixture[];
  maxpool1d: PoolFixture[];
  avgpool1d: PoolFixture[];
};
/** PyTorch and the kernels both round, in other orders: a one-evaluation bound, doubled. */
const BOTH = 2;

// ================================================================ the tests

for (const build of EXACT_BUILDS) {
  describe(`conv1d and pool1d kernels (${build} build)`, () => {
    let engine: TestEngine;
    beforeAll(async () => {
      engine = await loadBuild(build);
    });

    it("conv1d: fast and _ref agree bit for bit over lengths 1–33, kernels 1–7, strides 1–3, pads 0–3, every flag, at offsets", () => {
      const flagSets = [0, GEMM_RELU, GEMM_ACCUMULATE, GEMM_ACCUMULATE | GEMM_RELU];
      shapeGrid().forEach((s, i) => {
        const flags = flagSets[i % 4]!;
        const bias = i % 5 !== 0;
        const inp = convInputs(s, 100 + i, bias, (flags & GEMM_ACCUMULATE) !== 0);
        const offset = i % 2 === 1;
        const fast = runConv1d(engine, "", s, inp, flags, offset, i % 7 !== 0);
        const ref = runConv1d(engine, "_ref", s, inp, flags, offset, i % 7 !== 0);
        const what = `${convLabel(s)}, flags ${flags}${bias ? "" : ", no bias"}`;
        expectSameBits(fast.y, ref.y, `${what}: y`);
        if (fast.dx) expectSameBits(fast.dx, ref.dx!, `${what}: dx`);
        expectSameBits(fast.dw, ref.dw, `${what}: dw`);
        if (bias) expectSameBits(fast.db!, ref.db!, `${what}: db`);
      });
    });

    it("conv1d: fast and _ref agree bit for bit past the GEMM's tiles and blocks (K > 256, 257 long, 65 channels)", () => {
      BIG_SHAPES.forEach((s, i) => {
        const inp = convInputs(s, 200 + i);
        const fast = runConv1d(engine, "", s, inp, GEMM_RELU, i % 2 === 0);
        const ref = runConv1d(engine, "_ref", s, inp, GEMM_RELU, i % 2 === 0);
        expectSameBits(fast.y, ref.y, `${convLabel(s)}: y`);
        expectSameBits(fast.dx!, ref.dx!, `${convLabel(s)}: dx`);
        expectSameBits(fast.dw, ref.dw, `${convLabel(s)}: dw`);
        expectSameBits(fast.db!, ref.db!, `${convLabel(s)}: db`);
      });
    });

    it("conv1d: matches the float64 reference to float32 rounding (forward with bias, accumulate and relu; backward)", () => {
      [...shapeGrid().filter((_, i) => i % 4 === 0), ...BIG_SHAPES].forEach((s, i) => {
        const inp = convInputs(s, 300 + i, true, i % 2 === 0);
        const relu = i % 3 === 0;
        const got = runConv1d(engine, "", s, inp, (inp.y0 ? GEMM_ACCUMULATE : 0) | (relu ? GEMM_RELU : 0), false);
        const want = conv1d64(s, inp.x, inp.w, inp.bias, inp.y0, relu);
        const K = s.cin * s.k;
        expectWithin(got.y, want.y, want.scale, K + 3, `${convLabel(s)}: y`);
        const ol = outLength(s.len, s.k, s.stride, s.pad);
        const grads = conv1dBackward64(s, inp.dy, inp.x, inp.w);
        expectWithin(got.dx!, grads.dx, grads.sdx, s.cout + s.k + 1, `${convLabel(s)}: dx`);
        expectWithin(got.dw, grads.dw, grads.sdw, s.batch * ol + 1, `${convLabel(s)}: dw`);
        expectWithin(got.db!, grads.db, grads.sdb, s.batch * ol + 1, `${convLabel(s)}: db`);
      });
    });

    it("conv1d with pad 0 is conv2d on a 1×len image, bit for bit (forward and backward)", () => {
      const shapes = shapeGrid().filter((s) => s.pad === 0);
      shapes.forEach((s, i) => {
        const inp = convInputs(s, 400 + i);
        const ol = outLength(s.len, s.k, s.stride, 0);
        const one = runConv1d(engine, "", s, inp, GEMM_RELU, false);
        const two = engine.scoped(() => {
          const k = engine.kernels;
          const x = engine.putF32(inp.x),
            w = engine.putF32(inp.w),
            b = engine.putF32(inp.bias!);
          const y = engine.allocF32(s.batch * s.cout * ol),
            work = engine.allocF32(s.cin * s.k * ol);
          k.conv2d_forward(y, x, w, b, work, s.batch, s.cin, 1, s.len, s.cout, 1, s.k, s.stride, 0, GEMM_RELU);
          const dy = engine.putF32(inp.dy);
          const dx = engine.allocF32(inp.x.length),
            dw = engine.allocF32(inp.w.length),
            db = engine.allocF32(s.cout);
          k.conv2d_backward(dx, dw, db, dy, x, w, work, s.batch, s.cin, 1, s.len, s.cout, 1, s.k, s.stride, 0);
          return {
            y: engine.readF32(y, s.batch * s.cout * ol),
            dx: engine.readF32(dx, inp.x.length),
            dw: engine.readF32(dw, inp.w.length),
            db: engine.readF32(db, s.cout),
          };
        });
        expectSameBits(one.y, two.y, `${convLabel(s)}: y`);
        expectSameBits(one.dx!, two.dx, `${convLabel(s)}: dx`);
        expectSameBits(one.dw, two.dw, `${convLabel(s)}: dw`);
        expectSameBits(one.db!, two.db, `${convLabel(s)}: db`);
      });
    });

    it("conv1d backward: central finite differences of the float64 forward", () => {
      const shapes: Conv1dShape[] = [
        { batch: 2, cin: 3, len: 11, cout: 4, k: 3, stride: 1, pad: 1 },
        { batch: 1, cin: 2, len: 10, cout: 3, k: 4, stride: 3, pad: 2 },
        { batch: 2, cin: 1, len: 7, cout: 2, k: 5, stride: 2, pad: 0 },
      ];
      shapes.forEach((s, i) => {
        const inp = convInputs(s, 500 + i);
        const got = runConv1d(engine, "", s, inp, 0, false);
        const loss = (x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>) => dot64(conv1d64(s, x, w, b).y, inp.dy);
        const ndx = numericGradient((x) => loss(x, inp.w, inp.bias!), inp.x);
        const ndw = numericGradient((w) => loss(inp.x, w, inp.bias!), inp.w);
        const ndb = numericGradient((b) => loss(inp.x, inp.w, b), inp.bias!);
        expectClose(got.dx!, ndx, { rtol: 1e-4, atol: 1e-5 }, `${convLabel(s)}: dx`);
        expectClose(got.dw, ndw, { rtol: 1e-4, atol: 1e-5 }, `${convLabel(s)}: dw`);
        expectClose(got.db!, ndb, { rtol: 1e-4, atol: 1e-5 }, `${convLabel(s)}: db`);
      });
    });

    it("pool1d: fast and _ref agree bit for bit over lengths 1–257, windows 1–5, strides 1–4, pads 0–2, with ties and NaN, at offsets", () => {
      const kinds = ["normal", "ties", "nan"] as const;
      poolGrid().forEach((s, i) => {
        const x = poolInput(s.batch * s.c * s.len, 600 + i, kinds[i % 3]!);
        const dy = new TestRandom(700 + i).normal(s.batch * s.c * outLength(s.len, s.k, s.stride, s.pad));
        const offset = i % 2 === 0;
        const fm = runMaxpool(engine, "", s, x, dy, offset),
          rm = runMaxpool(engine, "_ref", s, x, dy, offset);
        expectSameBits(fm.y, rm.y, `${poolLabel(s)}: max y`);
        expect(Array.from(fm.index), `${poolLabel(s)}: argmax`).toEqual(Array.from(rm.index));
        expectSameBits(fm.dx, rm.dx, `${poolLabel(s)}: max dx`);
        const fa = runAvgpool(engine, "", s, x, dy, offset),
          ra = runAvgpool(engine, "_ref", s, x, dy, offset);
        expectSameBits(fa.y, ra.y, `${poolLabel(s)}: avg y`);
        expectSameBits(fa.dx, ra.dx, `${poolLabel(s)}: avg dx`);
      });
    });

    it("pool1d: max pooling is exact against the float64 reference (first maximum on ties, NaN propagates); average pooling and its gradient to rounding", () => {
      poolGrid()
        .filter((_, i) => i % 3 === 0)
        .forEach((s, i) => {
          const x = poolInput(s.batch * s.c * s.len, 800 + i, i % 2 === 0 ? "ties" : "nan");
          const dy = new TestRandom(900 + i).normal(s.batch * s.c * outLength(s.len, s.k, s.stride, s.pad));
          const m = runMaxpool(engine, "", s, x, dy, false);
          const want = maxpool64(s, x);
          expectSameBits(m.y, Float32Array.from(want.y), `${poolLabel(s)}: max y`);
          expect(Array.from(m.index), `${poolLabel(s)}: argmax`).toEqual(Array.from(want.index));
          const xa = poolInput(x.length, 1000 + i, "normal");
          const a = runAvgpool(engine, "", s, xa, dy, false);
          const wa = avgpool64(s, xa);
          expectWithin(a.y, wa.y, wa.scale, s.k + 2, `${poolLabel(s)}: avg y`);
          const wd = avgpoolBackward64(s, dy);
          expectWithin(a.dx, wd.dx, wd.scale, Math.ceil(s.k / s.stride) + 2, `${poolLabel(s)}: avg dx`);
        });
    });

    it("pool1d backward: central finite differences (average pooling; max pooling away from ties)", () => {
      const shapes: Pool1dShape[] = [
        { batch: 2, c: 2, len: 9, k: 3, stride: 2, pad: 1 },
        { batch: 1, c: 3, len: 12, k: 4, stride: 1, pad: 2 },
      ];
      shapes.forEach((s, i) => {
        const x = poolInput(s.batch * s.c * s.len, 1100 + i, "normal");
        const dy = new TestRandom(1200 + i).normal(s.batch * s.c * outLength(s.len, s.k, s.stride, s.pad));
        const a = runAvgpool(engine, "", s, x, dy, false);
        expectClose(
          a.dx,
          numericGradient((v) => dot64(avgpool64(s, v).y, dy), x),
          { rtol: 1e-4, atol: 1e-5 },
          `${poolLabel(s)}: avg dx`,
        );
        const m = runMaxpool(engine, "", s, x, dy, false);
        expectClose(
          m.dx,
          numericGradient((v) => dot64(maxpool64(s, v).y, dy), x, 1e-7),
          { rtol: 1e-4, atol: 1e-5 },
          `${poolLabel(s)}: max dx`,
        );
      });
    });

    describe(`PyTorch ${FIXTURES.torch_version} fixtures`, () => {
      it("the fixture file has every section", () => {
        for (const section of ["conv1d", "maxpool1d", "avgpool1d"] as const) expect(FIXTURES[section].length, section).toBeGreaterThan(0);
      });

      for (const f of FIXTURES.conv1d) {
        const s: Conv1dShape = { batch: f.batch, cin: f.cin, len: f.length, cout: f.cout, k: f.k, stride: f.stride, pad: f.pad };
        it(`F.conv1d ${convLabel(s)}${f.bias ? "" : ", no bias"}${f.relu ? ", relu" : ""}: y, dx, dweight, dbias`, () => {
          const ol = outLength(s.len, s.k, s.stride, s.pad);
          const got = engine.scoped(() => {
            const k = engine.kernels;
            const x = engine.putF32(f.x),
              w = engine.putF32(f.weight),
              b = f.bias ? engine.putF32(f.bias) : 0;
            const work = engine.allocF32(s.cin * s.k * ol);
            const n = f.y.length;
            const y = engine.allocF32(n);
            k.conv1d_forward(y, x, w, b, work, s.batch, s.cin, s.len, s.cout, s.k, s.stride, s.pad, f.relu ? GEMM_RELU : 0);
            let dz = engine.putF32(f.dy);
            if (f.relu) {
              const masked = engine.allocF32(n);
              k.relu_backward(masked, dz, y, n);
              dz = masked;
            }
            const dx = engine.allocF32(f.x.length),
              dw = engine.allocF32(f.weight.length),
              db = f.bias ? engine.allocF32(s.cout) : 0;
            k.conv1d_backward(dx, dw, db, dz, x, w, work, s.batch, s.cin, s.len, s.cout, s.k, s.stride, s.pad);
            return {
              y: engine.readF32(y, n),
              dz: engine.readF32(dz, n),
              dx: engine.readF32(dx, f.x.length),
              dw: engine.readF32(dw, f.weight.length),
              db: f.bias ? engine.readF32(db, s.cout) : undefined,
            };
          });
          const fwd = conv1d64(s, f.x, f.weight, f.bias);
          expectWithin(got.y, f.y, fwd.scale, BOTH * (s.cin * s.k + 2), "y");
          const grads = conv1dBackward64(s, got.dz, f.x, f.weight);
          expectWithin(got.dx, f.dx, grads.sdx, BOTH * (s.cout + s.k + 1), "dx");
          expectWithin(got.dw, f.dweight, grads.sdw, BOTH * (s.batch * ol + 1), "dweight");
          if (f.bias) expectWithin(got.db!, f.dbias!, grads.sdb, BOTH * (s.batch * ol + 1), "dbias");
        });
      }

      for (const f of FIXTURES.maxpool1d) {
        const s: Pool1dShape = { batch: f.batch, c: f.c, len: f.length, k: f.k, stride: f.stride, pad: f.pad };
        it(`F.max_pool1d ${poolLabel(s)}: y and indices exactly (ties included), dx`, () => {
          const got = runMaxpool(engine, "", s, f.x, f.dy, false);
          expectSameBits(got.y, Float32Array.from(f.y), "y");
          expect(Array.from(got.index), "indices").toEqual(f.indices);
          const ol = outLength(s.len, s.k, s.stride, s.pad);
          // dx: each input gets the dy of every window that chose it, summed in output order
          const scale = new Float64Array(f.x.length);
          got.index.forEach((ix, o) => (scale[Math.floor(o / ol) * s.len + ix]! += Math.abs(f.dy[o]!)));
          expectWithin(got.dx, f.dx, scale, BOTH * (Math.ceil(s.k / s.stride) + 1), "dx");
        });
      }

      for (const f of FIXTURES.avgpool1d) {
        const s: Pool1dShape = { batch: f.batch, c: f.c, len: f.length, k: f.k, stride: f.stride, pad: f.pad };
        it(`F.avg_pool1d ${poolLabel(s)}: y and dx`, () => {
          const got = runAvgpool(engine, "", s, f.x, f.dy, false);
          expectWithin(got.y, f.y, avgpool64(s, f.x).scale, BOTH * (s.k + 1), "y");
          expectWithin(got.dx, f.dx, avgpoolBackward64(s, f.dy).scale, BOTH * (Math.ceil(s.k / s.stride) + 2), "dx");
        });
      }
    });
  });
}

describe("debug build: conv1d and pool1d argument assertions", () => {
  let engine: TestEngine;
  beforeAll(async () => {
    engine = await loadBuild("debug");
  });

  const cases: [string, (e: TestEngine, p: number) => void][] = [
    ["conv1d_forward with a kernel longer than the padded signal", (e, p) => e.kernels.conv1d_forward(p, p, p, p, p, 1, 1, 3, 1, 6, 1, 1, 0)],
    ["conv1d_forward with stride 0", (e, p) => e.kernels.conv1d_forward(p, p, p, p, p, 1, 1, 8, 1, 3, 0, 0, 0)],
    ["conv1d_backward with a null work buffer", (e, p) => e.kernels.conv1d_backward(p, p, p, p, p, p, 0, 1, 1, 8, 1, 3, 1, 0)],
    ["conv1d_forward_ref at an unaligned pointer", (e, p) => e.kernels.conv1d_forward_ref(p + 2, p, p, p, p, 1, 1, 8, 1, 3, 1, 0, 0)],
    ["maxpool1d_forward with padding over half the window", (e, p) => e.kernels.maxpool1d_forward(p, p, p, 1, 1, 8, 2, 2, 2)],
    ["avgpool1d_backward with a window longer than the signal", (e, p) => e.kernels.avgpool1d_backward(p, p, 1, 1, 3, 5, 1, 0)],
    ["maxpool1d_backward with a null argmax", (e, p) => e.kernels.maxpool1d_backward(p, p, 0, 1, 1, 8, 2, 2, 0)],
  ];
  for (const [what, call] of cases) {
    it(`${what} throws KernelAssertionError`, () => {
      engine.scoped(() => {
        const p = engine.allocF32(256);
        expect(() => call(engine, p)).toThrow(KernelAssertionError);
      });
    });
  }
});
