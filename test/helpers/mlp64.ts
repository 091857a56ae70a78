/**
 * A float64 reference for Sequential models, written from the textbook formulas (not from
 * the kernels): y = x·Wᵀ + b per dense layer, activations from helpers/reference.ts, and
 * dropout as multiplication by a given mask.
 *
 * Alongside every value it carries a first-order bound on how far the float32 result of
 * the same computation (same float32 inputs and parameters) can be from the float64 value:
 *
 *   dense       E_z ≤ Σ_p |w_jp|·E_h_p + γ_(k+1)·(Σ_p |h_p·w_jp| + |b_j|),   γ_n = n·u/(1 − n·u)
 *               (k products summed one after another, then the bias: k + 1 roundings)
 *   activation  E_y ≤ L·E_z + c·u·(|y| + |z|)   L ≥ |f'| (Lipschitz), c = the kernel's
 *               rounding budget in units of u = 2⁻²⁴ (test/kernels/activation.test.ts)
 *   dropout     E_y ≤ m·E_h + u·|y|
 *
 * For gradients, `gradientScales` runs the backward pass on absolute values: every
 * gradient element is a sum of products whose own float32 rounding is at most c·u times
 * the returned scale, plus the error it inherits from the forward values (the rounded
 * activations it multiplies, and derivatives evaluated at rounded values: see
 * ACTIVATION_BOUNDS).
 */
import type { ActivationName, Sequential } from "../../src/index.js";
import { activation64 } from "./reference.js";

/** float32 unit roundoff. */
export const U = 2 ** -24;

export type Layer64 =
  | { type: "dense"; index: number; inputs: number; outputs: number; w: Float64Array; b: Float64Array }
  | { type: "activation"; index: number; name: ActivationName; slope: number }
  | { type: "dropout"; index: number; p: number };

/**
 * lip ≥ max |f'|; round: the forward kernel's rounding budget in u of (|y| + |z|).
 * The backward kernels evaluate f' either from the forward input z (leaky_relu, gelu:
 * error ≤ curv·E_z, curv ≥ max |f''|) or from the forward output y (tanh: 1 − y², sigmoid:
 * y(1 − y); error ≤ ycurv·E_y, ycurv ≥ max |d f'/dy| on the output range).
 */
export const ACTIVATION_BOUNDS: Record<ActivationName, { lip: number; curv: number; ycurv: number; round: number }> = {
  relu: { lip: 1, curv: 0, ycurv: 0, round: 0 }, // max(z, 0) is exact
  leaky_relu: { lip: 1, curv: 0, ycurv: 0, round: 1 }, // one multiplication
  tanh: { lip: 1, curv: 0, ycurv: 2, round: 8 }, // |d(1 − y²)/dy| = 2|y| ≤ 2
  sigmoid: { lip: 0.25, curv: 0, ycurv: 1, round: 8 }, // |d(y − y²)/dy| = |1 − 2y| ≤ 1
  gelu: { lip: 1.13, curv: 0.8, ycurv: 0, round: 8 }, // tanh form: max |f'| ≈ 1.129, max |f''| = √(2/π)
};

function gamma(n: number): number {
  return (n * U) / (1 - n * U);
}

/** The model's layers with its current parameters (read back with getParameter) in float64. */
export function layersOf(model: Sequential): Layer64[] {
  return model.specs.map((spec, index): Layer64 => {
    if (spec.type === "dense") {
      return {
        type: "dense",
        index,
        inputs: spec.inputs,
        outputs: spec.outputs,
        w: Float64Array.from(model.getParameter(`${index}.weight`)),
        b: Float64Array.from(model.getParameter(`${index}.bias`)),
      };
    }
    if (spec.type === "activation") return { type: "activation", index, name: spec.name, slope: spec.slope ?? 0.01 };
    if (spec.type !== "dropout") throw new Error(`mlp64: layer ${index} (${spec.type}) is not an MLP layer`);
    return { type: "dropout", index, p: spec.p };
  });
}

export interface Forward64 {
  /** Input of each layer (rows × its input width). */
  inputs: Float64Array[];
  /** Output of each layer (rows × its width). */
  outputs: Float64Array[];
  /** Bound on |float32 − float64| of each element of each layer's output (all 0 unless `bounds`). */
  bounds: Float64Array[];
  /** The last layer's output. */
  output: Float64Array;
  /** Its bound. */
  bound: Float64Array;
}

/**
 * Runs the layers on x (rows × inputs). `masks` maps a dropout layer index to its mask
 * (rows × width of 0 or 1/(1 − p)); a dropout layer without one is the identity (inference).
 */
export function forward64(
  layers: readonly Layer64[],
  x: ArrayLike<number>,
  rows: number,
  options: { masks?: ReadonlyMap<number, ArrayLike<number>>; bounds?: boolean } = {},
): Forward64 {
  let h: Float64Array = Float64Array.from(x);
  let e: Float64Array = new Float64Array(h.length);
  const inputs: Float64Array[] = [];
  const outputs: Float64Array[] = [];
  const bounds: Float64Array[] = [];
  const withBounds = options.bounds ?? false;
  for (const layer of layers) {
    inputs.push(h);
    let y: Float64Array;
    let ey: Float64Array;
    if (layer.type === "dense") {
      const { inputs: k, outputs: n, w, b } = layer;
      y = new Float64Array(rows * n);
      ey = new Float64Array(rows * n);
      const g = gamma(k + 1);
      for (let r = 0; r < rows; r++) {
        for (let j = 0; j < n; j++) {
          let sum = 0;
          let abs = 0;
          let carried = 0;
          for (let p = 0; p < k; p++) {
            const hv = h[r * k + p]!;
            const wv = w[j * k + p]!;
            sum += hv * wv;
            if (withBounds) {
              const ev = e[r * k + p]!;
              abs += (Math.abs(hv) + ev) * Math.abs(wv);
              carried += Math.abs(wv) * ev;
            }
          }
          y[r * n + j] = sum + b[j]!;
          if (withBounds) ey[r * n + j] = carried + g * (abs + Math.abs(b[j]!));
        }
      }
    } else if (layer.type === "activation") {
      const f = activation64[layer.name]!;
      const { lip, round } = ACTIVATION_BOUNDS[layer.name];
      y = new Float64Array(h.length);
      ey = new Float64Array(h.length);
      for (let i = 0; i < h.length; i++) {
        const z = h[i]!;
        y[i] = f(z, layer.slope);
        if (withBounds) ey[i] = lip * e[i]! + round * U * (Math.abs(y[i]!) + Math.abs(z)) + 1e-38;
      }
    } else {
      const mask = options.masks?.get(layer.index);
      y = new Float64Array(h.length);
      ey = new Float64Array(h.length);
      for (let i = 0; i < h.length; i++) {
        const m = mask ? mask[i]! : 1;
        y[i] = h[i]! * m;
        if (withBounds) ey[i] = m * e[i]! + (mask ? U * Math.abs(y[i]!) : 0);
      }
    }
    outputs.push(y);
    bounds.push(ey);
    h = y;
    e = ey;
  }
  return { inputs, outputs, bounds, output: h, bound: e };
}

export interface GradientBound {
  /** Σ|terms| of each gradient element: its own float32 rounding is at most c·u times this. */
  scale: Float64Array;
  /** First-order bound on the error each element inherits from the forward values' errors. */
  inherited: Float64Array;
}

export interface GradientScales {
  /** Per dense layer index: bounds for each weight / bias gradient element. */
  weight: Map<number, GradientBound>;
  bias: Map<number, GradientBound>;
  /** Bounds for each element of the gradient w.r.t. the input x. */
  input: GradientBound;
}

/**
 * Absolute-value backward pass. Given |∂L/∂output| (rows × outputs) and the bound on the
 * error of ∂L/∂output inherited from the forward pass (`dOutError`), plus optional
 * gradients injected at layer outputs, returns for every gradient element the sum of the
 * absolute values of its terms (`scale`) and the error inherited from the forward values
 * (`inherited`): the float32 gradient is within c·u·scale + inherited (first order) of the
 * true one, c a count of rounding steps along the way.
 *
 *   dense       ∂W = gᵀ·h:  scale Σ_r |g||h|, inherited Σ_r (E_g·|h| + |g|·E_h)
 *               ∂h = g·W:   scale Σ_j |g||w|, inherited Σ_j E_g·|w|
 *   activation  ∂z = g·f':  scale |g|·L,       inherited E_g·L + |g|·(curv·E_z + ycurv·E_y)
 *   dropout     ∂h = g·m
 */
export function gradientScales(
  layers: readonly Layer64[],
  fwd: Forward64,
  rows: number,
  dOut: Float64Array,
  dOutError: Float64Array,
  options: { inject?: ReadonlyMap<number, ArrayLike<number>>; masks?: ReadonlyMap<number, ArrayLike<number>> } = {},
): GradientScales {
  const weight = new Map<number, GradientBound>();
  const bias = new Map<number, GradientBound>();
  let a = Float64Array.from(dOut);
  let ea = Float64Array.from(dOutError);
  for (let i = layers.length - 1; i >= 0; i--) {
    const layer = layers[i]!;
    const extra = options.inject?.get(i);
    if (extra) for (let q = 0; q < a.length; q++) a[q] = a[q]! + Math.abs(extra[q]!);
    const h = fwd.inputs[i]!;
    const eh = i > 0 ? fwd.bounds[i - 1]! : new Float64Array(h.length);
    if (layer.type === "dense") {
      const { inputs: k, outputs: n, w } = layer;
      const sw = new Float64Array(n * k);
      const ew = new Float64Array(n * k);
      const sb = new Float64Array(n);
      const eb = new Float64Array(n);
      const next = new Float64Array(rows * k);
      const enext = new Float64Array(rows * k);
      for (let r = 0; r < rows; r++) {
        for (let j = 0; j < n; j++) {
          const g = a[r * n + j]!;
          const eg = ea[r * n + j]!;
          sb[j] = sb[j]! + g;
          eb[j] = eb[j]! + eg;
          for (let p = 0; p < k; p++) {
            const hv = Math.abs(h[r * k + p]!);
            sw[j * k + p] = sw[j * k + p]! + g * hv;
            ew[j * k + p] = ew[j * k + p]! + eg * hv + g * eh[r * k + p]!;
            next[r * k + p] = next[r * k + p]! + g * Math.abs(w[j * k + p]!);
            enext[r * k + p] = enext[r * k + p]! + eg * Math.abs(w[j * k + p]!);
          }
        }
      }
      weight.set(i, { scale: sw, inherited: ew });
      bias.set(i, { scale: sb, inherited: eb });
      a = next;
      ea = enext;
    } else if (layer.type === "activation") {
      const { lip, curv, ycurv } = ACTIVATION_BOUNDS[layer.name];
      const ey = fwd.bounds[i]!;
      for (let q = 0; q < a.length; q++) {
        ea[q] = ea[q]! * lip + a[q]! * (curv * eh[q]! + ycurv * ey[q]!);
        a[q] = a[q]! * lip;
      }
    } else {
      const mask = options.masks?.get(i);
      if (mask) {
        for (let q = 0; q < a.length; q++) {
          a[q] = a[q]! * mask[q]!;
          ea[q] = ea[q]! * mask[q]!;
        }
      }
    }
  }
  return { weight, bias, input: { scale: a, inherited: ea } };
}

/** The dense layers' parameter arrays in named-parameter order, for finite differences in place. */
export function parameterArrays(layers: readonly Layer64[]): { name: string; values: Float64Array }[] {
  const out: { name: string; values: Float64Array }[] = [];
  for (const l of layers) {
    if (l.type !== "dense") continue;
    out.push({ name: `${l.index}.weight`, values: l.w }, { name: `${l.index}.bias`, values: l.b });
  }
  return out;
}
