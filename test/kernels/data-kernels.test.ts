/**
 * Data movement and the small kernels next to it:
 *
 *   gather_rows              vs a TypeScript byte gather (odd widths, repeated and out-of-order indices, offsets)
 *   augment_shift            vs a TypeScript translation whose shifts come from an independent model of the
 *                            PRNG (helpers/xoshiro.ts: Lemire's bounded integers, dx before dy, per image)
 *   augment_noise            x + noise with noise = rng_normal's draws from the same state
 *   axpby                    vs axpby_ref bit for bit, vs the float32 formula exactly, vs float64 within rounding
 *   probabilities_to_logits  softmax at temperature T gives the probabilities back; zeros give finite logits
 *   distill_loss, flag 1     soft cross-entropy: SIMD vs reference, float64 value, same gradient as KL,
 *                            = KL + T²·teacher entropy
 *   math_cos, math_pow       within 1 ulp of Math.cos / Math.pow, exact at simple points
 *
 * Outputs are followed by sentinels so that a write past the end shows.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../../src/index.js";
import { DISTILL_SOFT_CROSS_ENTROPY } from "../../src/runtime/abi.js";
import { EXACT_BUILDS, loadBuild, type TestEngine } from "../helpers/engines.js";
import { expectClose, expectNear, expectSameBits } from "../helpers/compare.js";
import { logSoftmax64, softmax64 } from "../helpers/reference.js";
import { TestRandom } from "../helpers/rand.js";
import { kernelBuffers, VECTOR_SIZES } from "../helpers/kernel-buffers.js";
import { Xoshiro128 } from "../helpers/xoshiro.js";

const SIZES = VECTOR_SIZES;
const U = 2 ** -24;
const f32 = Math.fround;

// ---------------------------------------------------------------- memory helpers

function stateWords(engine: TestEngine, state: number): Uint32Array {
  return new Uint32Array(engine.kernels.memory.buffer, state, 4).slice();
}

/** A 16-byte generator state seeded with rng_seed(lo, hi). */
function seeded(engine: TestEngine, lo: number, hi = 0): number {
  const state = engine.alloc(16);
  engine.kernels.rng_seed(state, lo, hi);
  return state;
}

// ---------------------------------------------------------------- references

function gather(src: Uint8Array, indices: Int32Array, first: number, count: number, width: number): Uint8Array {
  const out = new Uint8Array(count * width);
  for (let i = 0; i < count; i++) {
    const row = indices[first + i]!;
    out.set(src.subarray(row * width, (row + 1) * width), i * width);
  }
  return out;
}

/** dst[y][x] = src[y − dy][x − dx] (0 outside), one image. */
function translate(src: Float32Array, side: number, dx: number, dy: number): Float32Array {
  const out = new Float32Array(side * side);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const sy = y - dy;
      const sx = x - dx;
      if (sy >= 0 && sy < side && sx >= 0 && sx < side) out[y * side + x] = src[sy * side + sx]!;
    }
  }
  return out;
}

/** The documented augment_shift with its shifts drawn from the model generator. */
function shiftModel(src: Float32Array, rows: number, side: number, maxShift: number, gen: Xoshiro128) {
  const image = side * side;
  const out = new Float32Array(rows * image);
  const shifts: [number, number][] = [];
  for (let r = 0; r < rows; r++) {
    const dx = gen.below(2 * maxShift + 1) - maxShift;
    const dy = gen.below(2 * maxShift + 1) - maxShift;
    shifts.push([dx, dy]);
    out.set(translate(src.subarray(r * image, (r + 1) * image), side, dx, dy), r * image);
  }
  return { out, shifts };
}

/** Distance in units in the last place between two finite doubles (or 0 if both NaN). */
function ulpDistance(a: number, b: number): number {
  if (Number.isNaN(a) && Number.isNaN(b)) return 0;
  if (Number.isNaN(a) || Number.isNaN(b)) return Infinity;
  const bits = new BigInt64Array(new Float64Array([a, b]).buffer);
  const ordered = (x: bigint) => (x < 0n ? -(x & 0x7fffffffffffffffn) : x);
  const d = ordered(bits[0]!) - ordered(bits[1]!);
  return Number(d < 0n ? -d : d);
}

// ---------------------------------------------------------------- tests

describe.each(EXACT_BUILDS)("data kernels, %s build", (build) => {
  let engine: TestEngine;
  beforeAll(async () => {
    engine = await loadBuild(build);
  });

  // ------------------------------------------------------------ gather_rows

  describe("gather_rows", () => {
    it("copies rows indices[first .. first+count) byte for byte (widths 1, 4, 7, 12, 3136; repeated and out-of-order indices)", () => {
      const rnd = new TestRandom(5);
      const rows = 11;
      const indices = Int32Array.from([3, 3, 0, 10, 5, 1, 10, 7, 2, 9, 4, 4, 8, 6, 0]);
      for (const width of [1, 4, 7, 12, 3136]) {
        for (const [first, count] of [
          [0, 15],
          [2, 5],
          [5, 1],
          [14, 1],
          [3, 0],
          [0, 0],
          [7, 8],
        ] as const) {
          engine.scoped(() => {
            const src = Uint8Array.from({ length: rows * width }, () => Math.floor(rnd.next() * 256));
            const sp = engine.alloc(src.length);
            new Uint8Array(engine.kernels.memory.buffer, sp, src.length).set(src);
            const ip = engine.putI32(indices);
            const outBytes = count * width;
            const dp = engine.alloc(outBytes + 64);
            new Uint8Array(engine.kernels.memory.buffer, dp, outBytes + 64).fill(0xa5);
            engine.kernels.gather_rows(dp, sp, ip, first, count, width);
            const got = new Uint8Array(engine.kernels.memory.buffer, dp, outBytes + 64).slice();
            const want = gather(src, indices, first, count, width);
            const at = `width=${width} first=${first} count=${count}`;
            const bad = want.findIndex((b, i) => got[i] !== b);
            if (bad >= 0) {
              expect.fail(
                `${at}: byte ${bad} (row ${Math.floor(bad / width)}, source row ${indices[first + Math.floor(bad / width)]}) is ${got[bad]}, expected ${want[bad]}`,
              );
            }
            expect(
              Array.from(got.subarray(outBytes)).every((b) => b === 0xa5),
              `${at}: wrote past count·rowBytes`,
            ).toBe(true);
            const srcAfter = new Uint8Array(engine.kernels.memory.buffer, sp, src.length);
            expect(
              srcAfter.every((b, i) => b === src[i]),
              `${at}: source changed`,
            ).toBe(true);
          });
        }
      }
    });

    it("gathers f32 image rows (784 floats) bit for bit, NaN payloads and -0 included", () => {
      engine.scoped(() => {
        const rnd = new TestRandom(6);
        const rows = 6;
        const src = rnd.normal(rows * 784);
        const words = new Uint32Array(src.buffer);
        words[3] = 0x7fc01234; // a NaN payload
        words[784 + 5] = 0x80000000; // −0
        const sp = engine.putF32(src);
        const indices = Int32Array.from([5, 1, 1, 0, 3]);
        const ip = engine.putI32(indices);
        const dp = engine.alloc(indices.length * 784 * 4);
        engine.kernels.gather_rows(dp, sp, ip, 0, indices.length, 784 * 4);
        const want = new Float32Array(indices.length * 784);
        indices.forEach((row, i) => want.set(src.subarray(row * 784, (row + 1) * 784), i * 784));
        expectSameBits(engine.readF32(dp, want.length), want, "gathered images");
      });
    });
  });

  // ------------------------------------------------------------ augment_shift

  describe("augment_shift", () => {
    const cases: [side: number, maxShift: number, rows: number][] = [
      [5, 0, 6],
      [5, 1, 40],
      [5, 2, 60],
      [5, 4, 60],
      [28, 0, 3],
      [28, 1, 12],
      [28, 2, 30],
    ];

    it.each(cases)(
      "side %i, maxShift %i: equals the model translation for %i images, zero-filled, and leaves the generator where the model does",
      (side, maxShift, rows) => {
        engine.scoped(() => {
          const image = side * side;
          const rnd = new TestRandom(side * 100 + maxShift);
          // Nonzero values, so that every zero in the output was shifted in from outside.
          const src = Float32Array.from({ length: rows * image }, () => 0.5 + rnd.next());
          const sp = engine.putF32(src);
          const dp = kernelBuffers(engine).output(rows * image);
          const seed = 1000 + side + maxShift;
          const state = seeded(engine, seed, 7);
          const gen = Xoshiro128.seeded(seed, 7);
          engine.kernels.augment_shift(dp, sp, rows, side, maxShift, state);
          const want = shiftModel(src, rows, side, maxShift, gen);
          const got = engine.readF32(dp, rows * image);
          for (let r = 0; r < rows; r++) {
            const [dx, dy] = want.shifts[r]!;
            expectSameBits(
              got.subarray(r * image, (r + 1) * image),
              want.out.subarray(r * image, (r + 1) * image),
              `image ${r} (model shift dx=${dx}, dy=${dy})`,
            );
            const zeros = got.subarray(r * image, (r + 1) * image).filter((v) => v === 0).length;
            expect(zeros, `image ${r}: zeros shifted in`).toBe(image - (side - Math.min(side, Math.abs(dx))) * (side - Math.min(side, Math.abs(dy))));
          }
          kernelBuffers(engine).expectGuard(dp, rows * image, "augment_shift output");
          expect(
            Array.from(engine.readF32(sp, src.length)).every((v, i) => v === src[i]),
            "source changed",
          ).toBe(true);
          expect(Array.from(stateWords(engine, state)), "generator state afterwards").toEqual(Array.from(gen.s));
          if (maxShift > 0) {
            // The case must really exercise every shift value in both directions.
            expect(new Set(want.shifts.map(([dx]) => dx)).size, "distinct dx drawn").toBe(2 * maxShift + 1);
            expect(new Set(want.shifts.map(([, dy]) => dy)).size, "distinct dy drawn").toBe(2 * maxShift + 1);
          }
        });
      },
    );

    it("maxShift 0 copies every image exactly and still draws two numbers per image", () => {
      engine.scoped(() => {
        const rows = 9;
        const src = new TestRandom(77).normal(rows * 784);
        const sp = engine.putF32(src);
        const dp = engine.allocF32(rows * 784);
        const state = seeded(engine, 3);
        engine.kernels.augment_shift(dp, sp, rows, 28, 0, state);
        expectSameBits(engine.readF32(dp, rows * 784), src, "maxShift 0 output");
        const gen = Xoshiro128.seeded(3);
        for (let i = 0; i < 2 * rows; i++) gen.nextU32();
        expect(Array.from(stateWords(engine, state)), "state after 2 draws per image").toEqual(Array.from(gen.s));
      });
    });

    it("each output image is its input translated by the drawn (dx, dy): dst[y][x] = src[y − dy][x − dx], dx drawn first", () => {
      engine.scoped(() => {
        // Unique values per pixel: the translation can be recovered from the output alone.
        const side = 7;
        const maxShift = 2;
        const rows = 50;
        const image = side * side;
        const src = Float32Array.from({ length: rows * image }, (_, i) => 1 + (i % image));
        const sp = engine.putF32(src);
        const dp = engine.allocF32(rows * image);
        const state = seeded(engine, 4242);
        engine.kernels.augment_shift(dp, sp, rows, side, maxShift, state);
        const got = engine.readF32(dp, rows * image);
        const gen = Xoshiro128.seeded(4242);
        for (let r = 0; r < rows; r++) {
          const out = got.subarray(r * image, (r + 1) * image);
          const found: string[] = [];
          for (let dy = -maxShift; dy <= maxShift; dy++) {
            for (let dx = -maxShift; dx <= maxShift; dx++) {
              const t = translate(src.subarray(r * image, (r + 1) * image), side, dx, dy);
              if (t.every((v, i) => v === out[i])) found.push(`dx=${dx}, dy=${dy}`);
            }
          }
          const dx = gen.below(2 * maxShift + 1) - maxShift;
          const dy = gen.below(2 * maxShift + 1) - maxShift;
          expect(found, `image ${r}: translations matching the output`).toEqual([`dx=${dx}, dy=${dy}`]);
        }
      });
    });
  });

  // ------------------------------------------------------------ augment_noise

  describe("augment_noise", () => {
    it("adds exactly rng_normal(0, std)'s draws from the same state, writes them to noise, and advances the state the same way (sizes 0 … 9, 257)", () => {
      const rnd = new TestRandom(31);
      let seed = 500;
      for (const n of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 257]) {
        for (const std of [0.25, 1]) {
          engine.scoped(() => {
            const x0 = rnd.normal(n, 2);
            const xp = kernelBuffers(engine).input(x0);
            const noise = kernelBuffers(engine).output(n);
            // A state somewhere in its stream, and a byte copy of it.
            const state = seeded(engine, seed++, 1);
            for (let i = 0; i < n % 3; i++) engine.kernels.rng_next_u32(state);
            const twin = engine.alloc(16);
            new Uint32Array(engine.kernels.memory.buffer, twin, 4).set(stateWords(engine, state));
            const draws = engine.allocF32(Math.max(n, 1));
            engine.kernels.augment_noise(xp, noise, n, std, state);
            engine.kernels.rng_normal(twin, draws, n, 0, std);
            const at = `n=${n} std=${std}`;
            const z = engine.readF32(draws, n);
            expectSameBits(engine.readF32(noise, n), z, `${at}: noise buffer vs rng_normal`);
            expectSameBits(
              engine.readF32(xp, n),
              Float32Array.from(x0, (v, i) => f32(v + z[i]!)),
              `${at}: x + noise`,
            );
            expect(Array.from(stateWords(engine, state)), `${at}: state afterwards`).toEqual(Array.from(stateWords(engine, twin)));
            kernelBuffers(engine).expectGuard(xp, n, `${at}: x`);
            kernelBuffers(engine).expectGuard(noise, n, `${at}: noise`);
          });
        }
      }
    });

    it("noise has the requested spread: std 0.1 over 20,000 values has sample std within 5 standard errors", () => {
      engine.scoped(() => {
        const n = 20000;
        const xp = engine.putF32(new Float32Array(n).fill(3));
        const noise = engine.allocF32(n);
        engine.kernels.augment_noise(xp, noise, n, 0.1, seeded(engine, 8));
        const d = Array.from(engine.readF32(xp, n), (v) => v - 3);
        const mean = d.reduce((s, v) => s + v, 0) / n;
        const sd = Math.sqrt(d.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1));
        expect(Math.abs(mean), "mean of the added noise").toBeLessThan((5 * 0.1) / Math.sqrt(n));
        expect(Math.abs(sd - 0.1), "std of the added noise").toBeLessThan(5 * 0.1 * Math.sqrt(1 / (2 * (n - 1))) + 1e-6);
      });
    });
  });

  // ------------------------------------------------------------ axpby

  describe("axpby", () => {
    const coefficients: [number, number][] = [
      [0.5, -1.25],
      [2, 0],
      [0, 1],
      [1e-3, 0.9],
      [-3.7, 1e4],
      [1, 1],
    ];

    it("y = αx + βy: SIMD equals axpby_ref bit for bit, equals f32(f32(αx) + f32(βy)) exactly, and float64 within rounding", () => {
      const rnd = new TestRandom(12);
      for (const n of SIZES) {
        for (const [alpha, beta] of coefficients) {
          engine.scoped(() => {
            const x = rnd.normal(n, 3);
            const y = rnd.normal(n, 3);
            const xp = kernelBuffers(engine).input(x);
            const fast = kernelBuffers(engine).input(y);
            const ref = kernelBuffers(engine).input(y);
            engine.kernels.axpby(fast, xp, n, alpha, beta);
            engine.kernels.axpby_ref(ref, xp, n, alpha, beta);
            const at = `n=${n} α=${alpha} β=${beta}`;
            const got = engine.readF32(fast, n);
            expectSameBits(got, engine.readF32(ref, n), `${at}: SIMD vs reference`);
            const a = f32(alpha);
            const b = f32(beta);
            expectSameBits(
              got,
              Float32Array.from(y, (yi, i) => f32(f32(a * x[i]!) + f32(b * yi))),
              `${at}: f32 formula`,
            );
            const exact = Array.from(y, (yi, i) => a * x[i]! + b * yi);
            const scale = Array.from(y, (yi, i) => Math.abs(a * x[i]!) + Math.abs(b * yi));
            expectClose(got, exact, { rtol: 2 * U * 1.01, atol: 0 }, `${at}: vs float64`, scale);
            kernelBuffers(engine).expectGuard(fast, n, `${at}: y`);
            expect(Array.from(engine.readF32(xp, n)), `${at}: x changed`).toEqual(Array.from(x));
          });
        }
      }
    });

    it("in place (y aliases x): y = (α + β)·y computed as f32(f32(αy) + f32(βy)), SIMD and reference alike", () => {
      const rnd = new TestRandom(13);
      for (const n of SIZES) {
        for (const [alpha, beta] of coefficients) {
          engine.scoped(() => {
            const v = rnd.normal(n, 3);
            const fast = kernelBuffers(engine).input(v);
            const ref = kernelBuffers(engine).input(v);
            engine.kernels.axpby(fast, fast, n, alpha, beta);
            engine.kernels.axpby_ref(ref, ref, n, alpha, beta);
            const at = `n=${n} α=${alpha} β=${beta} in place`;
            const got = engine.readF32(fast, n);
            expectSameBits(got, engine.readF32(ref, n), `${at}: SIMD vs reference`);
            const a = f32(alpha);
            const b = f32(beta);
            expectSameBits(
              got,
              Float32Array.from(v, (vi) => f32(f32(a * vi) + f32(b * vi))),
              `${at}: f32 formula`,
            );
            kernelBuffers(engine).expectGuard(fast, n, at);
          });
        }
      }
    });
  });

  // ------------------------------------------------------------ probabilities_to_logits

  describe("probabilities_to_logits", () => {
    /** Runs softmax_forward(x, T) in wasm. */
    function softmax(x: Float32Array, rows: number, cols: number, t: number): Float32Array {
      return engine.scoped(() => {
        const xp = engine.putF32(x);
        const yp = engine.allocF32(x.length);
        engine.kernels.softmax_forward(yp, xp, rows, cols, t);
        return engine.readF32(yp, x.length);
      });
    }

    function toLogits(p: Float32Array, t: number): Float32Array {
      return engine.scoped(() => {
        const pp = engine.putF32(p);
        const yp = kernelBuffers(engine).output(p.length);
        engine.kernels.probabilities_to_logits(yp, pp, p.length, t);
        kernelBuffers(engine).expectGuard(yp, p.length, `probabilities_to_logits T=${t}`);
        return engine.readF32(yp, p.length);
      });
    }

    /**
     * Softmax of T·log p at T gives p back up to float32 rounding: log p carries a relative
     * error of a few ulps, i.e. an absolute error of about |log p|·2^−23 in the exponent,
     * which exp turns into that relative error of p; the max subtraction, exp and the
     * normalisation add a few ulps more.
     */
    function expectRoundTrip(p: Float32Array, rows: number, cols: number, t: number, what: string): void {
      const back = softmax(toLogits(p, t), rows, cols, t);
      const scale = Array.from(p, (pi) => pi * (16 + 4 * Math.abs(Math.log(pi))));
      expectClose(back, p, { rtol: U, atol: 1e-30 }, what, scale);
    }

    it.each([0.5, 1, 4])("softmax_forward(·, T) of the logits gives the probabilities back, T = %s", (t) => {
      let seed = 40;
      for (const cols of [1, 3, 4, 5, 10, 17, 64]) {
        const rows = 5;
        const x = new TestRandom(seed++).normal(rows * cols, 2 * t);
        const p = softmax(x, rows, cols, t);
        expectRoundTrip(p, rows, cols, t, `cols=${cols} T=${t}`);
        // Also against float64: y = T·log p.
        const y = toLogits(p, t);
        expectClose(
          y,
          Array.from(p, (pi) => t * Math.log(pi)),
          { rtol: 4 * U, atol: t * 2 * U },
          `logits cols=${cols} T=${t}`,
        );
      }
    });

    it.each([0.5, 1, 4])("an ensemble's averaged probabilities survive the round trip, T = %s", (t) => {
      const rows = 6;
      const cols = 10;
      const rnd = new TestRandom(90);
      const p1 = softmax(rnd.normal(rows * cols, 3), rows, cols, t);
      const p2 = softmax(rnd.normal(rows * cols, 3), rows, cols, t);
      const mean = Float32Array.from(p1, (v, i) => f32((v + p2[i]!) / 2));
      expectRoundTrip(mean, rows, cols, t, `ensemble mean T=${t}`);
    });

    it.each([0.5, 1, 4])("zeros (and subnormals) give finite logits T·log(1.18e-38), whose softmax is ~0, T = %s", (t) => {
      const p = Float32Array.from([0, 0.25, 0, 0.75, 1e-45, 0, 0.0, 0]);
      const y = toLogits(p, t);
      expect(y.every(Number.isFinite), `logits ${Array.from(y)}`).toBe(true);
      const floorLogit = t * Math.log(1.17549435e-38);
      for (const i of [0, 2, 4, 5, 6, 7]) expectNear(y[i]!, floorLogit, { rtol: 4 * U, atol: 0 }, `logit of p[${i}] = ${p[i]}`);
      const back = softmax(y, 1, p.length, t);
      expectClose(back, p, { rtol: 16 * U, atol: 1e-36 }, `softmax of the logits, T=${t}`);
    });
  });

  // ------------------------------------------------------------ distill_loss with soft cross-entropy

  describe("distill_loss with DISTILL_SOFT_CROSS_ENTROPY", () => {
    interface Batch {
      s: Float32Array;
      t: Float32Array;
      labels: Int32Array;
      rows: number;
      cols: number;
    }

    function batch(rows: number, cols: number, seed: number, std = 3): Batch {
      const rnd = new TestRandom(seed);
      return { s: rnd.normal(rows * cols, std), t: rnd.normal(rows * cols, std), labels: rnd.ints(rows, cols), rows, cols };
    }

    function run(b: Batch, ref: boolean, temp: number, alpha: number, flags: number) {
      return engine.scoped(() => {
        const k = engine.kernels;
        const sp = engine.putF32(b.s);
        const tp = engine.putF32(b.t);
        const lp = engine.putI32(b.labels);
        const gp = kernelBuffers(engine).output(b.s.length);
        const out = engine.alloc(24);
        const loss = (ref ? k.distill_loss_ref : k.distill_loss)(out, gp, sp, tp, lp, b.rows, b.cols, temp, alpha, flags);
        kernelBuffers(engine).expectGuard(gp, b.s.length, "distill_loss grad");
        const [total, hard, soft] = engine.f64(out, 3);
        return { loss, total: total!, hard: hard!, soft: soft!, grad: engine.readF32(gp, b.s.length) };
      });
    }

    /** T²·mean_rows(−Σ p_t log p_s) and T²·mean_rows(H(p_t)) in float64. */
    function softCe64(b: Batch, temp: number) {
      const ls = logSoftmax64(b.s, b.rows, b.cols, temp);
      const lt = logSoftmax64(b.t, b.rows, b.cols, temp);
      const pt = softmax64(b.t, b.rows, b.cols, temp);
      let ce = 0;
      let entropy = 0;
      for (let i = 0; i < ls.length; i++) {
        ce -= pt[i]! * ls[i]!;
        if (pt[i]! > 0) entropy -= pt[i]! * lt[i]!;
      }
      return { ce: (temp * temp * ce) / b.rows, entropy: (temp * temp * entropy) / b.rows };
    }

    /**
     * Float32 rounding in the row sums: a few ulps of the logs involved (|x|/T ≈ 3σ/T, plus
     * log cols) per term, times T² (measured errors are at least 10 times smaller).
     */
    const softTol = (temp: number, cols: number) => ({ rtol: 1e-6, atol: 4e-7 * temp * temp * (1 + 10 / temp) * Math.log2(cols + 1) });

    it("SIMD equals distill_loss_ref bit for bit: returned total, [total, hard, soft] and gradient", () => {
      let seed = 1;
      for (const rows of [1, 3, 5, 17]) {
        for (const cols of SIZES) {
          for (const [temp, alpha] of [
            [1, 0.5],
            [4, 0],
            [3, 0.3],
          ] as const) {
            const b = batch(rows, cols, seed++);
            const fast = run(b, false, temp, alpha, DISTILL_SOFT_CROSS_ENTROPY);
            const ref = run(b, true, temp, alpha, DISTILL_SOFT_CROSS_ENTROPY);
            const at = `rows=${rows} cols=${cols} T=${temp} α=${alpha}`;
            expect(fast.loss, `${at}: loss`).toBe(ref.loss);
            expect([fast.total, fast.hard, fast.soft], `${at}: parts`).toEqual([ref.total, ref.hard, ref.soft]);
            expect(fast.total, `${at}: out[0] is the returned total`).toBe(fast.loss);
            expectSameBits(fast.grad, ref.grad, `${at}: grad`);
          }
        }
      }
    });

    it("the soft part equals T²·mean_rows(−Σ p_t·log p_s) in float64", () => {
      let seed = 100;
      for (const cols of [1, 3, 10, 17, 64]) {
        for (const temp of [1, 2, 4, 10]) {
          const b = batch(7, cols, seed++);
          const got = run(b, false, temp, 0.5, DISTILL_SOFT_CROSS_ENTROPY);
          const want = softCe64(b, temp);
          expectNear(got.soft, want.ce, softTol(temp, cols), `soft cross-entropy cols=${cols} T=${temp}`);
          expect(got.loss, `total cols=${cols} T=${temp}`).toBe(f32(0.5) * got.hard + f32(1 - f32(0.5)) * got.soft);
        }
      }
    });

    it("the gradient and the hard part are those of the KL flavour, bit for bit (SIMD and reference)", () => {
      let seed = 200;
      for (const cols of SIZES) {
        for (const [temp, alpha] of [
          [1, 0.5],
          [4, 0],
          [2.5, 0.9],
          [4, 1],
        ] as const) {
          const b = batch(5, cols, seed++);
          for (const ref of [false, true]) {
            const ce = run(b, ref, temp, alpha, DISTILL_SOFT_CROSS_ENTROPY);
            const kl = run(b, ref, temp, alpha, 0);
            const at = `${ref ? "reference" : "SIMD"} cols=${cols} T=${temp} α=${alpha}`;
            expectSameBits(ce.grad, kl.grad, `${at}: grad with flag 1 vs flag 0`);
            expect(ce.hard, `${at}: hard part`).toBe(kl.hard);
          }
        }
      }
    });

    it("soft cross-entropy = KL soft part + T²·mean teacher entropy (float64 check); equal to T²·entropy when student = teacher", () => {
      let seed = 300;
      for (const cols of [2, 5, 10, 33]) {
        for (const temp of [1, 4]) {
          const b = batch(6, cols, seed++);
          const ce = run(b, false, temp, 0.3, DISTILL_SOFT_CROSS_ENTROPY);
          const kl = run(b, false, temp, 0.3, 0);
          const { entropy } = softCe64(b, temp);
          const tol = softTol(temp, cols);
          const at = `cols=${cols} T=${temp}`;
          expectNear(ce.soft - kl.soft, entropy, { rtol: tol.rtol, atol: 2 * tol.atol }, `${at}: CE − KL vs T²·H(p_t)`);
          expect(ce.soft, `${at}: soft CE ≥ KL (entropy ≥ 0)`).toBeGreaterThanOrEqual(kl.soft);
          const same = { ...b, s: b.t };
          const self = run(same, false, temp, 0, DISTILL_SOFT_CROSS_ENTROPY);
          expectNear(self.soft, softCe64(same, temp).entropy, tol, `${at}: student = teacher gives T²·H(p_t)`);
          expect(Math.abs(run(same, false, temp, 0, 0).soft), `${at}: KL of identical inputs`).toBeLessThan(tol.atol);
        }
      }
    });
  });

  // ------------------------------------------------------------ math_cos, math_pow

  describe("math_cos and math_pow", () => {
    it("are exact at simple points (cos 0 = 1, 2^10 = 1024, 0.5^3 = 0.125, …) and follow IEEE special cases", () => {
      const k = engine.kernels;
      expect(k.math_cos(0), "cos(0)").toBe(1);
      expect(k.math_cos(-0), "cos(−0)").toBe(1);
      expect(k.math_cos(NaN), "cos(NaN)").toBeNaN();
      expect(k.math_cos(Infinity), "cos(∞)").toBeNaN();
      const exact: [number, number, number][] = [
        [2, 10, 1024],
        [0.5, 3, 0.125],
        [2, -3, 0.125],
        [10, 3, 1000],
        [9, 0.5, 3],
        [-2, 3, -8],
        [-2, 2, 4],
        [7.5, 0, 1],
        [7.5, 1, 7.5],
        [0, 2, 0],
        [0, -1, Infinity],
        [4, -0.5, 0.5],
        [0.1, 0, 1],
        [1, 12345.678, 1],
        [NaN, 0, 1],
        [2, -1074, 5e-324],
        [2, 1023, 2 ** 1023],
        [2, 1024, Infinity],
      ];
      for (const [x, y, want] of exact) expect(k.math_pow(x, y), `pow(${x}, ${y})`).toBe(want);
      expect(k.math_pow(-8, 1 / 3), "pow(−8, 1/3)").toBeNaN();
      expect(k.math_pow(NaN, 2), "pow(NaN, 2)").toBeNaN();
    });

    it("math_cos is within 1 ulp of Math.cos on a learning-rate schedule's [0, π] and for |x| up to 1e6", () => {
      const k = engine.kernels;
      const xs: number[] = [];
      for (let i = 0; i <= 10000; i++) xs.push((Math.PI * i) / 10000);
      const rnd = new TestRandom(21);
      for (let i = 0; i < 20000; i++) xs.push((rnd.next() < 0.5 ? -1 : 1) * 10 ** (-8 + 14 * rnd.next()));
      for (const x of xs) {
        const d = ulpDistance(k.math_cos(x), Math.cos(x));
        if (d > 1) expect.fail(`math_cos(${x}) = ${k.math_cos(x)}, Math.cos gives ${Math.cos(x)} (${d} ulp apart)`);
      }
    });

    it("math_cos stays within 2 ulp of the correctly rounded cosine for large arguments (|x| > 2^20·π/2)", () => {
      // Correctly rounded values, computed with 300-bit arithmetic (mpmath). AssemblyScript's
      // range reduction loses up to one more ulp out here (documented in assembly/scalar.ts);
      // schedules only use [0, π].
      const table: [number, number][] = [
        [1764379.638247192, -0.05703461386141412],
        [-1988846.0142537951, -0.4583679132549384],
        [-2994765.1736438274, -0.421311973040181],
        [-6340181.194245815, 0.44184252687422787],
        [175207934.34232473, 0.42294158559539896],
        [366345840.04059434, -0.44621059218177267],
        [764736321754753.6, 0.4583057762896209],
        [-763565873727202.4, 0.10104677625280314],
      ];
      const bad = table
        .map(([x, want]) => ({ x, want, got: engine.kernels.math_cos(x) }))
        .filter((r) => ulpDistance(r.got, r.want) > 2)
        .map((r) => `cos(${r.x}): got ${r.got}, correctly rounded ${r.want} (${ulpDistance(r.got, r.want)} ulp)`);
      expect(bad, "arguments where math_cos is more than 2 ulp off").toEqual([]);
    });

    it("math_pow is within 1 ulp of Math.pow for step-decay factors γ^k and for random x ∈ [1e-3, 1e3], y ∈ [−30, 30]", () => {
      const k = engine.kernels;
      const cases: [number, number][] = [];
      for (const gamma of [0.1, 0.5, 0.9, 0.95, 0.99, 0.999]) {
        for (let step = 0; step <= 2000; step += 7) cases.push([gamma, step], [gamma, step / 30]);
      }
      const rnd = new TestRandom(22);
      for (let i = 0; i < 20000; i++) cases.push([10 ** (-3 + 6 * rnd.next()), -30 + 60 * rnd.next()]);
      for (const [x, y] of cases) {
        const d = ulpDistance(k.math_pow(x, y), Math.pow(x, y));
        if (d > 1) expect.fail(`math_pow(${x}, ${y}) = ${k.math_pow(x, y)}, Math.pow gives ${Math.pow(x, y)} (${d} ulp apart)`);
      }
    });
  });
});
