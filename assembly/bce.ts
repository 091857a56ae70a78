// Multi-label losses: independent yes/no labels, one sigmoid per output.
//
// s (student logits), t (teacher logits), y (labels, 0 or 1 as f32), grad are (rows, cols)
// row-major, contiguous; labels is (rows) i32: 0 on a row that has its labels, MISSING_LABEL
// (−1) on a row without (no hard term there: its loss and gradient are the soft term's
// alone, or zero in bce_logits), or the pointer 0 when every row has them. `grad` may be 0
// to skip the gradient; otherwise it is overwritten (never accumulated). `out` may be 0,
// else it receives three f64: [total, hard, soft]. n = rows·cols.
//
//   bce(z, q) = max(z, 0) − z·q + log1p(exp(−|z|))    = −q·log σ(z) − (1 − q)·log(1 − σ(z))
//   hard  = (1/n) Σ_{r labelled} Σ_j bce(s_rj, y_rj)    PyTorch's BCEWithLogitsLoss("mean")
//   soft  = (T²/n) Σ_r Σ_j bce(s_rj/T, σ(t_rj/T))       binary cross-entropy with the teacher's
//                                                        softened probabilities as targets
//   total = α·hard + (1 − α)·soft
//   ∂total/∂s = α·(σ(s) − y)/n + (1 − α)·T·(σ(s/T) − σ(t/T))/n
//
// The soft gradient of one element is (T²/n)·(1/T)·(σ(s/T) − σ(t/T)): the T² keeps its size
// independent of T, as in the softmax distillation loss (loss.ts), since (σ(s/T) − σ(t/T))
// shrinks as 1/T for large T. Rows without labels divide by n like the others, so a batch's
// hard term is the labelled rows' share (as cross_entropy's 1/rows).
//
// Each element: e = exp(−|z|) (exp4 / exp1 of vmath.ts), σ(z) = 1/(1 + e) for z ≥ 0 and
// e/(1 + e) below (no overflow either way), log1p(e) by Mathf.log1p (musl's log1pf, compiled
// into the module: the same bits in every engine), taken lane by lane in the SIMD kernel.
// Element losses are f32, summed in four lanes per row (element j to lane j mod 4, folded
// (l0 + l1) + (l2 + l3), then the tail in order); row sums are added in f64. The SIMD
// kernels and `_ref` twins agree bit for bit.

import { exp1, exp4, hsum4 } from "./vmath";
import { MISSING_LABEL } from "./loss";

/** Per-row results of bceRow*, returned through globals (AssemblyScript has no tuples). */
let rowHard: f32 = 0;
let rowSoft: f32 = 0;

/** log1p of the four lanes, one at a time (Mathf.log1p: no vector form, the same bits as log1p1). */
// @ts-ignore: decorator
@inline function log1p4(e: v128): v128 {
  let r = f32x4.splat(0);
  r = f32x4.replace_lane(r, 0, Mathf.log1p(f32x4.extract_lane(e, 0)));
  r = f32x4.replace_lane(r, 1, Mathf.log1p(f32x4.extract_lane(e, 1)));
  r = f32x4.replace_lane(r, 2, Mathf.log1p(f32x4.extract_lane(e, 2)));
  r = f32x4.replace_lane(r, 3, Mathf.log1p(f32x4.extract_lane(e, 3)));
  return r;
}

/** σ(z) from e = exp(−|z|): 1/(1 + e) for z ≥ 0, e/(1 + e) for z < 0. */
// @ts-ignore: decorator
@inline function sigmoidFrom1(z: f32, e: f32): f32 {
  return (z >= 0 ? <f32>1 : e) / (<f32>1 + e);
}

// @ts-ignore: decorator
@inline function sigmoidFrom4(z: v128, e: v128): v128 {
  const one = f32x4.splat(1);
  return f32x4.div(v128.bitselect(one, e, f32x4.ge(z, f32x4.splat(0))), f32x4.add(one, e));
}

/** bce(z, q) = (max(z, 0) − z·q) + log1p(e), with e = exp(−|z|). */
// @ts-ignore: decorator
@inline function bce1(z: f32, q: f32, e: f32): f32 {
  return (max<f32>(z, 0) - z * q) + Mathf.log1p(e);
}

// @ts-ignore: decorator
@inline function bce4(z: v128, q: v128, e: v128): v128 {
  return f32x4.add(f32x4.sub(f32x4.max(z, f32x4.splat(0)), f32x4.mul(z, q)), log1p4(e));
}

/**
 * One row. `hard` / `soft` say which terms to compute; hardW / softW weight their gradients;
 * gHard = 1/n, gSoft = T/n. Element gradient: 0 + hardW·((σ(s) − y)·gHard) + softW·((p − q)·gSoft).
 */
// @ts-ignore: decorator
@inline function bceRow(
  grad: usize, s: usize, t: usize, y: usize, cols: i32, temp: f32,
  hard: bool, soft: bool, hardW: f32, softW: f32, gHard: f32, gSoft: f32,
): void {
  const tv = f32x4.splat(temp);
  let hardAcc = f32x4.splat(0);
  let softAcc = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= cols; i += 4) {
    const o = <usize>i << 2;
    const sv = v128.load(s + o);
    let g = f32x4.splat(0);
    if (hard) {
      const yv = v128.load(y + o);
      const e = exp4(f32x4.neg(f32x4.abs(sv)));
      hardAcc = f32x4.add(hardAcc, bce4(sv, yv, e));
      g = f32x4.add(g, f32x4.mul(f32x4.splat(hardW), f32x4.mul(f32x4.sub(sigmoidFrom4(sv, e), yv), f32x4.splat(gHard))));
    }
    if (soft) {
      const u = f32x4.div(sv, tv);
      const v = f32x4.div(v128.load(t + o), tv);
      const eu = exp4(f32x4.neg(f32x4.abs(u)));
      const q = sigmoidFrom4(v, exp4(f32x4.neg(f32x4.abs(v))));
      softAcc = f32x4.add(softAcc, bce4(u, q, eu));
      g = f32x4.add(g, f32x4.mul(f32x4.splat(softW), f32x4.mul(f32x4.sub(sigmoidFrom4(u, eu), q), f32x4.splat(gSoft))));
    }
    if (grad) v128.store(grad + o, g);
  }
  let h = hsum4(hardAcc);
  let sf = hsum4(softAcc);
  for (; i < cols; i++) {
    const o = <usize>i << 2;
    const sv = load<f32>(s + o);
    let g: f32 = 0;
    if (hard) {
      const yv = load<f32>(y + o);
      const e = exp1(-abs<f32>(sv));
      h += bce1(sv, yv, e);
      g += hardW * ((sigmoidFrom1(sv, e) - yv) * gHard);
    }
    if (soft) {
      const u = sv / temp;
      const v = load<f32>(t + o) / temp;
      const eu = exp1(-abs<f32>(u));
      const q = sigmoidFrom1(v, exp1(-abs<f32>(v)));
      sf += bce1(u, q, eu);
      g += softW * ((sigmoidFrom1(u, eu) - q) * gSoft);
    }
    if (grad) store<f32>(grad + o, g);
  }
  rowHard = hard ? h : 0;
  rowSoft = soft ? sf : 0;
}

/** The plain twin of bceRow: one element at a time, the four lanes of the row sums emulated. */
function bceRowRef(
  grad: usize, s: usize, t: usize, y: usize, cols: i32, temp: f32,
  hard: bool, soft: bool, hardW: f32, softW: f32, gHard: f32, gSoft: f32,
): void {
  const full = cols & ~3;
  let h0: f32 = 0, h1: f32 = 0, h2: f32 = 0, h3: f32 = 0, h: f32 = 0;
  let s0: f32 = 0, s1: f32 = 0, s2: f32 = 0, s3: f32 = 0, sf: f32 = 0;
  for (let i = 0; i < cols; i++) {
    if (i == full) {
      h = (h0 + h1) + (h2 + h3);
      sf = (s0 + s1) + (s2 + s3);
    }
    const lane = i & 3;
    const o = <usize>i << 2;
    const sv = load<f32>(s + o);
    let g: f32 = 0;
    if (hard) {
      const yv = load<f32>(y + o);
      const e = exp1(-abs<f32>(sv));
      const l = bce1(sv, yv, e);
      if (i >= full) h += l;
      else if (lane == 0) h0 += l; else if (lane == 1) h1 += l; else if (lane == 2) h2 += l; else h3 += l;
      g += hardW * ((sigmoidFrom1(sv, e) - yv) * gHard);
    }
    if (soft) {
      const u = sv / temp;
      const v = load<f32>(t + o) / temp;
      const eu = exp1(-abs<f32>(u));
      const q = sigmoidFrom1(v, exp1(-abs<f32>(v)));
      const l = bce1(u, q, eu);
      if (i >= full) sf += l;
      else if (lane == 0) s0 += l; else if (lane == 1) s1 += l; else if (lane == 2) s2 += l; else s3 += l;
      g += softW * ((sigmoidFrom1(u, eu) - q) * gSoft);
    }
    if (grad) store<f32>(grad + o, g);
  }
  if (full == cols) {
    h = (h0 + h1) + (h2 + h3);
    sf = (s0 + s1) + (s2 + s3);
  }
  rowHard = hard ? h : 0;
  rowSoft = soft ? sf : 0;
}

/** Runs the loss over all rows; see the file comment for the formulas. */
// @ts-ignore: decorator
@inline function bceAll(
  ref: bool, out: usize, grad: usize, s: usize, t: usize, y: usize, labels: usize,
  rows: i32, cols: i32, temp: f32, hard: bool, soft: bool, hardW: f32, softW: f32,
): f64 {
  assert(rows > 0 && cols > 0, "bce: rows and cols must be positive");
  assert(temp > 0, "bce: temperature must be positive");
  const n: f64 = <f64>rows * <f64>cols;
  const gHard: f32 = <f32>(1.0 / n);
  const gSoft: f32 = <f32>(<f64>temp / n);
  let hardSum: f64 = 0;
  let softSum: f64 = 0;
  for (let r = 0; r < rows; r++) {
    const off = <usize>r * <usize>cols << 2;
    const label = hard && labels != 0 ? load<i32>(labels + (<usize>r << 2)) : 0;
    assert(label == 0 || label == MISSING_LABEL, "bce: a row's label flag must be 0 or MISSING_LABEL");
    const rowHasHard = hard && label != MISSING_LABEL;
    const g = grad ? grad + off : 0;
    const tr = soft ? t + off : 0;
    const yr = rowHasHard ? y + off : 0;
    if (ref) bceRowRef(g, s + off, tr, yr, cols, temp, rowHasHard, soft, hardW, softW, gHard, gSoft);
    else bceRow(g, s + off, tr, yr, cols, temp, rowHasHard, soft, hardW, softW, gHard, gSoft);
    hardSum += <f64>rowHard;
    softSum += <f64>rowSoft;
  }
  const hardLoss = hardSum / n;
  const softLoss = (softSum / n) * (<f64>temp * <f64>temp);
  const total = <f64>hardW * hardLoss + <f64>softW * softLoss;
  if (out) {
    store<f64>(out, total);
    store<f64>(out, hardLoss, 8);
    store<f64>(out, softLoss, 16);
  }
  return total;
}

// ================================================================ exported kernels

/**
 * Mean binary cross-entropy with logits over rows·cols values (rows flagged MISSING_LABEL
 * add nothing); grad = (σ(s) − y)/(rows·cols). y holds 0 or 1 (any value in [0, 1] works).
 */
export function bce_logits(grad: usize, s: usize, y: usize, labels: usize, rows: i32, cols: i32): f64 {
  return bceAll(false, 0, grad, s, 0, y, labels, rows, cols, 1, true, false, 1, 0);
}

export function bce_logits_ref(grad: usize, s: usize, y: usize, labels: usize, rows: i32, cols: i32): f64 {
  return bceAll(true, 0, grad, s, 0, y, labels, rows, cols, 1, true, false, 1, 0);
}

/**
 * α·BCE(s, y) + (1 − α)·T²·BCE(s/T, σ(t/T)) in one pass; writes [total, hard, soft] to out
 * (f64 × 3) and returns total. See the file comment.
 */
export function distill_bce(
  out: usize, grad: usize, s: usize, t: usize, y: usize, labels: usize, rows: i32, cols: i32, temp: f32, alpha: f32,
): f64 {
  assert(alpha >= 0 && alpha <= 1, "distill_bce: alpha must be in [0, 1]");
  return bceAll(false, out, grad, s, t, y, labels, rows, cols, temp, true, true, alpha, 1 - alpha);
}

export function distill_bce_ref(
  out: usize, grad: usize, s: usize, t: usize, y: usize, labels: usize, rows: i32, cols: i32, temp: f32, alpha: f32,
): f64 {
  assert(alpha >= 0 && alpha <= 1, "distill_bce: alpha must be in [0, 1]");
  return bceAll(true, out, grad, s, t, y, labels, rows, cols, temp, true, true, alpha, 1 - alpha);
}
