// Scalar functions for the TypeScript layer's schedules (cosine learning-rate decay,
// step decay). JavaScript's Math.cos and Math.pow are not the same function in every
// engine; these are AssemblyScript's own implementations, identical everywhere.

/** cos(x): within 1 ulp for |x| ≤ 1e6, within 2 ulp beyond (AssemblyScript's range reduction). */
export function math_cos(x: f64): f64 {
  return Math.cos(x);
}

export function math_pow(x: f64, y: f64): f64 {
  return Math.pow(x, y);
}
