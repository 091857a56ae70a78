/**
 * The GEMM plan's candidates (assembly/gemm-plan.ts, src/runtime/gemm-plan/candidates.ts):
 * every candidate of every slot must give exactly the bits of the `_ref` twin (so the
 * plan can never change a result), at shapes below, at and above its tiles and blocks
 * (4×8 and 8×4 tiles; MC 32/64/128, KC 128/256/512, NC 128/256/512; narrow blocks 256 and
 * 1024 deep; row passes of 2/4/8 rows, one or two f32x4 of C per step, and groups of 4/8/16;
 * panel loops of 1/2/4 steps), with
 * padded leading dimensions holding NaN, bias, ReLU and accumulation. Also: the slot table
 * matches the module's constants, and gemm_plan_set refuses what does not exist.
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  GEMM_ACCUMULATE,
  GEMM_LARGE_CANDIDATES,
  GEMM_NARROW_CANDIDATES,
  GEMM_PANEL_CANDIDATES,
  GEMM_ROW_CANDIDATES,
  GEMM_ROW_T_CANDIDATES,
} from "../../src/runtime/abi.js";
import { SLOTS, type GemmForm, type ShapeClass } from "../../src/runtime/gemm-plan/candidates.js";
import type { Engine } from "../../src/index.js";
import { EXACT_BUILDS, loadBuild, type TestEngine } from "../helpers/engines.js";
import { expectSameBits } from "../helpers/compare.js";
import { TestRandom } from "../helpers/rand.js";

type Shape = [m: number, n: number, k: number];

/** Shapes per class: each crosses a tile or block edge of some candidate. */
const SHAPES: Record<ShapeClass, Shape[]> = {
  large: [
    [4, 16, 1],
    [5, 17, 3],
    [7, 23, 129], // KC 128 + 1
    [33, 9, 257], // MC 32 + 1, KC 256 + 1
    [65, 40, 130],
    [129, 130, 20], // MC 128 + 1, NC 128 + 2
    [12, 257, 513], // NC 256 + 1, KC 512 + 1
    [6, 520, 60], // NC 512 + 8
  ],
  narrow: [
    [8, 1, 1],
    [9, 15, 7],
    [16, 10, 257], // 256-deep blocks + 1
    [25, 3, 1030], // 1024-deep blocks + 6
    [40, 13, 2100],
    [17, 2, 300],
  ],
  row: [
    [1, 1, 1],
    [1, 3, 2],
    [2, 4, 3],
    [3, 5, 7],
    [1, 8, 8],
    [2, 15, 9],
    [1, 16, 17],
    [3, 17, 31],
    [1, 20, 33], // groups of 16 + 4
    [2, 33, 18], // 16 + 16 + 1
    [1, 100, 250],
    // Around the row passes' two-vector steps (8 columns) and depths (2, 4, 8 rows of B):
    // n and k below, at and above 4, 8, 16, 32, 64 and 128.
    [1, 7, 4],
    [2, 9, 5],
    [3, 12, 1],
    [1, 31, 15],
    [2, 63, 16],
    [3, 65, 3],
    [1, 129, 63],
    [2, 5, 65],
    [3, 4, 129],
    [1, 33, 31],
    [2, 17, 33],
    [3, 15, 17],
    [1, 64, 128],
  ],
};

const PADS: [number, number, number][] = [
  [0, 0, 0],
  [3, 5, 1],
];

interface Run {
  c: Float32Array;
}
// Each test sets the slots it checks; afterEach puts the default back.

/** C buffers (with padding) from the planned kernel and from its `_ref` twin. */
function runForm(
  engine: TestEngine,
  form: Exclude<GemmForm, "panels">,
  [m, n, k]: Shape,
  pad: [number, number, number],
  flags: number,
  bias: boolean,
  seed: number,
) {
  const rnd = new TestRandom(seed);
  const [aRows, aCols] = form === "tn" ? [k, m] : [m, k];
  const [bRows, bCols] = form === "nt" ? [n, k] : [k, n];
  const lda = aCols + pad[0];
  const ldb = bCols + pad[1];
  const ldc = n + pad[2];
  const padded = (rows: number, cols: number, ld: number) => {
    const out = new Float32Array(rows * ld).fill(Number.NaN);
    const data = rnd.uniform(rows * cols);
    for (let r = 0; r < rows; r++) out.set(data.subarray(r * cols, (r + 1) * cols), r * ld);
    return out;
  };
  const a = padded(aRows, aCols, lda);
  const b = padded(bRows, bCols, ldb);
  const c0 = rnd.uniform(m * ldc);
  const biasValues = bias ? rnd.uniform(n) : undefined;
  return engine.scoped(() => {
    const aPtr = engine.putF32(a);
    const bPtr = engine.putF32(b);
    const biasPtr = biasValues ? engine.putF32(biasValues) : 0;
    const call = (name: `gemm_${typeof form}` | `gemm_${typeof form}_ref`): Run => {
      const c = engine.putF32(c0);
      engine.kernels[name](c, aPtr, bPtr, biasPtr, m, n, k, lda, ldb, ldc, flags);
      return { c: engine.readF32(c, c0.length) };
    };
    return { planned: call(`gemm_${form}`), reference: call(`gemm_${form}_ref`) };
  });
}

/** gemm_panels and gemm_panels_ref on B (n, k) packed once. */
function runPanels(engine: TestEngine, [m, n, k]: Shape, pad: number, flags: number, bias: boolean, seed: number) {
  const rnd = new TestRandom(seed);
  const kernels = engine.kernels;
  const lda = k + pad;
  const ldc = n + pad;
  const a = new Float32Array(m * lda).fill(Number.NaN);
  for (let i = 0; i < m; i++) a.set(rnd.uniform(k), i * lda);
  const b = rnd.uniform(n * k);
  const c0 = rnd.uniform(m * ldc);
  const biasValues = bias ? rnd.uniform(n) : undefined;
  return engine.scoped(() => {
    const aPtr = engine.putF32(a);
    const bPtr = engine.putF32(b);
    const biasPtr = biasValues ? engine.putF32(biasValues) : 0;
    const panels = engine.allocF32(kernels.panels_length(k, n));
    kernels.pack_panels(panels, bPtr, k, 1, k, n);
    const call = (kernel: typeof kernels.gemm_panels): Run => {
      const c = engine.putF32(c0);
      kernel(c, aPtr, panels, biasPtr, m, n, k, lda, ldc, flags);
      return { c: engine.readF32(c, c0.length) };
    };
    return { planned: call(kernels.gemm_panels), reference: call(kernels.gemm_panels_ref) };
  });
}

describe.each(EXACT_BUILDS)("GEMM plan candidates, %s build", (build) => {
  let engine: TestEngine;
  beforeAll(async () => {
    engine = await loadBuild(build);
  });
  afterEach(() => {
    for (const s of SLOTS) engine.kernels.gemm_plan_set(s.formId, s.classId, 0);
  });

  it("the slot table matches the module's candidate counts; gemm_plan_set refuses what does not exist", () => {
    const counts: Record<string, number> = { large: GEMM_LARGE_CANDIDATES, narrow: GEMM_NARROW_CANDIDATES, row: GEMM_ROW_CANDIDATES };
    for (const s of SLOTS) {
      const count = s.form === "panels" ? GEMM_PANEL_CANDIDATES : s.form === "nt" && s.shapeClass === "row" ? GEMM_ROW_T_CANDIDATES : counts[s.shapeClass];
      expect(s.candidates.length, `${s.form}.${s.shapeClass}`).toBe(count);
      const before = engine.kernels.gemm_plan_get(s.formId, s.classId);
      expect(engine.kernels.gemm_plan_set(s.formId, s.classId, s.candidates.length)).toBe(0);
      expect(engine.kernels.gemm_plan_set(s.formId, s.classId, -1)).toBe(0);
      expect(engine.kernels.gemm_plan_get(s.formId, s.classId)).toBe(before); // unchanged
      expect(engine.kernels.gemm_plan_set(s.formId, s.classId, s.candidates.length - 1)).toBe(1);
      expect(engine.kernels.gemm_plan_get(s.formId, s.classId)).toBe(s.candidates.length - 1);
    }
    const panels = SLOTS.find((s) => s.form === "panels")!;
    expect(engine.kernels.gemm_plan_set(panels.formId, 0, 0)).toBe(0); // panels have no large class
    expect(engine.kernels.gemm_plan_get(panels.formId, 0)).toBe(-1);
    expect(engine.kernels.gemm_plan_set(7, 0, 0)).toBe(0);
  });

  for (const s of SLOTS) {
    it(`${s.form}.${s.shapeClass}: every candidate (${s.candidates.join(", ")}) equals the reference bit for bit`, () => {
      for (let index = 0; index < s.candidates.length; index++) {
        expect(engine.kernels.gemm_plan_set(s.formId, s.classId, index)).toBe(1);
        let seed = 1 + index * 1000;
        for (const shape of SHAPES[s.shapeClass]) {
          for (const pad of PADS) {
            const flags = seed % 4; // none, accumulate, ReLU, both
            const bias = seed % 3 !== 0;
            const what = `${s.form}.${s.shapeClass} = ${s.candidates[index]}, m×n×k ${shape.join("×")}, pad ${pad.join("/")}, flags ${flags}, bias ${bias}`;
            const out = s.form === "panels" ? runPanels(engine, shape, pad[0], flags, bias, seed) : runForm(engine, s.form, shape, pad, flags, bias, seed);
            expectSameBits(out.planned.c, out.reference.c, what);
            seed++;
          }
        }
      }
    });
  }

  it("the shape classes route as the plan says: a narrow shape under 4x8-tiles and a large one agree with the reference", () => {
    // The narrow class's third candidate hands the product to the large class's kernel,
    // whose candidates then apply: every pair must still give the reference's bits.
    const narrow = SLOTS.find((s) => s.form === "nt" && s.shapeClass === "narrow")!;
    const large = SLOTS.find((s) => s.form === "nt" && s.shapeClass === "large")!;
    engine.kernels.gemm_plan_set(narrow.formId, narrow.classId, narrow.candidates.indexOf("4x8-tiles"));
    for (let index = 0; index < large.candidates.length; index++) {
      engine.kernels.gemm_plan_set(large.formId, large.classId, index);
      const out = runForm(engine, "nt", [128, 10, 800], [1, 2, 3], GEMM_ACCUMULATE, true, 77 + index);
      expectSameBits(out.planned.c, out.reference.c, `nt 128×10×800 through 4x8-tiles and ${large.candidates[index]}`);
    }
  });
});
