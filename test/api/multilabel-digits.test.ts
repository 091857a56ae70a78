/**
 * Multi-label distillation on real data: four attributes read off the built-in MNIST digits
 * (even, ≥ 5, prime, closed loop), a bigger teacher trained on every training label, and a
 * small student given only 100 labels — trained from scratch on them, or distilled from the
 * teacher on them plus the other training images without labels. The full comparison
 * (8,000 / 2,000 digits, 3 seeds) is examples/multilabel-digits.ts; its numbers are in
 * docs/api.md. Here, at a size that runs in seconds: the labels are the attributes of the
 * digits, the run is deterministic, and the distilled student beats the one from scratch.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { Dataset, distill, evaluate, init, loadMnistDigits, mlp, train, type MultiLabelDataset } from "../../src/index.js";
import { expectSameBits } from "../helpers/compare.js";

/** digit → [even, ≥ 5, prime, closed loop (0, 4, 6, 8, 9)], written out by hand. */
const TABLE = [
  [1, 0, 0, 1], // 0
  [0, 0, 0, 0], // 1
  [1, 0, 1, 0], // 2
  [0, 0, 1, 0], // 3
  [1, 0, 0, 1], // 4
  [0, 1, 1, 0], // 5
  [1, 1, 0, 1], // 6
  [0, 1, 1, 0], // 7
  [1, 1, 0, 1], // 8
  [0, 1, 0, 1], // 9
];

function withAttributes(digits: Dataset): MultiLabelDataset {
  const labels = new Int32Array(digits.length * 4);
  for (let r = 0; r < digits.length; r++) labels.set(TABLE[digits.y[r]!]!, r * 4);
  return Dataset.multiLabel(digits.x, labels, { features: 784, labels: 4 });
}

beforeAll(async () => {
  await init();
});

describe("attributes of the MNIST digits", () => {
  it("a distilled 784-16-4 student on 100 labels beats the same student from scratch; same seed, same bits", async () => {
    const digits = await loadMnistDigits({ train: 1500, test: 500, seed: 1 });
    const trainSet = withAttributes(digits.train);
    const test = withAttributes(digits.test);
    expect(Array.from(test.targets.subarray(0, 4))).toEqual(TABLE[digits.test.y[0]!]);
    const teacher = mlp([784, 64, 4], { seed: 1 });
    await train(teacher, trainSet, { epochs: 4, batchSize: 50, optimizer: "adam", lr: 0.002, seed: 1 });
    const few = trainSet.keepLabels(100, { seed: 1 });
    expect(few.labelled).toBe(100);
    const scratch = mlp([784, 16, 4], { seed: 2 });
    await train(scratch, few.labelledRows(), { epochs: 30, batchSize: 25, optimizer: "adam", lr: 0.002, seed: 1 });
    const runDistill = async () => {
      const student = mlp([784, 16, 4], { seed: 2 });
      await distill({ teacher, student, data: few, temperature: 2, alpha: 0.5, epochs: 4, batchSize: 50, optimizer: "adam", lr: 0.002, seed: 1 });
      return student;
    };
    const student = await runDistill();
    const again = await runDistill();
    expectSameBits(again.parameterBlock(), student.parameterBlock(), "same seed");
    const t = evaluate(teacher, test);
    const s = evaluate(scratch, test);
    const d = evaluate(student, test);
    expect(t.microF1).toBeGreaterThan(d.microF1);
    expect(d.microF1).toBeGreaterThan(s.microF1);
    expect(d.subsetAccuracy).toBeGreaterThan(s.subsetAccuracy);
    expect(d.bce).toBeLessThan(s.bce);
    for (const m of [teacher, scratch, student, again]) m.dispose();
  });
});
