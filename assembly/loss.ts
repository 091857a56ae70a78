// Losses with respect to student logits: each kernel returns the mean loss over the
// batch and writes the gradient in the same pass.
//
// s (student logits), t (teacher logits), grad are (rows, cols) row-major, contiguous;
// labels is (rows) of i32 class ids in [0, cols), or MISSING_LABEL (−1) for a row without a
// label, which has no hard term (its gradient and loss are the soft term's alone, or zero
// in cross_entropy). `grad` may be 0 to skip the gradient;
// otherwise it is overwritten (never accumulated). `out` may be 0, else it receives
// three f64: [total, hard, soft].
//
//   hard = (1/rows) Σ_{r labelled} −log softmax(s_r)[label_r]          cross-entropy
//   soft = (T²/rows) Σ_r Σ_k p_t·(log p_t − log p_s),  p = softmax(·/T)  KL(p_t ‖ p_s)·T²
//   total = α·hard + (1 − α)·soft                                         Hinton et al. 2015
//   ∂total/∂s = α·(softmax(s) − onehot)/rows + (1 − α)·T·(p_s − p_t)/rows
//
// With class weights w (cols f32, the `_weighted` kernels) a labelled row's hard loss and
// hard gradient are multiplied by w[label] (still divided by rows, not by Σ w): each row's
// hard weight is hardW·w[label] rounded to f32. Without weights (the other kernels) that
// product is never formed, so their results are the same bits as before weights existed.
//
// The T² factor keeps the soft gradient's size independent of T (it scales as T²·(1/T)
// times a factor that itself shrinks as 1/T). Row losses are f32 (fixed lane order, see
// softmax.ts); the batch sum is f64. The SIMD kernels and `_ref` twins agree bit for bit.

import { exp1, exp4, hsum4 } from "./vmath";
import { rowMax, rowMaxRef, rowSumExp, rowSumExpRef } from "./softmax";

/** The label of a row that has none (an unlabelled transfer row): it gets the soft loss only. */
export const MISSING_LABEL: i32 = -1;

/** Per-row results of distillRow*, returned through globals (AssemblyScript has no tuples). */
let rowHard: f32 = 0;
let rowSoft: f32 = 0;

/**
 * One row of the fused loss. `hard` / `soft` say which terms to compute (loss and
 * gradient); hardW / softW weight their gradients. gHard = 1/rows, gSoft = T/rows.
 */
// @ts-ignore: decorator
@inline function distillRow(
  grad: usize, s: usize, t: usize, label: i32, cols: i32, temp: f32,
  hard: bool, soft: bool, softCe: bool, hardW: f32, softW: f32, gHard: f32, gSoft: f32,
): void {
  const mx = rowMax(s, cols);
  let s1: f32 = 1, ms: f32 = 0, mt: f32 = 0, ss: f32 = 1, st: f32 = 1, lseS: f32 = 0, lseT: f32 = 0;
  if (hard) {
    s1 = rowSumExp(s, cols, 1, mx);
    rowHard = Mathf.log(s1) - (load<f32>(s + (<usize>label << 2)) - mx);
  }
  if (soft) {
    ms = mx / temp;
    mt = rowMax(t, cols) / temp;
    ss = rowSumExp(s, cols, temp, ms);
    st = rowSumExp(t, cols, temp, mt);
    lseS = Mathf.log(ss);
    lseT = Mathf.log(st);
  }
  const tv = f32x4.splat(temp);
  let klAcc = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= cols; i += 4) {
    const o = <usize>i << 2;
    const sv = v128.load(s + o);
    let g = f32x4.splat(0);
    if (hard) {
      const p1 = f32x4.div(exp4(f32x4.sub(sv, f32x4.splat(mx))), f32x4.splat(s1));
      g = f32x4.add(g, f32x4.mul(f32x4.splat(hardW), f32x4.mul(p1, f32x4.splat(gHard))));
    }
    if (soft) {
      const zs = f32x4.sub(f32x4.div(sv, tv), f32x4.splat(ms));
      const zt = f32x4.sub(f32x4.div(v128.load(t + o), tv), f32x4.splat(mt));
      const ps = f32x4.div(exp4(zs), f32x4.splat(ss));
      const pt = f32x4.div(exp4(zt), f32x4.splat(st));
      const logRatio = softCe
        ? f32x4.sub(f32x4.splat(lseS), zs)
        : f32x4.sub(f32x4.sub(zt, f32x4.splat(lseT)), f32x4.sub(zs, f32x4.splat(lseS)));
      klAcc = f32x4.add(klAcc, f32x4.mul(pt, logRatio));
      g = f32x4.add(g, f32x4.mul(f32x4.splat(softW), f32x4.mul(f32x4.sub(ps, pt), f32x4.splat(gSoft))));
    }
    if (grad) v128.store(grad + o, g);
  }
  let kl = hsum4(klAcc);
  for (; i < cols; i++) {
    const o = <usize>i << 2;
    const sv = load<f32>(s + o);
    let g: f32 = 0;
    if (hard) g += hardW * ((exp1(sv - mx) / s1) * gHard);
    if (soft) {
      const zs = sv / temp - ms;
      const zt = load<f32>(t + o) / temp - mt;
      const ps = exp1(zs) / ss;
      const pt = exp1(zt) / st;
      kl += pt * (softCe ? lseS - zs : (zt - lseT) - (zs - lseS));
      g += softW * ((ps - pt) * gSoft);
    }
    if (grad) store<f32>(grad + o, g);
  }
  if (hard && grad) fixLabelGradient(grad, s, t, label, temp, mx, s1, ms, mt, ss, st, soft, hardW, softW, gHard, gSoft);
  rowSoft = kl;
}

/** Rewrites grad[label] with the one-hot term included (the vector pass computed it with onehot = 0). */
// @ts-ignore: decorator
@inline function fixLabelGradient(
  grad: usize, s: usize, t: usize, label: i32, temp: f32, mx: f32, s1: f32,
  ms: f32, mt: f32, ss: f32, st: f32, soft: bool, hardW: f32, softW: f32, gHard: f32, gSoft: f32,
): void {
  const o = <usize>label << 2;
  const sv = load<f32>(s + o);
  let g: f32 = 0;
  g += hardW * ((exp1(sv - mx) / s1 - 1) * gHard);
  if (soft) {
    const ps = exp1(sv / temp - ms) / ss;
    const pt = exp1(load<f32>(t + o) / temp - mt) / st;
    g += softW * ((ps - pt) * gSoft);
  }
  store<f32>(grad + o, g);
}

/** The plain twin of distillRow: one element at a time, lanes emulated for the KL sum. */
function distillRowRef(
  grad: usize, s: usize, t: usize, label: i32, cols: i32, temp: f32,
  hard: bool, soft: bool, softCe: bool, hardW: f32, softW: f32, gHard: f32, gSoft: f32,
): void {
  const mx = rowMaxRef(s, cols);
  let s1: f32 = 1, ms: f32 = 0, mt: f32 = 0, ss: f32 = 1, st: f32 = 1, lseS: f32 = 0, lseT: f32 = 0;
  if (hard) {
    s1 = rowSumExpRef(s, cols, 1, mx);
    rowHard = Mathf.log(s1) - (load<f32>(s + (<usize>label << 2)) - mx);
  }
  if (soft) {
    ms = mx / temp;
    mt = rowMaxRef(t, cols) / temp;
    ss = rowSumExpRef(s, cols, temp, ms);
    st = rowSumExpRef(t, cols, temp, mt);
    lseS = Mathf.log(ss);
    lseT = Mathf.log(st);
  }
  const full = cols & ~3;
  let l0: f32 = 0, l1: f32 = 0, l2: f32 = 0, l3: f32 = 0, kl: f32 = 0;
  for (let i = 0; i < cols; i++) {
    const o = <usize>i << 2;
    const sv = load<f32>(s + o);
    let g: f32 = 0;
    if (hard) g += hardW * ((exp1(sv - mx) / s1 - (i == label ? <f32>1 : <f32>0)) * gHard);
    if (soft) {
      const zs = sv / temp - ms;
      const zt = load<f32>(t + o) / temp - mt;
      const ps = exp1(zs) / ss;
      const pt = exp1(zt) / st;
      const term = pt * (softCe ? lseS - zs : (zt - lseT) - (zs - lseS));
      if (i < full) {
        const lane = i & 3;
        if (lane == 0) l0 += term; else if (lane == 1) l1 += term; else if (lane == 2) l2 += term; else l3 += term;
      } else {
        if (i == full) kl = (l0 + l1) + (l2 + l3);
        kl += term;
      }
      g += softW * ((ps - pt) * gSoft);
    }
    if (grad) store<f32>(grad + o, g);
  }
  if (full == cols) kl = (l0 + l1) + (l2 + l3);
  rowSoft = kl;
}

/** Runs the fused loss over all rows; see the file comment for the formulas. */
// @ts-ignore: decorator
@inline function distillAll(
  ref: bool, out: usize, grad: usize, s: usize, t: usize, labels: usize, weights: usize,
  rows: i32, cols: i32, temp: f32, hard: bool, soft: bool, softCe: bool, hardW: f32, softW: f32,
): f64 {
  assert(rows > 0 && cols > 0, "loss: rows and cols must be positive");
  assert(temp > 0, "loss: temperature must be positive");
  const gHard: f32 = <f32>(1.0 / <f64>rows);
  const gSoft: f32 = <f32>(<f64>temp / <f64>rows);
  let hardSum: f64 = 0;
  let softSum: f64 = 0;
  rowHard = 0;
  rowSoft = 0;
  for (let r = 0; r < rows; r++) {
    const off = <usize>r * <usize>cols << 2;
    const label = hard ? load<i32>(labels + (<usize>r << 2)) : 0;
    assert(label == MISSING_LABEL || (label >= 0 && label < cols), "loss: label out of range");
    const rowHasHard = hard && label != MISSING_LABEL;
    const g = grad ? grad + off : 0;
    const tr = soft ? t + off : 0;
    rowHard = 0;
    // The row's class weight: only with weights, and only on a labelled row (file comment).
    const w: f32 = weights != 0 && rowHasHard ? load<f32>(weights + (<usize>label << 2)) : 1;
    const rowHardW: f32 = weights != 0 && rowHasHard ? hardW * w : hardW;
    if (ref) distillRowRef(g, s + off, tr, label, cols, temp, rowHasHard, soft, softCe, rowHardW, softW, gHard, gSoft);
    else distillRow(g, s + off, tr, label, cols, temp, rowHasHard, soft, softCe, rowHardW, softW, gHard, gSoft);
    if (weights != 0) hardSum += <f64>rowHard * <f64>w;
    else hardSum += <f64>rowHard;
    softSum += <f64>rowSoft;
  }
  const hardLoss = hardSum / <f64>rows;
  const softLoss = (softSum / <f64>rows) * (<f64>temp * <f64>temp);
  const total = <f64>hardW * hardLoss + <f64>softW * softLoss;
  if (out) {
    store<f64>(out, total);
    store<f64>(out, hardLoss, 8);
    store<f64>(out, softLoss, 16);
  }
  return total;
}

// ================================================================ exported kernels

/** Mean cross-entropy of softmax(s) against integer labels; grad = (softmax(s) − onehot)/rows. */
export function cross_entropy(grad: usize, s: usize, labels: usize, rows: i32, cols: i32): f64 {
  return distillAll(false, 0, grad, s, 0, labels, 0, rows, cols, 1, true, false, false, 1, 0);
}

export function cross_entropy_ref(grad: usize, s: usize, labels: usize, rows: i32, cols: i32): f64 {
  return distillAll(true, 0, grad, s, 0, labels, 0, rows, cols, 1, true, false, false, 1, 0);
}

/**
 * cross_entropy with class weights (cols f32, each ≥ 0): (1/rows) Σ_{r labelled} w[label_r]·CE_r;
 * grad = w[label]·(softmax(s) − onehot)/rows.
 */
export function cross_entropy_weighted(grad: usize, s: usize, labels: usize, weights: usize, rows: i32, cols: i32): f64 {
  assert(weights != 0, "cross_entropy_weighted: weights must be given");
  return distillAll(false, 0, grad, s, 0, labels, weights, rows, cols, 1, true, false, false, 1, 0);
}

export function cross_entropy_weighted_ref(grad: usize, s: usize, labels: usize, weights: usize, rows: i32, cols: i32): f64 {
  assert(weights != 0, "cross_entropy_weighted: weights must be given");
  return distillAll(true, 0, grad, s, 0, labels, weights, rows, cols, 1, true, false, false, 1, 0);
}

/** T²·KL(softmax(t/T) ‖ softmax(s/T)), batch mean; grad = T·(p_s − p_t)/rows. */
export function kl_div(grad: usize, s: usize, t: usize, rows: i32, cols: i32, temp: f32): f64 {
  return distillAll(false, 0, grad, s, t, 0, 0, rows, cols, temp, false, true, false, 0, 1);
}

export function kl_div_ref(grad: usize, s: usize, t: usize, rows: i32, cols: i32, temp: f32): f64 {
  return distillAll(true, 0, grad, s, t, 0, 0, rows, cols, temp, false, true, false, 0, 1);
}

/** distill_loss flag: the soft term is T²·soft cross-entropy −Σ p_t·log p_s instead of T²·KL. */
export const DISTILL_SOFT_CROSS_ENTROPY: i32 = 1;

/**
 * α·CE + (1 − α)·T²·KL in one pass; writes [total, hard, soft] to out (f64 × 3) and
 * returns total. With DISTILL_SOFT_CROSS_ENTROPY the soft term is T²·(−Σ p_t·log p_s):
 * KL plus the teacher's entropy, with the same gradient.
 */
export function distill_loss(
  out: usize, grad: usize, s: usize, t: usize, labels: usize, rows: i32, cols: i32, temp: f32, alpha: f32, flags: i32,
): f64 {
  assert(alpha >= 0 && alpha <= 1, "distill_loss: alpha must be in [0, 1]");
  const softCe = (flags & DISTILL_SOFT_CROSS_ENTROPY) != 0;
  return distillAll(false, out, grad, s, t, labels, 0, rows, cols, temp, true, true, softCe, alpha, 1 - alpha);
}

export function distill_loss_ref(
  out: usize, grad: usize, s: usize, t: usize, labels: usize, rows: i32, cols: i32, temp: f32, alpha: f32, flags: i32,
): f64 {
  const softCe = (flags & DISTILL_SOFT_CROSS_ENTROPY) != 0;
  return distillAll(true, out, grad, s, t, labels, 0, rows, cols, temp, true, true, softCe, alpha, 1 - alpha);
}

/** distill_loss with class weights (cols f32, each ≥ 0) on the hard term: see the file comment. */
export function distill_loss_weighted(
  out: usize, grad: usize, s: usize, t: usize, labels: usize, weights: usize, rows: i32, cols: i32, temp: f32, alpha: f32, flags: i32,
): f64 {
  assert(alpha >= 0 && alpha <= 1, "distill_loss: alpha must be in [0, 1]");
  assert(weights != 0, "distill_loss_weighted: weights must be given");
  const softCe = (flags & DISTILL_SOFT_CROSS_ENTROPY) != 0;
  return distillAll(false, out, grad, s, t, labels, weights, rows, cols, temp, true, true, softCe, alpha, 1 - alpha);
}

export function distill_loss_weighted_ref(
  out: usize, grad: usize, s: usize, t: usize, labels: usize, weights: usize, rows: i32, cols: i32, temp: f32, alpha: f32, flags: i32,
): f64 {
  assert(weights != 0, "distill_loss_weighted: weights must be given");
  const softCe = (flags & DISTILL_SOFT_CROSS_ENTROPY) != 0;
  return distillAll(true, out, grad, s, t, labels, weights, rows, cols, temp, true, true, softCe, alpha, 1 - alpha);
}

// ================================================================ mean squared error

/**
 * loss = scale · Σ_i (pred_i − target_i)², grad_i = 2·scale·(pred_i − target_i).
 * pred, target, grad are flat arrays of n; scale = 1/n gives PyTorch's `mse_loss`,
 * 1/rows a per-sample sum. Squares are f32, summed in f64 in four lanes (element i
 * to lane i mod 4, folded (l0 + l1) + (l2 + l3)), then the tail in order.
 */
export function mse(grad: usize, pred: usize, target: usize, n: i32, scale: f32): f64 {
  const g2 = f32x4.splat(2 * scale);
  let acc01 = f64x2.splat(0);
  let acc23 = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const d = f32x4.sub(v128.load(pred + o), v128.load(target + o));
    const d2 = f32x4.mul(d, d);
    acc01 = f64x2.add(acc01, f64x2.promote_low_f32x4(d2));
    acc23 = f64x2.add(acc23, f64x2.promote_low_f32x4(i32x4.shuffle(d2, d2, 2, 3, 0, 1)));
    if (grad) v128.store(grad + o, f32x4.mul(g2, d));
  }
  let sum = (f64x2.extract_lane(acc01, 0) + f64x2.extract_lane(acc01, 1)) +
    (f64x2.extract_lane(acc23, 0) + f64x2.extract_lane(acc23, 1));
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const d = load<f32>(pred + o) - load<f32>(target + o);
    sum += <f64>(d * d);
    if (grad) store<f32>(grad + o, (2 * scale) * d);
  }
  return <f64>scale * sum;
}

export function mse_ref(grad: usize, pred: usize, target: usize, n: i32, scale: f32): f64 {
  const full = n & ~3;
  let l0: f64 = 0, l1: f64 = 0, l2: f64 = 0, l3: f64 = 0;
  let sum: f64 = 0;
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const d = load<f32>(pred + o) - load<f32>(target + o);
    const d2 = <f64>(d * d);
    if (i < full) {
      const lane = i & 3;
      if (lane == 0) l0 += d2; else if (lane == 1) l1 += d2; else if (lane == 2) l2 += d2; else l3 += d2;
    } else {
      if (i == full) sum = (l0 + l1) + (l2 + l3);
      sum += d2;
    }
    if (grad) store<f32>(grad + o, (2 * scale) * d);
  }
  if (full == n) sum = (l0 + l1) + (l2 + l3);
  return <f64>scale * sum;
}
