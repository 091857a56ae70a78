/**
 * What the convolution and pooling kernel tests share, 2-D (test/kernels/conv.test.ts) and
 * 1-D (test/kernels/conv1d.test.ts) alike:
 *   - the fast / `_ref` variants, float32 rounding (u = 2⁻²⁴) and the tolerance c·u·Σ|terms|;
 *   - guarded buffers (test/helpers/kernel-buffers.ts) as put / putNaN / take / takeI32;
 *   - output lengths, and the float64 convolution written from the definition, forward and
 *     backward, with its Σ|terms| scales. A 1-D shape is a 2-D one of height 1 whose kernel
 *     has height 1 and whose padding is along the length only (padY 0).
 */
import { expectClose } from "./compare.js";
import type { TestEngine } from "./engines.js";
import { kernelBuffers } from "./kernel-buffers.js";

/** float32 unit roundoff. */
export const U = 2 ** -24;
/** Absolute slack for results that are (near) zero. */
export const TINY = 1e-30;
export const VARIANTS = ["", "_ref"] as const;
export type Variant = (typeof VARIANTS)[number];

/** |actual − expected| ≤ c·u·scale_i + atol, element by element. */
export function expectWithin(actual: ArrayLike<number>, expected: ArrayLike<number>, scale: ArrayLike<number>, c: number, what: string, atol = TINY): void {
  expectClose(actual, expected, { rtol: c * U, atol }, what, scale);
}

/** A buffer holding `values`, 4 bytes past a 16-byte boundary when `offset`, guarded. */
export const put = (engine: TestEngine, values: ArrayLike<number>, offset: boolean): number => kernelBuffers(engine, { misaligned: offset }).input(values);
/** An output of n NaNs the kernel must overwrite completely, guarded. */
export const putNaN = (engine: TestEngine, n: number, offset: boolean): number => kernelBuffers(engine, { misaligned: offset }).output(n);
/** n floats (a copy), after checking nothing was written past them. */
export const take = (engine: TestEngine, ptr: number, n: number, what: string): Float32Array => kernelBuffers(engine).read(ptr, n, what);
export const takeI32 = (engine: TestEngine, ptr: number, n: number, what: string): Int32Array => kernelBuffers(engine).readI32(ptr, n, what);

/** Output length along one axis: ⌊(n + 2·pad − k) / stride⌋ + 1. */
export const outLength = (n: number, k: number, stride: number, pad: number) => Math.floor((n + 2 * pad - k) / stride) + 1;

/** A convolution's shape, NCHW; `padY` (default `pad`) pads the height alone, so that padY 0 with h = kh = 1 is a 1-D convolution. */
export interface ConvShape {
  batch: number;
  cin: number;
  h: number;
  w: number;
  cout: number;
  kh: number;
  kw: number;
  stride: number;
  pad: number;
  padY?: number;
}

export function convDims(s: ConvShape) {
  const oh = outLength(s.h, s.kh, s.stride, s.padY ?? s.pad);
  const ow = outLength(s.w, s.kw, s.stride, s.pad);
  return { oh, ow, P: oh * ow, K: s.cin * s.kh * s.kw };
}

/**
 * y[b,o,oy,ox] = Σ_{ci,ki,kj} w[o,ci,ki,kj]·x[b,ci,oy·s+ki−padY,ox·s+kj−pad] (inside the image)
 * + bias[o] (+ y0), then relu; scale = Σ|terms| (the size of the float32 rounding error).
 */
export function conv64(
  s: ConvShape,
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  bias?: ArrayLike<number>,
  y0?: ArrayLike<number>,
  relu = false,
): { y: Float64Array; scale: Float64Array } {
  const { oh, ow } = convDims(s);
  const padY = s.padY ?? s.pad;
  const y = new Float64Array(s.batch * s.cout * oh * ow);
  const scale = new Float64Array(y.length);
  for (let b = 0; b < s.batch; b++) {
    for (let o = 0; o < s.cout; o++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          const at = ((b * s.cout + o) * oh + oy) * ow + ox;
          let sum = y0 ? y0[at]! : 0;
          let abs = Math.abs(sum);
          for (let ci = 0; ci < s.cin; ci++) {
            for (let ki = 0; ki < s.kh; ki++) {
              const iy = oy * s.stride + ki - padY;
              if (iy < 0 || iy >= s.h) continue;
              for (let kj = 0; kj < s.kw; kj++) {
                const ix = ox * s.stride + kj - s.pad;
                if (ix < 0 || ix >= s.w) continue;
                const t = w[((o * s.cin + ci) * s.kh + ki) * s.kw + kj]! * x[((b * s.cin + ci) * s.h + iy) * s.w + ix]!;
                sum += t;
                abs += Math.abs(t);
              }
            }
          }
          if (bias) {
            sum += bias[o]!;
            abs += Math.abs(bias[o]!);
          }
          y[at] = relu ? Math.max(sum, 0) : sum;
          scale[at] = abs;
        }
      }
    }
  }
  return { y, scale };
}

/** Gradients of Σ dy ⊙ conv(x, w, b) by scattering each output's dy (and Σ|terms| of each). */
export function convBackward64(s: ConvShape, dy: ArrayLike<number>, x: ArrayLike<number>, w: ArrayLike<number>) {
  const { oh, ow } = convDims(s);
  const padY = s.padY ?? s.pad;
  const dx = new Float64Array(x.length),
    sdx = new Float64Array(x.length);
  const dw = new Float64Array(w.length),
    sdw = new Float64Array(w.length);
  const db = new Float64Array(s.cout),
    sdb = new Float64Array(s.cout);
  for (let b = 0; b < s.batch; b++) {
    for (let o = 0; o < s.cout; o++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          const g = dy[((b * s.cout + o) * oh + oy) * ow + ox]!;
          db[o] = db[o]! + g;
          sdb[o] = sdb[o]! + Math.abs(g);
          for (let ci = 0; ci < s.cin; ci++) {
            for (let ki = 0; ki < s.kh; ki++) {
              const iy = oy * s.stride + ki - padY;
              if (iy < 0 || iy >= s.h) continue;
              for (let kj = 0; kj < s.kw; kj++) {
                const ix = ox * s.stride + kj - s.pad;
                if (ix < 0 || ix >= s.w) continue;
                const xi = ((b * s.cin + ci) * s.h + iy) * s.w + ix;
                const wi = ((o * s.cin + ci) * s.kh + ki) * s.kw + kj;
                dw[wi] = dw[wi]! + g * x[xi]!;
                sdw[wi] = sdw[wi]! + Math.abs(g * x[xi]!);
                dx[xi] = dx[xi]! + g * w[wi]!;
                sdx[xi] = sdx[xi]! + Math.abs(g * w[wi]!);
              }
            }
          }
        }
      }
    }
  }
  return { dx, dw, db, sdx, sdw, sdb };
}
