/**
 * Running out of wasm memory is an OutOfMemoryError that gives back what the failed call
 * took: a model too large to build, or a batch too large to reserve, leaves the heap as it
 * was, and the engine (and the model) go on working. Each test uses an engine of its own,
 * since a grown memory never shrinks.
 */
import { describe, expect, it } from "vitest";
import { createEngine, mlp, OutOfMemoryError, train, Dataset } from "../../src/index.js";

describe("out of memory", () => {
  it("a model too large to build (its gradient block does not fit after its parameters) frees its parameters", async () => {
    const engine = await createEngine();
    const before = engine.heapBytes;
    // 3 × 188M floats = 2.1 GiB per block: the parameters fit in 4 GiB, the gradients then do not.
    expect(() => mlp([1, 188_000_000, 1], { engine })).toThrow(OutOfMemoryError);
    expect(engine.heapBytes, "heap bytes after the failed construction").toBe(before);
    const small = mlp([4, 8, 2], { engine });
    expect(small.logits(new Float32Array(8))).toHaveLength(4);
    small.dispose();
  });

  it("a batch too large to reserve leaves the model without half-made buffers; predict and train work afterwards", async () => {
    const engine = await createEngine();
    const m = mlp([784, 800, 10], { engine, seed: 1 });
    const before = engine.heapBytes;
    expect(() => m.reserve(600_000)).toThrow(OutOfMemoryError); // ~4 GiB of activations
    expect(engine.heapBytes, "heap bytes after the failed reserve").toBe(before);
    expect(m.batchCapacity).toBe(0);
    expect(m.predict(new Float32Array(2 * 784))).toHaveLength(2);
    const data = Dataset.from(
      new Float32Array(20 * 784).fill(0.5),
      Int32Array.from({ length: 20 }, (_, i) => i % 10),
      { features: 784, classes: 10 },
    );
    await expect(train(m, data, { epochs: 1, batchSize: 10 })).resolves.toMatchObject({ stopReason: "completed" });
    m.dispose();
  });
});
