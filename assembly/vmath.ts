// Vector math: exp, tanh and sigmoid for four f32 lanes, each with a scalar twin.
//
// Every `*4` function has a scalar `*1` twin that performs the same IEEE operations
// in the same order, so a SIMD kernel and its plain reference agree bit for bit
// (the SIMD kernels use the twin for their tail elements). All operations are
// basic arithmetic, min/max, nearest and bit manipulation: exact in every engine,
// unlike JS `Math.exp`.
//
// exp follows Cephes `expf`: x = n·ln2 + r with |r| ≤ ln2/2, a degree-5 polynomial
// for e^r, and 2^n applied as two exponent-field scalings so that the whole range
// from denormals (x ≥ -104) to overflow (x > 88.72 → +Inf) comes out right.
// Error ≤ 2 ulp for normal results. NaN in → NaN out.

const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
const EXP_MIN: f32 = -104.0; // e^-104 < smallest denormal / 2: result rounds to 0
const EXP_MAX: f32 = 88.8; // e^88.8 > FLT_MAX: result overflows to +Inf
const EXP_P0: f32 = 1.9875691500e-4;
const EXP_P1: f32 = 1.3981999507e-3;
const EXP_P2: f32 = 8.3334519073e-3;
const EXP_P3: f32 = 4.1665795894e-2;
const EXP_P4: f32 = 1.6666665459e-1;
const EXP_P5: f32 = 5.0000001201e-1;
/** 1.5·2^23: adding it to a small integral float leaves the integer in the low mantissa bits. */
const ROUND_MAGIC: f32 = 12582912.0;
const ROUND_MAGIC_BITS: i32 = 0x4b400000;

// tanh: Cephes `tanhf`. |x| < 0.625: odd polynomial; otherwise 1 - 2/(e^{2|x|} + 1).
const TANH_SMALL: f32 = 0.625;
const TANH_T0: f32 = -5.70498872745e-3;
const TANH_T1: f32 = 2.06390887954e-2;
const TANH_T2: f32 = -5.37397155531e-2;
const TANH_T3: f32 = 1.33314422036e-1;
const TANH_T4: f32 = -3.33332819422e-1;

// ---------------------------------------------------------------- exp

// @ts-ignore: decorator
@inline export function exp1(x: f32): f32 {
  x = min<f32>(max<f32>(x, EXP_MIN), EXP_MAX);
  const n = nearest<f32>(x * LOG2E);
  const r = (x - n * LN2_HI) - n * LN2_LO;
  let p = EXP_P0;
  p = p * r + EXP_P1;
  p = p * r + EXP_P2;
  p = p * r + EXP_P3;
  p = p * r + EXP_P4;
  p = p * r + EXP_P5;
  const y = (p * (r * r) + r) + 1.0;
  const ni = reinterpret<i32>(n + ROUND_MAGIC) - ROUND_MAGIC_BITS;
  const n1 = ni >> 1;
  const n2 = ni - n1;
  const s1 = reinterpret<f32>((n1 + 127) << 23);
  const s2 = reinterpret<f32>((n2 + 127) << 23);
  return (y * s1) * s2;
}

// @ts-ignore: decorator
@inline export function exp4(x: v128): v128 {
  x = f32x4.min(f32x4.max(x, f32x4.splat(EXP_MIN)), f32x4.splat(EXP_MAX));
  const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(LOG2E)));
  const r = f32x4.sub(f32x4.sub(x, f32x4.mul(n, f32x4.splat(LN2_HI))), f32x4.mul(n, f32x4.splat(LN2_LO)));
  let p = f32x4.splat(EXP_P0);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(EXP_P1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(EXP_P2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(EXP_P3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(EXP_P4));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(EXP_P5));
  const y = f32x4.add(f32x4.add(f32x4.mul(p, f32x4.mul(r, r)), r), f32x4.splat(1.0));
  const ni = i32x4.sub(f32x4.add(n, f32x4.splat(ROUND_MAGIC)), i32x4.splat(ROUND_MAGIC_BITS));
  const n1 = i32x4.shr_s(ni, 1);
  const n2 = i32x4.sub(ni, n1);
  const s1 = i32x4.shl(i32x4.add(n1, i32x4.splat(127)), 23);
  const s2 = i32x4.shl(i32x4.add(n2, i32x4.splat(127)), 23);
  return f32x4.mul(f32x4.mul(y, s1), s2);
}

// ---------------------------------------------------------------- tanh

// @ts-ignore: decorator
@inline export function tanh1(x: f32): f32 {
  const ax = abs<f32>(x);
  const z = x * x;
  let q = TANH_T0;
  q = q * z + TANH_T1;
  q = q * z + TANH_T2;
  q = q * z + TANH_T3;
  q = q * z + TANH_T4;
  const small = (q * z) * x + x;
  const e = exp1(ax + ax);
  const large: f32 = 1.0 - 2.0 / (e + 1.0);
  // tanh is odd and |small| carries the magnitude; copysign also keeps tanh(−0) = −0.
  return copysign<f32>(ax < TANH_SMALL ? abs<f32>(small) : large, x);
}

// @ts-ignore: decorator
@inline export function tanh4(x: v128): v128 {
  const ax = f32x4.abs(x);
  const z = f32x4.mul(x, x);
  let q = f32x4.splat(TANH_T0);
  q = f32x4.add(f32x4.mul(q, z), f32x4.splat(TANH_T1));
  q = f32x4.add(f32x4.mul(q, z), f32x4.splat(TANH_T2));
  q = f32x4.add(f32x4.mul(q, z), f32x4.splat(TANH_T3));
  q = f32x4.add(f32x4.mul(q, z), f32x4.splat(TANH_T4));
  const small = f32x4.add(f32x4.mul(f32x4.mul(q, z), x), x);
  const e = exp4(f32x4.add(ax, ax));
  const one = f32x4.splat(1.0);
  const large = f32x4.sub(one, f32x4.div(f32x4.splat(2.0), f32x4.add(e, one)));
  const magnitude = v128.bitselect(f32x4.abs(small), large, f32x4.lt(ax, f32x4.splat(TANH_SMALL)));
  // copysign(magnitude, x): magnitude ≥ 0, so OR-ing in x's sign bit is exact.
  return v128.or(magnitude, v128.and(x, i32x4.splat(0x80000000)));
}

// ---------------------------------------------------------------- sigmoid

// @ts-ignore: decorator
@inline export function sigmoid1(x: f32): f32 {
  return 1.0 / (1.0 + exp1(-x));
}

// @ts-ignore: decorator
@inline export function sigmoid4(x: v128): v128 {
  const one = f32x4.splat(1.0);
  return f32x4.div(one, f32x4.add(one, exp4(f32x4.neg(x))));
}

// ---------------------------------------------------------------- horizontal sums

/** (l0 + l1) + (l2 + l3): the one fixed order in which every kernel folds four lanes. */
// @ts-ignore: decorator
@inline export function hsum4(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) +
    (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** Maximum of the four lanes (order-free: max is exact and NaN-propagating). */
// @ts-ignore: decorator
@inline export function hmax4(v: v128): f32 {
  return max<f32>(max<f32>(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)),
    max<f32>(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
}
