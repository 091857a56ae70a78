// Reductions: bias gradient (column sums), argmax / accuracy count, squared norms and
// gradient clipping by global norm.

// ================================================================ bias gradient

/**
 * db(cols) = Σ_r dy(rows, cols)[r, ·], summed over rows in order (each column on its own,
 * so the SIMD kernel and the reference agree bit for bit). accumulate: db += instead of =.
 */
export function bias_grad(db: usize, dy: usize, rows: i32, cols: i32, accumulate: bool): void {
  const rowBytes = <usize>cols << 2;
  let j = 0;
  for (; j + 4 <= cols; j += 4) {
    const o = <usize>j << 2;
    let acc = accumulate ? v128.load(db + o) : f32x4.splat(0);
    for (let r = 0; r < rows; r++) acc = f32x4.add(acc, v128.load(dy + <usize>r * rowBytes + o));
    v128.store(db + o, acc);
  }
  for (; j < cols; j++) biasGradColumn(db, dy, rows, cols, j, accumulate);
}

// @ts-ignore: decorator
@inline function biasGradColumn(db: usize, dy: usize, rows: i32, cols: i32, j: i32, accumulate: bool): void {
  const o = <usize>j << 2;
  let acc: f32 = accumulate ? load<f32>(db + o) : 0;
  for (let r = 0; r < rows; r++) acc += load<f32>(dy + ((<usize>r * <usize>cols) << 2) + o);
  store<f32>(db + o, acc);
}

export function bias_grad_ref(db: usize, dy: usize, rows: i32, cols: i32, accumulate: bool): void {
  for (let j = 0; j < cols; j++) biasGradColumn(db, dy, rows, cols, j, accumulate);
}

// ================================================================ argmax / accuracy

/** Index of the first maximum of one row (NaN entries never win). */
// @ts-ignore: decorator
@inline function rowArgmax(x: usize, cols: i32): i32 {
  let best = 0;
  let bestValue = load<f32>(x);
  for (let i = 1; i < cols; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    if (v > bestValue || (bestValue != bestValue && v == v)) {
      best = i;
      bestValue = v;
    }
  }
  return best;
}

/** out(rows) i32 = argmax of each row of x(rows, cols). */
export function argmax(out: usize, x: usize, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    store<i32>(out + (<usize>r << 2), rowArgmax(x + ((<usize>r * <usize>cols) << 2), cols));
  }
}

/** Number of rows of x(rows, cols) whose argmax equals labels(rows) i32. */
export function accuracy_count(x: usize, labels: usize, rows: i32, cols: i32): i32 {
  let correct = 0;
  for (let r = 0; r < rows; r++) {
    if (rowArgmax(x + ((<usize>r * <usize>cols) << 2), cols) == load<i32>(labels + (<usize>r << 2))) correct++;
  }
  return correct;
}

/** Number of labels in labels (rows) that are not MISSING_LABEL (−1): the rows that have a label. */
export function count_labelled(labels: usize, rows: i32): i32 {
  let n = 0;
  for (let r = 0; r < rows; r++) if (load<i32>(labels + (<usize>r << 2)) != -1) n++;
  return n;
}

// ================================================================ squared norm, clipping

/**
 * Σ x_i² over a flat f32 array: squares in f32, summed in f64 in four lanes (element i
 * to lane i mod 4, folded (l0 + l1) + (l2 + l3)), then the tail in order.
 */
export function sum_squares(x: usize, n: i32): f64 {
  let acc01 = f64x2.splat(0);
  let acc23 = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(x + (<usize>i << 2));
    const v2 = f32x4.mul(v, v);
    acc01 = f64x2.add(acc01, f64x2.promote_low_f32x4(v2));
    acc23 = f64x2.add(acc23, f64x2.promote_low_f32x4(i32x4.shuffle(v2, v2, 2, 3, 0, 1)));
  }
  let sum = (f64x2.extract_lane(acc01, 0) + f64x2.extract_lane(acc01, 1)) +
    (f64x2.extract_lane(acc23, 0) + f64x2.extract_lane(acc23, 1));
  for (; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    sum += <f64>(v * v);
  }
  return sum;
}

export function sum_squares_ref(x: usize, n: i32): f64 {
  const full = n & ~3;
  let l0: f64 = 0, l1: f64 = 0, l2: f64 = 0, l3: f64 = 0;
  for (let i = 0; i < full; i += 4) {
    const o = <usize>i << 2;
    const v0 = load<f32>(x + o), v1 = load<f32>(x + o + 4), v2 = load<f32>(x + o + 8), v3 = load<f32>(x + o + 12);
    l0 += <f64>(v0 * v0);
    l1 += <f64>(v1 * v1);
    l2 += <f64>(v2 * v2);
    l3 += <f64>(v3 * v3);
  }
  let sum = (l0 + l1) + (l2 + l3);
  for (let i = full; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    sum += <f64>(v * v);
  }
  return sum;
}

/** x *= s over a flat f32 array. */
export function scale_inplace(x: usize, n: i32, s: f32): void {
  const sv = f32x4.splat(s);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(x + o, f32x4.mul(v128.load(x + o), sv));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(x + o, load<f32>(x + o) * s);
  }
}

/**
 * Clips gradients by their global L2 norm, like torch.nn.utils.clip_grad_norm_.
 * list holds `count` pairs of u32 (pointer, length) naming the gradient buffers.
 * norm = √(Σ over buffers, in list order, of sum_squares); when norm > maxNorm every
 * buffer is multiplied by maxNorm / (norm + 1e-6). Returns the norm before clipping.
 */
export function clip_grad_norm(list: usize, count: i32, maxNorm: f32): f64 {
  let total: f64 = 0;
  for (let b = 0; b < count; b++) {
    const entry = list + (<usize>b << 3);
    total += sum_squares(load<u32>(entry), load<i32>(entry, 4));
  }
  const norm = Math.sqrt(total);
  if (norm > <f64>maxNorm) {
    const coef = <f32>(<f64>maxNorm / (norm + 1e-6));
    for (let b = 0; b < count; b++) {
      const entry = list + (<usize>b << 3);
      scale_inplace(load<u32>(entry), load<i32>(entry, 4), coef);
    }
  }
  return norm;
}

// ================================================================ axpby

/** y(n) = alpha·x + beta·y, element-wise (y may alias x). */
export function axpby(y: usize, x: usize, n: i32, alpha: f32, beta: f32): void {
  const a = f32x4.splat(alpha);
  const b = f32x4.splat(beta);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, f32x4.add(f32x4.mul(a, v128.load(x + o)), f32x4.mul(b, v128.load(y + o))));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, alpha * load<f32>(x + o) + beta * load<f32>(y + o));
  }
}

export function axpby_ref(y: usize, x: usize, n: i32, alpha: f32, beta: f32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, alpha * load<f32>(x + o) + beta * load<f32>(y + o));
  }
}
