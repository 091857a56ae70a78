/**
 * Regression: Dataset.regression (targets that travel with their rows through subset,
 * split and concat), train with the MSE loss (one step against a float64 reference),
 * distill with the MSE soft loss (a float64 step with rows lacking targets; a transfer set
 * is the same run as appending its rows without targets), evaluate's RMSE / MAE / R², the
 * collapse checks' silence on a run without accuracy, and typed errors for what does not fit.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { Dataset, LabelError, MISSING_LABEL, OptionError, ShapeError, distill, evaluate, init, mlp, train, type Sequential } from "../../src/index.js";
import { HealthMonitor } from "../../src/train/health.js";
import { expectClose, expectNear, expectSameBits } from "../helpers/compare.js";
import { TestRandom } from "../helpers/rand.js";

/** y = x·Aᵀ + c + noise: (rows, features) → (rows, outputs). */
function linearData(rows: number, features: number, outputs: number, seed: number, noise = 0.1) {
  const rnd = new TestRandom(seed);
  const a = rnd.normal(outputs * features, 1);
  const x = rnd.normal(rows * features, 1);
  const e = rnd.normal(rows * outputs, noise);
  const t = new Float32Array(rows * outputs);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outputs; o++) {
      let s = 0.5 * o + e[r * outputs + o]!;
      for (let j = 0; j < features; j++) s += a[o * features + j]! * x[r * features + j]!;
      t[r * outputs + o] = s;
    }
  }
  return { x, t };
}

/** Outputs of a single dense layer in float64: (rows, outputs). */
function dense64(model: Sequential, x: Float32Array, rows: number): Float64Array {
  const w = model.getParameter("0.weight");
  const b = model.getParameter("0.bias");
  const inputs = model.inputs;
  const outputs = model.outputs;
  const out = new Float64Array(rows * outputs);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outputs; o++) {
      let s = b[o]!;
      for (let j = 0; j < inputs; j++) s += w[o * inputs + j]! * x[r * inputs + j]!;
      out[r * outputs + o] = s;
    }
  }
  return out;
}

/** One plain SGD step on a dense layer from ∂loss/∂outputs g (rows, outputs), in float64: [weight, bias]. */
function sgdStep64(model: Sequential, x: Float32Array, g: Float64Array, rows: number, lr: number): [Float64Array, Float64Array] {
  const w = Float64Array.from(model.getParameter("0.weight"));
  const b = Float64Array.from(model.getParameter("0.bias"));
  const inputs = model.inputs;
  const outputs = model.outputs;
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

beforeAll(async () => {
  await init();
});

describe("Dataset.regression", () => {
  it("carries the targets through subset, split, slice and concat with a transfer set", () => {
    const { x, t } = linearData(10, 3, 2, 1);
    const d = Dataset.regression(x, t, { features: 3, outputs: 2 });
    expect(d.task).toBe("regression");
    expect(d.targetWidth).toBe(2);
    expect(Array.from(d.y)).toEqual(new Array(10).fill(0));
    const s = d.subset([4, 1]);
    expect(Array.from(s.targets!)).toEqual([t[8], t[9], t[2], t[3]]);
    const { train: tr, validation } = d.split(0.3, { seed: 2 });
    expect(tr.length + validation.length).toBe(10);
    for (let i = 0; i < tr.length; i++) {
      const row = Array.from(tr.row(i));
      const k = Array.from({ length: 10 }, (_, r) => r).find((r) => Array.from(d.row(r)).every((v, j) => v === row[j]))!;
      expect(Array.from(tr.targets!.subarray(2 * i, 2 * i + 2))).toEqual(Array.from(t.subarray(2 * k, 2 * k + 2)));
    }
    expect(Array.from(d.slice(8).targets!)).toEqual(Array.from(t.subarray(16)));
    const joined = d.concat(Dataset.unlabelled(new Float32Array(6), { features: 3, classes: 1 }));
    expect(joined.length).toBe(12);
    expect(joined.labelled).toBe(10);
    expect(Array.from(joined.y.subarray(10))).toEqual([MISSING_LABEL, MISSING_LABEL]);
    expect(Array.from(joined.targets!.subarray(20))).toEqual([0, 0, 0, 0]);
    expect(new Dataset(x, new Int32Array(10), { features: 3 }).task).toBe("classification");
  });

  it("refuses targets of the wrong length, and labelled classification rows joined to regression rows", () => {
    const { x, t } = linearData(4, 3, 2, 1);
    expect(() => Dataset.regression(x, t.subarray(1), { features: 3, outputs: 2 })).toThrow(ShapeError);
    const d = Dataset.regression(x, t, { features: 3, outputs: 2 });
    expect(() => d.concat(new Dataset(x, [0, 1, 0, 1], { features: 3 }))).toThrow(LabelError);
    expect(() => d.concat(Dataset.regression(x, new Float32Array(4), { features: 3, outputs: 1 }))).toThrow(ShapeError);
  });
});

describe("train on regression data", () => {
  it("one SGD step of the MSE loss equals a float64 reference step", async () => {
    const rows = 8;
    const { x, t } = linearData(rows, 3, 2, 3);
    const data = Dataset.regression(x, t, { features: 3, outputs: 2 });
    const model = mlp([3, 2], { seed: 4 });
    const pred = dense64(model, x, rows);
    const n = rows * 2;
    let loss = 0;
    const g = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const d = pred[i]! - t[i]!;
      loss += (d * d) / n;
      g[i] = (2 * d) / n;
    }
    const lr = 0.1;
    const [w, b] = sgdStep64(model, x, g, rows, lr);
    const result = await train(model, data, { epochs: 1, batchSize: rows, optimizer: { type: "sgd", lr }, loss: "mse" });
    expectNear(result.history[0]!.loss, loss, TOL, "loss");
    expect(result.history[0]!.accuracy).toBeNaN();
    expectClose(model.getParameter("0.weight"), w, TOL, "weight");
    expectClose(model.getParameter("0.bias"), b, TOL, "bias");
    model.dispose();
  });

  it("learns a noisy linear map (loss falls, validation loss recorded, evaluate matches float64)", async () => {
    const { x, t } = linearData(256, 4, 2, 5);
    const data = Dataset.regression(x, t, { features: 4, outputs: 2 });
    const model = mlp([4, 16, 2], { seed: 6 });
    const result = await train(model, data, { epochs: 30, batchSize: 32, optimizer: "adam", lr: 0.01, validation: 0.25, seed: 7 });
    const first = result.history[0]!;
    const last = result.history.at(-1)!;
    expect(last.loss).toBeLessThan(first.loss / 4);
    expect(last.valLoss).toBeGreaterThan(0);
    expect(last.valAccuracy).toBeNaN();
    const m = evaluate(model, data);
    const out = model.logits(x);
    let sq = 0,
      abs = 0;
    const mean = [0, 0];
    for (let i = 0; i < t.length; i++) mean[i % 2]! += t[i]! / 256;
    const res = [0, 0],
      tot = [0, 0];
    for (let i = 0; i < t.length; i++) {
      const d = out[i]! - t[i]!;
      sq += d * d;
      abs += Math.abs(d);
      res[i % 2]! += d * d;
      tot[i % 2]! += (t[i]! - mean[i % 2]!) ** 2;
    }
    expectNear(m.rmse, Math.sqrt(sq / t.length), { rtol: 1e-12, atol: 0 }, "rmse");
    expectNear(m.mae, abs / t.length, { rtol: 1e-12, atol: 0 }, "mae");
    expectNear(m.r2, (1 - res[0]! / tot[0]! + 1 - res[1]! / tot[1]!) / 2, { rtol: 1e-12, atol: 1e-15 }, "r2");
    expect(m.r2).toBeGreaterThan(0.9);
    expect(m.count).toBe(256);
    model.dispose();
  });

  it("refuses a loss that does not fit the data, accuracy monitoring and a target width unlike the outputs", async () => {
    const { x, t } = linearData(16, 3, 2, 1);
    const data = Dataset.regression(x, t, { features: 3, outputs: 2 });
    const model = mlp([3, 2], { seed: 1 });
    await expect(train(model, data, { loss: "cross-entropy" })).rejects.toThrow(OptionError);
    await expect(train(model, new Dataset(x, new Int32Array(16), { features: 3 }), { loss: "mse" })).rejects.toThrow(OptionError);
    await expect(train(model, data, { validation: 0.25, earlyStopping: { patience: 2, monitor: "accuracy" }, batchSize: 4 })).rejects.toThrow(OptionError);
    await expect(train(mlp([3, 1]), data)).rejects.toThrow(ShapeError);
    await expect(train(model, data, { validation: new Dataset(x, new Int32Array(16), { features: 3 }) })).rejects.toThrow(ShapeError);
    await expect(train(model, data, { loss: "huber" } as never)).rejects.toThrow(OptionError);
    model.dispose();
  });

  it("the chance-accuracy check stays silent without an accuracy", () => {
    const model = mlp([3, 2], { seed: 1 });
    const health = new HealthMonitor(model, undefined, [], 4, { lr: 0.1 });
    expect(health.epochFailed(NaN)).toBe(false);
    expect(health.epochFailed(NaN)).toBe(false);
    expect(health.state.bestAccuracy).toBe(0);
    model.dispose();
  });
});

describe("distill on regression data", () => {
  it("one step is α·MSE(targets) + (1 − α)·MSE(teacher), rows without a target taking the soft part alone (float64)", async () => {
    const rows = 6;
    const { x, t } = linearData(rows, 3, 2, 11);
    const teacher = new TestRandom(12).normal(rows * 2, 1);
    const labelled = Dataset.regression(x.subarray(0, 12), t.subarray(0, 8), { features: 3, outputs: 2 });
    const data = labelled.concat(Dataset.regression(x.subarray(12), null, { features: 3, outputs: 2 }));
    expect(data.labelled).toBe(4);
    const student = mlp([3, 2], { seed: 13 });
    const pred = dense64(student, x, rows);
    const alpha = 0.3;
    const n = rows * 2;
    let hard = 0,
      soft = 0;
    const g = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const has = i < 8;
      const dh = has ? pred[i]! - t[i]! : 0;
      const ds = pred[i]! - teacher[i]!;
      hard += (dh * dh) / n;
      soft += (ds * ds) / n;
      g[i] = (alpha * 2 * dh) / n + ((1 - alpha) * 2 * ds) / n;
    }
    const lr = 0.05;
    const [w, b] = sgdStep64(student, x, g, rows, lr);
    const result = await distill({ teacher, student, data, alpha, epochs: 1, batchSize: rows, optimizer: { type: "sgd", lr } });
    const record = result.history[0]!;
    expectNear(record.parts!.hard!, hard, TOL, "hard");
    expectNear(record.parts!.soft!, soft, TOL, "soft");
    expectNear(record.loss, alpha * hard + (1 - alpha) * soft, TOL, "loss");
    expectClose(student.getParameter("0.weight"), w, TOL, "weight");
    expectClose(student.getParameter("0.bias"), b, TOL, "bias");
    student.dispose();
  });

  it("a transfer set is the same run, bit for bit, as its rows appended without targets", async () => {
    const { x, t } = linearData(48, 4, 2, 21);
    const data = Dataset.regression(x, t, { features: 4, outputs: 2 });
    const extra = new TestRandom(22).normal(32 * 4, 1);
    const teacherModel = mlp([4, 8, 2], { seed: 23 });
    await train(teacherModel, data, { epochs: 5, batchSize: 16, seed: 1 });
    const run = async (withTransfer: boolean) => {
      const student = mlp([4, 4, 2], { seed: 24 });
      const options = { teacher: teacherModel, student, alpha: 0.5, epochs: 3, batchSize: 10, seed: 3, optimizer: "adam" as const, lr: 0.01 };
      const result = withTransfer
        ? await distill({ ...options, data, transfer: Dataset.unlabelled(extra, { features: 4, classes: 1 }) })
        : await distill({ ...options, data: data.concat(Dataset.regression(extra, null, { features: 4, outputs: 2 })) });
      const params = student.parameterBlock();
      student.dispose();
      return { result, params };
    };
    const a = await run(true);
    const b = await run(false);
    expectSameBits(a.params, b.params, "student parameters");
    expect(a.result.history.map((r) => [r.loss, r.parts])).toEqual(b.result.history.map((r) => [r.loss, r.parts]));
    expect(a.result.history.every((r) => Number.isNaN(r.accuracy))).toBe(true);
    teacherModel.dispose();
  });

  it("refuses a KL soft loss, a temperature and an ensemble teacher", async () => {
    const { x, t } = linearData(16, 3, 2, 1);
    const data = Dataset.regression(x, t, { features: 3, outputs: 2 });
    const student = mlp([3, 2], { seed: 1 });
    const teacher = mlp([3, 2], { seed: 2 });
    await expect(distill({ teacher, student, data, softLoss: "kl" })).rejects.toThrow(OptionError);
    await expect(distill({ teacher, student, data, temperature: 2 })).rejects.toThrow(OptionError);
    await expect(distill({ teacher: [teacher, teacher], student, data })).rejects.toThrow(OptionError);
    student.dispose();
    teacher.dispose();
  });
});
