// 2-D convolution, NCHW, as PyTorch's Conv2d / F.conv2d (cross-correlation, dilation 1,
// groups 1, zero padding):
//
//   x is (batch, cin, h, wd)        input
//   w is (cout, cin, kh, kw)        weight, PyTorch layout
//   bias is (cout)                  one value per output channel (0 for none)
//   y is (batch, cout, oh, ow)      oh = ⌊(h + 2·pad − kh) / stride⌋ + 1, ow likewise with wd, kw
//
// with stride ≥ 1, pad ≥ 0 and h + 2·pad ≥ kh, wd + 2·pad ≥ kw. All pointers need only
// 4-byte alignment.
//
// The fast path lowers each image to a GEMM (im2col): the image's patches are unrolled into
// col, a (K, P) matrix with K = cin·kh·kw rows ordered (ci, ki, kj) — the order of w's
// trailing dimensions — and P = oh·ow columns ordered (oy, ox), so that
//
//   y_b (cout, P) = w (cout, K) · col (K, P)                   gemm_nn
//   dw  (cout, K) = Σ_b dy_b (cout, P) · col_bᵀ                gemm_nt, accumulating over b
//   dcol (K, P)   = wᵀ (K, cout) · dy_b (cout, P),  dx_b = col2im(dcol)          gemm_tn
//
// The GEMM sums every element over its depth in order starting from 0 (gemm.ts), so each
// kernel here fixes one summation order, and its `_ref` twin (a direct loop nest that never
// builds col) adds the same products in the same order and gets the same bits:
//
//   y[b,o,oy,ox]  = (accumulate ? y : 0) + Σ_{ci, ki, kj in order} w[o,ci,ki,kj]·x̃[b,ci,oy·s+ki−pad,ox·s+kj−pad]
//                   then + bias[o], then max(·, 0) when relu
//   dw[o,ci,ki,kj] = 0 + Σ_{b, oy, ox in order} dy[b,o,oy,ox]·x̃[b,ci,oy·s+ki−pad,ox·s+kj−pad]
//   db[o]          = 0 + Σ_{b, oy, ox in order} dy[b,o,oy,ox]
//   dx[b,ci,iy,ix] = 0 + Σ_{ki, kj in order, where iy = oy·s+ki−pad and ix = ox·s+kj−pad for some oy, ox}
//                        (0 + Σ_{o in order} w[o,ci,ki,kj]·dy[b,o,oy,ox])
//
// where x̃ is x with zeros outside the image. A padding position still contributes its
// product with 0 (so an infinite weight or gradient meets a padded 0 the same way in both
// versions). In the relaxed build the GEMM fuses multiply-add and only agrees with the
// references to rounding.

import { gemm_nn, gemm_nt, gemm_tn, GEMM_ACCUMULATE, GEMM_RELU } from "./gemm";

/** conv2d_forward flag: add to y instead of overwriting it (same bit as GEMM_ACCUMULATE). */
export const CONV_ACCUMULATE: i32 = GEMM_ACCUMULATE;
/** conv2d_forward flag: apply max(·, 0) last (same bit as GEMM_RELU). */
export const CONV_RELU: i32 = GEMM_RELU;

// ================================================================ shared helpers

/** Output length along one axis: ⌊(n + 2·pad − k) / stride⌋ + 1 (n + 2·pad ≥ k). */
// @ts-ignore: decorator
@inline export function outLength(n: i32, k: i32, stride: i32, pad: i32): i32 {
  return (n + 2 * pad - k) / stride + 1;
}

/** First output index o ≥ 0 with o·stride + off ≥ 0, i.e. ⌈−off / stride⌉ clamped at 0. */
// @ts-ignore: decorator
@inline export function firstValid(off: i32, stride: i32): i32 {
  return off >= 0 ? 0 : (stride - 1 - off) / stride;
}

/** One past the last output index o < outLen with o·stride + off < n (≥ first when none). */
// @ts-ignore: decorator
@inline export function endValid(off: i32, n: i32, stride: i32, outLen: i32): i32 {
  const last = n - 1 - off; // need o·stride ≤ last
  if (last < 0) return 0;
  return min(outLen, last / stride + 1);
}

// @ts-ignore: decorator
@inline function checkGeometry(cin: i32, h: i32, wd: i32, kh: i32, kw: i32, stride: i32, pad: i32): void {
  assert(cin > 0 && h > 0 && wd > 0 && kh > 0 && kw > 0, "conv2d: dimensions must be positive");
  assert(stride >= 1 && pad >= 0, "conv2d: stride must be ≥ 1 and pad ≥ 0");
  assert(h + 2 * pad >= kh && wd + 2 * pad >= kw, "conv2d: kernel larger than the padded input");
}

// @ts-ignore: decorator
@inline function checkConvArgs(
  batch: i32, cin: i32, h: i32, wd: i32, cout: i32, kh: i32, kw: i32, stride: i32, pad: i32,
): void {
  assert(batch > 0 && cout > 0, "conv2d: batch and cout must be positive");
  checkGeometry(cin, h, wd, kh, kw, stride, pad);
}

// @ts-ignore: decorator
@inline function checkAligned(a: usize, b: usize, c: usize, d: usize, e: usize): void {
  assert(((a | b | c | d | e) & 3) == 0, "conv2d: pointers must be 4-byte aligned");
}

/** x̃[plane](iy, ix): the value, or 0 outside the image. */
// @ts-ignore: decorator
@inline function padded(plane: usize, h: i32, wd: i32, iy: i32, ix: i32): f32 {
  return iy >= 0 && iy < h && ix >= 0 && ix < wd ? load<f32>(plane + ((<usize>iy * <usize>wd + <usize>ix) << 2)) : 0;
}

// ================================================================ im2col / col2im

/**
 * Unrolls one image into patch columns, overwriting col.
 * x is (cin, h, wd); col is (cin·kh·kw, oh·ow): row (ci, ki, kj), column (oy, ox) holds
 * x[ci, oy·stride + ki − pad, ox·stride + kj − pad], or 0 where that falls in the padding.
 * Rows are filled a contiguous run at a time (memory.copy for stride 1).
 */
export function im2col(col: usize, x: usize, cin: i32, h: i32, wd: i32, kh: i32, kw: i32, stride: i32, pad: i32): void {
  checkGeometry(cin, h, wd, kh, kw, stride, pad);
  assert(col != 0 && x != 0 && ((col | x) & 3) == 0, "im2col: null or unaligned pointer");
  im2colFast(col, x, cin, h, wd, kh, kw, stride, pad);
}

function im2colFast(col: usize, x: usize, cin: i32, h: i32, wd: i32, kh: i32, kw: i32, stride: i32, pad: i32): void {
  im2colRows(col, x, cin, h, wd, kh, kw, stride, pad, 0, cin * kh * kw);
}

/**
 * Rows k0 … k1-1 of one image's col (rows (ci, ki, kj) in order), written contiguously from
 * col: a thread computing the weight gradient's columns k0 … k1-1 needs only these.
 */
function im2colRows(
  col: usize, x: usize, cin: i32, h: i32, wd: i32, kh: i32, kw: i32, stride: i32, pad: i32, k0: i32, k1: i32,
): void {
  const oh = outLength(h, kh, stride, pad);
  const ow = outLength(wd, kw, stride, pad);
  const rowBytes = <usize>ow << 2;
  let dst = col;
  for (let r = k0; r < k1; r++) {
    const ci = r / (kh * kw);
    const ki = (r / kw) % kh;
    const kj = r % kw;
    const plane = x + ((<usize>ci * <usize>h * <usize>wd) << 2);
    // Columns ox in [lo, hi) read inside the image; the rest are padding.
    const lo = min(firstValid(kj - pad, stride), ow);
    const hi = max(endValid(kj - pad, wd, stride, ow), lo);
    if (stride == 1 && ow == wd && lo < hi) {
      sameWidthRow(dst, plane, h, wd, oh, ki, kj, pad, lo, hi);
      dst += <usize>oh * rowBytes;
      continue;
    }
    for (let oy = 0; oy < oh; oy++) {
      const iy = oy * stride + ki - pad;
      if (iy < 0 || iy >= h || lo == hi) {
        zeroRun(dst, ow);
      } else {
        if (lo > 0) zeroRun(dst, lo);
        gatherRun(dst, plane + ((<usize>iy * <usize>wd + <usize>(lo * stride + kj - pad)) << 2), lo, hi, stride);
        if (hi < ow) zeroRun(dst + (<usize>hi << 2), ow - hi);
      }
      dst += rowBytes;
    }
  }
}

/**
 * One row (ci, ki, kj) of col when stride is 1 and the output is as wide as the input
 * ("same" padding): then the output rows that fall inside the image read one contiguous
 * run of the plane, copied at once; the columns that fall in the padding (fewer than kw
 * per row) are zeroed after, and so are the rows above and below the image.
 */
// @ts-ignore: decorator
@inline function sameWidthRow(
  dst: usize, plane: usize, h: i32, wd: i32, oh: i32, ki: i32, kj: i32, pad: i32, lo: i32, hi: i32,
): void {
  const first = min(max(pad - ki, 0), oh); // output rows first … last-1 read image rows oy + ki − pad
  const last = min(max(h + pad - ki, first), oh);
  zeroRun(dst, first * wd);
  if (first < last) {
    const src = plane + ((<usize>(first + ki - pad) * <usize>wd + <usize>(lo + kj - pad)) << 2);
    copyRun(dst + ((<usize>first * <usize>wd + <usize>lo) << 2), src, (last - first - 1) * wd + (hi - lo));
    for (let oy = first; oy < last; oy++) {
      const row = dst + ((<usize>oy * <usize>wd) << 2);
      zeroRun(row, lo);
      zeroRun(row + (<usize>hi << 2), wd - hi);
    }
  }
  zeroRun(dst + ((<usize>last * <usize>wd) << 2), (oh - last) * wd);
}

// Runs of a row are a few dozen floats: inline vector loops beat memory.copy / memory.fill,
// which V8 compiles to calls.

/** n floats from src to dst (not overlapping), four at a time. */
// @ts-ignore: decorator
@inline export function copyRun(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), v128.load(src + (<usize>i << 2)));
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), load<f32>(src + (<usize>i << 2)));
}

/** n zeros at dst, four at a time. */
// @ts-ignore: decorator
@inline export function zeroRun(dst: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), f32x4.splat(0));
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), 0);
}

/**
 * Columns lo … hi-1 of a col row at dst (dst[ox] for ox in [lo, hi)) from the input, one
 * element every `stride` floats from src (the element of column lo): copyRun for stride 1.
 * im2col's and im2col1d's run inside the input.
 */
// @ts-ignore: decorator
@inline export function gatherRun(dst: usize, src: usize, lo: i32, hi: i32, stride: i32): void {
  if (stride == 1) {
    copyRun(dst + (<usize>lo << 2), src, hi - lo);
  } else {
    const step = <usize>stride << 2;
    let s = src;
    for (let ox = lo; ox < hi; ox++) {
      store<f32>(dst + (<usize>ox << 2), load<f32>(s));
      s += step;
    }
  }
}

/**
 * The adjoint of gatherRun: ACCUMULATES count floats of src into dst, one every `stride`
 * floats (d[i·stride] += s[i], in order of i; four lanes at a time for stride 1, each
 * element still receiving one addition). col2im's and col2im1d's run inside the input.
 */
// @ts-ignore: decorator
@inline export function scatterAddRun(d: usize, s: usize, count: i32, stride: i32): void {
  if (stride == 1) {
    let i = 0;
    for (; i + 4 <= count; i += 4) {
      const o = <usize>i << 2;
      v128.store(d + o, f32x4.add(v128.load(d + o), v128.load(s + o)));
    }
    for (; i < count; i++) {
      const o = <usize>i << 2;
      store<f32>(d + o, load<f32>(d + o) + load<f32>(s + o));
    }
  } else {
    const step = <usize>stride << 2;
    let dp = d;
    for (let i = 0; i < count; i++) {
      store<f32>(dp, load<f32>(dp) + load<f32>(s + (<usize>i << 2)));
      dp += step;
    }
  }
}

/** im2col one element at a time with a bounds test per element. */
export function im2col_ref(col: usize, x: usize, cin: i32, h: i32, wd: i32, kh: i32, kw: i32, stride: i32, pad: i32): void {
  checkGeometry(cin, h, wd, kh, kw, stride, pad);
  assert(col != 0 && x != 0 && ((col | x) & 3) == 0, "im2col: null or unaligned pointer");
  const oh = outLength(h, kh, stride, pad);
  const ow = outLength(wd, kw, stride, pad);
  let dst = col;
  for (let ci = 0; ci < cin; ci++) {
    const plane = x + ((<usize>ci * <usize>h * <usize>wd) << 2);
    for (let ki = 0; ki < kh; ki++) {
      for (let kj = 0; kj < kw; kj++) {
        for (let oy = 0; oy < oh; oy++) {
          for (let ox = 0; ox < ow; ox++) {
            store<f32>(dst, padded(plane, h, wd, oy * stride + ki - pad, ox * stride + kj - pad));
            dst += 4;
          }
        }
      }
    }
  }
}

/**
 * The adjoint of im2col for one image: ACCUMULATES each patch column back into dx.
 * col is (cin·kh·kw, oh·ow) as im2col writes it; dx is (cin, h, wd):
 * dx[ci, oy·stride + ki − pad, ox·stride + kj − pad] += col[(ci, ki, kj), (oy, ox)] for every
 * position inside the image, rows (ci, ki, kj) in order (padding entries are dropped).
 * With stride 1 a row's run is added four lanes at a time; each element still receives its
 * terms in the same order.
 */
export function col2im(dx: usize, col: usize, cin: i32, h: i32, wd: i32, kh: i32, kw: i32, stride: i32, pad: i32): void {
  checkGeometry(cin, h, wd, kh, kw, stride, pad);
  assert(col != 0 && dx != 0 && ((col | dx) & 3) == 0, "col2im: null or unaligned pointer");
  col2imFast(dx, col, cin, h, wd, kh, kw, stride, pad);
}

function col2imFast(dx: usize, col: usize, cin: i32, h: i32, wd: i32, kh: i32, kw: i32, stride: i32, pad: i32): void {
  const oh = outLength(h, kh, stride, pad);
  const ow = outLength(wd, kw, stride, pad);
  const rowBytes = <usize>ow << 2;
  let src = col;
  for (let ci = 0; ci < cin; ci++) {
    const plane = dx + ((<usize>ci * <usize>h * <usize>wd) << 2);
    for (let ki = 0; ki < kh; ki++) {
      for (let kj = 0; kj < kw; kj++) {
        const lo = min(firstValid(kj - pad, stride), ow);
        const hi = max(endValid(kj - pad, wd, stride, ow), lo);
        for (let oy = 0; oy < oh; oy++) {
          const iy = oy * stride + ki - pad;
          if (iy >= 0 && iy < h && lo < hi) {
            scatterAddRun(plane + ((<usize>iy * <usize>wd + <usize>(lo * stride + kj - pad)) << 2), src + (<usize>lo << 2), hi - lo, stride);
          }
          src += rowBytes;
        }
      }
    }
  }
}

/** col2im one element at a time with a bounds test per element (ACCUMULATES into dx). */
export function col2im_ref(dx: usize, col: usize, cin: i32, h: i32, wd: i32, kh: i32, kw: i32, stride: i32, pad: i32): void {
  checkGeometry(cin, h, wd, kh, kw, stride, pad);
  assert(col != 0 && dx != 0 && ((col | dx) & 3) == 0, "col2im: null or unaligned pointer");
  const oh = outLength(h, kh, stride, pad);
  const ow = outLength(wd, kw, stride, pad);
  let src = col;
  for (let ci = 0; ci < cin; ci++) {
    const plane = dx + ((<usize>ci * <usize>h * <usize>wd) << 2);
    for (let ki = 0; ki < kh; ki++) {
      for (let kj = 0; kj < kw; kj++) {
        for (let oy = 0; oy < oh; oy++) {
          for (let ox = 0; ox < ow; ox++) {
            const iy = oy * stride + ki - pad;
            const ix = ox * stride + kj - pad;
            if (iy >= 0 && iy < h && ix >= 0 && ix < wd) {
              const d = plane + ((<usize>iy * <usize>wd + <usize>ix) << 2);
              store<f32>(d, load<f32>(d) + load<f32>(src));
            }
            src += 4;
          }
        }
      }
    }
  }
}

// ================================================================ conv2d forward

/**
 * y = conv2d(x, w) (+ bias)(relu), NCHW like F.conv2d(x, w, bias, stride, pad).
 *   y is (batch, cout, oh, ow): overwritten, or added to with CONV_ACCUMULATE (flags bit 1);
 *   x is (batch, cin, h, wd); w is (cout, cin, kh, kw); bias is (cout) or 0 for none;
 *   flags: CONV_ACCUMULATE (1), CONV_RELU (2, max(·, 0) applied last);
 *   work: cin·kh·kw · oh·ow floats (4-byte aligned; contents on entry ignored, left
 *   holding the last image's im2col). For a 1×1 kernel with stride 1 and pad 0, col is the
 *   image itself and work is not touched (may be 0).
 * Per image: im2col into work, then gemm_nn(y_b, w, work). The GEMM's fused bias is one
 * value per column, and a convolution's is one per output channel (a row of y_b), so the
 * bias and ReLU are applied in one SIMD pass right after the GEMM: the GEMM's result is
 * already the f32 sum, so y = max(sum + bias, 0) has exactly the bits of the fused order
 * (without a bias, ReLU is fused into the GEMM).
 */
export function conv2d_forward(
  y: usize, x: usize, w: usize, bias: usize, work: usize,
  batch: i32, cin: i32, h: i32, wd: i32, cout: i32, kh: i32, kw: i32, stride: i32, pad: i32, flags: i32,
): void {
  checkConvArgs(batch, cin, h, wd, cout, kh, kw, stride, pad);
  const direct = kh == 1 && kw == 1 && stride == 1 && pad == 0;
  assert(y != 0 && x != 0 && w != 0 && (direct || work != 0), "conv2d_forward: null pointer");
  checkAligned(y, x, w, bias, work);
  const oh = outLength(h, kh, stride, pad);
  const ow = outLength(wd, kw, stride, pad);
  const P = oh * ow;
  const K = cin * kh * kw;
  const relu = (flags & CONV_RELU) != 0;
  const gemmFlags = (flags & CONV_ACCUMULATE) | (bias == 0 && relu ? GEMM_RELU : 0);
  const xImage = (<usize>cin * <usize>h * <usize>wd) << 2;
  const yImage = (<usize>cout * <usize>P) << 2;
  for (let b = 0; b < batch; b++) {
    const xb = x + <usize>b * xImage;
    const yb = y + <usize>b * yImage;
    let colb = xb;
    if (!direct) {
      im2colFast(work, xb, cin, h, wd, kh, kw, stride, pad);
      colb = work;
    }
    gemm_nn(yb, w, colb, 0, cout, P, K, K, P, P, gemmFlags);
    if (bias != 0) addChannelBias(yb, bias, cout, P, relu);
  }
}

/** y(cout, P) = (y + bias[o]) then max(·, 0) if relu, row o at a time. */
export function addChannelBias(y: usize, bias: usize, cout: i32, P: i32, relu: bool): void {
  const zero = f32x4.splat(0);
  for (let o = 0; o < cout; o++) {
    const row = y + ((<usize>o * <usize>P) << 2);
    const bo = load<f32>(bias + (<usize>o << 2));
    const bv = f32x4.splat(bo);
    let j = 0;
    for (; j + 4 <= P; j += 4) {
      const p = row + (<usize>j << 2);
      let v = f32x4.add(v128.load(p), bv);
      if (relu) v = f32x4.max(v, zero);
      v128.store(p, v);
    }
    for (; j < P; j++) {
      const p = row + (<usize>j << 2);
      let v = load<f32>(p) + bo;
      if (relu) v = max<f32>(v, 0);
      store<f32>(p, v);
    }
  }
}

/**
 * The direct loop nest (b, o, oy, ox, ci, ki, kj): same shapes, flags and bits as
 * conv2d_forward (see the file comment for the order). work is not used (may be 0).
 */
export function conv2d_forward_ref(
  y: usize, x: usize, w: usize, bias: usize, work: usize,
  batch: i32, cin: i32, h: i32, wd: i32, cout: i32, kh: i32, kw: i32, stride: i32, pad: i32, flags: i32,
): void {
  checkConvArgs(batch, cin, h, wd, cout, kh, kw, stride, pad);
  assert(y != 0 && x != 0 && w != 0, "conv2d_forward_ref: null pointer");
  checkAligned(y, x, w, bias, work);
  const oh = outLength(h, kh, stride, pad);
  const ow = outLength(wd, kw, stride, pad);
  const accumulate = (flags & CONV_ACCUMULATE) != 0;
  const relu = (flags & CONV_RELU) != 0;
  const plane = (<usize>h * <usize>wd) << 2;
  for (let b = 0; b < batch; b++) {
    for (let o = 0; o < cout; o++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          const yp = y + ((((<usize>b * <usize>cout + <usize>o) * <usize>oh + <usize>oy) * <usize>ow + <usize>ox) << 2);
          let acc: f32 = accumulate ? load<f32>(yp) : 0;
          for (let ci = 0; ci < cin; ci++) {
            const xplane = x + (<usize>b * <usize>cin + <usize>ci) * plane;
            for (let ki = 0; ki < kh; ki++) {
              for (let kj = 0; kj < kw; kj++) {
                const wv = load<f32>(w + ((((<usize>o * <usize>cin + <usize>ci) * <usize>kh + <usize>ki) * <usize>kw + <usize>kj) << 2));
                acc += wv * padded(xplane, h, wd, oy * stride + ki - pad, ox * stride + kj - pad);
              }
            }
          }
          if (bias != 0) acc += load<f32>(bias + (<usize>o << 2));
          if (relu) acc = max<f32>(acc, 0);
          store<f32>(yp, acc);
        }
      }
    }
  }
}

// ================================================================ conv2d backward

/** db[o] = 0 + Σ_{b, p in order} dy[b, o, p] for o in o0 … o1-1, overwriting them. dy is (batch, cout, P). */
export function channelSums(db: usize, dy: usize, batch: i32, cout: i32, P: i32, o0: i32, o1: i32): void {
  for (let o = o0; o < o1; o++) {
    let acc: f32 = 0;
    for (let b = 0; b < batch; b++) {
      const row = dy + (((<usize>b * <usize>cout + <usize>o) * <usize>P) << 2);
      for (let p = 0; p < P; p++) acc += load<f32>(row + (<usize>p << 2));
    }
    store<f32>(db + (<usize>o << 2), acc);
  }
}

/**
 * Gradients of conv2d_forward (without ReLU: pass dy already multiplied by the ReLU mask).
 *   dx is (batch, cin, h, wd): OVERWRITTEN; 0 skips the input gradient (first layer);
 *   dw is (cout, cin, kh, kw): OVERWRITTEN (summed over the batch);
 *   db is (cout): OVERWRITTEN; 0 skips it (no bias);
 *   dy is (batch, cout, oh, ow); x is (batch, cin, h, wd); w is (cout, cin, kh, kw);
 *   work: cin·kh·kw · oh·ow floats, as for conv2d_forward (it holds one image's col, then
 *   its column gradient). For a 1×1 kernel with stride 1 and pad 0 it is not touched (may be 0).
 * The weight half (conv2d_backward_filter over all of dw) and then the input half
 * (conv2d_backward_data); a threaded engine runs the same halves on blocks of dw and of the batch.
 */
export function conv2d_backward(
  dx: usize, dw: usize, db: usize, dy: usize, x: usize, w: usize, work: usize,
  batch: i32, cin: i32, h: i32, wd: i32, cout: i32, kh: i32, kw: i32, stride: i32, pad: i32,
): void {
  checkConvArgs(batch, cin, h, wd, cout, kh, kw, stride, pad);
  assert(w != 0, "conv2d_backward: null pointer");
  conv2d_backward_filter(dw, db, dy, x, work, batch, cin, h, wd, cout, kh, kw, stride, pad, 0, cout, 0, cin * kh * kw);
  if (dx != 0) conv2d_backward_data(dx, dy, w, work, batch, cin, h, wd, cout, kh, kw, stride, pad);
}

/**
 * The block dw[o0 … o1-1, k0 … k1-1] of the weight gradient, the weight seen as (cout, K)
 * with K = cin·kh·kw (0 ≤ o0 < o1 ≤ cout, 0 ≤ k0 < k1 ≤ K), and db[o0 … o1-1] when db ≠ 0.
 * Per image b: rows k0 … k1-1 of im2col(x_b) into work, then
 *   dw[o0:o1, k0:k1] (+)= dy_b[o0:o1] (o1−o0, P) · col_b[k0:k1]ᵀ   (gemm_nt, overwriting for b = 0).
 * Every element is summed over (b, oy, ox) in order whatever the block, so blocks computed
 * separately make up exactly the whole. work: (k1 − k0)·P floats (unused for the direct 1×1 case).
 */
export function conv2d_backward_filter(
  dw: usize, db: usize, dy: usize, x: usize, work: usize,
  batch: i32, cin: i32, h: i32, wd: i32, cout: i32, kh: i32, kw: i32, stride: i32, pad: i32,
  o0: i32, o1: i32, k0: i32, k1: i32,
): void {
  checkConvArgs(batch, cin, h, wd, cout, kh, kw, stride, pad);
  const K = cin * kh * kw;
  assert(0 <= o0 && o0 < o1 && o1 <= cout && 0 <= k0 && k0 < k1 && k1 <= K,
    "conv2d_backward_filter: need 0 ≤ o0 < o1 ≤ cout and 0 ≤ k0 < k1 ≤ cin·kh·kw");
  const direct = kh == 1 && kw == 1 && stride == 1 && pad == 0;
  assert(dw != 0 && dy != 0 && x != 0 && (direct || work != 0), "conv2d_backward_filter: null pointer");
  checkAligned(dw, db, dy, x, work);
  const P = outLength(h, kh, stride, pad) * outLength(wd, kw, stride, pad);
  const xImage = (<usize>cin * <usize>h * <usize>wd) << 2;
  const yImage = (<usize>cout * <usize>P) << 2;
  const dwBlock = dw + ((<usize>o0 * <usize>K + <usize>k0) << 2);
  for (let b = 0; b < batch; b++) {
    const xb = x + <usize>b * xImage;
    const dyb = dy + <usize>b * yImage + ((<usize>o0 * <usize>P) << 2);
    // col_b rows k0 … k1-1: for the direct case, rows k0 … k1-1 of x_b itself.
    let colb = xb + ((<usize>k0 * <usize>P) << 2);
    if (!direct) {
      im2colRows(work, xb, cin, h, wd, kh, kw, stride, pad, k0, k1);
      colb = work;
    }
    gemm_nt(dwBlock, dyb, colb, 0, o1 - o0, k1 - k0, P, P, P, K, b > 0 ? GEMM_ACCUMULATE : 0);
  }
  if (db != 0) channelSums(db, dy, batch, cout, P, o0, o1);
}

/**
 * The input gradient alone: per image b, work = wᵀ·dy_b (gemm_tn, the column gradient
 * (K, P)), dx_b = 0 and col2im(dx_b, work). Images are independent, so a batch may be cut
 * anywhere. dx is OVERWRITTEN; work as for conv2d_forward.
 */
export function conv2d_backward_data(
  dx: usize, dy: usize, w: usize, work: usize,
  batch: i32, cin: i32, h: i32, wd: i32, cout: i32, kh: i32, kw: i32, stride: i32, pad: i32,
): void {
  checkConvArgs(batch, cin, h, wd, cout, kh, kw, stride, pad);
  const direct = kh == 1 && kw == 1 && stride == 1 && pad == 0;
  assert(dx != 0 && dy != 0 && w != 0 && (direct || work != 0), "conv2d_backward_data: null pointer");
  checkAligned(dx, dy, w, work, 0);
  const P = outLength(h, kh, stride, pad) * outLength(wd, kw, stride, pad);
  const K = cin * kh * kw;
  const xImage = (<usize>cin * <usize>h * <usize>wd) << 2;
  const yImage = (<usize>cout * <usize>P) << 2;
  for (let b = 0; b < batch; b++) {
    const dyb = dy + <usize>b * yImage;
    const dxb = dx + <usize>b * xImage;
    if (direct) {
      // col2im is the identity here, and 0 + t = t for the GEMM's sums (never −0).
      gemm_tn(dxb, w, dyb, 0, K, P, cout, K, P, P, 0);
    } else {
      // dcol(K, P) = w(cout, K)ᵀ · dy_b(cout, P)
      gemm_tn(work, w, dyb, 0, K, P, cout, K, P, P, 0);
      memory.fill(dxb, 0, xImage);
      col2imFast(dxb, work, cin, h, wd, kh, kw, stride, pad);
    }
  }
}

/**
 * Direct loop nests with conv2d_backward's shapes, semantics and bits (orders in the file
 * comment): dw over (o, ci, ki, kj) summing (b, oy, ox); dx over (b, ci, iy, ix) summing
 * the kernel taps (ki, kj) that reach it, each tap's Σ_o first. work is not used (may be 0).
 */
export function conv2d_backward_ref(
  dx: usize, dw: usize, db: usize, dy: usize, x: usize, w: usize, work: usize,
  batch: i32, cin: i32, h: i32, wd: i32, cout: i32, kh: i32, kw: i32, stride: i32, pad: i32,
): void {
  checkConvArgs(batch, cin, h, wd, cout, kh, kw, stride, pad);
  assert(dw != 0 && dy != 0 && x != 0 && w != 0, "conv2d_backward_ref: null pointer");
  checkAligned(dx, dw, db, dy, x);
  checkAligned(w, work, 0, 0, 0);
  const oh = outLength(h, kh, stride, pad);
  const ow = outLength(wd, kw, stride, pad);
  const plane = (<usize>h * <usize>wd) << 2;
  // dw
  for (let o = 0; o < cout; o++) {
    for (let ci = 0; ci < cin; ci++) {
      for (let ki = 0; ki < kh; ki++) {
        for (let kj = 0; kj < kw; kj++) {
          let acc: f32 = 0;
          for (let b = 0; b < batch; b++) {
            const xplane = x + (<usize>b * <usize>cin + <usize>ci) * plane;
            const dyplane = dy + (((<usize>b * <usize>cout + <usize>o) * <usize>oh * <usize>ow) << 2);
            for (let oy = 0; oy < oh; oy++) {
              for (let ox = 0; ox < ow; ox++) {
                const g = load<f32>(dyplane + ((<usize>oy * <usize>ow + <usize>ox) << 2));
                acc += g * padded(xplane, h, wd, oy * stride + ki - pad, ox * stride + kj - pad);
              }
            }
          }
          store<f32>(dw + ((((<usize>o * <usize>cin + <usize>ci) * <usize>kh + <usize>ki) * <usize>kw + <usize>kj) << 2), acc);
        }
      }
    }
  }
  // db
  if (db != 0) {
    for (let o = 0; o < cout; o++) {
      let acc: f32 = 0;
      for (let b = 0; b < batch; b++) {
        for (let oy = 0; oy < oh; oy++) {
          for (let ox = 0; ox < ow; ox++) {
            acc += load<f32>(dy + ((((<usize>b * <usize>cout + <usize>o) * <usize>oh + <usize>oy) * <usize>ow + <usize>ox) << 2));
          }
        }
      }
      store<f32>(db + (<usize>o << 2), acc);
    }
  }
  // dx
  if (dx == 0) return;
  for (let b = 0; b < batch; b++) {
    for (let ci = 0; ci < cin; ci++) {
      for (let iy = 0; iy < h; iy++) {
        for (let ix = 0; ix < wd; ix++) {
          let acc: f32 = 0;
          for (let ki = 0; ki < kh; ki++) {
            const ty = iy + pad - ki; // = oy·stride
            if (ty < 0 || ty % stride != 0 || ty / stride >= oh) continue;
            const oy = ty / stride;
            for (let kj = 0; kj < kw; kj++) {
              const tx = ix + pad - kj;
              if (tx < 0 || tx % stride != 0 || tx / stride >= ow) continue;
              const ox = tx / stride;
              let t: f32 = 0;
              for (let o = 0; o < cout; o++) {
                const wv = load<f32>(w + ((((<usize>o * <usize>cin + <usize>ci) * <usize>kh + <usize>ki) * <usize>kw + <usize>kj) << 2));
                const g = load<f32>(dy + ((((<usize>b * <usize>cout + <usize>o) * <usize>oh + <usize>oy) * <usize>ow + <usize>ox) << 2));
                t += wv * g;
              }
              acc += t;
            }
          }
          store<f32>(dx + ((((<usize>b * <usize>cin + <usize>ci) * <usize>h + <usize>iy) * <usize>wd + <usize>ix) << 2), acc);
        }
      }
    }
  }
}
