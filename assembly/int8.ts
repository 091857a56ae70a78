// int8 inference kernels: quantize f32 activations to int8, multiply int8 rows by int8
// weights with int32 accumulation, and turn the int32 sums back into f32 (dequantize),
// with the bias and an optional ReLU. A dense layer with int8 weights runs as
//
//   xq = quantize_i8(x, x_scale)                    x (rows, in) f32 → xq (rows, in) int8
//   acc = gemm_i8_nt(xq, wq)                        wq (out, in) int8 → acc (rows, out) int32
//   y = dequantize_i32(acc, x_scale, w_scale, b)    → y (rows, out) f32
//
// Integer sums are exact and associative (wrap-around addition modulo 2³²), so the SIMD
// kernels and their scalar `_ref` twins give the same bits whatever order they add in, and
// so does every engine and CPU. The float steps are one IEEE operation each, in a fixed
// order, without FMA, so they match too.
//
// Why not relaxed SIMD: i32x4.relaxed_dot_i8x16_i7x16_add_s would multiply 16 int8 pairs
// per instruction (twice the lanes of i32x4.dot_i16x8_s on sign-extended int16) and add
// into the accumulator in the same step. But its second operand is a 7-bit value: when a
// lane has its top bit set (any negative int8, −128 included) the engine may read it as
// signed or as unsigned (x86's VPDPBUSD / PMADDUBSW treat one side as unsigned, and the
// latter also saturates its int16 pair sums), so the result is implementation-defined and
// could differ between machines. The baseline SIMD form below is exact everywhere.

// ================================================================ gemm_i8_nt

/** Σ of the four i32 lanes (wrapping). */
// @ts-ignore: decorator
@inline function sum4(v: v128): i32 {
  return i32x4.extract_lane(v, 0) + i32x4.extract_lane(v, 1) + i32x4.extract_lane(v, 2) + i32x4.extract_lane(v, 3);
}

/** acc + the dot product of 16 int8 at x with 16 int8 at w, as four partial i32 sums. */
// @ts-ignore: decorator
@inline function dot16(acc: v128, xl: v128, xh: v128, w: usize): v128 {
  const wv = v128.load(w);
  acc = i32x4.add(acc, i32x4.dot_i16x8_s(xl, i16x8.extend_low_i8x16_s(wv)));
  return i32x4.add(acc, i32x4.dot_i16x8_s(xh, i16x8.extend_high_i8x16_s(wv)));
}

/** Σ_p x[p]·w[p] over p in [from, k), one at a time. */
// @ts-ignore: decorator
@inline function dotTail(x: usize, w: usize, from: i32, k: i32): i32 {
  let s: i32 = 0;
  for (let p = from; p < k; p++) s += <i32>load<i8>(x + <usize>p) * <i32>load<i8>(w + <usize>p);
  return s;
}

/**
 * Rows i and i+1 of y against weight rows j..j+3: eight sums, each weight vector loaded once
 * for both rows and each row vector once for the four weight rows, 16 inputs per step.
 */
// @ts-ignore: decorator
@inline function tile2x4(y: usize, x: usize, w: usize, i: i32, j: i32, k: i32, ldx: i32, wStride: usize, ldy: i32): void {
  const k16 = k & ~15;
  const xr0 = x + <usize>i * <usize>ldx;
  const xr1 = xr0 + <usize>ldx;
  const w0 = w + <usize>j * wStride;
  const w1 = w0 + wStride;
  const w2 = w1 + wStride;
  const w3 = w2 + wStride;
  let a00 = i32x4.splat(0), a01 = i32x4.splat(0), a02 = i32x4.splat(0), a03 = i32x4.splat(0);
  let a10 = i32x4.splat(0), a11 = i32x4.splat(0), a12 = i32x4.splat(0), a13 = i32x4.splat(0);
  for (let p = 0; p < k16; p += 16) {
    const x0 = v128.load(xr0 + <usize>p);
    const x1 = v128.load(xr1 + <usize>p);
    const x0l = i16x8.extend_low_i8x16_s(x0), x0h = i16x8.extend_high_i8x16_s(x0);
    const x1l = i16x8.extend_low_i8x16_s(x1), x1h = i16x8.extend_high_i8x16_s(x1);
    let wv = v128.load(w0 + <usize>p);
    let wl = i16x8.extend_low_i8x16_s(wv), wh = i16x8.extend_high_i8x16_s(wv);
    a00 = i32x4.add(i32x4.add(a00, i32x4.dot_i16x8_s(x0l, wl)), i32x4.dot_i16x8_s(x0h, wh));
    a10 = i32x4.add(i32x4.add(a10, i32x4.dot_i16x8_s(x1l, wl)), i32x4.dot_i16x8_s(x1h, wh));
    wv = v128.load(w1 + <usize>p);
    wl = i16x8.extend_low_i8x16_s(wv); wh = i16x8.extend_high_i8x16_s(wv);
    a01 = i32x4.add(i32x4.add(a01, i32x4.dot_i16x8_s(x0l, wl)), i32x4.dot_i16x8_s(x0h, wh));
    a11 = i32x4.add(i32x4.add(a11, i32x4.dot_i16x8_s(x1l, wl)), i32x4.dot_i16x8_s(x1h, wh));
    wv = v128.load(w2 + <usize>p);
    wl = i16x8.extend_low_i8x16_s(wv); wh = i16x8.extend_high_i8x16_s(wv);
    a02 = i32x4.add(i32x4.add(a02, i32x4.dot_i16x8_s(x0l, wl)), i32x4.dot_i16x8_s(x0h, wh));
    a12 = i32x4.add(i32x4.add(a12, i32x4.dot_i16x8_s(x1l, wl)), i32x4.dot_i16x8_s(x1h, wh));
    wv = v128.load(w3 + <usize>p);
    wl = i16x8.extend_low_i8x16_s(wv); wh = i16x8.extend_high_i8x16_s(wv);
    a03 = i32x4.add(i32x4.add(a03, i32x4.dot_i16x8_s(x0l, wl)), i32x4.dot_i16x8_s(x0h, wh));
    a13 = i32x4.add(i32x4.add(a13, i32x4.dot_i16x8_s(x1l, wl)), i32x4.dot_i16x8_s(x1h, wh));
  }
  const o0 = y + ((<usize>i * <usize>ldy + <usize>j) << 2);
  const o1 = o0 + (<usize>ldy << 2);
  store<i32>(o0, sum4(a00) + dotTail(xr0, w0, k16, k));
  store<i32>(o0, sum4(a01) + dotTail(xr0, w1, k16, k), 4);
  store<i32>(o0, sum4(a02) + dotTail(xr0, w2, k16, k), 8);
  store<i32>(o0, sum4(a03) + dotTail(xr0, w3, k16, k), 12);
  store<i32>(o1, sum4(a10) + dotTail(xr1, w0, k16, k));
  store<i32>(o1, sum4(a11) + dotTail(xr1, w1, k16, k), 4);
  store<i32>(o1, sum4(a12) + dotTail(xr1, w2, k16, k), 8);
  store<i32>(o1, sum4(a13) + dotTail(xr1, w3, k16, k), 12);
}

/**
 * y (rows, ldy≥n) int32 = x (rows, ldx≥k) int8 · w (n, ldw≥k) int8 ᵀ — w stored (out, in) as
 * a dense layer's weight. Strides are in elements; no alignment is needed. Pairs of rows run
 * against four weight rows at a time (tile2x4); a last odd row, and the last n mod 4 outputs,
 * one row against four or one weight row, 16 inputs per step.
 */
export function gemm_i8_nt(y: usize, x: usize, w: usize, rows: i32, n: i32, k: i32, ldx: i32, ldw: i32, ldy: i32): void {
  const k16 = k & ~15;
  const wStride = <usize>ldw;
  const n4 = n & ~3;
  let i = 0;
  for (; i + 2 <= rows; i += 2) {
    for (let j = 0; j < n4; j += 4) tile2x4(y, x, w, i, j, k, ldx, wStride, ldy);
  }
  for (let r = 0; r < rows; r++) {
    const xr = x + <usize>r * <usize>ldx;
    const yr = y + ((<usize>r * <usize>ldy) << 2);
    // rows below i are done up to n4 by the tiles; the rest of the row starts at column n4
    let j = r < i ? n4 : 0;
    for (; j + 4 <= n; j += 4) {
      const w0 = w + <usize>j * wStride;
      const w1 = w0 + wStride;
      const w2 = w1 + wStride;
      const w3 = w2 + wStride;
      let a0 = i32x4.splat(0), a1 = i32x4.splat(0), a2 = i32x4.splat(0), a3 = i32x4.splat(0);
      for (let p = 0; p < k16; p += 16) {
        const xv = v128.load(xr + <usize>p);
        const xl = i16x8.extend_low_i8x16_s(xv);
        const xh = i16x8.extend_high_i8x16_s(xv);
        a0 = dot16(a0, xl, xh, w0 + <usize>p);
        a1 = dot16(a1, xl, xh, w1 + <usize>p);
        a2 = dot16(a2, xl, xh, w2 + <usize>p);
        a3 = dot16(a3, xl, xh, w3 + <usize>p);
      }
      const o = yr + (<usize>j << 2);
      store<i32>(o, sum4(a0) + dotTail(xr, w0, k16, k));
      store<i32>(o, sum4(a1) + dotTail(xr, w1, k16, k), 4);
      store<i32>(o, sum4(a2) + dotTail(xr, w2, k16, k), 8);
      store<i32>(o, sum4(a3) + dotTail(xr, w3, k16, k), 12);
    }
    for (; j < n; j++) {
      const wj = w + <usize>j * wStride;
      let a = i32x4.splat(0);
      for (let p = 0; p < k16; p += 16) {
        const xv = v128.load(xr + <usize>p);
        a = dot16(a, i16x8.extend_low_i8x16_s(xv), i16x8.extend_high_i8x16_s(xv), wj + <usize>p);
      }
      store<i32>(yr + (<usize>j << 2), sum4(a) + dotTail(xr, wj, k16, k));
    }
  }
}

export function gemm_i8_nt_ref(y: usize, x: usize, w: usize, rows: i32, n: i32, k: i32, ldx: i32, ldw: i32, ldy: i32): void {
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < n; j++) {
      let s: i32 = 0;
      for (let p = 0; p < k; p++) {
        s += <i32>load<i8>(x + <usize>i * <usize>ldx + <usize>p) * <i32>load<i8>(w + <usize>j * <usize>ldw + <usize>p);
      }
      store<i32>(y + ((<usize>i * <usize>ldy + <usize>j) << 2), s);
    }
  }
}

// ================================================================ dequantize_i32

/**
 * y (rows, n) f32 = f32(acc (rows, n) int32) · (x_scale · w_scale[j]) + bias[j], then
 * max(·, 0) when relu ≠ 0. w_scale (n) f32 is per output channel; bias (n) f32, 0 for none.
 * Per element: one i32→f32 conversion, the scale product, one multiply, one add. y may alias acc.
 */
export function dequantize_i32(y: usize, acc: usize, w_scale: usize, bias: usize, rows: i32, n: i32, x_scale: f32, relu: i32): void {
  const xs = f32x4.splat(x_scale);
  const zero = f32x4.splat(0);
  for (let i = 0; i < rows; i++) {
    const row = <usize>i * <usize>n;
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const o = (row + <usize>j) << 2;
      const jo = <usize>j << 2;
      let v = f32x4.mul(f32x4.convert_i32x4_s(v128.load(acc + o)), f32x4.mul(xs, v128.load(w_scale + jo)));
      if (bias) v = f32x4.add(v, v128.load(bias + jo));
      if (relu) v = f32x4.max(v, zero);
      v128.store(y + o, v);
    }
    for (; j < n; j++) dequantizeOne(y, acc, w_scale, bias, row, j, x_scale, relu);
  }
}

export function dequantize_i32_ref(y: usize, acc: usize, w_scale: usize, bias: usize, rows: i32, n: i32, x_scale: f32, relu: i32): void {
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < n; j++) dequantizeOne(y, acc, w_scale, bias, <usize>i * <usize>n, j, x_scale, relu);
  }
}

// @ts-ignore: decorator
@inline function dequantizeOne(y: usize, acc: usize, w_scale: usize, bias: usize, row: usize, j: i32, x_scale: f32, relu: i32): void {
  const o = (row + <usize>j) << 2;
  const jo = <usize>j << 2;
  let v = <f32>load<i32>(acc + o) * (x_scale * load<f32>(w_scale + jo));
  if (bias) v = v + load<f32>(bias + jo);
  if (relu) v = max<f32>(v, 0);
  store<f32>(y + o, v);
}

// ================================================================ quantize_i8

/**
 * q (n) int8 = clamp(round_half_even(x / scale), −127, 127) for x (n) f32 and a per-tensor
 * scale > 0. −128 is never produced (the range stays symmetric); NaN becomes 0. One IEEE
 * division per element (not a multiply by 1/scale, which would round twice).
 */
export function quantize_i8(q: usize, x: usize, n: i32, scale: f32): void {
  const s = f32x4.splat(scale);
  const lo = f32x4.splat(-127);
  const hi = f32x4.splat(127);
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const o = <usize>i << 2;
    const q0 = quantize4(v128.load(x + o), s, lo, hi);
    const q1 = quantize4(v128.load(x + o, 16), s, lo, hi);
    const q2 = quantize4(v128.load(x + o, 32), s, lo, hi);
    const q3 = quantize4(v128.load(x + o, 48), s, lo, hi);
    v128.store(q + <usize>i, i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(q0, q1), i16x8.narrow_i32x4_s(q2, q3)));
  }
  for (; i < n; i++) quantizeOne(q, x, i, scale);
}

export function quantize_i8_ref(q: usize, x: usize, n: i32, scale: f32): void {
  for (let i = 0; i < n; i++) quantizeOne(q, x, i, scale);
}

/** Four values as i32 in [−127, 127]: nearest rounds half to even; NaN survives the clamp and truncates to 0. */
// @ts-ignore: decorator
@inline function quantize4(v: v128, s: v128, lo: v128, hi: v128): v128 {
  return i32x4.trunc_sat_f32x4_s(f32x4.min(f32x4.max(f32x4.nearest(f32x4.div(v, s)), lo), hi));
}

// @ts-ignore: decorator
@inline function quantizeOne(q: usize, x: usize, i: i32, scale: f32): void {
  const r = nearest<f32>(load<f32>(x + (<usize>i << 2)) / scale);
  store<i8>(q + <usize>i, r != r ? 0 : <i8><i32>min<f32>(max<f32>(r, -127), 127));
}

// ================================================================ im2row_i8

/**
 * The patches of one int8 image as rows, for a convolution run by gemm_i8_nt:
 * rows (oh·ow, cin·kh·kw) int8 ← x (cin, h, wd) int8, column (ci·kh + ky)·kw + kx as a conv
 * weight (out, cin, kh, kw) flattened; positions in the zero padding give 0 (the code of 0.0
 * with a symmetric scale). oh = ⌊(h + 2·pad − kh) / stride⌋ + 1, the same for ow. Overwrites
 * rows. Data movement only (no arithmetic), so it has no SIMD twin; the tests check it
 * against a JavaScript loop.
 */
export function im2row_i8(rows: usize, x: usize, cin: i32, h: i32, wd: i32, kh: i32, kw: i32, stride: i32, pad: i32): void {
  assert(cin > 0 && h > 0 && wd > 0 && kh > 0 && kw > 0 && stride > 0 && pad >= 0);
  const oh = (h + 2 * pad - kh) / stride + 1;
  const ow = (wd + 2 * pad - kw) / stride + 1;
  let dst = rows;
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      for (let ci = 0; ci < cin; ci++) {
        const plane = x + <usize>ci * <usize>h * <usize>wd;
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * stride - pad + ky;
          const inRow = iy >= 0 && iy < h;
          const src = plane + <usize>max(iy, 0) * <usize>wd; // not read when iy is outside [0, h)
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * stride - pad + kx;
            store<i8>(dst, inRow && ix >= 0 && ix < wd ? load<i8>(src + <usize>ix) : 0);
            dst++;
          }
        }
      }
    }
  }
}
