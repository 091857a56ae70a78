/**
 * Exact accounting of wasm memory during training: engine.heapBytes (every live heap
 * block, header included) must equal, to the byte,
 *
 *   fixed overhead    GEMM scratch block (512 KiB) and the arena's stack of temporaries
 * + model             parameter block, gradient block, PRNG state
 * + activations       per layer, for the reserved batch: outputs (every layer but flatten),
 *                     input gradients (dense / conv / pool), dropout masks, pool argmax,
 *                     conv im2col work; and one input staging buffer
 * + optimizer state   momentum SGD: one block of the parameter block's size; Adam: two
 * + training run      the data copied into wasm (x, y), the batch (x, y, ∂loss/∂logits),
 *                     the shuffled order, the loop's PRNG state, the two parameter
 *                     snapshots the loop restores on divergence (the step before, and
 *                     the end of the last healthy epoch), the clip list
 *
 * and for distillation with precomputed teacher logits, in addition
 *
 * + teacher           the logits of every sample (n, classes), two (batch, classes) work
 *                     buffers, the batch's teacher logits and an MSE gradient buffer
 *                     (batch, classes), and the three f64 loss parts
 *
 * where every block costs a 16-byte header plus its size rounded up to 16 bytes (at least
 * 16), as assembly/memory.ts allocates on a fresh heap. The expected numbers are computed
 * from that formula, not measured and pasted; one fresh engine per test keeps the heap's
 * layout known (no gaps, so no block is larger than asked).
 */
import { describe, expect, it } from "vitest";
import { createEngine, Dataset, distill, mlp, train, type Engine, type OptimizerSpec, type Sequential } from "../../src/index.js";

const HEADER = 16;
/** assembly/memory.ts: SCRATCH_BYTES, the GEMM packing buffers allocated with the heap. */
const SCRATCH_BYTES = 512 * 1024;
/** assembly/memory.ts: the arena's stack starts with room for 64 u32 pointers on first use. */
const ARENA_STACK_BYTES = 64 * 4;

/** Heap bytes of one block of `bytes`: header + payload rounded up to 16 (at least 16). */
const block = (bytes: number) => HEADER + Math.ceil(Math.max(bytes, 16) / 16) * 16;
const f32 = (floats: number) => block(floats * 4);

/** The fixed overhead once the arena has been used: scratch block and arena stack. */
const FIXED = block(SCRATCH_BYTES) + block(ARENA_STACK_BYTES);

/** Parameter block, gradient block and PRNG state. */
const modelBytes = (m: Sequential) => 2 * f32(m.blockLength) + block(16);

/** Activation buffers for batches of `rows` (mirrors Sequential.reserve, dense / activation / dropout layers). */
function activationBytes(m: Sequential, rows: number): number {
  let total = f32(rows * m.inputs); // the input staging buffer of logits() / predict()
  let width = m.inputs;
  m.specs.forEach((spec, i) => {
    const out = m.layerWidth(i);
    total += f32(rows * out);
    if (spec.type === "dense") total += f32(rows * width);
    if (spec.type === "dropout") total += f32(rows * out);
    width = out;
  });
  return total;
}

/** Optimizer state: the velocity of momentum SGD, Adam's two moments. */
const optimizerBytes = (m: Sequential, kind: "momentum" | "adam") => (kind === "adam" ? 2 : 1) * f32(m.blockLength);

/** What runLoop allocates for a run on `rows` samples in batches of `batch` (no validation, no clipping extras). */
function runBytes(m: Sequential, rows: number, batch: number): number {
  const data = f32(rows * m.inputs) + block(rows * 4); // x, y
  const batchBuffers = f32(batch * m.inputs) + block(batch * 4) + f32(batch * m.outputs); // x, y, ∂loss/∂logits
  const order = block(rows * 4);
  const rng = block(16);
  const snapshots = 2 * f32(m.blockLength);
  const clipList = block(8); // (grads pointer, length) of one parameter block
  return data + batchBuffers + order + rng + snapshots + clipList;
}

function dataset(rows: number, features: number, classes: number): Dataset {
  const x = new Float32Array(rows * features).map((_, i) => ((i * 7919) % 256) / 255);
  const y = new Int32Array(rows).map((_, i) => i % classes);
  return Dataset.from(x, y, { features, classes });
}

/** A fresh engine whose arena has been used once, so that its stack block exists. */
async function freshEngine(): Promise<Engine> {
  const engine = await createEngine();
  expect(engine.heapBytes).toBe(block(SCRATCH_BYTES));
  engine.scoped(() => engine.alloc(16));
  expect(engine.heapBytes).toBe(FIXED);
  return engine;
}

describe("wasm memory accounting", () => {
  it("a block costs a 16-byte header plus its payload rounded up to 16", () => {
    expect(block(1)).toBe(32);
    expect(block(16)).toBe(32);
    expect(block(17)).toBe(48);
    expect(FIXED).toBe(524_304 + 272);
  });

  // MLP 784-800-800-10 (ReLU), batch 128, on 256 samples: 2 steps.
  const ROWS = 256;
  const BATCH = 128;
  for (const kind of ["momentum", "adam"] as const) {
    it(`784-800-800-10, batch ${BATCH}, ${kind}: heapBytes = fixed + model + activations + optimizer + run`, async () => {
      const engine = await freshEngine();
      const model = mlp([784, 800, 800, 10], { seed: 1, engine });
      expect(model.blockLength).toBe(627_200 + 800 + 640_000 + 800 + 8_000 + 12); // each tensor padded to 4 floats
      expect(engine.heapBytes).toBe(FIXED + modelBytes(model));

      model.reserve(BATCH);
      const idle = FIXED + modelBytes(model) + activationBytes(model, BATCH);
      expect(engine.heapBytes).toBe(idle);

      const optimizer: OptimizerSpec = kind === "adam" ? { type: "adam", lr: 1e-3 } : { type: "sgd", lr: 0.01, momentum: 0.9 };
      const during: number[] = [];
      await train(model, dataset(ROWS, 784, 10), {
        epochs: 1,
        batchSize: BATCH,
        optimizer,
        onEpoch: () => void during.push(engine.heapBytes),
      });
      expect(during).toEqual([idle + optimizerBytes(model, kind) + runBytes(model, ROWS, BATCH)]);
      expect(engine.heapBytes).toBe(idle); // everything the run allocated is freed

      model.dispose();
      expect(engine.heapBytes).toBe(FIXED);
    });
  }

  it(`distill with cached teacher logits, 784-800-800-10, batch ${BATCH}: the teacher's buffers on top, the data held once`, async () => {
    const engine = await freshEngine();
    const model = mlp([784, 800, 800, 10], { seed: 1, engine });
    model.reserve(BATCH);
    const idle = FIXED + modelBytes(model) + activationBytes(model, BATCH);
    const classes = model.outputs;
    const teacher = 3 * f32(BATCH * classes) + f32(ROWS * classes) + f32(BATCH * classes) + block(3 * 8);
    const logits = new Float32Array(ROWS * classes).map((_, i) => (i % 7) - 3);
    const during: number[] = [];
    await distill({
      teacher: logits,
      student: model,
      data: dataset(ROWS, 784, classes),
      epochs: 1,
      batchSize: BATCH,
      optimizer: { type: "sgd", lr: 0.01, momentum: 0.9 },
      onEpoch: () => void during.push(engine.heapBytes),
    });
    expect(during).toEqual([idle + teacher + optimizerBytes(model, "momentum") + runBytes(model, ROWS, BATCH)]);
    expect(engine.heapBytes).toBe(idle);
    model.dispose();
    expect(engine.heapBytes).toBe(FIXED);
  });

  it("a model with dropout also keeps one mask per dropout layer", async () => {
    const engine = await freshEngine();
    const model = mlp([20, 16, 3], { seed: 2, dropout: 0.5, engine });
    model.reserve(8);
    expect(engine.heapBytes).toBe(FIXED + modelBytes(model) + activationBytes(model, 8));
    const during: number[] = [];
    await train(model, dataset(40, 20, 3), { epochs: 1, batchSize: 8, onEpoch: () => void during.push(engine.heapBytes) });
    expect(during).toEqual([FIXED + modelBytes(model) + activationBytes(model, 8) + optimizerBytes(model, "momentum") + runBytes(model, 40, 8)]);
    model.dispose();
    expect(engine.heapBytes).toBe(FIXED);
  });
});
