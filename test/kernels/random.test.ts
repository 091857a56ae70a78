/**
 * The seeded PRNG (assembly/random.ts): xoshiro128** 1.1 seeded by SplitMix64, checked
 * output for output against an independent TypeScript model (helpers/xoshiro.ts), and
 * the derived draws (uniform, normal, bounded integers, permutations, dropout masks)
 * against the documented mappings over the same stream, plus statistical checks.
 *
 * Statistical bounds: the seeds are fixed, so every check is deterministic; the bounds
 * say how unlikely a failure would be for a correct generator. Moments and frequencies
 * are allowed 5 standard errors (two-sided normal tail ≈ 5.7e-7); the chi-square over
 * the 6 orders of 3 items uses the 1 − 1e-6 quantile of χ²(5) (35.89).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { KernelAssertionError, type Engine } from "../../src/index.js";
import { EXACT_BUILDS, loadBuild } from "../helpers/engines.js";
import { expectClose, expectSameBits } from "../helpers/compare.js";
import { Xoshiro128, seedState, splitmix64 } from "../helpers/xoshiro.js";
import { VECTOR_SIZES } from "../helpers/kernel-buffers.js";

const SIZES = VECTOR_SIZES;
/** (lo, hi) seed words: small, zero, one-bit, with the high word set, all ones. */
const SEEDS: [number, number][] = [
  [0, 0],
  [1, 0],
  [42, 0],
  [0xdeadbeef, 0],
  [0, 1],
  [0x12345678, 0x9abcdef0],
  [7, 0x80000000],
  [0xffffffff, 0xffffffff],
];
const STD_ERRORS = 5;
const CHI2_5DOF_1E6 = 35.89;
const f32 = Math.fround;

// ---------------------------------------------------------------- engine helpers

function stateWords(engine: Engine, state: number): Uint32Array {
  return new Uint32Array(engine.kernels.memory.buffer, state, 4).slice();
}

function setState(engine: Engine, state: number, words: ArrayLike<number>): void {
  new Uint32Array(engine.kernels.memory.buffer, state, 4).set(words);
}

/** A seeded 16-byte generator state in the arena. */
function seeded(engine: Engine, lo: number, hi = 0): number {
  const state = engine.alloc(16);
  engine.kernels.rng_seed(state, lo, hi);
  return state;
}

function nextU32s(engine: Engine, state: number, count: number): Uint32Array {
  const out = new Uint32Array(count);
  for (let i = 0; i < count; i++) out[i] = engine.kernels.rng_next_u32(state) >>> 0;
  return out;
}

function uniform(engine: Engine, state: number, n: number, low: number, high: number): Float32Array {
  const out = engine.allocF32(n);
  engine.kernels.rng_uniform(state, out, n, low, high);
  return engine.readF32(out, n);
}

function normal(engine: Engine, state: number, n: number, mean: number, std: number): Float32Array {
  const out = engine.allocF32(n);
  engine.kernels.rng_normal(state, out, n, mean, std);
  return engine.readF32(out, n);
}

function permutation(engine: Engine, state: number, n: number): Int32Array {
  const out = engine.alloc(Math.max(n, 1) * 4);
  engine.kernels.rng_permutation(state, out, n);
  return engine.i32(out, n).slice();
}

function dropoutMask(engine: Engine, state: number, n: number, p: number): Float32Array {
  const out = engine.allocF32(n);
  engine.kernels.rng_dropout_mask(state, out, n, p);
  return engine.readF32(out, n);
}

// ---------------------------------------------------------------- model helpers

/** The multiplicative inverse of an odd number modulo 2^32 (Newton's iteration). */
function inverseMod32(a: number): number {
  let x = a;
  for (let i = 0; i < 5; i++) x = Math.imul(x, 2 - Math.imul(a, x));
  return x >>> 0;
}

/** A state whose next xoshiro128** output is `bits` (the output depends on s1 only). */
function stateYielding(bits: number): number[] {
  const beforeTimes9 = Math.imul(bits, inverseMod32(9)) >>> 0;
  const beforeRotl = ((beforeTimes9 >>> 7) | (beforeTimes9 << 25)) >>> 0;
  const s1 = Math.imul(beforeRotl, inverseMod32(5)) >>> 0;
  return [0x01234567, s1, 0x89abcdef, 0x0badf00d];
}

/** The documented f32 mapping low + (high − low)·u, every operation rounded to f32. */
function uniformModel(gen: Xoshiro128, n: number, low: number, high: number): Float32Array {
  const lo = f32(low);
  const span = f32(f32(high) - lo);
  return Float32Array.from({ length: n }, () => f32(lo + f32(span * gen.nextUnit())));
}

/** Box–Muller over the model stream, as documented: u1 = 1 − u (in (0, 1]), cos then sin. */
function normalModel(gen: Xoshiro128, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    const u1 = 1 - gen.nextUnit();
    const u2 = gen.nextUnit();
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

function meanAndVariance(x: ArrayLike<number>): { mean: number; variance: number } {
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += x[i]!;
  const mean = sum / x.length;
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += (x[i]! - mean) ** 2;
  return { mean, variance: ss / (x.length - 1) };
}

function isPermutation(p: Int32Array): boolean {
  const seen = new Uint8Array(p.length);
  for (const v of p) {
    if (v < 0 || v >= p.length || seen[v]) return false;
    seen[v] = 1;
  }
  return true;
}

// ---------------------------------------------------------------- the model itself

describe("TypeScript xoshiro128** / SplitMix64 model", () => {
  it("reproduces the published xoshiro128** vector from state (1, 2, 3, 4)", () => {
    const gen = new Xoshiro128([1, 2, 3, 4]);
    const got = Array.from({ length: 10 }, () => gen.nextU32());
    expect(got).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849, 3729100597, 4258142804]);
  });

  it("reproduces the published SplitMix64 vector for seed 1234567", () => {
    const got: bigint[] = [];
    let x = 1234567n;
    for (let i = 0; i < 5; i++) {
      got.push(splitmix64(x));
      x = (x + 0x9e3779b97f4a7c15n) & ((1n << 64n) - 1n);
    }
    expect(got).toEqual([6457827717110365317n, 3203168211198807973n, 9817491932198370423n, 4593380528125082431n, 16408922859458223821n]);
  });
});

// ---------------------------------------------------------------- the kernels

describe.each(EXACT_BUILDS)("random, %s build", (build) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await loadBuild(build);
  });

  describe("rng_seed / rng_next_u32", () => {
    it("rng_seed stores the two SplitMix64 outputs as four words, low word first (also with the high seed word set)", () => {
      engine.scoped(() => {
        for (const [lo, hi] of SEEDS) {
          const state = seeded(engine, lo, hi);
          expect(Array.from(stateWords(engine, state)), `seed (${lo}, ${hi})`).toEqual(Array.from(seedState(lo, hi)));
        }
      });
    });

    it("rng_next_u32 equals xoshiro128** for 5000 outputs from each seed", () => {
      engine.scoped(() => {
        for (const [lo, hi] of SEEDS) {
          const got = nextU32s(engine, seeded(engine, lo, hi), 5000);
          const gen = Xoshiro128.seeded(lo, hi);
          for (let i = 0; i < got.length; i++) {
            const want = gen.nextU32();
            if (got[i] !== want) expect.fail(`seed (${lo}, ${hi}), output ${i}: got ${got[i]}, expected ${want}`);
          }
        }
      });
    });

    it("rng_next_u32 from a hand-written state (1, 2, 3, 4) gives the published vector and leaves the model's state", () => {
      engine.scoped(() => {
        const state = engine.alloc(16);
        setState(engine, state, [1, 2, 3, 4]);
        const got = nextU32s(engine, state, 10);
        expect(Array.from(got)).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849, 3729100597, 4258142804]);
        const gen = new Xoshiro128([1, 2, 3, 4]);
        for (let i = 0; i < 10; i++) gen.nextU32();
        expect(Array.from(stateWords(engine, state))).toEqual(Array.from(gen.s));
      });
    });

    it("the same seed gives the same stream; seeds differing in one bit, or with lo and hi swapped, give different streams", () => {
      engine.scoped(() => {
        const stream = (lo: number, hi: number) => Array.from(nextU32s(engine, seeded(engine, lo, hi), 64));
        expect(stream(42, 0)).toEqual(stream(42, 0));
        expect(stream(0x12345678, 0x9abcdef0)).toEqual(stream(0x12345678, 0x9abcdef0));
        const distinct = [stream(42, 0), stream(43, 0), stream(42, 1), stream(0, 42), stream(1, 0), stream(0, 1), stream(0, 0)];
        const keys = new Set(distinct.map((s) => s.join(",")));
        expect(keys.size, "seeds (42,0) (43,0) (42,1) (0,42) (1,0) (0,1) (0,0) must give 7 distinct streams").toBe(distinct.length);
      });
    });

    it("the state is plain bytes: restoring saved bytes replays the stream, and two states do not interfere", () => {
      engine.scoped(() => {
        const a = seeded(engine, 5);
        const b = seeded(engine, 5);
        const saved = stateWords(engine, a);
        const first = nextU32s(engine, a, 100);
        setState(engine, a, saved);
        expect(Array.from(nextU32s(engine, a, 100)), "replay after restore").toEqual(Array.from(first));
        // b was seeded identically and never touched: it still starts at the beginning.
        expect(Array.from(nextU32s(engine, b, 100)), "untouched second state").toEqual(Array.from(first));
      });
    });
  });

  describe("rng_uniform", () => {
    it("equals low + (high − low)·((x >>> 8)·2^−24) in f32, bit for bit, at every size and for several ranges", () => {
      engine.scoped(() => {
        const ranges: [number, number][] = [
          [0, 1],
          [-1, 1],
          [-0.1, 0.1],
          [-3, 7],
          [2.5, 2.75],
          [-1e-3, 1e-3],
        ];
        let seed = 100;
        for (const [low, high] of ranges) {
          for (const n of SIZES) {
            const state = seeded(engine, seed);
            const got = uniform(engine, state, n, low, high);
            const gen = Xoshiro128.seeded(seed++);
            expectSameBits(got, uniformModel(gen, n, low, high), `uniform [${low}, ${high}) n=${n}`);
            // Exactly one u32 per value: the streams are still in step afterwards.
            expect(engine.kernels.rng_next_u32(state) >>> 0, `uniform n=${n}: draws consumed`).toBe(gen.nextU32());
          }
        }
      });
    });

    it("[0, 1) gives the 24-bit grid: every value is k·2^−24, and 100k draws have mean 1/2 within 5 standard errors", () => {
      engine.scoped(() => {
        const n = 100_000;
        const x = uniform(engine, seeded(engine, 77), n, 0, 1);
        let sum = 0;
        for (let i = 0; i < n; i++) {
          const k = x[i]! * 2 ** 24;
          if (!(Number.isInteger(k) && k >= 0 && k < 2 ** 24)) expect.fail(`value ${i} = ${x[i]} is not on the 2^-24 grid of [0, 1)`);
          sum += x[i]!;
        }
        // The mean of U[0, 1) has variance 1/12 per sample.
        expect(Math.abs(sum / n - 0.5)).toBeLessThan(STD_ERRORS * Math.sqrt(1 / 12 / n));
      });
    });

    it("stays in [low, high) at both ends of the unit range, for ranges starting at or spanning zero", () => {
      // f32 rounding is monotone, so u = 0 and the largest u = 1 − 2^−24 bound every output.
      checkUniformExtremes([
        [0, 1],
        [-1, 1],
        [-0.1, 0.1],
        [-0.5, 0.5],
        [-3, 7],
        [-1e-3, 1e-3],
        [0, 1e6],
      ]);
    });

    it("stays below high at the largest unit value also for ranges away from zero ([1, 2), [0.5, 1.5), [100, 101))", () => {
      // high − (low + span·u) = span·2^−24 at the largest u; when that is at most half an ulp of high the
      // f32 sum rounds up to high: 1 + (1 − 2^−24) rounds to 2. For [100, 101) it happens for 64 of the
      // 2^24 unit values (probability 2^−18 per draw).
      checkUniformExtremes([
        [1, 2],
        [0.5, 1.5],
        [100, 101],
      ]);
    });

    function checkUniformExtremes(ranges: [number, number][]): void {
      engine.scoped(() => {
        const state = engine.alloc(16);
        const out = engine.allocF32(1);
        const outside: string[] = [];
        for (const [low, high] of ranges) {
          for (const bits of [0x000000ff, 0xffffffff]) {
            // x >>> 8 = 0 and x >>> 8 = 2^24 − 1
            setState(engine, state, stateYielding(bits));
            engine.kernels.rng_uniform(state, out, 1, low, high);
            const v = engine.f32(out, 1)[0]!;
            if (!(v >= f32(low) && v < f32(high))) outside.push(`[${low}, ${high}) with u = ${(bits >>> 8) * 2 ** -24} gave ${v}`);
          }
        }
        if (outside.length > 0) expect.fail(`rng_uniform returned values outside [low, high): ${outside.join("; ")}`);
      });
    }
  });

  describe("rng_normal", () => {
    it("equals Box–Muller over the same u32 stream (cos, then sin; u1 = 1 − u) to float32 rounding", () => {
      engine.scoped(() => {
        let seed = 300;
        for (const n of [...SIZES, 10_000]) {
          const got = normal(engine, seeded(engine, seed), n, 0, 1);
          const want = normalModel(Xoshiro128.seeded(seed++), n);
          // Both sides compute in f64 and round to f32; only their log/sin/cos may differ (by an ulp of
          // f64), which can move the f32 result across one rounding boundary: one f32 ulp, 2^−23 relative.
          expectClose(got, want, { rtol: 2 ** -23, atol: 1e-300 }, `normal n=${n}`);
        }
      });
    });

    it("applies mean + std·z in f32 and is deterministic for a seed", () => {
      engine.scoped(() => {
        const z = normal(engine, seeded(engine, 9), 257, 0, 1);
        const shifted = normal(engine, seeded(engine, 9), 257, 2.5, 0.75);
        const again = normal(engine, seeded(engine, 9), 257, 2.5, 0.75);
        expectSameBits(again, shifted, "same seed, same output");
        expectSameBits(
          shifted,
          Float32Array.from(z, (v) => f32(f32(2.5) + f32(f32(0.75) * v))),
          "mean + std·z",
        );
      });
    });

    it("odd n drops the last twin but still consumes its pair of draws; the output is a prefix of n + 1", () => {
      engine.scoped(() => {
        for (const n of [1, 3, 5, 17, 257]) {
          const state = seeded(engine, 11);
          const odd = normal(engine, state, n, 0, 1);
          const even = normal(engine, seeded(engine, 11), n + 1, 0, 1);
          expectSameBits(odd, even.subarray(0, n), `normal n=${n} vs n=${n + 1}`);
          const gen = Xoshiro128.seeded(11);
          for (let i = 0; i < n + 1; i++) gen.nextU32(); // two draws per pair, n + 1 in all
          expect(engine.kernels.rng_next_u32(state) >>> 0, `normal n=${n}: draws consumed`).toBe(gen.nextU32());
        }
      });
    });

    it("100k samples of N(2, 3²) have mean and variance within 5 standard errors", () => {
      engine.scoped(() => {
        const n = 100_000;
        const [mu, sigma] = [2, 3];
        const { mean, variance } = meanAndVariance(normal(engine, seeded(engine, 2024), n, mu, sigma));
        // SE(mean) = σ/√n; SE(sample variance) = σ²·√(2/(n − 1)) for normal data.
        expect(Math.abs(mean - mu), `mean ${mean}`).toBeLessThan((STD_ERRORS * sigma) / Math.sqrt(n));
        expect(Math.abs(variance - sigma ** 2), `variance ${variance}`).toBeLessThan(STD_ERRORS * sigma ** 2 * Math.sqrt(2 / (n - 1)));
      });
    });
  });

  describe("rng_below", () => {
    const BOUNDS = [1, 2, 3, 10, 1000, 2 ** 31 + 1, 3 * 2 ** 30, 2 ** 32 - 1];

    it(`equals Lemire's multiply-and-reject over the same stream and stays below the bound (bounds ${BOUNDS.join(", ")})`, () => {
      engine.scoped(() => {
        for (const bound of BOUNDS) {
          const state = seeded(engine, bound % 1000);
          const gen = Xoshiro128.seeded(bound % 1000);
          for (let i = 0; i < 4000; i++) {
            const got = engine.kernels.rng_below(state, bound) >>> 0;
            const want = gen.below(bound);
            if (!(got < bound)) expect.fail(`rng_below(${bound}) returned ${got}, not below the bound (draw ${i})`);
            if (got !== want) expect.fail(`rng_below(${bound}), draw ${i}: got ${got}, Lemire's method gives ${want}`);
          }
          // Rejections consumed extra draws in both: the streams are still in step.
          expect(engine.kernels.rng_next_u32(state) >>> 0, `bound ${bound}: draws consumed`).toBe(gen.nextU32());
        }
      });
    });

    it("bound 1 always gives 0; bound 3·2^30 yields its lower third a third of the time (5 standard errors)", () => {
      engine.scoped(() => {
        const state = seeded(engine, 31);
        for (let i = 0; i < 1000; i++) expect(engine.kernels.rng_below(state, 1)).toBe(0);
        // A plain x mod 3·2^30 would give [0, 2^30) half the time (two preimages each), not a third.
        const n = 20_000;
        const bound = 3 * 2 ** 30;
        let lower = 0;
        for (let i = 0; i < n; i++) if (engine.kernels.rng_below(state, bound) >>> 0 < 2 ** 30) lower++;
        // Binomial standard error of a frequency: √(p(1 − p)/n).
        const p = 1 / 3;
        expect(Math.abs(lower / n - p), `lower third: ${lower} of ${n}`).toBeLessThan(STD_ERRORS * Math.sqrt((p * (1 - p)) / n));
      });
    });
  });

  describe("rng_permutation", () => {
    it("is a permutation of 0..n−1 for n = 1, 2, 3, 10, 1000, and equals Fisher–Yates with Lemire draws", () => {
      engine.scoped(() => {
        for (const n of [1, 2, 3, 10, 1000]) {
          for (const seed of [1, 2, 3]) {
            const state = seeded(engine, seed, n);
            const got = permutation(engine, state, n);
            expect(isPermutation(got), `n=${n} seed ${seed}: [${Array.from(got).slice(0, 20)}…] is not a permutation`).toBe(true);
            const gen = Xoshiro128.seeded(seed, n);
            expect(Array.from(got), `n=${n} seed ${seed}`).toEqual(Array.from(gen.permutation(n)));
            expect(engine.kernels.rng_next_u32(state) >>> 0, `n=${n}: draws consumed`).toBe(gen.nextU32());
          }
        }
      });
    });

    it("n = 0 writes nothing and draws nothing", () => {
      engine.scoped(() => {
        const state = seeded(engine, 4);
        const out = engine.putI32([-7]);
        engine.kernels.rng_permutation(state, out, 0);
        expect(engine.i32(out, 1)[0]).toBe(-7);
        expect(engine.kernels.rng_next_u32(state) >>> 0).toBe(Xoshiro128.seeded(4).nextU32());
      });
    });

    it("the 6 orders of 3 items are equally likely (χ² over 60 000 draws below the 1 − 1e-6 quantile of χ²(5))", () => {
      engine.scoped(() => {
        const draws = 60_000;
        const state = seeded(engine, 123);
        const out = engine.alloc(12);
        const counts = new Map<string, number>();
        for (let i = 0; i < draws; i++) {
          engine.kernels.rng_permutation(state, out, 3);
          const key = Array.from(engine.i32(out, 3)).join("");
          counts.set(key, (counts.get(key) ?? 0) + 1);
        }
        expect([...counts.keys()].sort()).toEqual(["012", "021", "102", "120", "201", "210"]);
        const expected = draws / 6;
        let chi2 = 0;
        for (const c of counts.values()) chi2 += (c - expected) ** 2 / expected;
        expect(chi2, `counts ${JSON.stringify(Object.fromEntries(counts))}`).toBeLessThan(CHI2_5DOF_1E6);
      });
    });
  });

  describe("rng_dropout_mask", () => {
    it("every value is 0 or f32(1/(1 − p)), chosen by u ≥ p over the same stream, at every size", () => {
      engine.scoped(() => {
        let seed = 500;
        for (const p of [0.1, 0.25, 0.5, 0.9]) {
          const keep = f32(1 / (1 - f32(p)));
          for (const n of SIZES) {
            const state = seeded(engine, seed);
            const got = dropoutMask(engine, state, n, p);
            const gen = Xoshiro128.seeded(seed++);
            const want = Float32Array.from({ length: n }, () => (gen.nextUnit() >= f32(p) ? keep : 0));
            for (let i = 0; i < n; i++) {
              if (got[i] !== 0 && got[i] !== keep) expect.fail(`p=${p} n=${n}: mask[${i}] = ${got[i]}, neither 0 nor ${keep}`);
            }
            expectSameBits(got, want, `dropout mask p=${p} n=${n}`);
            expect(engine.kernels.rng_next_u32(state) >>> 0, `p=${p} n=${n}: draws consumed`).toBe(gen.nextU32());
          }
        }
      });
    });

    it("keeps a fraction 1 − p of 100k entries within 5 standard errors (p = 0.1, 0.5, 0.9)", () => {
      engine.scoped(() => {
        const n = 100_000;
        for (const p of [0.1, 0.5, 0.9]) {
          const mask = dropoutMask(engine, seeded(engine, 600), n, p);
          const kept = mask.reduce((c, v) => c + (v !== 0 ? 1 : 0), 0);
          // Binomial standard error of a kept fraction: √(p(1 − p)/n).
          expect(Math.abs(kept / n - (1 - p)), `p=${p}: kept ${kept} of ${n}`).toBeLessThan(STD_ERRORS * Math.sqrt((p * (1 - p)) / n));
        }
      });
    });

    it("p = 0 keeps every entry with scale exactly 1", () => {
      engine.scoped(() => {
        for (const n of SIZES) expectSameBits(dropoutMask(engine, seeded(engine, n), n, 0), new Float32Array(n).fill(1), `p=0 n=${n}`);
      });
    });

    it.runIf(build === "debug")("debug build: p outside [0, 1) raises KernelAssertionError naming rng_dropout_mask", () => {
      engine.scoped(() => {
        const state = seeded(engine, 1);
        const mask = engine.allocF32(4);
        for (const p of [1, 1.5, -0.1]) {
          expect(() => engine.kernels.rng_dropout_mask(state, mask, 4, p), `p=${p}`).toThrow(KernelAssertionError);
          expect(() => engine.kernels.rng_dropout_mask(state, mask, 4, p), `p=${p}`).toThrow(/rng_dropout_mask: p must be in \[0, 1\)/);
        }
      });
    });
  });
});
