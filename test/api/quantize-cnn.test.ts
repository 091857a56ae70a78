/**
 * quantize() of convolutional models: conv2d (+ fused ReLU), pooling, flatten and batchNorm
 * folded into the layer before it. The int8 runner on the fast kernels equals the runner on
 * the `_ref` twins bit for bit (shapes at the GEMM's tile edges: odd and even patch counts,
 * output channels around 4, depths around 16); the integer pipeline equals its simulation in
 * JavaScript (exact integer sums, then the same f32 roundings); the dequantized outputs stay
 * near the float model's; the fold matches batchNorm in float64; files load in the full
 * library and in distill-wasm/infer with the same bits; a trained digit CNN keeps its accuracy.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  avgPool2d,
  batchNorm,
  conv2d,
  decodeSafetensors,
  dense,
  dropout,
  flatten,
  init,
  loadMnistDigits,
  maxPool2d,
  modelToSafetensors,
  OptionError,
  quantize,
  quantizedFromSafetensors,
  relu,
  Sequential,
  train,
  type Dataset,
  type Engine,
  type LayerSpec,
} from "../../src/index.js";
import { loadStudent } from "../../src/infer/index.js";
import { foldBatchNorm } from "../../src/quantize/fold.js";
import { quantizedNetOf } from "../../src/quantize/model.js";
import { Int8Runner, type Int8Kernels } from "../../src/quantize/runner.js";
import { expectSameBits } from "../helpers/compare.js";
import { TestRandom } from "../helpers/rand.js";

let engine: Engine;
beforeAll(async () => {
  engine = await init();
});

/** The engine's kernels with every kernel that has a `_ref` twin replaced by the twin. */
function referenceKernels(e: Engine): Int8Kernels {
  const k = e.kernels as unknown as Record<string, unknown>;
  const twins: Record<string, unknown> = {};
  for (const name of Object.getOwnPropertyNames(k)) twins[name] = k[`${name}_ref`] ?? k[name];
  return twins as unknown as Int8Kernels;
}

function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  return d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
}

/**
 * The int8 forward pass of a quantized file made of conv2d, dense, ReLU, maxPool2d and flatten
 * layers in JavaScript: integer codes, exact integer sums, each float step rounded to f32 as
 * the kernels round it.
 */
function simulate(bytes: Uint8Array, x: Float32Array, rows: number): Float32Array {
  const { tensors, metadata } = decodeSafetensors(bytes);
  const specs = JSON.parse(metadata.architecture!) as (LayerSpec & Record<string, unknown>)[];
  let shape: number[] = JSON.parse(metadata.input_shape!) as number[];
  let cur = Array.from(x);
  specs.forEach((s, i) => {
    const width = shape.reduce((a, b) => a * b, 1);
    if (s.type === "dense" || s.type === "conv2d") {
      const w = tensors.get(`${i}.weight`)!.data as Int8Array;
      const ws = tensors.get(`${i}.weight_scale`)!.data as Float32Array;
      const b = tensors.get(`${i}.bias`)!.data as Float32Array;
      const xs = (tensors.get(`${i}.input_scale`)!.data as Float32Array)[0]!;
      const relu = specs[i + 1]?.type === "activation";
      const q = cur.map((v) => Math.min(127, Math.max(-127, roundHalfEven(Math.fround(v / xs)))));
      const finish = (acc: number, j: number) => {
        const v = Math.fround(Math.fround(Math.fround(acc) * Math.fround(xs * ws[j]!)) + b[j]!);
        return relu ? Math.max(v, 0) : v;
      };
      if (s.type === "dense") {
        const out = ws.length;
        const next: number[] = [];
        for (let r = 0; r < rows; r++)
          for (let j = 0; j < out; j++) {
            let acc = 0;
            for (let p = 0; p < width; p++) acc += q[r * width + p]! * w[j * width + p]!;
            next.push(finish(acc, j));
          }
        cur = next;
        shape = [out];
        return;
      }
      const [c, h, wd] = shape as [number, number, number];
      const [kh, kw] = s.kernel as [number, number];
      const stride = s.stride ?? 1;
      const pad = s.padding ?? 0;
      const out = s.outChannels;
      const oh = Math.floor((h + 2 * pad - kh) / stride) + 1;
      const ow = Math.floor((wd + 2 * pad - kw) / stride) + 1;
      const next = new Array<number>(rows * out * oh * ow);
      for (let r = 0; r < rows; r++)
        for (let j = 0; j < out; j++)
          for (let oy = 0; oy < oh; oy++)
            for (let ox = 0; ox < ow; ox++) {
              let acc = 0;
              for (let ci = 0; ci < c; ci++)
                for (let ky = 0; ky < kh; ky++)
                  for (let kx = 0; kx < kw; kx++) {
                    const iy = oy * stride - pad + ky;
                    const ix = ox * stride - pad + kx;
                    if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                    acc += q[r * width + (ci * h + iy) * wd + ix]! * w[((j * c + ci) * kh + ky) * kw + kx]!;
                  }
              next[((r * out + j) * oh + oy) * ow + ox] = finish(acc, j);
            }
      cur = next;
      shape = [out, oh, ow];
    } else if (s.type === "maxPool2d") {
      const [c, h, wd] = shape as [number, number, number];
      const k = s.kernel;
      const st = s.stride ?? k;
      const oh = Math.floor((h - k) / st) + 1;
      const ow = Math.floor((wd - k) / st) + 1;
      const next: number[] = [];
      for (let r = 0; r < rows; r++)
        for (let ci = 0; ci < c; ci++)
          for (let oy = 0; oy < oh; oy++)
            for (let ox = 0; ox < ow; ox++) {
              let m = -Infinity;
              for (let ky = 0; ky < k; ky++) for (let kx = 0; kx < k; kx++) m = Math.max(m, cur[r * width + (ci * h + oy * st + ky) * wd + ox * st + kx]!);
              next.push(m);
            }
      cur = next;
      shape = [c, oh, ow];
    } else if (s.type === "flatten") shape = [width];
  });
  return Float32Array.from(cur);
}

/**
 * Nets at the tile edges of gemm_i8_conv: patch counts odd and even, output channels 1–9, depths below, at and above 8 and 16;
 * 2×2 max pools on the int32 sums (after a ReLU, past a dropout, without a ReLU, on odd sizes) and in float (stride 1).
 */
const NETS: { name: string; inputShape: [number, number, number]; layers: LayerSpec[] }[] = [
  {
    name: "3×9×7, padded 3×3 conv to 5 channels, strided 2×3 conv to 6, max pool",
    inputShape: [3, 9, 7],
    layers: [conv2d(3, 5, 3, { padding: 1 }), relu(), conv2d(5, 6, [2, 3], { stride: 2 }), relu(), maxPool2d(2), flatten(), dense(12, 4)],
  },
  {
    name: "1×8×8, 1×1 conv to 1 channel, 3×3 conv to 9 (depth 9), dense",
    inputShape: [1, 8, 8],
    layers: [conv2d(1, 1, 1), conv2d(1, 9, 3), relu(), flatten(), dense(9 * 6 * 6, 3)],
  },
  {
    name: "2×11×11, 4×4 conv to 4 (depth 32), 2×2 conv to 8 (depth 16)",
    inputShape: [2, 11, 11],
    layers: [conv2d(2, 4, 4), relu(), conv2d(4, 8, 2, { stride: 2, padding: 1 }), relu(), flatten(), dense(8 * 5 * 5, 5)],
  },
  {
    name: "1×13×11, 3×3 conv to 6 and max pool 2 without a ReLU (odd sizes), 3×3 conv to 5, ReLU, dropout, max pool 2",
    inputShape: [1, 13, 11],
    layers: [conv2d(1, 6, 3), maxPool2d(2), conv2d(6, 5, 3), relu(), dropout(0.25), maxPool2d(2), flatten(), dense(5, 3)],
  },
  {
    name: "2×9×9, 3×3 conv to 3, ReLU, max pool 2 of stride 1 (in float)",
    inputShape: [2, 9, 9],
    layers: [conv2d(2, 3, 3), relu(), maxPool2d(2, { stride: 1 }), flatten(), dense(3 * 6 * 6, 4)],
  },
];

describe.each(NETS)("int8 convolutions: $name", ({ inputShape, layers }) => {
  const rows = 7;
  let model: Sequential;
  let x: Float32Array;
  beforeAll(() => {
    model = new Sequential(layers, { seed: 3, engine, inputShape });
    const r = new TestRandom(11);
    x = r.uniform(rows * inputShape.reduce((a, b) => a * b, 1), -1, 1.5);
  });

  it("the fast kernels and the `_ref` twins give the same bits, equal to the JavaScript simulation", () => {
    const q = quantize(model, x);
    const fast = q.logits(x);
    const runner = new Int8Runner(referenceKernels(engine), quantizedNetOf(q)!);
    try {
      expectSameBits(fast, runner.logits("logits", x), "fast vs _ref");
    } finally {
      runner.dispose();
    }
    expectSameBits(fast, simulate(q.toSafetensors(), x, rows), "vs JavaScript");
    // batch-1 (the same bits row by row)
    const one = q.logits(x.subarray(0, x.length / rows));
    expectSameBits(one, fast.subarray(0, model.outputs), "one row");
    q.dispose();
  });

  it("dequantized outputs stay near the float model's (float64 bound of the rounding)", () => {
    const q = quantize(model, x);
    const got = q.logits(x);
    const want = model.logits(x);
    let scale = 0;
    for (const v of want) scale = Math.max(scale, Math.abs(v));
    for (let i = 0; i < got.length; i++) expect(Math.abs(got[i]! - want[i]!), `output ${i}`).toBeLessThan(0.05 * scale + 1e-3);
    // float activations: int8 weights only, conv2d_forward on the dequantized weights
    const storage = quantize(model, undefined, { activations: "float" });
    const g2 = storage.logits(x);
    for (let i = 0; i < g2.length; i++) expect(Math.abs(g2[i]! - want[i]!), `output ${i}`).toBeLessThan(0.05 * scale + 1e-3);
    q.dispose();
    storage.dispose();
  });

  it("files load in the full library and in distill-wasm/infer with the same bits", async () => {
    const q = quantize(model, x);
    const bytes = q.toSafetensors();
    const back = quantizedFromSafetensors(bytes, { engine });
    const student = await loadStudent(bytes);
    expect(student.quantization).toEqual({ weights: "int8", activations: "int8" });
    expect(student.inputShape).toEqual(inputShape);
    expectSameBits(back.logits(x), q.logits(x));
    expectSameBits(student.logits(x), q.logits(x));
    expect(Array.from(student.predict(x))).toEqual(Array.from(q.predict(x)));
    const { tensors } = decodeSafetensors(bytes);
    expect(tensors.get("0.weight")!.dtype).toBe("I8");
    expect(tensors.get("0.weight")!.shape.length).toBe(4);
    for (const m of [q, back]) m.dispose();
    student.dispose();
  });
});

describe("2×2 max pooling of an int8 convolution's sums", () => {
  /** The runner's steps that are pooling layers of their own (run in float), the others being fused into their convolution. */
  const floatPools = (runner: Int8Runner) => (runner as unknown as { steps: { type?: string }[] }).steps.filter((s) => s.type === "pool").length;

  it("runs on the int32 sums where it gives the same bits, and in float after a −0 bias without a ReLU, with the same outputs", () => {
    const net = NETS[3]!;
    const model = new Sequential(net.layers, { seed: 4, engine, inputShape: net.inputShape });
    const x = new TestRandom(12).uniform(5 * model.inputs, -1, 1.5);
    const q = quantize(model, x);
    const withBias = (b: number) => {
      const base = quantizedNetOf(q)!;
      const layers = base.layers.map((l, i) => (i === 0 && l.type === "conv2d" ? { ...l, bias: Float32Array.from(l.bias, (v, j) => (j === 1 ? b : v)) } : l));
      return new Int8Runner(engine.kernels, { ...base, layers });
    };
    const plus = withBias(0);
    const minus = withBias(-0);
    try {
      expect(floatPools(plus), "+0: both pools on the sums").toBe(0);
      expect(floatPools(minus), "−0 without a ReLU: the first pool in float").toBe(1);
      // f32(acc)·s + (−0) is never −0 at these scales, so the two paths give the same bits
      expectSameBits(minus.logits("logits", x), plus.logits("logits", x), "−0 bias, float pool vs +0 bias, pool on the sums");
    } finally {
      plus.dispose();
      minus.dispose();
      q.dispose();
    }
  });
});

describe("batchNorm folding", () => {
  it("W' = a·W, b' = a·(b − μ) + β gives batchNorm's output in float64", () => {
    const r = new TestRandom(5);
    const channels = 6;
    const size = 13;
    const weight = r.normal(channels * size, 0.3);
    const bias = r.normal(channels);
    const bn = { gamma: r.uniform(channels, 0.5, 2), beta: r.normal(channels), mean: r.normal(channels), variance: r.uniform(channels, 0.01, 3), eps: 1e-5 };
    const folded = foldBatchNorm(weight, bias, bn);
    const xs = r.normal(size * 4);
    for (let n = 0; n < 4; n++)
      for (let c = 0; c < channels; c++) {
        let z = bias[c]!;
        let zf = folded.bias[c]!;
        let size1 = Math.abs(folded.bias[c]!);
        for (let p = 0; p < size; p++) {
          z += weight[c * size + p]! * xs[n * size + p]!;
          zf += folded.weight[c * size + p]! * xs[n * size + p]!;
          size1 += Math.abs(folded.weight[c * size + p]! * xs[n * size + p]!);
        }
        const want = (bn.gamma[c]! * (z - bn.mean[c]!)) / Math.sqrt(bn.variance[c]! + bn.eps) + bn.beta[c]!;
        expect(Math.abs(zf - want), `row ${n} channel ${c}`).toBeLessThan(2 ** -22 * size1); // f32 rounding of W' and b'
      }
  });

  it("a conv → batchNorm → ReLU model quantizes with the batchNorm folded (no tensors of its own), near the float model", async () => {
    const model = new Sequential([conv2d(2, 6, 3, { padding: 1 }), batchNorm(6), relu(), avgPool2d(2), flatten(), dense(6 * 4 * 4, 3), batchNorm(3)], {
      seed: 8,
      engine,
      inputShape: [2, 8, 8],
    });
    const r = new TestRandom(9);
    model.setParameter("1.weight", r.uniform(6, 0.5, 2));
    model.setParameter("1.bias", r.normal(6, 0.3));
    model.setParameter("1.running_mean", r.normal(6, 0.2));
    model.setParameter("1.running_var", r.uniform(6, 0.2, 2));
    model.setParameter("6.running_var", r.uniform(3, 0.5, 2));
    const x = r.uniform(9 * 128, -1, 1);
    const q = quantize(model, x);
    const names = [...decodeSafetensors(q.toSafetensors()).tensors.keys()].sort();
    expect(names).toEqual(["0.bias", "0.input_scale", "0.weight", "0.weight_scale", "5.bias", "5.input_scale", "5.weight", "5.weight_scale"]);
    const want = model.logits(x);
    const got = q.logits(x);
    let scale = 0;
    for (const v of want) scale = Math.max(scale, Math.abs(v));
    for (let i = 0; i < got.length; i++) expect(Math.abs(got[i]! - want[i]!), `output ${i}`).toBeLessThan(0.05 * scale);
    const runner = new Int8Runner(referenceKernels(engine), quantizedNetOf(q)!);
    expectSameBits(runner.logits("logits", x), got, "fast vs _ref with average pooling");
    runner.dispose();
    const student = await loadStudent(q.toSafetensors());
    expectSameBits(student.logits(x), got, "distill-wasm/infer");
    student.dispose();
    q.dispose();
    model.dispose();
  });

  it("a batchNorm that does not follow a dense or conv2d layer is refused, naming it", () => {
    const model = new Sequential([conv2d(1, 2, 3), relu(), batchNorm(2), flatten(), dense(2 * 2 * 2, 3)], { inputShape: [1, 4, 4], engine });
    expect(() => quantize(model, new Float32Array(16))).toThrow(OptionError);
    expect(() => quantize(model, new Float32Array(16))).toThrow(/layer 2 is batchNorm/);
    model.dispose();
  });
});

describe("a digit CNN trained on the mnist package's digits", () => {
  let data: { train: Dataset; test: Dataset };
  let model: Sequential;
  beforeAll(async () => {
    data = await loadMnistDigits({ train: 2000, test: 1000, seed: 6 });
    model = new Sequential([conv2d(1, 8, 5), relu(), maxPool2d(2), conv2d(8, 16, 3), relu(), maxPool2d(2), flatten(), dense(16 * 5 * 5, 10)], {
      seed: 1,
      engine,
      inputShape: [1, 28, 28],
    });
    await train(model, data.train, { epochs: 2, batchSize: 32, optimizer: "adam", lr: 0.002, seed: 1 });
  }, 300_000);

  it("keeps test accuracy within 1 point, in a file over 3× smaller", () => {
    const accuracy = (p: Int32Array) => p.reduce((n, v, i) => n + (v === data.test.y[i] ? 1 : 0), 0) / p.length;
    const float = accuracy(model.predict(data.test.x) as Int32Array);
    const q = quantize(model, data.train.x.subarray(0, 500 * 784));
    const int8 = accuracy(q.predict(data.test.x) as Int32Array);
    const floatBytes = modelToSafetensors(model).length;
    const int8Bytes = q.toSafetensors().length;
    console.log(`[quantize cnn] test accuracy: float ${float}, int8 ${int8}; file ${floatBytes} → ${int8Bytes} bytes`);
    expect(float).toBeGreaterThan(0.85);
    expect(Math.abs(int8 - float)).toBeLessThanOrEqual(0.01);
    expect(floatBytes / int8Bytes).toBeGreaterThan(3); // the architecture metadata is a larger share of a small file
    q.dispose();
  });
});
