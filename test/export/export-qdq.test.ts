/**
 * toOnnx on quantized models (src/export/to-onnx-qdq.ts): an MLP (784 → 64 → 10) trained
 * briefly on the mnist package's digits, quantized, exported as a QuantizeLinear /
 * DequantizeLinear graph and run in onnxruntime-node and onnxruntime-web (wasm, in Node) at
 * opsets 13 and 17, against the library's own int8 forward pass on 1,000 test digits.
 *
 * The bound on the logits, int8 weights and activations. Layer 1's input codes are the same
 * on both sides (same f32 quotient x/s, same round-half-to-even, the Clip makes the clamp
 * ±127 on both). After that the library sums codes exactly in int32 and scales once; the
 * float graph sums n f32 products, so its hidden values differ by a few ulps. A hidden value
 * whose quotient h/s₂ sits within that of a half-integer can get the next code (off by one),
 * which moves logit j by s₂·|w_jp|·s_w[j] ≤ s₂·max|W_j|: one quantization step of the last
 * layer. With at most one such flip per row and f32 summation error
 *   E_j ≤ γ(n+4)·(s₂·s_w[j]·Σ_p |c_p|·|w_jp| + |b_j|),  γ(k) = k·u/(1 − k·u), u = 2⁻²⁴,
 * bounded here by using 127·127·n for the sum,
 *   |Δ_j| ≤ s₂·127·s_w[j] + E_j.
 * The test asserts that bound and the same argmax on every digit, and prints the measured
 * differences and how many rows moved by more than the float error alone (measured: one
 * row of the 1,000, 0.87 of a step, in both runtimes at both opsets).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as ortNode from "onnxruntime-node";
import * as ortWeb from "onnxruntime-web";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ArgumentError,
  avgPool2d,
  batchNorm,
  conv2d,
  dense,
  flatten,
  FormatError,
  init,
  loadMnistDigits,
  maxPool2d,
  mlp,
  OptionError,
  quantize,
  relu,
  Sequential,
  train,
  type Dataset,
  type QuantizedModel,
} from "../../src/index.js";
import { fromOnnx, toOnnx, toTfjs } from "../../src/export/index.js";
import { decodeModel, encodeModel } from "../../src/export/onnx-proto.js";
import { quantizedNetOf } from "../../src/quantize/model.js";
import type { QuantizedDense } from "../../src/quantize/net.js";

const ROWS = 1000;
const U = 2 ** -24;
const gamma = (k: number) => (k * U) / (1 - k * U);

let data: { train: Dataset; test: Dataset };
let x: Float32Array;
let int8: QuantizedModel;
let floatActs: QuantizedModel;
let half: QuantizedModel;
const measured: string[] = [];

beforeAll(async () => {
  ortWeb.env.wasm.numThreads = 1;
  ortWeb.env.wasm.wasmPaths = new URL("../../node_modules/onnxruntime-web/dist/", import.meta.url).href; // its .wasm, no fetch
  ortWeb.env.logLevel = "error";
  const engine = await init();
  data = await loadMnistDigits({ train: 2000, test: ROWS, seed: 5 });
  x = data.test.x;
  const model = mlp([784, 64, 10], { seed: 1, engine });
  await train(model, data.train, { epochs: 2, batchSize: 32, optimizer: "adam", lr: 0.002, seed: 1 });
  int8 = quantize(model, data.train, { weights: "int8", activations: "int8" });
  floatActs = quantize(model, undefined, { weights: "int8", activations: "float" });
  half = quantize(model, undefined, { weights: "fp16" });
  model.dispose();
}, 180_000);

afterAll(() => {
  console.log(`toOnnx (QDQ) against the library's quantized forward pass, ${ROWS} digits:\n  ${measured.join("\n  ")}`);
});

async function runOrt(ort: typeof ortNode | typeof ortWeb, bytes: Uint8Array): Promise<Float32Array> {
  const session = await (ort.InferenceSession as typeof ortWeb.InferenceSession).create(bytes);
  try {
    const result = await session.run({ input: new ort.Tensor("float32", x, [ROWS, 784]) as ortWeb.Tensor });
    return result.logits!.data as Float32Array;
  } finally {
    await session.release();
  }
}

function argmax(z: Float32Array, cols: number): Int32Array {
  const ids = new Int32Array(z.length / cols);
  for (let i = 0; i < ids.length; i++) {
    let best = 0;
    for (let j = 1; j < cols; j++) if (z[i * cols + j]! > z[i * cols + best]!) best = j;
    ids[i] = best;
  }
  return ids;
}

/** Per output j of the last dense layer: one quantization step s₂·127·s_w[j] and the f32 summation bound E_j. */
function bounds(model: QuantizedModel): { step: number[]; floatError: number[] } {
  const net = quantizedNetOf(model)!;
  const last = net.layers.filter((l): l is QuantizedDense => l.type === "dense").at(-1)!;
  const s = last.inputScale!;
  const step = [...last.weightScale!].map((sw) => s * 127 * sw);
  const floatError = [...last.weightScale!].map((sw, j) => gamma(last.inputs + 4) * (s * sw * 127 * 127 * last.inputs + Math.abs(last.bias[j]!)));
  return { step, floatError };
}

const RUNTIMES = [
  ["onnxruntime-node", ortNode],
  ["onnxruntime-web", ortWeb],
] as const;

describe.each([13, 17])("opset %i", (opset) => {
  it.each(RUNTIMES)("int8 weights and activations in %s: the same class on every digit, logits within one quantization step", async (runtime, ort) => {
    const ours = int8.logits(x);
    const theirs = await runOrt(ort, toOnnx(int8, { opset }));
    const { step, floatError } = bounds(int8);
    let worst = 0;
    let worstSteps = 0;
    let beyondFloat = 0;
    for (let i = 0; i < ROWS; i++) {
      let moved = false;
      for (let j = 0; j < 10; j++) {
        const d = Math.abs(ours[i * 10 + j]! - theirs[i * 10 + j]!);
        worst = Math.max(worst, d);
        worstSteps = Math.max(worstSteps, d / step[j]!);
        if (d > floatError[j]!) moved = true;
        expect(d).toBeLessThanOrEqual(step[j]! + floatError[j]!);
      }
      if (moved) beyondFloat++;
    }
    const same = argmax(ours, 10).filter((c, i) => c === argmax(theirs, 10)[i]).length;
    measured.push(
      `opset ${opset}, ${runtime}, int8/int8: max |Δ| ${worst.toExponential(3)} (${worstSteps.toExponential(2)} of a step), rows beyond the f32 bound ${beyondFloat}, same class ${same}/${ROWS}`,
    );
    expect(same).toBe(ROWS);
  });

  it.each(RUNTIMES)("int8 weights, float activations, and fp16 weights in %s: float compute, logits within 1e-5", async (runtime, ort) => {
    for (const [name, m] of [
      ["int8/float", floatActs],
      ["fp16/float", half],
    ] as const) {
      const ours = m.logits(x);
      const theirs = await runOrt(ort, toOnnx(m, { opset }));
      let worst = 0;
      for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(ours[i]! - theirs[i]!));
      const same = argmax(ours, 10).filter((c, i) => c === argmax(theirs, 10)[i]).length;
      measured.push(`opset ${opset}, ${runtime}, ${name}: max |Δ| ${worst.toExponential(3)}, same class ${same}/${ROWS}`);
      expect(worst).toBeLessThanOrEqual(1e-5);
      expect(same).toBe(ROWS);
    }
  });
});

describe("inputs beyond the calibrated range", () => {
  it("the Clip keeps codes at the library's −127 where QuantizeLinear alone would give −128", async () => {
    const engine = await init();
    const one = mlp([16, 4], { seed: 4, engine }); // a single dense layer: its input codes are all that can differ
    const calibration = Float32Array.from({ length: 64 * 16 }, (_, i) => Math.sin(i) * 0.5);
    const q = quantize(one, calibration, { weights: "int8", activations: "int8" });
    one.dispose();
    const wide = Float32Array.from({ length: 32 * 16 }, (_, i) => Math.sin(i * 1.7) * 4); // |x| to 8× the calibrated range
    const run = async (bytes: Uint8Array) => {
      const session = await ortNode.InferenceSession.create(bytes);
      try {
        return (await session.run({ input: new ortNode.Tensor("float32", wide, [32, 16]) })).logits!.data as Float32Array;
      } finally {
        await session.release();
      }
    };
    const ours = q.logits(wide);
    const withClip = await run(toOnnx(q));
    // The same graph without its Clip: QuantizeLinear saturates to −128.
    const proto = decodeModel(toOnnx(q), "qdq");
    const nodes = proto.graph!.node!;
    const clip = nodes.findIndex((n) => n.op_type === "Clip");
    nodes[clip + 1]!.input![0] = nodes[clip]!.input![0]!;
    nodes.splice(clip, 1);
    proto.graph!.initializer = proto.graph!.initializer!.filter((t) => !/input_(min|max)$/.test(t.name!));
    const withoutClip = await run(encodeModel(proto));
    const diff = (a: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - ours[i]!)), 0);
    measured.push(
      `inputs to 8× the calibrated range, onnxruntime-node: max |Δ| with the Clip ${diff(withClip).toExponential(3)}, without it ${diff(withoutClip).toExponential(3)}`,
    );
    expect(diff(withClip)).toBeLessThanOrEqual(1e-5);
    expect(diff(withoutClip)).toBeGreaterThan(1e-3);
    q.dispose();
  });
});

describe("the graph and its errors", () => {
  it("writes int8 weight initializers, per-axis DequantizeLinear and the quantization metadata", () => {
    const proto = decodeModel(toOnnx(int8), "qdq");
    const graph = proto.graph!;
    const ops = graph.node!.map((n) => n.op_type);
    expect(ops).toEqual([
      "DequantizeLinear",
      "Clip",
      "QuantizeLinear",
      "DequantizeLinear",
      "Gemm",
      "Relu",
      "DequantizeLinear",
      "Clip",
      "QuantizeLinear",
      "DequantizeLinear",
      "Gemm",
    ]);
    const weight = graph.initializer!.find((t) => t.name === "0.weight")!;
    expect(weight.data_type).toBe(3); // INT8
    expect(weight.raw_data!.length).toBe(64 * 784);
    expect(proto.metadata_props!.find((p) => p.key === "quantization")!.value).toBe(JSON.stringify({ weights: "int8", activations: "int8" }));
    expect(graph.node!.filter((n) => n.op_type === "QuantizeLinear").length).toBe(2);
    expect(decodeModel(toOnnx(floatActs), "qdq").graph!.node!.some((n) => n.op_type === "QuantizeLinear")).toBe(false);
    expect(decodeModel(toOnnx(half), "qdq").graph!.node!.some((n) => n.op_type === "DequantizeLinear")).toBe(false);
  });

  it("typed errors: opsets below 13, toTfjs of a quantized model, a disposed model, conv2d at quantize time", async () => {
    expect(() => toOnnx(int8, { opset: 12 })).toThrow(OptionError);
    expect(() => fromOnnx(toOnnx(int8))).toThrow(FormatError); // QDQ graphs are written, not read back
    expect(() => toTfjs(int8)).toThrow(ArgumentError);
    expect(() => toTfjs(int8)).toThrow(/quantized model cannot be written as TF.js/);
    const engine = await init();
    const small = mlp([784, 8, 10], { seed: 3, engine });
    const q = quantize(small, x, { weights: "int8", activations: "int8" });
    small.dispose();
    q.dispose();
    expect(() => toOnnx(q)).toThrow(ArgumentError);
    expect(() => toOnnx(q)).toThrow(/disposed/);
  });
});

/**
 * A quantized CNN (conv2d with a folded batchNorm, ReLU, max pooling, a padded conv2d, average
 * pooling, flatten, dense) as a QDQ graph: Conv on the fake-quantized input and the
 * per-channel dequantized weight, pooling on the float values, as the library runs it. The
 * float graph sums in another order than the library's exact int32 sums (see the bound for
 * the MLP above), so the check is on the outcome: the largest difference is printed and held
 * to 1 % of the largest logit (measured: 0.03 %), and every row whose top two logits in the
 * library are further apart than twice that difference has the same class in onnxruntime.
 */
describe("toOnnx of a quantized CNN", () => {
  it("runs in onnxruntime-node and -web with the library's classes", async () => {
    const engine = await init();
    const layers = [
      conv2d(1, 8, 5),
      batchNorm(8),
      relu(),
      maxPool2d(2),
      conv2d(8, 16, 3, { padding: 1 }),
      relu(),
      avgPool2d(2),
      flatten(),
      dense(16 * 6 * 6, 10),
    ];
    const model = new Sequential(layers, { seed: 2, engine, inputShape: [1, 28, 28] });
    await train(model, data.train, { epochs: 1, batchSize: 32, optimizer: "adam", lr: 0.002, seed: 1 });
    const q = quantize(model, data.train, { weights: "int8", activations: "int8" });
    model.dispose();
    const library = q.logits(x);
    const bytes = toOnnx(q);
    const graph = decodeModel(bytes, "qdq").graph!;
    expect(graph.node!.filter((n) => n.op_type === "Conv").length).toBe(2);
    expect(graph.node!.filter((n) => n.op_type === "QuantizeLinear").length).toBe(3);
    for (const [name, ort] of [
      ["onnxruntime-node", ortNode],
      ["onnxruntime-web", ortWeb],
    ] as const) {
      const session = await (ort.InferenceSession as typeof ortWeb.InferenceSession).create(bytes);
      const out = (await session.run({ input: new ort.Tensor("float32", x, [ROWS, 1, 28, 28]) as ortWeb.Tensor })).logits!.data as Float32Array;
      await session.release();
      let maxDiff = 0;
      let maxLogit = 0;
      for (let i = 0; i < library.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(out[i]! - library[i]!));
        maxLogit = Math.max(maxLogit, Math.abs(library[i]!));
      }
      measured.push(`CNN, ${name}: max |Δ| ${maxDiff.toExponential(2)} of max |logit| ${maxLogit.toFixed(2)}`);
      expect(maxDiff).toBeLessThanOrEqual(0.01 * maxLogit);
      const ours = argmax(library, 10);
      const theirs = argmax(out, 10);
      for (let r = 0; r < ROWS; r++) {
        const row = [...library.subarray(r * 10, r * 10 + 10)].sort((a, b) => b - a);
        if (row[0]! - row[1]! > 2 * maxDiff) expect(theirs[r], `row ${r}`).toBe(ours[r]);
      }
    }
    q.dispose();
  }, 120_000);
});

describe("distill-wasm export of a quantized file", () => {
  const CLI = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));
  const cli = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 60_000 });

  it("--format onnx writes the QDQ graph toOnnx writes; --format tfjs is refused with the reason", async () => {
    const dir = mkdtempSync(join(tmpdir(), "distill-qdq-"));
    await int8.save(join(dir, "m-int8.safetensors"));
    const r = cli(["export", "--model", join(dir, "m-int8.safetensors"), "--format", "onnx", "--out", join(dir, "m.onnx"), "--opset", "13"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("quantized (int8 weights, int8 activations)");
    const written = new Uint8Array(readFileSync(join(dir, "m.onnx")));
    expect(await runOrt(ortNode, written)).toEqual(await runOrt(ortNode, toOnnx(int8, { opset: 13 })));
    const tfjs = cli(["export", "--model", join(dir, "m-int8.safetensors"), "--format", "tfjs", "--out", join(dir, "tfjs")]);
    expect(tfjs.status).toBe(1);
    expect(tfjs.stderr).toMatch(/quantized model cannot be written as TF.js/);
  }, 60_000);
});
