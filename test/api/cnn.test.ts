/**
 * Convolutional models (src/nn): conv2d, maxPool2d, avgPool2d, batchNorm and flatten in a
 * Sequential with an inputShape.
 *
 * Shapes: inferred output shapes, PyTorch names and shapes of parameters and buffers,
 * ShapeErrors naming the layer. Forward: logits against an independent float64 reference
 * (test/helpers/cnn64.ts) in training and inference mode; the fused conv+ReLU equal to the
 * unfused computation. Backward: every parameter's gradient and the input gradient
 * against central finite differences in float64 of the float64 reference. batchNorm:
 * running statistics updated by PyTorch's formulas in training, used at inference, never
 * touched by the optimizer. Files: save / load round trip with bit-identical logits.
 * Training on MNIST digits: better than chance and bit-identical across runs. Memory:
 * dispose frees everything.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  ArgumentError,
  Sequential,
  ShapeError,
  avgPool2d,
  batchNorm,
  conv2d,
  dense,
  evaluate,
  flatten,
  getEngine,
  init,
  loadMnistDigits,
  maxPool2d,
  modelFromSafetensors,
  modelToSafetensors,
  relu,
  train,
  decodeSafetensors,
  type Checkpoint,
  type LayerSpec,
} from "../../src/index.js";
import { expectClose, expectSameBits } from "../helpers/compare.js";
import { TestRandom } from "../helpers/rand.js";
import { cnnForward64, params64 } from "../helpers/cnn64.js";
import { backwardOf, expectFiniteDifferenceGradients, forwardOf } from "../helpers/cnn-checks.js";

beforeAll(async () => {
  await init();
});

/** The small CNN of the docs, on 1×12×12 images. */
const smallCnn = (): LayerSpec[] => [
  conv2d(1, 4, 3, { padding: 1 }),
  relu(),
  maxPool2d(2),
  conv2d(4, 8, 3),
  batchNorm(8),
  relu(),
  avgPool2d(2),
  flatten(),
  dense(8 * 2 * 2, 10),
];

describe("cnn: shapes and parameters", () => {
  it("infers every layer's shape and names parameters and buffers as PyTorch", () => {
    const m = new Sequential(smallCnn(), { inputShape: [1, 12, 12], seed: 1 });
    const shapes = smallCnn().map((_, i) => m.layerShape(i));
    expect(shapes).toEqual([[4, 12, 12], [4, 12, 12], [4, 6, 6], [8, 4, 4], [8, 4, 4], [8, 4, 4], [8, 2, 2], [32], [10]]);
    expect(m.inputs).toBe(144);
    expect(m.outputs).toBe(10);
    expect(m.inputShape).toEqual([1, 12, 12]);
    expect(m.namedParameters().map((p) => [p.name, p.shape])).toEqual([
      ["0.weight", [4, 1, 3, 3]],
      ["0.bias", [4]],
      ["3.weight", [8, 4, 3, 3]],
      ["3.bias", [8]],
      ["4.weight", [8]],
      ["4.bias", [8]],
      ["8.weight", [10, 32]],
      ["8.bias", [10]],
    ]);
    expect(m.namedBuffers().map((p) => [p.name, p.shape, p.buffer])).toEqual([
      ["4.running_mean", [8], true],
      ["4.running_var", [8], true],
    ]);
    expect(m.parameterCount).toBe(36 + 4 + 288 + 8 + 8 + 8 + 320 + 10);
    expect(Array.from(m.getParameter("4.weight"))).toEqual(new Array(8).fill(1));
    expect(Array.from(m.getParameter("4.bias"))).toEqual(new Array(8).fill(0));
    expect(Array.from(m.getParameter("layers.4.running_mean"))).toEqual(new Array(8).fill(0));
    expect(Array.from(m.getParameter("4.running_var"))).toEqual(new Array(8).fill(1));
    expect(m.parameterBlock().length).toBe(m.blockLength + m.bufferLength);
    expect(m.architecture).toBe("1x12x12-conv4-maxpool2-conv8-bn-avgpool2-flatten-10");
    expect(m.flopsPerSample).toBeGreaterThan(0);
    m.dispose();
  });

  it("draws conv weights He-normal over fan_in = in·kh·kw when asked, and PyTorch's uniform ±1/√fan_in by default", () => {
    const m = new Sequential([conv2d(8, 64, 3, { init: "he" }), flatten()], { inputShape: [8, 5, 5], seed: 3 });
    const w = m.getParameter("0.weight");
    let sq = 0;
    for (const v of w) sq += v * v;
    expect(Math.sqrt(sq / w.length)).toBeCloseTo(Math.sqrt(2 / 72), 2);
    expect(Array.from(m.getParameter("0.bias"))).toEqual(new Array(64).fill(0));
    m.dispose();
    const d = new Sequential([conv2d(8, 64, 3), flatten()], { inputShape: [8, 5, 5], seed: 3 });
    const bound = 1 / Math.sqrt(72);
    for (const name of ["0.weight", "0.bias"]) {
      const v = d.getParameter(name);
      expect(
        v.every((x) => Math.abs(x) <= bound),
        `${name} within ±1/√72`,
      ).toBe(true);
    }
    const dw = d.getParameter("0.weight");
    let dsq = 0;
    for (const v of dw) dsq += v * v;
    expect(Math.sqrt(dsq / dw.length)).toBeCloseTo(bound / Math.sqrt(3), 2); // uniform(±b): rms b/√3
    d.dispose();
  });

  it("rejects bad stacks with ShapeErrors naming the layer", () => {
    const cases: [LayerSpec[], number[] | undefined, RegExp][] = [
      [[conv2d(1, 4, 5), flatten()], [1, 3, 3], /layer 0 \(conv2d\): kernel 5×5 is larger than the padded input 3×3/],
      [[conv2d(1, 4, 3), conv2d(3, 2, 1)], [1, 8, 8], /layer 1 \(conv2d\) takes 3 input channels but the layer before it gives 4/],
      [[conv2d(1, 4, 3), dense(144, 10)], [1, 8, 8], /layer 1 \(dense\).*add flatten\(\)/],
      [[conv2d(1, 4, 3), flatten(), dense(100, 10)], [1, 8, 8], /layer 2 \(dense\) takes 100 inputs but the layer before it gives 144/],
      [[conv2d(1, 4, 3), batchNorm(5)], [1, 8, 8], /layer 1 \(batchNorm\) has 5 channels but the layer before it gives 4/],
      [[conv2d(1, 4, 3), flatten(), dense(144, 2)], undefined, /layer 0 \(conv2d\) takes images; pass inputShape/],
      [[dense(4, 3), maxPool2d(2)], undefined, /layer 1 \(maxPool2d\) takes \(channels, height, width\) images/],
      [[maxPool2d(4), flatten()], [1, 3, 3], /layer 0 \(maxPool2d\): window 4×4 is larger than the padded input/],
      [[maxPool2d(2, { padding: 2 })], [1, 8, 8], /padding 2 must be at most half the kernel 2/],
      [[conv2d(1, 2, 3)], [1, 0, 4], /inputShape must be/],
    ];
    for (const [specs, inputShape, message] of cases) {
      expect(() => new Sequential(specs, { inputShape })).toThrow(ShapeError);
      expect(() => new Sequential(specs, { inputShape })).toThrow(message);
    }
  });

  it("keeps MLPs unchanged: inputShape defaults to the first dense layer's inputs, batchNorm works per feature", () => {
    const m = new Sequential([dense(6, 5), batchNorm(5), relu(), dense(5, 3)], { seed: 2 });
    expect(m.inputShape).toEqual([6]);
    expect(m.architecture).toBe("6-5-bn-3");
    const rng = new TestRandom(4);
    const x = rng.uniform(4 * 6);
    const ref = cnnForward64(m.specs, params64(m), x, 4, [6], true);
    expectClose(forwardOf(m, x, 4, true), ref.output, { atol: 1e-5, rtol: 1e-4 }, "1-D batchNorm forward");
    m.dispose();
  });
});

describe("cnn: forward against the float64 reference", () => {
  it("matches in training mode and in inference mode (running statistics), for 1 to 5 rows", () => {
    const m = new Sequential(smallCnn(), { inputShape: [1, 12, 12], seed: 5 });
    const rng = new TestRandom(11);
    m.setParameter("4.running_mean", rng.uniform(8, -0.5, 0.5));
    m.setParameter("4.running_var", rng.uniform(8, 0.5, 2));
    m.setParameter("4.weight", rng.uniform(8, 0.5, 1.5));
    m.setParameter("4.bias", rng.uniform(8, -0.2, 0.2));
    for (const rows of [1, 2, 5]) {
      const x = rng.uniform(rows * 144);
      const eval64 = cnnForward64(m.specs, params64(m), x, rows, [1, 12, 12], false);
      expectClose(m.logits(x), eval64.output, { atol: 1e-5, rtol: 1e-4 }, `inference logits, ${rows} rows`);
      expectClose(forwardOf(m, x, rows, false), eval64.output, { atol: 1e-5, rtol: 1e-4 }, `forward(false), ${rows} rows`);
    }
    const x = rng.uniform(5 * 144);
    const before = params64(m);
    const train64 = cnnForward64(m.specs, before, x, 5, [1, 12, 12], true);
    expectClose(forwardOf(m, x, 5, true), train64.output, { atol: 1e-5, rtol: 1e-4 }, "training-mode logits");
    m.dispose();
  });

  it("fuses conv + ReLU with the same bits as the unfused computation", () => {
    const x = new TestRandom(2).uniform(3 * 144);
    const fused = new Sequential(smallCnn(), { inputShape: [1, 12, 12], seed: 9 });
    const unfused = new Sequential(smallCnn(), { inputShape: [1, 12, 12], seed: 9 });
    unfused.keepPreActivation(0);
    const a = forwardOf(fused, x, 3, true);
    const b = forwardOf(unfused, x, 3, true);
    expectSameBits(a, b, "logits");
    expect(() => fused.layerOutput(0)).toThrow(ArgumentError);
    expect(() => fused.layerOutput(0)).toThrow(/conv2d layer whose ReLU was fused/);
    const pre = unfused.engine.readF32(unfused.layerOutput(0), 3 * 576);
    const post = unfused.engine.readF32(unfused.layerOutput(1), 3 * 576);
    expect(pre.some((v) => v < 0)).toBe(true);
    expectSameBits(
      post,
      pre.map((v) => Math.max(v, 0)),
      "ReLU of the kept pre-activation",
    );
    fused.dispose();
    unfused.dispose();
  });
});

describe("cnn: backward against finite differences", () => {
  // Small sizes: 1×6×6 inputs, 3 rows; stride 2 and a non-square kernel for coverage.
  const specs = (): LayerSpec[] => [
    conv2d(1, 2, 3, { padding: 1 }),
    relu(),
    maxPool2d(2),
    conv2d(2, 3, [2, 1]),
    batchNorm(3),
    relu(),
    avgPool2d(2, { stride: 1 }),
    conv2d(3, 2, 1, { stride: 2 }),
    flatten(),
    dense(2, 4),
  ];
  const shape = [1, 6, 6];
  const rows = 3;

  it("gives every parameter's gradient and the input gradient (training mode, batch statistics)", () => {
    const m = new Sequential(specs(), { inputShape: shape, seed: 21 });
    expect(m.layerShape(6)).toEqual([3, 1, 2]);
    const rng = new TestRandom(8);
    m.setParameter("4.weight", rng.uniform(3, 0.5, 1.5));
    m.setParameter("4.bias", rng.uniform(3, -0.3, 0.3));
    const x = rng.uniform(rows * 36);
    const g = rng.uniform(rows * 4);
    const { grads, dx } = backwardOf(m, x, g, rows, true);
    // without the input gradient: the same parameter gradients, and 0 returned
    const without = backwardOf(m, x, g, rows, false);
    expect(without.dx).toBe(0);
    expectSameBits(without.grads, grads, "gradient block without the input gradient");
    expectFiniteDifferenceGradients(m, shape, rows, x, g, { grads, dx: dx as Float32Array });
    m.dispose();
  });
});

describe("cnn: batchNorm training and inference", () => {
  it("updates running_mean / running_var by PyTorch's formulas in training only, and uses them at inference", () => {
    const m = new Sequential([conv2d(2, 3, 3), batchNorm(3, { momentum: 0.3 }), flatten()], { inputShape: [2, 5, 5], seed: 4 });
    const rng = new TestRandom(5);
    const x = rng.uniform(4 * 50, -1, 3);
    let p = params64(m);
    const ref = cnnForward64(m.specs, p, x, 4, [2, 5, 5], true);
    const trainOut = forwardOf(m, x, 4, true);
    expectClose(trainOut, ref.output, { atol: 1e-5, rtol: 1e-4 }, "training output");
    expectClose(m.getParameter("1.running_mean"), ref.running.get("1.running_mean")!, { atol: 1e-6, rtol: 1e-5 }, "running_mean");
    expectClose(m.getParameter("1.running_var"), ref.running.get("1.running_var")!, { atol: 1e-6, rtol: 1e-5 }, "running_var (unbiased)");
    // a second training step from the new running values
    p = params64(m);
    const ref2 = cnnForward64(m.specs, p, x, 4, [2, 5, 5], true);
    forwardOf(m, x, 4, true);
    expectClose(m.getParameter("1.running_var"), ref2.running.get("1.running_var")!, { atol: 1e-6, rtol: 1e-5 }, "running_var after 2 steps");
    // inference: running statistics, no update
    const stats = m.parameterBlock();
    const evalOut = forwardOf(m, x, 4, false);
    expectSameBits(m.parameterBlock(), stats, "state after an inference pass");
    expectClose(evalOut, cnnForward64(m.specs, params64(m), x, 4, [2, 5, 5], false).output, { atol: 1e-5, rtol: 1e-4 }, "inference output");
    expect(Math.max(...evalOut.map((v, i) => Math.abs(v - trainOut[i]!)))).toBeGreaterThan(1e-3);
    // one row of 1×1 values per channel cannot be normalised in training
    const d = new Sequential([dense(3, 2), batchNorm(2)], { seed: 1 });
    expect(() => forwardOf(d, new Float32Array(3), 1, true)).toThrow(/layer 1 \(batchNorm\): training needs more than one value per channel/);
    expect(forwardOf(d, new Float32Array(3), 1, false).length).toBe(2);
    m.dispose();
    d.dispose();
  });

  it("keeps the running statistics out of the optimizer (weight decay) but in checkpoints' parameter blocks", async () => {
    const { train: data } = await loadMnistDigits({ train: 200, test: 10 });
    const m = new Sequential([conv2d(1, 2, 5, { stride: 3 }), batchNorm(2, { momentum: 0 }), relu(), flatten(), dense(128, 10)], {
      inputShape: [1, 28, 28],
      seed: 3,
    });
    await train(m, data, { epochs: 1, batchSize: 50, optimizer: { type: "adamw", lr: 0.01, weightDecay: 0.5 }, seed: 1 });
    // momentum 0: the running statistics must still be exactly their initial values
    expect(Array.from(m.getParameter("1.running_mean"))).toEqual([0, 0]);
    expect(Array.from(m.getParameter("1.running_var"))).toEqual([1, 1]);
    const block = m.parameterBlock();
    const copy = new Sequential(m.specs, { inputShape: [1, 28, 28], seed: 99 });
    block[m.blockLength] = 0.25; // running_mean[0] travels with the block
    copy.setParameterBlock(block);
    expect(copy.getParameter("1.running_mean")[0]).toBe(0.25);
    expect(() => copy.setParameterBlock(new Float32Array(3))).toThrow(ShapeError);
    m.dispose();
    copy.dispose();
  });
});

describe("cnn: model files", () => {
  it("saves and loads a CNN with its buffers and input shape; logits are bit-identical", () => {
    const m = new Sequential(smallCnn(), { inputShape: [1, 12, 12], seed: 6 });
    const rng = new TestRandom(3);
    m.setParameter("4.running_mean", rng.uniform(8));
    m.setParameter("4.running_var", rng.uniform(8, 0.5, 2));
    const bytes = modelToSafetensors(m, { note: "cnn" });
    const file = decodeSafetensors(bytes);
    expect(file.metadata.input_shape).toBe("[1,12,12]");
    expect([...file.tensors.keys()].sort()).toEqual([
      "0.bias",
      "0.weight",
      "3.bias",
      "3.weight",
      "4.bias",
      "4.running_mean",
      "4.running_var",
      "4.weight",
      "8.bias",
      "8.weight",
    ]);
    expect(file.tensors.get("3.weight")!.shape).toEqual([8, 4, 3, 3]);
    const loaded = modelFromSafetensors(bytes);
    expect(loaded.inputShape).toEqual([1, 12, 12]);
    expect(loaded.specs).toEqual(m.specs);
    const x = rng.uniform(7 * 144);
    expectSameBits(loaded.logits(x), m.logits(x), "logits after the round trip");
    expectSameBits(loaded.parameterBlock(), m.parameterBlock(), "parameters and buffers after the round trip");
    m.dispose();
    loaded.dispose();
  });
});

describe("cnn: training on MNIST digits", () => {
  const specs = (): LayerSpec[] => [
    conv2d(1, 4, 3, { padding: 1 }),
    relu(),
    maxPool2d(2),
    conv2d(4, 8, 3),
    batchNorm(8),
    relu(),
    avgPool2d(2),
    flatten(),
    dense(8 * 6 * 6, 10),
  ];

  it("learns far above chance and is deterministic", async () => {
    const { train: data, test } = await loadMnistDigits({ train: 600, test: 200 });
    const run = async () => {
      const m = new Sequential(specs(), { inputShape: [1, 28, 28], seed: 7 });
      const result = await train(m, data, { epochs: 3, batchSize: 32, optimizer: { type: "sgd", momentum: 0.9, lr: 0.05 }, seed: 2 });
      return { m, result };
    };
    const a = await run();
    const b = await run();
    expectSameBits(a.m.parameterBlock(), b.m.parameterBlock(), "parameter blocks of two identical runs");
    const accuracy = evaluate(a.m, test).accuracy;
    console.log(`[cnn] MNIST 600/200, 3 epochs: test accuracy ${accuracy}`);
    expect(accuracy).toBeGreaterThan(0.8);
    expect(a.result.history.at(-1)!.loss).toBeLessThan(a.result.history[0]!.loss);
    a.m.dispose();
    b.m.dispose();
  });
});

describe("cnn: checkpoints", () => {
  it("a run resumed from a checkpoint ends with bit-identical parameters and running statistics", async () => {
    const { train: data } = await loadMnistDigits({ train: 120, test: 10 });
    const specs = (): LayerSpec[] => [conv2d(1, 3, 5, { stride: 3 }), batchNorm(3), relu(), maxPool2d(2), flatten(), dense(48, 10)];
    const options = { epochs: 2, batchSize: 20, optimizer: { type: "adam" as const, lr: 0.01, weightDecay: 0.01 }, seed: 4 };
    const full = new Sequential(specs(), { inputShape: [1, 28, 28], seed: 1 });
    const checkpoints: Checkpoint[] = [];
    await train(full, data, { ...options, checkpoint: { every: 4, save: (c) => void checkpoints.push(c) } });
    expect(checkpoints.length).toBeGreaterThan(1);
    expect(checkpoints[0]!.params.length).toBe(full.blockLength + full.bufferLength);
    for (const checkpoint of checkpoints) {
      const resumed = new Sequential(specs(), { inputShape: [1, 28, 28], seed: 99 });
      await train(resumed, data, { ...options, resume: checkpoint });
      expectSameBits(resumed.parameterBlock(), full.parameterBlock(), `resumed at step ${checkpoint.steps}`);
      resumed.dispose();
    }
    full.dispose();
  });
});

describe("cnn: memory", () => {
  it("dispose frees every buffer (heapBytes back to where it was)", () => {
    const e = getEngine();
    const cycle = () => {
      const m = new Sequential(smallCnn(), { inputShape: [1, 12, 12], seed: 1 });
      const x = new TestRandom(1).uniform(40 * 144);
      m.logits(x);
      forwardOf(m, x, 40, true);
      const ptr = e.allocOwned(40 * 10 * 4);
      e.f32(ptr, 400).fill(0.1);
      m.backward(ptr, 40, { inputGradient: true });
      e.free(ptr);
      m.dispose();
      expect(() => m.logits(x)).toThrow(/disposed/);
    };
    cycle();
    const heap = e.heapBytes;
    for (let i = 0; i < 5; i++) cycle();
    expect(e.heapBytes).toBe(heap);
    expect(e.bytesInUse).toBe(0);
  });
});
