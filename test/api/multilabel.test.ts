/**
 * Multi-label classification: Dataset.multiLabel (0/1 labels that travel with their rows,
 * rows without labels marked MISSING_LABEL, typed errors for anything else), train with the
 * mean binary cross-entropy (one SGD step against float64, L = 1 by hand), distill with the
 * sigmoid soft loss (α = 1 is train; model, function and logits teachers give the same bits;
 * a transfer set is the same run as appending its rows without labels), evaluate's metrics
 * against a float64 count, the task in model files (loadModel and distill-wasm/infer give
 * sigmoids and 0/1 predictions), and TaskError wherever tasks are mixed.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Dataset,
  LabelError,
  agreement,
  MISSING_LABEL,
  OptionError,
  ShapeError,
  TaskError,
  distill,
  evaluate,
  init,
  loadModel,
  mlp,
  modelFromSafetensors,
  modelToSafetensors,
  saveModel,
  train,
  type Sequential,
} from "../../src/index.js";
import { loadStudent } from "../../src/infer/index.js";
import { expectClose, expectNear, expectSameBits } from "../helpers/compare.js";
import { bceWithLogits64, sigmoid64 } from "../helpers/reference.js";
import { TestRandom } from "../helpers/rand.js";

/** Labels that depend on x: label j is 1 when x·a_j + noise > 0. (rows, features) → (rows, labels) of 0/1. */
function attributes(rows: number, features: number, labels: number, seed: number) {
  const rnd = new TestRandom(seed);
  const a = rnd.normal(labels * features, 1);
  const x = rnd.normal(rows * features, 1);
  const e = rnd.normal(rows * labels, 0.3);
  const y = new Int32Array(rows * labels);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < labels; j++) {
      let s = e[r * labels + j]!;
      for (let f = 0; f < features; f++) s += a[j * features + f]! * x[r * features + f]!;
      y[r * labels + j] = s > 0 ? 1 : 0;
    }
  }
  return { x, y };
}

/** Outputs of a single dense layer in float64: (rows, outputs). */
function dense64(model: Sequential, x: Float32Array, rows: number): Float64Array {
  const w = model.getParameter("0.weight");
  const b = model.getParameter("0.bias");
  const out = new Float64Array(rows * model.outputs);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < model.outputs; o++) {
      let s = b[o]!;
      for (let j = 0; j < model.inputs; j++) s += w[o * model.inputs + j]! * x[r * model.inputs + j]!;
      out[r * model.outputs + o] = s;
    }
  }
  return out;
}

/** One plain SGD step on a dense layer from ∂loss/∂outputs g, in float64: [weight, bias]. */
function sgdStep64(model: Sequential, x: Float32Array, g: Float64Array, rows: number, lr: number): [Float64Array, Float64Array] {
  const w = Float64Array.from(model.getParameter("0.weight"));
  const b = Float64Array.from(model.getParameter("0.bias"));
  const [inputs, outputs] = [model.inputs, model.outputs];
  for (let o = 0; o < outputs; o++) {
    let gb = 0;
    for (let r = 0; r < rows; r++) gb += g[r * outputs + o]!;
    b[o]! -= lr * gb;
    for (let j = 0; j < inputs; j++) {
      let gw = 0;
      for (let r = 0; r < rows; r++) gw += g[r * outputs + o]! * x[r * inputs + j]!;
      w[o * inputs + j]! -= lr * gw;
    }
  }
  return [w, b];
}

const TOL = { rtol: 1e-5, atol: 1e-6 };
const SGD = { type: "sgd", lr: 0.1 } as const;

let dir: string;
beforeAll(async () => {
  await init();
  dir = mkdtempSync(join(tmpdir(), "distill-wasm-multilabel-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("Dataset.multiLabel", () => {
  it("stores 0/1 labels as targets that travel with their rows; a row of MISSING_LABEL has none", () => {
    const { x, y } = attributes(6, 3, 2, 1);
    y.set([MISSING_LABEL, MISSING_LABEL], 2 * 2);
    const d = Dataset.multiLabel(x, y, { features: 3, labels: 2 });
    expect([d.task, d.multiLabel, d.classes, d.targetWidth, d.labelled]).toEqual(["multilabel", true, 2, 2, 5]);
    expect(Array.from(d.y)).toEqual([0, 0, MISSING_LABEL, 0, 0, 0]);
    expect(Array.from(d.targets.subarray(4, 6))).toEqual([0, 0]);
    const s = d.subset([5, 0]);
    expect(s.multiLabel).toBe(true);
    expect(Array.from(s.targets!)).toEqual([y[10], y[11], y[0], y[1]]);
    expect(d.slice(3).task).toBe("multilabel");
    expect(d.keepLabels(2, { seed: 1 }).labelled).toBe(2);
    expect(d.shuffled(3).multiLabel).toBe(true);
    const joined = d.concat(Dataset.multiLabel(new Float32Array(6), null, { features: 3, labels: 2 }));
    expect([joined.length, joined.labelled, joined.task]).toEqual([8, 5, "multilabel"]);
    const transfer = d.concat(Dataset.unlabelled(new Float32Array(3), { features: 3, classes: 2 }));
    expect([transfer.length, transfer.task]).toEqual([7, "multilabel"]);
  });

  it("refuses values other than 0, 1 and MISSING_LABEL, partly labelled rows and bad shapes, naming them", () => {
    const x = new Float32Array(6);
    expect(() => Dataset.multiLabel(x, [0, 1, 2, 0], { features: 3, labels: 2 })).toThrow(/labels\[2\] \(row 1, label 0\) is 2/);
    expect(() => Dataset.multiLabel(x, [0, 1, 0.5, 0], { features: 3, labels: 2 })).toThrow(LabelError);
    expect(() => Dataset.multiLabel(x, [0, 1, Number.NaN, 0], { features: 3, labels: 2 })).toThrow(LabelError);
    expect(() => Dataset.multiLabel(x, [0, 1, MISSING_LABEL, 0], { features: 3, labels: 2 })).toThrow(/row 1 has some labels missing/);
    expect(() => Dataset.multiLabel(x, [0, 1, 0], { features: 3, labels: 2 })).toThrow(ShapeError);
    expect(() => Dataset.multiLabel(x, [0, 1, 0, 1], { features: 3, labels: 0 })).toThrow(ShapeError);
    expect(() => Dataset.multiLabel(x, [0, 1, 0, 1], { features: 3, label: 2 } as never)).toThrow(/label.*did you mean "labels"/);
    const d = Dataset.multiLabel(x, [0, 1, 0, 1], { features: 3, labels: 2 });
    expect(() => d.concat(Dataset.regression(x, new Float32Array(4), { features: 3, outputs: 2 }))).toThrow(TaskError);
    expect(() => d.concat(new Dataset(x, [0, 1], { features: 3 }))).toThrow(LabelError);
  });
});

describe("train on multi-label data", () => {
  it.each([1, 3])("one SGD step of the mean BCE equals a float64 reference step (L = %i)", async (labels) => {
    const rows = 8;
    const { x, y } = attributes(rows, 4, labels, 3 + labels);
    const data = Dataset.multiLabel(x, y, { features: 4, labels });
    const model = mlp([4, labels], { seed: 4 });
    const z = dense64(model, x, rows);
    const n = rows * labels;
    let loss = 0;
    const g = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      loss += bceWithLogits64(z[i]!, y[i]!) / n;
      g[i] = (sigmoid64(z[i]!) - y[i]!) / n;
    }
    const [w, b] = sgdStep64(model, x, g, rows, 0.1);
    const result = await train(model, data, { epochs: 1, batchSize: rows, optimizer: SGD });
    expectNear(result.history[0]!.loss, loss, TOL, "loss");
    expect(result.history[0]!.accuracy).toBeNaN();
    expect(model.multiLabel).toBe(true);
    expectClose(model.getParameter("0.weight"), w, TOL, "weight");
    expectClose(model.getParameter("0.bias"), b, TOL, "bias");
    model.dispose();
  });

  it("L = 1 by hand: a single logit z gives log(1 + e^−z) for label 1 and log(1 + e^z) for label 0", async () => {
    const model = mlp([1, 1], { seed: 0, multiLabel: true });
    model.setParameter("0.weight", [2]);
    model.setParameter("0.bias", [-1]);
    // x = 1 → z = 1, label 1; x = 0 → z = −1, label 0: both log(1 + e^−1).
    const data = Dataset.multiLabel([1, 0], [1, 0], { features: 1, labels: 1 });
    const byHand = Math.log(1 + Math.exp(-1));
    expectNear(evaluate(model, data).bce, byHand, { rtol: 1e-15, atol: 0 }, "evaluate's float64 BCE");
    let first = Number.NaN;
    await train(model, data, { epochs: 1, batchSize: 2, optimizer: SGD, onBatch: (b) => void (first = b.loss) });
    expectNear(first, byHand, { rtol: 2e-7, atol: 0 }, "the kernel's loss");
    // ∂/∂z = σ(z) − y = −(1 − σ(1)) and σ(−1) − 0, both ∓0.2689 / 2 rows: dw = x·g, db = Σ g.
    const g = (sigmoid64(1) - 1) / 2;
    const g0 = sigmoid64(-1) / 2;
    expectNear(model.getParameter("0.weight")[0]!, 2 - 0.1 * g, { rtol: 1e-7, atol: 1e-7 }, "weight");
    expectNear(model.getParameter("0.bias")[0]!, -1 - 0.1 * (g + g0), { rtol: 1e-7, atol: 1e-7 }, "bias");
    model.dispose();
  });

  it("the same seed gives the same bits; probabilities are σ(logits) and predict is logit > 0", async () => {
    const { x, y } = attributes(96, 5, 3, 7);
    const data = Dataset.multiLabel(x, y, { features: 5, labels: 3 });
    const run = async () => {
      const m = mlp([5, 16, 3], { seed: 2 });
      const r = await train(m, data, { epochs: 4, batchSize: 16, seed: 5, validation: 0.25 });
      return { m, r };
    };
    const a = await run();
    const b = await run();
    expectSameBits(a.m.parameterBlock(), b.m.parameterBlock(), "same seed");
    expect(a.r.history.at(-1)!.loss).toBeLessThan(a.r.history[0]!.loss);
    expect(a.r.history[0]!.valLoss).toBeGreaterThan(0);
    const logits = a.m.logits(x);
    const p = a.m.probabilities(x);
    expectClose(p, Array.from(logits, sigmoid64), { rtol: 1e-6, atol: 1e-7 }, "σ(logits)");
    expect(Array.from(a.m.predict(x))).toEqual(Array.from(logits, (z) => (z > 0 ? 1 : 0)));
    expect(() => a.m.probabilities(x, { temperature: 2 })).toThrow(OptionError);
    a.m.dispose();
    b.m.dispose();
  });

  it("needs a label on every row, refuses other losses, class weights and accuracy monitoring", async () => {
    const { x, y } = attributes(8, 3, 2, 9);
    y.set([MISSING_LABEL, MISSING_LABEL], 0);
    const partial = Dataset.multiLabel(x, y, { features: 3, labels: 2 });
    const model = mlp([3, 2]);
    await expect(train(model, partial, { epochs: 1 })).rejects.toThrow(LabelError);
    const data = partial.labelledRows();
    await expect(train(model, data, { epochs: 1, batchSize: 4, loss: "cross-entropy" })).rejects.toThrow(
      /does not fit a multi-label dataset.*binary-cross-entropy/,
    );
    await expect(train(model, data, { epochs: 1, batchSize: 4, classWeights: [1, 2] })).rejects.toThrow(OptionError);
    await expect(train(model, data, { epochs: 1, batchSize: 4, validation: 0.3, earlyStopping: { patience: 1, monitor: "accuracy" } })).rejects.toThrow(
      /multi-label run monitors the validation loss/,
    );
    expect(model.multiLabel).toBe(false); // refused before training: not marked
    model.dispose();
  });
});

describe("tasks are not mixed", () => {
  it("TaskError for a multi-label model or teacher with single-label data, and the reverse", async () => {
    const { x, y } = attributes(16, 3, 2, 11);
    const multi = Dataset.multiLabel(x, y, { features: 3, labels: 2 });
    const single = new Dataset(
      x,
      Array.from({ length: 16 }, (_, i) => i % 2),
      { features: 3 },
    );
    const multiModel = mlp([3, 2], { multiLabel: true });
    const classifier = mlp([3, 2]);
    await expect(train(multiModel, single, { epochs: 1, batchSize: 4 })).rejects.toThrow(TaskError);
    expect(() => evaluate(multiModel, single)).toThrow(TaskError);
    expect(() => evaluate(classifier, multi)).toThrow(TaskError);
    expect(() => agreement(multiModel, multiModel, multi)).toThrow(TaskError);
    await expect(distill({ teacher: multiModel, student: mlp([3, 2]), data: single, epochs: 1, batchSize: 4 })).rejects.toThrow(
      /the teacher is multi-label .* but the data is a classification dataset/,
    );
    await expect(distill({ teacher: classifier, student: mlp([3, 2]), data: multi, epochs: 1, batchSize: 4 })).rejects.toThrow(
      /the data is multi-label but the teacher is not/,
    );
    await expect(distill({ teacher: [multiModel, multiModel], student: mlp([3, 2]), data: multi, epochs: 1, batchSize: 4 })).rejects.toThrow(
      /ensemble teacher combines softmax probabilities/,
    );
    await expect(distill({ teacher: multiModel, student: mlp([3, 2]), data: multi, softLoss: "kl", epochs: 1, batchSize: 4 })).rejects.toThrow(
      /takes softLoss "bce"/,
    );
    await expect(distill({ teacher: classifier, student: mlp([3, 2]), data: single, softLoss: "bce", epochs: 1, batchSize: 4 })).rejects.toThrow(OptionError);
    await expect(distill({ teacher: multiModel, student: mlp([3, 2], { multiLabel: true }), data: single, epochs: 1, batchSize: 4 })).rejects.toThrow(
      TaskError,
    );
    await expect(train(mlp([3, 2]), multi, { epochs: 1, batchSize: 4, validation: single })).rejects.toThrow(
      /validation is a classification dataset but data is a multilabel one/,
    );
    multiModel.dispose();
    classifier.dispose();
  });
});

describe("distill on multi-label data", () => {
  const setup = async () => {
    const { x, y } = attributes(64, 4, 3, 21);
    const data = Dataset.multiLabel(x, y, { features: 4, labels: 3 });
    const teacher = mlp([4, 24, 3], { seed: 1 });
    await train(teacher, data, { epochs: 3, batchSize: 16, seed: 1 });
    return { x, y, data, teacher };
  };

  it("α = 1 is train, bit for bit", async () => {
    const { data, teacher } = await setup();
    const plain = mlp([4, 8, 3], { seed: 3 });
    await train(plain, data, { epochs: 2, batchSize: 16, seed: 4 });
    const student = mlp([4, 8, 3], { seed: 3 });
    await distill({ teacher, student, data, alpha: 1, epochs: 2, batchSize: 16, seed: 4 });
    expectSameBits(student.parameterBlock(), plain.parameterBlock(), "distill α = 1 vs train");
    expect(student.multiLabel).toBe(true);
    for (const m of [teacher, plain, student]) m.dispose();
  });

  it("a model, a function and precomputed logits teach the same bits; a transfer set equals rows without labels", async () => {
    const { x, data, teacher } = await setup();
    const kept = data.keepLabels(16, { seed: 2 });
    const run = async (t: Parameters<typeof distill>[0]["teacher"]) => {
      const student = mlp([4, 8, 3], { seed: 5 });
      const r = await distill({ teacher: t, student, data: kept, temperature: 2, alpha: 0.3, epochs: 2, batchSize: 16, seed: 6 });
      return { student, r };
    };
    const byModel = await run(teacher);
    const byFunction = await run((batch) => teacher.logits(batch));
    const byLogits = await run(teacher.logits(x));
    expectSameBits(byFunction.student.parameterBlock(), byModel.student.parameterBlock(), "function teacher");
    expectSameBits(byLogits.student.parameterBlock(), byModel.student.parameterBlock(), "logits teacher");
    const parts = byModel.r.history[0]!.parts!;
    expect(parts.hard).toBeGreaterThan(0);
    expect(parts.soft).toBeGreaterThan(0);
    // The unlabelled rows as a transfer set: the same rows, in the same order, as MISSING_LABEL rows of data.
    const labelled = kept.labelledRows();
    const unlabelledRows = Array.from({ length: kept.length }, (_, i) => i).filter((i) => kept.y[i] === MISSING_LABEL);
    const transfer = Dataset.unlabelled(kept.subset(unlabelledRows).x, { features: 4, classes: 3 });
    const a = mlp([4, 8, 3], { seed: 5 });
    await distill({ teacher, student: a, data: labelled, transfer, temperature: 2, alpha: 0.3, epochs: 2, batchSize: 16, seed: 6 });
    const b = mlp([4, 8, 3], { seed: 5 });
    await distill({ teacher, student: b, data: labelled.concat(transfer), temperature: 2, alpha: 0.3, epochs: 2, batchSize: 16, seed: 6 });
    expectSameBits(a.parameterBlock(), b.parameterBlock(), "transfer set vs appended rows");
    for (const m of [teacher, byModel.student, byFunction.student, byLogits.student, a, b]) m.dispose();
  });
});

describe("evaluate and model files", () => {
  it("evaluate's metrics equal a float64 count from the logits", async () => {
    const { x, y } = attributes(200, 5, 4, 31);
    const data = Dataset.multiLabel(x, y, { features: 5, labels: 4 });
    const model = mlp([5, 12, 4], { seed: 1 });
    await train(model, data, { epochs: 3, batchSize: 20 });
    const e = evaluate(model, data, { batchSize: 64 });
    const z = model.logits(x);
    let exact = 0;
    let right = 0;
    let bce = 0;
    const tp = [0, 0, 0, 0];
    const fp = [0, 0, 0, 0];
    const fn = [0, 0, 0, 0];
    for (let r = 0; r < 200; r++) {
      let all = true;
      for (let j = 0; j < 4; j++) {
        const i = r * 4 + j;
        const p = z[i]! > 0 ? 1 : 0;
        bce += bceWithLogits64(z[i]!, y[i]!);
        if (p === y[i]) right++;
        else all = false;
        if (p && y[i]) tp[j]!++;
        if (p && !y[i]) fp[j]!++;
        if (!p && y[i]) fn[j]!++;
      }
      if (all) exact++;
    }
    const f1 = (j: number) => (2 * tp[j]!) / (2 * tp[j]! + fp[j]! + fn[j]!);
    const sum = (a: number[]) => a.reduce((s, v) => s + v, 0);
    expect(e.subsetAccuracy).toBe(exact / 200);
    expect(e.hammingAccuracy).toBe(right / 800);
    expect(e.microF1).toBe((2 * sum(tp)) / (2 * sum(tp) + sum(fp) + sum(fn)));
    expectNear(e.macroF1, (f1(0) + f1(1) + f1(2) + f1(3)) / 4, { rtol: 1e-15, atol: 0 }, "macro F1");
    expectNear(e.bce, bce / 800, { rtol: 1e-12, atol: 0 }, "mean BCE");
    expect([e.count, e.labels, e.labelF1.length, e.labelAccuracy.length]).toEqual([200, 4, 4, 4]);
    expect(e.hammingAccuracy).toBeGreaterThan(0.75);
    model.dispose();
  });

  it("the task is saved: loadModel and distill-wasm/infer give sigmoids and 0/1 predictions, bit for bit", async () => {
    const { x, y } = attributes(40, 3, 3, 41);
    const model = mlp([3, 8, 3], { seed: 2 });
    await train(model, Dataset.multiLabel(x, y, { features: 3, labels: 3 }), { epochs: 2, batchSize: 8 });
    const path = join(dir, "multi.safetensors");
    await saveModel(model, path);
    const loaded = await loadModel(path);
    expect(loaded.multiLabel).toBe(true);
    expectSameBits(loaded.probabilities(x), model.probabilities(x), "loadModel probabilities");
    const student = await loadStudent(path);
    expect(student.multiLabel).toBe(true);
    expect(student.metadata.task).toBe("multilabel");
    expectSameBits(student.probabilities(x), model.probabilities(x), "infer probabilities");
    expect(Array.from(student.predict(x))).toEqual(Array.from(model.predict(x)));
    expect(student.predict(x).length).toBe(40 * 3);
    // A classifier's file has no task record and stays a softmax classifier.
    const classifier = mlp([3, 3]);
    const bytes = modelToSafetensors(classifier);
    expect(modelFromSafetensors(bytes).multiLabel).toBe(false);
    expect(modelFromSafetensors(bytes, { multiLabel: true }).multiLabel).toBe(true);
    expect(() => modelToSafetensors(model, { task: "x" })).toThrow(/written by the library/);
    for (const m of [model, loaded, classifier]) m.dispose();
    student.dispose();
  });
});
