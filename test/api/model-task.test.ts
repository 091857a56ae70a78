/**
 * What a model's outputs mean (src/nn/task.ts) and what predict() returns for it, in the full
 * library, in QuantizedModel and in distill-wasm/infer: a regression student trained on the
 * diabetes table predicts its outputs (the logits' bits, a Float32Array), saved and loaded by
 * either; a multi-label quantized model keeps its sigmoid; a classifier still predicts class
 * ids. The task follows the data through train and distill, and mixing tasks is a TaskError.
 */
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  Dataset,
  OptionError,
  Sequential,
  TaskError,
  dense,
  distill,
  evaluate,
  init,
  loadCsv,
  mlp,
  quantize,
  relu,
  standardizer,
  train,
} from "../../src/index.js";
import { modelToSafetensors, saveModel, loadModel } from "../../src/io/index.js";
import { loadStudent } from "../../src/infer/index.js";
import { expectSameBits } from "../helpers/compare.js";
import { TestRandom } from "../helpers/rand.js";

const DIABETES = join(import.meta.dirname, "../../../shared/data/tabular/diabetes.csv");

let dir: string;
beforeAll(async () => {
  await init();
  dir = mkdtempSync(join(tmpdir(), "distill-wasm-task-"));
});

/** A regression dataset of `rows` rows: y = x·a + 0.5 (two outputs: y and −y). */
function linear(rows: number, features: number, seed: number): Dataset {
  const rnd = new TestRandom(seed);
  const a = rnd.normal(features, 1);
  const x = rnd.normal(rows * features, 1);
  const t = new Float32Array(rows * 2);
  for (let r = 0; r < rows; r++) {
    let s = 0.5;
    for (let j = 0; j < features; j++) s += a[j]! * x[r * features + j]!;
    t[2 * r] = s;
    t[2 * r + 1] = -s;
  }
  return Dataset.regression(x, t, { features, outputs: 2 });
}

describe("a regression student on the diabetes table", () => {
  it.skipIf(!existsSync(DIABETES))("predicts its outputs in the library and in distill-wasm/infer, bit for bit, after save and load", async () => {
    const data = await loadCsv(DIABETES, { task: "regression", labelColumn: "target" });
    expect(data.task).toBe("regression");
    const model = new Sequential([standardizer(data), dense(data.features, 16), relu(), dense(16, 1)], { seed: 1 });
    expect(model.task).toBe("classification");
    await train(model, data, { epochs: 5, seed: 1, optimizer: { type: "adam", lr: 0.05 } });
    expect(model.task).toBe("regression");
    const x = data.x.subarray(0, 7 * data.features);
    const logits = model.logits(x);
    const predicted = model.predict(x);
    expect(predicted).toBeInstanceOf(Float32Array);
    expectSameBits(predicted as Float32Array, logits, "predict = logits");
    // The outputs are values near the targets (the mean target is 152), not a class id of 0.
    expect(Math.max(...logits)).toBeGreaterThan(50);

    const path = join(dir, "diabetes.safetensors");
    await saveModel(model, path);
    const loaded = await loadModel(path);
    expect(loaded.task).toBe("regression");
    expectSameBits(loaded.predict(x) as Float32Array, logits, "loadModel predict");
    const student = await loadStudent(path);
    expect([student.task, student.multiLabel, student.metadata.task]).toEqual(["regression", false, "regression"]);
    const fromInfer = student.predict(x, 7);
    expect(fromInfer).toBeInstanceOf(Float32Array);
    expectSameBits(fromInfer as Float32Array, logits, "distill-wasm/infer predict");
    expect(() => student.probabilities(x)).toThrow(TaskError);
    expect(() => model.probabilities(x)).toThrow(/regression model's outputs are values/);
    student.dispose();
    loaded.dispose();
    model.dispose();
  });
});

describe("the task of a model", () => {
  it("is an option checked by the schema; multiLabel is the same as task multilabel", () => {
    const m = new Sequential([dense(3, 2)], { task: "regression" });
    expect([m.task, m.multiLabel]).toEqual(["regression", false]);
    m.multiLabel = true;
    expect(m.task).toBe("multilabel");
    m.multiLabel = false;
    expect(m.task).toBe("classification");
    expect(new Sequential([dense(3, 2)], { multiLabel: true }).task).toBe("multilabel");
    expect(new Sequential([dense(3, 2)], { multiLabel: true, task: "multilabel" }).task).toBe("multilabel");
    expect(() => new Sequential([dense(3, 2)], { task: "regresion" as never })).toThrow(OptionError);
    expect(() => new Sequential([dense(3, 2)], { task: "regresion" as never })).toThrow(/one of "classification", "regression", "multilabel"/);
    expect(() => new Sequential([dense(3, 2)], { multiLabel: true, task: "regression" })).toThrow(/contradicts task "regression"/);
    expect(() => new Sequential([dense(3, 2)], { tasks: "regression" } as never)).toThrow(/did you mean "task"/);
  });

  it("classifiers still predict class ids (Int32Array), the same as before", async () => {
    const m = mlp([4, 3], { seed: 2 });
    const x = new TestRandom(3).normal(5 * 4, 1);
    const ids = m.predict(x);
    expect(ids).toBeInstanceOf(Int32Array);
    const logits = m.logits(x);
    for (let r = 0; r < 5; r++) {
      const row = Array.from(logits.subarray(3 * r, 3 * r + 3));
      expect(ids[r]).toBe(row.indexOf(Math.max(...row)));
    }
  });

  it("follows regression data through distill, and a regression model refuses classification data", async () => {
    const data = linear(64, 3, 4);
    const teacher = mlp([3, 8, 2], { seed: 5 });
    await train(teacher, data, { epochs: 2, seed: 5 });
    expect(teacher.task).toBe("regression");
    const student = mlp([3, 2], { seed: 6 });
    await distill({ teacher, student, data, epochs: 1, seed: 6 });
    expect(student.task).toBe("regression");
    const classes = Dataset.from(new TestRandom(7).normal(8 * 3, 1), [0, 1, 0, 1, 0, 1, 0, 1], { features: 3, classes: 2 });
    await expect(train(student, classes, { epochs: 1 })).rejects.toThrow(TaskError);
    await expect(train(student, classes, { epochs: 1 })).rejects.toThrow(/regression model .* but the data is a classification dataset/);
    expect(() => evaluate(student, classes)).toThrow(TaskError);
    expect(evaluate(student, data).count).toBe(64);
    teacher.dispose();
    student.dispose();
  });

  it("carries through quantize: a regression QuantizedModel predicts its outputs, in the library and in distill-wasm/infer", async () => {
    const data = linear(48, 5, 8);
    const model = mlp([5, 16, 2], { seed: 9 });
    await train(model, data, { epochs: 2, seed: 9, batchSize: 16 });
    for (const options of [{ weights: "int8" as const }, { weights: "fp16" as const }]) {
      const q = quantize(model, data, options);
      expect(q.task).toBe("regression");
      const x = data.x.subarray(0, 6 * 5);
      const predicted = q.predict(x);
      expect(predicted).toBeInstanceOf(Float32Array);
      expectSameBits(predicted as Float32Array, q.logits(x), `${options.weights} predict = logits`);
      expect(() => q.probabilities(x)).toThrow(TaskError);
      const bytes = q.toSafetensors();
      const student = await loadStudent(bytes);
      expect([student.task, student.quantization?.weights]).toEqual(["regression", options.weights]);
      expectSameBits(student.predict(x) as Float32Array, q.logits(x), `${options.weights} distill-wasm/infer predict`);
      expect(() => q.toSafetensors({ task: "classification" })).toThrow(/"task" is written by the library/);
      student.dispose();
      q.dispose();
    }
    model.dispose();
  });

  it("carries through quantize for a multi-label model: σ per output and 0/1 predictions, the same in distill-wasm/infer", async () => {
    const rnd = new TestRandom(10);
    const x = rnd.normal(40 * 4, 1);
    const labels = Int32Array.from({ length: 40 * 3 }, (_, i) => (x[Math.floor(i / 3) * 4 + (i % 3)]! > 0 ? 1 : 0));
    const data = Dataset.multiLabel(x, labels, { features: 4, labels: 3 });
    const model = mlp([4, 8, 3], { seed: 11 });
    await train(model, data, { epochs: 2, seed: 11, batchSize: 8 });
    const q = quantize(model, data);
    expect(q.task).toBe("multilabel");
    const logits = q.logits(x);
    const p = q.probabilities(x);
    for (let i = 0; i < logits.length; i++) expect(p[i]).toBeCloseTo(1 / (1 + Math.exp(-logits[i]!)), 6);
    expect(Array.from(q.predict(x))).toEqual(Array.from(logits, (z) => (z > 0 ? 1 : 0)));
    expect(() => q.probabilities(x, { temperature: 2 })).toThrow(OptionError);
    const student = await loadStudent(q.toSafetensors());
    expect(student.task).toBe("multilabel");
    expectSameBits(student.probabilities(x), p, "distill-wasm/infer σ");
    expect(Array.from(student.predict(x))).toEqual(Array.from(q.predict(x)));
    student.dispose();
    q.dispose();
    model.dispose();
  });

  it("a regression model's file says so; a file written without the record still loads as a classifier", async () => {
    const model = mlp([3, 2], { seed: 12, task: "regression" });
    const bytes = modelToSafetensors(model);
    const student = await loadStudent(bytes);
    expect(student.task).toBe("regression");
    student.dispose();
    const classifier = modelToSafetensors(mlp([3, 2], { seed: 12 }));
    const legacy = await loadStudent(classifier);
    expect([legacy.task, legacy.metadata.task]).toEqual(["classification", undefined]);
    legacy.dispose();
    model.dispose();
  });
});
