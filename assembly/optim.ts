// Optimizer steps on flat parameter buffers, with PyTorch's update rules.
//
// param, grad, and the state buffers (velocity; m and v) are flat f32 arrays of n.
// param and state are updated in place; grad is read only. State buffers start at 0.
// Each kernel has a plain `_ref` twin that performs the same f32 operations in the same
// order, so both agree bit for bit. Hyper-parameters arrive as f32, except the step
// counter of Adam whose bias corrections are computed here in f64 (never in JS, whose
// Math.pow differs between engines).

import { scale_inplace, sum_squares, sum_squares_ref } from "./reduce";

// ================================================================ SGD

/**
 * g = grad + wd·param (L2 decay, skipped when wd = 0)
 * momentum > 0:  v = momentum·v + g;   g = nesterov ? g + momentum·v : v
 * param = param − lr·g
 * With v starting at 0 the first step gives v = g, as torch.optim.SGD (dampening 0) does.
 */
export function sgd_step(param: usize, grad: usize, velocity: usize, n: i32,
  lr: f32, momentum: f32, weightDecay: f32, nesterov: bool): void {
  const lrv = f32x4.splat(lr);
  const mv = f32x4.splat(momentum);
  const wdv = f32x4.splat(weightDecay);
  const useDecay = weightDecay != 0;
  const useMomentum = momentum != 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const p = v128.load(param + o);
    let g = v128.load(grad + o);
    if (useDecay) g = f32x4.add(g, f32x4.mul(wdv, p));
    if (useMomentum) {
      const v = f32x4.add(f32x4.mul(mv, v128.load(velocity + o)), g);
      v128.store(velocity + o, v);
      g = nesterov ? f32x4.add(g, f32x4.mul(mv, v)) : v;
    }
    v128.store(param + o, f32x4.sub(p, f32x4.mul(lrv, g)));
  }
  for (; i < n; i++) sgdElement(param, grad, velocity, i, lr, momentum, weightDecay, nesterov);
}

// @ts-ignore: decorator
@inline function sgdElement(param: usize, grad: usize, velocity: usize, i: i32,
  lr: f32, momentum: f32, weightDecay: f32, nesterov: bool): void {
  const o = <usize>i << 2;
  const p = load<f32>(param + o);
  let g = load<f32>(grad + o);
  if (weightDecay != 0) g = g + weightDecay * p;
  if (momentum != 0) {
    const v = momentum * load<f32>(velocity + o) + g;
    store<f32>(velocity + o, v);
    g = nesterov ? g + momentum * v : v;
  }
  store<f32>(param + o, p - lr * g);
}

export function sgd_step_ref(param: usize, grad: usize, velocity: usize, n: i32,
  lr: f32, momentum: f32, weightDecay: f32, nesterov: bool): void {
  for (let i = 0; i < n; i++) sgdElement(param, grad, velocity, i, lr, momentum, weightDecay, nesterov);
}

// ================================================================ Adam / AdamW

/** Scalars shared by both Adam kernels, computed once per step in f64. */
let adamStepSize: f32 = 0;
let adamBc2Sqrt: f32 = 0;
let adamDecayFactor: f32 = 1;

function adamScalars(lr: f32, beta1: f32, beta2: f32, weightDecay: f32, step: i32, decoupled: bool): void {
  assert(step >= 1, "adam_step: step counts from 1");
  const bc1 = 1.0 - Math.pow(<f64>beta1, <f64>step);
  const bc2 = 1.0 - Math.pow(<f64>beta2, <f64>step);
  adamStepSize = <f32>(<f64>lr / bc1);
  adamBc2Sqrt = <f32>Math.sqrt(bc2);
  adamDecayFactor = decoupled ? <f32>(1.0 - <f64>lr * <f64>weightDecay) : 1;
}

/**
 * Adam (decoupled = false: g += wd·param) or AdamW (decoupled = true: param *= 1 − lr·wd),
 * then with t = step (1, 2, …):
 *   m = β1·m + (1−β1)·g;   v = β2·v + (1−β2)·g²
 *   param −= (lr / (1−β1^t)) · m / (√v / √(1−β2^t) + eps)
 */
export function adam_step(param: usize, grad: usize, m: usize, v: usize, n: i32,
  lr: f32, beta1: f32, beta2: f32, eps: f32, weightDecay: f32, step: i32, decoupled: bool): void {
  adamScalars(lr, beta1, beta2, weightDecay, step, decoupled);
  const coupledDecay = !decoupled && weightDecay != 0;
  const useDecoupled = decoupled && weightDecay != 0;
  const b1 = f32x4.splat(beta1), c1 = f32x4.splat(1 - beta1);
  const b2 = f32x4.splat(beta2), c2 = f32x4.splat(1 - beta2);
  const wd = f32x4.splat(weightDecay), decay = f32x4.splat(adamDecayFactor);
  const stepSize = f32x4.splat(adamStepSize), bc2 = f32x4.splat(adamBc2Sqrt), epsv = f32x4.splat(eps);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    let p = v128.load(param + o);
    let g = v128.load(grad + o);
    if (coupledDecay) g = f32x4.add(g, f32x4.mul(wd, p));
    if (useDecoupled) p = f32x4.mul(p, decay);
    const mt = f32x4.add(f32x4.mul(b1, v128.load(m + o)), f32x4.mul(c1, g));
    const vt = f32x4.add(f32x4.mul(b2, v128.load(v + o)), f32x4.mul(c2, f32x4.mul(g, g)));
    v128.store(m + o, mt);
    v128.store(v + o, vt);
    const denom = f32x4.add(f32x4.div(f32x4.sqrt(vt), bc2), epsv);
    v128.store(param + o, f32x4.sub(p, f32x4.mul(stepSize, f32x4.div(mt, denom))));
  }
  for (; i < n; i++) adamElement(param, grad, m, v, i, beta1, beta2, eps, weightDecay, decoupled);
}

// @ts-ignore: decorator
@inline function adamElement(param: usize, grad: usize, m: usize, v: usize, i: i32,
  beta1: f32, beta2: f32, eps: f32, weightDecay: f32, decoupled: bool): void {
  const o = <usize>i << 2;
  let p = load<f32>(param + o);
  let g = load<f32>(grad + o);
  if (!decoupled && weightDecay != 0) g = g + weightDecay * p;
  if (decoupled && weightDecay != 0) p = p * adamDecayFactor;
  const mt = beta1 * load<f32>(m + o) + (1 - beta1) * g;
  const vt = beta2 * load<f32>(v + o) + (1 - beta2) * (g * g);
  store<f32>(m + o, mt);
  store<f32>(v + o, vt);
  const denom = Mathf.sqrt(vt) / adamBc2Sqrt + eps;
  store<f32>(param + o, p - adamStepSize * (mt / denom));
}

export function adam_step_ref(param: usize, grad: usize, m: usize, v: usize, n: i32,
  lr: f32, beta1: f32, beta2: f32, eps: f32, weightDecay: f32, step: i32, decoupled: bool): void {
  adamScalars(lr, beta1, beta2, weightDecay, step, decoupled);
  for (let i = 0; i < n; i++) adamElement(param, grad, m, v, i, beta1, beta2, eps, weightDecay, decoupled);
}

// ================================================================ max-norm constraint

/**
 * Max-norm (Srivastava et al. 2014): w is (rows, cols), one row per unit holding its
 * incoming weights; every row whose L2 norm exceeds maxNorm is scaled to maxNorm, like
 * torch.renorm(w, 2, 0, maxNorm): row *= maxNorm / (norm + 1e-7). The norm is
 * √sum_squares(row) (f32 squares, f64 sum in four lanes; see reduce.ts). Returns how many
 * rows were scaled.
 */
export function max_norm_rows(w: usize, rows: i32, cols: i32, maxNorm: f32): i32 {
  let scaled = 0;
  for (let r = 0; r < rows; r++) {
    const row = w + ((<usize>r * <usize>cols) << 2);
    const norm = Math.sqrt(sum_squares(row, cols));
    if (norm > <f64>maxNorm) {
      scale_inplace(row, cols, <f32>(<f64>maxNorm / (norm + 1e-7)));
      scaled++;
    }
  }
  return scaled;
}

export function max_norm_rows_ref(w: usize, rows: i32, cols: i32, maxNorm: f32): i32 {
  let scaled = 0;
  for (let r = 0; r < rows; r++) {
    const row = w + ((<usize>r * <usize>cols) << 2);
    const norm = Math.sqrt(sum_squares_ref(row, cols));
    if (norm > <f64>maxNorm) {
      const s = <f32>(<f64>maxNorm / (norm + 1e-7));
      for (let i = 0; i < cols; i++) store<f32>(row + (<usize>i << 2), load<f32>(row + (<usize>i << 2)) * s);
      scaled++;
    }
  }
  return scaled;
}
