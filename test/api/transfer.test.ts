/**
 * Transfer sets: rows without a label (MISSING_LABEL) get the soft loss alone, in the fused
 * loss kernels (SIMD vs `_ref` bit for bit, float64 values and gradients), in Dataset
 * (unlabelled, keepLabels, labelledRows, concat), and in distill({ data, transfer }), which
 * is the same run as distilling on data with the transfer rows appended unlabelled.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { Dataset, LabelError, MISSING_LABEL, OptionError, ArgumentError, distill, evaluate, init, mlp, train, type Engine } from "../../src/index.js";
import { MISSING_LABEL as KERNEL_MISSING_LABEL } from "../../src/runtime/abi.js";
import { EXACT_BUILDS, loadBuild, type TestEngine } from "../helpers/engines.js";
import { expectClose, expectSameBits } from "../helpers/compare.js";
import { distill64 } from "../helpers/reference.js";
import { TestRandom } from "../helpers/rand.js";
import { blobs } from "../helpers/tiny-data.js";

const COLS = [1, 3, 4, 5, 7, 8, 17, 129];

/** A batch whose labels are missing on every third row (and on all rows when `allMissing`). */
function batch(rows: number, cols: number, seed: number, allMissing = false) {
  const rnd = new TestRandom(seed);
  const labels = rnd.ints(rows, cols);
  for (let r = 0; r < rows; r++) if (allMissing || r % 3 === 1) labels[r] = MISSING_LABEL;
  return { s: rnd.normal(rows * cols, 3), t: rnd.normal(rows * cols, 3), labels, rows, cols };
}

function runDistillLoss(engine: TestEngine, ref: boolean, b: ReturnType<typeof batch>, temp: number, alpha: number) {
  return engine.scoped(() => {
    const k = engine.kernels;
    const gp = engine.allocF32(b.s.length);
    const out = engine.alloc(24);
    const f = ref ? k.distill_loss_ref : k.distill_loss;
    const loss = f(out, gp, engine.putF32(b.s), engine.putF32(b.t), engine.putI32(b.labels), b.rows, b.cols, temp, alpha, 0);
    const [, hard, soft] = engine.f64(out, 3);
    return { loss, hard: hard!, soft: soft!, grad: engine.readF32(gp, b.s.length) };
  });
}

describe.each(EXACT_BUILDS)("rows without a label in the loss kernels (%s build)", (build) => {
  let engine: TestEngine;
  beforeAll(async () => {
    engine = await loadBuild(build);
  });

  it("MISSING_LABEL is the kernels' constant", () => {
    expect(MISSING_LABEL).toBe(-1);
    expect(KERNEL_MISSING_LABEL).toBe(MISSING_LABEL);
  });

  it.each(COLS)("distill_loss: SIMD and _ref agree bit for bit, and both match float64 (%i classes)", (cols) => {
    for (const [rows, temp, alpha] of [
      [1, 4, 0.3],
      [5, 20, 0],
      [7, 1, 0.5],
      [17, 4, 1],
    ] as const) {
      const b = batch(rows, cols, 31 * rows + cols);
      const fast = runDistillLoss(engine, false, b, temp, alpha);
      const ref = runDistillLoss(engine, true, b, temp, alpha);
      expectSameBits(fast.grad, ref.grad);
      expect(fast.loss).toBe(ref.loss);
      const want = distill64(b.s, b.t, b.labels, rows, cols, temp, alpha);
      expectClose(fast.grad, want.grad, { rtol: 2e-5, atol: 2e-6 }, "gradient");
      expect(fast.hard).toBeCloseTo(want.hard, 4);
      expect(fast.soft).toBeCloseTo(want.soft, 3);
    }
  });

  it("a row without a label has exactly the soft gradient (1 − α)·T·(p_s − p_t)/rows; cross_entropy gives it zero", () => {
    const b = batch(6, 10, 7);
    const alpha = 0.25;
    const withLabels = runDistillLoss(engine, false, b, 4, alpha);
    const softOnly = engine.scoped(() => {
      const gp = engine.allocF32(b.s.length);
      engine.kernels.kl_div(gp, engine.putF32(b.s), engine.putF32(b.t), b.rows, b.cols, 4);
      return engine.readF32(gp, b.s.length);
    });
    for (const r of [1, 4]) {
      const row = withLabels.grad.subarray(r * 10, r * 10 + 10);
      const want = softOnly.subarray(r * 10, r * 10 + 10).map((g) => Math.fround(Math.fround(1 - alpha) * g));
      expectSameBits(row, want);
    }
    const ce = engine.scoped(() => {
      const gp = engine.allocF32(b.s.length);
      const loss = engine.kernels.cross_entropy(gp, engine.putF32(b.s), engine.putI32(b.labels), b.rows, b.cols);
      return { loss, grad: engine.readF32(gp, b.s.length) };
    });
    for (const r of [1, 4]) expect([...ce.grad.subarray(r * 10, r * 10 + 10)].every((g) => g === 0)).toBe(true);
    expect(ce.loss).toBeCloseTo(withLabels.hard, 6);
  });

  it("a batch with no label at all: the hard part is 0 and the total is (1 − α)·soft", () => {
    const b = batch(5, 7, 3, true);
    const r = runDistillLoss(engine, false, b, 4, 0.4);
    expect(r.hard).toBe(0);
    expect(r.loss).toBeCloseTo(0.6 * r.soft, 5);
  });

  it("count_labelled counts the rows that have a label", () => {
    for (const rows of [1, 3, 4, 5, 17]) {
      const b = batch(rows, 3, rows);
      const want = [...b.labels].filter((l) => l !== MISSING_LABEL).length;
      expect(engine.scoped(() => engine.kernels.count_labelled(engine.putI32(b.labels), rows))).toBe(want);
    }
  });
});

describe("Dataset with rows without a label", () => {
  beforeAll(async () => {
    await init();
  });
  const data = blobs({ rows: 120, features: 4, classes: 3, seed: 5 });

  it("unlabelled(), keepLabels(), labelledRows() and concat() keep rows, order and classes", () => {
    const u = Dataset.unlabelled(data.x, { features: 4, classes: 3 });
    expect(u.length).toBe(120);
    expect(u.labelled).toBe(0);
    expect([...u.classCounts()]).toEqual([0, 0, 0]);
    const kept = data.keepLabels(30, { seed: 9 });
    expectSameBits(kept.x, data.x);
    expect(kept.labelled).toBe(30);
    expect([...kept.classCounts()]).toEqual([10, 10, 10]); // stratified
    for (let i = 0; i < 120; i++) if (kept.y[i] !== MISSING_LABEL) expect(kept.y[i]).toBe(data.y[i]);
    expect([...data.keepLabels(30, { seed: 9 }).y]).toEqual([...kept.y]); // seeded
    expect([...data.keepLabels(30, { seed: 10 }).y]).not.toEqual([...kept.y]);
    const rows = kept.labelledRows();
    expect(rows.length).toBe(30);
    expect(rows.labelled).toBe(30);
    const both = rows.concat(u);
    expect(both.length).toBe(150);
    expect(both.labelled).toBe(30);
    expectSameBits(both.x.subarray(30 * 4), data.x);
    // keeping fewer labels of a partly labelled set draws among its labelled rows
    const fewer = kept.keepLabels(6, { seed: 1 });
    expect(fewer.labelled).toBe(6);
    for (let i = 0; i < 120; i++) if (fewer.y[i] !== MISSING_LABEL) expect(kept.y[i]).toBe(fewer.y[i]);
  });

  it("refuses what needs every label, with a LabelError naming the missing rows", async () => {
    const kept = data.keepLabels(30, { seed: 1 });
    const model = mlp([4, 8, 3], { seed: 1 });
    await expect(train(model, kept, { epochs: 1 })).rejects.toThrow(LabelError);
    await expect(train(model, kept, { epochs: 1 })).rejects.toThrow(/90 of 120 rows without a label/);
    expect(() => evaluate(model, kept)).toThrow(LabelError);
    expect(() => kept.split(0.2, { stratified: true })).toThrow(LabelError);
    expect(() => new Dataset(data.x, new Int32Array(120).fill(MISSING_LABEL), { features: 4 })).toThrow(/pass classes/);
    expect(() => new Dataset(data.x, new Int32Array(120).fill(-2), { features: 4, classes: 3 })).toThrow(LabelError);
    expect(() => data.keepLabels(121)).toThrow(OptionError);
    model.dispose();
  });
});

describe("distill with a transfer set", () => {
  beforeAll(async () => {
    await init();
  });
  const all = blobs({ rows: 300, features: 6, classes: 3, seed: 11, spread: 1.5 });
  const labelled = all.slice(0, 30);
  const transfer = all.slice(30);
  const common = { epochs: 3, batchSize: 32, seed: 4, temperature: 3 };

  it("is the same run as distilling on data with the transfer rows appended unlabelled, bit for bit", async () => {
    const teacher = mlp([6, 16, 3], { seed: 1 });
    await train(teacher, all, { epochs: 4, seed: 1 });
    const a = mlp([6, 8, 3], { seed: 2 });
    const b = mlp([6, 8, 3], { seed: 2 });
    const ra = await distill({ ...common, teacher, student: a, data: labelled, transfer });
    const appended = labelled.concat(Dataset.unlabelled(transfer.x, { features: 6, classes: 3 }));
    const rb = await distill({ ...common, teacher, student: b, data: appended });
    expectSameBits(a.parameterBlock(), b.parameterBlock());
    expect(ra.history.map((h) => h.loss)).toEqual(rb.history.map((h) => h.loss));
    // training accuracy is over the labelled rows only
    expect(ra.history.every((h) => h.accuracy >= 0 && h.accuracy <= 1)).toBe(true);
    for (const m of [teacher, a, b]) m.dispose();
  });

  it("without data: every row from the teacher, α defaults to 0, accuracy is NaN (no labels); fineTune is refused", async () => {
    const teacher = mlp([6, 16, 3], { seed: 1 });
    await train(teacher, all, { epochs: 4, seed: 1 });
    const student = mlp([6, 8, 3], { seed: 2 });
    const r = await distill({ ...common, teacher, student, transfer });
    expect(r.history).toHaveLength(3);
    expect(r.history.every((h) => Number.isNaN(h.accuracy))).toBe(true);
    expect(r.history.at(-1)!.parts!.alpha).toBe(0);
    expect(evaluate(student, all).accuracy).toBeGreaterThan(0.5);
    await expect(distill({ ...common, teacher, student, transfer, fineTune: { epochs: 1 } })).rejects.toThrow(/fineTune trains on labels/);
    await expect(distill({ ...common, teacher, student } as never)).rejects.toThrow(ArgumentError);
    await expect(distill({ ...common, teacher, student, transfer: all.x } as never)).rejects.toThrow(/transfer must be a Dataset/);
    for (const m of [teacher, student]) m.dispose();
  });

  it("a validation fraction comes from the labelled rows; the transfer rows all train", async () => {
    const teacher = mlp([6, 16, 3], { seed: 1 });
    await train(teacher, all, { epochs: 2, seed: 1 });
    const student = mlp([6, 8, 3], { seed: 2 });
    const r = await distill({ ...common, teacher, student, data: labelled, transfer, validation: 0.2 });
    expect(r.history.every((h) => h.valAccuracy !== undefined && h.valAccuracy >= 0)).toBe(true);
    for (const m of [teacher, student]) m.dispose();
  });
});
