/**
 * quantize(): int8 students from trained MLPs on the mnist package's digits. Accuracy within
 * one point of the float model (two seeds), files about 4× smaller, the integer pipeline
 * equal to a float32 simulation in JavaScript bit for bit, file round trips into the full
 * library and into distill-wasm/infer with identical bits, the same integers on the relaxed
 * build, and typed errors for bad input.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  ArgumentError,
  Dataset,
  FormatError,
  NonFiniteError,
  OptionError,
  ShapeError,
  TaskError,
  batchNorm,
  conv2d,
  createEngine,
  decodeSafetensors,
  init,
  dense,
  dropout,
  encodeSafetensors,
  evaluate,
  flatten,
  loadMnistDigits,
  mlp,
  modelFromSafetensors,
  modelToSafetensors,
  quantize,
  quantizedFromSafetensors,
  relu,
  Sequential,
  tanh,
  train,
  type Engine,
  type QuantizedModel,
  type TensorToEncode,
} from "../../src/index.js";
import { loadStudent } from "../../src/infer/index.js";
import { expectSameBits } from "../helpers/compare.js";
import { loadBuild, relaxedAvailable } from "../helpers/engines.js";

let engine: Engine;
let data: { train: Dataset; test: Dataset };

beforeAll(async () => {
  engine = await init(); // the baseline build, as distill-wasm/infer
  data = await loadMnistDigits({ train: 3000, test: 1000, seed: 5 });
});

function accuracy(predicted: Int32Array, labels: Int32Array): number {
  let right = 0;
  for (let i = 0; i < labels.length; i++) if (predicted[i] === labels[i]) right++;
  return right / labels.length;
}

/** Round half to even, as the quantize_i8 kernel. */
function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  return d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
}

/**
 * The int8 forward pass of a quantized file's dense/ReLU layers in JavaScript, every float
 * step rounded to float32 as the kernels round it: the wasm pipeline must equal it bit for bit.
 */
function simulate(bytes: Uint8Array, x: Float32Array, inputs: number): Float32Array {
  const { tensors, metadata } = decodeSafetensors(bytes);
  const specs = JSON.parse(metadata.architecture!) as { type: string; name?: string }[];
  const rows = x.length / inputs;
  let cur = Float64Array.from(x);
  let width = inputs;
  specs.forEach((s, i) => {
    if (s.type !== "dense") return;
    const w = tensors.get(`${i}.weight`)!.data as Int8Array;
    const ws = tensors.get(`${i}.weight_scale`)!.data as Float32Array;
    const b = tensors.get(`${i}.bias`)!.data as Float32Array;
    const xs = (tensors.get(`${i}.input_scale`)!.data as Float32Array)[0]!;
    const out = ws.length;
    const relu = specs[i + 1]?.type === "activation" && specs[i + 1]!.name === "relu";
    const q = Int8Array.from(cur, (v) => Math.min(127, Math.max(-127, roundHalfEven(Math.fround(v / xs)))));
    const next = new Float64Array(rows * out);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < out; j++) {
        let acc = 0;
        for (let p = 0; p < width; p++) acc += q[r * width + p]! * w[j * width + p]!;
        let v = Math.fround(Math.fround(acc) * Math.fround(xs * ws[j]!));
        v = Math.fround(v + b[j]!);
        next[r * out + j] = relu ? Math.max(v, 0) : v;
      }
    }
    cur = next;
    width = out;
  });
  return Float32Array.from(cur);
}

describe.each([1, 2])("a trained MLP (seed %i)", (seed) => {
  let model: Sequential;
  let int8: QuantizedModel;
  let floatAccuracy: number;

  beforeAll(async () => {
    model = mlp([784, 64, 10], { seed, engine });
    await train(model, data.train, { epochs: 3, batchSize: 32, optimizer: "adam", lr: 0.002, seed });
    floatAccuracy = accuracy(model.predict(data.test.x) as Int32Array, data.test.y);
    int8 = quantize(model, data.train, { weights: "int8", activations: "int8" });
  }, 120_000);

  it("int8 weights and activations keep test accuracy within 1 point of the float model", () => {
    const int8Accuracy = accuracy(int8.predict(data.test.x) as Int32Array, data.test.y);
    const storage = quantize(model, undefined, { activations: "float" });
    const storageAccuracy = accuracy(storage.predict(data.test.x) as Int32Array, data.test.y);
    console.log(`[quantize seed ${seed}] test accuracy: float ${floatAccuracy}, int8 ${int8Accuracy}, int8 weights + float activations ${storageAccuracy}`);
    expect(floatAccuracy).toBeGreaterThan(0.85); // the model learned something worth keeping
    expect(Math.abs(int8Accuracy - floatAccuracy)).toBeLessThanOrEqual(0.01);
    expect(Math.abs(storageAccuracy - floatAccuracy)).toBeLessThanOrEqual(0.01);
    storage.dispose();
  });

  it("evaluate() takes the quantized model: its metrics are those of its own logits, in every batch size", () => {
    const test = data.test;
    const e = evaluate(int8, test, { batchSize: 37 });
    expect(e.count).toBe(test.length);
    // accuracy, confusion and top-k from the int8 logits in JavaScript (ties to the lowest class id, as argmax)
    const z = int8.logits(test.x);
    const classes = 10;
    let right = 0;
    let inTop5 = 0;
    let nll = 0;
    for (let r = 0; r < test.length; r++) {
      const row = z.subarray(r * classes, (r + 1) * classes);
      const label = test.y[r]!;
      let best = 0;
      for (let c = 1; c < classes; c++) if (row[c]! > row[best]!) best = c;
      if (best === label) right++;
      let rank = 0;
      for (let c = 0; c < classes; c++) if (row[c]! > row[label]! || (row[c] === row[label] && c < label)) rank++;
      if (rank < 5) inTop5++;
      const max = Math.max(...row);
      nll -= row[label]! - max - Math.log(row.reduce((t, v) => t + Math.exp(v - max), 0));
    }
    expect(e.accuracy).toBe(right / test.length);
    expect(e.accuracy).toBe(accuracy(int8.predict(test.x) as Int32Array, test.y));
    expect(e.topK.accuracy).toBe(inTop5 / test.length);
    expect(e.nll).toBeCloseTo(nll / test.length, 5);
    const whole = evaluate(int8, test);
    expect(whole.accuracy).toBe(e.accuracy);
    expect(Array.from(whole.confusion)).toEqual(Array.from(e.confusion));
    expect(whole.nll).toBe(e.nll);
  });

  it("evaluate() on a quantized model fresh on its own engine, whose first logits() grows the memory", async () => {
    const own = await createEngine();
    const fresh = quantizedFromSafetensors(int8.toSafetensors(), { engine: own });
    const before = own.kernels.memory.buffer.byteLength;
    const e = evaluate(fresh, data.test, { batchSize: 512 });
    expect(own.kernels.memory.buffer.byteLength, "the memory grew during evaluate").toBeGreaterThan(before);
    expect(e.accuracy).toBe(evaluate(int8, data.test).accuracy);
    expect(e.nll).toBe(evaluate(int8, data.test).nll);
    fresh.dispose();
    own.dispose();
  });

  it("the file and the parameters are about 4× smaller", () => {
    const floatBytes = modelToSafetensors(model).length;
    const int8Bytes = int8.toSafetensors().length;
    console.log(`[quantize seed ${seed}] file: float ${floatBytes} bytes, int8 ${int8Bytes} bytes (${(floatBytes / int8Bytes).toFixed(2)}×)`);
    expect(floatBytes / int8Bytes).toBeGreaterThan(3.8);
    expect(model.parameterBytes / int8.parameterBytes).toBeGreaterThan(3.8);
  });

  it("the integer pipeline equals its float32 simulation in JavaScript bit for bit", () => {
    const x = data.test.x.subarray(0, 37 * 784);
    expectSameBits(int8.logits(x), simulate(int8.toSafetensors(), x, 784), "logits");
  });

  it("calls of fewer than 4 rows (the first on gemm_i8_nt, then on the i16 panels) give a batch call's rows bit for bit", async () => {
    const x = data.test.x.subarray(0, 9 * 784);
    const batch = int8.logits(x);
    const student = await loadStudent(int8.toSafetensors());
    const fresh = quantizedFromSafetensors(int8.toSafetensors(), { engine });
    let row = 0;
    for (const n of [1, 3, 2, 1, 2]) {
      // fresh: its first small call runs gemm_i8_nt, the second packs the panels, the rest use them
      const want = batch.subarray(row * 10, (row + n) * 10);
      const part = x.subarray(row * 784, (row + n) * 784);
      expectSameBits(fresh.logits(part), want, `full library, rows ${row}..${row + n - 1}`);
      expectSameBits(student.logits(part), want, `infer, rows ${row}..${row + n - 1}`);
      row += n;
    }
    fresh.dispose();
    student.dispose();
  });

  it("file → full library and → distill-wasm/infer: identical bits", async () => {
    const bytes = int8.toSafetensors({ note: "int8 test" });
    const x = data.test.x.subarray(0, 300 * 784);
    const logits = int8.logits(x);
    const again = quantizedFromSafetensors(bytes, { engine });
    expectSameBits(again.logits(x), logits, "reloaded logits");
    const student = await loadStudent(bytes);
    expect(student.metadata.note).toBe("int8 test");
    expect(student.quantization).toEqual({ weights: "int8", activations: "int8" });
    expectSameBits(student.logits(x), logits, "infer logits");
    expectSameBits(student.probabilities(x, { temperature: 2 }), int8.probabilities(x, { temperature: 2 }), "infer probabilities");
    expect(Array.from(student.predict(x.subarray(0, 784), 1))).toEqual(Array.from(int8.predict(x.subarray(0, 784))));
    expect(Array.from(student.predict(x))).toEqual(Array.from(int8.predict(x)));
    again.dispose();
    student.dispose();
  });

  it("fp16 weights: accuracy within 1 point, half the file, the same bits through distill-wasm/infer", async () => {
    const half = quantize(model, undefined, { weights: "fp16" });
    expect(half.activations).toBe("float");
    const halfAccuracy = accuracy(half.predict(data.test.x) as Int32Array, data.test.y);
    const bytes = half.toSafetensors();
    const floatBytes = modelToSafetensors(model).length;
    console.log(
      `[quantize seed ${seed}] fp16: test accuracy ${halfAccuracy} (float ${floatAccuracy}), file ${bytes.length} bytes (${(floatBytes / bytes.length).toFixed(2)}×)`,
    );
    expect(Math.abs(halfAccuracy - floatAccuracy)).toBeLessThanOrEqual(0.01);
    expect(floatBytes / bytes.length).toBeGreaterThan(1.9);
    expect(decodeSafetensors(bytes).tensors.get("0.weight")!.dtype).toBe("F16");
    const x = data.test.x.subarray(0, 260 * 784);
    const student = await loadStudent(bytes);
    expect(student.quantization).toEqual({ weights: "fp16", activations: "float" });
    expectSameBits(student.logits(x), half.logits(x), "fp16 logits through infer");
    expectSameBits(quantizedFromSafetensors(bytes, { engine }).logits(x), half.logits(x), "fp16 logits reloaded");
    // below 4 rows the float compute runs on packed panels: the same bits as the big batch's rows
    const first3 = x.subarray(0, 3 * 784);
    expectSameBits(half.logits(first3), half.logits(x).subarray(0, 30), "fp16 logits of 3 rows");
    expectSameBits(student.logits(first3.subarray(0, 784)), half.logits(x).subarray(0, 10), "fp16 logits of 1 row through infer");
    student.dispose();
    half.dispose();
  });

  it.runIf(relaxedAvailable)("gives the same logits on the relaxed build (integer math is exact)", async () => {
    const relaxed = await loadBuild("relaxed");
    const x = data.test.x.subarray(0, 100 * 784);
    const there = quantizedFromSafetensors(int8.toSafetensors(), { engine: relaxed });
    expectSameBits(there.logits(x), int8.logits(x), "relaxed logits");
    there.dispose();
  });
});

describe("other layer lists", () => {
  it("tanh, dropout and flatten run through; the same bits in infer", async () => {
    const m = new Sequential([flatten(), dense(12, 9), tanh(), dropout(0.2), dense(9, 7), relu(), dense(7, 3)], { seed: 4, engine, inputShape: [1, 3, 4] });
    const x = Float32Array.from({ length: 5 * 12 }, (_, i) => Math.sin(i * 1.7) * 3);
    const q = quantize(m, x);
    const student = await loadStudent(q.toSafetensors());
    expect(student.inputShape).toEqual([1, 3, 4]);
    expectSameBits(student.logits(x), q.logits(x));
    const logits = q.logits(x);
    const reference = m.logits(x);
    for (let i = 0; i < logits.length; i++) expect(Math.abs(logits[i]! - reference[i]!)).toBeLessThan(0.1);
  });
});

describe("errors", () => {
  let m: Sequential;
  let q: QuantizedModel;
  let bytes: Uint8Array;
  const x = Float32Array.from({ length: 4 * 6 }, (_, i) => (i % 5) - 2);
  beforeAll(() => {
    m = mlp([6, 5, 3], { seed: 9, engine });
    q = quantize(m, x);
    bytes = q.toSafetensors();
  });

  it("evaluate refuses a quantized model on data it does not fit, a non-classifier, and a disposed one, naming the problem", () => {
    const labels = Int32Array.from([0, 1, 2, 1]);
    expect(evaluate(q, Dataset.from(x, labels, { features: 6 })).count).toBe(4);
    expect(() => evaluate(q, Dataset.from(x.subarray(0, 20), labels, { features: 5 }))).toThrow(/5 features per sample but the model takes 6 inputs/);
    expect(() => evaluate(q, Dataset.from(x, Int32Array.from([0, 1, 5, 1]), { features: 6 }))).toThrow(/labels up to 5 but the model has only 3 outputs/);
    const regression = mlp([6, 4, 1], { seed: 2, engine, task: "regression" });
    const rq = quantize(regression, x);
    expect(() => evaluate(rq, Dataset.regression(x, Float32Array.from([1, 2, 3, 4]), { features: 6, outputs: 1 }))).toThrow(TaskError);
    expect(() => evaluate(rq, Dataset.regression(x, Float32Array.from([1, 2, 3, 4]), { features: 6, outputs: 1 }))).toThrow(/this one is a regression model/);
    const gone = quantizedFromSafetensors(bytes, { engine });
    gone.dispose();
    expect(() => evaluate(gone, Dataset.from(x, labels, { features: 6 }))).toThrow(ArgumentError);
    rq.dispose();
    regression.dispose();
  });

  it("quantize refuses bad models, calibration and options", () => {
    const cnn = new Sequential([conv2d(1, 2, 3), relu(), batchNorm(2), flatten(), dense(2 * 2 * 2, 3)], { inputShape: [1, 4, 4], engine });
    expect(() => quantize(cnn, new Float32Array(16))).toThrow(OptionError);
    expect(() => quantize(cnn, new Float32Array(16))).toThrow(/layer 2 is batchNorm/);
    expect(() => quantize(m, undefined)).toThrow(ArgumentError);
    expect(() => quantize(m, new Float32Array(7))).toThrow(ShapeError);
    expect(() => quantize(m, new Float32Array(0))).toThrow(ShapeError);
    expect(() => quantize(m, Float32Array.of(1, 2, 3, NaN, 5, 6))).toThrow(NonFiniteError);
    expect(() => quantize(m, x, { activations: "int4" as "int8" })).toThrow(OptionError);
    expect(() => quantize(m, x, { weights: "int4" as "int8" })).toThrow(OptionError);
    expect(() => quantize(m, x, { weights: "fp16", activations: "int8" })).toThrow(OptionError);
    const huge = mlp([6, 3], { engine });
    huge.setParameter("0.weight", new Float32Array(18).fill(1e5));
    expect(() => quantize(huge, undefined, { weights: "fp16" })).toThrow(/half-precision range/);
    const gone = mlp([6, 3], { engine });
    gone.dispose();
    expect(() => quantize(gone, x)).toThrow(ArgumentError);
  });

  it("the int8 model checks its inputs and refuses calls after dispose", () => {
    expect(() => q.logits(new Float32Array(7))).toThrow(ShapeError);
    expect(() => q.predict(Float32Array.of(1, 2, 3, 4, 5, Infinity))).toThrow(NonFiniteError);
    expect(() => q.probabilities(x, { temperature: 0 })).toThrow(OptionError);
    const other = quantizedFromSafetensors(bytes, { engine });
    other.dispose();
    expect(() => other.logits(x)).toThrow(ArgumentError);
  });

  it("bad input is refused before any wasm call", () => {
    let calls = 0;
    // The exports object is frozen: a copy whose functions count their calls.
    const kernels = Object.fromEntries(
      Object.entries(engine.kernels).map(([key, value]) => [
        key,
        typeof value === "function" ? (...args: unknown[]) => (calls++, (value as (...a: unknown[]) => unknown)(...args)) : value,
      ]),
    );
    const counted = quantizedFromSafetensors(bytes, { engine: { ...engine, kernels } as unknown as Engine });
    calls = 0;
    expect(() => counted.logits(new Float32Array(7))).toThrow(ShapeError);
    expect(() => counted.predict(Float32Array.of(1, 2, 3, 4, 5, NaN))).toThrow(NonFiniteError);
    expect(() => counted.probabilities(x, { temperature: -1 })).toThrow(OptionError);
    expect(() => counted.logits("abc" as unknown as Float32Array)).toThrow(ArgumentError);
    expect(calls).toBe(0);
    counted.logits(x);
    expect(calls).toBeGreaterThan(0); // the counter sees the kernels
    counted.dispose();
  });

  it("files: the wrong loader, bad tensors and bad metadata are FormatErrors in both packages", async () => {
    expect(() => modelFromSafetensors(bytes, { engine })).toThrow(/quantized model file/);
    expect(() => modelFromSafetensors(bytes, { engine })).toThrow(FormatError);
    expect(() => quantizedFromSafetensors(modelToSafetensors(m), { engine })).toThrow(FormatError);
    // a float model file cannot claim to be quantized
    expect(() => modelToSafetensors(m, { quantization: "int8" })).toThrow(OptionError);
    const { tensors, metadata } = decodeSafetensors(bytes);
    const rewrite = (change: (t: Map<string, TensorToEncode>, meta: Record<string, string>) => void) => {
      const t = new Map([...tensors].map(([name, v]) => [name, { name, shape: v.shape, data: v.data as Float32Array | Int8Array }]));
      const meta = { ...metadata };
      change(t, meta);
      return encodeSafetensors([...t.values()], meta);
    };
    const bad = [
      rewrite((t) => t.delete("0.input_scale")),
      rewrite((t) => t.set("0.weight_scale", { name: "0.weight_scale", shape: [5], data: Float32Array.of(1, 1, -1, 1, 1) })),
      rewrite((t) => t.set("0.weight", { name: "0.weight", shape: [5, 6], data: new Float32Array(30) })),
      rewrite((t) => t.set("2.extra", { name: "2.extra", shape: [1], data: new Float32Array(1) })),
      rewrite((t) => t.set("2.bias", { name: "2.bias", shape: [3], data: Float32Array.of(0, NaN, 0) })),
      rewrite((_, meta) => (meta.quantization = '{"weights":"int4","activations":"int8"}')),
      rewrite((_, meta) => (meta.quantization = "{")),
      rewrite((_, meta) => (meta.architecture = '[{"type":"conv2d","inChannels":1,"outChannels":1,"kernel":[1,1]}]')),
    ];
    for (const file of bad) {
      expect(() => quantizedFromSafetensors(file, { engine })).toThrow(FormatError);
      await expect(loadStudent(file)).rejects.toThrow(FormatError);
    }
  });
});
