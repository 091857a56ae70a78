// int8 products for a few rows (batch-1 inference) against weights widened to 16 bits once,
// at load, and packed into panels of four output channels:
//
//   pack_panels_i16(panels, w, n, k, ldw)            w (n, ldw≥k) int8 → panels, once per layer
//   gemm_i8_panels(y, x, panels, rows, n, k, ldx, ldy)   x (rows, ldx≥k) int8 → y (rows, ldy≥n) int32
//
// Why: gemm_i8_nt sign-extends every weight to 16 bits on every call (three x86 instructions
// per 16 weights, a third of its work at one row, where each weight is used once), and reads
// four weight rows far apart. Here the weights are already i16 and the four channels of a
// panel sit side by side, so the inner step is one load per channel, one i32x4.dot_i16x8_s
// and one i32x4.add, over one contiguous stream. The price is twice the int8 weights' memory
// (still half of float32).
//
// Panel layout (i16): channels padded with zero rows to a multiple of 4 (n4), depth padded
// with zeros to a multiple of 8 (k8). Panel P holds channels 4P..4P+3 as k8/8 blocks of 64
// bytes; block b is
//
//   [ w[4P][8b..8b+7] | w[4P+1][8b..8b+7] | w[4P+2][8b..8b+7] | w[4P+3][8b..8b+7] ]
//
// so element (j, p) is at i16 index ((j >> 2)·(k8 >> 3) + (p >> 3))·32 + (j & 3)·8 + (p & 7).
// The zeros of the padding add nothing to the integer sums, which are exact and wrap modulo
// 2³² like gemm_i8_nt's: gemm_i8_panels gives gemm_i8_nt's integers bit for bit.

/** i16 elements of the panels of an (n, k) weight: n rounded up to 4 times k rounded up to 8. */
export function panels_i16_length(n: i32, k: i32): i32 {
  return ((n + 3) & ~3) * ((k + 7) & ~7);
}

/**
 * panels (panels_i16_length(n, k) i16) ← w (n, ldw≥k) int8, the layout above; overwrites
 * panels, padding included. Data movement only (no arithmetic), so it has no SIMD twin; the
 * tests check it against a JavaScript loop.
 */
export function pack_panels_i16(panels: usize, w: usize, n: i32, k: i32, ldw: i32): void {
  assert(n > 0 && k > 0 && ldw >= k);
  const n4 = (n + 3) & ~3;
  const k8 = (k + 7) & ~7;
  let dst = panels;
  for (let j0 = 0; j0 < n4; j0 += 4) {
    for (let p0 = 0; p0 < k8; p0 += 8) {
      for (let r = 0; r < 4; r++) {
        const j = j0 + r;
        const row = w + <usize>j * <usize>ldw;
        for (let e = 0; e < 8; e++) {
          const p = p0 + e;
          store<i16>(dst, j < n && p < k ? <i16>load<i8>(row + <usize>p) : 0);
          dst += 2;
        }
      }
    }
  }
}

/** [Σ a0, Σ a1, Σ a2, Σ a3] (wrapping): the four channels' sums in one vector. */
// @ts-ignore: decorator
@inline function hsum4x4(a0: v128, a1: v128, a2: v128, a3: v128): v128 {
  const t01 = i32x4.add(i32x4.shuffle(a0, a1, 0, 4, 1, 5), i32x4.shuffle(a0, a1, 2, 6, 3, 7)); // a0 halves, a1 halves, interleaved
  const t23 = i32x4.add(i32x4.shuffle(a2, a3, 0, 4, 1, 5), i32x4.shuffle(a2, a3, 2, 6, 3, 7));
  return i32x4.add(i32x4.shuffle(t01, t23, 0, 1, 4, 5), i32x4.shuffle(t01, t23, 2, 3, 6, 7));
}

/** acc + x (eight i16) · the eight i16 at w, as four partial i32 sums. */
// @ts-ignore: decorator
@inline function dot8(acc: v128, x: v128, w: usize, offset: usize): v128 {
  return i32x4.add(acc, i32x4.dot_i16x8_s(x, v128.load(w + offset)));
}

/** The last k mod 8 (1..7) int8 of a row at x as i16 lanes, the rest 0: never reads past the row. */
// @ts-ignore: decorator
@inline function tail8(x: usize, rem: i32): v128 {
  let v = i16x8.replace_lane(i16x8.splat(0), 0, <i16>load<i8>(x));
  if (rem > 1) v = i16x8.replace_lane(v, 1, <i16>load<i8>(x, 1));
  if (rem > 2) v = i16x8.replace_lane(v, 2, <i16>load<i8>(x, 2));
  if (rem > 3) v = i16x8.replace_lane(v, 3, <i16>load<i8>(x, 3));
  if (rem > 4) v = i16x8.replace_lane(v, 4, <i16>load<i8>(x, 4));
  if (rem > 5) v = i16x8.replace_lane(v, 5, <i16>load<i8>(x, 5));
  if (rem > 6) v = i16x8.replace_lane(v, 6, <i16>load<i8>(x, 6));
  return v;
}

/**
 * y (rows, ldy≥n) int32 = x (rows, ldx≥k) int8 · Wᵀ, W (n, k) packed by pack_panels_i16;
 * overwrites y's n columns of each row, nothing else. Strides in elements; no alignment
 * needed. Per row and panel: four accumulators (acc0..acc3 = channels 4P..4P+3), 16 inputs
 * per step (x sign-extended by v128.load8x8_s, one load for four channels), then 8, then the
 * last k mod 8 through tail8 against the panel's zero-padded block. Meant for rows < 4
 * (gemm_i8_nt's tiles reuse weights across rows); any rows ≥ 1 give the same integers.
 */
export function gemm_i8_panels(y: usize, x: usize, panels: usize, rows: i32, n: i32, k: i32, ldx: i32, ldy: i32): void {
  assert(rows > 0 && n > 0 && k > 0 && ldx >= k && ldy >= n);
  const kFull = k & ~7;
  const rem = k - kFull;
  const panelBytes = (<usize>((k + 7) & ~7)) << 3; // 4 channels · k8 · 2 bytes
  for (let i = 0; i < rows; i++) {
    const xr = x + <usize>i * <usize>ldx;
    const yr = y + ((<usize>i * <usize>ldy) << 2);
    let panel = panels;
    for (let j = 0; j < n; j += 4) {
      let acc0 = i32x4.splat(0), acc1 = i32x4.splat(0), acc2 = i32x4.splat(0), acc3 = i32x4.splat(0);
      let wp = panel;
      let p = 0;
      for (; p + 16 <= kFull; p += 16) {
        const x0 = v128.load8x8_s(xr + <usize>p);
        const x1 = v128.load8x8_s(xr + <usize>p, 8);
        acc0 = dot8(acc0, x0, wp, 0);
        acc1 = dot8(acc1, x0, wp, 16);
        acc2 = dot8(acc2, x0, wp, 32);
        acc3 = dot8(acc3, x0, wp, 48);
        acc0 = dot8(acc0, x1, wp, 64);
        acc1 = dot8(acc1, x1, wp, 80);
        acc2 = dot8(acc2, x1, wp, 96);
        acc3 = dot8(acc3, x1, wp, 112);
        wp += 128;
      }
      if (p < kFull) {
        const x0 = v128.load8x8_s(xr + <usize>p);
        acc0 = dot8(acc0, x0, wp, 0);
        acc1 = dot8(acc1, x0, wp, 16);
        acc2 = dot8(acc2, x0, wp, 32);
        acc3 = dot8(acc3, x0, wp, 48);
        wp += 64;
      }
      if (rem) {
        const xt = tail8(xr + <usize>kFull, rem);
        acc0 = dot8(acc0, xt, wp, 0);
        acc1 = dot8(acc1, xt, wp, 16);
        acc2 = dot8(acc2, xt, wp, 32);
        acc3 = dot8(acc3, xt, wp, 48);
      }
      const sums = hsum4x4(acc0, acc1, acc2, acc3);
      const o = yr + (<usize>j << 2);
      if (j + 4 <= n) v128.store(o, sums);
      else {
        store<i32>(o, i32x4.extract_lane(sums, 0));
        if (j + 1 < n) store<i32>(o, i32x4.extract_lane(sums, 1), 4);
        if (j + 2 < n) store<i32>(o, i32x4.extract_lane(sums, 2), 8);
      }
      panel += panelBytes;
    }
  }
}

export function gemm_i8_panels_ref(y: usize, x: usize, panels: usize, rows: i32, n: i32, k: i32, ldx: i32, ldy: i32): void {
  const blocks = <usize>((k + 7) >> 3);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < n; j++) {
      let s: i32 = 0;
      for (let p = 0; p < k; p++) {
        const at = ((<usize>(j >> 2) * blocks + <usize>(p >> 3)) << 5) + (<usize>(j & 3) << 3) + <usize>(p & 7);
        s += <i32>load<i8>(x + <usize>i * <usize>ldx + <usize>p) * <i32>load<i16>(panels + (at << 1));
      }
      store<i32>(y + ((<usize>i * <usize>ldy + <usize>j) << 2), s);
    }
  }
}

// ================================================================ gemm_i8_conv

/**
 * y (n, ldy≥cols) int32 = W · xᵀ: W (n, depth) packed by pack_panels_i16 (a convolution's
 * weight (out, cin·kh·kw)), x (cols, ldx≥k) int8 (im2row_i8's patches, one per row), k the
 * depth rounded up to a multiple of 8 (the panels' blocks), x's columns depth..k−1 zeros as
 * the panels' padding is (im2row_i8 writes them): y[j][i] = Σ_p W[j][p]·x[i][p], the sums
 * channel by channel, in NCHW order. Overwrites the first cols elements of y's n rows, nothing
 * else; strides in elements, no alignment needed.
 *
 * Why not gemm_i8_nt(y, w, x, …): it sign-extends the patches (its right operand) for every
 * pair of channels. Here the weights are i16 already, and tiles of 2 channels × 4 patches
 * widen each patch block once for both channels with v128.load8x8_s (one instruction), then
 * per block of 8 inputs: one load per channel and eight i32x4.dot_i16x8_s + i32x4.add into
 * acc<channel>x<patch>; each channel's four patch sums leave in one vector (hsum4x4), one
 * store. A last tile of cols mod 4 patches moves back to end at the last patch (its first
 * sums computed twice, the same integers); below 4 patches, each patch is a tile of its own.
 * Whole blocks only, no tail code: a small module for distill-wasm/infer. Integer sums are exact and wrap modulo 2³², so any order
 * gives gemm_i8_conv_ref's integers (and gemm_i8_nt's) bit for bit.
 */
export function gemm_i8_conv(y: usize, panels: usize, x: usize, n: i32, cols: i32, k: i32, ldx: i32, ldy: i32): void {
  assert(n > 0 && cols > 0 && k > 0 && (k & 7) == 0 && ldx >= k && ldy >= cols);
  const panelBytes = <usize>k << 3; // 4 channels · k · 2 bytes
  const xStride = <usize>ldx;
  const yStride = <usize>ldy << 2;
  const zero = i32x4.splat(0);
  const tiles = cols >= 4;
  const tileStep = tiles ? 4 : 1;
  const patchStep = tiles ? xStride : 0; // below 4 patches, the four lanes read one patch
  for (let j = 0; j < n; j += 2) {
    // channels j and j + 1 sit side by side in panel j / 4, at i16 offset (j & 3)·8 of each block
    const wBase = panels + <usize>(j >> 2) * panelBytes + (<usize>(j & 3) << 4);
    const y0 = y + <usize>j * yStride;
    const y1 = y0 + yStride;
    const second = j + 1 < n;
    for (let i = 0; i < cols; i += tileStep) {
      // the tile's first patch: a last tile of fewer than 4 patches moves back to end at cols
      // (recomputing a few sums: the same integers); below 4 patches, one patch per tile
      const at = tiles ? min(i, cols - 4) : i;
      const x0 = x + <usize>at * xStride;
      const x1 = x0 + patchStep;
      const x2 = x1 + patchStep;
      const x3 = x2 + patchStep;
      let acc0x0 = zero, acc0x1 = zero, acc0x2 = zero, acc0x3 = zero;
      let acc1x0 = zero, acc1x1 = zero, acc1x2 = zero, acc1x3 = zero;
      let wp = wBase;
      for (let p = 0; p < k; p += 8) {
        const w0 = v128.load(wp);
        const w1 = v128.load(wp, 16);
        let xv = v128.load8x8_s(x0 + <usize>p);
        acc0x0 = i32x4.add(acc0x0, i32x4.dot_i16x8_s(xv, w0));
        acc1x0 = i32x4.add(acc1x0, i32x4.dot_i16x8_s(xv, w1));
        xv = v128.load8x8_s(x1 + <usize>p);
        acc0x1 = i32x4.add(acc0x1, i32x4.dot_i16x8_s(xv, w0));
        acc1x1 = i32x4.add(acc1x1, i32x4.dot_i16x8_s(xv, w1));
        xv = v128.load8x8_s(x2 + <usize>p);
        acc0x2 = i32x4.add(acc0x2, i32x4.dot_i16x8_s(xv, w0));
        acc1x2 = i32x4.add(acc1x2, i32x4.dot_i16x8_s(xv, w1));
        xv = v128.load8x8_s(x3 + <usize>p);
        acc0x3 = i32x4.add(acc0x3, i32x4.dot_i16x8_s(xv, w0));
        acc1x3 = i32x4.add(acc1x3, i32x4.dot_i16x8_s(xv, w1));
        wp += 64;
      }
      const o = <usize>at << 2;
      const sums0 = hsum4x4(acc0x0, acc0x1, acc0x2, acc0x3);
      const sums1 = hsum4x4(acc1x0, acc1x1, acc1x2, acc1x3);
      if (tiles) {
        v128.store(y0 + o, sums0);
        if (second) v128.store(y1 + o, sums1);
      } else {
        store<i32>(y0 + o, i32x4.extract_lane(sums0, 0));
        if (second) store<i32>(y1 + o, i32x4.extract_lane(sums1, 0));
      }
    }
  }
}

export function gemm_i8_conv_ref(y: usize, panels: usize, x: usize, n: i32, cols: i32, k: i32, ldx: i32, ldy: i32): void {
  const blocks = <usize>((k + 7) >> 3);
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < cols; i++) {
      let s: i32 = 0;
      for (let p = 0; p < k; p++) {
        const at = ((<usize>(j >> 2) * blocks + <usize>(p >> 3)) << 5) + (<usize>(j & 3) << 3) + <usize>(p & 7);
        s += <i32>load<i16>(panels + (at << 1)) * <i32>load<i8>(x + <usize>i * <usize>ldx + <usize>p);
      }
      store<i32>(y + ((<usize>j * <usize>ldy + <usize>i) << 2), s);
    }
  }
}
