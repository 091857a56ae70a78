/**
 * GEMM: the blocked SIMD kernels against their triple-loop twins (bit for bit) and against
 * a float64 reference (to rounding), at sizes below, at and above the 4×8 tile, the
 * MC=64 / KC=256 / NC=256 blocks, the narrow path's 8×4 and 8×2 tiles and 1024-deep blocks,
 * and the few-row paths (m < 4: four B rows per pass, eight columns per step; for nt, 8-row groups four steps deep),
 * with padded (odd) leading dimensions whose padding holds
 * NaN so that any read of it would show, and with bias, ReLU and accumulation.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { GEMM_ACCUMULATE, GEMM_RELU, type Engine } from "../../src/index.js";
import { EXACT_BUILDS, loadBuild, relaxedAvailable, type TestEngine } from "../helpers/engines.js";
import { expectClose, expectSameBits } from "../helpers/compare.js";
import { gemm64 } from "../helpers/reference.js";
import { TestRandom } from "../helpers/rand.js";

type Form = "nn" | "nt" | "tn";
const FORMS: Form[] = ["nn", "nt", "tn"];

interface Case {
  form: Form;
  m: number;
  n: number;
  k: number;
  /** Extra columns of padding in A, B and C (0 = packed). */
  pad?: [number, number, number];
  flags?: number;
  bias?: boolean;
}

interface Inputs {
  a: Float32Array;
  b: Float32Array;
  c0: Float32Array;
  bias?: Float32Array;
  lda: number;
  ldb: number;
  ldc: number;
}

const C_SENTINEL = 12345.5;

function makeInputs(cs: Case, seed: number): Inputs {
  const rnd = new TestRandom(seed);
  const [pa, pb, pc] = cs.pad ?? [0, 0, 0];
  const transA = cs.form === "tn";
  const transB = cs.form === "nt";
  const aRows = transA ? cs.k : cs.m;
  const aCols = transA ? cs.m : cs.k;
  const bRows = transB ? cs.n : cs.k;
  const bCols = transB ? cs.k : cs.n;
  const lda = aCols + pa;
  const ldb = bCols + pb;
  const ldc = cs.n + pc;
  const fill = (rows: number, cols: number, ld: number, padValue: number) => {
    const out = new Float32Array(rows * ld).fill(padValue);
    const data = rnd.uniform(rows * cols);
    for (let r = 0; r < rows; r++) out.set(data.subarray(r * cols, (r + 1) * cols), r * ld);
    return out;
  };
  return {
    a: fill(aRows, aCols, lda, NaN),
    b: fill(bRows, bCols, ldb, NaN),
    c0: fill(cs.m, cs.n, ldc, C_SENTINEL),
    bias: cs.bias ? rnd.uniform(cs.n) : undefined,
    lda,
    ldb,
    ldc,
  };
}

/** Runs one form on copies of the inputs and returns the whole C buffer (padding included). */
function run(engine: TestEngine, cs: Case, inp: Inputs, reference: boolean): Float32Array {
  return engine.scoped(() => {
    const a = engine.putF32(inp.a);
    const b = engine.putF32(inp.b);
    const c = engine.putF32(inp.c0);
    const bias = inp.bias ? engine.putF32(inp.bias) : 0;
    const name = `gemm_${cs.form}${reference ? "_ref" : ""}` as const;
    engine.kernels[name](c, a, b, bias, cs.m, cs.n, cs.k, inp.lda, inp.ldb, inp.ldc, cs.flags ?? 0);
    return engine.readF32(c, inp.c0.length);
  });
}

/** Expected C (valid part) in float64 and the per-element error scale. */
function expected(cs: Case, inp: Inputs): { c: Float64Array; scale: Float64Array } {
  const { c, scale } = gemm64(inp.a, inp.b, {
    m: cs.m,
    n: cs.n,
    k: cs.k,
    transA: cs.form === "tn",
    transB: cs.form === "nt",
    lda: inp.lda,
    ldb: inp.ldb,
  });
  for (let i = 0; i < cs.m; i++) {
    for (let j = 0; j < cs.n; j++) {
      const at = i * cs.n + j;
      if ((cs.flags ?? 0) & GEMM_ACCUMULATE) {
        c[at] = c[at]! + inp.c0[i * inp.ldc + j]!;
        scale[at] = scale[at]! + Math.abs(inp.c0[i * inp.ldc + j]!);
      }
      if (inp.bias) {
        c[at] = c[at]! + inp.bias[j]!;
        scale[at] = scale[at]! + Math.abs(inp.bias[j]!);
      }
      if ((cs.flags ?? 0) & GEMM_RELU) c[at] = Math.max(c[at]!, 0);
    }
  }
  return { c, scale };
}

/** The (cols, rows) transpose of a (rows, cols) row-major matrix. */
function transpose(x: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = x[r * cols + c]!;
  return out;
}

/** The valid (m, n) part of a C buffer with leading dimension ldc. */
function valid(c: Float32Array, cs: Case, ldc: number): Float32Array {
  const out = new Float32Array(cs.m * cs.n);
  for (let i = 0; i < cs.m; i++) out.set(c.subarray(i * ldc, i * ldc + cs.n), i * cs.n);
  return out;
}

function label(cs: Case): string {
  const flags = cs.flags ?? 0;
  const extras = [
    cs.pad ? `pad ${cs.pad.join("/")}` : "",
    cs.bias ? "bias" : "",
    flags & GEMM_RELU ? "relu" : "",
    flags & GEMM_ACCUMULATE ? "accumulate" : "",
  ].filter(Boolean);
  return `${cs.form} m=${cs.m} n=${cs.n} k=${cs.k}${extras.length ? ` (${extras.join(", ")})` : ""}`;
}

/** Checks one case: SIMD = reference bit for bit, close to float64, padding of C untouched. */
function check(engine: TestEngine, cs: Case, seed: number, exact: boolean): void {
  const inp = makeInputs(cs, seed);
  const fast = run(engine, cs, inp, false);
  const what = label(cs);
  if (exact) expectSameBits(fast, run(engine, cs, inp, true), `${what}: SIMD vs reference`);
  const want = expected(cs, inp);
  const u = 2 ** -24;
  // Worst-case rounding of a k-term f32 dot product (plus bias / accumulator): (k + 2)·u·Σ|terms|.
  expectClose(valid(fast, cs, inp.ldc), want.c, { rtol: (cs.k + 2) * u, atol: 1e-30 }, `${what}: vs float64`, want.scale);
  for (let i = 0; i < cs.m; i++) {
    for (let j = cs.n; j < inp.ldc; j++) {
      if (fast[i * inp.ldc + j] !== C_SENTINEL) expect.fail(`${what}: wrote C padding at row ${i}, column ${j}`);
    }
  }
}

const SMALL = [1, 3, 4, 5, 7, 8, 17];
const LARGE: [number, number, number][] = [
  [64, 64, 64],
  [129, 129, 129],
  [257, 257, 257], // at and above MC=64, NC=256, KC=256
  [1, 257, 300],
  [257, 3, 129],
  [65, 513, 17],
  [130, 9, 520],
  [4, 8, 1000],
  [128, 10, 800],
  [20, 10, 2100],
  [9, 15, 4097],
  [25, 3, 1030], // narrow C (n < 16): 8×4 and 8×2 tiles, 1024-deep blocks
];

describe.each(EXACT_BUILDS)("gemm, %s build", (build) => {
  let engine: TestEngine;
  beforeAll(async () => {
    engine = await loadBuild(build);
  });

  for (const form of FORMS) {
    it(`${form}: every m, n, k in {${SMALL.join(", ")}}`, () => {
      let seed = 1;
      for (const m of SMALL) for (const n of SMALL) for (const k of SMALL) check(engine, { form, m, n, k }, seed++, true);
    });

    it(`${form}: large and multi-block shapes`, () => {
      let seed = 100;
      for (const [m, n, k] of LARGE) check(engine, { form, m, n, k }, seed++, true);
    });

    it(`${form}: odd leading dimensions (NaN in the padding must never be read)`, () => {
      let seed = 200;
      for (const [m, n, k] of [
        [3, 5, 7],
        [17, 9, 33],
        [64, 40, 257],
        [129, 17, 5],
      ] as const) {
        check(engine, { form, m, n, k, pad: [3, 5, 1] }, seed++, true);
        check(engine, { form, m, n, k, pad: [1, 7, 2] }, seed++, true);
      }
    });

    it(`${form}: bias, ReLU and accumulation, alone and together`, () => {
      let seed = 300;
      const shapes: [number, number, number][] = [
        [1, 1, 1],
        [5, 7, 3],
        [4, 8, 16],
        [33, 17, 300],
      ];
      for (const [m, n, k] of shapes) {
        for (const flags of [0, GEMM_RELU, GEMM_ACCUMULATE, GEMM_RELU | GEMM_ACCUMULATE]) {
          for (const bias of [false, true]) check(engine, { form, m, n, k, flags, bias, pad: [0, 0, 3] }, seed++, true);
        }
      }
    });
  }

  for (const form of FORMS) {
    it(`${form}: one to three rows (the paths without packing), with edges, padding and flags`, () => {
      let seed = 500;
      for (const m of [1, 2, 3]) {
        for (const n of [1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 33, 40, 65, 129]) {
          for (const k of [1, 3, 4, 5, 8, 9, 64, 257]) check(engine, { form, m, n, k }, seed++, true);
        }
        check(engine, { form, m, n: 801, k: 785, pad: [3, 5, 1] }, seed++, true);
        check(engine, { form, m, n: 37, k: 131, pad: [1, 2, 7], flags: GEMM_RELU | GEMM_ACCUMULATE, bias: true }, seed++, true);
        check(engine, { form, m, n: 10, k: 800, flags: GEMM_ACCUMULATE, bias: true }, seed++, true);
      }
    });

    it(`${form}: a row's result does not depend on how many rows are computed with it`, () => {
      // The few-row paths and the blocked kernel sum every element in the same order.
      const [m, n, k] = [37, 45, 263];
      const inp = makeInputs({ form, m, n, k, bias: true }, 600);
      const all = run(engine, { form, m, n, k, flags: GEMM_RELU, bias: true }, inp, false);
      for (const [i0, rows] of [
        [0, 1],
        [5, 2],
        [34, 3],
        [8, 4],
      ] as const) {
        // Rows i0 .. i0+rows-1 of op(A) alone: for tn, columns of the stored A.
        const a = new Float32Array(rows * k);
        for (let r = 0; r < rows; r++) {
          for (let p = 0; p < k; p++) a[r * k + p] = form === "tn" ? inp.a[p * inp.lda + i0 + r]! : inp.a[(i0 + r) * inp.lda + p]!;
        }
        const aPart = form === "tn" ? transpose(a, rows, k) : a;
        const part = run(
          engine,
          { form, m: rows, n, k, flags: GEMM_RELU, bias: true },
          { ...inp, a: aPart, lda: form === "tn" ? rows : k, c0: new Float32Array(rows * inp.ldc) },
          false,
        );
        expectSameBits(part, all.subarray(i0 * inp.ldc, (i0 + rows) * inp.ldc), `${form}: rows ${i0}..${i0 + rows - 1} alone`);
      }
    });
  }

  it("the forms agree with each other: A·Bᵀ (nt) equals A·B (nn) with B transposed", () => {
    const rnd = new TestRandom(7);
    const [m, n, k] = [19, 23, 29];
    const a = rnd.uniform(m * k);
    const bt = rnd.uniform(n * k);
    const b = new Float32Array(k * n);
    for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) b[p * n + j] = bt[j * k + p]!;
    const at = new Float32Array(k * m);
    for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) at[p * m + i] = a[i * k + p]!;
    const nt = run(engine, { form: "nt", m, n, k }, { a, b: bt, c0: new Float32Array(m * n), lda: k, ldb: k, ldc: n }, false);
    const nn = run(engine, { form: "nn", m, n, k }, { a, b, c0: new Float32Array(m * n), lda: k, ldb: n, ldc: n }, false);
    const tn = run(engine, { form: "tn", m, n, k }, { a: at, b, c0: new Float32Array(m * n), lda: m, ldb: n, ldc: n }, false);
    expectSameBits(nt, nn, "nt vs nn");
    expectSameBits(tn, nn, "tn vs nn");
  });
});

describe.runIf(relaxedAvailable)("gemm, relaxed build (fused multiply-add: close, not bit-identical)", () => {
  let engine: TestEngine;
  beforeAll(async () => {
    engine = await loadBuild("relaxed");
  });
  for (const form of FORMS) {
    it(`${form}: small, large, strided and fused shapes`, () => {
      let seed = 400;
      for (const m of [1, 5, 8]) for (const n of [3, 8, 17]) for (const k of [1, 7, 64]) check(engine, { form, m, n, k }, seed++, false);
      for (const [m, n, k] of LARGE.slice(0, 4)) check(engine, { form, m, n, k }, seed++, false);
      check(engine, { form, m: 33, n: 17, k: 300, pad: [3, 5, 1], flags: GEMM_RELU | GEMM_ACCUMULATE, bias: true }, seed++, false);
    });
  }
});
