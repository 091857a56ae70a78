// Data movement for training: gathering shuffled rows into a batch, and the built-in
// augmentations (random pixel shifts and Gaussian noise) drawn from the seeded PRNG.

import { rng_below, rng_normal } from "./random";

/**
 * dst(count, rowBytes) = src rows indices[first .. first+count), a byte copy per row.
 * indices is i32; src is (rows, rowBytes) with any row count covering the indices.
 */
export function gather_rows(dst: usize, src: usize, indices: usize, first: i32, count: i32, rowBytes: i32): void {
  const width = <usize>rowBytes;
  for (let i = 0; i < count; i++) {
    const row = <usize>load<i32>(indices + (<usize>(first + i) << 2));
    memory.copy(dst + <usize>i * width, src + row * width, width);
  }
}

/**
 * Regression targets of a batch whose rows may lack one: for each row r whose label
 * (labels (rows) i32) is MISSING_LABEL (−1), copies row r of src (the model's outputs)
 * over row r of dst (the targets), so that the row's squared error and its gradient in
 * `mse` are exactly zero. dst and src are (rows, rowBytes / 4) and must not overlap.
 */
export function fill_missing_rows(dst: usize, src: usize, labels: usize, rows: i32, rowBytes: i32): void {
  const width = <usize>rowBytes;
  for (let r = 0; r < rows; r++) {
    if (load<i32>(labels + (<usize>r << 2)) == -1) memory.copy(dst + <usize>r * width, src + <usize>r * width, width);
  }
}

/**
 * Random translation of square images by whole pixels: for each of `rows` images of
 * side × side f32 pixels in src, draws dx, dy uniformly in [−maxShift, maxShift] (dx
 * first) and writes dst[y][x] = src[y − dy][x − dx], zero where that falls outside.
 * dst and src are (rows, side·side) and must not overlap.
 */
export function augment_shift(dst: usize, src: usize, rows: i32, side: i32, maxShift: i32, rng: usize): void {
  const span = <u32>(2 * maxShift + 1);
  const image = <usize>(side * side) << 2;
  for (let r = 0; r < rows; r++) {
    const dx = <i32>rng_below(rng, span) - maxShift;
    const dy = <i32>rng_below(rng, span) - maxShift;
    const s = src + <usize>r * image;
    const d = dst + <usize>r * image;
    for (let y = 0; y < side; y++) {
      const sy = y - dy;
      for (let x = 0; x < side; x++) {
        const sx = x - dx;
        const inside = sy >= 0 && sy < side && sx >= 0 && sx < side;
        store<f32>(d + (<usize>(y * side + x) << 2), inside ? load<f32>(s + (<usize>(sy * side + sx) << 2)) : 0);
      }
    }
  }
}

/** x(n) += N(0, std²) noise; noise(n) is a work buffer that receives the draws. */
export function augment_noise(x: usize, noise: usize, n: i32, std: f32, rng: usize): void {
  rng_normal(rng, noise, n, 0, std);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(x + o, f32x4.add(v128.load(x + o), v128.load(noise + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(x + o, load<f32>(x + o) + load<f32>(noise + o));
  }
}

/** dst(bytes) = src(bytes); the regions may overlap. */
export function copy_bytes(dst: usize, src: usize, bytes: usize): void {
  memory.copy(dst, src, bytes);
}

/** dst(bytes) = 0. */
export function zero_bytes(dst: usize, bytes: usize): void {
  memory.fill(dst, 0, bytes);
}

/** dst(cols, rows) = src(rows, cols)ᵀ, row-major, in 8×8 blocks for cache locality. */
export function transpose(dst: usize, src: usize, rows: i32, cols: i32): void {
  for (let r0 = 0; r0 < rows; r0 += 8) {
    const r1 = min(r0 + 8, rows);
    for (let c0 = 0; c0 < cols; c0 += 8) {
      const c1 = min(c0 + 8, cols);
      for (let r = r0; r < r1; r++) {
        for (let c = c0; c < c1; c++) {
          store<f32>(dst + ((<usize>c * <usize>rows + <usize>r) << 2), load<f32>(src + ((<usize>r * <usize>cols + <usize>c) << 2)));
        }
      }
    }
  }
}
