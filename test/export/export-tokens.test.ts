/**
 * Token models through distill-wasm/export: embedding, embeddingBag (mean, padding left out)
 * and layerNorm exported with toOnnx run in onnxruntime-node and onnxruntime-web at every
 * opset (layerNorm as nodes before 17, LayerNormalization from 17), and exported with toTfjs
 * in TensorFlow.js layers (cpu and wasm backends), each giving `model.logits(x)` within 1e-5
 * and the same argmax, on inputs holding rows of padding only; the ONNX project's checker
 * validates them where /usr/bin/python3 has onnx. The task metadata (regression, multi-label)
 * reaches both formats and comes back through fromOnnx.
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
import { FormatError, encodeNpy, init, mlp } from "../../src/index.js";
import { fromOnnx, ONNX_OPSETS, toOnnx, toTfjs, type TfjsExport } from "../../src/export/index.js";
import { decodeModel } from "../../src/export/onnx-proto.js";
import { argmaxRows, maxAbsDiff, tokenExportCases, type ExportCase } from "../helpers/export-models.js";

const TOLERANCE = 1e-5;

type Session = ortNode.InferenceSession | ortWeb.InferenceSession;

async function runOrt(ort: typeof ortNode | typeof ortWeb, bytes: Uint8Array, x: Float32Array, dims: number[]): Promise<Float32Array> {
  const session: Session = await (ort.InferenceSession as typeof ortWeb.InferenceSession).create(bytes);
  try {
    const result = await session.run({ input: new ort.Tensor("float32", x, dims) as ortWeb.Tensor });
    return result.logits!.data as Float32Array;
  } finally {
    await session.release();
  }
}

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

const measured: string[] = [];
function expectClose(runtime: string, c: ExportCase, got: Float32Array): void {
  const want = c.model.logits(c.x);
  const diff = maxAbsDiff(got, want);
  measured.push(`  ${runtime.padEnd(32)} ${c.name.padEnd(44)} ${diff.toExponential(2)}`);
  expect(diff, `${runtime}, ${c.name}: max |difference|`).toBeLessThanOrEqual(TOLERANCE);
  expect(argmaxRows(got, c.rows), `${runtime}, ${c.name}: argmax`).toEqual(argmaxRows(want, c.rows));
}

let cases: ExportCase[];

beforeAll(async () => {
  await init();
  tfWasm.setWasmPaths(fileURLToPath(new URL("../../node_modules/@tensorflow/tfjs-backend-wasm/dist/", import.meta.url)));
  tfWasm.setThreadsCount(1);
  await tf.setBackend("cpu");
  ortWeb.env.wasm.numThreads = 1;
  ortWeb.env.wasm.wasmPaths = new URL("../../node_modules/onnxruntime-web/dist/", import.meta.url).href;
  ortWeb.env.logLevel = "error";
  cases = tokenExportCases();
});

afterAll(() => {
  for (const c of cases ?? []) c.model.dispose();
  if (measured.length) console.log(`export (token layers): max |runtime logits − model.logits|\n${measured.join("\n")}`);
});

describe("toOnnx of token models: onnxruntime gives our logits", () => {
  it("the inputs hold a row of padding only, a row without padding and padding ids inside rows", () => {
    const bag = cases[1]!;
    const seq = 12;
    expect(Array.from(bag.x.subarray(0, seq))).toEqual(Array(seq).fill(3));
    expect(Array.from(bag.x.subarray(seq, 2 * seq)).includes(3)).toBe(false);
    // The bag of a padding-only row is zeros, so the logits of row 0 are layerNorm(0)·γ + β through the head: finite.
    expect(bag.model.logits(bag.x).every(Number.isFinite)).toBe(true);
  });

  for (const [runtime, ort] of [
    ["onnxruntime-node", ortNode],
    ["onnxruntime-web (wasm)", ortWeb],
  ] as const) {
    it(`${runtime}: every token model at every opset from ${ONNX_OPSETS.min} to ${ONNX_OPSETS.max}, within ${TOLERANCE}`, async () => {
      for (let opset = ONNX_OPSETS.min; opset <= ONNX_OPSETS.max; opset++) {
        for (const c of cases) expectClose(`${runtime}, opset ${opset}`, c, await runOrt(ort, toOnnx(c.model, { opset }), c.x, dimsOf(c)));
      }
    });
  }

  it("writes Cast and Gather, the masked ReduceSum, and LayerNormalization from opset 17 (its formula before)", () => {
    const ops = (c: ExportCase, opset: number) => (decodeModel(toOnnx(c.model, { opset }), "m").graph!.node ?? []).map((n) => n.op_type);
    expect(ops(cases[0]!, 17).slice(0, 3)).toEqual(["Cast", "Gather", "LayerNormalization"]);
    expect(ops(cases[0]!, 16)).not.toContain("LayerNormalization");
    expect(ops(cases[0]!, 16).slice(2, 5)).toEqual(["ReduceMean", "Sub", "Mul"]);
    expect(ops(cases[1]!, 17).slice(0, 11)).toEqual(["Cast", "Gather", "Equal", "Not", "Cast", "Unsqueeze", "Mul", "ReduceSum", "ReduceSum", "Max", "Div"]);
    expect(ops(cases[2]!, 17)).toEqual(["Cast", "Gather", "ReduceSum", "Div", "Gemm"]);
    const init = decodeModel(toOnnx(cases[1]!.model), "m").graph!.initializer!.map((t) => t.name);
    expect(init).toContain("0.weight");
    expect(init).toContain("1.weight");
    expect(init).toContain("1.bias");
  });

  it("fromOnnx refuses a token model, naming the operator it does not read", () => {
    expect(() => fromOnnx(toOnnx(cases[0]!.model))).toThrow(FormatError);
    expect(() => fromOnnx(toOnnx(cases[0]!.model))).toThrow(/operator "Cast" is not supported/);
  });
});

describe("toTfjs of token models: TensorFlow.js layers gives our logits", () => {
  for (const backend of ["cpu", "wasm"]) {
    it(`every token model within ${TOLERANCE}, same argmax (${backend} backend)`, async () => {
      await tf.setBackend(backend);
      try {
        for (const c of cases) expectClose(`tfjs-layers (${backend})`, c, await runTfjs(toTfjs(c.model), c.x, dimsOf(c)));
      } finally {
        await tf.setBackend("cpu");
      }
    });
  }

  it("the bag with a padding id: its table with the padding row zeroed and a score table of 0 and −10⁴", () => {
    const c = cases[1]!;
    const { modelJson, weights } = toTfjs(c.model);
    const specs = modelJson.weightsManifest[0].weights;
    expect(specs.map((w) => [w.name, w.shape])).toEqual([
      ["embedding_0/embeddings", [50, 8]],
      ["embedding_0_score/embeddings", [50, 1]],
      ["layer_normalization_1/gamma", [8]],
      ["layer_normalization_1/beta", [8]],
      ["dense_2/kernel", [8, 3]],
      ["dense_2/bias", [3]],
    ]);
    const floats = new Float32Array(weights.buffer, weights.byteOffset, weights.length / 4);
    const table = floats.subarray(0, 400);
    const w = c.model.getParameter("0.weight");
    for (let i = 0; i < 400; i++) expect(table[i]).toBe(Math.floor(i / 8) === 3 ? 0 : w[i]);
    expect(Array.from(floats.subarray(400, 450))).toEqual(Array.from({ length: 50 }, (_, id) => (id === 3 ? -1e4 : 0)));
    // The model keeps its own padding row (only the export zeroes it).
    expect(w.subarray(24, 32).some((v) => v !== 0)).toBe(true);
  });
});

describe("the task reaches the exports", () => {
  it("ONNX metadata_props and TF.js userDefinedMetadata record a regression or multi-label model's task; fromOnnx reads it back", () => {
    for (const task of ["regression", "multilabel", "classification"] as const) {
      const model = mlp([4, 6, 2], { seed: 3, task });
      const props = decodeModel(toOnnx(model), "m").metadata_props ?? [];
      const recorded = props.find((p) => p.key === "task")?.value;
      expect(recorded).toBe(task === "classification" ? undefined : task);
      expect(toTfjs(model).modelJson.userDefinedMetadata.distill_wasm.task).toBe(task === "classification" ? undefined : task);
      const back = fromOnnx(toOnnx(model));
      expect(back.task).toBe(task);
      back.dispose();
      model.dispose();
    }
  });
});

const PYTHON = "/usr/bin/python3";
const CHECKER = fileURLToPath(new URL("../fixtures/export/check_onnx.py", import.meta.url));
const onnxMissing = !existsSync(PYTHON) || spawnSync(PYTHON, ["-c", "import onnx, numpy"], { encoding: "utf8" }).status !== 0;

describe.skipIf(onnxMissing)("the ONNX project's checker (Python onnx, optional)", () => {
  it("every token model at opsets 13, 16 and 17 passes onnx.checker (full check) and strict shape inference", () => {
    const dir = mkdtempSync(join(tmpdir(), "distill-onnx-tokens-"));
    const opsets = [13, 16, 17];
    const args: string[] = [];
    cases.forEach((c, i) => {
      const inputs = join(dir, `x${i}.npy`);
      writeFileSync(inputs, encodeNpy(c.x, dimsOf(c)));
      for (const opset of opsets) {
        const file = join(dir, `m${i}-${opset}.onnx`);
        writeFileSync(file, toOnnx(c.model, { opset }));
        args.push(file, inputs);
      }
    });
    const r = spawnSync(PYTHON, [CHECKER, ...args], { encoding: "utf8", timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { models: { opset: number; output_shape: (string | number)[]; logits: number[][] | null }[] };
    expect(report.models).toHaveLength(cases.length * opsets.length);
    report.models.forEach((m, j) => {
      const c = cases[Math.floor(j / opsets.length)]!;
      expect(m.opset).toBe(opsets[j % opsets.length]);
      expect(m.output_shape).toEqual(["batch", c.model.outputs]);
      if (m.logits) expectClose(`onnxruntime (Python), opset ${m.opset}`, c, Float32Array.from(m.logits.flat()));
    });
  });
});
