// Attention transfer (Zagoruyko & Komodakis, 2017): the spatial attention map of a conv
// activation, and the loss that pulls a student's map towards a teacher's.
//
//   a is (rows, channels, spatial)      NCHW activations, spatial = h·w
//   q is (rows, spatial)                attention maps
//
//   f_j = (1/channels)·Σ_c |a_cj|^p     mean over channels (c in order), j = 0 … spatial−1
//   q   = f / max(‖f‖₂, 1e−12)          per row; ‖f‖² summed in f64 (reduce.ts sum_squares)
//
//   loss = (β/2)·(1/(rows·spatial))·Σ_rows ‖q_s − q_t‖²   returned as f64: the mean over
//          rows and positions, as in the authors' code, so that β = 1000 works at any map size
//   ∂loss/∂q_s = g = β·(q_s − q_t)/(rows·spatial)
//   ∂loss/∂f   = (g − q_s·(q_s·g)) / ‖f‖            (the normalisation's Jacobian; q_s·g in f64)
//   ∂loss/∂a_cj = ∂loss/∂f_j · (p/channels)·|a_cj|^(p−1)·sign(a_cj)
//
// p = 2 runs four spatial positions per SIMD lane group (a² and 2a need no pow); any other
// p > 0 uses Mathf.pow one value at a time. The `_ref` twins compute the same values in the
// same order and agree bit for bit.

import { sum_squares } from "./reduce";

const NORM_FLOOR: f64 = 1e-12;

/** f (spatial) for one row: mean over channels of |a|^p, channels summed in order. */
// @ts-ignore: decorator
@inline function rowMap(f: usize, a: usize, channels: i32, spatial: i32, p: f32, simd: bool): void {
  const invC: f32 = <f32>(1.0 / <f64>channels);
  const planeBytes = <usize>spatial << 2;
  let j = 0;
  if (simd && p == 2) {
    for (; j + 4 <= spatial; j += 4) {
      const o = <usize>j << 2;
      let acc = f32x4.splat(0);
      for (let c = 0; c < channels; c++) {
        const v = v128.load(a + <usize>c * planeBytes + o);
        acc = f32x4.add(acc, f32x4.mul(v, v));
      }
      v128.store(f + o, f32x4.mul(acc, f32x4.splat(invC)));
    }
  }
  for (; j < spatial; j++) {
    const o = <usize>j << 2;
    let acc: f32 = 0;
    for (let c = 0; c < channels; c++) {
      const v = load<f32>(a + <usize>c * planeBytes + o);
      acc += p == 2 ? v * v : Mathf.pow(abs<f32>(v), p);
    }
    store<f32>(f + o, acc * invC);
  }
}

/** q = f / max(‖f‖, 1e−12) in place; returns the divisor. */
// @ts-ignore: decorator
@inline function normalise(q: usize, spatial: i32): f32 {
  const norm = <f32>Math.max(Math.sqrt(sum_squares(q, spatial)), NORM_FLOOR);
  for (let j = 0; j < spatial; j++) {
    const o = <usize>j << 2;
    store<f32>(q + o, load<f32>(q + o) / norm);
  }
  return norm;
}

function mapAll(q: usize, a: usize, rows: i32, channels: i32, spatial: i32, p: f32, simd: bool): void {
  assert(rows > 0 && channels > 0 && spatial > 0 && p > 0, "attention_map: bad dimensions or p");
  for (let r = 0; r < rows; r++) {
    const qr = q + ((<usize>r * <usize>spatial) << 2);
    rowMap(qr, a + ((<usize>r * <usize>channels * <usize>spatial) << 2), channels, spatial, p, simd);
    normalise(qr, spatial);
  }
}

/** q(rows, spatial) = normalised attention maps of a(rows, channels, spatial). */
export function attention_map(q: usize, a: usize, rows: i32, channels: i32, spatial: i32, p: f32): void {
  mapAll(q, a, rows, channels, spatial, p, true);
}

export function attention_map_ref(q: usize, a: usize, rows: i32, channels: i32, spatial: i32, p: f32): void {
  mapAll(q, a, rows, channels, spatial, p, false);
}

function transferAll(
  grad: usize, work: usize, a: usize, qt: usize, rows: i32, channels: i32, spatial: i32, p: f32, beta: f32, simd: bool,
): f64 {
  assert(rows > 0 && channels > 0 && spatial > 0 && p > 0, "attention_transfer: bad dimensions or p");
  const qs = work; // (spatial) the student's map of the current row
  const df = work + ((<usize>spatial) << 2); // (spatial) ∂loss/∂f
  const gScale: f32 = <f32>(<f64>beta / (<f64>rows * <f64>spatial));
  const aScale: f32 = <f32>(<f64>p / <f64>channels);
  const planeBytes = <usize>spatial << 2;
  let loss: f64 = 0;
  for (let r = 0; r < rows; r++) {
    const ar = a + ((<usize>r * <usize>channels * <usize>spatial) << 2);
    const qtr = qt + ((<usize>r * <usize>spatial) << 2);
    rowMap(qs, ar, channels, spatial, p, simd);
    const norm = normalise(qs, spatial);
    // g = β(q_s − q_t)/rows into df; the squared distance and q_s·g in f64, j in order.
    let dist: f64 = 0;
    let dot: f64 = 0;
    for (let j = 0; j < spatial; j++) {
      const o = <usize>j << 2;
      const d = load<f32>(qs + o) - load<f32>(qtr + o);
      dist += <f64>d * <f64>d;
      const g = gScale * d;
      store<f32>(df + o, g);
      dot += <f64>load<f32>(qs + o) * <f64>g;
    }
    loss += dist;
    const dot32 = <f32>dot;
    for (let j = 0; j < spatial; j++) {
      const o = <usize>j << 2;
      store<f32>(df + o, (load<f32>(df + o) - load<f32>(qs + o) * dot32) / norm);
    }
    if (!grad) continue;
    const gr = grad + ((<usize>r * <usize>channels * <usize>spatial) << 2);
    for (let c = 0; c < channels; c++) {
      const plane = <usize>c * planeBytes;
      let j = 0;
      if (simd && p == 2) {
        const two = f32x4.splat(aScale);
        for (; j + 4 <= spatial; j += 4) {
          const o = <usize>j << 2;
          v128.store(gr + plane + o, f32x4.mul(v128.load(df + o), f32x4.mul(two, v128.load(ar + plane + o))));
        }
      }
      for (; j < spatial; j++) {
        const o = <usize>j << 2;
        const v = load<f32>(ar + plane + o);
        const local: f32 = p == 2 ? aScale * v : aScale * Mathf.pow(abs<f32>(v), p - 1) * (v > 0 ? <f32>1 : v < 0 ? <f32>-1 : <f32>0);
        store<f32>(gr + plane + o, load<f32>(df + o) * local);
      }
    }
  }
  return (<f64>beta / 2) * (loss / (<f64>rows * <f64>spatial));
}

/**
 * (β/2)·mean over rows and positions of (q(a) − q_t)²; writes ∂loss/∂a into grad (rows, channels,
 * spatial; overwritten; 0 to skip). q_t (rows, spatial) holds the teacher's maps from
 * attention_map. work holds 2·spatial floats.
 */
export function attention_transfer(
  grad: usize, work: usize, a: usize, qt: usize, rows: i32, channels: i32, spatial: i32, p: f32, beta: f32,
): f64 {
  return transferAll(grad, work, a, qt, rows, channels, spatial, p, beta, true);
}

export function attention_transfer_ref(
  grad: usize, work: usize, a: usize, qt: usize, rows: i32, channels: i32, spatial: i32, p: f32, beta: f32,
): f64 {
  return transferAll(grad, work, a, qt, rows, channels, spatial, p, beta, false);
}
