/**
 * Metrics (src/metrics): evaluate, agreement, compare and formatCompareTable.
 *
 * Hand-made models with known outputs give exact expectations (accuracy, top-k, confusion
 * counts, calibration bins); random models are checked against a float64 computation from
 * model.logits. Every call must leave the engine's heap and arena as they were.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ArgumentError, createEngine, Dataset, init, mlp, OptionError, quantize, ShapeError, type Engine, type Sequential } from "../../src/index.js";
import { agreement, compare, evaluate, formatCompareTable, type CompareResult } from "../../src/metrics/index.js";
import { TestRandom } from "../helpers/rand.js";

let engine: Engine;

beforeAll(async () => {
  engine = await init();
});

// ---------------------------------------------------------------- helpers

/** A single dense layer with the given weight (outputs, inputs) and zero bias: logits = x·Wᵀ. */
function linear(inputs: number, outputs: number, weight: number[]): Sequential {
  const model = mlp([inputs, outputs], { seed: 1 });
  model.setParameter("0.weight", weight);
  model.setParameter("0.bias", new Array<number>(outputs).fill(0));
  return model;
}

/** Heap and arena bytes must be unchanged by `fn` (run once first so model buffers are sized). */
function expectNoLeak<T>(fn: () => T): T {
  fn();
  const heap = engine.heapBytes;
  const arena = engine.bytesInUse;
  const result = fn();
  expect(engine.heapBytes).toBe(heap);
  expect(engine.bytesInUse).toBe(arena);
  return result;
}

function randomData(rng: TestRandom, rows: number, features: number, classes: number): Dataset {
  return Dataset.from(rng.uniform(rows * features, -2, 2), rng.ints(rows, classes), { features, classes });
}

/** float64 log-softmax of one row. */
function logSoftmax64(z: ArrayLike<number>): number[] {
  const m = Math.max(...Array.from(z));
  const lse = Math.log(Array.from(z).reduce((s, v) => s + Math.exp(v - m), 0));
  return Array.from(z, (v) => v - m - lse);
}

/** Index of the first largest value. */
function argmax(z: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < z.length; i++) if (z[i]! > z[best]!) best = i;
  return best;
}

const logit = (p: number) => Math.log(p / (1 - p));

// ---------------------------------------------------------------- evaluate

describe("evaluate", () => {
  // logits = [x0, x1, 0]
  const model = () => linear(2, 3, [1, 0, 0, 1, 0, 0]);
  // row: x → logits → predicted; label; rank of the label
  const data = () =>
    Dataset.from(
      [2, 0, /**/ 0, 3, /**/ -1, -2, /**/ 1, 1, /**/ -3, 1, /**/ 0.5, -1],
      [0, /*p0 r0*/ 1, /*p1 r0*/ 2, /*p2 r0*/ 1, /*p0 (tie) r1*/ 0, /*p1 r2*/ 2 /*p0 r1*/],
      { features: 2, classes: 3 },
    );

  it("counts accuracy, top-k (ties to the lower class id) and the confusion matrix exactly", () => {
    const m = model();
    const d = data();
    const r = expectNoLeak(() => evaluate(m, d, { topK: 2 }));
    expect(r.count).toBe(6);
    expect(r.classes).toBe(3);
    expect(r.accuracy).toBe(3 / 6);
    expect(r.topK).toEqual({ k: 2, accuracy: 5 / 6 });
    expect(Array.from(r.confusion)).toEqual([1, 1, 0, /**/ 1, 1, 0, /**/ 1, 0, 1]);
    expect(evaluate(m, d, { topK: 1 }).topK.accuracy).toBe(r.accuracy);
    expect(evaluate(m, d, { topK: 3 }).topK.accuracy).toBe(1);
    expect(evaluate(m, d).topK.k).toBe(3); // default min(5, outputs)
    m.dispose();
  });

  it("NLL is the mean −log p[label] of a float64 computation from model.logits", () => {
    const m = model();
    const d = data();
    const z = m.logits(d.x);
    let nll = 0;
    for (let r = 0; r < d.length; r++) nll -= logSoftmax64(z.subarray(r * 3, r * 3 + 3))[d.y[r]!]!;
    expect(evaluate(m, d).nll).toBeCloseTo(nll / d.length, 6);
    m.dispose();
  });

  describe("calibration", () => {
    // logits = [x, 0]: confidence σ(|x|), prediction 0 when x ≥ 0.
    const cases: [confidence: number, predicted: 0 | 1, label: number][] = [
      [0.95, 0, 0],
      [0.95, 1, 0],
      [0.85, 0, 0],
      [0.62, 1, 1],
      [0.62, 0, 1],
      [0.5, 0, 0],
    ];
    const x = cases.map(([c, p]) => (c === 0.5 ? 0 : (p === 0 ? 1 : -1) * logit(c)));
    const setup = () => ({
      m: linear(1, 2, [1, 0]),
      d: Dataset.from(
        x,
        cases.map((c) => c[2]),
        { features: 1, classes: 2 },
      ),
    });

    it("ECE with 15 bins equals the hand computation", () => {
      const { m, d } = setup();
      const r = evaluate(m, d);
      // bins (15): 0.95 → 14, 0.85 → 12, 0.62 → 9, 0.5 → 7; per bin |correct − Σ confidence| / n
      expect(r.ece).toBeCloseTo((Math.abs(1 - 1.9) + Math.abs(1 - 0.85) + Math.abs(1 - 1.24) + Math.abs(1 - 0.5)) / 6, 6);
      const used = r.reliability.flatMap((b, i) => (b.count ? [[i, b.count, b.accuracy]] : []));
      expect(used).toEqual([
        [7, 1, 1],
        [9, 2, 0.5],
        [12, 1, 1],
        [14, 2, 0.5],
      ]);
      expect(r.reliability[14]!.confidence).toBeCloseTo(0.95, 6);
      expect(r.reliability[14]!.lower).toBe(14 / 15);
      expect(r.reliability[14]!.upper).toBe(1);
      // the definition Σ_b (n_b / n)·|acc_b − conf_b|, recomputed from the bins
      expect(r.reliability.reduce((s, b) => s + (b.count / 6) * Math.abs(b.accuracy - b.confidence), 0)).toBeCloseTo(r.ece, 12);
      m.dispose();
    });

    it("bins are closed on the right, and one bin gives |accuracy − mean confidence|", () => {
      const { m, d } = setup();
      expect(m.probabilities([0])[0]).toBe(0.5);
      const ten = evaluate(m, d, { bins: 10 });
      expect(ten.reliability[4]!.count).toBe(1); // confidence 0.5 lies in (0.4, 0.5]
      expect(ten.reliability[5]!.count).toBe(0);
      expect(ten.ece).toBeCloseTo(1.79 / 6, 6);
      const one = evaluate(m, d, { bins: 1 });
      expect(one.ece).toBeCloseTo(Math.abs(4 - (1.9 + 0.85 + 1.24 + 0.5)) / 6, 6);
      expect(one.reliability).toHaveLength(1);
      m.dispose();
    });
  });

  it("matches a float64 computation on a random network over several batches, for any batch size", () => {
    const rng = new TestRandom(7);
    const m = mlp([4, 8, 5], { seed: 3 });
    const d = randomData(rng, 300, 4, 5);
    const z = m.logits(d.x);
    let correct = 0,
      top3 = 0,
      nll = 0;
    const bins = Array.from({ length: 15 }, () => ({ n: 0, correct: 0, conf: 0 }));
    for (let r = 0; r < d.length; r++) {
      const row = z.subarray(r * 5, r * 5 + 5);
      const label = d.y[r]!;
      const lp = logSoftmax64(row);
      const hit = argmax(row) === label ? 1 : 0;
      correct += hit;
      top3 += Array.from(row).filter((v, c) => v > row[label]! || (v === row[label]! && c < label)).length < 3 ? 1 : 0;
      nll -= lp[label]!;
      const conf = Math.exp(Math.max(...lp));
      const bin = bins[Math.min(14, Math.ceil(conf * 15) - 1)]!;
      bin.n++;
      bin.correct += hit;
      bin.conf += conf;
    }
    const ece = bins.reduce((s, b) => s + Math.abs(b.correct - b.conf), 0) / d.length;
    const r = expectNoLeak(() => evaluate(m, d, { topK: 3 }));
    expect(r.accuracy).toBe(correct / d.length);
    expect(r.topK.accuracy).toBe(top3 / d.length);
    expect(r.nll).toBeCloseTo(nll / d.length, 5);
    expect(r.ece).toBeCloseTo(ece, 5);
    expect(r.confusion.reduce((a, b) => a + b, 0)).toBe(300);
    for (const batchSize of [1, 7, 1000]) {
      const b = evaluate(m, d, { topK: 3, batchSize });
      expect(b.accuracy).toBe(r.accuracy);
      expect(Array.from(b.confusion)).toEqual(Array.from(r.confusion));
      expect(b.nll).toBeCloseTo(r.nll, 6);
    }
    m.dispose();
  });

  it("rejects mismatched data and bad options with typed errors", () => {
    const m = model();
    const d = data();
    const heap = engine.heapBytes;
    expect(() => evaluate(m, Dataset.from([1, 2, 3], [0], { features: 3 }))).toThrow(ShapeError);
    expect(() => evaluate(m, Dataset.from([1, 2], [3], { features: 2 }))).toThrow(ShapeError); // label 3, 3 outputs
    for (const topK of [0, 4, 1.5, Number.NaN, "2"]) {
      expect(() => evaluate(m, d, { topK: topK as number })).toThrow(OptionError);
    }
    expect(() => evaluate(m, d, { bins: 0 })).toThrow(OptionError);
    expect(() => evaluate(m, d, { batchSize: 0 })).toThrow(OptionError);
    expect(() => evaluate(m, { x: [1] } as unknown as Dataset)).toThrow(ArgumentError);
    expect(engine.heapBytes).toBe(heap);
    m.dispose();
    expect(() => evaluate(m, d)).toThrow(/disposed/);
  });
});

// ---------------------------------------------------------------- agreement

describe("agreement", () => {
  it("identical models agree everywhere with KL exactly 0", () => {
    const d = randomData(new TestRandom(11), 40, 6, 4);
    const a = mlp([6, 10, 4], { seed: 5 });
    const b = mlp([6, 10, 4], { seed: 5 });
    expect(expectNoLeak(() => agreement(a, b, d))).toEqual({ top1: 1, meanKl: 0, count: 40 });
    expect(agreement(a, a, d, { batchSize: 3 })).toEqual({ top1: 1, meanKl: 0, count: 40 });
    a.dispose();
    b.dispose();
  });

  it("different models match a float64 computation", () => {
    const d = randomData(new TestRandom(12), 50, 6, 4);
    const teacher = mlp([6, 16, 4], { seed: 1 });
    const student = mlp([6, 5, 4], { seed: 2 });
    const zt = teacher.logits(d.x);
    const zs = student.logits(d.x);
    let agree = 0,
      kl = 0;
    for (let r = 0; r < d.length; r++) {
      const t = zt.subarray(r * 4, r * 4 + 4);
      const s = zs.subarray(r * 4, r * 4 + 4);
      if (argmax(t) === argmax(s)) agree++;
      const lt = logSoftmax64(t);
      const ls = logSoftmax64(s);
      for (let c = 0; c < 4; c++) kl += Math.exp(lt[c]!) * (lt[c]! - ls[c]!);
    }
    const r = expectNoLeak(() => agreement(teacher, student, d));
    expect(r.count).toBe(50);
    expect(r.top1).toBe(agree / 50);
    expect(r.top1).toBeLessThan(1);
    expect(r.meanKl).toBeGreaterThan(0);
    expect(r.meanKl).toBeCloseTo(kl / 50, 5);
    expect(agreement(teacher, student, d, { batchSize: 8 }).meanKl).toBeCloseTo(r.meanKl, 6);
    teacher.dispose();
    student.dispose();
  });

  it("rejects models that do not fit each other or the data", async () => {
    const d = randomData(new TestRandom(13), 5, 6, 3);
    const teacher = mlp([6, 4]);
    const fewerOutputs = mlp([6, 3]);
    const fewerInputs = mlp([5, 4]);
    const elsewhere = mlp([6, 4], { engine: await createEngine() });
    expect(() => agreement(teacher, fewerOutputs, d)).toThrow(ShapeError);
    expect(() => agreement(teacher, fewerInputs, d)).toThrow(ShapeError);
    expect(() => agreement(teacher, teacher, d, { batchSize: -1 })).toThrow(OptionError);
    expect(() => agreement(teacher, elsewhere, d)).toThrow(ArgumentError);
    for (const m of [teacher, fewerOutputs, fewerInputs, elsewhere]) m.dispose();
  });
});

// ---------------------------------------------------------------- compare

describe("compare", () => {
  it("reports exact sizes and costs, positive timings and evaluate's accuracy", () => {
    const d = randomData(new TestRandom(21), 20, 784, 10);
    const teacher = mlp([784, 64, 10], { seed: 1 });
    const student = mlp([784, 32, 10], { seed: 2 });
    const baseline = mlp([784, 32, 10], { seed: 3 });
    const result = expectNoLeak(() => compare({ teacher, student, baseline, data: d, repeats: 2 }));
    expect(result.rows.map((r) => r.name)).toEqual(["teacher", "student", "baseline"]);
    const [t, s, b] = result.rows;
    expect([t!.architecture, t!.params, t!.bytes, t!.flops]).toEqual(["784-64-10", 50_890, 203_560, 2 * 784 * 64 + 64 + 64 + 2 * 64 * 10 + 10]);
    expect([s!.architecture, s!.params, s!.bytes, s!.flops]).toEqual(["784-32-10", 25_450, 101_800, 50_890]);
    expect(b!.params).toBe(25_450);
    for (const [row, model] of [
      [t!, teacher],
      [s!, student],
      [b!, baseline],
    ] as const) {
      expect(row.accuracy).toBe(evaluate(model, d).accuracy);
      for (const ms of [row.msPerSampleBatch1, row.msPerSampleBatch128]) {
        expect(ms).toBeGreaterThan(0);
        expect(Number.isFinite(ms)).toBe(true);
      }
    }
    expect(compare({ teacher, student, data: d, repeats: 1 }).rows.map((r) => r.name)).toEqual(["teacher", "student"]);

    const table = formatCompareTable(result);
    for (const text of ["teacher", "student", "baseline", "784-32-10", "25,450", "101.8 KB", "50.9 K", "%"]) {
      expect(table).toContain(text);
    }
    for (const m of [teacher, student, baseline]) m.dispose();
  });

  it("a quantized student gets one more row, last: its stored bytes, the float model's counts, its own predictions' accuracy", () => {
    const d = randomData(new TestRandom(23), 20, 784, 10);
    const teacher = mlp([784, 64, 10], { seed: 1 });
    const student = mlp([784, 32, 10], { seed: 2 });
    const int8 = quantize(student, d, { weights: "int8", activations: "int8" });
    const half = quantize(student, undefined, { weights: "fp16" });
    const result = compare({ teacher, student, quantized: int8, data: d, repeats: 2 });
    expect(result.rows.map((r) => r.name)).toEqual(["teacher", "student", "quantized"]);
    const [, s, q] = result.rows;
    expect(s!.quantization).toBeUndefined();
    expect([q!.architecture, q!.params, q!.bytes, q!.flops]).toEqual(["784-32-10", 25_450, int8.parameterBytes, 50_890]);
    expect(q!.quantization).toEqual({ weights: "int8", activations: "int8" });
    const ids = int8.predict(d.x);
    expect(q!.accuracy).toBe(ids.filter((c, i) => c === d.y[i]).length / d.length);
    for (const ms of [q!.msPerSampleBatch1, q!.msPerSampleBatch128]) expect(ms > 0 && Number.isFinite(ms)).toBe(true);
    const fp16 = compare({ teacher, student, quantized: half, data: d, repeats: 1 }).rows[2]!;
    expect([fp16.bytes, fp16.quantization]).toEqual([half.parameterBytes, { weights: "fp16", activations: "float" }]);
    const table = formatCompareTable(result, { quantized: "distilled student, int8" });
    expect(table).toMatch(/^distilled student, int8 +784-32-10 +25,450 +\d+\.\d KB/m);
    // Typed errors: not a QuantizedModel, a disposed one, one of another width.
    expect(() => compare({ teacher, student, quantized: student as never, data: d })).toThrow(ArgumentError);
    const narrow = mlp([784, 8, 4], { seed: 4 });
    const small = quantize(narrow, d.x.subarray(0, 784 * 4));
    expect(() => compare({ teacher, student, quantized: small, data: d })).toThrow(ShapeError);
    int8.dispose();
    expect(() => compare({ teacher, student, quantized: int8, data: d })).toThrow(/the quantized model has been disposed/);
    for (const m of [teacher, student, narrow, half, small]) m.dispose();
  });

  it("rejects bad options with typed errors", () => {
    const d = randomData(new TestRandom(22), 4, 3, 2);
    const teacher = mlp([3, 2]);
    const wrongInputs = mlp([4, 2]);
    const tooFewOutputs = mlp([3, 1]);
    expect(() => compare({ teacher, student: teacher, data: d, repeats: 0 })).toThrow(OptionError);
    expect(() => compare({ teacher, student: wrongInputs, data: d })).toThrow(ShapeError);
    expect(() => compare({ teacher, student: teacher, baseline: tooFewOutputs, data: d })).toThrow(ShapeError);
    expect(() => compare(null as never)).toThrow(ArgumentError);
    for (const m of [teacher, wrongInputs, tooFewOutputs]) m.dispose();
  });

  it("formats an aligned table with sizes, 3-digit times and percentages", () => {
    const result: CompareResult = {
      rows: [
        {
          name: "teacher",
          architecture: "784-512-512-10",
          params: 669_706,
          bytes: 2_678_824,
          flops: 1_339_402,
          msPerSampleBatch1: 0.30149,
          msPerSampleBatch128: 0.0123456,
          accuracy: 0.98123,
        },
        {
          name: "student",
          architecture: "784-32-10",
          params: 25_450,
          bytes: 101_800,
          flops: 999_960,
          msPerSampleBatch1: 1234.5,
          msPerSampleBatch128: 2,
          accuracy: 0.9,
        },
      ],
    };
    const lines = formatCompareTable(result).split("\n");
    expect(lines).toHaveLength(4);
    expect(new Set(lines.map((l) => l.length)).size).toBe(1);
    expect(lines[1]).toMatch(/^[- ]+$/);
    const cells = lines.slice(2).map((l) => l.trim().split(/\s{2,}/));
    expect(cells[0]).toEqual(["teacher", "784-512-512-10", "669,706", "2.68 MB", "1.34 M", "0.301", "0.0123", "98.12%"]);
    expect(cells[1]).toEqual(["student", "784-32-10", "25,450", "101.8 KB", "1.00 M", "1235", "2.00", "90.00%"]);
  });
});
