// Fake quantization for quantization-aware training: the forward pass rounds a tensor to the
// int8 grid the int8 runner will use and straight back to f32 (quantize → dequantize), and
// the backward pass lets the gradient through unchanged (the straight-through estimator),
// except where the value fell outside the clamp range, as PyTorch's FakeQuantize does.
//
//   q = clamp(nearest(x / s), −127, 127)        the int8 code quantize_i8 gives (half to even)
//   y = q · s + 0                                forward (+ 0 turns a −0 code into +0, as an integer code is)
//   dx = dy · (1 if −127 ≤ nearest(x / s) ≤ 127, else 0)   backward (PyTorch's dy · mask, signed zeros included)
//
// Per tensor (activations: one scale) and per channel (weights: one scale per output
// channel, a row of (channels, size)). The scale is symmetric (zero point 0), a range of
// [−127, 127] as quantize_i8's. One IEEE division per element, as quantize_i8 (PyTorch
// multiplies by 1/s instead, which can round a value a step away at an exact tie: the tests
// name those elements). Each kernel has a scalar `_ref` twin with the same operations.
//
// The scales: channel_scales (max |row| / 127 per channel, as quantize()'s weights) and
// observe_range (a moving average of the batch min and max, PyTorch's
// MovingAverageMinMaxObserver with a symmetric range: it returns max(−min, max) / 127).

// ================================================================ per tensor

/**
 * y (n) f32 = clamp(nearest(x / scale), −127, 127) · scale + 0, x (n) f32, scale > 0 (per tensor).
 * Overwrites y; y may alias x.
 */
export function fake_quant_tensor_forward(y: usize, x: usize, n: i32, scale: f32): void {
  const s = f32x4.splat(scale);
  const lo = f32x4.splat(-127);
  const hi = f32x4.splat(127);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, fakeQuant4(v128.load(x + o), s, lo, hi));
  }
  for (; i < n; i++) fakeQuantOne(y, x, <usize>i << 2, scale);
}

export function fake_quant_tensor_forward_ref(y: usize, x: usize, n: i32, scale: f32): void {
  for (let i = 0; i < n; i++) fakeQuantOne(y, x, <usize>i << 2, scale);
}

/**
 * dx (n) f32 = dy · 1 where −127 ≤ nearest(x / scale) ≤ 127, else dy · 0; dy, x (n) f32. Overwrites dx;
 * dx may alias dy. x is the forward pass's input (before fake quantization).
 */
export function fake_quant_tensor_backward(dx: usize, dy: usize, x: usize, n: i32, scale: f32): void {
  const s = f32x4.splat(scale);
  const lo = f32x4.splat(-127);
  const hi = f32x4.splat(127);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dx + o, passInRange4(v128.load(dy + o), v128.load(x + o), s, lo, hi));
  }
  for (; i < n; i++) passInRangeOne(dx, dy, x, <usize>i << 2, scale);
}

export function fake_quant_tensor_backward_ref(dx: usize, dy: usize, x: usize, n: i32, scale: f32): void {
  for (let i = 0; i < n; i++) passInRangeOne(dx, dy, x, <usize>i << 2, scale);
}

// ================================================================ per channel

/**
 * y (channels, size) f32 = clamp(nearest(x / scale[c]), −127, 127) · scale[c] + 0 per row c;
 * x (channels, size) f32 (a dense weight (out, in), a conv weight (out, in·kh·kw)), scale
 * (channels) f32 > 0. Overwrites y; y may alias x.
 */
export function fake_quant_channels_forward(y: usize, x: usize, scale: usize, channels: i32, size: i32): void {
  const lo = f32x4.splat(-127);
  const hi = f32x4.splat(127);
  for (let c = 0; c < channels; c++) {
    const sc = load<f32>(scale + (<usize>c << 2));
    const s = f32x4.splat(sc);
    const row = (<usize>c * <usize>size) << 2;
    let i = 0;
    for (; i + 4 <= size; i += 4) {
      const o = row + (<usize>i << 2);
      v128.store(y + o, fakeQuant4(v128.load(x + o), s, lo, hi));
    }
    for (; i < size; i++) fakeQuantOne(y, x, row + (<usize>i << 2), sc);
  }
}

export function fake_quant_channels_forward_ref(y: usize, x: usize, scale: usize, channels: i32, size: i32): void {
  for (let c = 0; c < channels; c++) {
    const sc = load<f32>(scale + (<usize>c << 2));
    for (let i = 0; i < size; i++) fakeQuantOne(y, x, (<usize>c * <usize>size + <usize>i) << 2, sc);
  }
}

/** dx (channels, size) = dy · 1 where −127 ≤ nearest(x / scale[c]) ≤ 127, else dy · 0. Overwrites dx; dx may alias dy. */
export function fake_quant_channels_backward(dx: usize, dy: usize, x: usize, scale: usize, channels: i32, size: i32): void {
  const lo = f32x4.splat(-127);
  const hi = f32x4.splat(127);
  for (let c = 0; c < channels; c++) {
    const sc = load<f32>(scale + (<usize>c << 2));
    const s = f32x4.splat(sc);
    const row = (<usize>c * <usize>size) << 2;
    let i = 0;
    for (; i + 4 <= size; i += 4) {
      const o = row + (<usize>i << 2);
      v128.store(dx + o, passInRange4(v128.load(dy + o), v128.load(x + o), s, lo, hi));
    }
    for (; i < size; i++) passInRangeOne(dx, dy, x, row + (<usize>i << 2), sc);
  }
}

export function fake_quant_channels_backward_ref(dx: usize, dy: usize, x: usize, scale: usize, channels: i32, size: i32): void {
  for (let c = 0; c < channels; c++) {
    const sc = load<f32>(scale + (<usize>c << 2));
    for (let i = 0; i < size; i++) passInRangeOne(dx, dy, x, (<usize>c * <usize>size + <usize>i) << 2, sc);
  }
}

// ================================================================ scales

/**
 * scale (channels) f32 = max |x[c, ·]| / 127 per row of x (channels, size); 1 for a row of
 * zeros (or a non-finite maximum), as quantize()'s per-channel weight scales. Overwrites scale.
 */
export function channel_scales(scale: usize, x: usize, channels: i32, size: i32): void {
  for (let c = 0; c < channels; c++) {
    const row = x + ((<usize>c * <usize>size) << 2);
    let m4 = f32x4.splat(0);
    let i = 0;
    for (; i + 4 <= size; i += 4) m4 = f32x4.max(m4, f32x4.abs(v128.load(row + (<usize>i << 2))));
    // max is exact and order-free (no NaN in trained weights): the lanes, then the tail
    let m = max<f32>(max<f32>(f32x4.extract_lane(m4, 0), f32x4.extract_lane(m4, 1)), max<f32>(f32x4.extract_lane(m4, 2), f32x4.extract_lane(m4, 3)));
    for (; i < size; i++) m = max<f32>(m, abs<f32>(load<f32>(row + (<usize>i << 2))));
    store<f32>(scale + (<usize>c << 2), symmetricScale(m));
  }
}

export function channel_scales_ref(scale: usize, x: usize, channels: i32, size: i32): void {
  for (let c = 0; c < channels; c++) {
    let m: f32 = 0;
    for (let i = 0; i < size; i++) m = max<f32>(m, abs<f32>(load<f32>(x + ((<usize>c * <usize>size + <usize>i) << 2))));
    store<f32>(scale + (<usize>c << 2), symmetricScale(m));
  }
}

/** Smallest observed scale, PyTorch's torch.finfo(torch.float32).eps. */
const SCALE_EPS: f32 = 1.1920928955078125e-7;

/**
 * Moving-average min / max observer: state (2) f32 = [min, max], [+∞, −∞] before the first
 * batch, which sets them; later batches move them by `momentum` (PyTorch's averaging
 * constant, 0.01): min ← min + momentum · (batch min − min), the same for max. Returns the
 * symmetric per-tensor scale max(−min(min, 0), max(max, 0)) / 127, at least SCALE_EPS.
 * x (n) f32, n ≥ 1. Updates state in place.
 */
export function observe_range(state: usize, x: usize, n: i32, momentum: f32): f32 {
  let lo4 = f32x4.splat(Infinity);
  let hi4 = f32x4.splat(-Infinity);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(x + (<usize>i << 2));
    lo4 = f32x4.min(lo4, v);
    hi4 = f32x4.max(hi4, v);
  }
  let lo = min<f32>(min<f32>(f32x4.extract_lane(lo4, 0), f32x4.extract_lane(lo4, 1)), min<f32>(f32x4.extract_lane(lo4, 2), f32x4.extract_lane(lo4, 3)));
  let hi = max<f32>(max<f32>(f32x4.extract_lane(hi4, 0), f32x4.extract_lane(hi4, 1)), max<f32>(f32x4.extract_lane(hi4, 2), f32x4.extract_lane(hi4, 3)));
  for (; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    lo = min<f32>(lo, v);
    hi = max<f32>(hi, v);
  }
  return observeUpdate(state, lo, hi, momentum);
}

export function observe_range_ref(state: usize, x: usize, n: i32, momentum: f32): f32 {
  let lo: f32 = Infinity;
  let hi: f32 = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    lo = min<f32>(lo, v);
    hi = max<f32>(hi, v);
  }
  return observeUpdate(state, lo, hi, momentum);
}

// ================================================================ shared element steps

// @ts-ignore: decorator
@inline function observeUpdate(state: usize, lo: f32, hi: f32, momentum: f32): f32 {
  let mn = load<f32>(state);
  let mx = load<f32>(state, 4);
  if (mn == Infinity && mx == -Infinity) {
    mn = lo;
    mx = hi;
  } else {
    mn = mn + momentum * (lo - mn);
    mx = mx + momentum * (hi - mx);
  }
  store<f32>(state, mn);
  store<f32>(state, mx, 4);
  const range = max<f32>(-min<f32>(mn, 0), max<f32>(mx, 0));
  return max<f32>(range / 127, SCALE_EPS);
}

/** max |w| / 127, or 1 when that is not a positive finite number (a row of zeros). */
// @ts-ignore: decorator
@inline function symmetricScale(maxAbs: f32): f32 {
  const s = maxAbs / 127;
  return s > 0 && s < Infinity ? s : 1;
}

/** Four values → clamp(nearest(v / s), −127, 127) · s + 0. */
// @ts-ignore: decorator
@inline function fakeQuant4(v: v128, s: v128, lo: v128, hi: v128): v128 {
  return f32x4.add(f32x4.mul(f32x4.min(f32x4.max(f32x4.nearest(f32x4.div(v, s)), lo), hi), s), f32x4.splat(0));
}

// @ts-ignore: decorator
@inline function fakeQuantOne(y: usize, x: usize, o: usize, scale: f32): void {
  store<f32>(y + o, min<f32>(max<f32>(nearest<f32>(load<f32>(x + o) / scale), -127), 127) * scale + 0);
}

/** dy · 1 where the code of x lies in [−127, 127], else dy · 0 (the mask as 1.0 or 0.0 bits). */
// @ts-ignore: decorator
@inline function passInRange4(dy: v128, x: v128, s: v128, lo: v128, hi: v128): v128 {
  const q = f32x4.nearest(f32x4.div(x, s));
  return f32x4.mul(dy, v128.and(v128.and(f32x4.ge(q, lo), f32x4.le(q, hi)), f32x4.splat(1)));
}

// @ts-ignore: decorator
@inline function passInRangeOne(dx: usize, dy: usize, x: usize, o: usize, scale: f32): void {
  const q = nearest<f32>(load<f32>(x + o) / scale);
  store<f32>(dx + o, load<f32>(dy + o) * (q >= -127 && q <= 127 ? <f32>1 : <f32>0));
}
