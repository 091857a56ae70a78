/**
 * Quantization-aware distillation, distill({ quantize }): fake quantization in the student's
 * dense and conv2d layers (straight-through gradients: exactly the float gradients of the
 * fake-quantized values), observers that follow the activation ranges, and an int8 result
 * in quantize()'s format whose integer weights are the fake-quantization codes of the final
 * weights and whose outputs match the fake-quantized forward pass; stopped, the float pass.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  conv2d,
  dense,
  distill,
  flatten,
  init,
  loadMnistDigits,
  maxPool2d,
  mlp,
  OptionError,
  quantize,
  relu,
  Sequential,
  standardize,
  train,
  decodeSafetensors,
  type Dataset,
  type Engine,
} from "../../src/index.js";
import { loadStudent } from "../../src/infer/index.js";
import { quantizeRows } from "../../src/quantize/weights.js";
import { expectSameBits } from "../helpers/compare.js";
import { TestRandom } from "../helpers/rand.js";

let engine: Engine;
let data: { train: Dataset; test: Dataset };
beforeAll(async () => {
  engine = await init();
  data = await loadMnistDigits({ train: 2000, test: 1000, seed: 3 });
});

const accuracy = (p: Int32Array, y: Int32Array) => p.reduce((n, v, i) => n + (v === y[i] ? 1 : 0), 0) / p.length;

describe("fake quantization in a layer", () => {
  it("straight-through gradients: the same bits as float training on the fake-quantized input and weight", () => {
    const rows = 9;
    const r = new TestRandom(4);
    const x = r.uniform(rows * 37, -2, 2);
    const dy = r.normal(rows * 5);
    const qat = mlp([37, 5], { seed: 2, engine });
    qat.startFakeQuantization();
    const plain = mlp([37, 5], { seed: 2, engine });
    const run = (m: Sequential, input: Float32Array) =>
      engine.scoped(() => {
        m.reserve(rows);
        const xp = engine.putF32(input);
        const out = m.forward(xp, rows, true);
        const logits = engine.readF32(out, rows * 5);
        const g = engine.putF32(dy);
        const dx = m.backward(g, rows, { inputGradient: true });
        return { logits, dx: engine.readF32(dx, rows * 37), dw: engine.readF32(m.gradsPtr, 37 * 5) };
      });
    const a = run(qat, x);
    // the float model on what fake quantization made of x and W
    const scale = Math.fround(Math.max(-Math.min(...x, 0), Math.max(...x, 0)) / 127);
    const code = (v: number, s: number) => {
      const t = Math.fround(v / s);
      const f = Math.floor(t);
      const q = t - f > 0.5 || (t - f === 0.5 && f % 2 !== 0) ? f + 1 : f;
      return Math.min(127, Math.max(-127, q));
    };
    const xq = Float32Array.from(x, (v) => code(v, scale) * scale + 0);
    const { weight, scale: ws } = quantizeRows(plain.getParameter("0.weight"), 5, 37);
    plain.setParameter(
      "0.weight",
      Float32Array.from(weight, (q, i) => q * ws[Math.floor(i / 37)]! + 0),
    );
    const b = run(plain, xq);
    expectSameBits(a.logits, b.logits, "logits");
    expectSameBits(a.dw, b.dw, "weight gradient");
    // the input gradient passes through where x is inside the range: all of it here (the range is x's own)
    expectSameBits(a.dx, b.dx, "input gradient");
    qat.stopFakeQuantization();
    // stopped: the float pass again
    const c = run(qat, x);
    const d = run(mlp([37, 5], { seed: 2, engine }), x);
    expectSameBits(c.logits, d.logits, "after stopFakeQuantization");
    qat.dispose();
    plain.dispose();
  });

  it("the int8 model made from the observers equals the fake-quantized forward pass to float rounding", () => {
    const model = new Sequential([conv2d(1, 4, 3), relu(), maxPool2d(2), flatten(), dense(4 * 3 * 3, 8), relu(), dense(8, 3)], {
      seed: 5,
      engine,
      inputShape: [1, 8, 8],
    });
    const x = new TestRandom(6).uniform(20 * 64, -1, 1);
    model.startFakeQuantization();
    engine.scoped(() => {
      model.reserve(20);
      model.forward(engine.putF32(x), 20, true); // the observers see one batch
    });
    const scales = model.fakeQuantInputScales();
    expect([...scales.keys()]).toEqual([0, 4, 6]);
    const fake = model.logits(x);
    model.stopFakeQuantization();
    // the same scales through quantize()'s machinery: the int8 runner computes what the fake-quantized pass approximated
    const q = quantize(model, x); // calibration over the same rows gives the same first-layer scale
    const got = q.logits(x);
    let size = 0;
    for (const v of fake) size = Math.max(size, Math.abs(v));
    for (let i = 0; i < got.length; i++) expect(Math.abs(got[i]! - fake[i]!), `output ${i}`).toBeLessThan(0.05 * size);
    q.dispose();
    model.dispose();
  });
});

describe("distill({ quantize })", () => {
  let teacher: Sequential;
  beforeAll(async () => {
    teacher = mlp([784, 128, 10], { seed: 1, engine });
    await train(teacher, data.train, { epochs: 3, batchSize: 32, optimizer: "adam", lr: 0.002, seed: 1 });
  }, 120_000);

  it("returns an int8 student whose weights are the fake-quantization codes of its final weights, in quantize()'s format, loadable by distill-wasm/infer", async () => {
    const student = mlp([784, 48, 10], { seed: 2, engine });
    const result = await distill({
      teacher,
      student,
      data: data.train,
      epochs: 2,
      batchSize: 32,
      optimizer: "adam",
      lr: 0.002,
      seed: 2,
      quantize: { weights: "int8", activations: "int8" },
    });
    const q = result.quantized!;
    expect(q.weights).toBe("int8");
    expect(q.activations).toBe("int8");
    const bytes = q.toSafetensors();
    const { tensors, metadata } = decodeSafetensors(bytes);
    expect(JSON.parse(metadata.quantization!)).toEqual({ weights: "int8", activations: "int8", scheme: "symmetric" });
    for (const i of [0, 2]) {
      const w = student.getParameter(`${i}.weight`);
      const out = tensors.get(`${i}.bias`)!.shape[0]!;
      const { weight, scale } = quantizeRows(w, out, w.length / out);
      expect(Array.from(tensors.get(`${i}.weight`)!.data as Int8Array)).toEqual(Array.from(weight));
      expectSameBits(tensors.get(`${i}.weight_scale`)!.data as Float32Array, scale);
    }
    const studentInfer = await loadStudent(bytes);
    expectSameBits(studentInfer.logits(data.test.x.subarray(0, 50 * 784)), q.logits(data.test.x.subarray(0, 50 * 784)));
    const int8 = accuracy(q.predict(data.test.x) as Int32Array, data.test.y);
    const float = accuracy(student.predict(data.test.x) as Int32Array, data.test.y);
    console.log(`[distill quantize] test accuracy: float weights of the QAT student ${float}, its int8 model ${int8}`);
    expect(int8).toBeGreaterThan(0.8);
    expect(Math.abs(int8 - float)).toBeLessThanOrEqual(0.02);
    studentInfer.dispose();
    q.dispose();
    student.dispose();
  }, 120_000);

  it("is deterministic: the same run gives the same int8 file", async () => {
    const run = async () => {
      const student = mlp([784, 16, 10], { seed: 3, engine });
      const small = data.train.subset(Array.from({ length: 300 }, (_, i) => i));
      const result = await distill({ teacher, student, data: small, epochs: 1, batchSize: 50, seed: 3, quantize: {} });
      const bytes = result.quantized!.toSafetensors();
      result.quantized!.dispose();
      student.dispose();
      return bytes;
    };
    expect(Array.from(await run())).toEqual(Array.from(await run()));
  }, 120_000);

  it('activations "float": int8 weights only, no input scales', async () => {
    const student = mlp([784, 16, 10], { seed: 3, engine });
    const result = await distill({ teacher, student, data: data.train, epochs: 1, batchSize: 64, seed: 3, quantize: { activations: "float" } });
    expect(result.quantized!.activations).toBe("float");
    expect([...decodeSafetensors(result.quantized!.toSafetensors()).tensors.keys()].some((n) => n.endsWith("input_scale"))).toBe(false);
    result.quantized!.dispose();
    student.dispose();
  }, 120_000);

  it("refuses bad options and students before training", async () => {
    const student = mlp([784, 16, 10], { seed: 3, engine });
    const base = { teacher, student, data: data.train, epochs: 1 };
    await expect(distill({ ...base, quantize: { weights: "fp16" as "int8" } })).rejects.toThrow(OptionError);
    await expect(distill({ ...base, quantize: { activation: "int8" } as never })).rejects.toThrow(/did you mean "activations"/);
    await expect(distill({ ...base, quantize: "int8" as never })).rejects.toThrow(OptionError);
    await expect(distill({ ...base, quantize: {}, checkpoint: { every: 10, save: () => {} } })).rejects.toThrow(/checkpoint/);
    const withStandardize = new Sequential([standardize(784), dense(784, 10)], { engine });
    await expect(distill({ ...base, student: withStandardize, quantize: {} })).rejects.toThrow(/layer 0 is standardize/);
    // nothing was attached: the student trains as float afterwards
    expect(student.fakeQuantInputScales().size).toBe(0);
    student.dispose();
    withStandardize.dispose();
  });
});
