// Layer normalisation over the last dimension, as PyTorch's nn.LayerNorm(dim) and
// F.layer_norm with weight and bias:
//
//   x, y, dx, dy are (rows, dim)     rows = every position of every sample (batch·seqLen)
//   w, b, dw, db are (dim)           the affine weight (γ) and bias (β)
//   stats is (rows, 2)               per row: mean, rstd (written by forward, read by backward)
//
// Per row, in f32, in exactly this order (shared by the fast and `_ref` kernels):
//   mean = sum(x) / dim;  var = sum((x − mean)²) / dim (biased, two passes);
//   rstd = 1 / √(var + eps)
//   forward   x̂ = (x − mean)·rstd;  y = x̂·w + b
//   backward  g = dy·w;  m1 = sum(g) / dim;  m2 = sum(g·x̂) / dim;
//             dx = ((g − m1) − x̂·m2)·rstd;   dw += dy·x̂, db += dy (rows in order, from 0)
// where sum() runs four lanes over the columns 0..4k−1 (lane l takes columns ≡ l mod 4, in
// order), folds them as (l0 + l1) + (l2 + l3), then adds the tail columns one by one — the
// fast kernels' lane arrangement, which the twins spell out one element at a time, so the
// bits agree. Backward overwrites dw and db; dx may alias dy (a row is read before any of
// its dx is written).

// @ts-ignore: decorator
@inline function checkDims(rows: i32, dim: i32): void {
  assert(rows > 0 && dim > 0, "layernorm: dimensions must be positive");
}

// @ts-ignore: decorator
@inline function at(p: usize, i: i32): usize {
  return p + (<usize>i << 2);
}

// @ts-ignore: decorator
@inline function fold(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** mean and rstd of the row at x (dim values), stored at stats. */
// @ts-ignore: decorator
@inline function rowStats(stats: usize, x: usize, dim: i32, eps: f32): void {
  const n = <f32>dim;
  let acc = f32x4.splat(0);
  let j = 0;
  for (; j + 4 <= dim; j += 4) acc = f32x4.add(acc, v128.load(at(x, j)));
  let sum = fold(acc);
  for (; j < dim; j++) sum += load<f32>(at(x, j));
  const mean = sum / n;
  const mv = f32x4.splat(mean);
  acc = f32x4.splat(0);
  j = 0;
  for (; j + 4 <= dim; j += 4) {
    const d = f32x4.sub(v128.load(at(x, j)), mv);
    acc = f32x4.add(acc, f32x4.mul(d, d));
  }
  let squares = fold(acc);
  for (; j < dim; j++) {
    const d = load<f32>(at(x, j)) - mean;
    squares += d * d;
  }
  store<f32>(stats, mean);
  store<f32>(stats, <f32>1 / Mathf.sqrt(squares / n + eps), 4);
}

/** The twin of rowStats: four lane sums spelled out. */
// @ts-ignore: decorator
@inline function rowStatsRef(stats: usize, x: usize, dim: i32, eps: f32): void {
  const n = <f32>dim;
  const full = dim & ~3;
  let l0: f32 = 0, l1: f32 = 0, l2: f32 = 0, l3: f32 = 0;
  for (let j = 0; j < full; j += 4) {
    l0 += load<f32>(at(x, j));
    l1 += load<f32>(at(x, j + 1));
    l2 += load<f32>(at(x, j + 2));
    l3 += load<f32>(at(x, j + 3));
  }
  let sum = (l0 + l1) + (l2 + l3);
  for (let j = full; j < dim; j++) sum += load<f32>(at(x, j));
  const mean = sum / n;
  l0 = 0; l1 = 0; l2 = 0; l3 = 0;
  for (let j = 0; j < full; j += 4) {
    const d0 = load<f32>(at(x, j)) - mean, d1 = load<f32>(at(x, j + 1)) - mean;
    const d2 = load<f32>(at(x, j + 2)) - mean, d3 = load<f32>(at(x, j + 3)) - mean;
    l0 += d0 * d0;
    l1 += d1 * d1;
    l2 += d2 * d2;
    l3 += d3 * d3;
  }
  let squares = (l0 + l1) + (l2 + l3);
  for (let j = full; j < dim; j++) {
    const d = load<f32>(at(x, j)) - mean;
    squares += d * d;
  }
  store<f32>(stats, mean);
  store<f32>(stats, <f32>1 / Mathf.sqrt(squares / n + eps), 4);
}

// ================================================================ forward

/** y (rows, dim) = ((x − mean)·rstd)·w + b per row; stats (rows, 2) = mean, rstd. Overwrites y and stats; y may alias x. */
export function layernorm_forward(y: usize, stats: usize, x: usize, w: usize, b: usize, rows: i32, dim: i32, eps: f32): void {
  checkDims(rows, dim);
  for (let r = 0; r < rows; r++) {
    const xr = at(x, r * dim), yr = at(y, r * dim), s = at(stats, 2 * r);
    rowStats(s, xr, dim, eps);
    const mean = load<f32>(s), rstd = load<f32>(s, 4);
    const mv = f32x4.splat(mean), rv = f32x4.splat(rstd);
    let j = 0;
    for (; j + 4 <= dim; j += 4) {
      const xhat = f32x4.mul(f32x4.sub(v128.load(at(xr, j)), mv), rv);
      v128.store(at(yr, j), f32x4.add(f32x4.mul(xhat, v128.load(at(w, j))), v128.load(at(b, j))));
    }
    for (; j < dim; j++) {
      const xhat = (load<f32>(at(xr, j)) - mean) * rstd;
      store<f32>(at(yr, j), xhat * load<f32>(at(w, j)) + load<f32>(at(b, j)));
    }
  }
}

export function layernorm_forward_ref(y: usize, stats: usize, x: usize, w: usize, b: usize, rows: i32, dim: i32, eps: f32): void {
  checkDims(rows, dim);
  for (let r = 0; r < rows; r++) {
    const xr = at(x, r * dim), yr = at(y, r * dim), s = at(stats, 2 * r);
    rowStatsRef(s, xr, dim, eps);
    const mean = load<f32>(s), rstd = load<f32>(s, 4);
    for (let j = 0; j < dim; j++) {
      const xhat = (load<f32>(at(xr, j)) - mean) * rstd;
      store<f32>(at(yr, j), xhat * load<f32>(at(w, j)) + load<f32>(at(b, j)));
    }
  }
}

// ================================================================ backward

/**
 * dx (rows, dim), dw (dim), db (dim) from dy (rows, dim), the forward's x and stats, and w.
 * Overwrites dx, dw and db; dx may alias dy.
 */
export function layernorm_backward(dx: usize, dw: usize, db: usize, dy: usize, x: usize, w: usize, stats: usize, rows: i32, dim: i32): void {
  checkDims(rows, dim);
  memory.fill(dw, 0, <usize>dim << 2);
  memory.fill(db, 0, <usize>dim << 2);
  const n = <f32>dim;
  for (let r = 0; r < rows; r++) {
    const xr = at(x, r * dim), dyr = at(dy, r * dim), dxr = at(dx, r * dim), s = at(stats, 2 * r);
    const mean = load<f32>(s), rstd = load<f32>(s, 4);
    const mv = f32x4.splat(mean), rv = f32x4.splat(rstd);
    // pass 1: dw, db and the two row sums
    let acc1 = f32x4.splat(0), acc2 = f32x4.splat(0);
    let j = 0;
    for (; j + 4 <= dim; j += 4) {
      const xhat = f32x4.mul(f32x4.sub(v128.load(at(xr, j)), mv), rv);
      const d = v128.load(at(dyr, j));
      v128.store(at(dw, j), f32x4.add(v128.load(at(dw, j)), f32x4.mul(d, xhat)));
      v128.store(at(db, j), f32x4.add(v128.load(at(db, j)), d));
      const g = f32x4.mul(d, v128.load(at(w, j)));
      acc1 = f32x4.add(acc1, g);
      acc2 = f32x4.add(acc2, f32x4.mul(g, xhat));
    }
    let s1 = fold(acc1), s2 = fold(acc2);
    for (; j < dim; j++) {
      const xhat = (load<f32>(at(xr, j)) - mean) * rstd;
      const d = load<f32>(at(dyr, j));
      store<f32>(at(dw, j), load<f32>(at(dw, j)) + d * xhat);
      store<f32>(at(db, j), load<f32>(at(db, j)) + d);
      const g = d * load<f32>(at(w, j));
      s1 += g;
      s2 += g * xhat;
    }
    // pass 2: dx
    const m1 = s1 / n, m2 = s2 / n;
    const m1v = f32x4.splat(m1), m2v = f32x4.splat(m2);
    j = 0;
    for (; j + 4 <= dim; j += 4) {
      const xhat = f32x4.mul(f32x4.sub(v128.load(at(xr, j)), mv), rv);
      const g = f32x4.mul(v128.load(at(dyr, j)), v128.load(at(w, j)));
      v128.store(at(dxr, j), f32x4.mul(f32x4.sub(f32x4.sub(g, m1v), f32x4.mul(xhat, m2v)), rv));
    }
    for (; j < dim; j++) {
      const xhat = (load<f32>(at(xr, j)) - mean) * rstd;
      const g = load<f32>(at(dyr, j)) * load<f32>(at(w, j));
      store<f32>(at(dxr, j), ((g - m1) - xhat * m2) * rstd);
    }
  }
}

export function layernorm_backward_ref(dx: usize, dw: usize, db: usize, dy: usize, x: usize, w: usize, stats: usize, rows: i32, dim: i32): void {
  checkDims(rows, dim);
  for (let j = 0; j < dim; j++) {
    store<f32>(at(dw, j), 0);
    store<f32>(at(db, j), 0);
  }
  const n = <f32>dim;
  const full = dim & ~3;
  for (let r = 0; r < rows; r++) {
    const xr = at(x, r * dim), dyr = at(dy, r * dim), dxr = at(dx, r * dim), s = at(stats, 2 * r);
    const mean = load<f32>(s), rstd = load<f32>(s, 4);
    // dw, db element by element; then the lane sums (lane l takes the columns j ≡ l mod 4 below `full`)
    for (let j = 0; j < dim; j++) {
      const xhat = (load<f32>(at(xr, j)) - mean) * rstd;
      const d = load<f32>(at(dyr, j));
      store<f32>(at(dw, j), load<f32>(at(dw, j)) + d * xhat);
      store<f32>(at(db, j), load<f32>(at(db, j)) + d);
    }
    let a0: f32 = 0, a1: f32 = 0, a2: f32 = 0, a3: f32 = 0;
    let b0: f32 = 0, b1: f32 = 0, b2: f32 = 0, b3: f32 = 0;
    for (let j = 0; j < full; j += 4) {
      const g0 = load<f32>(at(dyr, j)) * load<f32>(at(w, j));
      const g1 = load<f32>(at(dyr, j + 1)) * load<f32>(at(w, j + 1));
      const g2 = load<f32>(at(dyr, j + 2)) * load<f32>(at(w, j + 2));
      const g3 = load<f32>(at(dyr, j + 3)) * load<f32>(at(w, j + 3));
      a0 += g0;
      a1 += g1;
      a2 += g2;
      a3 += g3;
      b0 += g0 * ((load<f32>(at(xr, j)) - mean) * rstd);
      b1 += g1 * ((load<f32>(at(xr, j + 1)) - mean) * rstd);
      b2 += g2 * ((load<f32>(at(xr, j + 2)) - mean) * rstd);
      b3 += g3 * ((load<f32>(at(xr, j + 3)) - mean) * rstd);
    }
    let sum1 = (a0 + a1) + (a2 + a3);
    let sum2 = (b0 + b1) + (b2 + b3);
    for (let j = full; j < dim; j++) {
      const xhat = (load<f32>(at(xr, j)) - mean) * rstd;
      const g = load<f32>(at(dyr, j)) * load<f32>(at(w, j));
      sum1 += g;
      sum2 += g * xhat;
    }
    const m1 = sum1 / n, m2 = sum2 / n;
    for (let j = 0; j < dim; j++) {
      const xhat = (load<f32>(at(xr, j)) - mean) * rstd;
      const g = load<f32>(at(dyr, j)) * load<f32>(at(w, j));
      store<f32>(at(dxr, j), ((g - m1) - xhat * m2) * rstd);
    }
  }
}
