/**
 * Tabular data: the standardize layer (its kernels SIMD vs `_ref` bit for bit and vs
 * float64 at widths around the SIMD width; in a model, forward, input gradient, the buffers
 * a model file keeps), `standardizer` fitted in float64, and parseCsv / loadCsv choosing
 * the label column by name or index and reading regression targets, with typed errors.
 * The scikit-learn files in /work/shared/data/tabular are read when present.
 */
import { existsSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import {
  Dataset, dense, FormatError, init, loadCsv, modelFromSafetensors, modelToSafetensors, OptionError, parseCsv, relu, Sequential,
  ShapeError, standardize, standardizer, train, type Engine,
} from "../src/index.js";
import { EXACT_BUILDS, loadBuild } from "./helpers/engines.js";
import { expectClose, expectSameBits } from "./helpers/compare.js";
import { TestRandom } from "./helpers/rand.js";

const COLS = [1, 3, 4, 5, 7, 8, 17, 129];
const TABULAR = "/work/shared/data/tabular";

beforeAll(async () => {
  await init();
});

describe.each(EXACT_BUILDS)("standardize kernels (%s build)", (build) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await loadBuild(build);
  });

  it.each(COLS)("forward and backward: SIMD and _ref agree bit for bit and match float64 (%i features)", (cols) => {
    for (const rows of [1, 3, 6]) {
      const rnd = new TestRandom(100 * rows + cols);
      const x = rnd.uniform(rows * cols, -100, 100);
      const mean = rnd.uniform(cols, -20, 20);
      const std = rnd.uniform(cols, 0.001, 50);
      const dy = rnd.normal(rows * cols, 1);
      const run = (ref: boolean) => engine.scoped(() => {
        const k = engine.kernels;
        const y = engine.allocF32(rows * cols);
        const dx = engine.allocF32(rows * cols);
        const m = engine.putF32(mean);
        const s = engine.putF32(std);
        (ref ? k.standardize_forward_ref : k.standardize_forward)(y, engine.putF32(x), m, s, rows, cols);
        (ref ? k.standardize_backward_ref : k.standardize_backward)(dx, engine.putF32(dy), s, rows, cols);
        return { y: engine.readF32(y, rows * cols), dx: engine.readF32(dx, rows * cols) };
      });
      const fast = run(false);
      const ref = run(true);
      expectSameBits(fast.y, ref.y, "forward");
      expectSameBits(fast.dx, ref.dx, "backward");
      const y64 = Array.from(x, (v, i) => (v - mean[i % cols]!) / std[i % cols]!);
      const dx64 = Array.from(dy, (v, i) => v / std[i % cols]!);
      // One rounding of the difference (relative to |x| + |mean|) and one of the quotient: 2 u of that scale.
      const scale = Array.from(x, (v, i) => (Math.abs(v) + Math.abs(mean[i % cols]!)) / std[i % cols]!);
      expectClose(fast.y, y64, { rtol: 2 ** -23, atol: 0 }, "forward vs float64", scale);
      expectClose(fast.dx, dx64, { rtol: 2 ** -24, atol: 0 }, "backward vs float64");
    }
  });
});

describe("the standardize layer", () => {
  const rnd = new TestRandom(7);
  const mean = Array.from(rnd.uniform(5, -10, 10));
  const std = Array.from(rnd.uniform(5, 0.5, 8));
  const f32 = Math.fround;

  it("computes (x − mean) / std in a model, gives dy / std as the input gradient, and trains nothing", () => {
    const model = new Sequential([standardize(5, { mean, std })], { inputShape: [5] });
    expect(model.parameterCount).toBe(0);
    expect(model.namedBuffers().map((b) => b.name)).toEqual(["0.mean", "0.std"]);
    const x = new TestRandom(8).uniform(3 * 5, -30, 30);
    expectSameBits(model.logits(x), Float32Array.from(x, (v, i) => f32(f32(v - f32(mean[i % 5]!)) / f32(std[i % 5]!))));
    const e = model.engine;
    const dy = new TestRandom(9).normal(3 * 5, 1);
    model.reserve(3);
    const dx = e.scoped(() => {
      model.forward(e.putF32(x), 3, true);
      return e.readF32(model.backward(e.putF32(dy), 3, { inputGradient: true }), 15);
    });
    expectSameBits(dx, Float32Array.from(dy, (v, i) => f32(v / f32(std[i % 5]!))));
    model.dispose();
  });

  it("is left untouched by training, and a saved model keeps its values (safetensors round trip)", async () => {
    const x = new TestRandom(10).uniform(40 * 5, -30, 30);
    const y = Int32Array.from({ length: 40 }, (_, i) => i % 2);
    const model = new Sequential([standardize(5, { mean, std }), dense(5, 4), relu(), dense(4, 2)], { seed: 3 });
    await train(model, new Dataset(x, y, { features: 5 }), { epochs: 2, batchSize: 8 });
    expectSameBits(model.getParameter("0.mean"), Float32Array.from(mean));
    expectSameBits(model.getParameter("0.std"), Float32Array.from(std));
    // The buffers, not the spec's initial values, are what a file carries.
    model.setParameter("0.mean", Float32Array.from(mean, (v) => v + 1));
    const loaded = modelFromSafetensors(modelToSafetensors(model));
    expect(loaded.specs[0]!.type).toBe("standardize");
    expectSameBits(loaded.getParameter("0.mean"), Float32Array.from(mean, (v) => v + 1));
    expectSameBits(loaded.getParameter("0.std"), Float32Array.from(std));
    expectSameBits(loaded.logits(x), model.logits(x));
    model.dispose();
    loaded.dispose();
  });

  it("refuses a width unlike its input, values of the wrong length, and std ≤ 0", () => {
    expect(() => new Sequential([standardize(4), dense(5, 2)])).toThrow(ShapeError);
    expect(() => new Sequential([standardize(5, { mean: [1, 2] }), dense(5, 2)])).toThrow(ShapeError);
    expect(() => new Sequential([standardize(2, { std: [1, 0] }), dense(2, 2)])).toThrow(OptionError);
    expect(() => new Sequential([standardize(2, { mean: [1, NaN] }), dense(2, 2)])).toThrow(OptionError);
  });
});

describe("standardizer", () => {
  it("fits each feature's mean and population std in float64 (a constant feature gets std 1)", () => {
    const x = new TestRandom(11).uniform(30 * 3, -5, 500);
    for (let r = 0; r < 30; r++) x[r * 3 + 2] = 7;
    const spec = standardizer(new Dataset(x, new Int32Array(30), { features: 3 }));
    for (let c = 0; c < 2; c++) {
      let m = 0;
      for (let r = 0; r < 30; r++) m += x[r * 3 + c]!;
      m /= 30;
      let v = 0;
      for (let r = 0; r < 30; r++) v += (x[r * 3 + c]! - m) ** 2;
      v /= 30;
      expect(spec.mean![c]).toBe(Math.fround(m));
      expect(spec.std![c]).toBe(Math.fround(Math.sqrt(v)));
    }
    expect([spec.mean![2], spec.std![2]]).toEqual([7, 1]);
    const layer = new Sequential([spec], { inputShape: [3] });
    const z = layer.logits(x);
    let mean0 = 0;
    for (let r = 0; r < 30; r++) mean0 += z[r * 3]! / 30;
    expect(Math.abs(mean0)).toBeLessThan(1e-5);
    layer.dispose();
  });
});

describe("CSV label columns and regression targets", () => {
  const text = "a,target,b,c\n1,0,2,3.5\n4,1,5,6\n7,2,8,9\n";

  it("picks the label by name or index; the other columns are features in order", () => {
    for (const labelColumn of ["target", 1] as const) {
      const d = parseCsv(text, { labelColumn });
      expect(d.features).toBe(3);
      expect(Array.from(d.y)).toEqual([0, 1, 2]);
      expect(Array.from(d.row(0))).toEqual([1, 2, 3.5]);
    }
  });

  it("reads one or several target columns for regression", () => {
    const one = parseCsv(text, { labelColumn: "c", task: "regression" });
    expect(one.task).toBe("regression");
    expect(one.features).toBe(3);
    expect(Array.from(one.targets!)).toEqual([3.5, 6, 9]);
    const two = parseCsv(text, { labelColumn: ["c", 0], task: "regression" });
    expect(two.targetWidth).toBe(2);
    expect(Array.from(two.targets!)).toEqual([3.5, 1, 6, 4, 9, 7]);
    expect(Array.from(two.row(2))).toEqual([2, 8]);
  });

  it("refuses unknown columns, several labels for classification, a bad task and non-numbers with typed errors", () => {
    expect(() => parseCsv(text, { labelColumn: "nope" })).toThrow(OptionError);
    expect(() => parseCsv(text, { labelColumn: 9 })).toThrow(OptionError);
    expect(() => parseCsv(text, { labelColumn: ["a", "b"] })).toThrow(OptionError);
    expect(() => parseCsv(text, { task: "ranking" as never })).toThrow(OptionError);
    expect(() => parseCsv(text, { labelColumn: ["c", "c"], task: "regression" })).toThrow(OptionError);
    expect(() => parseCsv("a,b\n1,x\n", { labelColumn: "a", task: "regression" })).toThrow(FormatError);
    expect(() => parseCsv(text, { labelColumn: "c" })).toThrow(FormatError); // 3.5 is no class id
  });

  it.skipIf(!existsSync(`${TABULAR}/diabetes.csv`))("reads scikit-learn's diabetes (regression) and breast cancer files", async () => {
    const diabetes = await loadCsv(`${TABULAR}/diabetes.csv`, { labelColumn: "target", task: "regression" });
    expect([diabetes.length, diabetes.features, diabetes.targetWidth]).toEqual([442, 10, 1]);
    const cancer = await loadCsv(`${TABULAR}/breast_cancer.csv`, { labelColumn: "target" });
    expect([cancer.length, cancer.features, cancer.classes]).toEqual([569, 30, 2]);
  });
});
