/**
 * Checkpoints: a run resumed from any of its checkpoints ends with bit-identical weights
 * and history to the run that never stopped — for train (momentum SGD, cosine schedule,
 * augmentation) and distill (Adam, dropout, augmentation, hints with a hint-only stage,
 * temperature schedule).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { distill, init, mlp, OptionError, train, type Checkpoint, type DistillOptions, type EpochRecord, type TrainOptions } from "../../src/index.js";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkpointToFile, decodeCheckpoint, encodeCheckpoint, readCheckpoint } from "../../src/train/checkpoint-file.js";
import { FormatError } from "../../src/index.js";
import fc from "fast-check";
import { blobs, squares } from "../helpers/tiny-data.js";
import { expectSameBits } from "../helpers/compare.js";

/** The numbers of a history, without wall-clock seconds. */
const numbers = (history: EpochRecord[]) => history.map(({ seconds: _s, ...rest }) => rest);

describe("checkpoints and resume", () => {
  beforeAll(async () => {
    await init();
  });

  const data = squares(96, 8, 4, 5);
  const options: TrainOptions = {
    epochs: 4,
    batchSize: 10,
    seed: 3,
    optimizer: "momentum",
    lr: 0.05,
    schedule: { type: "cosine" },
    augment: { shift: 1, noise: 0.05 },
    validation: 0.25,
    earlyStopping: { patience: 3 },
  };

  it("train: resuming from every checkpoint gives the uninterrupted run's weights and history, bit for bit", async () => {
    const checkpoints: Checkpoint[] = [];
    const full = mlp([64, 24, 4], { seed: 1, dropout: 0.2 });
    const reference = await train(full, data, { ...options, checkpoint: { every: 5, save: (c) => void checkpoints.push(c) } });
    expect(checkpoints.length).toBe(Math.floor(reference.steps / 5));
    for (const checkpoint of checkpoints) {
      const resumed = mlp([64, 24, 4], { seed: 99, dropout: 0.2 }); // different init: everything comes from the checkpoint
      const result = await train(resumed, data, { ...options, resume: checkpoint });
      const at = `resumed at step ${checkpoint.steps} (epoch ${checkpoint.epoch + 1}, position ${checkpoint.position})`;
      expectSameBits(resumed.parameterBlock(), full.parameterBlock(), at);
      expect(numbers(result.history), at).toEqual(numbers(reference.history));
      expect(result.steps).toBe(reference.steps);
      resumed.dispose();
    }
    full.dispose();
  });

  it("distill: resuming in the hint stage or the main stage gives the uninterrupted student, bit for bit", async () => {
    const images = squares(80, 8, 4, 6);
    const teacher = mlp([64, 32, 4], { seed: 2 });
    await train(teacher, images, { epochs: 3, batchSize: 16, seed: 1 });
    const base = (student: ReturnType<typeof mlp>): DistillOptions => ({
      teacher,
      student,
      data: images,
      epochs: 3,
      batchSize: 16,
      seed: 7,
      optimizer: { type: "adam", lr: 0.01 },
      temperature: { from: 6, to: 2 },
      alpha: 0.2,
      augment: { shift: 1 },
      hints: [{ student: 1, teacher: 1 }],
      hintEpochs: 2,
    });
    const checkpoints: Checkpoint[] = [];
    const full = mlp([64, 16, 4], { seed: 4, dropout: 0.1 });
    const reference = await distill({ ...base(full), checkpoint: { every: 3, save: (c) => void checkpoints.push(c) } });
    const stages = new Set(checkpoints.map((c) => c.stage));
    expect([...stages].sort()).toEqual(["hint", "main"]);
    for (const checkpoint of checkpoints) {
      const resumed = mlp([64, 16, 4], { seed: 4, dropout: 0.1 });
      const result = await distill({ ...base(resumed), resume: checkpoint });
      const at = `resumed in the ${checkpoint.stage} stage at step ${checkpoint.steps}`;
      expectSameBits(resumed.parameterBlock(), full.parameterBlock(), at);
      expect(numbers(result.history), at).toEqual(numbers(reference.history));
      resumed.dispose();
    }
    full.dispose();
    teacher.dispose();
  });

  it("a checkpoint survives encoding to bytes (safetensors container): resuming from the decoded one is still exact", async () => {
    const saved: Uint8Array[] = [];
    const full = mlp([64, 24, 4], { seed: 1, dropout: 0.2 });
    // validation + early stopping: the state holds a best value that starts as +Infinity
    const reference = await train(full, data, { ...options, checkpoint: { every: 9, save: (c) => void saved.push(encodeCheckpoint(c)) } });
    expect(saved.length).toBeGreaterThan(1);
    const decoded = decodeCheckpoint(saved[1]!);
    const resumed = mlp([64, 24, 4], { seed: 5, dropout: 0.2 });
    const result = await train(resumed, data, { ...options, resume: decoded });
    expectSameBits(resumed.parameterBlock(), full.parameterBlock(), "resumed from decoded bytes");
    expect(numbers(result.history)).toEqual(numbers(reference.history));
    expect(() => decodeCheckpoint(saved[1]!.subarray(0, 100))).toThrow(FormatError);
    for (const m of [full, resumed]) m.dispose();
  });

  it("checkpointToFile / readCheckpoint: atomic file checkpoints that resume exactly", async () => {
    const dir = mkdtempSync(join(tmpdir(), "distill-ckpt-"));
    const file = join(dir, "run.ckpt");
    expect(await readCheckpoint(file)).toBeUndefined();
    const full = mlp([64, 24, 4], { seed: 1, dropout: 0.2 });
    // Stop after 13 steps with a checkpoint every 4: the file then holds step 12.
    await train(full, data, { ...options, steps: 13, checkpoint: checkpointToFile(file, 4) });
    expect(readdirSync(dir)).toEqual(["run.ckpt"]); // no temporary files left behind
    const saved = (await readCheckpoint(file))!;
    expect(saved.steps).toBe(12);
    const reference = mlp([64, 24, 4], { seed: 1, dropout: 0.2 });
    await train(reference, data, options);
    const resumed = mlp([64, 24, 4], { seed: 1, dropout: 0.2 });
    await expect(train(resumed, data, { ...options, resume: saved })).rejects.toThrow(/different run/); // steps: 13 was part of that run
    const again = mlp([64, 24, 4], { seed: 1, dropout: 0.2 });
    const partial: Checkpoint[] = [];
    await train(again, data, { ...options, checkpoint: { every: 4, save: (c) => void partial.push(c) } });
    const fromFile = mlp([64, 24, 4], { seed: 3, dropout: 0.2 });
    await checkpointToFile(file, 4).save(partial[2]!);
    await train(fromFile, data, { ...options, resume: (await readCheckpoint(file))! });
    expectSameBits(fromFile.parameterBlock(), reference.parameterBlock(), "resumed from the file");
    for (const m of [full, reference, resumed, again, fromFile]) m.dispose();
  });

  it("refuses a checkpoint from a different run with a clear OptionError", async () => {
    const checkpoints: Checkpoint[] = [];
    const model = mlp([64, 24, 4], { seed: 1 });
    await train(model, data, { ...options, checkpoint: { every: 4, save: (c) => void checkpoints.push(c) } });
    const other = mlp([64, 24, 4], { seed: 1 });
    await expect(train(other, data, { ...options, batchSize: 12, resume: checkpoints[0]! })).rejects.toThrow(OptionError);
    await expect(train(other, data, { ...options, batchSize: 12, resume: checkpoints[0]! })).rejects.toThrow(/different run/);
    const wider = mlp([64, 25, 4], { seed: 1 });
    await expect(train(wider, data, { ...options, resume: checkpoints[0]! })).rejects.toThrow(/different run/);
    // A train() checkpoint given to distill: refused, never a silent fresh start that overwrites it.
    const student = mlp([64, 24, 4], { seed: 1 });
    const teacher = mlp([64, 24, 4], { seed: 2 });
    await expect(distill({ ...options, teacher, student, data, resume: checkpoints[0]! })).rejects.toThrow(
      /distill: cannot resume from a checkpoint of a "train" stage/,
    );
    for (const m of [model, other, wider, student, teacher]) m.dispose();
  });

  it("a checkpoint names its run by content: other rows of the same count, another augmentation, or another T, α, soft loss or teacher are refused, naming what differs", async () => {
    const checkpoints: Checkpoint[] = [];
    const plain = { epochs: 2, batchSize: 10, seed: 3 };
    const model = mlp([64, 24, 4], { seed: 1 });
    await train(model, data, { ...plain, checkpoint: { every: 4, save: (c) => void checkpoints.push(c) } });
    const other = squares(96, 8, 4, 6); // the same shape, other values
    await expect(train(mlp([64, 24, 4], { seed: 1 }), other, { ...plain, resume: checkpoints[0]! })).rejects.toThrow(/differs in the data's content/);
    await expect(train(mlp([64, 24, 4], { seed: 1 }), data, { ...plain, augment: { shift: 1 }, resume: checkpoints[0]! })).rejects.toThrow(
      /differs in augment/,
    );

    const teacher = mlp([64, 24, 4], { seed: 2 });
    const teacher2 = mlp([64, 24, 4], { seed: 3 });
    const saved: Checkpoint[] = [];
    const kd: DistillOptions = { ...plain, teacher, student: mlp([64, 8, 4], { seed: 4 }), data, temperature: 4, alpha: 0.3 };
    await distill({ ...kd, checkpoint: { every: 4, save: (c) => void saved.push(c) } });
    for (const change of [
      { temperature: 5 },
      { alpha: 0.5 },
      { softLoss: "soft-ce" as const },
      { teacher: teacher2 },
      { temperature: (e: number) => (e === 1 ? 4 : 3) },
    ]) {
      await expect(
        distill({ ...kd, ...change, student: mlp([64, 8, 4], { seed: 4 }), resume: saved[0]! }),
        JSON.stringify(Object.keys(change)),
      ).rejects.toThrow(/differs in the loss's settings \(temperature, α, soft loss, teacher, hints\)/);
    }
    // The same settings (a function giving the same values counts as the same) resume.
    await expect(distill({ ...kd, temperature: () => 4, student: mlp([64, 8, 4], { seed: 4 }), resume: saved[0]! })).resolves.toBeDefined();
  });

  it("decodeCheckpoint gives what the file held: a file from before labelled and health resumes as labelled = seen without health; a field of the wrong kind is a FormatError naming it", async () => {
    const checkpoints: Checkpoint[] = [];
    const plain = { epochs: 2, batchSize: 10, seed: 3 };
    const full = mlp([64, 12, 4], { seed: 1 });
    await train(full, data, { ...plain, checkpoint: { every: 3, save: (c) => void checkpoints.push(c) } });
    const good = checkpoints[1]!;
    expect(good.stream).toBeUndefined();
    expect(good.labelled).toBe(good.seen); // every row of `data` has a label
    // The encoder leaves out what is undefined, as the files written before these fields were.
    const older = decodeCheckpoint(encodeCheckpoint({ ...good, labelled: undefined, health: undefined } as unknown as Checkpoint));
    expect(older.labelled).toBe(good.seen);
    expect("health" in older).toBe(false);
    expect("stream" in older).toBe(false);
    // @ts-expect-error: a stream's place is read only after testing that the file has one (Checkpoint is a union on `stream`)
    expect(() => older.stream.block).toThrow(TypeError);
    const resumed = mlp([64, 12, 4], { seed: 5 });
    await train(resumed, data, { ...plain, resume: older });
    expectSameBits(resumed.parameterBlock(), full.parameterBlock(), "resumed from a file without labelled and health");
    const wrong: [string, Record<string, unknown>, RegExp][] = [
      ["epoch as text", { epoch: "1" }, /state record's epoch is not a number/],
      ["no early-stopping state", { early: undefined }, /state record's early is not/],
      ["a best epoch as text", { early: { ...good.early, bestEpoch: "2" } }, /state record's early is not/],
      ["an optimizer's step count as text", { optimizers: [{ ...good.optimizers[0]!, steps: "3" }] }, /state record's optimizers\[0\]\.steps is not a number/],
      ["a hook value as text", { hookState: { sum: "x" } }, /state record's hookState\.sum is not a number/],
      ["a health value missing its number", { health: { ...good.health!, firstLoss: "x" } }, /state record's health\.firstLoss is not a number/],
      [
        "a stream place without its offset",
        { stream: { block: 0, blockOrder: new Int32Array(0), rowOrder: new Int32Array(1) } },
        /state record's stream is not/,
      ],
    ];
    for (const [what, edit, message] of wrong) {
      const bytes = encodeCheckpoint({ ...good, ...edit } as unknown as Checkpoint);
      expect(() => decodeCheckpoint(bytes), what).toThrow(FormatError);
      expect(() => decodeCheckpoint(bytes), what).toThrow(message);
    }
    for (const m of [full, resumed]) m.dispose();
  });

  it("a damaged checkpoint file is refused: 400 seeded single-byte flips anywhere in the file each give a FormatError, never a trap, a hang or a resume", async () => {
    const checkpoints: Checkpoint[] = [];
    const plain = { epochs: 1, batchSize: 10, seed: 3 };
    await train(mlp([64, 12, 4], { seed: 1 }), data, { ...plain, checkpoint: { every: 3, save: (c) => void checkpoints.push(c) } });
    const bytes = encodeCheckpoint(checkpoints[0]!);
    expect(() => decodeCheckpoint(bytes)).not.toThrow();
    let state = 12345;
    const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0);
    for (let i = 0; i < 400; i++) {
      const flipped = bytes.slice();
      const at = next() % bytes.length;
      flipped[at] = flipped[at]! ^ (1 + (next() % 255));
      let error: unknown;
      try {
        decodeCheckpoint(flipped);
      } catch (e) {
        error = e;
      }
      expect(error, `byte ${at} of ${bytes.length} flipped`).toBeInstanceOf(FormatError);
    }
  });

  it("fuzzed checkpoint bytes (fast-check: up to 8 bytes changed, or the file cut short) decode only when unchanged; otherwise a FormatError", async () => {
    const checkpoints: Checkpoint[] = [];
    await train(mlp([64, 12, 4], { seed: 1 }), data, { epochs: 1, batchSize: 10, seed: 3, checkpoint: { every: 3, save: (c) => void checkpoints.push(c) } });
    const bytes = encodeCheckpoint(checkpoints[0]!);
    const edit = fc.record({
      changes: fc.array(fc.tuple(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
      cut: fc.option(fc.nat({ max: bytes.length - 1 }), { nil: undefined }),
    });
    fc.assert(
      fc.property(edit, ({ changes, cut }) => {
        const fuzzed = bytes.slice(0, cut ?? bytes.length);
        for (const [at, value] of changes) if (at < fuzzed.length) fuzzed[at] = value;
        const same = fuzzed.length === bytes.length && fuzzed.every((b, i) => b === bytes[i]);
        try {
          decodeCheckpoint(fuzzed);
          return same;
        } catch (e) {
          return !same && e instanceof FormatError;
        }
      }),
      { numRuns: 300, seed: 20261206 },
    );
  });

  it("a checkpoint whose fields are out of range is refused before any wasm call (order −1, epoch −1, a zero PRNG state, NaN weights)", async () => {
    const checkpoints: Checkpoint[] = [];
    const plain = { epochs: 2, batchSize: 10, seed: 3 };
    await train(mlp([64, 12, 4], { seed: 1 }), data, { ...plain, checkpoint: { every: 3, save: (c) => void checkpoints.push(c) } });
    const good = checkpoints[0]!;
    const broken: [string, (c: Checkpoint) => void, RegExp][] = [
      ["order −1", (c) => void (c.order[5] = -1), /order is not a permutation of the 96 rows \(entry 5 is -1\)/],
      ["order repeated", (c) => void (c.order[5] = c.order[6]!), /order is not a permutation/],
      ["epoch −1", (c) => void (c.epoch = -1), /epoch -1 is not an epoch of this run/],
      ["epoch past the end", (c) => void (c.epoch = 2), /epoch 2 is not an epoch of this run/],
      ["a zero PRNG state", (c) => void c.rngs.fill(0, 0, 16), /PRNG state 0 is all zero/],
      ["NaN weights", (c) => void (c.params[3] = NaN), /params holds NaN at index 3/],
      ["negative position", (c) => void (c.position = -10), /position -10 is outside the epoch/],
    ];
    for (const [what, edit, message] of broken) {
      const c = decodeCheckpoint(encodeCheckpoint(good));
      edit(c);
      const m = mlp([64, 12, 4], { seed: 1 });
      const before = m.parameterBlock();
      await expect(train(m, data, { ...plain, resume: c }), what).rejects.toThrow(FormatError);
      await expect(train(m, data, { ...plain, resume: c }), what).rejects.toThrow(message);
      expectSameBits(m.parameterBlock(), before, `${what}: the model is untouched`);
    }
  });

  it("a checkpoint is a snapshot: later training does not change a saved one", async () => {
    const checkpoints: Checkpoint[] = [];
    const model = mlp([16, 8, 3], { seed: 1 });
    await train(model, blobs({ rows: 60, features: 16, classes: 3, seed: 2 }), {
      epochs: 2,
      batchSize: 10,
      seed: 1,
      checkpoint: { every: 2, save: (c) => void checkpoints.push(c) },
    });
    expect(checkpoints[0]!.params).not.toEqual(checkpoints[checkpoints.length - 1]!.params);
    expect(checkpoints[0]!.steps).toBe(2);
    model.dispose();
  });
});
