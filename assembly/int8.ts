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

/** [Σ a0, Σ a1, Σ a2, Σ a3] (wrapping): four outputs' sums in one vector, for one store. */
// @ts-ignore: decorator
@inline function hsum4x4(a0: v128, a1: v128, a2: v128, a3: v128): v128 {
  const t01 = i32x4.add(i32x4.shuffle(a0, a1, 0, 4, 1, 5), i32x4.shuffle(a0, a1, 2, 6, 3, 7));
  const t23 = i32x4.add(i32x4.shuffle(a2, a3, 0, 4, 1, 5), i32x4.shuffle(a2, a3, 2, 6, 3, 7));
  return i32x4.add(i32x4.shuffle(t01, t23, 0, 1, 4, 5), i32x4.shuffle(t01, t23, 2, 3, 6, 7));
}

/** The tails of one row x against four weight rows w, w + wStride, …: [dotTail(x, w_r, from, k)] for r = 0..3. */
// @ts-ignore: decorator
@inline function tail4(x: usize, w: usize, wStride: usize, from: i32, k: i32): v128 {
  let t = i32x4.splat(dotTail(x, w, from, k));
  t = i32x4.replace_lane(t, 1, dotTail(x, w + wStride, from, k));
  t = i32x4.replace_lane(t, 2, dotTail(x, w + 2 * wStride, from, k));
  return i32x4.replace_lane(t, 3, dotTail(x, w + 3 * wStride, from, k));
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
  let s0 = hsum4x4(a00, a01, a02, a03);
  let s1 = hsum4x4(a10, a11, a12, a13);
  if (k16 < k) {
    s0 = i32x4.add(s0, tail4(xr0, w0, wStride, k16, k));
    s1 = i32x4.add(s1, tail4(xr1, w0, wStride, k16, k));
  }
  v128.store(o0, s0);
  v128.store(o1, s1);
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
      let sums = hsum4x4(a0, a1, a2, a3);
      if (k16 < k) sums = i32x4.add(sums, tail4(xr, w0, wStride, k16, k));
      v128.store(yr + (<usize>j << 2), sums);
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

/**
 * The same per element with the scale and bias per row: y (rows, n) f32 = f32(acc (rows, n)
 * int32) · (x_scale · w_scale[i]) + bias[i], then max(·, 0) when relu ≠ 0, for a convolution
 * computed as (out, oh·ow) — channels as rows, already in NCHW order. w_scale (rows) f32;
 * bias (rows) f32, 0 for none. The same IEEE operations as dequantize_i32 on the transposed
 * sums, so the same bits. y may alias acc.
 */
export function dequantize_i32_rows(y: usize, acc: usize, w_scale: usize, bias: usize, rows: i32, n: i32, x_scale: f32, relu: i32): void {
  const zero = f32x4.splat(0);
  for (let i = 0; i < rows; i++) {
    const row = <usize>i * <usize>n;
    const io = <usize>i << 2;
    const scale = x_scale * load<f32>(w_scale + io);
    const b = bias ? load<f32>(bias + io) : 0;
    const sv = f32x4.splat(scale);
    const bv = f32x4.splat(b);
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const o = (row + <usize>j) << 2;
      let v = f32x4.mul(f32x4.convert_i32x4_s(v128.load(acc + o)), sv);
      if (bias) v = f32x4.add(v, bv);
      if (relu) v = f32x4.max(v, zero);
      v128.store(y + o, v);
    }
    for (; j < n; j++) dequantizeRowOne(y, acc, row, j, scale, b, bias, relu);
  }
}

export function dequantize_i32_rows_ref(y: usize, acc: usize, w_scale: usize, bias: usize, rows: i32, n: i32, x_scale: f32, relu: i32): void {
  for (let i = 0; i < rows; i++) {
    const scale = x_scale * load<f32>(w_scale + (<usize>i << 2));
    const b = bias ? load<f32>(bias + (<usize>i << 2)) : 0;
    for (let j = 0; j < n; j++) dequantizeRowOne(y, acc, <usize>i * <usize>n, j, scale, b, bias, relu);
  }
}

// @ts-ignore: decorator
@inline function dequantizeRowOne(y: usize, acc: usize, row: usize, j: i32, scale: f32, b: f32, bias: usize, relu: i32): void {
  const o = (row + <usize>j) << 2;
  let v = <f32>load<i32>(acc + o) * scale;
  if (bias) v = v + b;
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
 * The patches of one int8 image as rows, for a convolution run by gemm_i8_conv (or gemm_i8_nt):
 * rows (oh·ow, ld) int8 ← x (cin, h, wd) int8, column (ci·kh + ky)·kw + kx as a conv weight
 * (out, cin, kh, kw) flattened, for columns below depth = cin·kh·kw; columns depth..ld−1
 * are 0 (so a depth padded to a multiple of 8 or 16, against weights padded with zeros the
 * same way, leaves the GEMM no scalar tail and the same sums). Positions in the zero padding
 * give 0 (the code of 0.0 with a symmetric scale). oh = ⌊(h + 2·pad − kh) / stride⌋ + 1, the
 * same for ow. Overwrites rows. Patch by patch, each row written front to back (stores that
 * follow each other in one row, rather than a kernel row's run down a column of patches:
 * half the time at the MNIST CNN's second layer). A patch inside the image copies each kernel
 * row of kw ≤ 8 columns as one 8-byte load and store, and writes its zeros past the depth 8
 * at a time, with no test per kernel row, when its loads stay inside x and its stores inside
 * rows (the extra bytes land in the next kernel row, the zeros past the depth or the next
 * patch's row, all written later); the other patches go one byte at a time. Data movement only
 * (no arithmetic), so it has no SIMD twin; the tests check it against a JavaScript loop.
 */
export function im2row_i8(rows: usize, x: usize, cin: i32, h: i32, wd: i32, kh: i32, kw: i32, stride: i32, pad: i32, ld: i32): void {
  assert(cin > 0 && h > 0 && wd > 0 && kh > 0 && kw > 0 && stride > 0 && pad >= 0 && ld >= cin * kh * kw);
  const oh = (h + 2 * pad - kh) / stride + 1;
  const ow = (wd + 2 * pad - kw) / stride + 1;
  const depth = cin * kh * kw;
  const planeBytes = <usize>h * <usize>wd;
  const xEnd = x + <usize>cin * planeBytes;
  // the patches whose kw columns are all inside the image: ox in [oxIn, oxOut)
  const oxIn = min((pad + stride - 1) / stride, ow);
  const oxOut = max(min((wd - kw + pad) / stride + 1, ow), oxIn);
  // the patch rows whose kh rows are all inside the image: oy in [oyIn, oyOut)
  const oyIn = min((pad + stride - 1) / stride, oh);
  const oyOut = max(min((h - kh + pad) / stride + 1, oh), oyIn);
  // 8-byte copies: kw ≤ 8, each patch's last load (channel cin − 1, row kh − 1) inside x, its
  // last store inside rows: the last kernel row's (at column depth − kw), or the last 8 zeros
  // past the depth (at column depth + 8·⌊(ld − depth − 1) / 8⌋)
  const wide = kw <= 8;
  const rowsEnd = rows + <usize>(oh * ow) * <usize>ld;
  const lastLoad = <usize>(cin - 1) * planeBytes + <usize>((kh - 1) * wd) + 8;
  const lastStore = <usize>(depth < ld ? depth + ((ld - depth + 7) & ~7) : depth - kw + 8);
  let dst = rows;
  for (let oy = 0; oy < oh; oy++) {
    const iy0 = oy * stride - pad;
    // this output row's patches copied 8 bytes at a time: ox in [oxIn, fastEnd)
    let fastEnd = wide && oy >= oyIn && oy < oyOut ? oxOut : oxIn;
    const rowStart = x + <usize>(iy0 * wd - pad);
    while (fastEnd > oxIn && (rowStart + <usize>((fastEnd - 1) * stride) + lastLoad > xEnd || dst + <usize>(fastEnd - 1) * <usize>ld + lastStore > rowsEnd)) fastEnd--;
    let ox = 0;
    for (; ox < oxIn; ox++) {
      edgePatch(dst, x, cin, h, wd, kh, kw, pad, iy0, ox * stride - pad, ld);
      dst += <usize>ld;
    }
    for (; ox < fastEnd; ox++) {
      let col: usize = 0;
      let plane = rowStart + <usize>(ox * stride);
      for (let ci = 0; ci < cin; ci++) {
        let src = plane;
        for (let ky = 0; ky < kh; ky++) {
          store<u64>(dst + col, load<u64>(src));
          col += <usize>kw;
          src += <usize>wd;
        }
        plane += planeBytes;
      }
      for (let c = depth; c < ld; c += 8) store<u64>(dst + <usize>c, 0);
      dst += <usize>ld;
    }
    for (; ox < ow; ox++) {
      edgePatch(dst, x, cin, h, wd, kh, kw, pad, iy0, ox * stride - pad, ld);
      dst += <usize>ld;
    }
  }
}

/**
 * One patch of im2row_i8 byte by byte, zeros outside the image and past the depth: its row of
 * ld bytes at dst. Not inlined: the edges are few, and the loop of the patches inside the
 * image stays small (with a test per patch inlined in it, it took 2.5× the time).
 */
// @ts-ignore: decorator
@noinline function edgePatch(dst: usize, x: usize, cin: i32, h: i32, wd: i32, kh: i32, kw: i32, pad: i32, iy0: i32, ix0: i32, ld: i32): void {
  const planeBytes = <usize>h * <usize>wd;
  let col = 0; // (ci·kh + ky)·kw
  for (let ci = 0; ci < cin; ci++) {
    const plane = x + <usize>ci * planeBytes;
    for (let ky = 0; ky < kh; ky++) {
      const iy = iy0 + ky;
      const src = plane + <usize>iy * <usize>wd - <usize>pad; // + ix + pad is column ix
      for (let kx = 0; kx < kw; kx++) {
        const ix = ix0 + kx;
        store<i8>(dst + <usize>(col + kx), iy >= 0 && iy < h && ix >= 0 && ix < wd ? load<i8>(src + <usize>(ix + pad)) : 0);
      }
      col += kw;
    }
  }
  for (; col < ld; col++) store<i8>(dst + <usize>col, 0);
}
