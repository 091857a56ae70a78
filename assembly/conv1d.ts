// 1-D convolution over (batch, channels, length) signals, as PyTorch's Conv1d / F.conv1d
// (cross-correlation, dilation 1, groups 1, zero padding):
//
//   x is (batch, cin, len)          input
//   w is (cout, cin, k)             weight, PyTorch layout
//   bias is (cout)                  one value per output channel (0 for none)
//   y is (batch, cout, olen)        olen = ⌊(len + 2·pad − k) / stride⌋ + 1
//
// with stride ≥ 1, pad ≥ 0 and len + 2·pad ≥ k. All pointers need only 4-byte alignment.
//
// This is conv2d (conv.ts) on an image of height 1 with a kernel of height 1 — but conv2d
// pads both axes by the same amount, so with pad > 0 its output would grow rows of padding.
// These kernels therefore unroll patches along the length only (im2col1d: col is (K, olen),
// K = cin·k, rows (ci, kj) in w's order) and reuse conv.ts's GEMM lowering unchanged:
//
//   y_b (cout, olen) = w (cout, K) · col_b (K, olen)              gemm_nn, then the channel bias
//   dw  (cout, K)    = Σ_b dy_b (cout, olen) · col_bᵀ             gemm_nt, accumulating over b
//   dcol (K, olen)   = wᵀ · dy_b,  dx_b = col2im1d(dcol)            gemm_tn
//
// The summation orders are conv2d's with kh = 1 (so with pad 0 the bits equal conv2d's on a
// 1×len image, which the tests check), and each `_ref` twin (a direct loop nest that never
// builds col) adds the same products in the same order:
//
//   y[b,o,ox]   = (accumulate ? y : 0) + Σ_{ci, kj in order} w[o,ci,kj]·x̃[b,ci,ox·s+kj−pad]
//                 then + bias[o], then max(·, 0) when relu
//   dw[o,ci,kj] = 0 + Σ_{b, ox in order} dy[b,o,ox]·x̃[b,ci,ox·s+kj−pad]
//   db[o]       = 0 + Σ_{b, ox in order} dy[b,o,ox]
//   dx[b,ci,ix] = 0 + Σ_{kj in order, where ix = ox·s+kj−pad for some ox} (0 + Σ_{o in order} w[o,ci,kj]·dy[b,o,ox])
//
// where x̃ is x with zeros outside the signal (a padded position still contributes its
// product with 0). In the relaxed build the GEMM fuses multiply-add and only agrees with
// the references to rounding.

import { gemm_nn, gemm_nt, gemm_tn, GEMM_ACCUMULATE, GEMM_RELU } from "./gemm";
import {
  addChannelBias, channelSums, endValid, firstValid, gatherRun, outLength, scatterAddRun, zeroRun, CONV_ACCUMULATE, CONV_RELU,
} from "./conv";

// ================================================================ shared helpers

// @ts-ignore: decorator
@inline function checkConv1d(batch: i32, cin: i32, len: i32, cout: i32, k: i32, stride: i32, pad: i32): void {
  assert(batch > 0 && cin > 0 && len > 0 && cout > 0 && k > 0, "conv1d: dimensions must be positive");
  assert(stride >= 1 && pad >= 0, "conv1d: stride must be ≥ 1 and pad ≥ 0");
  assert(len + 2 * pad >= k, "conv1d: kernel longer than the padded signal");
}

// @ts-ignore: decorator
@inline function checkAligned(a: usize, b: usize, c: usize, d: usize, e: usize): void {
  assert(((a | b | c | d | e) & 3) == 0, "conv1d: pointers must be 4-byte aligned");
}

/** x̃[row](i): the value, or 0 outside the signal. */
// @ts-ignore: decorator
@inline function padded(row: usize, len: i32, i: i32): f32 {
  return i >= 0 && i < len ? load<f32>(row + (<usize>i << 2)) : 0;
}

/** The 1×1 kernel with stride 1 and no padding: col is the signal itself. */
// @ts-ignore: decorator
@inline function isDirect(k: i32, stride: i32, pad: i32): bool {
  return k == 1 && stride == 1 && pad == 0;
}

/**
 * Unrolls one signal into patch columns, overwriting col: row (ci, kj), column ox holds
 * x[ci, ox·stride + kj − pad], or 0 in the padding. x is (cin, len); col is (cin·k, olen).
 * The columns inside the signal are one run (copied four lanes at a time for stride 1).
 */
function im2col1d(col: usize, x: usize, cin: i32, len: i32, k: i32, stride: i32, pad: i32): void {
  const olen = outLength(len, k, stride, pad);
  let dst = col;
  for (let ci = 0; ci < cin; ci++) {
    const row = x + ((<usize>ci * <usize>len) << 2);
    for (let kj = 0; kj < k; kj++) {
      const off = kj - pad;
      // Columns ox in [lo, hi) read inside the signal: 0 ≤ ox·stride + off < len.
      const lo = min(firstValid(off, stride), olen);
      const hi = max(endValid(off, len, stride, olen), lo);
      zeroRun(dst, lo);
      gatherRun(dst, row + (<usize>(lo * stride + off) << 2), lo, hi, stride);
      zeroRun(dst + (<usize>hi << 2), olen - hi);
      dst += <usize>olen << 2;
    }
  }
}

/**
 * The adjoint of im2col1d for one signal: ACCUMULATES dx[ci, ox·stride + kj − pad] +=
 * col[(ci, kj), ox] for every position inside the signal, rows (ci, kj) in order (so each
 * dx element receives its taps kj in order; stride 1 adds a run four lanes at a time).
 */
function col2im1d(dx: usize, col: usize, cin: i32, len: i32, k: i32, stride: i32, pad: i32): void {
  const olen = outLength(len, k, stride, pad);
  let src = col;
  for (let ci = 0; ci < cin; ci++) {
    const row = dx + ((<usize>ci * <usize>len) << 2);
    for (let kj = 0; kj < k; kj++) {
      const off = kj - pad;
      const lo = min(firstValid(off, stride), olen);
      const hi = max(endValid(off, len, stride, olen), lo);
      scatterAddRun(row + (<usize>(lo * stride + off) << 2), src + (<usize>lo << 2), hi - lo, stride);
      src += <usize>olen << 2;
    }
  }
}

// ================================================================ forward

/**
 * y = conv1d(x, w) (+ bias)(relu), like F.conv1d(x, w, bias, stride, pad).
 *   y is (batch, cout, olen): overwritten, or added to with CONV_ACCUMULATE (flags bit 1);
 *   x is (batch, cin, len); w is (cout, cin, k); bias is (cout) or 0 for none;
 *   flags: CONV_ACCUMULATE (1), CONV_RELU (2, max(·, 0) applied last);
 *   work: cin·k · olen floats (contents on entry ignored). For k = 1, stride 1 and pad 0
 *   col is the signal itself and work is not touched (may be 0).
 * Per signal: im2col1d into work, gemm_nn(y_b, w, work), then the bias and ReLU in one pass
 * (without a bias the ReLU is fused into the GEMM), as conv2d_forward.
 */
export function conv1d_forward(
  y: usize, x: usize, w: usize, bias: usize, work: usize,
  batch: i32, cin: i32, len: i32, cout: i32, k: i32, stride: i32, pad: i32, flags: i32,
): void {
  checkConv1d(batch, cin, len, cout, k, stride, pad);
  const direct = isDirect(k, stride, pad);
  assert(y != 0 && x != 0 && w != 0 && (direct || work != 0), "conv1d_forward: null pointer");
  checkAligned(y, x, w, bias, work);
  const P = outLength(len, k, stride, pad);
  const K = cin * k;
  const relu = (flags & CONV_RELU) != 0;
  const gemmFlags = (flags & CONV_ACCUMULATE) | (bias == 0 && relu ? GEMM_RELU : 0);
  const xSignal = (<usize>cin * <usize>len) << 2;
  const ySignal = (<usize>cout * <usize>P) << 2;
  for (let b = 0; b < batch; b++) {
    const xb = x + <usize>b * xSignal;
    const yb = y + <usize>b * ySignal;
    let colb = xb;
    if (!direct) {
      im2col1d(work, xb, cin, len, k, stride, pad);
      colb = work;
    }
    gemm_nn(yb, w, colb, 0, cout, P, K, K, P, P, gemmFlags);
    if (bias != 0) addChannelBias(yb, bias, cout, P, relu);
  }
}

/** The direct loop nest (b, o, ox, ci, kj): same shapes, flags and bits as conv1d_forward. work is not used (may be 0). */
export function conv1d_forward_ref(
  y: usize, x: usize, w: usize, bias: usize, work: usize,
  batch: i32, cin: i32, len: i32, cout: i32, k: i32, stride: i32, pad: i32, flags: i32,
): void {
  checkConv1d(batch, cin, len, cout, k, stride, pad);
  assert(y != 0 && x != 0 && w != 0, "conv1d_forward_ref: null pointer");
  checkAligned(y, x, w, bias, work);
  const olen = outLength(len, k, stride, pad);
  const accumulate = (flags & CONV_ACCUMULATE) != 0;
  const relu = (flags & CONV_RELU) != 0;
  for (let b = 0; b < batch; b++) {
    for (let o = 0; o < cout; o++) {
      for (let ox = 0; ox < olen; ox++) {
        const yp = y + (((<usize>b * <usize>cout + <usize>o) * <usize>olen + <usize>ox) << 2);
        let acc: f32 = accumulate ? load<f32>(yp) : 0;
        for (let ci = 0; ci < cin; ci++) {
          const row = x + (((<usize>b * <usize>cin + <usize>ci) * <usize>len) << 2);
          for (let kj = 0; kj < k; kj++) {
            const wv = load<f32>(w + (((<usize>o * <usize>cin + <usize>ci) * <usize>k + <usize>kj) << 2));
            acc += wv * padded(row, len, ox * stride + kj - pad);
          }
        }
        if (bias != 0) acc += load<f32>(bias + (<usize>o << 2));
        if (relu) acc = max<f32>(acc, 0);
        store<f32>(yp, acc);
      }
    }
  }
}

// ================================================================ backward

/**
 * Gradients of conv1d_forward (without ReLU: pass dy already multiplied by the ReLU mask).
 *   dx is (batch, cin, len): OVERWRITTEN; 0 skips the input gradient (first layer);
 *   dw is (cout, cin, k): OVERWRITTEN (summed over the batch);
 *   db is (cout): OVERWRITTEN; 0 skips it;
 *   dy is (batch, cout, olen); x is (batch, cin, len); w is (cout, cin, k);
 *   work: cin·k · olen floats, as for conv1d_forward (one signal's col, then its column
 *   gradient); not touched for k = 1, stride 1, pad 0 (may be 0).
 * Per signal b: dw (+)= dy_b · col_bᵀ (gemm_nt, overwriting for b = 0); then per signal
 * dcol = wᵀ · dy_b (gemm_tn), dx_b = 0 and col2im1d(dx_b, dcol).
 */
export function conv1d_backward(
  dx: usize, dw: usize, db: usize, dy: usize, x: usize, w: usize, work: usize,
  batch: i32, cin: i32, len: i32, cout: i32, k: i32, stride: i32, pad: i32,
): void {
  checkConv1d(batch, cin, len, cout, k, stride, pad);
  const direct = isDirect(k, stride, pad);
  assert(dw != 0 && dy != 0 && x != 0 && w != 0 && (direct || work != 0), "conv1d_backward: null pointer");
  checkAligned(dx, dw, db, dy, x);
  checkAligned(w, work, 0, 0, 0);
  const P = outLength(len, k, stride, pad);
  const K = cin * k;
  const xSignal = (<usize>cin * <usize>len) << 2;
  const ySignal = (<usize>cout * <usize>P) << 2;
  for (let b = 0; b < batch; b++) {
    const xb = x + <usize>b * xSignal;
    let colb = xb;
    if (!direct) {
      im2col1d(work, xb, cin, len, k, stride, pad);
      colb = work;
    }
    gemm_nt(dw, dy + <usize>b * ySignal, colb, 0, cout, K, P, P, P, K, b > 0 ? GEMM_ACCUMULATE : 0);
  }
  if (db != 0) channelSums(db, dy, batch, cout, P, 0, cout);
  if (dx == 0) return;
  for (let b = 0; b < batch; b++) {
    const dyb = dy + <usize>b * ySignal;
    const dxb = dx + <usize>b * xSignal;
    if (direct) {
      // col2im1d is the identity here, and 0 + t = t for the GEMM's sums (never −0).
      gemm_tn(dxb, w, dyb, 0, K, P, cout, K, P, P, 0);
    } else {
      gemm_tn(work, w, dyb, 0, K, P, cout, K, P, P, 0);
      memory.fill(dxb, 0, xSignal);
      col2im1d(dxb, work, cin, len, k, stride, pad);
    }
  }
}

/**
 * Direct loop nests with conv1d_backward's shapes, semantics and bits: dw over (o, ci, kj)
 * summing (b, ox); db over o summing (b, ox); dx over (b, ci, ix) summing the taps kj that
 * reach it, each tap's Σ_o first. work is not used (may be 0).
 */
export function conv1d_backward_ref(
  dx: usize, dw: usize, db: usize, dy: usize, x: usize, w: usize, work: usize,
  batch: i32, cin: i32, len: i32, cout: i32, k: i32, stride: i32, pad: i32,
): void {
  checkConv1d(batch, cin, len, cout, k, stride, pad);
  assert(dw != 0 && dy != 0 && x != 0 && w != 0, "conv1d_backward_ref: null pointer");
  checkAligned(dx, dw, db, dy, x);
  checkAligned(w, work, 0, 0, 0);
  const olen = outLength(len, k, stride, pad);
  for (let o = 0; o < cout; o++) {
    for (let ci = 0; ci < cin; ci++) {
      for (let kj = 0; kj < k; kj++) {
        let acc: f32 = 0;
        for (let b = 0; b < batch; b++) {
          const row = x + (((<usize>b * <usize>cin + <usize>ci) * <usize>len) << 2);
          const dyrow = dy + (((<usize>b * <usize>cout + <usize>o) * <usize>olen) << 2);
          for (let ox = 0; ox < olen; ox++) {
            acc += load<f32>(dyrow + (<usize>ox << 2)) * padded(row, len, ox * stride + kj - pad);
          }
        }
        store<f32>(dw + (((<usize>o * <usize>cin + <usize>ci) * <usize>k + <usize>kj) << 2), acc);
      }
    }
  }
  if (db != 0) {
    for (let o = 0; o < cout; o++) {
      let acc: f32 = 0;
      for (let b = 0; b < batch; b++) {
        for (let ox = 0; ox < olen; ox++) acc += load<f32>(dy + (((<usize>b * <usize>cout + <usize>o) * <usize>olen + <usize>ox) << 2));
      }
      store<f32>(db + (<usize>o << 2), acc);
    }
  }
  if (dx == 0) return;
  for (let b = 0; b < batch; b++) {
    for (let ci = 0; ci < cin; ci++) {
      for (let ix = 0; ix < len; ix++) {
        let acc: f32 = 0;
        for (let kj = 0; kj < k; kj++) {
          const t = ix + pad - kj; // = ox·stride
          if (t < 0 || t % stride != 0 || t / stride >= olen) continue;
          const ox = t / stride;
          let s: f32 = 0;
          for (let o = 0; o < cout; o++) {
            const wv = load<f32>(w + (((<usize>o * <usize>cin + <usize>ci) * <usize>k + <usize>kj) << 2));
            s += wv * load<f32>(dy + (((<usize>b * <usize>cout + <usize>o) * <usize>olen + <usize>ox) << 2));
          }
          acc += s;
        }
        store<f32>(dx + (((<usize>b * <usize>cin + <usize>ci) * <usize>len + <usize>ix) << 2), acc);
      }
    }
  }
}
