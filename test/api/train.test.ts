/**
 * `train(model, data, options)`: the minibatch loop on small seeded data.
 *
 * Training is deterministic (same seeds → same bits), so most checks are exact: a run is
 * compared bit for bit with another run that must end in the same state (a shorter run,
 * a run with the same seeds), and each optimizer step is replayed in the test from the
 * gradients the model holds after the step (`model.gradsPtr`, read in `onBatch`, which
 * runs right after the update) with float32 arithmetic emulated by Math.fround — exact
 * for +, −, ×, ÷ and √ of float32 operands, since float64 has more than 2·24 + 2 bits.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  ArgumentError,
  Dataset,
  DivergenceError,
  init,
  mlp,
  OptionError,
  ShapeError,
  train,
  type BatchInfo,
  type Engine,
  type OptimizerSpec,
  type Sequential,
  type TrainOptions,
} from "../../src/index.js";
import { expectSameBits } from "../helpers/compare.js";
import { accuracyOf, blobs, norm64, sameBits, squares, withoutSeconds } from "../helpers/tiny-data.js";

const f32 = Math.fround;
const U = 2 ** -24;

let engine: Engine;
/** 400 rows, 20 features, 4 well separated classes. */
let data: Dataset;
/** 200 more rows from the same distribution. */
let held: Dataset;

beforeAll(async () => {
  engine = await init();
  const all = blobs({ rows: 600, features: 20, classes: 4, seed: 7, spread: 1.2, separation: 0.6 });
  data = all.slice(0, 400);
  held = all.slice(400);
});

const model = (seed = 1, widths = [20, 16, 4]) => mlp(widths, { seed });

/** Runs train on a fresh model and returns it with the result. */
async function run(options: TrainOptions, seed = 1, d: Dataset = data) {
  const m = model(seed);
  const result = await train(m, d, options);
  return { m, result };
}

/** What each step saw: parameters and gradients after the step, and its BatchInfo. */
interface Step {
  info: BatchInfo;
  params: Float32Array;
  grads: Float32Array;
}

function recorder(m: Sequential, steps: Step[]): (info: BatchInfo) => void {
  return (info) => steps.push({ info, params: m.parameterBlock(), grads: engine.readF32(m.gradsPtr, m.blockLength) });
}

// ---------------------------------------------------------------- learning and history

describe("train: learning, history and determinism", () => {
  it("loss falls and accuracy rises on a learnable problem; one record per epoch with the documented fields", async () => {
    const m = model();
    const before = accuracyOf(m, held);
    const { history, stopReason, steps } = await train(m, data, { epochs: 6, batchSize: 32 });
    expect(stopReason).toBe("completed");
    expect(history).toHaveLength(6);
    const perEpoch = Math.ceil(400 / 32);
    history.forEach((h, i) => {
      expect(Object.keys(h).sort(), `epoch ${i + 1} record keys`).toEqual(["accuracy", "epoch", "loss", "lr", "seconds", "steps"]);
      expect(h.epoch).toBe(i + 1);
      expect(h.steps, "steps counts optimizer steps so far").toBe(perEpoch * (i + 1));
      expect(h.lr, "default optimizer: SGD momentum 0.9, lr 0.05").toBe(0.05);
      expect(h.seconds).toBeGreaterThanOrEqual(0);
      expect(h.accuracy).toBeGreaterThanOrEqual(0);
      expect(h.accuracy).toBeLessThanOrEqual(1);
    });
    expect(steps).toBe(perEpoch * 6);
    expect(history[5]!.loss, "final loss vs first epoch's").toBeLessThan(history[0]!.loss * 0.5);
    expect(history[5]!.accuracy).toBeGreaterThan(history[0]!.accuracy);
    expect(history[5]!.accuracy, "training accuracy of the last epoch (the blobs overlap)").toBeGreaterThan(0.85);
    const after = accuracyOf(m, held);
    expect(after, `held-out accuracy before ${before}, after ${after}`).toBeGreaterThan(0.85);
    expect(after).toBeGreaterThan(before + 0.3);
  });

  it("two runs with the same seeds give bit-identical parameters and identical histories", async () => {
    const options: TrainOptions = { epochs: 3, batchSize: 24, seed: 5, optimizer: "adam", validation: held };
    const a = await run(options);
    const b = await run(options);
    expectSameBits(b.m.parameterBlock(), a.m.parameterBlock(), "parameters of the second run");
    expect(withoutSeconds(b.result.history)).toEqual(withoutSeconds(a.result.history));
  });

  it("a different shuffle seed gives different weights (same model init)", async () => {
    const a = await run({ epochs: 2, batchSize: 24, seed: 5 });
    const b = await run({ epochs: 2, batchSize: 24, seed: 6 });
    expect(sameBits(a.m.parameterBlock(), b.m.parameterBlock()), "seed 5 and seed 6 ended with the same weights").toBe(false);
    expect(a.result.history[0]!.loss).not.toBe(b.result.history[0]!.loss);
  });

  it("a different model seed gives different initial and final weights", async () => {
    expect(sameBits(model(1).parameterBlock(), model(2).parameterBlock())).toBe(false);
    const a = await run({ epochs: 1, batchSize: 50 }, 1);
    const b = await run({ epochs: 1, batchSize: 50 }, 2);
    expect(sameBits(a.m.parameterBlock(), b.m.parameterBlock())).toBe(false);
  });

  it("onBatch is called once per step with increasing steps, 1-based epochs, and losses whose row-weighted mean is the epoch loss", async () => {
    const m = model();
    const infos: BatchInfo[] = [];
    const { history } = await train(m, data, { epochs: 2, batchSize: 96, onBatch: (i) => void infos.push(i) });
    const rows = [96, 96, 96, 96, 16];
    expect(infos.map((i) => i.step)).toEqual(Array.from({ length: 10 }, (_, k) => k + 1));
    expect(infos.map((i) => i.epoch)).toEqual([1, 1, 1, 1, 1, 2, 2, 2, 2, 2]);
    for (const [e, h] of history.entries()) {
      let sum = 0;
      infos.slice(5 * e, 5 * e + 5).forEach((info, k) => (sum += info.loss * rows[k]!));
      expect(h.loss, `epoch ${e + 1}: mean of the batch losses weighted by rows`).toBe(sum / 400);
    }
  });
});

// ---------------------------------------------------------------- optimizers

interface Hyper {
  type: "sgd" | "adam" | "adamw";
  lr: number;
  momentum?: number;
  nesterov?: boolean;
  weightDecay?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
}

/** The documented update rules (src/train/optimizer.ts, assembly/optim.ts) in emulated float32. */
class Replay {
  private s1: Float32Array;
  private s2: Float32Array;
  private t = 0;

  constructor(
    readonly h: Hyper,
    n: number,
  ) {
    this.s1 = new Float32Array(n);
    this.s2 = new Float32Array(n);
  }

  step(p: Float32Array, g: Float32Array, lr: number): Float32Array {
    const h = this.h;
    const out = new Float32Array(p.length);
    const lr32 = f32(lr);
    const wd = f32(h.weightDecay ?? (h.type === "adamw" ? 0.01 : 0));
    this.t++;
    if (h.type === "sgd") {
      const mom = f32(h.momentum ?? 0);
      for (let i = 0; i < p.length; i++) {
        let gi = g[i]!;
        if (wd !== 0) gi = f32(gi + f32(wd * p[i]!));
        if (mom !== 0) {
          const v = f32(f32(mom * this.s1[i]!) + gi);
          this.s1[i] = v;
          gi = h.nesterov ? f32(gi + f32(mom * v)) : v;
        }
        out[i] = f32(p[i]! - f32(lr32 * gi));
      }
      return out;
    }
    const b1 = f32(h.beta1 ?? 0.9);
    const b2 = f32(h.beta2 ?? 0.999);
    const eps = f32(h.eps ?? 1e-8);
    const c1 = f32(1 - b1);
    const c2 = f32(1 - b2);
    const stepSize = f32(lr32 / (1 - b1 ** this.t));
    const bc2 = f32(Math.sqrt(1 - b2 ** this.t));
    const decoupled = h.type === "adamw";
    const decay = decoupled ? f32(1 - lr32 * wd) : 1;
    for (let i = 0; i < p.length; i++) {
      let pi = p[i]!;
      let gi = g[i]!;
      if (!decoupled && wd !== 0) gi = f32(gi + f32(wd * pi));
      if (decoupled && wd !== 0) pi = f32(pi * decay);
      const m = f32(f32(b1 * this.s1[i]!) + f32(c1 * gi));
      const v = f32(f32(b2 * this.s2[i]!) + f32(c2 * f32(gi * gi)));
      this.s1[i] = m;
      this.s2[i] = v;
      const denom = f32(f32(f32(Math.sqrt(v)) / bc2) + eps);
      out[i] = f32(pi - f32(stepSize * f32(m / denom)));
    }
    return out;
  }
}

/** Largest difference in units in the last place (float32) between two arrays. */
function maxUlps(a: Float32Array, b: Float32Array): number {
  const ia = new Int32Array(a.buffer, a.byteOffset, a.length);
  const ib = new Int32Array(b.buffer, b.byteOffset, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const x = ia[i]! < 0 ? 0x80000000 - ia[i]! : ia[i]!;
    const y = ib[i]! < 0 ? 0x80000000 - ib[i]! : ib[i]!;
    worst = Math.max(worst, Math.abs(x - y));
  }
  return worst;
}

describe("train: optimizers follow their documented update rules step by step", () => {
  // [name, the optimizer option, the lr option, the resolved hyper-parameters the docs promise]
  const cases: [string, OptimizerSpec | undefined, number | undefined, Hyper][] = [
    ["default (SGD, momentum 0.9, lr 0.05)", undefined, undefined, { type: "sgd", lr: 0.05, momentum: 0.9 }],
    ['"sgd" (lr 0.01, no momentum)', "sgd", undefined, { type: "sgd", lr: 0.01 }],
    ['"momentum" (SGD with momentum 0.9, lr 0.01)', "momentum", undefined, { type: "sgd", lr: 0.01, momentum: 0.9 }],
    [
      "SGD object: Nesterov and L2 weight decay",
      { type: "sgd", lr: 0.1, momentum: 0.5, nesterov: true, weightDecay: 0.01 },
      undefined,
      { type: "sgd", lr: 0.1, momentum: 0.5, nesterov: true, weightDecay: 0.01 },
    ],
    ['"adam" (lr 1e-3, β 0.9 / 0.999, eps 1e-8)', "adam", undefined, { type: "adam", lr: 1e-3 }],
    ['"adamw" (decoupled weight decay 0.01)', "adamw", undefined, { type: "adamw", lr: 1e-3, weightDecay: 0.01 }],
    [
      "Adam object with coupled L2 decay and own betas",
      { type: "adam", lr: 0.01, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1 },
      undefined,
      { type: "adam", lr: 0.01, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1 },
    ],
    ["AdamW object", { type: "adamw", lr: 0.01, weightDecay: 0.5 }, undefined, { type: "adamw", lr: 0.01, weightDecay: 0.5 }],
    ["lr overrides the default optimizer's lr (momentum kept)", undefined, 0.2, { type: "sgd", lr: 0.2, momentum: 0.9 }],
    ['lr overrides "momentum"', "momentum", 0.3, { type: "sgd", lr: 0.3, momentum: 0.9 }],
    ['lr overrides "adamw" (its decay kept)', "adamw", 0.02, { type: "adamw", lr: 0.02, weightDecay: 0.01 }],
    ["lr overrides an object's lr (other fields kept)", { type: "adam", lr: 0.5, beta1: 0.5 }, 0.004, { type: "adam", lr: 0.004, beta1: 0.5 }],
  ];

  it.each(cases)("%s", async (_name, optimizer, lr, hyper) => {
    const m = model(3);
    const initial = m.parameterBlock();
    const steps: Step[] = [];
    const options: TrainOptions = { steps: 6, batchSize: 80, seed: 2, onBatch: recorder(m, steps) };
    if (optimizer !== undefined) options.optimizer = optimizer;
    if (lr !== undefined) options.lr = lr;
    await train(m, data, options);
    expect(steps).toHaveLength(6);
    const replay = new Replay(hyper, m.blockLength);
    let before = initial;
    for (const [k, s] of steps.entries()) {
      expect(s.info.lr, `step ${k + 1}: learning rate`).toBe(hyper.lr);
      const expected = replay.step(before, s.grads, s.info.lr);
      if (hyper.type === "sgd") {
        expectSameBits(s.params, expected, `step ${k + 1}: parameters vs the SGD rule`);
      } else {
        // Adam's bias corrections use the module's pow (f64) where the replay uses JS `**`: allow 1 ulp.
        expect(maxUlps(s.params, expected), `step ${k + 1}: parameters vs the ${hyper.type} rule (ulps)`).toBeLessThanOrEqual(1);
      }
      expect(sameBits(s.params, before), `step ${k + 1} changed nothing`).toBe(false);
      before = s.params;
    }
  });

  it("AdamW shrinks weights whose gradient is zero by exactly (1 − lr·wd) per step; Adam (no decay) and SGD leave them", async () => {
    // Hidden unit 3 is dead: zero incoming weights and bias −1, so its ReLU output is 0 and
    // its outgoing weights (column 3 of layer 2's weight) get an exactly zero gradient.
    const deadModel = () => {
      const m = model(4);
      const w0 = m.getParameter("0.weight");
      w0.fill(0, 3 * 20, 4 * 20);
      m.setParameter("0.weight", w0);
      const b0 = m.getParameter("0.bias");
      b0[3] = -1;
      m.setParameter("0.bias", b0);
      return m;
    };
    const column = (m: Sequential) => Array.from({ length: 4 }, (_, r) => m.getParameter("2.weight")[r * 16 + 3]!);
    const outgoing = (m: Sequential) => {
      const p = m.namedParameters().find((q) => q.name === "2.weight")!;
      return Array.from({ length: 4 }, (_, r) => p.offset + r * 16 + 3);
    };
    const lr = 0.01;
    const wd = 0.5;
    const steps = 8;

    const m = deadModel();
    const start = column(m);
    const grads: number[][] = [];
    await train(m, data, {
      steps,
      batchSize: 50,
      optimizer: { type: "adamw", lr, weightDecay: wd },
      onBatch: () => {
        const g = engine.readF32(m.gradsPtr, m.blockLength);
        grads.push(outgoing(m).map((i) => g[i]!));
      },
    });
    expect(
      grads.flat().every((g) => g === 0),
      "the dead unit's outgoing weights had a nonzero gradient",
    ).toBe(true);
    const decay = f32(1 - f32(lr) * f32(wd));
    const expected = start.map((w) => {
      for (let t = 0; t < steps; t++) w = f32(w * decay);
      return w;
    });
    expect(column(m)).toEqual(expected);
    expect(Math.abs(column(m)[0]!)).toBeLessThan(Math.abs(start[0]!));

    for (const optimizer of ["adam", "sgd", "momentum"] as const) {
      const other = deadModel();
      await train(other, data, { steps, batchSize: 50, optimizer, lr });
      expect(column(other), `${optimizer}: weights with zero gradient moved`).toEqual(start);
    }
    const coupled = deadModel();
    await train(coupled, data, { steps, batchSize: 50, optimizer: { type: "adam", lr, weightDecay: wd } });
    expect(column(coupled), "Adam with L2 decay should move them differently from AdamW").not.toEqual(expected);
  });
});

// ---------------------------------------------------------------- schedules

describe("train: learning-rate schedules (lr reported to onBatch)", () => {
  /** lr of every step of a run of 3 epochs × 5 batches (and the epochs they ran in). */
  async function rates(options: TrainOptions): Promise<BatchInfo[]> {
    const infos: BatchInfo[] = [];
    await train(model(), data, { epochs: 3, batchSize: 80, optimizer: "sgd", lr: 0.2, ...options, onBatch: (i) => void infos.push(i) });
    return infos;
  }
  const close = (actual: number[], expected: number[], what: string) => {
    expect(actual).toHaveLength(expected.length);
    actual.forEach((a, i) => {
      const e = expected[i]!;
      if (!(Math.abs(a - e) <= 1e-12 * Math.abs(e) || a === e)) expect.fail(`${what}: step ${i + 1} has lr ${a}, expected ${e}`);
    });
  };

  it("constant (the default): the base lr at every step; EpochRecord.lr is the epoch's last step's", async () => {
    const infos = await rates({});
    expect(infos.map((i) => i.lr)).toEqual(Array(15).fill(0.2));
    const explicit = await rates({ schedule: { type: "constant" } });
    expect(explicit.map((i) => i.lr)).toEqual(Array(15).fill(0.2));
    const seen: BatchInfo[] = [];
    const { history } = await train(model(), data, {
      epochs: 3,
      batchSize: 80,
      optimizer: "sgd",
      lr: 0.2,
      schedule: { type: "step", every: 1, gamma: 0.5 },
      warmupSteps: 7,
      onBatch: (i) => void seen.push(i),
    });
    expect(history.map((h) => h.lr)).toEqual([seen[4]!.lr, seen[9]!.lr, seen[14]!.lr]);
  });

  it("step: lr·gamma^⌊epoch / every⌋ with epochs counted from 0 (gamma default 0.1)", async () => {
    const a = await rates({ epochs: 5, schedule: { type: "step", every: 2, gamma: 0.5 } });
    close(
      a.map((i) => i.lr),
      a.map((i) => 0.2 * 0.5 ** Math.floor((i.epoch - 1) / 2)),
      "step every 2, gamma 0.5",
    );
    expect(new Set(a.map((i) => i.lr)).size).toBe(3);
    const b = await rates({ schedule: { type: "step", every: 1 } });
    close(
      b.map((i) => i.lr),
      b.map((i) => 0.2 * 0.1 ** (i.epoch - 1)),
      "step every 1, default gamma",
    );
  });

  it("warmup: lr·(step + 1)/warmupSteps over the first warmupSteps steps, then the schedule", async () => {
    const a = await rates({ warmupSteps: 4 });
    close(
      a.map((i) => i.lr),
      a.map((_, s) => (s < 4 ? (0.2 * (s + 1)) / 4 : 0.2)),
      "constant with 4 warm-up steps",
    );
    expect(a[0]!.lr).toBeCloseTo(0.05, 15);
  });

  // schedule.ts documents minLr + (lr − minLr)·½(1 + cos(π·step / totalSteps)) with steps
  // counted from 0, so the first step has lr and the rate approaches minLr after the last
  // step. A schedule that reaches minLr at the last step instead (progress step/(total − 1))
  // fails here, and with the default minLr 0 its last step is a step at learning rate 0.
  const documentedCosine = (s: number, total: number, lr: number, min: number) => min + (lr - min) * 0.5 * (1 + Math.cos((Math.PI * s) / total));

  it("cosine: minLr + (lr − minLr)·½(1 + cos(π·step/totalSteps)) over the whole run, as documented", async () => {
    const a = await rates({ schedule: { type: "cosine", minLr: 0.02 } });
    expect(a[0]!.lr).toBe(0.2);
    close(
      a.map((i) => i.lr),
      a.map((_, s) => documentedCosine(s, 15, 0.2, 0.02)),
      "cosine (minLr 0.02, 15 steps)",
    );
  });

  it("warm-up scales whatever the schedule gives by (step + 1)/warmupSteps (cosine and step)", async () => {
    for (const schedule of [{ type: "cosine" as const }, { type: "step" as const, every: 1, gamma: 0.5 }]) {
      const plain = (await rates({ schedule })).map((i) => i.lr);
      const warm = (await rates({ schedule, warmupSteps: 3 })).map((i) => i.lr);
      close(
        warm,
        plain.map((lr, s) => (s < 3 ? (lr * (s + 1)) / 3 : lr)),
        `${schedule.type} with 3 warm-up steps`,
      );
    }
  });

  it("cosine over a step budget: every step of the run trains (no step at learning rate 0 with the default minLr)", async () => {
    const infos: BatchInfo[] = [];
    const m = model();
    const before = m.parameterBlock();
    await train(m, data, { steps: 1, batchSize: 80, optimizer: "sgd", lr: 0.2, schedule: { type: "cosine" }, onBatch: (i) => void infos.push(i) });
    expect(
      infos.map((i) => i.lr),
      "lr of the only step of a 1-step cosine run",
    ).toEqual([0.2]);
    expect(sameBits(m.parameterBlock(), before), "a 1-step cosine run left the model unchanged").toBe(false);
  });
});

// ---------------------------------------------------------------- budgets, clipping, validation, stopping

describe("train: step budget, clipping, validation and stopping", () => {
  it("steps: exactly that many optimizer steps, stopReason 'step-budget', the same weights as stopping there by abort", async () => {
    const infos: BatchInfo[] = [];
    const a = await run({ steps: 7, batchSize: 100, onBatch: (i) => void infos.push(i) });
    expect(a.result.stopReason).toBe("step-budget");
    expect(a.result.steps).toBe(7);
    expect(infos).toHaveLength(7);
    expect(
      a.result.history.map((h) => [h.epoch, h.steps]),
      "epoch 2 is cut short after 3 of its 4 steps",
    ).toEqual([
      [1, 4],
      [2, 7],
    ]);
    // A budget that ends exactly at an epoch boundary still says step-budget.
    const b = await run({ steps: 8, batchSize: 100 });
    expect([b.result.stopReason, b.result.steps, b.result.history.length]).toEqual(["step-budget", 8, 2]);
    // epochs and steps together: whichever comes first.
    const c = await run({ steps: 100, epochs: 2, batchSize: 100 });
    expect([c.result.stopReason, c.result.steps]).toEqual(["completed", 8]);
  });

  it("clipNorm: the gradient's global norm is at most clipNorm and plain SGD moves the parameters by at most lr·clipNorm per step", async () => {
    const lr = 0.5;
    const clipNorm = 0.01;
    const m = model();
    let before = m.parameterBlock();
    const steps: Step[] = [];
    await train(m, data, { steps: 12, batchSize: 40, optimizer: "sgd", lr, clipNorm, onBatch: recorder(m, steps) });
    for (const [k, s] of steps.entries()) {
      const g = norm64(s.grads);
      expect(g, `step ${k + 1}: gradient norm after clipping`).toBeLessThanOrEqual(clipNorm * (1 + 4 * U));
      // Every raw gradient here is far larger than 0.01, so clipping scales each to clipNorm·norm/(norm + 1e-6).
      expect(g, `step ${k + 1}: the gradient was not clipped to clipNorm`).toBeGreaterThan(clipNorm * (1 - 1e-4));
      const moved = norm64(s.params, before);
      // Rounding p − lr·g to float32 adds at most u·|p| per element.
      expect(moved, `step ${k + 1}: ‖Δparams‖`).toBeLessThanOrEqual(lr * clipNorm * (1 + 4 * U) + U * norm64(before));
      expect(moved).toBeGreaterThan(lr * clipNorm * 0.99);
      before = s.params;
    }
    const free = model();
    const start = free.parameterBlock();
    await train(free, data, { steps: 1, batchSize: 40, optimizer: "sgd", lr });
    expect(norm64(free.parameterBlock(), start), "without clipNorm the same step is much larger").toBeGreaterThan(10 * lr * clipNorm);
  });

  it("validation as a Dataset: valLoss / valAccuracy every epoch, the accuracy of the model on that data", async () => {
    const { m, result } = await run({ epochs: 3, batchSize: 50, validation: held });
    for (const h of result.history) {
      expect(h.valLoss, `epoch ${h.epoch}: valLoss`).toBeTypeOf("number");
      expect(Number.isFinite(h.valLoss!)).toBe(true);
      expect(h.valAccuracy).toBeTypeOf("number");
    }
    expect(result.history[2]!.valAccuracy).toBe(accuracyOf(m, held));
    expect(result.history[2]!.valLoss!).toBeLessThan(result.history[0]!.valLoss!);
    // Validation does not change training: same weights as without it.
    const plain = await run({ epochs: 3, batchSize: 50 });
    expectSameBits(m.parameterBlock(), plain.m.parameterBlock(), "weights trained with vs without validation");
  });

  it("validation as a fraction: a seeded stratified split; training on the rest, valAccuracy on the held-out part", async () => {
    const infos: BatchInfo[] = [];
    const { m, result } = await run({ epochs: 2, batchSize: 50, validation: 0.25, seed: 3, onBatch: (i) => void infos.push(i) });
    expect(
      infos.filter((i) => i.epoch === 1),
      "300 training rows in batches of 50",
    ).toHaveLength(6);
    const { train: rest, validation } = data.split(0.25, { seed: 3, stratified: true });
    expect(result.history[1]!.valAccuracy).toBe(accuracyOf(m, validation));
    expect(result.history.every((h) => h.valLoss !== undefined)).toBe(true);
    // The same weights as training directly on the split's training part with the same seed.
    const direct = await run({ epochs: 2, batchSize: 50, seed: 3 }, 1, rest);
    expectSameBits(m.parameterBlock(), direct.m.parameterBlock(), "fraction split vs training on the split's train part");
  });

  describe("early stopping", () => {
    // An overfitting setup: 60 noisy training rows, a wide model, validation on clean held-out rows.
    let noisy: Dataset;
    let val: Dataset;
    const wide = () => mlp([20, 64, 64, 4], { seed: 9 });
    const base = (): TrainOptions => ({ batchSize: 10, optimizer: { type: "sgd", lr: 0.1, momentum: 0.9 }, seed: 1 });
    beforeAll(() => {
      const all = blobs({ rows: 260, features: 20, classes: 4, seed: 12, spread: 1.5, separation: 0.5, labelNoise: 0.35 });
      noisy = all.slice(0, 60);
      val = all.slice(60);
    });

    it("stops after `patience` epochs without improvement, reports bestEpoch and restores that epoch's weights exactly", async () => {
      const m = wide();
      const patience = 3;
      const r = await train(m, noisy, { ...base(), epochs: 60, validation: val, earlyStopping: { patience } });
      expect(r.stopReason, "no early stop within 60 epochs: the setup does not overfit").toBe("early-stopping");
      const losses = r.history.map((h) => h.valLoss!);
      const best = losses.indexOf(Math.min(...losses)) + 1;
      expect(r.bestEpoch).toBe(best);
      expect(r.history).toHaveLength(best + patience);
      const reference = wide();
      await train(reference, noisy, { ...base(), epochs: best });
      expectSameBits(m.parameterBlock(), reference.parameterBlock(), `restored weights vs a ${best}-epoch run`);
    });

    it("monitor 'accuracy' and minDelta pick the best epoch by valAccuracy; restoreBest false keeps the last weights", async () => {
      const m = wide();
      const r = await train(m, noisy, { ...base(), epochs: 60, validation: val, earlyStopping: { patience: 4, monitor: "accuracy", minDelta: 0.01 } });
      expect(r.stopReason).toBe("early-stopping");
      // Improvement means valAccuracy > best + minDelta.
      let best = -Infinity;
      let bestEpoch = 0;
      for (const h of r.history) if (h.valAccuracy! > best + 0.01) [best, bestEpoch] = [h.valAccuracy!, h.epoch];
      expect(r.bestEpoch).toBe(bestEpoch);
      expect(r.history).toHaveLength(bestEpoch + 4);

      const last = wide();
      const kept = await train(last, noisy, { ...base(), epochs: 60, validation: val, earlyStopping: { patience: 3, restoreBest: false } });
      expect(kept.stopReason).toBe("early-stopping");
      expect(kept.bestEpoch).toBeUndefined();
      const reference = wide();
      await train(reference, noisy, { ...base(), epochs: kept.history.length });
      expectSameBits(last.parameterBlock(), reference.parameterBlock(), "restoreBest: false keeps the last epoch's weights");
    });
  });

  it("onEpoch returning false (or a promise of false) stops with stopReason 'callback' after that epoch", async () => {
    const seen: number[] = [];
    const a = await run({ epochs: 10, batchSize: 100, onEpoch: (r) => (seen.push(r.epoch), r.epoch < 3) });
    expect([a.result.stopReason, a.result.history.length, seen]).toEqual(["callback", 3, [1, 2, 3]]);
    const b = await run({ epochs: 10, batchSize: 100, onEpoch: async (r) => r.epoch !== 2 });
    expect([b.result.stopReason, b.result.history.length]).toEqual(["callback", 2]);
    const c = await run({ epochs: 3, batchSize: 100, onEpoch: () => undefined });
    expect(c.result.stopReason, "returning nothing does not stop").toBe("completed");
    const reference = await run({ epochs: 3, batchSize: 100 });
    expectSameBits(a.m.parameterBlock(), reference.m.parameterBlock(), "callback stop after 3 epochs vs a 3-epoch run");
  });

  it("an AbortSignal aborted in onBatch stops after that batch: stopReason 'aborted', the weights of a run of that many steps", async () => {
    const controller = new AbortController();
    const infos: BatchInfo[] = [];
    const a = await run({
      epochs: 5,
      batchSize: 100,
      signal: controller.signal,
      onBatch: (i) => {
        infos.push(i);
        if (i.step === 6) controller.abort();
      },
    });
    expect(a.result.stopReason).toBe("aborted");
    expect(a.result.steps).toBe(6);
    expect(infos).toHaveLength(6);
    expect(
      a.result.history.map((h) => h.steps),
      "the cut-short epoch 2 still gets its record",
    ).toEqual([4, 6]);
    const reference = await run({ steps: 6, batchSize: 100 });
    expectSameBits(a.m.parameterBlock(), reference.m.parameterBlock(), "aborted after step 6 vs a 6-step budget");
  });
  it("augment: a function rewrites each batch in place (≡ training on rewritten data); built-in shifts are deterministic per seed", async () => {
    const images = squares(120, 8, 4, 3);
    const small = () => mlp([64, 8, 4], { seed: 2 });
    const calls: number[] = [];
    const a = small();
    await train(a, images, {
      epochs: 2,
      batchSize: 50,
      augment: (v, rows, features) => {
        calls.push(rows, features, v.length);
        for (let i = 0; i < v.length; i++) v[i] = 1 - v[i]!;
      },
    });
    expect(calls).toEqual([50, 64, 3200, 50, 64, 3200, 20, 64, 1280, 50, 64, 3200, 50, 64, 3200, 20, 64, 1280]);
    const b = small();
    await train(
      b,
      new Dataset(
        images.x.map((v) => 1 - v),
        images.y,
        { features: 64, classes: 4 },
      ),
      { epochs: 2, batchSize: 50 },
    );
    expectSameBits(a.parameterBlock(), b.parameterBlock(), "augment 1 − x vs training on 1 − x");
    const shifted = async (seed: number) => {
      const m = small();
      await train(m, images, { epochs: 2, batchSize: 50, seed, augment: { shift: 1 } });
      return m.parameterBlock();
    };
    const plain = small();
    await train(plain, images, { epochs: 2, batchSize: 50, seed: 1 });
    const s1 = await shifted(1);
    expect(sameBits(s1, plain.parameterBlock()), "shift 1 trained the same model as no augmentation").toBe(false);
    expectSameBits(await shifted(1), s1, "shift 1, same seed twice");
    expect(sameBits(await shifted(2), s1), "shift 1 with seeds 1 and 2 gave the same model").toBe(false);
  });
});

// ---------------------------------------------------------------- divergence

describe("train: divergence", () => {
  /** A deep narrow net, so a large lr grows the logits over a few steps until they overflow. */
  const deep = () => mlp([20, 32, 32, 32, 4], { seed: 3, init: "he" });
  const hugeLr: TrainOptions = { epochs: 3, batchSize: 40, optimizer: "sgd", lr: 1000 };

  /** Runs train and returns the DivergenceError it throws, with the step it names and the steps that completed. */
  async function diverge(m: Sequential, options: TrainOptions, d: Dataset = data) {
    const infos: BatchInfo[] = [];
    const error = await train(m, d, { ...options, onBatch: (i) => void infos.push(i) }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DivergenceError);
    expect((error as DivergenceError).code).toBe("TRAINING_DIVERGED");
    const message = (error as DivergenceError).message;
    const at = Number(/step (\d+)/.exec(message)?.[1]);
    return { message, at, infos };
  }

  it("with the collapse checks off, a huge learning rate still ends in DivergenceError naming NaN/Infinity; the model holds the last weights with a finite loss", async () => {
    const m = deep();
    const { message, at, infos } = await diverge(m, { ...hugeLr, divergence: false });
    expect(message).toMatch(/the loss became (NaN|-?Infinity)/);
    expect(message).toMatch(/lower learning rate/);
    expect(message).toMatch(/it was 1000/);
    expect(at, "divergence should need a few steps here").toBeGreaterThanOrEqual(3);
    expect(infos, "steps completed before the diverging one").toHaveLength(at - 1);
    const params = m.parameterBlock();
    expect(params.every(Number.isFinite), "parameters after divergence").toBe(true);
    // The loss of step `at` was computed with the weights after step at − 1; the last finite
    // loss was step at − 1's, computed with the weights after step at − 2: those are restored.
    const reference = deep();
    await train(reference, data, { steps: at - 2, batchSize: 40, optimizer: "sgd", lr: 1000 });
    expectSameBits(params, reference.parameterBlock(), `weights after divergence at step ${at} vs a ${at - 2}-step run`);
  });

  it("an exploding loss is caught while still finite, before it overflows, and the weights of the step before are restored", async () => {
    const nan = await diverge(deep(), { ...hugeLr, divergence: false });
    const m = deep();
    const { message, at, infos } = await diverge(m, hugeLr);
    expect(message).toMatch(/the loss exploded to [\d.e+]+, [\d.e+]+ times the first batch's/);
    expect(at, "caught before the loss is non-finite").toBeLessThan(nan.at);
    expect(infos).toHaveLength(at - 1);
    const reference = deep();
    if (at > 2) await train(reference, data, { steps: at - 2, batchSize: 40, optimizer: "sgd", lr: 1000 });
    expectSameBits(m.parameterBlock(), reference.parameterBlock(), `weights after an explosion at step ${at}`);
  });

  it("the remedies name He initialisation only when the model uses it, and the input scale otherwise", async () => {
    const he = await diverge(deep(), hugeLr);
    expect(he.message).toMatch(/a gentler initialisation than "he"/);
    const torch = await diverge(mlp([20, 32, 32, 32, 4], { seed: 3 }), { ...hugeLr, lr: 1e6 });
    expect(torch.message).not.toMatch(/"he"/);
    expect(torch.message).toMatch(/inputs on a smaller scale/);
  });

  it("the explosion threshold is an option: a larger lossFactor lets the same run go further", async () => {
    const low = await diverge(deep(), { ...hugeLr, divergence: { lossFactor: 10 } });
    const high = await diverge(deep(), { ...hugeLr, divergence: { lossFactor: 1e30 } });
    expect(low.at).toBeLessThan(high.at);
  });

  it("a dead ReLU layer (every unit zero for deadSteps batches) stops training and restores the initial weights", async () => {
    const m = model();
    m.setParameter("0.bias", new Float32Array(16).fill(-1e3)); // every hidden unit negative on every input
    const initial = m.parameterBlock();
    const { message, at, infos } = await diverge(m, { epochs: 2, batchSize: 40, divergence: { deadSteps: 4 } });
    expect(message).toMatch(/every unit of ReLU layer 1 was zero for 4 batches in a row \(a dead network\)/);
    expect(message).toMatch(/model holds its initial weights/);
    expect(at).toBe(4);
    expect(infos).toHaveLength(3);
    expectSameBits(m.parameterBlock(), initial, "weights after a dead network");
  });

  it("deadSteps is capped at one epoch's batches, so small data is still checked", async () => {
    const m = model();
    m.setParameter("0.bias", new Float32Array(16).fill(-1e3));
    const { at } = await diverge(m, { epochs: 3, batchSize: 200 }); // two batches an epoch, default deadSteps 10
    expect(at).toBe(2);
  });

  it("outputs that no longer depend on the input (saturated sigmoids) stop training, restoring the last healthy epoch's weights", async () => {
    const m = mlp([20, 8, 4], { seed: 2, activation: "sigmoid" });
    m.setParameter("0.bias", new Float32Array(8).fill(1e3)); // σ = 1 exactly for every row: logits independent of x
    const { message, at } = await diverge(m, { epochs: 2, batchSize: 40, divergence: { deadSteps: 3 } });
    expect(message).toMatch(/the outputs were the same for every input for 3 batches in a row/);
    expect(at).toBe(3);
  });

  it("a batch of identical inputs has identical outputs: that is not a collapse", async () => {
    const same = Dataset.from(
      new Float32Array(80 * 20).fill(0.5),
      Int32Array.from({ length: 80 }, (_, i) => i % 4),
      { features: 20, classes: 4 },
    );
    await expect(train(model(), same, { epochs: 3, batchSize: 20 })).resolves.toMatchObject({ stopReason: "completed" });
  });

  it("a model that was above chance and fell back to chance is a collapse (epoch check); the chance rule can be turned off", async () => {
    // A teacher-free collapse: epoch 1 learns, then an lr so large that every ReLU dies is simulated by
    // zeroing the hidden layer's bias far below zero between epochs.
    const m = mlp([20, 16, 4], { seed: 1, init: "he" }); // learns well above chance in epoch 1
    let epochs = 0;
    const options: TrainOptions = {
      epochs: 3,
      batchSize: 40,
      divergence: { deadSteps: 1000 },
      onEpoch: () => {
        if (++epochs === 1) m.setParameter("0.bias", new Float32Array(16).fill(-1e3));
      },
    };
    const { message } = await diverge(m, options);
    expect(message).toMatch(/training accuracy fell back to chance \([\d.]+ %\) after reaching [\d.]+ %/);
    expect(message).toMatch(/end of epoch 1, the last healthy one/);
    epochs = 0;
    const m2 = mlp([20, 16, 4], { seed: 1, init: "he" });
    const options2 = {
      ...options,
      divergence: { deadSteps: 1000, chance: false },
      onEpoch: () => {
        if (++epochs === 1) m2.setParameter("0.bias", new Float32Array(16).fill(-1e3));
      },
    };
    await expect(train(m2, data, options2)).resolves.toBeDefined();
  });

  it("divergence at the first step leaves the initial weights", async () => {
    // Inputs of 3e38 overflow the first layer, so the very first loss is not finite.
    const x = new Float32Array(40 * 20).fill(3e38);
    const huge = new Dataset(
      x,
      Int32Array.from({ length: 40 }, (_, i) => i % 4),
      { features: 20, classes: 4 },
    );
    const m = model();
    const initial = m.parameterBlock();
    await expect(train(m, huge, { epochs: 1, batchSize: 20 })).rejects.toThrow(/step 1: .*initial weights/);
    expectSameBits(m.parameterBlock(), initial, "weights after a first-step divergence");
  });

  it.each([
    [{ lossFactor: 1 }, /train: divergence\.lossFactor must be a finite number > 1; got 1/],
    [{ deadSteps: 0 }, /train: divergence\.deadSteps must be a positive integer; got 0/],
    [{ chance: "yes" }, /train: divergence\.chance must be true or false; got "yes"/],
    [{ lossFactr: 10 }, /train: divergence: unknown option "lossFactr"; did you mean "lossFactor"\?/],
    ["off", /train: divergence must be false or \{ lossFactor, deadSteps, chance \}; got "off"/],
  ])("divergence option %j is refused", async (divergence, pattern) => {
    await expect(train(model(), data, { epochs: 1, divergence: divergence as never })).rejects.toThrow(pattern);
  });
});

// ---------------------------------------------------------------- options schema

describe("options are checked against one schema per function", () => {
  it("an unknown option is refused before any work, naming the closest known one", async () => {
    const m = model();
    const before = m.parameterBlock();
    await expect(train(m, data, { epoch: 1 } as never)).rejects.toThrow(
      /train: unknown option "epoch"; did you mean "epochs"\? \(the options are epochs, steps/,
    );
    expectSameBits(m.parameterBlock(), before, "weights after a refused call");
    await expect(train(m, data, { batchsize: 8 } as never)).rejects.toThrow(/did you mean "batchSize"/);
    await expect(train(m, data, { frobnicate: 1 } as never)).rejects.toThrow(/unknown option "frobnicate" \(the options are/);
  });

  it("nested option objects are checked too: optimizer, earlyStopping, augment, checkpoint", async () => {
    const cases: [TrainOptions, RegExp][] = [
      [{ optimizer: { type: "sgd", momentun: 0.9 } as never }, /train: optimizer: unknown option "momentun"; did you mean "momentum"\?/],
      [{ optimizer: { type: "adam", momentum: 0.9 } as never }, /train: optimizer: unknown option "momentum"/],
      [{ validation: 0.2, earlyStopping: { patince: 2 } as never }, /train: earlyStopping: unknown option "patince"; did you mean "patience"\?/],
      [{ augment: { shfit: 2 } as never }, /train: augment: unknown option "shfit"; did you mean "shift"\?/],
      [{ checkpoint: { every: 2 } as never }, /train: checkpoint: save is required/],
      [{ schedule: { type: "cosine", every: 2 } as never }, /train: schedule: unknown option "every"/],
    ];
    for (const [options, message] of cases) await expect(train(model(), data, options)).rejects.toThrow(message);
  });

  it('schedule names are accepted where a user would write them: "cosine" trains exactly like { type: "cosine" }', async () => {
    const a = await run({ epochs: 2, schedule: "cosine" as never });
    const b = await run({ epochs: 2, schedule: { type: "cosine" } });
    expectSameBits(a.m.parameterBlock(), b.m.parameterBlock(), 'schedule "cosine" vs { type: "cosine" }');
    await expect(train(model(), data, { schedule: "step" as never })).rejects.toThrow(/a step schedule needs its numbers/);
  });

  it("numbers that reach the kernels as float32 must be finite as float32 (lr 1e39 would be Infinity)", async () => {
    await expect(train(model(), data, { lr: 1e39 })).rejects.toThrow(/train: lr must be a finite number > 0 \(and a finite float32\); got 1e\+39/);
    await expect(train(model(), data, { clipNorm: 1e39 })).rejects.toThrow(/clipNorm/);
  });
});

// ---------------------------------------------------------------- errors and memory

describe("train: invalid input is rejected before training, without leaking memory", () => {
  const cases: [string, () => [unknown, unknown, TrainOptions], new (...args: never[]) => Error, RegExp][] = [
    ["data features ≠ model inputs", () => [model(1, [21, 8, 4]), data, {}], ShapeError, /20 features .* 21 inputs/],
    ["labels ≥ model outputs", () => [model(1, [20, 8, 3]), data, {}], ShapeError, /labels up to 3 .* only 3 outputs/],
    [
      "validation features ≠ model inputs",
      () => [model(), data, { validation: blobs({ rows: 10, features: 5, classes: 4, seed: 1 }) }],
      ShapeError,
      /validation/,
    ],
    ["batchSize > data length", () => [model(), data, { batchSize: 401 }], OptionError, /batchSize 401 .*\(400 samples\)/],
    ["batchSize > the training part of a validation split", () => [model(), data, { batchSize: 350, validation: 0.25 }], OptionError, /300 samples/],
    ["batchSize 0", () => [model(), data, { batchSize: 0 }], OptionError, /batchSize must be a positive integer/],
    ["batchSize 2.5", () => [model(), data, { batchSize: 2.5 }], OptionError, /batchSize/],
    ["epochs 0", () => [model(), data, { epochs: 0 }], OptionError, /epochs must be a positive integer/],
    ["steps 0", () => [model(), data, { steps: 0 }], OptionError, /steps/],
    ["unknown optimizer", () => [model(), data, { optimizer: "rmsprop" as never }], OptionError, /optimizer must be/],
    ["lr ≤ 0", () => [model(), data, { lr: -1 }], OptionError, /lr must be a finite number > 0/],
    ["momentum 1", () => [model(), data, { optimizer: { type: "sgd", momentum: 1 } }], OptionError, /momentum/],
    ["nesterov without momentum", () => [model(), data, { optimizer: { type: "sgd", nesterov: true } }], OptionError, /nesterov/],
    ["negative weightDecay", () => [model(), data, { optimizer: { type: "adamw", weightDecay: -0.1 } }], OptionError, /weightDecay/],
    ["beta2 = 1", () => [model(), data, { optimizer: { type: "adam", beta2: 1 } }], OptionError, /beta2/],
    ["unknown schedule", () => [model(), data, { schedule: { type: "linear" } as never }], OptionError, /schedule/],
    ["step schedule every 0", () => [model(), data, { schedule: { type: "step", every: 0 } }], OptionError, /every/],
    ["step schedule gamma 2", () => [model(), data, { schedule: { type: "step", every: 1, gamma: 2 } }], OptionError, /gamma/],
    ["cosine minLr < 0", () => [model(), data, { schedule: { type: "cosine", minLr: -1 } }], OptionError, /minLr/],
    ["warmupSteps 1.5", () => [model(), data, { warmupSteps: 1.5 }], OptionError, /warmupSteps/],
    ["clipNorm 0", () => [model(), data, { clipNorm: 0 }], OptionError, /clipNorm/],
    ["clipNorm Infinity", () => [model(), data, { clipNorm: Infinity }], OptionError, /clipNorm/],
    ["validation fraction 1", () => [model(), data, { validation: 1 }], OptionError, /fraction/],
    ["earlyStopping without validation", () => [model(), data, { earlyStopping: { patience: 2 } }], OptionError, /needs validation/],
    ["earlyStopping patience 0", () => [model(), data, { validation: held, earlyStopping: { patience: 0 } }], OptionError, /patience/],
    ["negative seed", () => [model(), data, { seed: -1 }], OptionError, /seed/],
    ["data not a Dataset", () => [model(), { x: [1, 2], y: [0] }, {}], ArgumentError, /data must be a Dataset/],
    ["model not a Sequential", () => [{}, data, {}], ArgumentError, /model must be a Sequential/],
  ];

  it.each(cases)("%s", async (_name, make, type, message) => {
    const [m, d, options] = make();
    const live = m as Sequential;
    if (typeof live.reserve === "function") live.reserve(400); // the model's own buffers, kept for its lifetime
    const before = live.parameterBlock?.();
    const heap = engine.heapBytes;
    let batches = 0;
    const error = await train(m as Sequential, d as Dataset, { ...options, onBatch: () => void batches++ }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(type);
    expect((error as Error).message).toMatch(message);
    expect(batches, "a training step ran before the error").toBe(0);
    expect(engine.heapBytes, "heap bytes after the error").toBe(heap);
    if (before) expectSameBits(live.parameterBlock(), before, "parameters after the error");
  });

  it("a disposed model is rejected with ArgumentError", async () => {
    const m = model();
    m.dispose();
    await expect(train(m, data, {})).rejects.toThrow(ArgumentError);
    await expect(train(m, data, {})).rejects.toThrow(/disposed/);
  });

  it("heap bytes are unchanged after train() returns, with every feature on, and after it throws DivergenceError", async () => {
    const m = model();
    m.reserve(400);
    const heap = engine.heapBytes;
    const result = await train(m, data, {
      epochs: 4,
      batchSize: 32,
      optimizer: "adamw",
      clipNorm: 1,
      validation: 0.2,
      earlyStopping: { patience: 1 },
      schedule: { type: "cosine" },
      warmupSteps: 3,
    });
    expect(result.history.length).toBeGreaterThan(0);
    expect(engine.heapBytes, "after a full run").toBe(heap);
    await train(m, data, { epochs: 2, batchSize: 400, validation: held, optimizer: "adam" });
    expect(engine.heapBytes, "after a second run").toBe(heap);
    const d = mlp([20, 32, 32, 32, 4], { seed: 3 });
    d.reserve(400);
    const heap2 = engine.heapBytes;
    await expect(train(d, data, { epochs: 3, batchSize: 40, optimizer: "sgd", lr: 1000 })).rejects.toThrow(DivergenceError);
    expect(engine.heapBytes, "after DivergenceError").toBe(heap2);
  });
});

// ---------------------------------------------------------------- the end of a run and its model

describe("train: what a run leaves behind", () => {
  it("a last update that makes the model non-finite is caught (no next loss would show it): the weights before it are restored", async () => {
    const m = model();
    const initial = m.parameterBlock();
    await expect(train(m, data, { steps: 1, batchSize: 40, optimizer: "sgd", lr: 1e30 })).rejects.toThrow(
      /training collapsed at epoch 1, step 1: the last update made the weights or their outputs non-finite/,
    );
    expectSameBits(m.parameterBlock(), initial, "weights after a diverging last step");
  });

  it("two runs started on one model without awaiting the first: the second is refused, the first completes", async () => {
    const m = model();
    // With an AbortSignal the loop yields to the event loop, so the first run is still going
    // when the second starts (a run without one completes its steps before train() returns).
    const first = train(m, data, { epochs: 1, batchSize: 40, signal: new AbortController().signal, onEpoch: () => new Promise((r) => setTimeout(r, 20)) });
    await expect(train(m, data, { epochs: 1 })).rejects.toThrow(/train: the model is already being trained by train\(\)/);
    await expect(first).resolves.toMatchObject({ stopReason: "completed" });
    await expect(train(m, data, { epochs: 1 }), "the model is free again").resolves.toBeDefined();
  });
});
