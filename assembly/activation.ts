// Element-wise activations: `<op>_forward` / `<op>_backward` pairs, each a SIMD kernel
// plus a plain `_ref` twin that computes the same bits one element at a time.
//
// Shapes: every pointer is a flat f32 array of `n` elements (any alignment ≥ 4 bytes).
// Forward kernels overwrite y; backward kernels overwrite dx (they never accumulate).
// y may alias x and dx may alias dy (in-place is allowed).

import { exp1, exp4, sigmoid1, sigmoid4, tanh1, tanh4 } from "./vmath";

// gelu (tanh form): y = ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
const GELU_C: f32 = 0.7978845608028654; // √(2/π)
const GELU_K: f32 = 0.044715;
const GELU_K3: f32 = 0.134145; // 3·0.044715
/** Beyond ±10, tanh(u) is exactly ±1 in f32, so the derivative's second term is 0; clamping avoids ∞·0. */
const GELU_CLAMP: f32 = 10.0;

// ================================================================ relu

/** y = max(x, 0) */
export function relu_forward(y: usize, x: usize, n: i32): void {
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, f32x4.max(v128.load(x + o), zero));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, max<f32>(load<f32>(x + o), 0));
  }
}

export function relu_forward_ref(y: usize, x: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, max<f32>(load<f32>(x + o), 0));
  }
}

/** dx = x > 0 ? dy : 0  (x is the forward input) */
export function relu_backward(dx: usize, dy: usize, x: usize, n: i32): void {
  const zero = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const pos = f32x4.gt(v128.load(x + o), zero);
    v128.store(dx + o, v128.and(v128.load(dy + o), pos));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dx + o, load<f32>(x + o) > 0 ? load<f32>(dy + o) : 0);
  }
}

export function relu_backward_ref(dx: usize, dy: usize, x: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dx + o, load<f32>(x + o) > 0 ? load<f32>(dy + o) : 0);
  }
}

// ================================================================ leaky_relu

/** y = x > 0 ? x : slope·x */
export function leaky_relu_forward(y: usize, x: usize, n: i32, slope: f32): void {
  const zero = f32x4.splat(0);
  const s = f32x4.splat(slope);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const v = v128.load(x + o);
    v128.store(y + o, v128.bitselect(v, f32x4.mul(v, s), f32x4.gt(v, zero)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const v = load<f32>(x + o);
    store<f32>(y + o, v > 0 ? v : v * slope);
  }
}

export function leaky_relu_forward_ref(y: usize, x: usize, n: i32, slope: f32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const v = load<f32>(x + o);
    store<f32>(y + o, v > 0 ? v : v * slope);
  }
}

/** dx = x > 0 ? dy : slope·dy */
export function leaky_relu_backward(dx: usize, dy: usize, x: usize, n: i32, slope: f32): void {
  const zero = f32x4.splat(0);
  const s = f32x4.splat(slope);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const g = v128.load(dy + o);
    v128.store(dx + o, v128.bitselect(g, f32x4.mul(g, s), f32x4.gt(v128.load(x + o), zero)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const g = load<f32>(dy + o);
    store<f32>(dx + o, load<f32>(x + o) > 0 ? g : g * slope);
  }
}

export function leaky_relu_backward_ref(dx: usize, dy: usize, x: usize, n: i32, slope: f32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const g = load<f32>(dy + o);
    store<f32>(dx + o, load<f32>(x + o) > 0 ? g : g * slope);
  }
}

// ================================================================ tanh

/** y = tanh(x) */
export function tanh_forward(y: usize, x: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, tanh4(v128.load(x + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, tanh1(load<f32>(x + o)));
  }
}

export function tanh_forward_ref(y: usize, x: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, tanh1(load<f32>(x + o)));
  }
}

/** dx = dy·(1 − y²)  (y is the forward output) */
export function tanh_backward(dx: usize, dy: usize, y: usize, n: i32): void {
  const one = f32x4.splat(1);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const t = v128.load(y + o);
    v128.store(dx + o, f32x4.mul(v128.load(dy + o), f32x4.sub(one, f32x4.mul(t, t))));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const t = load<f32>(y + o);
    store<f32>(dx + o, load<f32>(dy + o) * (1 - t * t));
  }
}

export function tanh_backward_ref(dx: usize, dy: usize, y: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const t = load<f32>(y + o);
    store<f32>(dx + o, load<f32>(dy + o) * (1 - t * t));
  }
}

// ================================================================ sigmoid

/** y = 1 / (1 + e^−x) */
export function sigmoid_forward(y: usize, x: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, sigmoid4(v128.load(x + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, sigmoid1(load<f32>(x + o)));
  }
}

export function sigmoid_forward_ref(y: usize, x: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, sigmoid1(load<f32>(x + o)));
  }
}

/** dx = dy·y·(1 − y)  (y is the forward output) */
export function sigmoid_backward(dx: usize, dy: usize, y: usize, n: i32): void {
  const one = f32x4.splat(1);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const s = v128.load(y + o);
    v128.store(dx + o, f32x4.mul(f32x4.mul(v128.load(dy + o), s), f32x4.sub(one, s)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const s = load<f32>(y + o);
    store<f32>(dx + o, (load<f32>(dy + o) * s) * (1 - s));
  }
}

export function sigmoid_backward_ref(dx: usize, dy: usize, y: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const s = load<f32>(y + o);
    store<f32>(dx + o, (load<f32>(dy + o) * s) * (1 - s));
  }
}

// ================================================================ gelu (tanh form)

// @ts-ignore: decorator
@inline function geluInner1(x: f32): f32 {
  return GELU_C * (x + GELU_K * (x * x * x));
}

// @ts-ignore: decorator
@inline function geluInner4(x: v128): v128 {
  const x3 = f32x4.mul(f32x4.mul(x, x), x);
  return f32x4.mul(f32x4.splat(GELU_C), f32x4.add(x, f32x4.mul(f32x4.splat(GELU_K), x3)));
}

/** y = ½·x·(1 + tanh(u)),  u = √(2/π)·(x + 0.044715·x³) */
export function gelu_forward(y: usize, x: usize, n: i32): void {
  const half = f32x4.splat(0.5);
  const one = f32x4.splat(1);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const v = v128.load(x + o);
    const t = tanh4(geluInner4(v));
    v128.store(y + o, f32x4.mul(f32x4.mul(half, v), f32x4.add(one, t)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const v = load<f32>(x + o);
    store<f32>(y + o, (0.5 * v) * (1 + tanh1(geluInner1(v))));
  }
}

export function gelu_forward_ref(y: usize, x: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const v = load<f32>(x + o);
    store<f32>(y + o, (0.5 * v) * (1 + tanh1(geluInner1(v))));
  }
}

// @ts-ignore: decorator
@inline function geluGrad1(v: f32): f32 {
  const t = tanh1(geluInner1(v));
  const c = min<f32>(max<f32>(v, -GELU_CLAMP), GELU_CLAMP);
  const du = GELU_C * (1 + GELU_K3 * (c * c));
  return 0.5 * (1 + t) + ((0.5 * c) * (1 - t * t)) * du;
}

// @ts-ignore: decorator
@inline function geluGrad4(v: v128): v128 {
  const half = f32x4.splat(0.5);
  const one = f32x4.splat(1);
  const t = tanh4(geluInner4(v));
  const c = f32x4.min(f32x4.max(v, f32x4.splat(-GELU_CLAMP)), f32x4.splat(GELU_CLAMP));
  const du = f32x4.mul(f32x4.splat(GELU_C), f32x4.add(one, f32x4.mul(f32x4.splat(GELU_K3), f32x4.mul(c, c))));
  const second = f32x4.mul(f32x4.mul(f32x4.mul(half, c), f32x4.sub(one, f32x4.mul(t, t))), du);
  return f32x4.add(f32x4.mul(half, f32x4.add(one, t)), second);
}

/** dx = dy·(½(1 + t) + ½·x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²)),  t = tanh(u)  (x is the forward input) */
export function gelu_backward(dx: usize, dy: usize, x: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dx + o, f32x4.mul(v128.load(dy + o), geluGrad4(v128.load(x + o))));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dx + o, load<f32>(dy + o) * geluGrad1(load<f32>(x + o)));
  }
}

export function gelu_backward_ref(dx: usize, dy: usize, x: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dx + o, load<f32>(dy + o) * geluGrad1(load<f32>(x + o)));
  }
}

// ================================================================ dropout (mask from random.ts)

/** y = x·mask  (mask holds 0 or 1/(1−p), see rng_dropout_mask) */
export function dropout_forward(y: usize, x: usize, mask: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, f32x4.mul(v128.load(x + o), v128.load(mask + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(x + o) * load<f32>(mask + o));
  }
}

/** dx = dy·mask */
export function dropout_backward(dx: usize, dy: usize, mask: usize, n: i32): void {
  dropout_forward(dx, dy, mask, n);
}

export function dropout_forward_ref(y: usize, x: usize, mask: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(x + o) * load<f32>(mask + o));
  }
}

// exp is exported for tests of the shared vector math (vmath.ts).
/** y = e^x element-wise */
export function exp_forward(y: usize, x: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, exp4(v128.load(x + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, exp1(load<f32>(x + o)));
  }
}

export function exp_forward_ref(y: usize, x: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, exp1(load<f32>(x + o)));
  }
}
