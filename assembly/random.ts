// Seeded pseudo-random numbers: xoshiro128** 1.1 (Blackman & Vigna, 2018), seeded by
// SplitMix64. The generator state is 4 × u32 (16 bytes) in linear memory; callers own
// it, so several independent streams can coexist and be saved / restored as bytes.
//
// Every derived quantity is computed here in wasm with fixed operations, so the same
// seed gives the same numbers in every engine:
//   uniform  u = (x >>> 8) · 2^−24 ∈ [0, 1)  (24 random bits: every f32 value is exact)
//   normal   Box–Muller in f64 with AssemblyScript's own log / sin / cos
//   integers in [0, bound) by Lemire's multiply-and-reject (unbiased)

// @ts-ignore: decorator
@inline function rotl(x: u32, k: u32): u32 {
  return (x << k) | (x >>> (32 - k));
}

/** Advances the state at `s` and returns the next 32 random bits. */
export function rng_next_u32(s: usize): u32 {
  const s0 = load<u32>(s), s1 = load<u32>(s, 4), s2 = load<u32>(s, 8), s3 = load<u32>(s, 12);
  const result = rotl(s1 * 5, 7) * 9;
  const t = s1 << 9;
  const n2 = s2 ^ s0;
  const n3 = s3 ^ s1;
  const n1 = s1 ^ n2;
  const n0 = s0 ^ n3;
  store<u32>(s, n0);
  store<u32>(s, n1, 4);
  store<u32>(s, n2 ^ t, 8);
  store<u32>(s, rotl(n3, 11), 12);
  return result;
}

// @ts-ignore: decorator
@inline function splitmix64(x: u64): u64 {
  let z = x + 0x9e3779b97f4a7c15;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}

/**
 * Seeds the state at `s` from the 64-bit seed (hi·2^32 + lo): two SplitMix64 outputs
 * give the four words (low word first). Never all-zero.
 */
export function rng_seed(s: usize, lo: u32, hi: u32): void {
  const seed = (<u64>hi << 32) | <u64>lo;
  const a = splitmix64(seed);
  const b = splitmix64(seed + 0x9e3779b97f4a7c15);
  store<u32>(s, <u32>a);
  store<u32>(s, <u32>(a >> 32), 4);
  store<u32>(s, <u32>b, 8);
  store<u32>(s, <u32>(b >> 32), 12);
  if ((load<u32>(s) | load<u32>(s, 4) | load<u32>(s, 8) | load<u32>(s, 12)) == 0) store<u32>(s, 1);
}

// @ts-ignore: decorator
@inline function nextUnit(s: usize): f32 {
  return <f32>(rng_next_u32(s) >>> 8) * (1.0 / 16777216.0);
}

/** The largest f32 below x (x finite). */
// @ts-ignore: decorator
@inline function nextDown(x: f32): f32 {
  if (x == 0) return -reinterpret<f32>(1);
  const bits = reinterpret<i32>(x);
  return reinterpret<f32>(x > 0 ? bits - 1 : bits + 1);
}

/**
 * out(n) = low + (high − low)·u, u uniform in [0, 1), low < high. Rounding can carry the
 * sum up to `high` (e.g. 1 + (1 − 2^−24) rounds to 2); such values become the largest
 * f32 below high, so every value lies in [low, high).
 */
export function rng_uniform(s: usize, out: usize, n: i32, low: f32, high: f32): void {
  const span = high - low;
  const top = max<f32>(low, nextDown(high));
  for (let i = 0; i < n; i++) {
    const v = low + span * nextUnit(s);
    store<f32>(out + (<usize>i << 2), v < high ? v : top);
  }
}

/** out(n) = mean + std·z, z standard normal (Box–Muller; pairs, the last odd one drops its twin). */
export function rng_normal(s: usize, out: usize, n: i32, mean: f32, std: f32): void {
  for (let i = 0; i < n; i += 2) {
    const u1 = 1.0 - <f64>nextUnit(s); // (0, 1]: log is finite
    const u2 = <f64>nextUnit(s);
    const r = Math.sqrt(-2.0 * Math.log(u1));
    const theta = 2.0 * Math.PI * u2;
    store<f32>(out + (<usize>i << 2), mean + std * <f32>(r * Math.cos(theta)));
    if (i + 1 < n) store<f32>(out + (<usize>(i + 1) << 2), mean + std * <f32>(r * Math.sin(theta)));
  }
}

/** Uniform integer in [0, bound), bound ≥ 1 (Lemire 2019, unbiased). */
export function rng_below(s: usize, bound: u32): u32 {
  let m = <u64>rng_next_u32(s) * <u64>bound;
  let low = <u32>m;
  if (low < bound) {
    const threshold: u32 = (<u32>0 - bound) % bound;
    while (low < threshold) {
      m = <u64>rng_next_u32(s) * <u64>bound;
      low = <u32>m;
    }
  }
  return <u32>(m >> 32);
}

/** out(n) i32 = a uniformly random permutation of 0..n−1 (Fisher–Yates, from the end). */
export function rng_permutation(s: usize, out: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<i32>(out + (<usize>i << 2), i);
  for (let i = n - 1; i > 0; i--) {
    const j = <i32>rng_below(s, <u32>(i + 1));
    const pi = out + (<usize>i << 2);
    const pj = out + (<usize>j << 2);
    const tmp = load<i32>(pi);
    store<i32>(pi, load<i32>(pj));
    store<i32>(pj, tmp);
  }
}

/**
 * Inverted-dropout mask: mask_i = 1/(1 − p) with probability 1 − p, else 0, so that
 * y = x·mask keeps the expected activation. p in [0, 1).
 */
export function rng_dropout_mask(s: usize, mask: usize, n: i32, p: f32): void {
  assert(p >= 0 && p < 1, "rng_dropout_mask: p must be in [0, 1)");
  const keep: f32 = <f32>(1.0 / (1.0 - <f64>p));
  for (let i = 0; i < n; i++) store<f32>(mask + (<usize>i << 2), nextUnit(s) >= p ? keep : 0);
}
