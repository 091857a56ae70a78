/** Central finite differences in float64, shared by the gradient tests. */

/**
 * ∂f/∂x_i for every i: (f(x + h·e_i) − f(x − h·e_i)) / ((x_i + h) − (x_i − h)) with
 * h = relativeStep·max(1, |x_i|). Dividing by the step actually taken cancels the rounding
 * of x ± h.
 */
export function numericGradient(f: (x: Float64Array) => number, x0: ArrayLike<number>, relativeStep = 1e-5): Float64Array {
  const x = Float64Array.from(x0);
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const xi = x[i]!;
    const h = relativeStep * Math.max(1, Math.abs(xi));
    const up = xi + h;
    const down = xi - h;
    x[i] = up;
    const fUp = f(x);
    x[i] = down;
    const fDown = f(x);
    x[i] = xi;
    g[i] = (fUp - fDown) / (up - down);
  }
  return g;
}

/** Σ_i a_i·b_i in float64: the scalar that turns a vector output into a loss. */
export function dot64(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}
