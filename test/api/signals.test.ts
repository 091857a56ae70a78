/**
 * 1-D convolutional models on (channels, length) signals: conv1d, maxPool1d, avgPool1d,
 * batchNorm and flatten in a Sequential with inputShape [channels, length].
 *
 * Shapes: inferred output shapes, PyTorch names and shapes, ShapeErrors naming the layer.
 * Forward: logits against the float64 reference (test/helpers/cnn64.ts) in training and
 * inference mode; the fused conv1d + ReLU equal to the unfused computation. Backward: every
 * parameter's gradient and the input gradient against central finite differences of the
 * float64 reference. Files: save / load round trip with bit-identical logits; a PyTorch
 * state_dict (test/fixtures/interop/make_torch_signal_cnn.py: nn.Conv1d, nn.MaxPool1d,
 * nn.BatchNorm1d, nn.AvgPool1d, trained in torch) loads and gives torch's logits to float32
 * rounding. Training: a 1-D CNN learns sine classes far above chance, bit-identically twice.
 */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import {
  Dataset,
  OptionError,
  Sequential,
  ShapeError,
  avgPool1d,
  batchNorm,
  conv1d,
  conv2d,
  decodeSafetensors,
  dense,
  evaluate,
  flatten,
  init,
  maxPool1d,
  modelFromSafetensors,
  modelToSafetensors,
  relu,
  train,
  type LayerSpec,
} from "../../src/index.js";
import { parseNpy } from "../../src/io/index.js";
import { expectClose, expectSameBits } from "../helpers/compare.js";
import { TestRandom } from "../helpers/rand.js";
import { cnnForward64, params64 } from "../helpers/cnn64.js";
import { backwardOf, expectFiniteDifferenceGradients, forwardOf } from "../helpers/cnn-checks.js";

beforeAll(async () => {
  await init();
});

/** A small 1-D CNN on (3, 20) signals. */
const smallNet = (): LayerSpec[] => [
  conv1d(3, 4, 5, { padding: 2 }),
  relu(),
  maxPool1d(2),
  conv1d(4, 6, 3, { stride: 2, padding: 1 }),
  batchNorm(6),
  relu(),
  avgPool1d(5),
  flatten(),
  dense(6, 3),
];
const SHAPE = [3, 20];

describe("signals: shapes and parameters", () => {
  it("infers every layer's shape and names parameters as PyTorch's nn.Conv1d / nn.BatchNorm1d", () => {
    const m = new Sequential(smallNet(), { inputShape: SHAPE, seed: 1 });
    expect(smallNet().map((_, i) => m.layerShape(i))).toEqual([[4, 20], [4, 20], [4, 10], [6, 5], [6, 5], [6, 5], [6, 1], [6], [3]]);
    expect(m.inputs).toBe(60);
    expect(m.namedParameters().map((p) => [p.name, p.shape])).toEqual([
      ["0.weight", [4, 3, 5]],
      ["0.bias", [4]],
      ["3.weight", [6, 4, 3]],
      ["3.bias", [6]],
      ["4.weight", [6]],
      ["4.bias", [6]],
      ["8.weight", [3, 6]],
      ["8.bias", [3]],
    ]);
    expect(m.architecture).toBe("3x20-conv1d4k5s1p2-maxpool1d2-conv1d6k3s2p1-bn-avgpool1d5-flatten-3");
    // PyTorch's default init: uniform ±1/√(in·k)
    const bound = 1 / Math.sqrt(15);
    expect(m.getParameter("0.weight").every((v) => Math.abs(v) <= bound)).toBe(true);
    expect(m.flopsPerSample).toBeGreaterThan(0);
    m.dispose();
  });

  it("rejects bad stacks and shapes with ShapeErrors naming the layer", () => {
    const cases: [LayerSpec[], number[] | undefined, RegExp][] = [
      [[conv1d(3, 4, 3), flatten(), dense(72, 2)], undefined, /layer 0 \(conv1d\) takes images; pass inputShape/],
      [[conv1d(3, 4, 3), flatten(), dense(4, 2)], [3, 4, 5], /layer 0 \(conv1d\) takes \(channels, length\) signals/],
      [[conv1d(2, 4, 3), flatten(), dense(72, 2)], [3, 20], /layer 0 \(conv1d\) takes 2 input channels but the layer before it gives 3/],
      [[conv1d(3, 4, 9, { padding: 1 }), flatten(), dense(4, 2)], [3, 6], /kernel 9 is longer than the padded signal 8/],
      [[conv1d(3, 4, 3, { stride: 0 }), flatten(), dense(4, 2)], [3, 6], /stride must be an integer ≥ 1/],
      [[maxPool1d(2, { padding: 2 }), flatten(), dense(4, 2)], [3, 6], /padding 2 must be at most half the kernel 2/],
      [[avgPool1d(8), flatten(), dense(4, 2)], [3, 6], /window 8 is longer than the padded signal 6/],
      [[conv2d(3, 4, 3), flatten(), dense(4, 2)], [3, 20], /layer 0 \(conv2d\) takes \(channels, height, width\) images/],
      [[conv1d(3, 4, 3), dense(72, 2)], [3, 20], /add flatten\(\) before it/],
    ];
    for (const [specs, inputShape, message] of cases) {
      expect(() => new Sequential(specs, inputShape ? { inputShape } : {}), String(message)).toThrow(ShapeError);
      expect(() => new Sequential(specs, inputShape ? { inputShape } : {}), String(message)).toThrow(message);
    }
    expect(() => new Sequential([conv1d(3, 4, 3, { init: "xavier" as "he" }), flatten(), dense(72, 2)], { inputShape: [3, 20] })).toThrow(OptionError);
    expect(() => new Sequential([flatten(), dense(6, 2)], { inputShape: [3, 2, 1, 1] })).toThrow(/inputShape must be \[features\], \[channels, length\]/);
  });
});

describe("signals: forward against the float64 reference", () => {
  it("matches in training mode and in inference mode (running statistics), for 1 to 5 rows", () => {
    const m = new Sequential(smallNet(), { inputShape: SHAPE, seed: 5 });
    const rng = new TestRandom(11);
    m.setParameter("4.running_mean", rng.uniform(6, -0.5, 0.5));
    m.setParameter("4.running_var", rng.uniform(6, 0.5, 2));
    m.setParameter("4.weight", rng.uniform(6, 0.5, 1.5));
    for (const rows of [1, 2, 5]) {
      const x = rng.uniform(rows * 60);
      const eval64 = cnnForward64(m.specs, params64(m), x, rows, SHAPE, false);
      expectClose(m.logits(x), eval64.output, { atol: 1e-5, rtol: 1e-4 }, `inference logits, ${rows} rows`);
    }
    const x = rng.uniform(5 * 60);
    const train64 = cnnForward64(m.specs, params64(m), x, 5, SHAPE, true);
    expectClose(forwardOf(m, x, 5, true), train64.output, { atol: 1e-5, rtol: 1e-4 }, "training-mode logits");
    m.dispose();
  });

  it("fuses conv1d + ReLU with the same bits as the unfused computation", () => {
    const x = new TestRandom(2).uniform(3 * 60);
    const fused = new Sequential(smallNet(), { inputShape: SHAPE, seed: 9 });
    const unfused = new Sequential(smallNet(), { inputShape: SHAPE, seed: 9 });
    unfused.keepPreActivation(0);
    expectSameBits(forwardOf(fused, x, 3, true), forwardOf(unfused, x, 3, true), "logits");
    const pre = unfused.engine.readF32(unfused.layerOutput(0), 3 * 80);
    expect(pre.some((v) => v < 0)).toBe(true);
    expectSameBits(
      unfused.engine.readF32(unfused.layerOutput(1), 3 * 80),
      pre.map((v) => Math.max(v, 0)),
      "ReLU of the kept pre-activation",
    );
    fused.dispose();
    unfused.dispose();
  });
});

describe("signals: backward against finite differences", () => {
  const specs = (): LayerSpec[] => [
    conv1d(2, 3, 3, { padding: 1 }),
    relu(),
    maxPool1d(3, { stride: 2, padding: 1 }),
    conv1d(3, 2, 2, { stride: 2 }),
    batchNorm(2),
    relu(),
    avgPool1d(2, { stride: 1 }),
    flatten(),
    dense(2, 3),
  ];
  const shape = [2, 9];
  const rows = 3;

  it("gives every parameter's gradient and the input gradient (training mode)", () => {
    const m = new Sequential(specs(), { inputShape: shape, seed: 21 });
    expect(m.layerShape(6)).toEqual([2, 1]);
    const rng = new TestRandom(8);
    m.setParameter("4.weight", rng.uniform(2, 0.5, 1.5));
    m.setParameter("4.bias", rng.uniform(2, -0.3, 0.3));
    const x = rng.uniform(rows * 18);
    const g = rng.uniform(rows * 3);
    const { grads, dx } = backwardOf(m, x, g, rows, true);
    expectFiniteDifferenceGradients(m, shape, rows, x, g, { grads, dx: dx as Float32Array });
    m.dispose();
  });
});

describe("signals: model files", () => {
  it("saves and loads a 1-D CNN with its input shape; logits are bit-identical", () => {
    const m = new Sequential(smallNet(), { inputShape: SHAPE, seed: 6 });
    const rng = new TestRandom(3);
    m.setParameter("4.running_mean", rng.uniform(6));
    m.setParameter("4.running_var", rng.uniform(6, 0.5, 2));
    const bytes = modelToSafetensors(m);
    const file = decodeSafetensors(bytes);
    expect(file.metadata.input_shape).toBe("[3,20]");
    expect(file.tensors.get("3.weight")!.shape).toEqual([6, 4, 3]);
    const loaded = modelFromSafetensors(bytes);
    expect(loaded.inputShape).toEqual(SHAPE);
    expect(loaded.specs).toEqual(m.specs);
    const x = rng.uniform(7 * 60);
    expectSameBits(loaded.logits(x), m.logits(x), "logits after the round trip");
    m.dispose();
    loaded.dispose();
  });

  it("loads a PyTorch 1-D CNN state_dict (Conv1d, MaxPool1d, BatchNorm1d, AvgPool1d, Linear) and gives torch's logits to float32 rounding", () => {
    const dir = new URL("../fixtures/interop/", import.meta.url);
    const model = modelFromSafetensors(new Uint8Array(readFileSync(new URL("signal-cnn.safetensors", dir))));
    expect(model.inputShape).toEqual([3, 64]);
    expect(model.namedParameters().map((p) => p.name)).toEqual(["0.weight", "0.bias", "3.weight", "3.bias", "4.weight", "4.bias", "8.weight", "8.bias"]);
    const x = parseNpy(new Uint8Array(readFileSync(new URL("signal-x.npy", dir))));
    const torchLogits = parseNpy(new Uint8Array(readFileSync(new URL("signal-logits.npy", dir))));
    expect(x.shape).toEqual([16, 3, 64]);
    const ours = model.logits(x.data as Float32Array);
    const ref = cnnForward64(model.specs, params64(model), x.data as Float32Array, 16, [3, 64], false).output;
    // Both results lie within float32 rounding of the float64 evaluation of the same weights.
    expectClose(ours, ref, { atol: 1e-5, rtol: 1e-4 }, "our logits vs float64");
    expectClose(torchLogits.data as Float32Array, ref, { atol: 1e-5, rtol: 1e-4 }, "torch's logits vs float64");
    expectClose(ours, torchLogits.data as Float32Array, { atol: 2e-5, rtol: 2e-4 }, "our logits vs torch's");
    model.dispose();
  });
});

describe("signals: random architectures", () => {
  it("60 random 1-D CNNs (kernels, strides, paddings, pooling, batchNorm) build, save and load with bit-identical logits", () => {
    const rnd = new TestRandom(77);
    const pick = (n: number) => Math.floor(rnd.next() * n);
    let built = 0;
    for (let trial = 0; trial < 60; trial++) {
      let channels = 1 + pick(4);
      let length = 1 + pick(40);
      const inputShape = [channels, length];
      const specs: LayerSpec[] = [];
      for (let depth = 1 + pick(3); depth > 0; depth--) {
        const kernel = 1 + pick(Math.min(7, length + 2));
        const padding = pick(Math.min(3, kernel));
        const stride = 1 + pick(3);
        if (length + 2 * padding < kernel) break;
        const out = 1 + pick(6);
        specs.push(conv1d(channels, out, kernel, { stride, padding }));
        channels = out;
        length = Math.floor((length + 2 * padding - kernel) / stride) + 1;
        if (pick(2)) specs.push(relu());
        if (pick(3) === 0) specs.push(batchNorm(channels));
        const window = 1 + pick(Math.min(4, length));
        const pad = pick(Math.floor(window / 2) + 1);
        if (pick(2) && length + 2 * pad >= window) {
          specs.push(pick(2) ? maxPool1d(window, { padding: pad }) : avgPool1d(window, { stride: 1 + pick(2), padding: pad }));
          const last = specs[specs.length - 1] as { stride: number };
          length = Math.floor((length + 2 * pad - window) / last.stride) + 1;
        }
      }
      if (specs.length === 0) continue;
      specs.push(flatten(), dense(channels * length, 3));
      const model = new Sequential(specs, { inputShape, seed: trial });
      const copy = modelFromSafetensors(modelToSafetensors(model));
      expect(copy.specs).toEqual(model.specs);
      const x = rnd.uniform(5 * model.inputs);
      expectSameBits(copy.logits(x), model.logits(x), `trial ${trial}: ${model.architecture}`);
      model.dispose();
      copy.dispose();
      built++;
    }
    expect(built).toBeGreaterThan(40);
  });
});

describe("signals: training", () => {
  /** Four classes of sines of different frequencies, random phase per channel, noise. */
  function sines(rows: number, seed: number): Dataset {
    const rnd = new TestRandom(seed);
    const x = new Float32Array(rows * 2 * 32);
    const y = new Int32Array(rows);
    for (let r = 0; r < rows; r++) {
      y[r] = r % 4;
      for (let c = 0; c < 2; c++) {
        const phase = rnd.next() * 2 * Math.PI;
        for (let t = 0; t < 32; t++) x[(r * 2 + c) * 32 + t] = Math.sin((2 * Math.PI * (1 + 2 * y[r]!) * t) / 32 + phase) + 0.3 * (rnd.next() - 0.5);
      }
    }
    return Dataset.signals(x, y, { channels: 2, length: 32, classes: 4 });
  }

  it("learns sine classes far above chance, with the same bits on a second run", async () => {
    const data = sines(240, 1);
    const test = sines(80, 2);
    const run = async () => {
      const m = new Sequential(
        [conv1d(2, 8, 5, { padding: 2 }), relu(), maxPool1d(2), conv1d(8, 8, 3, { padding: 1 }), relu(), avgPool1d(16), flatten(), dense(8, 4)],
        {
          inputShape: [2, 32],
          seed: 3,
        },
      );
      await train(m, data, { epochs: 8, batchSize: 16, seed: 4, optimizer: { type: "adam", lr: 0.01 } });
      return m;
    };
    const a = await run();
    const b = await run();
    expect(evaluate(a, test).accuracy).toBeGreaterThan(0.8);
    expectSameBits(a.parameterBlock(), b.parameterBlock(), "parameters after two identical runs");
    a.dispose();
    b.dispose();
  });
});

describe("signals: Dataset.signals", () => {
  it("wraps (rows, channels, length) signals as rows of channels·length features", () => {
    const d = Dataset.signals(new Float32Array(2 * 3 * 4), [0, 1], { channels: 3, length: 4 });
    expect(d.features).toBe(12);
    expect(d.length).toBe(2);
    expect(d.classes).toBe(2);
    expect(Dataset.signals([1, 2, 3, 4], [0], { channels: 1, length: 4, classes: 5 }).classes).toBe(5);
  });

  it("refuses wrong sizes, bad dimensions and unknown keys with typed errors", () => {
    expect(() => Dataset.signals(new Float32Array(23), [0, 1], { channels: 3, length: 4 })).toThrow(ShapeError);
    expect(() => Dataset.signals(new Float32Array(23), [0, 1], { channels: 3, length: 4 })).toThrow(
      /x has 23 values, but 2 signals \(one per label\) of 3 channels × 4 samples need 24/,
    );
    expect(() => Dataset.signals(new Float32Array(4), [0], { channels: 0, length: 4 })).toThrow(/channels must be a positive integer/);
    expect(() => Dataset.signals(new Float32Array(4), [0], { channels: 1, length: 2.5 })).toThrow(ShapeError);
    expect(() => Dataset.signals(new Float32Array(4), [0], { channels: 1, lenght: 4 } as never)).toThrow(OptionError);
    expect(() => Dataset.signals(new Float32Array(4), [0], { channels: 1, lenght: 4 } as never)).toThrow(/length/);
    expect(() => Dataset.signals([1, NaN, 3, 4], [0], { channels: 1, length: 4 })).toThrow(/NaN|finite/);
  });
});
