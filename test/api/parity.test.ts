/**
 * Whole training runs against PyTorch: `distill` and `train` from the same float32 initial
 * weights, on the same batches in the same order, must follow PyTorch's float64 run
 * (test/fixtures/make_parity_fixtures.py) step for step: momentum SGD under the per-step
 * cosine schedule, T²-scaled KL or soft cross-entropy mixed with α·CE, the last short
 * batch of each epoch, and the max-norm constraint.
 *
 * The two sides differ only in rounding (float32 here, float64 there), which grows
 * slowly over a few dozen steps of a small smooth problem: final weights agree to 1e-5 of
 * the largest weight of their tensor (measured: below 5e-7) and losses to a relative 1e-4
 * (measured: below 6e-6; T²·KL between nearly equal distributions is a sum of differences
 * of nearly equal logarithms, which float32 resolves only to about u·T²·|log p|). A wrong factor anywhere
 * (T vs T², a sum instead of a mean, the schedule's phase, momentum's form) moves them by
 * far more — the last test shows that one changed setting already does.
 */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { Dataset, distill, init, mlp, train, type Sequential, type TrainOptions } from "../../src/index.js";

interface Case {
  name: string;
  seed: number;
  rows: number;
  widths: number[];
  classes: number;
  batch: number;
  epochs: number;
  lr: number;
  momentum: number;
  softLoss: "kl" | "soft-ce" | null;
  temperature: number | null;
  alpha: number | null;
  maxNorm: number | null;
  x: number[];
  y: number[];
  teacher: number[] | null;
  init: Record<string, number[]>;
  losses: number[];
  final: Record<string, number[]>;
}

const fixtures = JSON.parse(readFileSync(new URL("../fixtures/parity-fixtures.json", import.meta.url), "utf8")) as { cases: Case[] };

/** Trains a fresh model as the case says (with `change` applied to the options) and returns it with the per-step losses. */
async function runCase(c: Case, change: Partial<TrainOptions> = {}): Promise<{ model: Sequential; losses: number[] }> {
  const model = mlp(c.widths, { seed: 1 });
  for (const [name, values] of Object.entries(c.init)) model.setParameter(name, Float32Array.from(values));
  const data = Dataset.from(Float32Array.from(c.x), Int32Array.from(c.y), { features: c.widths[0]!, classes: c.classes });
  const losses: number[] = [];
  const options: TrainOptions = {
    epochs: c.epochs,
    batchSize: c.batch,
    seed: c.seed,
    optimizer: { type: "sgd", lr: c.lr, momentum: c.momentum },
    schedule: { type: "cosine" },
    onBatch: (info) => void losses.push(info.loss),
    ...(c.maxNorm !== null ? { maxNorm: c.maxNorm } : {}),
    ...change,
  };
  if (c.softLoss === null) await train(model, data, options);
  else {
    await distill({
      ...options,
      student: model,
      data,
      teacher: Float32Array.from(c.teacher!),
      temperature: c.temperature!,
      alpha: c.alpha!,
      softLoss: c.softLoss,
    });
  }
  return { model, losses };
}

/** The largest |ours − torch| of each tensor, relative to that tensor's largest |torch| value. */
function weightGaps(model: Sequential, c: Case): Record<string, number> {
  const gaps: Record<string, number> = {};
  for (const [name, want] of Object.entries(c.final)) {
    const got = model.getParameter(name);
    let gap = 0;
    let scale = 0;
    want.forEach((w, i) => {
      gap = Math.max(gap, Math.abs(got[i]! - w));
      scale = Math.max(scale, Math.abs(w));
    });
    gaps[name] = gap / scale;
  }
  return gaps;
}

beforeAll(async () => {
  await init();
});

describe("training follows PyTorch step for step (float32 here, float64 in PyTorch)", () => {
  it.each(fixtures.cases.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const { model, losses } = await runCase(c);
    expect(losses).toHaveLength(c.losses.length);
    losses.forEach((loss, step) => {
      expect(Math.abs(loss - c.losses[step]!) / Math.abs(c.losses[step]!), `loss of step ${step + 1}: ${loss} vs ${c.losses[step]}`).toBeLessThan(1e-4);
    });
    for (const [name, gap] of Object.entries(weightGaps(model, c))) expect(gap, `${name}: largest gap / largest weight`).toBeLessThan(1e-5);
    model.dispose();
  });

  it("the comparison has teeth: a 10 % different learning rate or a per-epoch schedule misses by far more than the tolerance", async () => {
    const c = fixtures.cases[0]!;
    for (const change of [{ optimizer: { type: "sgd" as const, lr: c.lr * 1.1, momentum: c.momentum } }, { schedule: { type: "constant" as const } }]) {
      const { model } = await runCase(c, change);
      expect(Math.max(...Object.values(weightGaps(model, c))), JSON.stringify(change)).toBeGreaterThan(1e-3);
      model.dispose();
    }
  });
});
