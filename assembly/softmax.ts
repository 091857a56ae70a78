// Row-wise softmax and log-softmax with temperature T, max-subtracted.
//
// x, y, dy, dx are (rows, cols), row-major, contiguous (row stride = cols).
//   softmax:     y_ij = exp(x_ij/T − m_i) / Σ_k exp(x_ik/T − m_i),   m_i = max_k x_ik / T
//   log_softmax: y_ij = (x_ij/T − m_i) − log Σ_k exp(x_ik/T − m_i)
// Subtracting the row maximum keeps every exp argument ≤ 0, so logits of ±1e4 with
// T = 0.05 (arguments of −4e5) give exact zeros instead of NaN.
//
// Fixed reduction order (so the SIMD kernels and the `_ref` twins agree bit for bit):
// the first ⌊cols/4⌋·4 elements are summed in four lane accumulators (element j
// goes to lane j mod 4), the lanes fold as (l0 + l1) + (l2 + l3), then the tail
// elements are added one by one. The row helpers below are shared with loss.ts.

import { exp1, exp4, hmax4, hsum4 } from "./vmath";

// ---------------------------------------------------------------- row helpers (SIMD and twin)

/** max_k x_k over one row. */
// @ts-ignore: decorator
@inline export function rowMax(x: usize, cols: i32): f32 {
  let i = 0;
  let m: f32 = -Infinity;
  if (cols >= 4) {
    let acc = v128.load(x);
    for (i = 4; i + 4 <= cols; i += 4) acc = f32x4.max(acc, v128.load(x + (<usize>i << 2)));
    m = hmax4(acc);
  }
  for (; i < cols; i++) m = max<f32>(m, load<f32>(x + (<usize>i << 2)));
  return m;
}

export function rowMaxRef(x: usize, cols: i32): f32 {
  let m: f32 = -Infinity;
  for (let i = 0; i < cols; i++) m = max<f32>(m, load<f32>(x + (<usize>i << 2)));
  return m;
}

/** Σ_k exp(x_k/T − m) over one row, in the fixed lane order. */
// @ts-ignore: decorator
@inline export function rowSumExp(x: usize, cols: i32, t: f32, m: f32): f32 {
  const tv = f32x4.splat(t);
  const mv = f32x4.splat(m);
  let acc = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= cols; i += 4) {
    acc = f32x4.add(acc, exp4(f32x4.sub(f32x4.div(v128.load(x + (<usize>i << 2)), tv), mv)));
  }
  let s = hsum4(acc);
  for (; i < cols; i++) s += exp1(load<f32>(x + (<usize>i << 2)) / t - m);
  return s;
}

export function rowSumExpRef(x: usize, cols: i32, t: f32, m: f32): f32 {
  const full = cols & ~3;
  let l0: f32 = 0, l1: f32 = 0, l2: f32 = 0, l3: f32 = 0;
  for (let i = 0; i < full; i += 4) {
    l0 += exp1(load<f32>(x + (<usize>i << 2)) / t - m);
    l1 += exp1(load<f32>(x + (<usize>(i + 1) << 2)) / t - m);
    l2 += exp1(load<f32>(x + (<usize>(i + 2) << 2)) / t - m);
    l3 += exp1(load<f32>(x + (<usize>(i + 3) << 2)) / t - m);
  }
  let s = (l0 + l1) + (l2 + l3);
  for (let i = full; i < cols; i++) s += exp1(load<f32>(x + (<usize>i << 2)) / t - m);
  return s;
}

/** Σ_k a_k·b_k over one row, in the fixed lane order. */
// @ts-ignore: decorator
@inline function rowDot(a: usize, b: usize, cols: i32): f32 {
  let acc = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= cols; i += 4) {
    const o = <usize>i << 2;
    acc = f32x4.add(acc, f32x4.mul(v128.load(a + o), v128.load(b + o)));
  }
  let s = hsum4(acc);
  for (; i < cols; i++) s += load<f32>(a + (<usize>i << 2)) * load<f32>(b + (<usize>i << 2));
  return s;
}

function rowDotRef(a: usize, b: usize, cols: i32): f32 {
  const full = cols & ~3;
  let l0: f32 = 0, l1: f32 = 0, l2: f32 = 0, l3: f32 = 0;
  for (let i = 0; i < full; i += 4) {
    const o = <usize>i << 2;
    l0 += load<f32>(a + o) * load<f32>(b + o);
    l1 += load<f32>(a + o + 4) * load<f32>(b + o + 4);
    l2 += load<f32>(a + o + 8) * load<f32>(b + o + 8);
    l3 += load<f32>(a + o + 12) * load<f32>(b + o + 12);
  }
  let s = (l0 + l1) + (l2 + l3);
  for (let i = full; i < cols; i++) s += load<f32>(a + (<usize>i << 2)) * load<f32>(b + (<usize>i << 2));
  return s;
}

/** Σ_k a_k over one row, in the fixed lane order. */
// @ts-ignore: decorator
@inline function rowSum(a: usize, cols: i32): f32 {
  let acc = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= cols; i += 4) acc = f32x4.add(acc, v128.load(a + (<usize>i << 2)));
  let s = hsum4(acc);
  for (; i < cols; i++) s += load<f32>(a + (<usize>i << 2));
  return s;
}

function rowSumRef(a: usize, cols: i32): f32 {
  const full = cols & ~3;
  let l0: f32 = 0, l1: f32 = 0, l2: f32 = 0, l3: f32 = 0;
  for (let i = 0; i < full; i += 4) {
    const o = <usize>i << 2;
    l0 += load<f32>(a + o);
    l1 += load<f32>(a + o + 4);
    l2 += load<f32>(a + o + 8);
    l3 += load<f32>(a + o + 12);
  }
  let s = (l0 + l1) + (l2 + l3);
  for (let i = full; i < cols; i++) s += load<f32>(a + (<usize>i << 2));
  return s;
}

// ================================================================ softmax

/** y = softmax(x / T) row-wise; x, y are (rows, cols); y may alias x. */
export function softmax_forward(y: usize, x: usize, rows: i32, cols: i32, t: f32): void {
  const tv = f32x4.splat(t);
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>r * <usize>cols << 2);
    const yr = y + (<usize>r * <usize>cols << 2);
    const m = rowMax(xr, cols) / t;
    const mv = f32x4.splat(m);
    let acc = f32x4.splat(0);
    let i = 0;
    for (; i + 4 <= cols; i += 4) {
      const o = <usize>i << 2;
      const e = exp4(f32x4.sub(f32x4.div(v128.load(xr + o), tv), mv));
      v128.store(yr + o, e);
      acc = f32x4.add(acc, e);
    }
    let s = hsum4(acc);
    for (; i < cols; i++) {
      const o = <usize>i << 2;
      const e = exp1(load<f32>(xr + o) / t - m);
      store<f32>(yr + o, e);
      s += e;
    }
    const sv = f32x4.splat(s);
    for (i = 0; i + 4 <= cols; i += 4) {
      const o = <usize>i << 2;
      v128.store(yr + o, f32x4.div(v128.load(yr + o), sv));
    }
    for (; i < cols; i++) {
      const o = <usize>i << 2;
      store<f32>(yr + o, load<f32>(yr + o) / s);
    }
  }
}

export function softmax_forward_ref(y: usize, x: usize, rows: i32, cols: i32, t: f32): void {
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>r * <usize>cols << 2);
    const yr = y + (<usize>r * <usize>cols << 2);
    const m = rowMaxRef(xr, cols) / t;
    const s = rowSumExpRef(xr, cols, t, m);
    for (let i = 0; i < cols; i++) {
      const o = <usize>i << 2;
      store<f32>(yr + o, exp1(load<f32>(xr + o) / t - m) / s);
    }
  }
}

/** dx = y ⊙ (dy − Σ_k dy_k·y_k) / T row-wise, y = softmax(x/T) is the forward output. Overwrites dx. */
export function softmax_backward(dx: usize, dy: usize, y: usize, rows: i32, cols: i32, t: f32): void {
  const tv = f32x4.splat(t);
  for (let r = 0; r < rows; r++) {
    const off = <usize>r * <usize>cols << 2;
    const d = rowDot(dy + off, y + off, cols);
    const dv = f32x4.splat(d);
    let i = 0;
    for (; i + 4 <= cols; i += 4) {
      const o = off + (<usize>i << 2);
      v128.store(dx + o, f32x4.div(f32x4.mul(v128.load(y + o), f32x4.sub(v128.load(dy + o), dv)), tv));
    }
    for (; i < cols; i++) {
      const o = off + (<usize>i << 2);
      store<f32>(dx + o, (load<f32>(y + o) * (load<f32>(dy + o) - d)) / t);
    }
  }
}

export function softmax_backward_ref(dx: usize, dy: usize, y: usize, rows: i32, cols: i32, t: f32): void {
  for (let r = 0; r < rows; r++) {
    const off = <usize>r * <usize>cols << 2;
    const d = rowDotRef(dy + off, y + off, cols);
    for (let i = 0; i < cols; i++) {
      const o = off + (<usize>i << 2);
      store<f32>(dx + o, (load<f32>(y + o) * (load<f32>(dy + o) - d)) / t);
    }
  }
}

// ================================================================ log_softmax

/** y = log_softmax(x / T) row-wise; x, y are (rows, cols); y may alias x. */
export function log_softmax_forward(y: usize, x: usize, rows: i32, cols: i32, t: f32): void {
  const tv = f32x4.splat(t);
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>r * <usize>cols << 2);
    const yr = y + (<usize>r * <usize>cols << 2);
    const m = rowMax(xr, cols) / t;
    const lse = Mathf.log(rowSumExp(xr, cols, t, m));
    const mv = f32x4.splat(m);
    const lv = f32x4.splat(lse);
    let i = 0;
    for (; i + 4 <= cols; i += 4) {
      const o = <usize>i << 2;
      v128.store(yr + o, f32x4.sub(f32x4.sub(f32x4.div(v128.load(xr + o), tv), mv), lv));
    }
    for (; i < cols; i++) {
      const o = <usize>i << 2;
      store<f32>(yr + o, (load<f32>(xr + o) / t - m) - lse);
    }
  }
}

export function log_softmax_forward_ref(y: usize, x: usize, rows: i32, cols: i32, t: f32): void {
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>r * <usize>cols << 2);
    const yr = y + (<usize>r * <usize>cols << 2);
    const m = rowMaxRef(xr, cols) / t;
    const lse = Mathf.log(rowSumExpRef(xr, cols, t, m));
    for (let i = 0; i < cols; i++) {
      const o = <usize>i << 2;
      store<f32>(yr + o, (load<f32>(xr + o) / t - m) - lse);
    }
  }
}

/** dx = (dy − e^y · Σ_k dy_k) / T row-wise, y = log_softmax(x/T) is the forward output. Overwrites dx. */
export function log_softmax_backward(dx: usize, dy: usize, y: usize, rows: i32, cols: i32, t: f32): void {
  const tv = f32x4.splat(t);
  for (let r = 0; r < rows; r++) {
    const off = <usize>r * <usize>cols << 2;
    const g = rowSum(dy + off, cols);
    const gv = f32x4.splat(g);
    let i = 0;
    for (; i + 4 <= cols; i += 4) {
      const o = off + (<usize>i << 2);
      const p = exp4(v128.load(y + o));
      v128.store(dx + o, f32x4.div(f32x4.sub(v128.load(dy + o), f32x4.mul(p, gv)), tv));
    }
    for (; i < cols; i++) {
      const o = off + (<usize>i << 2);
      store<f32>(dx + o, (load<f32>(dy + o) - exp1(load<f32>(y + o)) * g) / t);
    }
  }
}

export function log_softmax_backward_ref(dx: usize, dy: usize, y: usize, rows: i32, cols: i32, t: f32): void {
  for (let r = 0; r < rows; r++) {
    const off = <usize>r * <usize>cols << 2;
    const g = rowSumRef(dy + off, cols);
    for (let i = 0; i < cols; i++) {
      const o = off + (<usize>i << 2);
      store<f32>(dx + o, (load<f32>(dy + o) - exp1(load<f32>(y + o)) * g) / t);
    }
  }
}

// ================================================================ ensemble teachers

/** Smallest normal f32: probabilities are clamped to it so that their log stays finite. */
const PROB_FLOOR: f32 = 1.17549435e-38;

/**
 * y(n) = T·log(max(p, 1.2e−38)): logits whose softmax at temperature T gives back the
 * probabilities p (e.g. an ensemble's averaged tempered probabilities), finite even
 * where p underflowed to 0.
 */
export function probabilities_to_logits(y: usize, p: usize, n: i32, t: f32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, t * Mathf.log(max<f32>(load<f32>(p + o), PROB_FLOOR)));
  }
}

// ================================================================ top-k sparse teachers

/**
 * Dense teacher logits from top-k probabilities, overwriting y:
 *   y is (rows, classes), index is (rows, k) i32, p is (rows, k) f32.
 * Row r's distribution is p̂: p̂[index[r, j]] = p[r, j] for its k listed classes, and the
 * rest of the mass, rest = max(0, 1 − Σ_j p[r, j]) (an f32 sum in j order), spread evenly
 * over the classes − k others: p̂[c] = rest / (classes − k). The logits are
 * y = log(max(p̂, 1.2e−38)), so that softmax(y / T) ∝ p̂^(1/T): the reconstructed
 * distribution softened at temperature T (T = 1 gives p̂ back). Indices are distinct and in
 * [0, classes) and probabilities in [0, 1] (the caller checks).
 */
export function sparse_teacher_logits(y: usize, index: usize, p: usize, rows: i32, k: i32, classes: i32): void {
  assert(k >= 1 && k <= classes && rows >= 0);
  for (let r = 0; r < rows; r++) {
    const pr = p + (<usize>(r * k) << 2);
    const ir = index + (<usize>(r * k) << 2);
    const yr = y + (<usize>r * <usize>classes << 2);
    let sum: f32 = 0;
    for (let j = 0; j < k; j++) sum += load<f32>(pr + (<usize>j << 2));
    const rest = max<f32>(<f32>1 - sum, 0);
    const other = classes > k ? rest / <f32>(classes - k) : <f32>0;
    const otherLogit = Mathf.log(max<f32>(other, PROB_FLOOR));
    for (let c = 0; c < classes; c++) store<f32>(yr + (<usize>c << 2), otherLogit);
    for (let j = 0; j < k; j++) {
      const c = load<i32>(ir + (<usize>j << 2));
      store<f32>(yr + (<usize>c << 2), Mathf.log(max<f32>(load<f32>(pr + (<usize>j << 2)), PROB_FLOOR)));
    }
  }
}
