// Checks of a training run's health, read after a forward pass: is a layer's output all
// zero (every ReLU unit dead for the batch), and are all rows of the output the same
// (the network ignores its input)? Each returns a count or a flag and writes nothing;
// the `_ref` twins give the same answers one element at a time.

/** Number of elements of x(n) that are not zero (NaN counts as not zero). */
export function count_nonzero(x: usize, n: i32): i32 {
  const zero = f32x4.splat(0);
  let count = i32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    // f32x4.ne gives −1 in each lane that is not zero, so subtracting counts it.
    count = i32x4.sub(count, f32x4.ne(v128.load(x + (<usize>i << 2)), zero));
  }
  let total = i32x4.extract_lane(count, 0) + i32x4.extract_lane(count, 1) +
    i32x4.extract_lane(count, 2) + i32x4.extract_lane(count, 3);
  for (; i < n; i++) if (load<f32>(x + (<usize>i << 2)) != 0) total++;
  return total;
}

export function count_nonzero_ref(x: usize, n: i32): i32 {
  let total = 0;
  for (let i = 0; i < n; i++) if (load<f32>(x + (<usize>i << 2)) != 0) total++;
  return total;
}

/**
 * 1 when every row of x (rows, cols) equals row 0 element for element (compared as
 * floats: 0 and −0 are equal, a NaN never is), else 0. One row is trivially constant.
 */
export function rows_equal(x: usize, rows: i32, cols: i32): i32 {
  const rowBytes = <usize>cols << 2;
  for (let r = 1; r < rows; r++) {
    const row = x + <usize>r * rowBytes;
    let i = 0;
    for (; i + 4 <= cols; i += 4) {
      const o = <usize>i << 2;
      if (!i32x4.all_true(f32x4.eq(v128.load(row + o), v128.load(x + o)))) return 0;
    }
    for (; i < cols; i++) {
      const o = <usize>i << 2;
      if (load<f32>(row + o) != load<f32>(x + o)) return 0;
    }
  }
  return 1;
}

export function rows_equal_ref(x: usize, rows: i32, cols: i32): i32 {
  for (let r = 1; r < rows; r++) {
    for (let i = 0; i < cols; i++) {
      if (load<f32>(x + ((<usize>r * <usize>cols + <usize>i) << 2)) != load<f32>(x + (<usize>i << 2))) return 0;
    }
  }
  return 1;
}
