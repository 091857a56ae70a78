/**
 * Memory and isolation guarantees: models too large for wasm32 fail up front with the
 * size they need; create / train / dispose cycles leave memory flat; separate engines in
 * one process do not interfere, even when their training runs interleave.
 */
import { describe, expect, it } from "vitest";
import { createEngine, distill, mlp, OutOfMemoryError, train } from "../../src/index.js";
import { blobs } from "../helpers/tiny-data.js";

describe("memory", () => {
  it("a model that cannot fit in 4 GiB of wasm memory fails at construction, naming the size it needs", async () => {
    const engine = await createEngine();
    const before = engine.heapBytes;
    // 784·100000 + 100000·100000 + … floats: about 40 GB of weights alone.
    expect(() => mlp([784, 100_000, 100_000, 10], { engine })).toThrow(OutOfMemoryError);
    expect(() => mlp([784, 100_000, 100_000, 10], { engine })).toThrow(/cannot allocate 37\.\d+ GiB.*limited to 4 GiB/);
    expect(engine.heapBytes).toBe(before);
    // and the engine still works afterwards
    const small = mlp([4, 3], { engine });
    expect(small.logits([1, 2, 3, 4])).toHaveLength(3);
    small.dispose();
  });

  it("1,000 create / train / dispose cycles leave the heap and linear memory flat", async () => {
    const engine = await createEngine();
    const data = blobs({ rows: 32, features: 12, classes: 3, seed: 1 });
    const cycle = async (i: number) => {
      const model = mlp([12, 10, 3], { seed: i, engine, dropout: 0.1 });
      await train(model, data, { epochs: 1, batchSize: 16, seed: i, optimizer: i % 2 ? "adam" : "momentum" });
      model.predict(data.x);
      model.dispose();
    };
    await cycle(0);
    const heap = engine.heapBytes;
    const top = engine.kernels.heap_top();
    const pages = engine.kernels.memory.buffer.byteLength;
    for (let i = 1; i <= 1000; i++) await cycle(i);
    expect(engine.heapBytes).toBe(heap);
    expect(engine.kernels.heap_top()).toBe(top);
    expect(engine.kernels.memory.buffer.byteLength).toBe(pages);
  });
});

describe("isolation", () => {
  it("two engines training at the same time (interleaved awaits) give exactly what each gives alone", async () => {
    const data = blobs({ rows: 64, features: 10, classes: 3, seed: 2 });
    const run = async (engineSeed: number, interleaveWith?: Promise<unknown>) => {
      const engine = await createEngine();
      const teacher = mlp([10, 16, 3], { seed: engineSeed, engine });
      const student = mlp([10, 6, 3], { seed: engineSeed + 1, engine, dropout: 0.2 });
      await train(teacher, data, { epochs: 3, batchSize: 8, seed: engineSeed, onBatch: () => void interleaveWith });
      // an async teacher function yields to the event loop at every batch, so the two runs interleave
      await distill({ teacher: async (x) => teacher.logits(x), student, data, epochs: 2, batchSize: 8, seed: engineSeed, augment: { noise: 0.1 } });
      return student.parameterBlock();
    };
    const aloneA = await run(1);
    const aloneB = await run(2);
    const [togetherA, togetherB] = await Promise.all([run(1), run(2)]);
    expect(Array.from(togetherA)).toEqual(Array.from(aloneA));
    expect(Array.from(togetherB)).toEqual(Array.from(aloneB));
    expect(Array.from(aloneA)).not.toEqual(Array.from(aloneB));
  });
});
