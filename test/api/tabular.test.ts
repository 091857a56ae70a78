/**
 * Tabular data: the standardize layer (its kernels SIMD vs `_ref` bit for bit and vs
 * float64 at widths around the SIMD width; in a model, forward, input gradient, the buffers
 * a model file keeps), `standardizer` fitted in float64, and parseCsv / loadCsv choosing
 * the label column by name or index and reading regression targets, with typed errors;
 * class weights (the weighted loss kernels SIMD vs `_ref` and vs float64, weights of 1 the
 * same bits as none, "balanced" from the counts, train / distill options and their errors).
 * The scikit-learn files in /work/shared/data/tabular are read when present.
 */
import { existsSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import {
  balancedWeights,
  Dataset,
  dense,
  distill,
  FormatError,
  init,
  loadCsv,
  modelFromSafetensors,
  modelToSafetensors,
  OptionError,
  parseCsv,
  relu,
  Sequential,
  ShapeError,
  standardize,
  standardizer,
  train,
  type Engine,
} from "../../src/index.js";
import { EXACT_BUILDS, loadBuild, type TestEngine } from "../helpers/engines.js";
import { expectClose, expectSameBits } from "../helpers/compare.js";
import { TestRandom } from "../helpers/rand.js";

const COLS = [1, 3, 4, 5, 7, 8, 17, 129];
const TABULAR = "/work/shared/data/tabular";

beforeAll(async () => {
  await init();
});

describe.each(EXACT_BUILDS)("standardize kernels (%s build)", (build) => {
  let engine: TestEngine;
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
      const run = (ref: boolean) =>
        engine.scoped(() => {
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
    expectSameBits(
      model.logits(x),
      Float32Array.from(x, (v, i) => f32(f32(v - f32(mean[i % 5]!)) / f32(std[i % 5]!))),
    );
    const e = model.engine;
    const dy = new TestRandom(9).normal(3 * 5, 1);
    model.reserve(3);
    const dx = e.scoped(() => {
      model.forward(e.putF32(x), 3, true);
      return e.readF32(model.backward(e.putF32(dy), 3, { inputGradient: true }), 15);
    });
    expectSameBits(
      dx,
      Float32Array.from(dy, (v, i) => f32(v / f32(std[i % 5]!))),
    );
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
    model.setParameter(
      "0.mean",
      Float32Array.from(mean, (v) => v + 1),
    );
    const loaded = modelFromSafetensors(modelToSafetensors(model));
    expect(loaded.specs[0]!.type).toBe("standardize");
    expectSameBits(
      loaded.getParameter("0.mean"),
      Float32Array.from(mean, (v) => v + 1),
    );
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

// ---------------------------------------------------------------- class weights

/** Logits (rows, cols), teacher logits, labels with every third row MISSING_LABEL, and weights ≥ 0 (one 0). */
function weightedBatch(rows: number, cols: number, seed: number) {
  const rnd = new TestRandom(seed);
  const labels = rnd.ints(rows, cols);
  for (let r = 0; r < rows; r++) if (r % 3 === 1) labels[r] = -1;
  const weights = rnd.uniform(cols, 0.1, 4);
  weights[0] = 0;
  return { s: rnd.normal(rows * cols, 3), t: rnd.normal(rows * cols, 3), labels, weights, rows, cols };
}

describe.each(EXACT_BUILDS)("class-weighted loss kernels (%s build)", (build) => {
  let engine: TestEngine;
  beforeAll(async () => {
    engine = await loadBuild(build);
  });

  const run = (ref: boolean, kind: "ce" | "distill", b: ReturnType<typeof weightedBatch>, weights: Float32Array | null) =>
    engine.scoped(() => {
      const k = engine.kernels;
      const g = engine.allocF32(b.s.length);
      const out = engine.alloc(24);
      const s = engine.putF32(b.s),
        t = engine.putF32(b.t),
        y = engine.putI32(b.labels);
      const w = weights ? engine.putF32(weights) : 0;
      let loss: number;
      if (kind === "ce") {
        loss = weights
          ? (ref ? k.cross_entropy_weighted_ref : k.cross_entropy_weighted)(g, s, y, w, b.rows, b.cols)
          : (ref ? k.cross_entropy_ref : k.cross_entropy)(g, s, y, b.rows, b.cols);
      } else {
        loss = weights
          ? (ref ? k.distill_loss_weighted_ref : k.distill_loss_weighted)(out, g, s, t, y, w, b.rows, b.cols, 4, 0.3, 0)
          : (ref ? k.distill_loss_ref : k.distill_loss)(out, g, s, t, y, b.rows, b.cols, 4, 0.3, 0);
      }
      return { loss, grad: engine.readF32(g, b.s.length) };
    });

  it.each(COLS)("SIMD and _ref agree bit for bit, match float64, and weights of 1 give the unweighted bits (%i classes)", (cols) => {
    for (const rows of [1, 5, 17]) {
      const b = weightedBatch(rows, cols, 7 * rows + cols);
      for (const kind of ["ce", "distill"] as const) {
        const fast = run(false, kind, b, b.weights);
        const ref = run(true, kind, b, b.weights);
        expectSameBits(fast.grad, ref.grad, `${kind} gradient`);
        expect(fast.loss).toBe(ref.loss);
        const ones = run(false, kind, b, new Float32Array(cols).fill(1));
        const plain = run(false, kind, b, null);
        expectSameBits(ones.grad, plain.grad, `${kind} with weights 1`);
        expect(ones.loss).toBe(plain.loss);
      }
      // float64: the hard cross-entropy with each labelled row scaled by its class weight.
      const p = new Float64Array(rows * cols);
      let loss = 0;
      const grad = new Float64Array(rows * cols);
      for (let r = 0; r < rows; r++) {
        let max = -Infinity;
        for (let j = 0; j < cols; j++) max = Math.max(max, b.s[r * cols + j]!);
        let sum = 0;
        for (let j = 0; j < cols; j++) sum += Math.exp(b.s[r * cols + j]! - max);
        for (let j = 0; j < cols; j++) p[r * cols + j] = Math.exp(b.s[r * cols + j]! - max) / sum;
        const label = b.labels[r]!;
        if (label === -1) continue;
        const w = b.weights[label]!;
        loss -= (w * Math.log(p[r * cols + label]!)) / rows;
        for (let j = 0; j < cols; j++) grad[r * cols + j] = (w * (p[r * cols + j]! - (j === label ? 1 : 0))) / rows;
      }
      const fast = run(false, "ce", b, b.weights);
      expect(Math.abs(fast.loss - loss)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(loss)));
      expectClose(fast.grad, grad, { rtol: 2e-5, atol: 2e-6 }, "weighted gradient vs float64");
    }
  });
});

describe("classWeights in train and distill", () => {
  const data = () => {
    const rnd = new TestRandom(21);
    const x = rnd.normal(60 * 4, 1);
    const y = Int32Array.from({ length: 60 }, (_, i) => (i % 6 === 0 ? 1 : i % 6 === 1 ? 2 : 0));
    for (let r = 0; r < 60; r++) x[r * 4 + y[r]!]! += 2;
    return new Dataset(x, y, { features: 4, classes: 3 });
  };

  it('"balanced" is n / (classes present · n_c), a class without rows 1', () => {
    expect(Array.from(balancedWeights([6, 2, 0, 4], 4))).toEqual([12 / 18, 2, 1, 1].map(Math.fround));
    const d = data();
    const counts = Array.from(d.classCounts());
    expect(counts).toEqual([40, 10, 10]);
    expect(Array.from(balancedWeights(counts, 3))).toEqual([0.5, 2, 2]);
  });

  it("weights of 1 train the same bits as no weights; balanced weights change the run and favour the rare classes", async () => {
    const d = data();
    const runWith = async (classWeights?: number[] | "balanced") => {
      const model = new Sequential([dense(4, 8), relu(), dense(8, 3)], { seed: 5 });
      const result = await train(model, d, { epochs: 3, batchSize: 10, seed: 2, ...(classWeights ? { classWeights } : {}) });
      const params = model.parameterBlock();
      model.dispose();
      return { params, result };
    };
    const plain = await runWith();
    const ones = await runWith([1, 1, 1]);
    expectSameBits(ones.params, plain.params, "weights of 1");
    expect(ones.result.history.map((r) => r.loss)).toEqual(plain.result.history.map((r) => r.loss));
    const balanced = await runWith("balanced");
    expect(Array.from(balanced.params).some((v, i) => v !== plain.params[i])).toBe(true);
  });

  it("distill takes classWeights on the hard term", async () => {
    const d = data();
    const teacher = new Sequential([dense(4, 8), relu(), dense(8, 3)], { seed: 6 });
    const student = () => new Sequential([dense(4, 3)], { seed: 7 });
    const a = student(),
      b = student();
    await distill({ teacher, student: a, data: d, epochs: 2, batchSize: 10, alpha: 0.5 });
    await distill({ teacher, student: b, data: d, epochs: 2, batchSize: 10, alpha: 0.5, classWeights: [1, 1, 1] });
    expectSameBits(b.parameterBlock(), a.parameterBlock(), "weights of 1");
    const c = student();
    const r = await distill({ teacher, student: c, data: d, epochs: 2, batchSize: 10, alpha: 0.5, classWeights: "balanced" });
    expect(r.history.every((h) => Number.isFinite(h.loss))).toBe(true);
    expect(Array.from(c.parameterBlock()).some((v, i) => v !== a.parameterBlock()[i])).toBe(true);
    for (const m of [teacher, a, b, c]) m.dispose();
  });

  it("refuses weights of the wrong length, negative or all zero, a bad name, and weights on regression data", async () => {
    const d = data();
    const model = new Sequential([dense(4, 3)], { seed: 1 });
    await expect(train(model, d, { classWeights: [1, 2] })).rejects.toThrow(OptionError);
    await expect(train(model, d, { classWeights: [1, -1, 1] })).rejects.toThrow(OptionError);
    await expect(train(model, d, { classWeights: [0, 0, 0] })).rejects.toThrow(OptionError);
    await expect(train(model, d, { classWeights: "even" as never })).rejects.toThrow(OptionError);
    const reg = Dataset.regression(d.x, new Float32Array(60 * 3), { features: 4, outputs: 3 });
    await expect(train(model, reg, { classWeights: "balanced" })).rejects.toThrow(OptionError);
    model.dispose();
  });
});
