/**
 * Convolution, pooling and batch normalisation kernels (assembly/conv.ts, pool.ts,
 * batchnorm.ts), NCHW:
 *   - every fast kernel against its `_ref` twin bit for bit, over batch 1–3, channels
 *     1, 3, 4, 5, 8, spatial sizes 1×1 to 13×13 (odd and even), kernels 1×1, 3×3, 5×5, 2×3,
 *     strides 1–3 and pads 0–2, at unaligned (4-byte) offsets, plus shapes past the GEMM's
 *     tiles and blocks; outputs start as NaN (so "overwrites" is checked), a sentinel
 *     after every output and after the work buffer must survive (the documented sizes);
 *   - against independent float64 references written here from the textbook definitions,
 *     with tolerances from float32 rounding (c·u·Σ|terms|, u = 2⁻²⁴);
 *   - backward kernels by central finite differences in float64;
 *   - against PyTorch (test/fixtures/conv-fixtures.json, written by
 *     test/fixtures/make_conv_fixtures.py): F.conv2d, F.max_pool2d, F.avg_pool2d and
 *     F.batch_norm in training and eval mode, values and autograd gradients;
 *   - the debug build's argument assertions.
 */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { GEMM_ACCUMULATE, GEMM_RELU, KernelAssertionError, type Engine } from "../../src/index.js";
import { EXACT_BUILDS, loadBuild, relaxedAvailable, type TestEngine } from "../helpers/engines.js";
import { expectSameBits } from "../helpers/compare.js";
import { TestRandom } from "../helpers/rand.js";
import { dot64, numericGradient } from "../helpers/gradcheck.js";
import {
  conv64,
  convBackward64,
  convDims,
  expectWithin,
  outLength,
  put,
  putNaN,
  take,
  takeI32,
  VARIANTS,
  type ConvShape,
  type Variant,
} from "../helpers/conv-setup.js";

/** conv2d_forward flags (the same bits as the GEMM's). */
const ACCUMULATE = GEMM_ACCUMULATE;
const RELU = GEMM_RELU;

/** A value the 1×1 path must leave alone in its (unused) work buffer. */
const UNTOUCHED = 12345.5;

const FD_ATOL = 1e-8;

const convLabel = (s: ConvShape) => `batch ${s.batch}, ${s.cin}×${s.h}×${s.w} → ${s.cout}, kernel ${s.kh}×${s.kw}, stride ${s.stride}, pad ${s.pad}`;

// ================================================================ convolution: kernel runners

interface ConvInputs {
  x: Float32Array;
  w: Float32Array;
  bias?: Float32Array;
  y0?: Float32Array;
  dy: Float32Array;
}

function convInputs(s: ConvShape, seed: number): ConvInputs {
  const rnd = new TestRandom(seed);
  const { P } = convDims(s);
  return {
    x: rnd.uniform(s.batch * s.cin * s.h * s.w),
    w: rnd.uniform(s.cout * s.cin * s.kh * s.kw),
    bias: rnd.uniform(s.cout),
    y0: rnd.uniform(s.batch * s.cout * P),
    dy: rnd.uniform(s.batch * s.cout * P),
  };
}

const isDirect = (s: ConvShape) => s.kh === 1 && s.kw === 1 && s.stride === 1 && s.pad === 0;

/**
 * conv2d_forward(_ref) into a fresh y (NaN, or y0 when accumulating); checks the sentinels
 * after y and after a work buffer of exactly the documented cin·kh·kw·oh·ow floats, which
 * starts as NaN (its contents on entry must not matter), or as sentinels for a 1×1 stride-1
 * unpadded kernel (which must not touch it).
 */
function runForward(engine: TestEngine, v: Variant, s: ConvShape, inp: ConvInputs, flags: number, useBias: boolean, offset: boolean): Float32Array {
  return engine.scoped(() => {
    const { P, K } = convDims(s);
    const n = s.batch * s.cout * P;
    const what = `conv2d_forward${v} ${convLabel(s)}`;
    const x = put(engine, inp.x, offset);
    const w = put(engine, inp.w, !offset);
    const bias = useBias ? put(engine, inp.bias!, offset) : 0;
    const y = flags & ACCUMULATE ? put(engine, inp.y0!, offset) : putNaN(engine, n, offset);
    const direct = isDirect(s);
    const work = put(engine, new Float32Array(K * P).fill(direct ? UNTOUCHED : NaN), offset);
    engine.kernels[`conv2d_forward${v}`](y, x, w, bias, work, s.batch, s.cin, s.h, s.w, s.cout, s.kh, s.kw, s.stride, s.pad, flags);
    const work1 = take(engine, work, K * P, `${what}: work`);
    if (direct && work1.some((value) => value !== UNTOUCHED)) expect.fail(`${what}: touched work on the 1×1 path`);
    return take(engine, y, n, `${what}: y`);
  });
}

interface ConvGrads {
  dx?: Float32Array;
  dw: Float32Array;
  db?: Float32Array;
}

function runBackward(engine: TestEngine, v: Variant, s: ConvShape, inp: ConvInputs, offset: boolean, want = { dx: true, db: true }): ConvGrads {
  return engine.scoped(() => {
    const { P, K } = convDims(s);
    const what = `conv2d_backward${v} ${convLabel(s)}`;
    const x = put(engine, inp.x, offset);
    const w = put(engine, inp.w, !offset);
    const dy = put(engine, inp.dy, offset);
    const dx = want.dx ? putNaN(engine, inp.x.length, offset) : 0;
    const dw = putNaN(engine, inp.w.length, !offset);
    const db = want.db ? putNaN(engine, s.cout, offset) : 0;
    const direct = isDirect(s);
    const work = put(engine, new Float32Array(K * P).fill(direct ? UNTOUCHED : NaN), offset);
    engine.kernels[`conv2d_backward${v}`](dx, dw, db, dy, x, w, work, s.batch, s.cin, s.h, s.w, s.cout, s.kh, s.kw, s.stride, s.pad);
    const work1 = take(engine, work, K * P, `${what}: work`);
    if (direct && work1.some((value) => value !== UNTOUCHED)) expect.fail(`${what}: touched work on the 1×1 path`);
    return {
      dx: want.dx ? take(engine, dx, inp.x.length, `${what}: dx`) : undefined,
      dw: take(engine, dw, inp.w.length, `${what}: dw`),
      db: want.db ? take(engine, db, s.cout, `${what}: db`) : undefined,
    };
  });
}

// ================================================================ convolution: shapes

const KERNELS: [number, number][] = [
  [1, 1],
  [3, 3],
  [5, 5],
  [2, 3],
];
const STRIDES = [1, 2, 3];
const PADS = [0, 1, 2];
const CHANNELS = [1, 3, 4, 5, 8];
const SPATIAL = [1, 2, 3, 4, 5, 7, 8, 9, 11, 13];
const BATCHES = [1, 2, 3];

/**
 * Four shapes for every (kernel, stride, pad): batch, channels and sizes drawn in turn from
 * the lists (sizes at least the kernel minus twice the pad), so that every value of every
 * list occurs.
 */
function convGrid(): ConvShape[] {
  const shapes: ConvShape[] = [];
  const rnd = new TestRandom(4242);
  const pick = <T>(list: readonly T[]) => list[Math.floor(rnd.next() * list.length)]!;
  let i = 0;
  for (const [kh, kw] of KERNELS) {
    for (const stride of STRIDES) {
      for (const pad of PADS) {
        for (let j = 0; j < 4; j++, i++) {
          const h = Math.max(SPATIAL[i % SPATIAL.length]!, kh - 2 * pad);
          const w = Math.max(pick(SPATIAL), kw - 2 * pad);
          shapes.push({
            batch: BATCHES[i % 3]!,
            cin: CHANNELS[i % 5]!,
            cout: CHANNELS[(i * 3 + 1) % 5]!,
            h,
            w,
            kh,
            kw,
            stride,
            pad,
          });
        }
      }
    }
  }
  return shapes;
}
const CONV_GRID = convGrid();

/** Past the GEMM's 4×8 tile and its MC = 64, KC = 256, NC = 256 blocks (K = cin·kh·kw, P = oh·ow). */
const CONV_LARGE: ConvShape[] = [
  { batch: 2, cin: 32, h: 17, w: 17, cout: 70, kh: 3, kw: 3, stride: 1, pad: 1 }, // K 288, P 289, cout 70
  { batch: 1, cin: 3, h: 20, w: 19, cout: 5, kh: 5, kw: 5, stride: 2, pad: 2 },
  { batch: 3, cin: 9, h: 11, w: 12, cout: 66, kh: 2, kw: 3, stride: 1, pad: 0 },
  { batch: 2, cin: 300, h: 3, w: 3, cout: 9, kh: 1, kw: 1, stride: 1, pad: 0 }, // the 1×1 path with K > KC
];

const FLAG_SETS = [0, RELU, ACCUMULATE, ACCUMULATE | RELU];

/** Checks forward and backward of one shape: fast = ref bit for bit, both close to float64. */
function checkConv(engine: TestEngine, s: ConvShape, seed: number, flags: number, useBias: boolean, offset: boolean, exact: boolean): void {
  const inp = convInputs(s, seed);
  const { K } = convDims(s);
  const what = `${convLabel(s)} flags ${flags}${useBias ? " bias" : ""}${offset ? " offset" : ""}`;
  const fast = runForward(engine, "", s, inp, flags, useBias, offset);
  if (exact) expectSameBits(fast, runForward(engine, "_ref", s, inp, flags, useBias, offset), `${what}: y, fast vs ref`);
  const want = conv64(s, inp.x, inp.w, useBias ? inp.bias : undefined, flags & ACCUMULATE ? inp.y0 : undefined, (flags & RELU) !== 0);
  // K products summed one after another, then the accumulator and the bias: K + 2 roundings.
  expectWithin(fast, want.y, want.scale, K + 2, `${what}: y vs float64`);

  const g = runBackward(engine, "", s, inp, offset);
  if (exact) {
    const r = runBackward(engine, "_ref", s, inp, offset);
    expectSameBits(g.dx!, r.dx!, `${what}: dx, fast vs ref`);
    expectSameBits(g.dw, r.dw, `${what}: dw, fast vs ref`);
    expectSameBits(g.db!, r.db!, `${what}: db, fast vs ref`);
  }
  const { P } = convDims(s);
  const grads = convBackward64(s, inp.dy, inp.x, inp.w);
  expectWithin(g.dx!, grads.dx, grads.sdx, s.cout + s.kh * s.kw + 1, `${what}: dx vs float64`);
  expectWithin(g.dw, grads.dw, grads.sdw, s.batch * P + 1, `${what}: dw vs float64`);
  expectWithin(g.db!, grads.db, grads.sdb, s.batch * P + 1, `${what}: db vs float64`);
}

// ================================================================ im2col / col2im

/** The definition: col[(ci, ki, kj), (oy, ox)] = x[ci, oy·s + ki − p, ox·s + kj − p] or 0. */
function im2colDefinition(s: ConvShape, x: ArrayLike<number>): Float32Array {
  const { oh, ow, P, K } = convDims(s);
  const col = new Float32Array(K * P);
  for (let ci = 0; ci < s.cin; ci++) {
    for (let ki = 0; ki < s.kh; ki++) {
      for (let kj = 0; kj < s.kw; kj++) {
        const q = (ci * s.kh + ki) * s.kw + kj;
        for (let oy = 0; oy < oh; oy++) {
          for (let ox = 0; ox < ow; ox++) {
            const iy = oy * s.stride + ki - s.pad;
            const ix = ox * s.stride + kj - s.pad;
            if (iy >= 0 && iy < s.h && ix >= 0 && ix < s.w) col[q * P + oy * ow + ox] = x[(ci * s.h + iy) * s.w + ix]!;
          }
        }
      }
    }
  }
  return col;
}

function runIm2col(engine: TestEngine, v: Variant, s: ConvShape, x: Float32Array, offset: boolean): Float32Array {
  return engine.scoped(() => {
    const { P, K } = convDims(s);
    const xp = put(engine, x, offset);
    const col = putNaN(engine, K * P, !offset);
    engine.kernels[`im2col${v}`](col, xp, s.cin, s.h, s.w, s.kh, s.kw, s.stride, s.pad);
    return take(engine, col, K * P, `im2col${v} ${convLabel(s)}`);
  });
}

function runCol2im(engine: TestEngine, v: Variant, s: ConvShape, dx0: Float32Array, col: Float32Array, offset: boolean): Float32Array {
  return engine.scoped(() => {
    const dx = put(engine, dx0, offset);
    const cp = put(engine, col, !offset);
    engine.kernels[`col2im${v}`](dx, cp, s.cin, s.h, s.w, s.kh, s.kw, s.stride, s.pad);
    return take(engine, dx, dx0.length, `col2im${v} ${convLabel(s)}`);
  });
}

// ================================================================ pooling: references and runners

interface PoolShape {
  batch: number;
  c: number;
  h: number;
  w: number;
  k: number;
  stride: number;
  pad: number;
}

const poolLabel = (s: PoolShape) => `batch ${s.batch}, ${s.c}×${s.h}×${s.w}, window ${s.k}, stride ${s.stride}, pad ${s.pad}`;

function poolDims(s: PoolShape) {
  const oh = outLength(s.h, s.k, s.stride, s.pad);
  const ow = outLength(s.w, s.k, s.stride, s.pad);
  return { oh, ow, nIn: s.batch * s.c * s.h * s.w, nOut: s.batch * s.c * oh * ow };
}

/** Max over each window (inputs inside the image), first maximum in (ky, kx) order, first NaN wins. */
function maxpool64(s: PoolShape, x: ArrayLike<number>): { y: Float64Array; index: Int32Array } {
  const { oh, ow, nOut } = poolDims(s);
  const y = new Float64Array(nOut);
  const index = new Int32Array(nOut);
  for (let pl = 0; pl < s.batch * s.c; pl++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        let best = -Infinity;
        let at = -1;
        for (let ky = 0; ky < s.k; ky++) {
          for (let kx = 0; kx < s.k; kx++) {
            const iy = oy * s.stride - s.pad + ky;
            const ix = ox * s.stride - s.pad + kx;
            if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
            const v = x[pl * s.h * s.w + iy * s.w + ix]!;
            if (Number.isNaN(best)) continue;
            if (at < 0 || v > best || Number.isNaN(v)) {
              best = v;
              at = iy * s.w + ix;
            }
          }
        }
        y[(pl * oh + oy) * ow + ox] = best;
        index[(pl * oh + oy) * ow + ox] = at;
      }
    }
  }
  return { y, index };
}

/** Mean over each k×k window with the padding counted as zeros; also Σ|x| / k² (error scale). */
function avgpool64(s: PoolShape, x: ArrayLike<number>): { y: Float64Array; scale: Float64Array } {
  const { oh, ow, nOut } = poolDims(s);
  const y = new Float64Array(nOut);
  const scale = new Float64Array(nOut);
  for (let pl = 0; pl < s.batch * s.c; pl++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        let sum = 0;
        let abs = 0;
        for (let ky = 0; ky < s.k; ky++) {
          for (let kx = 0; kx < s.k; kx++) {
            const iy = oy * s.stride - s.pad + ky;
            const ix = ox * s.stride - s.pad + kx;
            if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
            sum += x[pl * s.h * s.w + iy * s.w + ix]!;
            abs += Math.abs(x[pl * s.h * s.w + iy * s.w + ix]!);
          }
        }
        y[(pl * oh + oy) * ow + ox] = sum / (s.k * s.k);
        scale[(pl * oh + oy) * ow + ox] = abs / (s.k * s.k);
      }
    }
  }
  return { y, scale };
}

/** Gradient of Σ dy ⊙ maxpool: each dy goes to its window's argmax (given). */
function maxpoolBackward64(s: PoolShape, dy: ArrayLike<number>, index: ArrayLike<number>) {
  const { oh, ow, nIn } = poolDims(s);
  const dx = new Float64Array(nIn);
  const scale = new Float64Array(nIn);
  for (let pl = 0; pl < s.batch * s.c; pl++) {
    for (let o = 0; o < oh * ow; o++) {
      const at = pl * s.h * s.w + index[pl * oh * ow + o]!;
      dx[at] = dx[at]! + dy[pl * oh * ow + o]!;
      scale[at] = scale[at]! + Math.abs(dy[pl * oh * ow + o]!);
    }
  }
  return { dx, scale };
}

/** Gradient of Σ dy ⊙ avgpool: dy / k² to every input of the window. */
function avgpoolBackward64(s: PoolShape, dy: ArrayLike<number>) {
  const { oh, ow, nIn } = poolDims(s);
  const dx = new Float64Array(nIn);
  const scale = new Float64Array(nIn);
  for (let pl = 0; pl < s.batch * s.c; pl++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const g = dy[(pl * oh + oy) * ow + ox]! / (s.k * s.k);
        for (let ky = 0; ky < s.k; ky++) {
          for (let kx = 0; kx < s.k; kx++) {
            const iy = oy * s.stride - s.pad + ky;
            const ix = ox * s.stride - s.pad + kx;
            if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
            const at = pl * s.h * s.w + iy * s.w + ix;
            dx[at] = dx[at]! + g;
            scale[at] = scale[at]! + Math.abs(g);
          }
        }
      }
    }
  }
  return { dx, scale };
}

function runMaxpool(engine: TestEngine, v: Variant, s: PoolShape, x: ArrayLike<number>, offset: boolean) {
  return engine.scoped(() => {
    const { nOut } = poolDims(s);
    const what = `maxpool2d_forward${v} ${poolLabel(s)}`;
    const xp = put(engine, x, offset);
    const y = putNaN(engine, nOut, !offset);
    const am = put(engine, new Float32Array(nOut).fill(NaN), offset);
    engine.kernels[`maxpool2d_forward${v}`](y, am, xp, s.batch, s.c, s.h, s.w, s.k, s.stride, s.pad);
    return { y: take(engine, y, nOut, `${what}: y`), index: takeI32(engine, am, nOut, `${what}: argmax`) };
  });
}

function runMaxpoolBackward(engine: TestEngine, v: Variant, s: PoolShape, dy: ArrayLike<number>, index: Int32Array, offset: boolean) {
  return engine.scoped(() => {
    const { nIn } = poolDims(s);
    const dyp = put(engine, dy, offset);
    const am = engine.putI32(index);
    const dx = putNaN(engine, nIn, !offset);
    engine.kernels[`maxpool2d_backward${v}`](dx, dyp, am, s.batch, s.c, s.h, s.w, s.k, s.stride, s.pad);
    return take(engine, dx, nIn, `maxpool2d_backward${v} ${poolLabel(s)}`);
  });
}

function runAvgpool(engine: TestEngine, v: Variant, s: PoolShape, x: ArrayLike<number>, offset: boolean) {
  return engine.scoped(() => {
    const { nOut } = poolDims(s);
    const xp = put(engine, x, offset);
    const y = putNaN(engine, nOut, !offset);
    engine.kernels[`avgpool2d_forward${v}`](y, xp, s.batch, s.c, s.h, s.w, s.k, s.stride, s.pad);
    return take(engine, y, nOut, `avgpool2d_forward${v} ${poolLabel(s)}`);
  });
}

function runAvgpoolBackward(engine: TestEngine, v: Variant, s: PoolShape, dy: ArrayLike<number>, offset: boolean) {
  return engine.scoped(() => {
    const { nIn } = poolDims(s);
    const dyp = put(engine, dy, offset);
    const dx = putNaN(engine, nIn, !offset);
    engine.kernels[`avgpool2d_backward${v}`](dx, dyp, s.batch, s.c, s.h, s.w, s.k, s.stride, s.pad);
    return take(engine, dx, nIn, `avgpool2d_backward${v} ${poolLabel(s)}`);
  });
}

/** Window sizes 1–5, strides 1–3, every pad 0 … ⌊k/2⌋ (at most 2), sizes 1×1 to 13×13 and one larger. */
function poolGrid(): PoolShape[] {
  const shapes: PoolShape[] = [];
  const rnd = new TestRandom(777);
  const pick = <T>(list: readonly T[]) => list[Math.floor(rnd.next() * list.length)]!;
  let i = 0;
  for (const k of [1, 2, 3, 4, 5]) {
    for (const stride of STRIDES) {
      for (let pad = 0; pad <= Math.min(2, Math.floor(k / 2)); pad++) {
        for (let j = 0; j < 3; j++, i++) {
          shapes.push({
            batch: BATCHES[i % 3]!,
            c: CHANNELS[i % 5]!,
            h: Math.max(SPATIAL[i % SPATIAL.length]!, k - 2 * pad),
            w: Math.max(pick(SPATIAL), k - 2 * pad),
            k,
            stride,
            pad,
          });
        }
      }
    }
  }
  shapes.push({ batch: 1, c: 3, h: 32, w: 33, k: 3, stride: 2, pad: 1 });
  shapes.push({ batch: 2, c: 2, h: 29, w: 31, k: 2, stride: 1, pad: 1 });
  shapes.push({ batch: 1, c: 2, h: 27, w: 40, k: 4, stride: 3, pad: 2 });
  return shapes;
}
const POOL_GRID = poolGrid();

/** Distinct values (no two within 1e-3 in a plane), so finite differences never change an argmax. */
function distinctValues(rnd: TestRandom, n: number): Float32Array {
  const perm = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rnd.next() * (i + 1));
    [perm[i], perm[j]] = [perm[j]!, perm[i]!];
  }
  return Float32Array.from(perm, (p) => (p - n / 2) * 0.01 + 0.001 * rnd.next());
}

// ================================================================ batch norm: references and runners

interface BnShape {
  batch: number;
  c: number;
  spatial: number;
}
const bnLabel = (s: BnShape) => `batch ${s.batch}, c ${s.c}, spatial ${s.spatial}`;

/** Per-channel mean, biased and unbiased variance of x (batch, c, spatial), in float64. */
function bnStats64(s: BnShape, x: ArrayLike<number>) {
  const n = s.batch * s.spatial;
  const mean = new Float64Array(s.c),
    varB = new Float64Array(s.c),
    varU = new Float64Array(s.c);
  for (let ch = 0; ch < s.c; ch++) {
    let sum = 0;
    for (let b = 0; b < s.batch; b++) for (let j = 0; j < s.spatial; j++) sum += x[(b * s.c + ch) * s.spatial + j]!;
    const m = sum / n;
    let sq = 0;
    for (let b = 0; b < s.batch; b++) for (let j = 0; j < s.spatial; j++) sq += (x[(b * s.c + ch) * s.spatial + j]! - m) ** 2;
    mean[ch] = m;
    varB[ch] = sq / n;
    varU[ch] = sq / (n - 1);
  }
  return { mean, varB, varU };
}

/** y = (x − mean)/√(var + eps)·γ + β with the given per-channel mean and variance. */
function bnApply64(
  s: BnShape,
  x: ArrayLike<number>,
  mean: ArrayLike<number>,
  variance: ArrayLike<number>,
  eps: number,
  gamma?: ArrayLike<number>,
  beta?: ArrayLike<number>,
): Float64Array {
  const y = new Float64Array(x.length);
  for (let b = 0; b < s.batch; b++) {
    for (let ch = 0; ch < s.c; ch++) {
      const inv = 1 / Math.sqrt(variance[ch]! + eps);
      for (let j = 0; j < s.spatial; j++) {
        const at = (b * s.c + ch) * s.spatial + j;
        y[at] = (x[at]! - mean[ch]!) * inv * (gamma ? gamma[ch]! : 1) + (beta ? beta[ch]! : 0);
      }
    }
  }
  return y;
}

/** Training-mode gradients: dβ = Σ dy, dγ = Σ dy·x̂, dx = γ·invstd/n·(n·dy − dβ − x̂·dγ). */
function bnBackward64(s: BnShape, dy: ArrayLike<number>, x: ArrayLike<number>, eps: number, gamma?: ArrayLike<number>) {
  const { mean, varB } = bnStats64(s, x);
  const n = s.batch * s.spatial;
  const dgamma = new Float64Array(s.c),
    dbeta = new Float64Array(s.c),
    dx = new Float64Array(x.length);
  for (let ch = 0; ch < s.c; ch++) {
    const inv = 1 / Math.sqrt(varB[ch]! + eps);
    let sdy = 0,
      sdyx = 0;
    for (let b = 0; b < s.batch; b++) {
      for (let j = 0; j < s.spatial; j++) {
        const at = (b * s.c + ch) * s.spatial + j;
        sdy += dy[at]!;
        sdyx += dy[at]! * (x[at]! - mean[ch]!) * inv;
      }
    }
    dbeta[ch] = sdy;
    dgamma[ch] = sdyx;
    const g = gamma ? gamma[ch]! : 1;
    for (let b = 0; b < s.batch; b++) {
      for (let j = 0; j < s.spatial; j++) {
        const at = (b * s.c + ch) * s.spatial + j;
        const xhat = (x[at]! - mean[ch]!) * inv;
        dx[at] = ((g * inv) / n) * (n * dy[at]! - sdy - xhat * sdyx);
      }
    }
  }
  return { dx, dgamma, dbeta, mean, varB };
}

interface BnInputs {
  x: Float32Array;
  gamma?: Float32Array;
  beta?: Float32Array;
  rm: Float32Array;
  rv: Float32Array;
  dy: Float32Array;
}

function bnInputs(s: BnShape, seed: number, affine: boolean, center = 0.5, spread = 2): BnInputs {
  const rnd = new TestRandom(seed);
  const n = s.batch * s.c * s.spatial;
  return {
    x: Float32Array.from(rnd.uniform(n), (v) => center + spread * v),
    gamma: affine ? rnd.uniform(s.c, 0.5, 1.5) : undefined,
    beta: affine ? rnd.uniform(s.c) : undefined,
    rm: rnd.uniform(s.c, -0.3, 0.3),
    rv: rnd.uniform(s.c, 0.5, 1.5),
    dy: rnd.uniform(n),
  };
}

interface BnTrainOut {
  y: Float32Array;
  mean: Float32Array;
  invstd: Float32Array;
  rm?: Float32Array;
  rv?: Float32Array;
}

function runBnTrain(engine: TestEngine, v: Variant, s: BnShape, inp: BnInputs, momentum: number, eps: number, offset: boolean, running = true): BnTrainOut {
  return engine.scoped(() => {
    const n = inp.x.length;
    const what = `batchnorm_forward_train${v} ${bnLabel(s)}`;
    const x = put(engine, inp.x, offset);
    const y = putNaN(engine, n, !offset);
    const mean = putNaN(engine, s.c, offset);
    const invstd = putNaN(engine, s.c, !offset);
    const rm = running ? put(engine, inp.rm, offset) : 0;
    const rv = running ? put(engine, inp.rv, !offset) : 0;
    const gamma = inp.gamma ? put(engine, inp.gamma, offset) : 0;
    const beta = inp.beta ? put(engine, inp.beta, !offset) : 0;
    engine.kernels[`batchnorm_forward_train${v}`](y, mean, invstd, rm, rv, x, gamma, beta, s.batch, s.c, s.spatial, momentum, eps);
    return {
      y: take(engine, y, n, `${what}: y`),
      mean: take(engine, mean, s.c, `${what}: mean`),
      invstd: take(engine, invstd, s.c, `${what}: invstd`),
      rm: running ? take(engine, rm, s.c, `${what}: running_mean`) : undefined,
      rv: running ? take(engine, rv, s.c, `${what}: running_var`) : undefined,
    };
  });
}

function runBnEval(engine: TestEngine, v: Variant, s: BnShape, inp: BnInputs, eps: number, offset: boolean): Float32Array {
  return engine.scoped(() => {
    const n = inp.x.length;
    const x = put(engine, inp.x, offset);
    const y = putNaN(engine, n, !offset);
    const rm = put(engine, inp.rm, offset);
    const rv = put(engine, inp.rv, !offset);
    const gamma = inp.gamma ? put(engine, inp.gamma, offset) : 0;
    const beta = inp.beta ? put(engine, inp.beta, !offset) : 0;
    engine.kernels[`batchnorm_forward_eval${v}`](y, x, gamma, beta, rm, rv, s.batch, s.c, s.spatial, eps);
    return take(engine, y, n, `batchnorm_forward_eval${v} ${bnLabel(s)}`);
  });
}

function runBnBackward(engine: TestEngine, v: Variant, s: BnShape, inp: BnInputs, mean: ArrayLike<number>, invstd: ArrayLike<number>, offset: boolean) {
  return engine.scoped(() => {
    const n = inp.x.length;
    const what = `batchnorm_backward${v} ${bnLabel(s)}`;
    const x = put(engine, inp.x, offset);
    const dy = put(engine, inp.dy, !offset);
    const dx = putNaN(engine, n, offset);
    const dgamma = putNaN(engine, s.c, !offset);
    const dbeta = putNaN(engine, s.c, offset);
    const gamma = inp.gamma ? put(engine, inp.gamma, offset) : 0;
    const m = put(engine, mean, !offset);
    const is = put(engine, invstd, offset);
    engine.kernels[`batchnorm_backward${v}`](dx, dgamma, dbeta, dy, x, gamma, m, is, s.batch, s.c, s.spatial);
    return {
      dx: take(engine, dx, n, `${what}: dx`),
      dgamma: take(engine, dgamma, s.c, `${what}: dgamma`),
      dbeta: take(engine, dbeta, s.c, `${what}: dbeta`),
    };
  });
}

const BN_GRID: BnShape[] = (() => {
  const shapes: BnShape[] = [];
  let i = 0;
  for (const spatial of [1, 2, 3, 4, 5, 7, 9, 25, 49, 169]) {
    for (const c of CHANNELS) {
      const batch = [2, 3, 1, 16, 5][i++ % 5]!;
      if (batch * spatial < 2) continue;
      shapes.push({ batch, c, spatial });
    }
  }
  return shapes;
})();

/**
 * Float32-rounding bounds of the training forward against float64 (see batchnorm.ts):
 * mean and invstd are float64 results rounded once (2u, some slack); y = (x − m)·s + β
 * rounds three times on top of m's and s's own rounding: 6u·((|x| + 2|m|)·|s| + |β| + |y|).
 */
function bnForwardScale(
  s: BnShape,
  x: ArrayLike<number>,
  mean: ArrayLike<number>,
  invstd: ArrayLike<number>,
  y: ArrayLike<number>,
  gamma?: ArrayLike<number>,
  beta?: ArrayLike<number>,
) {
  const scale = new Float64Array(x.length);
  for (let b = 0; b < s.batch; b++) {
    for (let ch = 0; ch < s.c; ch++) {
      const sc = Math.abs((gamma ? gamma[ch]! : 1) * invstd[ch]!);
      for (let j = 0; j < s.spatial; j++) {
        const at = (b * s.c + ch) * s.spatial + j;
        scale[at] = (Math.abs(x[at]!) + 2 * Math.abs(mean[ch]!)) * sc + (beta ? Math.abs(beta[ch]!) : 0) + Math.abs(y[at]!);
      }
    }
  }
  return scale;
}

/**
 * Bounds of the backward against float64. x̂ is formed from the rounded mean and invstd:
 * off by u·(|x̂| + |mean|·invstd) (times a few); dγ = Σ dy·x̂ inherits that, summed:
 * (|dγ| + invstd·|mean|·Σ|dy|); dx = ((dy − a) − x̂·q)·s, a = dβ/n, q = dγ/n, rounds four
 * times over terms of size (|dy| + |a| + |x̂·q|)·|s| and inherits q's and x̂'s errors.
 */
function bnBackwardScales(s: BnShape, inp: BnInputs, eps: number) {
  const ref = bnBackward64(s, inp.dy, inp.x, eps, inp.gamma);
  const n = s.batch * s.spatial;
  const sdx = new Float64Array(inp.x.length);
  const sdgamma = new Float64Array(s.c);
  for (let ch = 0; ch < s.c; ch++) {
    const inv = 1 / Math.sqrt(ref.varB[ch]! + eps);
    const m = Math.abs(ref.mean[ch]!);
    let sumAbsDy = 0;
    for (let b = 0; b < s.batch; b++) for (let j = 0; j < s.spatial; j++) sumAbsDy += Math.abs(inp.dy[(b * s.c + ch) * s.spatial + j]!);
    sdgamma[ch] = Math.abs(ref.dgamma[ch]!) + inv * m * sumAbsDy + 1e-30;
    const a = Math.abs(ref.dbeta[ch]!) / n;
    const q = sdgamma[ch]! / n;
    const sc = Math.abs((inp.gamma ? inp.gamma[ch]! : 1) * inv);
    for (let b = 0; b < s.batch; b++) {
      for (let j = 0; j < s.spatial; j++) {
        const at = (b * s.c + ch) * s.spatial + j;
        const xhat = Math.abs((inp.x[at]! - ref.mean[ch]!) * inv);
        sdx[at] = (Math.abs(inp.dy[at]!) + a + (xhat + m * inv + 1) * q) * sc;
      }
    }
  }
  return { ref, sdx, sdgamma };
}

// ================================================================ PyTorch fixtures

interface ConvFixture extends ConvShape {
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
  h: number;
  w: number;
  k: number;
  stride: number;
  pad: number;
  x: number[];
  y: number[];
  indices?: number[];
  dy: number[];
  dx: number[];
}
interface BnFixture {
  shape: number[];
  affine: boolean;
  momentum: number;
  eps: number;
  x: number[];
  running_mean0: number[];
  running_var0: number[];
  dy: number[];
  y: number[];
  mean: number[];
  invstd: number[];
  running_mean: number[];
  running_var: number[];
  dx: number[];
  y_eval: number[];
  dx_eval: number[];
  gamma?: number[];
  beta?: number[];
  dgamma?: number[];
  dbeta?: number[];
}
interface Fixtures {
  torch_version: string;
  conv2d: ConvFixture[];
  maxpool2d: PoolFixture[];
  avgpool2d: PoolFixture[];
  batchnorm: BnFixture[];
}

const FIXTURES = JSON.parse(readFileSync(new URL("../fixtures/conv-fixtures.json", import.meta.url), "utf8")) as Fixtures;
/** PyTorch and the kernels both round (in other orders, maybe with FMA): a one-evaluation bound, doubled. */
const BOTH = 2;

const bnShapeOf = (f: BnFixture): BnShape => ({
  batch: f.shape[0]!,
  c: f.shape[1]!,
  spatial: f.shape.slice(2).reduce((a, b) => a * b, 1),
});

// ================================================================ tests, per exact build

describe.each(EXACT_BUILDS)("convolution, pooling and batch norm, %s build", (build) => {
  let engine: TestEngine;
  beforeAll(async () => {
    engine = await loadBuild(build);
  });

  describe("im2col / col2im", () => {
    it("the grid covers every batch size, channel count, spatial size, kernel, stride and pad asked for", () => {
      const seen = (f: (s: ConvShape) => number) => new Set(CONV_GRID.map(f));
      for (const b of BATCHES) expect(seen((s) => s.batch)).toContain(b);
      for (const c of CHANNELS) expect(seen((s) => s.cin)).toContain(c);
      for (const c of CHANNELS) expect(seen((s) => s.cout)).toContain(c);
      for (const n of SPATIAL) expect(seen((s) => s.h)).toContain(n);
      for (const [kh, kw] of KERNELS) expect(CONV_GRID.some((s) => s.kh === kh && s.kw === kw)).toBe(true);
      for (const st of STRIDES) expect(seen((s) => s.stride)).toContain(st);
      for (const p of PADS) expect(seen((s) => s.pad)).toContain(p);
      expect(CONV_GRID.some((s) => s.h === 1 && s.w === 1)).toBe(true);
    });

    it("im2col equals im2col_ref and the definition exactly (it only copies), every padding entry 0", () => {
      let seed = 1;
      for (const s of [...CONV_GRID, ...CONV_LARGE]) {
        const x = new TestRandom(seed++).uniform(s.cin * s.h * s.w);
        const want = im2colDefinition(s, x);
        const offset = seed % 2 === 0;
        expectSameBits(runIm2col(engine, "", s, x, offset), want, `im2col ${convLabel(s)}`);
        expectSameBits(runIm2col(engine, "_ref", s, x, offset), want, `im2col_ref ${convLabel(s)}`);
      }
    });

    it("col2im accumulates into dx: equals col2im_ref bit for bit and dx + the adjoint of im2col in float64", () => {
      let seed = 1000;
      for (const s of CONV_GRID) {
        const { P, K } = convDims(s);
        const rnd = new TestRandom(seed++);
        const dx0 = rnd.uniform(s.cin * s.h * s.w);
        const col = rnd.uniform(K * P);
        const offset = seed % 2 === 1;
        const fast = runCol2im(engine, "", s, dx0, col, offset);
        expectSameBits(fast, runCol2im(engine, "_ref", s, dx0, col, offset), `col2im ${convLabel(s)}: fast vs ref`);
        // Adjoint: the gradient of Σ col ⊙ im2col(x) w.r.t. x, built from the definition on unit vectors.
        const want = Float64Array.from(dx0);
        const scale = Float64Array.from(dx0, Math.abs);
        const unit = new Float32Array(dx0.length);
        for (let i = 0; i < dx0.length; i++) {
          unit[i] = 1;
          const e = im2colDefinition(s, unit);
          unit[i] = 0;
          for (let q = 0; q < e.length; q++) {
            if (e[q] !== 0) {
              want[i] = want[i]! + col[q]!;
              scale[i] = scale[i]! + Math.abs(col[q]!);
            }
          }
        }
        expectWithin(fast, want, scale, s.kh * s.kw + 1, `col2im ${convLabel(s)}: vs float64`);
      }
    });
  });

  describe("conv2d", () => {
    it(`forward and backward over ${CONV_GRID.length} shapes: fast = _ref bit for bit, both = float64 to rounding`, () => {
      let seed = 2000;
      CONV_GRID.forEach((s, i) => {
        checkConv(engine, s, seed++, FLAG_SETS[i % 4]!, i % 3 !== 2, i % 2 === 1, true);
      });
    });

    it("every flag combination, with and without bias, on shapes below, at and above the 4×8 tile", () => {
      let seed = 3000;
      const shapes: ConvShape[] = [
        { batch: 1, cin: 1, h: 1, w: 1, cout: 1, kh: 1, kw: 1, stride: 1, pad: 0 },
        { batch: 2, cin: 3, h: 5, w: 5, cout: 3, kh: 3, kw: 3, stride: 1, pad: 1 }, // cout < 4: the GEMM's row path
        { batch: 1, cin: 4, h: 6, w: 4, cout: 4, kh: 3, kw: 3, stride: 1, pad: 1 }, // P = 24, cout = 4: whole tiles
        { batch: 3, cin: 5, h: 9, w: 7, cout: 8, kh: 2, kw: 3, stride: 2, pad: 2 },
        { batch: 2, cin: 8, h: 13, w: 11, cout: 5, kh: 5, kw: 5, stride: 3, pad: 2 },
      ];
      for (const s of shapes) {
        for (const flags of FLAG_SETS) for (const bias of [false, true]) checkConv(engine, s, seed++, flags, bias, seed % 2 === 0, true);
      }
    });

    it("shapes past the GEMM blocks (K > 256, P > 256, cout > 64) and the 1×1 path with K > 256", () => {
      let seed = 4000;
      for (const s of CONV_LARGE) checkConv(engine, s, seed++, RELU, true, false, true);
    });

    it("ReLU is max(·, 0) of the biased sum: every output is ≥ 0 and equals the un-fused result clamped", () => {
      const s: ConvShape = { batch: 2, cin: 3, h: 7, w: 6, cout: 5, kh: 3, kw: 3, stride: 1, pad: 1 };
      const inp = convInputs(s, 4500);
      const plain = runForward(engine, "", s, inp, 0, true, false);
      const relu = runForward(engine, "", s, inp, RELU, true, false);
      expect(relu.every((v) => v >= 0)).toBe(true);
      expect(plain.some((v) => v < 0)).toBe(true);
      expectSameBits(
        relu,
        plain.map((v) => Math.max(v, 0)),
        "relu vs clamp",
      );
    });

    it("dx = 0 and db = 0 skip those gradients and leave dw unchanged", () => {
      let seed = 5000;
      for (const s of CONV_GRID.slice(0, 40)) {
        const inp = convInputs(s, seed++);
        for (const v of VARIANTS) {
          const full = runBackward(engine, v, s, inp, false);
          const dwOnly = runBackward(engine, v, s, inp, false, { dx: false, db: false });
          expectSameBits(dwOnly.dw, full.dw, `conv2d_backward${v} ${convLabel(s)}: dw without dx, db`);
          const noDb = runBackward(engine, v, s, inp, false, { dx: true, db: false });
          expectSameBits(noDb.dx!, full.dx!, `conv2d_backward${v} ${convLabel(s)}: dx without db`);
        }
      }
    });

    it("the two halves of backward: dw computed in blocks, and dx alone, give backward's bits", () => {
      // What a threaded engine runs: conv2d_backward_filter on blocks of K's columns (db with
      // the first; each block's work holds only its rows of col) or of output channels (each
      // with its part of db), and conv2d_backward_data on the whole batch.
      let seed = 5200;
      for (const s of CONV_GRID.filter((_, i) => i % 7 === 0)) {
        const inp = convInputs(s, seed++);
        const whole = runBackward(engine, "", s, inp, false);
        const { P, K } = convDims(s);
        const cuts = [...new Set([0, Math.min(1, K), Math.floor(K / 3), Math.floor((2 * K) / 3), K])].sort((a, b) => a - b);
        engine.scoped(() => {
          const k = engine.kernels;
          const x = engine.putF32(inp.x),
            w = engine.putF32(inp.w),
            dy = engine.putF32(inp.dy);
          const dw = engine.putF32(new Float32Array(inp.w.length).fill(NaN));
          const db = engine.putF32(new Float32Array(s.cout).fill(NaN));
          const dx = engine.putF32(new Float32Array(inp.x.length).fill(NaN));
          for (let c = 0; c + 1 < cuts.length; c++) {
            const [k0, k1] = [cuts[c]!, cuts[c + 1]!];
            if (k0 === k1) continue;
            const work = engine.putF32(new Float32Array((k1 - k0) * P).fill(NaN));
            k.conv2d_backward_filter(dw, k0 === 0 ? db : 0, dy, x, work, s.batch, s.cin, s.h, s.w, s.cout, s.kh, s.kw, s.stride, s.pad, 0, s.cout, k0, k1);
          }
          expectSameBits(engine.readF32(dw, inp.w.length), whole.dw, `${convLabel(s)}: dw in column blocks ${cuts.join(", ")}`);
          expectSameBits(engine.readF32(db, s.cout), whole.db!, `${convLabel(s)}: db with the first column block`);
          // Blocks of output channels (rows of dw), each with all of K and its part of db.
          engine.f32(dw, inp.w.length).fill(NaN);
          engine.f32(db, s.cout).fill(NaN);
          const rowCuts = [...new Set([0, Math.floor(s.cout / 2), s.cout])];
          const all = engine.putF32(new Float32Array(K * P).fill(NaN));
          for (let c = 0; c + 1 < rowCuts.length; c++) {
            k.conv2d_backward_filter(dw, db, dy, x, all, s.batch, s.cin, s.h, s.w, s.cout, s.kh, s.kw, s.stride, s.pad, rowCuts[c]!, rowCuts[c + 1]!, 0, K);
          }
          const work = engine.putF32(new Float32Array(K * P).fill(NaN));
          k.conv2d_backward_data(dx, dy, w, work, s.batch, s.cin, s.h, s.w, s.cout, s.kh, s.kw, s.stride, s.pad);
          expectSameBits(engine.readF32(dw, inp.w.length), whole.dw, `${convLabel(s)}: dw in row blocks ${rowCuts.join(", ")}`);
          expectSameBits(engine.readF32(db, s.cout), whole.db!, `${convLabel(s)}: db in row blocks`);
          expectSameBits(engine.readF32(dx, inp.x.length), whole.dx!, `${convLabel(s)}: dx alone`);
        });
      }
    });

    it("a 1×1 stride-1 unpadded convolution accepts work = 0 and gives the same bits", () => {
      const s: ConvShape = { batch: 3, cin: 5, h: 4, w: 7, cout: 6, kh: 1, kw: 1, stride: 1, pad: 0 };
      const inp = convInputs(s, 5500);
      const withWork = runForward(engine, "", s, inp, 0, true, false);
      const grads = runBackward(engine, "", s, inp, false);
      engine.scoped(() => {
        const n = withWork.length;
        const x = engine.putF32(inp.x),
          w = engine.putF32(inp.w),
          b = engine.putF32(inp.bias!),
          dy = engine.putF32(inp.dy);
        const y = engine.allocF32(n),
          dx = engine.allocF32(inp.x.length),
          dw = engine.allocF32(inp.w.length),
          db = engine.allocF32(s.cout);
        engine.kernels.conv2d_forward(y, x, w, b, 0, s.batch, s.cin, s.h, s.w, s.cout, 1, 1, 1, 0, 0);
        engine.kernels.conv2d_backward(dx, dw, db, dy, x, w, 0, s.batch, s.cin, s.h, s.w, s.cout, 1, 1, 1, 0);
        expectSameBits(engine.readF32(y, n), withWork, "y without work");
        expectSameBits(engine.readF32(dx, inp.x.length), grads.dx!, "dx without work");
        expectSameBits(engine.readF32(dw, inp.w.length), grads.dw, "dw without work");
      });
    });

    it("non-finite values travel the same way through both versions (a padded 0 times ∞ is NaN in both)", () => {
      const s: ConvShape = { batch: 2, cin: 3, h: 6, w: 5, cout: 4, kh: 3, kw: 3, stride: 1, pad: 1 };
      const inp = convInputs(s, 5600);
      inp.w[7] = Infinity;
      inp.x[11] = -Infinity;
      inp.dy[3] = Infinity;
      for (const flags of [0, RELU]) {
        const fast = runForward(engine, "", s, inp, flags, true, false);
        expectSameBits(fast, runForward(engine, "_ref", s, inp, flags, true, false), `y flags ${flags}`);
        expect(fast.some(Number.isNaN)).toBe(true);
      }
      const g = runBackward(engine, "", s, inp, false);
      const r = runBackward(engine, "_ref", s, inp, false);
      expectSameBits(g.dx!, r.dx!, "dx");
      expectSameBits(g.dw, r.dw, "dw");
      expectSameBits(g.db!, r.db!, "db");
    });

    it("backward equals central finite differences of Σ dy ⊙ conv(x, w, b) in float64", () => {
      const shapes: ConvShape[] = [
        { batch: 2, cin: 3, h: 5, w: 6, cout: 4, kh: 3, kw: 3, stride: 1, pad: 1 },
        { batch: 1, cin: 2, h: 7, w: 7, cout: 3, kh: 2, kw: 3, stride: 2, pad: 2 },
        { batch: 3, cin: 1, h: 4, w: 4, cout: 2, kh: 1, kw: 1, stride: 1, pad: 0 },
        { batch: 1, cin: 4, h: 6, w: 5, cout: 2, kh: 5, kw: 5, stride: 3, pad: 2 },
      ];
      let seed = 6000;
      for (const s of shapes) {
        const inp = convInputs(s, seed++);
        const loss = (x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>) => dot64(inp.dy, conv64(s, x, w, b).y);
        const fdX = numericGradient((x) => loss(x, inp.w, inp.bias!), inp.x);
        const fdW = numericGradient((w) => loss(inp.x, w, inp.bias!), inp.w);
        const fdB = numericGradient((b) => loss(inp.x, inp.w, b), inp.bias!);
        const { sdx, sdw, sdb } = convBackward64(s, inp.dy, inp.x, inp.w);
        const { P } = convDims(s);
        for (const v of VARIANTS) {
          const g = runBackward(engine, v, s, inp, false);
          const what = `conv2d_backward${v} ${convLabel(s)}`;
          expectWithin(g.dx!, fdX, sdx, s.cout + s.kh * s.kw + 1, `${what}: dx vs finite differences`, FD_ATOL);
          expectWithin(g.dw, fdW, sdw, s.batch * P + 1, `${what}: dw vs finite differences`, FD_ATOL);
          expectWithin(g.db!, fdB, sdb, s.batch * P + 1, `${what}: db vs finite differences`, FD_ATOL);
        }
      }
    });
  });

  describe("max pooling", () => {
    it(`forward over ${POOL_GRID.length} shapes: fast = _ref = the float64 maximum exactly, same argmax`, () => {
      let seed = 7000;
      POOL_GRID.forEach((s, i) => {
        const x = new TestRandom(seed++).uniform(poolDims(s).nIn);
        const fast = runMaxpool(engine, "", s, x, i % 2 === 0);
        const ref = runMaxpool(engine, "_ref", s, x, i % 2 === 0);
        const want = maxpool64(s, x);
        expectSameBits(fast.y, ref.y, `${poolLabel(s)}: y, fast vs ref`);
        expect(Array.from(fast.index), `${poolLabel(s)}: argmax, fast vs ref`).toEqual(Array.from(ref.index));
        expectSameBits(fast.y, Float32Array.from(want.y), `${poolLabel(s)}: y vs float64`);
        expect(Array.from(fast.index), `${poolLabel(s)}: argmax vs reference`).toEqual(Array.from(want.index));
      });
    });

    it("ties go to the first maximum in (ky, kx) order; NaN propagates (the first NaN wins); −∞ and padding", () => {
      let seed = 7500;
      for (const s of POOL_GRID) {
        const rnd = new TestRandom(seed++);
        const { nIn } = poolDims(s);
        const x = Float32Array.from(rnd.ints(nIn, 3), (v) => v - 1); // −1, 0, 1: many ties
        x[Math.floor(rnd.next() * nIn)] = NaN;
        if (nIn > 3) x[Math.floor(rnd.next() * nIn)] = NaN;
        if (nIn > 1) x[Math.floor(rnd.next() * nIn)] = -Infinity;
        const want = maxpool64(s, x);
        for (const v of VARIANTS) {
          const got = runMaxpool(engine, v, s, x, false);
          expectSameBits(got.y, Float32Array.from(want.y), `maxpool${v} ${poolLabel(s)}: y`);
          expect(Array.from(got.index), `maxpool${v} ${poolLabel(s)}: argmax`).toEqual(Array.from(want.index));
        }
      }
      // A window made of −∞ only (beside padding) still picks an input, not the padding.
      const s: PoolShape = { batch: 1, c: 1, h: 2, w: 2, k: 2, stride: 1, pad: 1 };
      for (const v of VARIANTS) {
        const got = runMaxpool(engine, v, s, [-Infinity, -Infinity, -Infinity, -Infinity], false);
        expect(Array.from(got.y)).toEqual(new Array(9).fill(-Infinity));
        expect(Array.from(got.index)).toEqual([0, 0, 1, 0, 0, 1, 2, 2, 3]);
      }
    });

    it("backward: fast (zero, scatter) = _ref (gather) bit for bit, = float64 to rounding, dx overwritten", () => {
      let seed = 8000;
      POOL_GRID.forEach((s, i) => {
        const rnd = new TestRandom(seed++);
        const { nIn, nOut } = poolDims(s);
        const x = rnd.uniform(nIn);
        const dy = rnd.uniform(nOut);
        const { index } = runMaxpool(engine, "", s, x, false);
        const fast = runMaxpoolBackward(engine, "", s, dy, index, i % 2 === 1);
        expectSameBits(fast, runMaxpoolBackward(engine, "_ref", s, dy, index, i % 2 === 1), `${poolLabel(s)}: dx, fast vs ref`);
        const want = maxpoolBackward64(s, dy, index);
        const overlaps = Math.ceil(s.k / s.stride) ** 2;
        expectWithin(fast, want.dx, want.scale, overlaps + 1, `${poolLabel(s)}: dx vs float64`);
      });
    });

    it("backward equals central finite differences of Σ dy ⊙ maxpool(x) (distinct inputs)", () => {
      let seed = 8500;
      for (const s of POOL_GRID.filter((_, i) => i % 4 === 0)) {
        const rnd = new TestRandom(seed++);
        const { nIn, nOut } = poolDims(s);
        const x = distinctValues(rnd, nIn);
        const dy = rnd.uniform(nOut);
        const fd = numericGradient((xx) => dot64(dy, maxpool64(s, xx).y), x);
        const { index } = runMaxpool(engine, "", s, x, false);
        const scale = maxpoolBackward64(s, dy, index).scale;
        for (const v of VARIANTS) {
          const got = runMaxpoolBackward(engine, v, s, dy, index, false);
          expectWithin(got, fd, scale, Math.ceil(s.k / s.stride) ** 2 + 1, `maxpool2d_backward${v} ${poolLabel(s)}: vs finite differences`, FD_ATOL);
        }
      }
    });
  });

  describe("average pooling (count_include_pad = true)", () => {
    it(`forward over ${POOL_GRID.length} shapes: fast = _ref bit for bit, = float64 to rounding`, () => {
      let seed = 9000;
      POOL_GRID.forEach((s, i) => {
        const x = new TestRandom(seed++).uniform(poolDims(s).nIn);
        const fast = runAvgpool(engine, "", s, x, i % 2 === 0);
        expectSameBits(fast, runAvgpool(engine, "_ref", s, x, i % 2 === 0), `${poolLabel(s)}: y, fast vs ref`);
        const want = avgpool64(s, x);
        // k² additions and one division.
        expectWithin(fast, want.y, want.scale, s.k * s.k + 1, `${poolLabel(s)}: y vs float64`);
      });
    });

    it("the divisor counts the padding: a constant input gives c·(inputs in the window)/k² at the border", () => {
      const s: PoolShape = { batch: 1, c: 1, h: 3, w: 3, k: 3, stride: 1, pad: 1 };
      for (const v of VARIANTS) {
        const y = runAvgpool(engine, v, s, new Float32Array(9).fill(9), false);
        expect(Array.from(y)).toEqual([4, 6, 4, 6, 9, 6, 4, 6, 4]);
      }
    });

    it("backward: fast (zero, scatter) = _ref (gather) bit for bit, = float64 to rounding, dx overwritten", () => {
      let seed = 9500;
      POOL_GRID.forEach((s, i) => {
        const { nOut } = poolDims(s);
        const dy = new TestRandom(seed++).uniform(nOut);
        const fast = runAvgpoolBackward(engine, "", s, dy, i % 2 === 1);
        expectSameBits(fast, runAvgpoolBackward(engine, "_ref", s, dy, i % 2 === 1), `${poolLabel(s)}: dx, fast vs ref`);
        const want = avgpoolBackward64(s, dy);
        // One division per term, then up to ⌈k/stride⌉² additions.
        expectWithin(fast, want.dx, want.scale, Math.ceil(s.k / s.stride) ** 2 + 2, `${poolLabel(s)}: dx vs float64`);
      });
    });

    it("backward equals central finite differences of Σ dy ⊙ avgpool(x)", () => {
      let seed = 9800;
      for (const s of POOL_GRID.filter((_, i) => i % 4 === 1)) {
        const rnd = new TestRandom(seed++);
        const { nIn, nOut } = poolDims(s);
        const x = rnd.uniform(nIn);
        const dy = rnd.uniform(nOut);
        const fd = numericGradient((xx) => dot64(dy, avgpool64(s, xx).y), x);
        const scale = avgpoolBackward64(s, dy).scale;
        for (const v of VARIANTS) {
          const got = runAvgpoolBackward(engine, v, s, dy, false);
          expectWithin(got, fd, scale, Math.ceil(s.k / s.stride) ** 2 + 2, `avgpool2d_backward${v} ${poolLabel(s)}: vs finite differences`, FD_ATOL);
        }
      }
    });
  });

  describe("batch norm", () => {
    const momentum = 0.1;
    const eps = 1e-5;

    it(`training forward over ${BN_GRID.length} shapes: fast = _ref bit for bit (y, saved and running statistics), = float64`, () => {
      let seed = 10000;
      BN_GRID.forEach((s, i) => {
        const affine = i % 3 !== 2;
        const inp = bnInputs(s, seed++, affine);
        const fast = runBnTrain(engine, "", s, inp, momentum, eps, i % 2 === 0);
        const ref = runBnTrain(engine, "_ref", s, inp, momentum, eps, i % 2 === 0);
        const what = bnLabel(s);
        for (const key of ["y", "mean", "invstd", "rm", "rv"] as const) expectSameBits(fast[key]!, ref[key]!, `${what}: ${key}, fast vs ref`);
        const { mean, varB, varU } = bnStats64(s, inp.x);
        const invstd = varB.map((v) => 1 / Math.sqrt(v + eps));
        expectWithin(fast.mean, mean, mean.map(Math.abs), 2, `${what}: mean`);
        expectWithin(fast.invstd, invstd, invstd, 2, `${what}: invstd`);
        const rm = mean.map((m, ch) => (1 - momentum) * inp.rm[ch]! + momentum * m);
        const rv = varU.map((v, ch) => (1 - momentum) * inp.rv[ch]! + momentum * v);
        expectWithin(fast.rm!, rm, rm.map(Math.abs), 2, `${what}: running_mean`);
        expectWithin(fast.rv!, rv, rv, 2, `${what}: running_var (unbiased)`);
        const y = bnApply64(s, inp.x, mean, varB, eps, inp.gamma, inp.beta);
        expectWithin(fast.y, y, bnForwardScale(s, inp.x, mean, invstd, y, inp.gamma, inp.beta), 6, `${what}: y`);
      });
    });

    it("training forward without running statistics (0 pointers) gives the same y and saved statistics", () => {
      const s: BnShape = { batch: 1, c: 5, spatial: 1 };
      const s2: BnShape = { batch: 3, c: 4, spatial: 7 };
      for (const [shape, running] of [
        [s, false],
        [s2, false],
      ] as const) {
        const inp = bnInputs(shape, 10500, true);
        for (const v of VARIANTS) {
          const got = runBnTrain(engine, v, shape, inp, momentum, eps, false, running);
          if (shape.batch * shape.spatial > 1) {
            const full = runBnTrain(engine, v, shape, inp, momentum, eps, false, true);
            expectSameBits(got.y, full.y, `${bnLabel(shape)}${v}: y`);
            expectSameBits(got.invstd, full.invstd, `${bnLabel(shape)}${v}: invstd`);
          } else {
            // One value per channel: x̂ = 0, so y = β exactly (and the variance is 0).
            expectSameBits(got.y, inp.beta!, `${bnLabel(shape)}${v}: y = beta`);
            expectSameBits(got.mean, inp.x, `${bnLabel(shape)}${v}: mean = x`);
          }
        }
      }
    });

    it(`eval forward over ${BN_GRID.length} shapes: fast = _ref bit for bit, = float64`, () => {
      let seed = 11000;
      BN_GRID.forEach((s, i) => {
        const affine = i % 3 !== 1;
        const inp = bnInputs(s, seed++, affine);
        const fast = runBnEval(engine, "", s, inp, eps, i % 2 === 1);
        expectSameBits(fast, runBnEval(engine, "_ref", s, inp, eps, i % 2 === 1), `${bnLabel(s)}: y, fast vs ref`);
        const y = bnApply64(s, inp.x, inp.rm, inp.rv, eps, inp.gamma, inp.beta);
        const invstd = Array.from(inp.rv, (v) => 1 / Math.sqrt(v + eps));
        expectWithin(fast, y, bnForwardScale(s, inp.x, inp.rm, invstd, y, inp.gamma, inp.beta), 6, `${bnLabel(s)}: y vs float64`);
      });
    });

    it(`backward over ${BN_GRID.length} shapes: fast = _ref bit for bit, = float64 to rounding`, () => {
      let seed = 12000;
      BN_GRID.forEach((s, i) => {
        const affine = i % 3 !== 0;
        const inp = bnInputs(s, seed++, affine);
        const fwd = runBnTrain(engine, "", s, inp, momentum, eps, false);
        const fast = runBnBackward(engine, "", s, inp, fwd.mean, fwd.invstd, i % 2 === 0);
        const ref = runBnBackward(engine, "_ref", s, inp, fwd.mean, fwd.invstd, i % 2 === 0);
        const what = bnLabel(s);
        expectSameBits(fast.dx, ref.dx, `${what}: dx, fast vs ref`);
        expectSameBits(fast.dgamma, ref.dgamma, `${what}: dgamma, fast vs ref`);
        expectSameBits(fast.dbeta, ref.dbeta, `${what}: dbeta, fast vs ref`);
        const { ref: want, sdx, sdgamma } = bnBackwardScales(s, inp, eps);
        expectWithin(fast.dbeta, want.dbeta, want.dbeta.map(Math.abs), 2, `${what}: dbeta`);
        expectWithin(fast.dgamma, want.dgamma, sdgamma, 4, `${what}: dgamma`);
        expectWithin(fast.dx, want.dx, sdx, 16, `${what}: dx`);
      });
    });

    it("backward equals central finite differences of Σ dy ⊙ batchnorm_train(x; γ, β) in float64", () => {
      const shapes: BnShape[] = [
        { batch: 4, c: 3, spatial: 1 },
        { batch: 2, c: 5, spatial: 9 },
        { batch: 3, c: 4, spatial: 7 },
        { batch: 1, c: 2, spatial: 13 },
      ];
      let seed = 13000;
      for (const s of shapes) {
        for (const affine of [true, false]) {
          const inp = bnInputs(s, seed++, affine, 1.5, 3);
          const loss = (x: ArrayLike<number>, g?: ArrayLike<number>, b?: ArrayLike<number>) => {
            const { mean, varB } = bnStats64(s, x);
            return dot64(inp.dy, bnApply64(s, x, mean, varB, eps, g, b));
          };
          const fdX = numericGradient((x) => loss(x, inp.gamma, inp.beta), inp.x);
          const fdG = numericGradient((g) => loss(inp.x, g, inp.beta), inp.gamma ?? new Float32Array(s.c).fill(1));
          const fdB = numericGradient((b) => loss(inp.x, inp.gamma, b), inp.beta ?? new Float32Array(s.c));
          const { sdx, sdgamma } = bnBackwardScales(s, inp, eps);
          const fwd = runBnTrain(engine, "", s, inp, momentum, eps, false);
          for (const v of VARIANTS) {
            const got = runBnBackward(engine, v, s, inp, fwd.mean, fwd.invstd, false);
            const what = `batchnorm_backward${v} ${bnLabel(s)}${affine ? "" : " (no affine)"}`;
            expectWithin(got.dx, fdX, sdx, 16, `${what}: dx vs finite differences`, 1e-7);
            expectWithin(got.dgamma, fdG, sdgamma, 4, `${what}: dgamma vs finite differences`, 1e-7);
            expectWithin(got.dbeta, fdB, fdB.map(Math.abs), 2, `${what}: dbeta vs finite differences`, 1e-7);
          }
        }
      }
    });

    it("y and dx may alias x and dy (in place) with the same bits", () => {
      for (const s of [
        { batch: 3, c: 5, spatial: 1 },
        { batch: 2, c: 3, spatial: 11 },
      ]) {
        const inp = bnInputs(s, 14000, true);
        const out = runBnTrain(engine, "", s, inp, momentum, eps, false);
        const grads = runBnBackward(engine, "", s, inp, out.mean, out.invstd, false);
        engine.scoped(() => {
          const k = engine.kernels;
          const n = inp.x.length;
          const x = engine.putF32(inp.x),
            mean = engine.allocF32(s.c),
            invstd = engine.allocF32(s.c);
          const g = engine.putF32(inp.gamma!),
            b = engine.putF32(inp.beta!);
          k.batchnorm_forward_train(x, mean, invstd, 0, 0, x, g, b, s.batch, s.c, s.spatial, momentum, eps);
          expectSameBits(engine.readF32(x, n), out.y, `${bnLabel(s)}: y in place`);
          const x2 = engine.putF32(inp.x),
            dy = engine.putF32(inp.dy),
            dg = engine.allocF32(s.c),
            db = engine.allocF32(s.c);
          k.batchnorm_backward(dy, dg, db, dy, x2, g, mean, invstd, s.batch, s.c, s.spatial);
          expectSameBits(engine.readF32(dy, n), grads.dx, `${bnLabel(s)}: dx in place`);
        });
      }
    });
  });

  describe(`PyTorch ${FIXTURES.torch_version} fixtures`, () => {
    it("the fixture file has every section", () => {
      for (const section of ["conv2d", "maxpool2d", "avgpool2d", "batchnorm"] as const) {
        expect(FIXTURES[section].length, section).toBeGreaterThan(0);
      }
    });

    for (const f of FIXTURES.conv2d) {
      const s: ConvShape = { batch: f.batch, cin: f.cin, h: f.h, w: f.w, cout: f.cout, kh: f.kh, kw: f.kw, stride: f.stride, pad: f.pad };
      it(`F.conv2d ${convLabel(s)}${f.bias ? "" : ", no bias"}${f.relu ? ", relu" : ""}: y, dx, dweight, dbias`, () => {
        const { P, K } = convDims(s);
        const got = engine.scoped(() => {
          const k = engine.kernels;
          const x = engine.putF32(f.x),
            w = engine.putF32(f.weight),
            b = f.bias ? engine.putF32(f.bias) : 0;
          const work = engine.allocF32(K * P);
          const n = f.y.length;
          const y = engine.allocF32(n);
          k.conv2d_forward(y, x, w, b, work, s.batch, s.cin, s.h, s.w, s.cout, s.kh, s.kw, s.stride, s.pad, f.relu ? RELU : 0);
          let dz = engine.putF32(f.dy);
          if (f.relu) {
            const masked = engine.allocF32(n);
            k.relu_backward(masked, dz, y, n);
            dz = masked;
          }
          const dx = engine.allocF32(f.x.length),
            dw = engine.allocF32(f.weight.length),
            db = f.bias ? engine.allocF32(s.cout) : 0;
          k.conv2d_backward(dx, dw, db, dz, x, w, work, s.batch, s.cin, s.h, s.w, s.cout, s.kh, s.kw, s.stride, s.pad);
          return {
            y: engine.readF32(y, n),
            dz: engine.readF32(dz, n),
            dx: engine.readF32(dx, f.x.length),
            dw: engine.readF32(dw, f.weight.length),
            db: f.bias ? engine.readF32(db, s.cout) : undefined,
          };
        });
        const fwd = conv64(s, f.x, f.weight, f.bias);
        expectWithin(got.y, f.y, fwd.scale, BOTH * (K + 2), "y");
        const grads = convBackward64(s, got.dz, f.x, f.weight);
        expectWithin(got.dx, f.dx, grads.sdx, BOTH * (s.cout + s.kh * s.kw + 1), "dx");
        expectWithin(got.dw, f.dweight, grads.sdw, BOTH * (s.batch * P + 1), "dweight");
        if (f.bias) expectWithin(got.db!, f.dbias!, grads.sdb, BOTH * (s.batch * P + 1), "dbias");
      });
    }

    for (const f of FIXTURES.maxpool2d) {
      const s: PoolShape = { batch: f.batch, c: f.c, h: f.h, w: f.w, k: f.k, stride: f.stride, pad: f.pad };
      it(`F.max_pool2d ${poolLabel(s)}: y and indices exactly (ties included), dx`, () => {
        const fwd = runMaxpool(engine, "", s, f.x, false);
        expectSameBits(fwd.y, Float32Array.from(f.y), "y");
        expect(Array.from(fwd.index), "indices").toEqual(f.indices);
        const dx = runMaxpoolBackward(engine, "", s, f.dy, fwd.index, false);
        const want = maxpoolBackward64(s, f.dy, fwd.index);
        expectWithin(dx, f.dx, want.scale, BOTH * (Math.ceil(s.k / s.stride) ** 2 + 1), "dx");
      });
    }

    for (const f of FIXTURES.avgpool2d) {
      const s: PoolShape = { batch: f.batch, c: f.c, h: f.h, w: f.w, k: f.k, stride: f.stride, pad: f.pad };
      it(`F.avg_pool2d ${poolLabel(s)}: y and dx`, () => {
        const y = runAvgpool(engine, "", s, f.x, false);
        expectWithin(y, f.y, avgpool64(s, f.x).scale, BOTH * (s.k * s.k + 1), "y");
        const dx = runAvgpoolBackward(engine, "", s, f.dy, false);
        expectWithin(dx, f.dx, avgpoolBackward64(s, f.dy).scale, BOTH * (Math.ceil(s.k / s.stride) ** 2 + 2), "dx");
      });
    }

    for (const f of FIXTURES.batchnorm) {
      const s = bnShapeOf(f);
      const n = s.batch * s.spatial;
      it(`F.batch_norm training ${bnLabel(s)}${f.affine ? "" : ", no affine"}, momentum ${f.momentum}, eps ${f.eps}: y, saved and running statistics, dx, dgamma, dbeta`, () => {
        const inp: BnInputs = {
          x: Float32Array.from(f.x),
          gamma: f.gamma ? Float32Array.from(f.gamma) : undefined,
          beta: f.beta ? Float32Array.from(f.beta) : undefined,
          rm: Float32Array.from(f.running_mean0),
          rv: Float32Array.from(f.running_var0),
          dy: Float32Array.from(f.dy),
        };
        const got = runBnTrain(engine, "", s, inp, f.momentum, f.eps, false);
        const { mean, varB } = bnStats64(s, f.x);
        const invstd = varB.map((v) => 1 / Math.sqrt(v + f.eps));
        const absMean = new Float64Array(s.c);
        for (let i = 0; i < f.x.length; i++) {
          const ch = Math.floor(i / s.spatial) % s.c;
          absMean[ch] = absMean[ch]! + Math.abs(f.x[i]!) / n;
        }
        // PyTorch sums the n values in float32: its mean is off by up to n·u·mean|x|, and
        // every later quantity inherits that relative to the spread (invstd).
        const meanScale = absMean;
        expectWithin(got.mean, f.mean, meanScale, BOTH * (n + 2), "saved mean");
        const relSpread = Float64Array.from(invstd, (is, ch) => 1 + absMean[ch]! * is);
        expectWithin(
          got.invstd,
          f.invstd,
          invstd.map((is, ch) => is * relSpread[ch]!),
          BOTH * (n + 4),
          "saved invstd",
        );
        expectWithin(
          got.rm!,
          f.running_mean,
          meanScale.map((m, ch) => m + Math.abs(f.running_mean0[ch]!)),
          BOTH * (n + 2),
          "running_mean",
        );
        expectWithin(
          got.rv!,
          f.running_var,
          Float64Array.from(f.running_var, (v, ch) => v * relSpread[ch]! ** 2),
          BOTH * (n + 4),
          "running_var",
        );
        const y = bnApply64(s, f.x, mean, varB, f.eps, f.gamma, f.beta);
        const yScale = bnForwardScale(s, f.x, mean, invstd, y, f.gamma, f.beta);
        expectWithin(got.y, f.y, yScale, BOTH * (n + 6), "y");
        const grads = runBnBackward(engine, "", s, inp, got.mean, got.invstd, false);
        const { sdx, sdgamma } = bnBackwardScales(s, inp, f.eps);
        expectWithin(grads.dx, f.dx, sdx, BOTH * (n + 16), "dx");
        if (f.affine) {
          expectWithin(grads.dgamma, f.dgamma!, sdgamma, BOTH * (n + 4), "dgamma");
          const sumAbsDy = new Float64Array(s.c);
          for (let i = 0; i < f.dy.length; i++) {
            const ch = Math.floor(i / s.spatial) % s.c;
            sumAbsDy[ch] = sumAbsDy[ch]! + Math.abs(f.dy[i]!);
          }
          expectWithin(grads.dbeta, f.dbeta!, sumAbsDy, BOTH * (n + 2), "dbeta");
        }
      });

      it(`F.batch_norm eval ${bnLabel(s)}${f.affine ? "" : ", no affine"}: y with the running statistics, dx = dy·γ·invstd`, () => {
        const inp: BnInputs = {
          x: Float32Array.from(f.x),
          gamma: f.gamma ? Float32Array.from(f.gamma) : undefined,
          beta: f.beta ? Float32Array.from(f.beta) : undefined,
          rm: Float32Array.from(f.running_mean),
          rv: Float32Array.from(f.running_var),
          dy: Float32Array.from(f.dy),
        };
        const y = runBnEval(engine, "", s, inp, f.eps, false);
        const invstd = Array.from(inp.rv, (v) => 1 / Math.sqrt(v + f.eps));
        const want = bnApply64(s, f.x, inp.rm, inp.rv, f.eps, f.gamma, f.beta);
        expectWithin(y, f.y_eval, bnForwardScale(s, f.x, inp.rm, invstd, want, f.gamma, f.beta), BOTH * 6, "y");
        // In eval mode the map is affine: PyTorch's dx is dy times the per-channel scale.
        const scale = new Float64Array(f.dy.length);
        const dx = Float64Array.from(f.dy, (g, i) => {
          const ch = Math.floor(i / s.spatial) % s.c;
          const sc = (f.gamma ? f.gamma[ch]! : 1) * invstd[ch]!;
          scale[i] = Math.abs(g * sc);
          return g * sc;
        });
        expectWithin(f.dx_eval, dx, scale, BOTH * 4, "PyTorch's eval dx");
      });
    }
  });
});

// ================================================================ debug build: assertions

describe("debug build: argument assertions", () => {
  let engine: TestEngine;
  beforeAll(async () => {
    engine = await loadBuild("debug");
  });

  const cases: [string, (e: TestEngine, p: number) => void][] = [
    ["conv2d_forward with a kernel larger than the padded input", (e, p) => e.kernels.conv2d_forward(p, p, p, 0, p, 1, 1, 2, 2, 1, 5, 5, 1, 1, 0)],
    ["conv2d_forward with stride 0", (e, p) => e.kernels.conv2d_forward(p, p, p, 0, p, 1, 1, 4, 4, 1, 3, 3, 0, 0, 0)],
    ["conv2d_forward with an unaligned pointer", (e, p) => e.kernels.conv2d_forward(p + 2, p, p, 0, p, 1, 1, 4, 4, 1, 3, 3, 1, 0, 0)],
    ["conv2d_forward without a work buffer for a 3×3 kernel", (e, p) => e.kernels.conv2d_forward(p, p, p, 0, 0, 1, 1, 4, 4, 1, 3, 3, 1, 0, 0)],
    ["conv2d_backward_filter with an empty column range", (e, p) => e.kernels.conv2d_backward_filter(p, 0, p, p, p, 1, 1, 4, 4, 1, 3, 3, 1, 0, 0, 1, 4, 4)],
    ["conv2d_backward_filter with output channels past cout", (e, p) => e.kernels.conv2d_backward_filter(p, 0, p, p, p, 1, 1, 4, 4, 2, 3, 3, 1, 0, 1, 3, 0, 9)],
    [
      "conv2d_backward_filter with a column range past cin·kh·kw",
      (e, p) => e.kernels.conv2d_backward_filter(p, 0, p, p, p, 1, 1, 4, 4, 1, 3, 3, 1, 0, 0, 1, 0, 10),
    ],
    ["conv2d_backward_data without a work buffer for a 3×3 kernel", (e, p) => e.kernels.conv2d_backward_data(p, p, p, 0, 1, 1, 4, 4, 1, 3, 3, 1, 0)],
    ["conv2d_backward_ref with batch 0", (e, p) => e.kernels.conv2d_backward_ref(p, p, p, p, p, p, p, 0, 1, 4, 4, 1, 3, 3, 1, 0)],
    ["im2col with negative pad", (e, p) => e.kernels.im2col(p, p, 1, 4, 4, 3, 3, 1, -1)],
    ["maxpool2d_forward with pad > k/2", (e, p) => e.kernels.maxpool2d_forward(p, p, p, 1, 1, 4, 4, 2, 1, 2)],
    ["avgpool2d_backward with a window larger than the input", (e, p) => e.kernels.avgpool2d_backward(p, p, 1, 1, 2, 2, 5, 1, 1)],
    [
      "maxpool2d_backward with an argmax outside the plane",
      (e, p) => {
        e.i32(p, 4).set([0, 1, 99, 2]);
        e.kernels.maxpool2d_backward(p + 64, p + 128, p, 1, 1, 2, 2, 1, 1, 0);
      },
    ],
    [
      "batchnorm_forward_train with one value per channel and a running variance",
      (e, p) => e.kernels.batchnorm_forward_train(p, p, p, p, p, p, 0, 0, 1, 3, 1, 0.1, 1e-5),
    ],
    ["batchnorm_backward without dgamma", (e, p) => e.kernels.batchnorm_backward(p, 0, p, p, p, 0, p, p, 2, 3, 1)],
  ];
  for (const [what, call] of cases) {
    it(`${what} throws KernelAssertionError`, () => {
      engine.scoped(() => {
        const p = engine.alloc(4096);
        engine.f32(p, 1024).fill(0);
        expect(() => call(engine, p)).toThrow(KernelAssertionError);
      });
    });
  }

  it("the engine still works after the assertions", () => {
    const s: ConvShape = { batch: 1, cin: 2, h: 5, w: 5, cout: 3, kh: 3, kw: 3, stride: 1, pad: 1 };
    const inp = convInputs(s, 15000);
    expectSameBits(runForward(engine, "", s, inp, 0, true, false), runForward(engine, "_ref", s, inp, 0, true, false), "y");
  });
});

// ================================================================ relaxed build

describe.runIf(relaxedAvailable)("relaxed build (the GEMM fuses multiply-add: conv close, pooling and batch norm identical)", () => {
  let engine: TestEngine;
  let release: TestEngine;
  beforeAll(async () => {
    engine = await loadBuild("relaxed");
    release = await loadBuild("release");
  });

  it("conv2d forward and backward agree with float64 to rounding", () => {
    let seed = 16000;
    for (const s of [...CONV_GRID.filter((_, i) => i % 6 === 0), ...CONV_LARGE.slice(0, 2)]) {
      checkConv(engine, s, seed++, RELU, true, false, false);
    }
  });

  it("pooling and batch norm give the release build's bits (they use no fused operations)", () => {
    let seed = 17000;
    for (const s of POOL_GRID.filter((_, i) => i % 5 === 0)) {
      const rnd = new TestRandom(seed++);
      const x = rnd.uniform(poolDims(s).nIn);
      const dy = rnd.uniform(poolDims(s).nOut);
      const a = runMaxpool(engine, "", s, x, false);
      expectSameBits(a.y, runMaxpool(release, "", s, x, false).y, `maxpool ${poolLabel(s)}`);
      expectSameBits(runAvgpool(engine, "", s, x, false), runAvgpool(release, "", s, x, false), `avgpool ${poolLabel(s)}`);
      expectSameBits(runAvgpoolBackward(engine, "", s, dy, false), runAvgpoolBackward(release, "", s, dy, false), `avgpool backward ${poolLabel(s)}`);
    }
    for (const s of BN_GRID.filter((_, i) => i % 5 === 0)) {
      const inp = bnInputs(s, seed++, true);
      const a = runBnTrain(engine, "", s, inp, 0.1, 1e-5, false);
      const b = runBnTrain(release, "", s, inp, 0.1, 1e-5, false);
      expectSameBits(a.y, b.y, `batchnorm ${bnLabel(s)}`);
      expectSameBits(
        runBnBackward(engine, "", s, inp, a.mean, a.invstd, false).dx,
        runBnBackward(release, "", s, inp, b.mean, b.invstd, false).dx,
        `batchnorm backward ${bnLabel(s)}`,
      );
    }
  });
});
