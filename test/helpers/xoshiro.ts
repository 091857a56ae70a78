/**
 * An independent TypeScript model of the library's PRNG, written from the published
 * algorithms (Blackman & Vigna's xoshiro128** 1.1 and SplitMix64, Lemire's bounded
 * integers) and from the seeding / mapping rules documented in assembly/random.ts.
 * The 64-bit SplitMix64 arithmetic uses BigInt so that no precision is lost.
 */

const MASK64 = (1n << 64n) - 1n;
const GOLDEN_GAMMA = 0x9e3779b97f4a7c15n;

/** SplitMix64's output function applied to x + γ (one step of the SplitMix64 stream from state x). */
export function splitmix64(x: bigint): bigint {
  let z = (x + GOLDEN_GAMMA) & MASK64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

/** The four state words rng_seed derives from the 64-bit seed hi·2^32 + lo (low word first). */
export function seedState(lo: number, hi: number): Uint32Array {
  const seed = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
  const a = splitmix64(seed);
  const b = splitmix64((seed + GOLDEN_GAMMA) & MASK64);
  const words = new Uint32Array([Number(a & 0xffffffffn), Number(a >> 32n), Number(b & 0xffffffffn), Number(b >> 32n)]);
  if ((words[0]! | words[1]! | words[2]! | words[3]!) === 0) words[0] = 1;
  return words;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

export class Xoshiro128 {
  readonly s: Uint32Array;

  constructor(state: ArrayLike<number>) {
    this.s = Uint32Array.from(state);
  }

  static seeded(lo: number, hi = 0): Xoshiro128 {
    return new Xoshiro128(seedState(lo, hi));
  }

  /** xoshiro128** 1.1: the next 32 random bits, as an unsigned number. */
  nextU32(): number {
    const s = this.s;
    const [s0, s1, s2, s3] = [s[0]!, s[1]!, s[2]!, s[3]!];
    const result = Math.imul(rotl(Math.imul(s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (s1 << 9) >>> 0;
    // The reference C update, in its order: s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = rotl(s3, 11).
    const n2 = (s2 ^ s0) >>> 0;
    const n3 = (s3 ^ s1) >>> 0;
    s[1] = s1 ^ n2;
    s[0] = s0 ^ n3;
    s[2] = n2 ^ t;
    s[3] = rotl(n3, 11);
    return result;
  }

  /** The documented unit mapping: top 24 bits · 2^−24, exactly representable in f32. */
  nextUnit(): number {
    return (this.nextU32() >>> 8) * 2 ** -24;
  }

  /** Lemire's multiply-and-reject: uniform in [0, bound), 1 ≤ bound < 2^32. */
  below(bound: number): number {
    const b = BigInt(bound);
    let m = BigInt(this.nextU32()) * b;
    let low = Number(m & 0xffffffffn);
    if (low < bound) {
      const threshold = (2 ** 32 - bound) % bound;
      while (low < threshold) {
        m = BigInt(this.nextU32()) * b;
        low = Number(m & 0xffffffffn);
      }
    }
    return Number(m >> 32n);
  }

  /** Fisher–Yates from the end, j = below(i + 1), starting from the identity. */
  permutation(n: number): Int32Array {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.below(i + 1);
      const tmp = out[i]!;
      out[i] = out[j]!;
      out[j] = tmp;
    }
    return out;
  }
}
