// Input checks in wasm: where the first value that is not a finite number is (NaN, +∞ or
// −∞), so that a streamed block is checked where it was copied, without a JavaScript loop
// over every value. Reads only; writes nothing.
//
// A float32 is not finite exactly when its exponent bits are all ones:
// (bits & 0x7f800000) == 0x7f800000. Lanes: four floats per f32x4, four vectors (16 values)
// tested together, then one vector, then one value at a time.

const EXPONENT: i32 = 0x7f800000;

@inline function notFinite(x: usize, i: i32): bool {
  return (load<i32>(x + (<usize>i << 2)) & EXPONENT) == EXPONENT;
}

/** Lanes of v whose exponent bits are all ones: −1 there, 0 elsewhere. */
@inline function notFiniteLanes(v: v128, mask: v128): v128 {
  return i32x4.eq(v128.and(v, mask), mask);
}

/**
 * Index of the first element of x (n) f32 that is NaN or ±∞, or n when all are finite.
 * x needs no alignment. Writes nothing.
 */
export function first_non_finite(x: usize, n: i32): i32 {
  assert(n >= 0, "first_non_finite: n must be ≥ 0");
  const mask = i32x4.splat(EXPONENT);
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const p = x + (<usize>i << 2);
    const any = v128.or(
      v128.or(notFiniteLanes(v128.load(p), mask), notFiniteLanes(v128.load(p, 16), mask)),
      v128.or(notFiniteLanes(v128.load(p, 32), mask), notFiniteLanes(v128.load(p, 48), mask)),
    );
    if (v128.any_true(any)) break; // the scan below finds which of the 16
  }
  for (; i + 4 <= n; i += 4) {
    if (v128.any_true(notFiniteLanes(v128.load(x + (<usize>i << 2)), mask))) break;
  }
  for (; i < n; i++) if (notFinite(x, i)) return i;
  return n;
}

export function first_non_finite_ref(x: usize, n: i32): i32 {
  assert(n >= 0, "first_non_finite: n must be ≥ 0");
  for (let i = 0; i < n; i++) if (notFinite(x, i)) return i;
  return n;
}
