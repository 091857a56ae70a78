// Batch normalisation over the channels of an NCHW (or (batch, c)) tensor, as PyTorch's
// BatchNorm1d / BatchNorm2d and F.batch_norm:
//
//   x, y, dx, dy are (batch, c, spatial)    spatial = h·w for BatchNorm2d, 1 for (batch, c)
//   gamma, beta are (c)                     the affine weight and bias; 0 for none (γ = 1, β = 0)
//   mean, invstd are (c)                    the batch statistics saved by the training forward
//   running_mean, running_var are (c)       the tracked statistics (0 to skip the update)
//
// Each channel is normalised over its n = batch·spatial values. Pointers need only 4-byte
// alignment. momentum and eps are f64.
//
// Statistics (fixed order, shared by the fast and `_ref` kernels): in f64, over (b, s) in
// order, one value after another:
//   mean = Σ x / n;  var = Σ (x − mean)² / n (biased, two passes);  invstd = 1 / √(var + eps)
//   saved as f32: mean_f = f32(mean), invstd_f = f32(invstd)
//   running_mean ← f32((1 − momentum)·running_mean + momentum·mean)
//   running_var  ← f32((1 − momentum)·running_var  + momentum·Σ (x − mean)² / (n − 1))  (unbiased)
// (PyTorch's momentum = None, a cumulative average, is momentum = 1 / batches seen.)
//
// Element-wise passes, all in f32 with per-channel f32 constants, in exactly this order:
//   forward  y  = (x − m)·s + β          s = γ·invstd (f32 product; invstd when no γ); no β: no add
//   backward dx = ((dy − a) − x̂·q)·s    x̂ = (x − mean_f)·invstd_f,  a = dβ / n,  q = dγ / n (f32)
// The fast kernels run these four lanes at a time (along spatial, or across channels when
// spatial is 1); each lane does the scalar operations of the `_ref` twin, so the bits agree.

// ================================================================ shared helpers

// @ts-ignore: decorator
@inline function checkDims(batch: i32, c: i32, spatial: i32): void {
  assert(batch > 0 && c > 0 && spatial > 0, "batchnorm: dimensions must be positive");
}

// @ts-ignore: decorator
@inline function checkAligned(a: usize, b: usize, c: usize, d: usize, e: usize, f: usize): void {
  assert(((a | b | c | d | e | f) & 3) == 0, "batchnorm: pointers must be 4-byte aligned");
}

// @ts-ignore: decorator
@inline function at(p: usize, i: i32): usize {
  return p + (<usize>i << 2);
}

/** Address of x[b, ch, 0]. */
// @ts-ignore: decorator
@inline function rowOf(x: usize, b: i32, ch: i32, c: i32, spatial: i32): usize {
  return x + (((<usize>b * <usize>c + <usize>ch) * <usize>spatial) << 2);
}

/** Writes mean_f / invstd_f of every channel and updates the running statistics (file comment). */
function batchStatistics(
  meanOut: usize, invstdOut: usize, runningMean: usize, runningVar: usize, x: usize,
  batch: i32, c: i32, spatial: i32, momentum: f64, eps: f64,
): void {
  const n = <f64>batch * <f64>spatial;
  for (let ch = 0; ch < c; ch++) {
    let sum: f64 = 0;
    for (let b = 0; b < batch; b++) {
      const row = rowOf(x, b, ch, c, spatial);
      for (let s = 0; s < spatial; s++) sum += <f64>load<f32>(at(row, s));
    }
    const mean = sum / n;
    let squares: f64 = 0;
    for (let b = 0; b < batch; b++) {
      const row = rowOf(x, b, ch, c, spatial);
      for (let s = 0; s < spatial; s++) {
        const d = <f64>load<f32>(at(row, s)) - mean;
        squares += d * d;
      }
    }
    const variance = squares / n;
    store<f32>(at(meanOut, ch), <f32>mean);
    store<f32>(at(invstdOut, ch), <f32>(1.0 / Math.sqrt(variance + eps)));
    if (runningMean != 0) {
      const rm = <f64>load<f32>(at(runningMean, ch));
      store<f32>(at(runningMean, ch), <f32>((1.0 - momentum) * rm + momentum * mean));
    }
    if (runningVar != 0) {
      const rv = <f64>load<f32>(at(runningVar, ch));
      store<f32>(at(runningVar, ch), <f32>((1.0 - momentum) * rv + momentum * (squares / (n - 1.0))));
    }
  }
}

/** invstd of channel ch: from the saved f32 array, or f32(1 / √(var + eps)) from a variance array. */
// @ts-ignore: decorator
@inline function invstdOf(source: usize, ch: i32, fromVariance: bool, eps: f64): f32 {
  const v = load<f32>(at(source, ch));
  return fromVariance ? <f32>(1.0 / Math.sqrt(<f64>v + eps)) : v;
}

/** s = γ·invstd (f32), or invstd without γ. */
// @ts-ignore: decorator
@inline function scaleOf(gamma: usize, ch: i32, invstd: f32): f32 {
  return gamma != 0 ? load<f32>(at(gamma, ch)) * invstd : invstd;
}

/**
 * y = (x − m)·s (+ β) per channel, SIMD: along spatial when spatial ≥ 4 (tail scalar),
 * across channels (four at a time) when spatial is 1, scalar otherwise.
 * m comes from `center` (c); invstd from `spread` (c) (see invstdOf).
 */
function normalizeFast(
  y: usize, x: usize, center: usize, spread: usize, fromVariance: bool, gamma: usize, beta: usize,
  batch: i32, c: i32, spatial: i32, eps: f64,
): void {
  if (spatial == 1) {
    let ch = 0;
    for (; ch + 4 <= c; ch += 4) {
      const m = v128.load(at(center, ch));
      let s = f32x4.splat(0);
      s = f32x4.replace_lane(s, 0, scaleOf(gamma, ch, invstdOf(spread, ch, fromVariance, eps)));
      s = f32x4.replace_lane(s, 1, scaleOf(gamma, ch + 1, invstdOf(spread, ch + 1, fromVariance, eps)));
      s = f32x4.replace_lane(s, 2, scaleOf(gamma, ch + 2, invstdOf(spread, ch + 2, fromVariance, eps)));
      s = f32x4.replace_lane(s, 3, scaleOf(gamma, ch + 3, invstdOf(spread, ch + 3, fromVariance, eps)));
      const bv = beta != 0 ? v128.load(at(beta, ch)) : f32x4.splat(0);
      for (let b = 0; b < batch; b++) {
        const o = (<usize>b * <usize>c + <usize>ch) << 2;
        let v = f32x4.mul(f32x4.sub(v128.load(x + o), m), s);
        if (beta != 0) v = f32x4.add(v, bv);
        v128.store(y + o, v);
      }
    }
    for (; ch < c; ch++) normalizeChannel(y, x, center, spread, fromVariance, gamma, beta, batch, c, spatial, eps, ch);
    return;
  }
  for (let ch = 0; ch < c; ch++) {
    const mean = load<f32>(at(center, ch));
    const scale = scaleOf(gamma, ch, invstdOf(spread, ch, fromVariance, eps));
    const shift: f32 = beta != 0 ? load<f32>(at(beta, ch)) : 0;
    const mv = f32x4.splat(mean), sv = f32x4.splat(scale), bv = f32x4.splat(shift);
    for (let b = 0; b < batch; b++) {
      const xr = rowOf(x, b, ch, c, spatial);
      const yr = rowOf(y, b, ch, c, spatial);
      let s = 0;
      for (; s + 4 <= spatial; s += 4) {
        let v = f32x4.mul(f32x4.sub(v128.load(at(xr, s)), mv), sv);
        if (beta != 0) v = f32x4.add(v, bv);
        v128.store(at(yr, s), v);
      }
      for (; s < spatial; s++) {
        let v = (load<f32>(at(xr, s)) - mean) * scale;
        if (beta != 0) v += shift;
        store<f32>(at(yr, s), v);
      }
    }
  }
}

/** One channel of the normalisation, one element at a time. */
function normalizeChannel(
  y: usize, x: usize, center: usize, spread: usize, fromVariance: bool, gamma: usize, beta: usize,
  batch: i32, c: i32, spatial: i32, eps: f64, ch: i32,
): void {
  const mean = load<f32>(at(center, ch));
  const scale = scaleOf(gamma, ch, invstdOf(spread, ch, fromVariance, eps));
  for (let b = 0; b < batch; b++) {
    const xr = rowOf(x, b, ch, c, spatial);
    const yr = rowOf(y, b, ch, c, spatial);
    for (let s = 0; s < spatial; s++) {
      let v = (load<f32>(at(xr, s)) - mean) * scale;
      if (beta != 0) v += load<f32>(at(beta, ch));
      store<f32>(at(yr, s), v);
    }
  }
}

function normalizeRef(
  y: usize, x: usize, center: usize, spread: usize, fromVariance: bool, gamma: usize, beta: usize,
  batch: i32, c: i32, spatial: i32, eps: f64,
): void {
  for (let ch = 0; ch < c; ch++) normalizeChannel(y, x, center, spread, fromVariance, gamma, beta, batch, c, spatial, eps, ch);
}

// ================================================================ forward (training)

/**
 * Training-mode forward: normalises with the batch statistics and saves them.
 *   y is (batch, c, spatial): OVERWRITTEN (may alias x);
 *   mean_out, invstd_out are (c): OVERWRITTEN with f32(mean), f32(1 / √(var + eps)) for
 *   batchnorm_backward (var biased);
 *   running_mean, running_var are (c): UPDATED in place with momentum (the variance
 *   unbiased, like PyTorch), each 0 to skip; when running_var is given, n = batch·spatial
 *   must be ≥ 2 (the unbiased variance divides by n − 1);
 *   x is (batch, c, spatial); gamma, beta are (c) or 0.
 */
export function batchnorm_forward_train(
  y: usize, mean_out: usize, invstd_out: usize, running_mean: usize, running_var: usize,
  x: usize, gamma: usize, beta: usize, batch: i32, c: i32, spatial: i32, momentum: f64, eps: f64,
): void {
  checkTrain(y, mean_out, invstd_out, running_mean, running_var, x, gamma, beta, batch, c, spatial);
  batchStatistics(mean_out, invstd_out, running_mean, running_var, x, batch, c, spatial, momentum, eps);
  normalizeFast(y, x, mean_out, invstd_out, false, gamma, beta, batch, c, spatial, eps);
}

export function batchnorm_forward_train_ref(
  y: usize, mean_out: usize, invstd_out: usize, running_mean: usize, running_var: usize,
  x: usize, gamma: usize, beta: usize, batch: i32, c: i32, spatial: i32, momentum: f64, eps: f64,
): void {
  checkTrain(y, mean_out, invstd_out, running_mean, running_var, x, gamma, beta, batch, c, spatial);
  batchStatistics(mean_out, invstd_out, running_mean, running_var, x, batch, c, spatial, momentum, eps);
  normalizeRef(y, x, mean_out, invstd_out, false, gamma, beta, batch, c, spatial, eps);
}

// @ts-ignore: decorator
@inline function checkTrain(
  y: usize, meanOut: usize, invstdOut: usize, runningMean: usize, runningVar: usize,
  x: usize, gamma: usize, beta: usize, batch: i32, c: i32, spatial: i32,
): void {
  checkDims(batch, c, spatial);
  assert(y != 0 && meanOut != 0 && invstdOut != 0 && x != 0, "batchnorm_forward_train: null pointer");
  assert(runningVar == 0 || batch * spatial >= 2, "batchnorm_forward_train: need more than 1 value per channel");
  checkAligned(y, meanOut, invstdOut, runningMean, runningVar, x);
  checkAligned(gamma, beta, 0, 0, 0, 0);
}

// ================================================================ forward (inference)

/**
 * Inference-mode forward with the tracked statistics:
 * y = (x − running_mean)·(γ·f32(1 / √(running_var + eps))) + β, per the file comment.
 *   y is (batch, c, spatial): OVERWRITTEN (may alias x); x is (batch, c, spatial);
 *   gamma, beta are (c) or 0; running_mean, running_var are (c) (read only).
 */
export function batchnorm_forward_eval(
  y: usize, x: usize, gamma: usize, beta: usize, running_mean: usize, running_var: usize,
  batch: i32, c: i32, spatial: i32, eps: f64,
): void {
  checkEval(y, x, gamma, beta, running_mean, running_var, batch, c, spatial);
  normalizeFast(y, x, running_mean, running_var, true, gamma, beta, batch, c, spatial, eps);
}

export function batchnorm_forward_eval_ref(
  y: usize, x: usize, gamma: usize, beta: usize, running_mean: usize, running_var: usize,
  batch: i32, c: i32, spatial: i32, eps: f64,
): void {
  checkEval(y, x, gamma, beta, running_mean, running_var, batch, c, spatial);
  normalizeRef(y, x, running_mean, running_var, true, gamma, beta, batch, c, spatial, eps);
}

// @ts-ignore: decorator
@inline function checkEval(
  y: usize, x: usize, gamma: usize, beta: usize, runningMean: usize, runningVar: usize, batch: i32, c: i32, spatial: i32,
): void {
  checkDims(batch, c, spatial);
  assert(y != 0 && x != 0 && runningMean != 0 && runningVar != 0, "batchnorm_forward_eval: null pointer");
  checkAligned(y, x, gamma, beta, runningMean, runningVar);
}

// ================================================================ backward (training)

/** dγ = f32(invstd_f·Σ dy·(x − mean_f)) and dβ = f32(Σ dy), sums in f64 over (b, s) in order. */
function parameterGradients(
  dgamma: usize, dbeta: usize, dy: usize, x: usize, mean: usize, invstd: usize, batch: i32, c: i32, spatial: i32,
): void {
  for (let ch = 0; ch < c; ch++) {
    const m = <f64>load<f32>(at(mean, ch));
    let sumDy: f64 = 0;
    let sumDyX: f64 = 0;
    for (let b = 0; b < batch; b++) {
      const dyr = rowOf(dy, b, ch, c, spatial);
      const xr = rowOf(x, b, ch, c, spatial);
      for (let s = 0; s < spatial; s++) {
        const g = <f64>load<f32>(at(dyr, s));
        sumDy += g;
        sumDyX += g * (<f64>load<f32>(at(xr, s)) - m);
      }
    }
    store<f32>(at(dgamma, ch), <f32>(sumDyX * <f64>load<f32>(at(invstd, ch))));
    store<f32>(at(dbeta, ch), <f32>sumDy);
  }
}

/** One channel of dx = ((dy − a) − x̂·q)·s, one element at a time. */
function inputGradientChannel(
  dx: usize, dy: usize, x: usize, gamma: usize, mean: usize, invstd: usize, dgamma: usize, dbeta: usize,
  batch: i32, c: i32, spatial: i32, ch: i32,
): void {
  const n = <f32>(batch * spatial);
  const m = load<f32>(at(mean, ch));
  const is = load<f32>(at(invstd, ch));
  const a = load<f32>(at(dbeta, ch)) / n;
  const q = load<f32>(at(dgamma, ch)) / n;
  const s = scaleOf(gamma, ch, is);
  for (let b = 0; b < batch; b++) {
    const dxr = rowOf(dx, b, ch, c, spatial);
    const dyr = rowOf(dy, b, ch, c, spatial);
    const xr = rowOf(x, b, ch, c, spatial);
    for (let j = 0; j < spatial; j++) {
      const xhat = (load<f32>(at(xr, j)) - m) * is;
      store<f32>(at(dxr, j), ((load<f32>(at(dyr, j)) - a) - xhat * q) * s);
    }
  }
}

/**
 * Training-mode backward (the batch statistics depend on x, as in PyTorch's autograd).
 *   dx is (batch, c, spatial): OVERWRITTEN (may alias dy);
 *   dgamma, dbeta are (c): OVERWRITTEN, always written (dx needs them; pass scratch
 *   buffers for a layer without affine parameters);
 *   dy, x are (batch, c, spatial); gamma is (c) or 0; mean, invstd are (c), the values
 *   batchnorm_forward_train saved.
 * dγ = Σ dy·x̂, dβ = Σ dy (f64 sums, see parameterGradients), then
 * dx = ((dy − dβ/n) − x̂·dγ/n)·γ·invstd, in f32 (file comment).
 */
export function batchnorm_backward(
  dx: usize, dgamma: usize, dbeta: usize, dy: usize, x: usize, gamma: usize, mean: usize, invstd: usize,
  batch: i32, c: i32, spatial: i32,
): void {
  checkBackward(dx, dgamma, dbeta, dy, x, gamma, mean, invstd, batch, c, spatial);
  parameterGradients(dgamma, dbeta, dy, x, mean, invstd, batch, c, spatial);
  const n = <f32>(batch * spatial);
  const nv = f32x4.splat(n);
  if (spatial == 1) {
    let ch = 0;
    for (; ch + 4 <= c; ch += 4) {
      const m = v128.load(at(mean, ch));
      const is = v128.load(at(invstd, ch));
      const a = f32x4.div(v128.load(at(dbeta, ch)), nv);
      const q = f32x4.div(v128.load(at(dgamma, ch)), nv);
      const s = gamma != 0 ? f32x4.mul(v128.load(at(gamma, ch)), is) : is;
      for (let b = 0; b < batch; b++) {
        const o = (<usize>b * <usize>c + <usize>ch) << 2;
        const xhat = f32x4.mul(f32x4.sub(v128.load(x + o), m), is);
        v128.store(dx + o, f32x4.mul(f32x4.sub(f32x4.sub(v128.load(dy + o), a), f32x4.mul(xhat, q)), s));
      }
    }
    for (; ch < c; ch++) inputGradientChannel(dx, dy, x, gamma, mean, invstd, dgamma, dbeta, batch, c, spatial, ch);
    return;
  }
  for (let ch = 0; ch < c; ch++) {
    const m = load<f32>(at(mean, ch));
    const is = load<f32>(at(invstd, ch));
    const a = load<f32>(at(dbeta, ch)) / n;
    const q = load<f32>(at(dgamma, ch)) / n;
    const s = scaleOf(gamma, ch, is);
    const mv = f32x4.splat(m), isv = f32x4.splat(is), av = f32x4.splat(a), qv = f32x4.splat(q), sv = f32x4.splat(s);
    for (let b = 0; b < batch; b++) {
      const dxr = rowOf(dx, b, ch, c, spatial);
      const dyr = rowOf(dy, b, ch, c, spatial);
      const xr = rowOf(x, b, ch, c, spatial);
      let j = 0;
      for (; j + 4 <= spatial; j += 4) {
        const xhat = f32x4.mul(f32x4.sub(v128.load(at(xr, j)), mv), isv);
        v128.store(at(dxr, j), f32x4.mul(f32x4.sub(f32x4.sub(v128.load(at(dyr, j)), av), f32x4.mul(xhat, qv)), sv));
      }
      for (; j < spatial; j++) {
        const xhat = (load<f32>(at(xr, j)) - m) * is;
        store<f32>(at(dxr, j), ((load<f32>(at(dyr, j)) - a) - xhat * q) * s);
      }
    }
  }
}

export function batchnorm_backward_ref(
  dx: usize, dgamma: usize, dbeta: usize, dy: usize, x: usize, gamma: usize, mean: usize, invstd: usize,
  batch: i32, c: i32, spatial: i32,
): void {
  checkBackward(dx, dgamma, dbeta, dy, x, gamma, mean, invstd, batch, c, spatial);
  parameterGradients(dgamma, dbeta, dy, x, mean, invstd, batch, c, spatial);
  for (let ch = 0; ch < c; ch++) inputGradientChannel(dx, dy, x, gamma, mean, invstd, dgamma, dbeta, batch, c, spatial, ch);
}

// @ts-ignore: decorator
@inline function checkBackward(
  dx: usize, dgamma: usize, dbeta: usize, dy: usize, x: usize, gamma: usize, mean: usize, invstd: usize,
  batch: i32, c: i32, spatial: i32,
): void {
  checkDims(batch, c, spatial);
  assert(dx != 0 && dgamma != 0 && dbeta != 0 && dy != 0 && x != 0 && mean != 0 && invstd != 0,
    "batchnorm_backward: null pointer");
  checkAligned(dx, dgamma, dbeta, dy, x, gamma);
  checkAligned(mean, invstd, 0, 0, 0, 0);
}
