/**
 * What Hinton et al.'s recipe needs beyond plain distillation, through the API: dropout on
 * the inputs, the max-norm constraint (dense and conv), PyTorch's initialisation, transfer
 * sets without some classes, and the per-class output-bias adjustment (given or fitted).
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  adjustClassBias,
  ArgumentError,
  conv2d,
  Dataset,
  dense,
  distill,
  fitClassBias,
  flatten,
  init,
  mlp,
  OptionError,
  relu,
  Sequential,
  ShapeError,
  train,
} from "../../src/index.js";
import { expectSameBits } from "../helpers/compare.js";
import { blobs } from "../helpers/tiny-data.js";

let data: Dataset;

beforeAll(async () => {
  await init();
  data = blobs({ rows: 240, features: 12, classes: 4, seed: 9, spread: 1.2, separation: 0.6 });
});

const rowNorms = (w: Float32Array, cols: number) => Array.from({ length: w.length / cols }, (_, r) => Math.hypot(...w.subarray(r * cols, (r + 1) * cols)));

describe("input dropout", () => {
  it("mlp({ inputDropout }) puts dropout before the first dense layer, with PyTorch's indices", () => {
    const m = mlp([12, 16, 4], { inputDropout: 0.2, dropout: 0.5, seed: 1 });
    expect(m.specs.map((s) => s.type)).toEqual(["dropout", "dense", "activation", "dropout", "dense"]);
    expect(m.namedParameters().map((p) => p.name)).toEqual(["1.weight", "1.bias", "4.weight", "4.bias"]);
    expect(() => mlp([12, 16, 4], { inputDropout: 1 })).toThrow(OptionError);
    m.dispose();
  });

  it("is the identity at inference and changes training (the inputs are masked)", async () => {
    const [a, b] = [mlp([12, 16, 4], { seed: 1 }), mlp([12, 16, 4], { seed: 1, inputDropout: 0.3 })];
    for (const [i, p] of a.namedParameters().entries()) b.setParameter(b.namedParameters()[i]!.name, a.getParameter(p.name));
    expectSameBits(b.logits(data.x), a.logits(data.x), "inference with and without input dropout");
    await train(a, data, { epochs: 1, seed: 2 });
    await train(b, data, { epochs: 1, seed: 2 });
    expect(Array.from(b.logits(data.x))).not.toEqual(Array.from(a.logits(data.x)));
  });
});

describe("maxNorm", () => {
  it("applyMaxNorm scales dense rows and conv filters above the norm, leaves the output layer and smaller rows alone", () => {
    const m = new Sequential([conv2d(1, 3, 3, { padding: 1 }), relu(), flatten(), dense(3 * 4 * 4, 5), relu(), dense(5, 2)], {
      inputShape: [1, 4, 4],
      seed: 3,
    });
    const big = (name: string) =>
      m.setParameter(
        name,
        m.getParameter(name).map((v, i) => (i % 2 ? v * 40 : v * 0.01)),
      );
    for (const name of ["0.weight", "3.weight", "5.weight"]) big(name);
    const before = { conv: m.getParameter("0.weight"), hidden: m.getParameter("3.weight"), out: m.getParameter("5.weight") };
    m.applyMaxNorm(0.5);
    for (const [name, cols, was] of [
      ["0.weight", 9, before.conv],
      ["3.weight", 48, before.hidden],
    ] as const) {
      const after = m.getParameter(name);
      rowNorms(after, cols).forEach((n, r) => {
        const old = rowNorms(was, cols)[r]!;
        if (old <= 0.5) expectSameBits(after.subarray(r * cols, (r + 1) * cols), was.subarray(r * cols, (r + 1) * cols), `${name} row ${r}`);
        else expect(n, `${name} row ${r}`).toBeCloseTo(0.5, 5);
      });
    }
    expectSameBits(m.getParameter("5.weight"), before.out, "the output layer");
    m.dispose();
  });

  it.each([0, -1, NaN, Infinity, 1e39])("maxNorm %s is refused", async (maxNorm) => {
    await expect(train(mlp([12, 4]), data, { epochs: 1, maxNorm })).rejects.toThrow(/train: maxNorm must be a finite number > 0 \(and a finite float32\)/);
  });
});

describe("init: torch", () => {
  it("weights and biases uniform in ±1/√fan_in (dense and conv), drawn from the seed", () => {
    const m = new Sequential([conv2d(2, 8, 3, { init: "torch" }), flatten(), dense(8 * 4 * 4, 300, { init: "torch" })], { inputShape: [2, 6, 6], seed: 4 });
    for (const [name, fanIn] of [
      ["0.weight", 18],
      ["0.bias", 18],
      ["2.weight", 128],
      ["2.bias", 128],
    ] as const) {
      const v = m.getParameter(name);
      const bound = 1 / Math.sqrt(fanIn);
      expect(Math.max(...v.map(Math.abs)), name).toBeLessThanOrEqual(bound);
      if (v.length > 1000) {
        // Uniform(−b, b): variance b²/3; the sample's within 10 % for 38,400 draws.
        const variance = v.reduce((s, x) => s + x * x, 0) / v.length;
        expect(variance / ((bound * bound) / 3), name).toBeCloseTo(1, 1);
      }
    }
    const again = new Sequential(m.specs, { inputShape: [2, 6, 6], seed: 4 });
    expectSameBits(again.parameterBlock(), m.parameterBlock(), "the same seed draws the same weights");
  });
});

describe("transfer sets without some classes, and the output bias", () => {
  it("withoutClasses keeps the other rows in order and the label range", () => {
    const d = data.withoutClasses([1, 3]);
    const kept = Array.from(data.y)
      .map((y, i) => [y, i] as const)
      .filter(([y]) => y !== 1 && y !== 3)
      .map(([, i]) => i);
    expect(d.length).toBe(kept.length);
    expect(d.classes).toBe(4);
    expect(Array.from(d.y)).toEqual(kept.map((i) => data.y[i]));
    expectSameBits(d.row(5), data.row(kept[5]!), "row 5");
    expect(() => data.withoutClasses([4])).toThrow(ArgumentError);
    expect(() => data.withoutClasses([])).toThrow(ArgumentError);
    expect(() => data.withoutClasses([0, 1, 2, 3])).toThrow(ShapeError);
  });

  it("adjustClassBias adds the offsets to the last dense layer's bias; fitClassBias finds the offset that brings back a class the transfer set lacked", async () => {
    // The paper's experiment in small: the student learns class 2 only from the soft targets of other rows.
    const teacher = mlp([12, 48, 4], { seed: 4 });
    await train(teacher, data, { epochs: 8, seed: 1 });
    const m = mlp([12, 16, 4], { seed: 5 });
    await distill({ teacher, student: m, data: data.withoutClasses([2]), temperature: 8, alpha: 0, epochs: 8, seed: 1 });
    const bias = m.getParameter("2.bias");
    const offsets = fitClassBias(m, data, [2]);
    expect(offsets[2]).toBeGreaterThan(0);
    const accuracy = () => {
      const p = m.predict(data.x) as Int32Array;
      return p.reduce((s, c, i) => s + (c === data.y[i] ? 1 : 0), 0) / data.length;
    };
    const before = accuracy();
    adjustClassBias(m, offsets);
    expect(m.getParameter("2.bias")[2]).toBeCloseTo(bias[2]! + offsets[2]!, 5);
    const after = accuracy();
    expect(after).toBeGreaterThan(before);
    // The fit is exact: no offset of class 2 nearby does better.
    for (const delta of [-1, -0.1, 0.1, 1]) {
      adjustClassBias(m, { 2: delta });
      expect(accuracy(), `offset ${offsets[2]! + delta}`).toBeLessThanOrEqual(after);
      adjustClassBias(m, { 2: -delta });
    }
    expect(() => adjustClassBias(m, { 7: 1 })).toThrow(/class 7 is not an output/);
    expect(() => adjustClassBias(m, { 1: NaN })).toThrow(/finite/);
    expect(() => fitClassBias(m, data, [])).toThrow(/classes must be a non-empty array/);
    m.dispose();
  });
});
