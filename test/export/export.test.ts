/**
 * distill-wasm/export, run by the runtimes users deploy to: every test model
 * (test/helpers/export-models.ts) exported with toOnnx runs in onnxruntime-node (native
 * CPU) and onnxruntime-web (wasm, in Node), and exported with toTfjs in TensorFlow.js
 * layers (cpu and wasm backends), each giving our `model.logits(x)` within 1e-5 and the same argmax;
 * fromOnnx gives back a model with the same logits bit for bit, at every opset. The
 * measured differences are printed at the end. Where /usr/bin/python3 has the onnx module
 * (Debian's python3-onnx), the ONNX project's checker validates every export too
 * (test/fixtures/export/check_onnx.py). Error cases: test/export/export-errors.test.ts.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import * as tfWasm from "@tensorflow/tfjs-backend-wasm";
import * as tfl from "@tensorflow/tfjs-layers";
import * as ortNode from "onnxruntime-node";
import * as ortWeb from "onnxruntime-web";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropout, encodeNpy, init, mlp, Sequential, dense, gelu } from "../../src/index.js";
import { fromOnnx, ONNX_OPSETS, roundToF16, TFJS_WEIGHTS_FILE, toOnnx, toTfjs, type TfjsExport } from "../../src/export/index.js";
import { decodeModel, encodeModel } from "../../src/export/onnx-proto.js";
import { argmaxRows, bitsOf, exportCases, maxAbsDiff, type ExportCase } from "../helpers/export-models.js";

const TOLERANCE = 1e-5;

type Session = ortNode.InferenceSession | ortWeb.InferenceSession;

/** Runs an ONNX model on (rows, …shape) inputs in either onnxruntime. */
async function runOrt(ort: typeof ortNode | typeof ortWeb, bytes: Uint8Array, x: Float32Array, dims: number[]): Promise<Float32Array> {
  const session: Session = await (ort.InferenceSession as typeof ortWeb.InferenceSession).create(bytes);
  try {
    const result = await session.run({ input: new ort.Tensor("float32", x, dims) as ortWeb.Tensor });
    return result.logits!.data as Float32Array;
  } finally {
    await session.release();
  }
}

/** Loads a toTfjs export from memory, as a page would from model.json and its weights file. */
async function runTfjs(exported: TfjsExport, x: Float32Array, dims: number[]): Promise<Float32Array> {
  const { modelJson, weights } = exported;
  const model = await tfl.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: modelJson.modelTopology as unknown as tf.io.ModelJSON["modelTopology"],
      weightSpecs: modelJson.weightsManifest[0].weights as tf.io.WeightsManifestEntry[],
      weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer,
    }),
  );
  try {
    return tf.tidy(() => (model.predict(tf.tensor(x, dims)) as tf.Tensor).dataSync() as Float32Array).slice();
  } finally {
    model.dispose();
  }
}

const dimsOf = (c: ExportCase) => [c.rows, ...c.model.inputShape];

/** runtime → case → max |difference| (printed at the end). */
const measured = new Map<string, Map<string, number>>();
function record(runtime: string, name: string, diff: number): void {
  if (!measured.has(runtime)) measured.set(runtime, new Map());
  measured.get(runtime)!.set(name, diff);
}

function expectClose(runtime: string, c: ExportCase, got: Float32Array): void {
  const want = c.model.logits(c.x);
  const diff = maxAbsDiff(got, want);
  record(runtime, c.name, diff);
  expect(diff, `${runtime}, ${c.name}: max |difference|`).toBeLessThanOrEqual(TOLERANCE);
  expect(argmaxRows(got, c.rows), `${runtime}, ${c.name}: argmax`).toEqual(argmaxRows(want, c.rows));
}

let cases: ExportCase[];

beforeAll(async () => {
  await init();
  tfWasm.setWasmPaths(fileURLToPath(new URL("../../node_modules/@tensorflow/tfjs-backend-wasm/dist/", import.meta.url))); // its .wasm, no fetch
  tfWasm.setThreadsCount(1);
  await tf.setBackend("cpu");
  ortWeb.env.wasm.numThreads = 1;
  ortWeb.env.wasm.wasmPaths = new URL("../../node_modules/onnxruntime-web/dist/", import.meta.url).href; // its .wasm, no fetch
  ortWeb.env.logLevel = "error";
  cases = await exportCases();
});

afterAll(() => {
  for (const c of cases ?? []) c.model.dispose();
  const lines = [...measured].flatMap(([runtime, byCase]) =>
    [...byCase].map(([name, d]) => `  ${runtime.padEnd(28)} ${name.padEnd(70)} ${d.toExponential(2)}`),
  );
  if (lines.length) console.log(`export: max |runtime logits − model.logits|\n${lines.join("\n")}`);
});

describe("toOnnx: onnxruntime gives our logits", () => {
  for (const [runtime, ort] of [
    ["onnxruntime-node", ortNode],
    ["onnxruntime-web (wasm)", ortWeb],
  ] as const) {
    it(`${runtime}: every test model within ${TOLERANCE}, same argmax`, async () => {
      for (const c of cases) expectClose(runtime, c, await runOrt(ort, toOnnx(c.model), c.x, dimsOf(c)));
    });
  }

  it("the batch dimension is dynamic: one model runs 1 row and many", async () => {
    const c = cases[1]!;
    const bytes = toOnnx(c.model);
    const width = c.model.inputs;
    const one = await runOrt(ortNode, bytes, c.x.subarray(0, width), [1, width]);
    const all = await runOrt(ortNode, bytes, c.x, [c.rows, width]);
    expect(maxAbsDiff(one, all.subarray(0, c.model.outputs))).toBeLessThanOrEqual(TOLERANCE);
  });

  it(`every opset from ${ONNX_OPSETS.min} to ${ONNX_OPSETS.max} runs (gelu as nodes before 20, the Gelu operator from 20)`, async () => {
    const c = cases[1]!; // every activation, gelu included
    for (let opset = ONNX_OPSETS.min; opset <= ONNX_OPSETS.max; opset++) {
      const bytes = toOnnx(c.model, { opset });
      const ops = decodeModel(bytes, "test").graph!.node!.map((n) => n.op_type);
      expect(ops.includes("Gelu"), `opset ${opset}`).toBe(opset >= 20);
      expectClose(`onnxruntime-node, opset ${opset}`, c, await runOrt(ortNode, bytes, c.x, dimsOf(c)));
      expectClose(`onnxruntime-web, opset ${opset}`, c, await runOrt(ortWeb, bytes, c.x, dimsOf(c)));
    }
  });

  it("names, shapes and metadata: input (batch, …), logits (batch, classes), PyTorch's weight names, the architecture", () => {
    const c = cases[3]!; // the CNN
    const proto = decodeModel(toOnnx(c.model), "test");
    expect(proto.ir_version).toBe(8);
    expect(proto.opset_import).toEqual([{ domain: "", version: 17 }]);
    expect(proto.producer_name).toBe("distill-wasm");
    const [input] = proto.graph!.input!;
    expect(input!.name).toBe("input");
    expect(input!.type!.tensor_type!.shape!.dim).toEqual([{ dim_param: "batch" }, { dim_value: 1 }, { dim_value: 28 }, { dim_value: 28 }]);
    const [output] = proto.graph!.output!;
    expect(output!.name).toBe("logits");
    expect(output!.type!.tensor_type!.shape!.dim).toEqual([{ dim_param: "batch" }, { dim_value: 10 }]);
    const names = proto.graph!.initializer!.map((t) => t.name).sort();
    expect(names).toEqual([...c.model.namedParameters(), ...c.model.namedBuffers()].map((p) => p.name).sort());
    expect(proto.graph!.node!.map((n) => n.op_type)).toEqual([
      "Conv",
      "Relu",
      "MaxPool",
      "Conv",
      "BatchNormalization",
      "Relu",
      "AveragePool",
      "Flatten",
      "Gemm",
    ]);
    const meta = Object.fromEntries(proto.metadata_props!.map((p) => [p.key, p.value]));
    expect(JSON.parse(meta.architecture!)).toEqual(c.model.specs);
    expect(JSON.parse(meta.input_shape!)).toEqual([1, 28, 28]);
    expect(meta.distill_wasm_version).toBe(proto.producer_version);
  });
});

describe("a model of dropout alone (the identity at inference)", () => {
  it("is an Identity node, a linear activation in TensorFlow.js, and comes back as itself", async () => {
    const model = new Sequential([dropout(0.5)], { inputShape: [4] });
    const x = Float32Array.from([1, -2, 3, -4, 0.5, 0, -0.25, 8]);
    const onnx = toOnnx(model);
    expect(decodeModel(onnx, "test").graph!.node!.map((n) => n.op_type)).toEqual(["Identity"]);
    expect(Array.from(await runOrt(ortNode, onnx, x, [2, 4]))).toEqual(Array.from(x));
    expect(Array.from(await runTfjs(toTfjs(model), x, [2, 4]))).toEqual(Array.from(x));
    const back = fromOnnx(onnx);
    expect(back.specs).toEqual(model.specs);
    expect(Array.from(back.logits(x))).toEqual(Array.from(x));
    back.dispose();
    model.dispose();
  });
});

describe("fromOnnx: the exported model back, bit for bit", () => {
  function expectSameModel(a: Sequential, b: Sequential, x: Float32Array): void {
    expect(b.specs).toEqual(a.specs);
    expect(b.inputShape).toEqual(a.inputShape);
    expect([...b.namedParameters(), ...b.namedBuffers()].map((p) => p.name)).toEqual([...a.namedParameters(), ...a.namedBuffers()].map((p) => p.name));
    expect(bitsOf(b.logits(x))).toEqual(bitsOf(a.logits(x)));
  }

  it("every test model: the same layers (dropout included), tensors and logits", () => {
    for (const c of cases) {
      const back = fromOnnx(toOnnx(c.model));
      try {
        expectSameModel(c.model, back, c.x);
      } finally {
        back.dispose();
      }
    }
  });

  it("at every opset", () => {
    for (const c of [cases[1]!, cases[3]!]) {
      for (let opset = ONNX_OPSETS.min; opset <= ONNX_OPSETS.max; opset++) {
        const back = fromOnnx(toOnnx(c.model, { opset }));
        expect(bitsOf(back.logits(c.x)), `${c.name}, opset ${opset}`).toEqual(bitsOf(c.model.logits(c.x)));
        back.dispose();
      }
    }
  });

  it("without the metadata, from the graph alone: the layers but dropout, the same logits", () => {
    const c = cases[1]!;
    const proto = decodeModel(toOnnx(c.model), "test");
    delete proto.metadata_props;
    const back = fromOnnx(encodeModel(proto));
    try {
      expect(back.specs.map((s) => s.type)).toEqual(c.model.specs.filter((s) => s.type !== "dropout").map((s) => s.type));
      expect(bitsOf(back.logits(c.x))).toEqual(bitsOf(c.model.logits(c.x)));
    } finally {
      back.dispose();
    }
  });

  it("metadata that disagrees with the graph, or is no valid layer list, is ignored: the graph decides", () => {
    const model = new Sequential([dense(6, 4), gelu(), dense(4, 3)], { seed: 9 });
    const proto = decodeModel(toOnnx(model), "test");
    proto.metadata_props = [{ key: "architecture", value: JSON.stringify([{ type: "dense", inputs: 6, outputs: 3 }]) }];
    const x = Float32Array.from({ length: 12 }, (_, i) => i / 4 - 1);
    const invalid = [
      "not json",
      "{}",
      JSON.stringify([{ type: "conv2d" }, { type: "activation", name: "gelu" }, { type: "dense", inputs: 4, outputs: 3 }]),
      "[null]",
    ];
    for (const value of [proto.metadata_props[0]!.value!, ...invalid]) {
      proto.metadata_props = [{ key: "architecture", value }];
      const back = fromOnnx(encodeModel(proto));
      expect(
        back.specs.map((s) => s.type),
        value,
      ).toEqual(["dense", "activation", "dense"]);
      expect(bitsOf(back.logits(x))).toEqual(bitsOf(model.logits(x)));
      back.dispose();
    }
    model.dispose();
  });
});

describe("toTfjs: TensorFlow.js layers gives our logits", () => {
  for (const backend of ["cpu", "wasm"]) {
    it(`every test model within ${TOLERANCE}, same argmax (${backend} backend)`, async () => {
      await tf.setBackend(backend);
      try {
        for (const c of cases) expectClose(`tfjs-layers (${backend})`, c, await runTfjs(toTfjs(c.model), c.x, dimsOf(c)));
      } finally {
        await tf.setBackend("cpu");
      }
    });
  }

  it("float16 weights: half the bytes, and the logits of the model with its weights rounded to half precision", async () => {
    for (const c of [cases[0]!, cases[3]!]) {
      const full = toTfjs(c.model);
      const half = toTfjs(c.model, { float16: true });
      expect(half.weights.length * 2).toBe(full.weights.length);
      expect(half.modelJson.weightsManifest[0].weights.every((w) => w.quantization?.dtype === "float16")).toBe(true);
      const rounded = new Sequential(c.model.specs, { inputShape: c.model.inputShape });
      try {
        for (const p of [...c.model.namedParameters(), ...c.model.namedBuffers()]) rounded.setParameter(p.name, roundToF16(c.model.getParameter(p.name)));
        const got = await runTfjs(half, c.x, dimsOf(c));
        const diff = maxAbsDiff(got, rounded.logits(c.x));
        record("tfjs-layers (cpu), float16", c.name, diff);
        expect(diff).toBeLessThanOrEqual(TOLERANCE);
        expect(argmaxRows(got, c.rows)).toEqual(argmaxRows(rounded.logits(c.x), c.rows));
      } finally {
        rounded.dispose();
      }
    }
  });

  it("model.json: a layers-model naming one weights file that holds every tensor once", () => {
    const c = cases[3]!;
    const { modelJson, weights } = toTfjs(c.model);
    expect(modelJson.format).toBe("layers-model");
    expect(modelJson.weightsManifest).toHaveLength(1);
    expect(modelJson.weightsManifest[0].paths).toEqual([TFJS_WEIGHTS_FILE]);
    const floats = [...c.model.namedParameters(), ...c.model.namedBuffers()].reduce((n, p) => n + p.length, 0);
    expect(weights.length).toBe(floats * 4);
    const json = JSON.parse(JSON.stringify(modelJson)) as typeof modelJson;
    expect(json.modelTopology.config.layers[0]!.config.batch_input_shape).toEqual([null, 1, 28, 28]);
    expect(JSON.parse(json.userDefinedMetadata.distill_wasm.architecture)).toEqual(c.model.specs);
  });

  it("an MLP's Dense kernels are the transposed nn.Linear weights", () => {
    const model = mlp([3, 2], { seed: 1 });
    const { weights, modelJson } = toTfjs(model);
    const w = model.getParameter("0.weight"); // (2, 3)
    const kernel = new Float32Array(weights.buffer, weights.byteOffset, 6); // (3, 2)
    expect(modelJson.weightsManifest[0].weights[0]).toEqual({ name: "dense_0/kernel", shape: [3, 2], dtype: "float32" });
    for (let i = 0; i < 3; i++) for (let o = 0; o < 2; o++) expect(kernel[i * 2 + o]).toBe(w[o * 3 + i]);
    model.dispose();
  });
});

const PYTHON = "/usr/bin/python3";
const CHECKER = fileURLToPath(new URL("../fixtures/export/check_onnx.py", import.meta.url));
const onnxMissing = !existsSync(PYTHON)
  ? `${PYTHON} does not exist`
  : spawnSync(PYTHON, ["-c", "import onnx, numpy"], { encoding: "utf8" }).status !== 0
    ? `${PYTHON} cannot import onnx and numpy (apt-get install python3-onnx)`
    : "";
if (onnxMissing) console.log(`export: the ONNX checker is skipped: ${onnxMissing}`);

describe.skipIf(onnxMissing !== "")("the ONNX project's checker (Python onnx, optional)", () => {
  it("every test model at opsets 13 and 17 passes onnx.checker (full check) and strict shape inference", () => {
    const dir = mkdtempSync(join(tmpdir(), "distill-onnx-check-"));
    const args: string[] = [];
    cases.forEach((c, i) => {
      const inputs = join(dir, `x${i}.npy`);
      writeFileSync(inputs, encodeNpy(c.x, dimsOf(c)));
      for (const opset of [13, 17]) {
        const file = join(dir, `m${i}-${opset}.onnx`);
        writeFileSync(file, toOnnx(c.model, { opset }));
        args.push(file, inputs);
      }
    });
    const r = spawnSync(PYTHON, [CHECKER, ...args], { encoding: "utf8", timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as {
      onnxruntime_version: string | null;
      models: { opset: number; output_shape: (string | number)[]; logits: number[][] | null }[];
    };
    expect(report.models).toHaveLength(cases.length * 2);
    report.models.forEach((m, j) => {
      const c = cases[Math.floor(j / 2)]!;
      expect(m.opset).toBe(j % 2 === 0 ? 13 : 17);
      expect(m.output_shape).toEqual(["batch", c.model.outputs]);
      // Debian has no onnxruntime module; where one is installed, it runs the models too.
      if (m.logits) expectClose(`onnxruntime ${report.onnxruntime_version} (Python)`, c, Float32Array.from(m.logits.flat()));
    });
  });
});
