/**
 * StreamDataset: .npy shards and batch iterators read a block at a time.
 * - Exact: a stream holding the rows in the order the in-memory path draws them (taken
 *   from its checkpoints) trains to the same bits, for train and distill (dense teacher
 *   logits in the shards), with batches that span blocks and shards.
 * - Top-k teacher outputs: the expansion kernel against float64, the soft loss from it
 *   against a float64 KL, and a top-k stream against the dense stream of the expanded logits.
 * - Shuffled streams: deterministic, and resuming from any checkpoint gives the
 *   uninterrupted run's bits and history.
 * - The next block is read while the current one trains; bad values are typed errors naming
 *   the block, row and column.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Dataset,
  distill,
  FormatError,
  getEngine,
  init,
  mlp,
  OptionError,
  StreamDataset,
  train,
  type Checkpoint,
  type EpochRecord,
  type StreamBatch,
  type TrainOptions,
} from "../../src/index.js";
import { encodeNpy } from "../../src/io/npy.js";
import { decodeCheckpoint, encodeCheckpoint } from "../../src/train/checkpoint-file.js";
import { expectClose, expectSameBits } from "../helpers/compare.js";
import { kl64 } from "../helpers/reference.js";
import { TestRandom } from "../helpers/rand.js";

const FEATURES = 6;
const CLASSES = 5;
const numbers = (history: EpochRecord[]) => history.map(({ seconds: _s, ...rest }) => rest);

function rows(n: number, seed: number): { x: Float32Array; y: Int32Array } {
  const rnd = new TestRandom(seed);
  const y = rnd.ints(n, CLASSES);
  const x = rnd.normal(n * FEATURES);
  for (let r = 0; r < n; r++) x[r * FEATURES + (y[r]! % FEATURES)]! += 2; // learnable
  return { x, y };
}

/** Rows of a (rows, width) array in `order`. */
function permuteRows<T extends Float32Array | Int32Array>(a: T, order: ArrayLike<number>, width: number): T {
  const out = new (a.constructor as new (n: number) => T)(a.length);
  for (let i = 0; i < order.length; i++) out.set(a.subarray(order[i]! * width, (order[i]! + 1) * width), i * width);
  return out;
}

/** Writes shards of the given sizes (x, y and the optional parts) into a fresh directory. */
function writeShards(parts: Record<string, { data: Float32Array | Int32Array; width: number }>, sizes: number[]): string {
  const dir = mkdtempSync(join(tmpdir(), "distill-stream-"));
  let first = 0;
  sizes.forEach((n, i) => {
    const name = String(i).padStart(4, "0");
    for (const [prefix, { data, width }] of Object.entries(parts)) {
      const piece = data.subarray(first * width, (first + n) * width);
      const shape = prefix === "y" ? [n] : [n, width];
      writeFileSync(join(dir, `${prefix}-${name}.npy`), encodeNpy(piece.slice(), shape));
    }
    first += n;
  });
  return dir;
}

/** The permutation each epoch of an in-memory run used, from its checkpoints (one per step). */
async function inMemoryOrders(data: Dataset, options: TrainOptions, epochs: number): Promise<Int32Array[]> {
  const orders: Int32Array[] = [];
  const probe = mlp([FEATURES, 8, CLASSES], { seed: 1 });
  await train(probe, data, { ...options, epochs, checkpoint: { every: 1, save: (c) => void (orders[c.epoch] ??= c.order) } });
  probe.dispose();
  return orders;
}

describe("StreamDataset", () => {
  beforeAll(async () => {
    await init();
  });

  const N = 61;
  const { x, y } = rows(N, 11);
  const data = Dataset.from(x, y, { features: FEATURES, classes: CLASSES });
  const options: TrainOptions = { batchSize: 8, seed: 5, optimizer: "momentum", lr: 0.1 };

  it("train over shards in the in-memory order gives the in-memory run's bits (batches spanning blocks and shards)", async () => {
    const [order] = await inMemoryOrders(data, options, 1);
    const dir = writeShards(
      { x: { data: permuteRows(x, order!, FEATURES), width: FEATURES }, y: { data: permuteRows(y, order!, 1), width: 1 } },
      [13, 5, 30, 13],
    );
    const stream = await StreamDataset.fromShards(dir, { classes: CLASSES, shuffle: false, blockRows: 6 });
    expect([stream.length, stream.features, stream.classes, stream.blockCount]).toEqual([N, FEATURES, CLASSES, 3 + 1 + 5 + 3]);
    const memory = mlp([FEATURES, 8, CLASSES], { seed: 2 });
    const streamed = mlp([FEATURES, 8, CLASSES], { seed: 2 });
    const a = await train(memory, data, { ...options, epochs: 1 });
    const b = await train(streamed, stream, { ...options, epochs: 1 });
    expectSameBits(streamed.parameterBlock(), memory.parameterBlock(), "streamed vs in-memory weights");
    expect(numbers(b.history)).toEqual(numbers(a.history));
  });

  it("train over a batch iterator (odd batch sizes) that yields each epoch's in-memory order gives the same bits over 3 epochs", async () => {
    const orders = await inMemoryOrders(data, options, 3);
    const make = async function* (epoch: number): AsyncGenerator<StreamBatch> {
      const ex = permuteRows(x, orders[epoch]!, FEATURES);
      const ey = permuteRows(y, orders[epoch]!, 1);
      for (let first = 0; first < N; first += 7) {
        const end = Math.min(N, first + 7);
        yield { x: ex.slice(first * FEATURES, end * FEATURES), y: ey.slice(first, end) };
      }
    };
    const stream = StreamDataset.fromBatches(make, { features: FEATURES, classes: CLASSES, rows: N, shuffle: false, blockRows: 5 });
    const memory = mlp([FEATURES, 8, CLASSES], { seed: 3, dropout: 0.1 });
    const streamed = mlp([FEATURES, 8, CLASSES], { seed: 3, dropout: 0.1 });
    const a = await train(memory, data, { ...options, epochs: 3 });
    const b = await train(streamed, stream, { ...options, epochs: 3 });
    expectSameBits(streamed.parameterBlock(), memory.parameterBlock(), "iterator vs in-memory weights");
    expect(numbers(b.history)).toEqual(numbers(a.history));
  });

  it("distill with dense teacher-logit shards gives the bits of distill with the same logits in memory", async () => {
    const logits = new TestRandom(4).normal(N * CLASSES, 2);
    const [order] = await inMemoryOrders(data, options, 1);
    const dir = writeShards(
      {
        x: { data: permuteRows(x, order!, FEATURES), width: FEATURES },
        y: { data: permuteRows(y, order!, 1), width: 1 },
        teacher: { data: permuteRows(logits, order!, CLASSES), width: CLASSES },
      },
      [20, 41],
    );
    const stream = await StreamDataset.fromShards(dir, { shuffle: false, blockRows: 9 });
    expect(stream.teacher).toBe("dense");
    const memory = mlp([FEATURES, 8, CLASSES], { seed: 2 });
    const streamed = mlp([FEATURES, 8, CLASSES], { seed: 2 });
    const common = { ...options, epochs: 1, temperature: 3, alpha: 0.3 };
    const a = await distill({ ...common, teacher: logits, student: memory, data });
    const b = await distill({ ...common, student: streamed, data: stream });
    expectSameBits(streamed.parameterBlock(), memory.parameterBlock(), "streamed vs in-memory student");
    expect(numbers(b.history)).toEqual(numbers(a.history));
  });

  describe("top-k teacher outputs", () => {
    /** k distinct classes per row and their probabilities (summing to < 1, or to 1 in row 0). */
    function topK(n: number, classes: number, k: number, seed: number): { index: Int32Array; prob: Float32Array } {
      const rnd = new TestRandom(seed);
      const index = new Int32Array(n * k);
      const prob = new Float32Array(n * k);
      for (let r = 0; r < n; r++) {
        const picked = Array.from({ length: classes }, (_, c) => c).sort(() => rnd.next() - 0.5);
        const raw = Array.from({ length: k }, () => rnd.next() + 0.05);
        const total = raw.reduce((s, v) => s + v, 0) / (r === 0 ? 1 : 0.9);
        for (let j = 0; j < k; j++) {
          index[r * k + j] = picked[j]!;
          prob[r * k + j] = raw[j]! / total;
        }
      }
      return { index, prob };
    }

    /** log p̂ in float64: the listed probabilities, the rest of the mass spread evenly over the others (floored at the smallest normal f32). */
    function logP64(index: Int32Array, prob: Float32Array, rowsN: number, classes: number, k: number): Float64Array {
      const out = new Float64Array(rowsN * classes);
      const floor = 1.17549435e-38;
      for (let r = 0; r < rowsN; r++) {
        let sum = 0; // an f32 sum in j order, as the definition says
        for (let j = 0; j < k; j++) sum = Math.fround(sum + prob[r * k + j]!);
        const other = classes > k ? Math.fround(Math.max(0, Math.fround(1 - sum)) / (classes - k)) : 0;
        out.fill(Math.log(Math.max(other, floor)), r * classes, (r + 1) * classes);
        for (let j = 0; j < k; j++) out[r * classes + index[r * k + j]!] = Math.log(Math.max(prob[r * k + j]!, floor));
      }
      return out;
    }

    it("sparse_teacher_logits matches float64, and the soft loss from it matches a float64 KL against the reconstructed distribution", () => {
      const engine = getEngine();
      const k = engine.kernels;
      for (const [n, classes, kk] of [
        [1, 1, 1],
        [3, 7, 3],
        [5, 17, 4],
        [4, 1000, 10],
        [2, 8, 8],
      ] as const) {
        const { index, prob } = topK(n, classes, kk, n * 31 + classes);
        engine.scoped(() => {
          const pIndex = engine.alloc(n * kk * 4);
          const pProb = engine.alloc(n * kk * 4);
          const pOut = engine.alloc(n * classes * 4);
          const pStudent = engine.alloc(n * classes * 4);
          const pGrad = engine.alloc(n * classes * 4);
          const pLabels = engine.alloc(n * 4);
          const pParts = engine.alloc(24);
          engine.i32(pIndex, n * kk).set(index);
          engine.f32(pProb, n * kk).set(prob);
          k.sparse_teacher_logits(pOut, pIndex, pProb, n, kk, classes);
          const logits = engine.readF32(pOut, n * classes);
          const ref = logP64(index, prob, n, classes, kk);
          expectClose(logits, ref, { rtol: 2e-6, atol: 2e-6 }, `log p̂ (${n}×${classes}, k ${kk})`);
          const student = new TestRandom(classes).normal(n * classes, 2);
          engine.f32(pStudent, n * classes).set(student);
          engine.i32(pLabels, n).fill(-1);
          for (const temperature of [1, 4]) {
            const loss = k.distill_loss(pParts, pGrad, pStudent, pOut, pLabels, n, classes, temperature, 0, 0);
            const want = kl64(student, ref, n, classes, temperature);
            expect(Math.abs(loss - want.loss), `soft loss ${n}×${classes} k ${kk} T ${temperature}: ${loss} vs ${want.loss}`).toBeLessThanOrEqual(
              1e-5 * Math.max(1, Math.abs(want.loss)),
            );
          }
        });
      }
    });

    it("a top-k stream trains as the dense stream of its expanded logits, bit for bit; bad top-k rows are FormatErrors", async () => {
      const kk = 2;
      const { index, prob } = topK(N, CLASSES, kk, 9);
      const engine = getEngine();
      const dense = engine.scoped(() => {
        const pIndex = engine.alloc(N * kk * 4);
        const pProb = engine.alloc(N * kk * 4);
        const pOut = engine.alloc(N * CLASSES * 4);
        engine.i32(pIndex, N * kk).set(index);
        engine.f32(pProb, N * kk).set(prob);
        engine.kernels.sparse_teacher_logits(pOut, pIndex, pProb, N, kk, CLASSES);
        return engine.readF32(pOut, N * CLASSES);
      });
      const sizes = [25, 36];
      const sparseDir = writeShards(
        { x: { data: x, width: FEATURES }, y: { data: y, width: 1 }, "teacher-index": { data: index, width: kk }, "teacher-prob": { data: prob, width: kk } },
        sizes,
      );
      const denseDir = writeShards({ x: { data: x, width: FEATURES }, y: { data: y, width: 1 }, teacher: { data: dense, width: CLASSES } }, sizes);
      const sparse = await StreamDataset.fromShards(sparseDir, { classes: CLASSES, blockRows: 10 });
      expect([sparse.teacher, sparse.topK]).toEqual(["top-k", kk]);
      const full = await StreamDataset.fromShards(denseDir, { blockRows: 10 });
      const a = mlp([FEATURES, 8, CLASSES], { seed: 6 });
      const b = mlp([FEATURES, 8, CLASSES], { seed: 6 });
      const common = { ...options, epochs: 2, temperature: 2, alpha: 0.2 };
      const ra = await distill({ ...common, student: a, data: sparse });
      const rb = await distill({ ...common, student: b, data: full });
      expectSameBits(a.parameterBlock(), b.parameterBlock(), "top-k vs dense-expanded student");
      expect(numbers(ra.history)).toEqual(numbers(rb.history));

      const twice = index.slice();
      twice[2 * kk + 1] = twice[2 * kk]!;
      const badDir = writeShards({ x: { data: x, width: FEATURES }, "teacher-index": { data: twice, width: kk }, "teacher-prob": { data: prob, width: kk } }, [
        N,
      ]);
      const bad = await StreamDataset.fromShards(badDir, { classes: CLASSES });
      await expect(distill({ ...common, student: mlp([FEATURES, 8, CLASSES], { seed: 6 }), data: bad })).rejects.toThrow(FormatError);
      await expect(distill({ ...common, student: mlp([FEATURES, 8, CLASSES], { seed: 6 }), data: bad })).rejects.toThrow(/row 2 list class/);
    });
  });

  describe("shuffled streams", () => {
    const shuffled = async () => {
      const dir = writeShards({ x: { data: x, width: FEATURES }, y: { data: y, width: 1 } }, [17, 9, 35]);
      return StreamDataset.fromShards(dir, { classes: CLASSES, blockRows: 7 });
    };
    const runOptions: TrainOptions = { ...options, epochs: 3, schedule: { type: "cosine" }, augment: { noise: 0.05 } };

    it("are deterministic, visit every row once per epoch, and differ from the unshuffled order", async () => {
      const stream = await shuffled();
      const a = mlp([FEATURES, 8, CLASSES], { seed: 2 });
      const b = mlp([FEATURES, 8, CLASSES], { seed: 2 });
      const c = mlp([FEATURES, 8, CLASSES], { seed: 2 });
      await train(a, stream, runOptions);
      await train(b, stream, runOptions);
      expectSameBits(a.parameterBlock(), b.parameterBlock(), "two runs of one shuffled stream");
      const plainDir = writeShards({ x: { data: x, width: FEATURES }, y: { data: y, width: 1 } }, [17, 9, 35]);
      const plain = await StreamDataset.fromShards(plainDir, { classes: CLASSES, blockRows: 7, shuffle: false });
      await train(c, plain, runOptions);
      expect(Buffer.from(c.parameterBlock().buffer).equals(Buffer.from(a.parameterBlock().buffer))).toBe(false);
      // Every row once per epoch: the epoch's seen rows (Σ rows) and labelled count.
      const labels: number[] = [];
      const counting = StreamDataset.fromBatches(
        async function* () {
          yield { x, y };
        },
        { features: FEATURES, classes: CLASSES, rows: N, blockRows: 7 },
      );
      const probe = mlp([FEATURES, 8, CLASSES], { seed: 2 });
      await train(probe, counting, { ...options, epochs: 1, onBatch: () => void labels.push(1) });
      expect(labels.length).toBe(Math.ceil(N / options.batchSize!));
    });

    it("resuming from any checkpoint (kept as bytes) gives the uninterrupted run, bit for bit", async () => {
      const stream = await shuffled();
      const checkpoints: Checkpoint[] = [];
      const full = mlp([FEATURES, 8, CLASSES], { seed: 2, dropout: 0.1 });
      const reference = await train(full, stream, { ...runOptions, checkpoint: { every: 2, save: (c) => void checkpoints.push(c) } });
      expect(checkpoints.length).toBe(Math.floor(reference.steps / 2));
      expect(checkpoints.every((c) => c.stream !== undefined && c.order.length === 0)).toBe(true);
      for (const saved of checkpoints) {
        const checkpoint = decodeCheckpoint(encodeCheckpoint(saved));
        const resumed = mlp([FEATURES, 8, CLASSES], { seed: 77, dropout: 0.1 });
        const result = await train(resumed, stream, { ...runOptions, resume: checkpoint });
        const at = `resumed at step ${checkpoint.steps} (epoch ${checkpoint.epoch + 1}, block ${checkpoint.stream!.block}, offset ${checkpoint.stream!.offset})`;
        expectSameBits(resumed.parameterBlock(), full.parameterBlock(), at);
        expect(numbers(result.history), at).toEqual(numbers(reference.history));
        resumed.dispose();
      }
    });

    it("an iterator stream resumes bit-identically too (the epoch's batches asked for again, the used rows skipped)", async () => {
      const make = async function* (epoch: number): AsyncGenerator<StreamBatch> {
        const rnd = new TestRandom(100 + epoch);
        for (let first = 0; first < N; first += 11) {
          const n = Math.min(11, N - first);
          yield { x: rnd.normal(n * FEATURES), y: rnd.ints(n, CLASSES) };
        }
      };
      const stream = StreamDataset.fromBatches(make, { features: FEATURES, classes: CLASSES, rows: N, blockRows: 4 });
      const checkpoints: Checkpoint[] = [];
      const full = mlp([FEATURES, 8, CLASSES], { seed: 2 });
      await train(full, stream, { ...runOptions, checkpoint: { every: 3, save: (c) => void checkpoints.push(c) } });
      for (const checkpoint of checkpoints.filter((_, i) => i % 2 === 0)) {
        const resumed = mlp([FEATURES, 8, CLASSES], { seed: 77 });
        await train(resumed, stream, { ...runOptions, resume: checkpoint });
        expectSameBits(resumed.parameterBlock(), full.parameterBlock(), `iterator resumed at step ${checkpoint.steps}`);
        resumed.dispose();
      }
    });
  });

  it("reads the next block while the current one trains: a read that needs turns of the event loop is ready before its block is needed", async () => {
    // Each block takes three turns of the event loop to arrive (as a file read does: open, read, close).
    // A loop of synchronous steps (no signal, so no yield clock) would leave it waiting until the block
    // is needed, at step 4·b; the feed turns the loop once per batch while a read is in flight.
    let steps = 0;
    const readyAt: number[] = [];
    const rows16 = rows(64, 21);
    const make = async function* (): AsyncGenerator<StreamBatch> {
      for (let b = 0; b < 4; b++) {
        for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve));
        readyAt.push(steps);
        yield { x: rows16.x.subarray(b * 16 * FEATURES, (b + 1) * 16 * FEATURES), y: rows16.y.subarray(b * 16, (b + 1) * 16) };
      }
    };
    const stream = StreamDataset.fromBatches(make, { features: FEATURES, classes: CLASSES, rows: 64, blockRows: 16, shuffle: false });
    const model = mlp([FEATURES, 8, CLASSES], { seed: 1 });
    await train(model, stream, { epochs: 1, batchSize: 4, seed: 1, onBatch: () => void steps++ });
    expect(readyAt).toHaveLength(4);
    expect(readyAt[0]).toBe(0);
    for (let b = 1; b < 4; b++) expect(readyAt[b], `block ${b} (needed at step ${4 * b})`).toBeLessThan(4 * b);
    model.dispose();
  });

  it("refuses what a stream cannot do, with typed errors", async () => {
    const stream = StreamDataset.fromBatches(
      async function* () {
        yield { x, y };
      },
      { features: FEATURES, classes: CLASSES, rows: N },
    );
    const model = mlp([FEATURES, 8, CLASSES], { seed: 1 });
    await expect(train(model, stream, { validation: 0.2, batchSize: 8 })).rejects.toThrow(OptionError);
    await expect(train(model, stream, { classWeights: "balanced", batchSize: 8 })).rejects.toThrow(OptionError);
    expect(() => StreamDataset.fromBatches(() => [], { features: 0, classes: 2, rows: 1 })).toThrow(OptionError);
    const short = StreamDataset.fromBatches(
      async function* () {
        yield { x: x.subarray(0, 10 * FEATURES), y: y.subarray(0, 10) };
      },
      { features: FEATURES, classes: CLASSES, rows: N },
    );
    await expect(train(model, short, { epochs: 1, batchSize: 8 })).rejects.toThrow(/ended before its 61 rows|hold 10 rows/);
    const nan = x.slice();
    nan[3] = NaN;
    const dir = writeShards({ x: { data: nan, width: FEATURES }, y: { data: y, width: 1 } }, [N]);
    await expect(train(model, await StreamDataset.fromShards(dir, { classes: CLASSES }), { epochs: 1, batchSize: 8 })).rejects.toThrow(
      /x holds NaN at row 0, feature 3/,
    );
    // A non-finite value in a later block: caught where that block is staged, named by shard, row and column.
    const inf = x.slice();
    inf[(40 + 2) * FEATURES + 4] = -Infinity;
    const dir3 = writeShards({ x: { data: inf, width: FEATURES }, y: { data: y, width: 1 } }, [20, 41]);
    await expect(train(model, await StreamDataset.fromShards(dir3, { classes: CLASSES, blockRows: 8 }), { epochs: 1, batchSize: 8 })).rejects.toThrow(
      /shard .*x-0001\.npy rows 16…23: x holds -Infinity at row 6, feature 4/,
    );
    const logits = new TestRandom(8).normal(N * CLASSES);
    logits[30 * CLASSES + 2] = NaN;
    const dir4 = writeShards({ x: { data: x, width: FEATURES }, y: { data: y, width: 1 }, teacher: { data: logits, width: CLASSES } }, [N]);
    const student = mlp([FEATURES, 8, CLASSES], { seed: 1 });
    await expect(distill({ student, data: await StreamDataset.fromShards(dir4, { blockRows: 16 }), epochs: 1, batchSize: 8 })).rejects.toThrow(
      /shard .*x-0000\.npy rows 16…31: teacher logits hold NaN at row 14, class 2/,
    );
    const nanBatch = x.slice(0, 12 * FEATURES);
    nanBatch[11 * FEATURES] = NaN;
    const iterated = StreamDataset.fromBatches(
      async function* () {
        yield { x: nanBatch, y: y.subarray(0, 12) };
      },
      { features: FEATURES, classes: CLASSES, rows: 12, blockRows: 5 },
    );
    await expect(train(model, iterated, { epochs: 1, batchSize: 4 })).rejects.toThrow(/epoch 1's batches, rows 10…11: x holds NaN at row 1, feature 0/);
    const badLabel = y.slice();
    badLabel[5] = CLASSES;
    const dir2 = writeShards({ x: { data: x, width: FEATURES }, y: { data: badLabel, width: 1 } }, [N]);
    await expect(train(model, await StreamDataset.fromShards(dir2, { classes: CLASSES }), { epochs: 1, batchSize: 8 })).rejects.toThrow(/label 5 at row 5/);
  });
});
