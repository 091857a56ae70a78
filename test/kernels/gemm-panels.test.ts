/**
 * gemm_panels (a few rows against B pre-packed into 16-column panels) must give exactly the
 * bits of gemm_nn / gemm_nt on the unpacked B and of its own triple-loop twin: at panel
 * widths below, at and above 16, odd k (the two-p unrolled loop's tail), padded leading
 * dimensions holding NaN, bias, ReLU and accumulation. Packing from both layouts of B.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { GEMM_ACCUMULATE, GEMM_RELU, type Engine } from "../../src/index.js";
import { EXACT_BUILDS, loadBuild, type TestEngine } from "../helpers/engines.js";
import { expectSameBits } from "../helpers/compare.js";
import { TestRandom } from "../helpers/rand.js";

interface Case {
  m: number;
  n: number;
  k: number;
  /** B stored (n, k) as a dense layer's weight (packed with transB) instead of (k, n). */
  transB: boolean;
  pad: number;
  flags: number;
  bias: boolean;
}

/** Returns C (with padding) from gemm_panels, gemm_panels_ref and the unpacked GEMM. */
function runAll(engine: TestEngine, cs: Case, seed: number): { panels: Float32Array; reference: Float32Array; unpacked: Float32Array } {
  const rnd = new TestRandom(seed);
  const k = engine.kernels;
  const lda = cs.k + cs.pad;
  const [bRows, bCols] = cs.transB ? [cs.n, cs.k] : [cs.k, cs.n];
  const ldb = bCols + cs.pad;
  const ldc = cs.n + cs.pad;
  const padded = (rows: number, cols: number, ld: number) => {
    const out = new Float32Array(rows * ld).fill(Number.NaN);
    const data = rnd.uniform(rows * cols);
    for (let r = 0; r < rows; r++) out.set(data.subarray(r * cols, (r + 1) * cols), r * ld);
    return out;
  };
  const a = padded(cs.m, cs.k, lda);
  const b = padded(bRows, bCols, ldb);
  const c0 = rnd.uniform(cs.m * ldc);
  const bias = cs.bias ? rnd.uniform(cs.n) : undefined;
  return engine.scoped(() => {
    const aPtr = engine.putF32(a);
    const bPtr = engine.putF32(b);
    const biasPtr = bias ? engine.putF32(bias) : 0;
    const panels = engine.allocF32(k.panels_length(cs.k, cs.n));
    k.pack_panels(panels, bPtr, ldb, cs.transB ? 1 : 0, cs.k, cs.n);
    const run = (call: (c: number) => void) => {
      const c = engine.putF32(c0);
      call(c);
      return engine.readF32(c, c0.length);
    };
    return {
      panels: run((c) => k.gemm_panels(c, aPtr, panels, biasPtr, cs.m, cs.n, cs.k, lda, ldc, cs.flags)),
      reference: run((c) => k.gemm_panels_ref(c, aPtr, panels, biasPtr, cs.m, cs.n, cs.k, lda, ldc, cs.flags)),
      unpacked: run((c) => (cs.transB ? k.gemm_nt : k.gemm_nn)(c, aPtr, bPtr, biasPtr, cs.m, cs.n, cs.k, lda, ldb, ldc, cs.flags)),
    };
  });
}

describe.each(EXACT_BUILDS)("gemm_panels, %s build", (build) => {
  let engine: TestEngine;
  beforeAll(async () => {
    engine = await loadBuild(build);
  });

  it("panels_length rounds n up to whole 16-column panels", () => {
    expect(engine.kernels.panels_length(784, 800)).toBe(784 * 800);
    expect(engine.kernels.panels_length(7, 17)).toBe(7 * 32);
    expect(engine.kernels.panels_length(3, 1)).toBe(3 * 16);
  });

  for (const transB of [false, true]) {
    it(`equals its reference and the unpacked ${transB ? "gemm_nt" : "gemm_nn"} bit for bit`, () => {
      let seed = transB ? 1000 : 1;
      for (const m of [1, 2, 3, 5]) {
        for (const n of [1, 15, 16, 17, 40]) {
          for (const k of [1, 2, 3, 17, 64]) {
            const cs: Case = { m, n, k, transB, pad: seed % 3, flags: seed % 4, bias: seed % 2 === 0 };
            const out = runAll(engine, cs, seed++);
            const what = `m=${m} n=${n} k=${k} pad=${cs.pad} flags=${cs.flags} bias=${cs.bias}`;
            expectSameBits(out.panels, out.reference, `${what}: panels vs reference`);
            expectSameBits(out.panels, out.unpacked, `${what}: panels vs unpacked`);
          }
        }
      }
    });
  }

  it("at inference sizes (1×784×800, 3×800×10), with bias and ReLU", () => {
    for (const [m, n, k] of [
      [1, 800, 784],
      [3, 10, 800],
      [2, 1200, 1200],
    ] as const) {
      for (const flags of [GEMM_RELU, GEMM_ACCUMULATE]) {
        const out = runAll(engine, { m, n, k, transB: true, pad: 0, flags, bias: true }, m * n + flags);
        expectSameBits(out.panels, out.unpacked, `${m}×${k}×${n} flags ${flags}`);
      }
    }
  });
});
