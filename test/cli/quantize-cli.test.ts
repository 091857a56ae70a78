/**
 * `distill-wasm quantize`, run as a user runs it (a child process of the built CLI): the
 * usage mistakes it refuses before reading any data (exit 2, one line), the files it will not
 * write over, and runs whose --json numbers are checked exactly against the library: the
 * file it writes equals `quantize()` on the same seeded calibration rows, the accuracies and
 * the agreement are those of the two models' predictions, the byte counts those of the files.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { evaluate, init, loadCsv, loadModel, loadQuantized, quantize, saveModel, mlp, train, type Dataset } from "../../src/index.js";
import { blobs } from "../helpers/tiny-data.js";
import { TestRandom } from "../helpers/rand.js";

const CLI = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));
let dir: string;
let data: Dataset;

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: "utf8", timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function accuracy(ids: Int32Array, y: Int32Array): number {
  let right = 0;
  for (let i = 0; i < ids.length; i++) if (ids[i] === y[i]) right++;
  return right / ids.length;
}

beforeAll(async () => {
  const engine = await init();
  dir = mkdtempSync(join(tmpdir(), "distill-quantize-"));
  const blob = blobs({ rows: 300, features: 8, classes: 3, seed: 7, spread: 1.5 });
  const lines = ["label,f0,f1,f2,f3,f4,f5,f6,f7"];
  for (let r = 0; r < blob.length; r++) lines.push([blob.y[r], ...blob.x.subarray(r * 8, r * 8 + 8)].join(","));
  writeFileSync(join(dir, "blobs.csv"), `${lines.join("\n")}\n`);
  data = await loadCsv(join(dir, "blobs.csv"));
  const model = mlp([8, 16, 3], { seed: 2, engine });
  await train(model, data, { epochs: 3, batchSize: 32, seed: 2 });
  await saveModel(model, join(dir, "m.safetensors"));
  // A regression model: y = a − 2b on two features.
  const rnd = new TestRandom(9);
  const reg = ["a,b,y"];
  for (let r = 0; r < 120; r++) {
    const a = rnd.next(),
      b = rnd.next();
    reg.push(`${a},${b},${a - 2 * b}`);
  }
  writeFileSync(join(dir, "reg.csv"), `${reg.join("\n")}\n`);
  const regression = await loadCsv(join(dir, "reg.csv"), { task: "regression", labelColumn: "y" });
  const r = mlp([2, 8, 1], { seed: 3, engine });
  await train(r, regression, { epochs: 5, batchSize: 16, seed: 3 });
  await saveModel(r, join(dir, "reg.safetensors"));
  model.dispose();
  r.dispose();
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("distill-wasm quantize: usage and errors", () => {
  const common = ["--data", "csv:blobs.csv", "--model", "m.safetensors"];
  const usage: [string, string[], RegExp][] = [
    ["missing --model", ["quantize", "--data", "csv:blobs.csv", "--out", "q.safetensors"], /--model is required/],
    ["missing --out", ["quantize", ...common], /--out is required/],
    ["bad --weights", ["quantize", ...common, "--out", "q.safetensors", "--weights", "int4"], /--weights must be int8 or fp16; got "int4"/],
    ["bad --activations", ["quantize", ...common, "--out", "q.safetensors", "--activations", "half"], /--activations must be int8 or float; got "half"/],
    [
      "fp16 with int8 activations",
      ["quantize", ...common, "--out", "q.safetensors", "--weights", "fp16", "--activations", "int8"],
      /--weights fp16 computes in float/,
    ],
    [
      "--calibration-rows with float activations",
      ["quantize", ...common, "--out", "q.safetensors", "--activations", "float", "--calibration-rows", "10"],
      /--calibration-rows applies to --activations int8 only/,
    ],
    ["--calibration-rows 0", ["quantize", ...common, "--out", "q.safetensors", "--calibration-rows", "0"], /--calibration-rows must be ≥ 1; got 0/],
    ["--out is the --model file", ["quantize", ...common, "--out", "m.safetensors"], /--out m.safetensors is the same file as the input --model m.safetensors/],
    ["--out is the --data file", ["quantize", ...common, "--out", "blobs.csv"], /--out blobs.csv is the same file as the input --data/],
    ["bad --data", ["quantize", "--data", "parquet:x", "--model", "m.safetensors", "--out", "q.safetensors"], /--data must be mnist, idx:DIR/],
  ];
  for (const [what, args, message] of usage) {
    it(`${what}: exit 2, one line naming it, nothing written`, () => {
      const before = statSync(join(dir, "m.safetensors")).mtimeMs;
      const r = cli(...args);
      expect(r.code, r.err).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.err.trim().split("\n")).toHaveLength(1);
      expect(r.err).not.toMatch(/ at .*\.js:\d+/);
      expect(statSync(join(dir, "m.safetensors")).mtimeMs).toBe(before);
      expect(() => statSync(join(dir, "q.safetensors"))).toThrow();
    });
  }

  it("a quantized --model is refused (exit 2); a missing one and a model the data does not fit fail with exit 1 naming the problem", () => {
    expect(cli("quantize", ...common, "--out", "already.safetensors").code).toBe(0);
    const again = cli("quantize", "--data", "csv:blobs.csv", "--model", "already.safetensors", "--out", "twice.safetensors");
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/--model already.safetensors is already quantized/);
    const missing = cli("quantize", "--data", "csv:blobs.csv", "--model", "nope.safetensors", "--out", "q2.safetensors");
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/nope\.safetensors/);
    const misfit = cli("quantize", "--data", "csv:reg.csv", "--task", "regression", "--label", "y", "--model", "m.safetensors", "--out", "q3.safetensors");
    expect(misfit.code).toBe(1);
    expect(misfit.err).toMatch(/2 features per sample but the model takes 8 inputs/);
    expect(misfit.err.trim().split("\n")).toHaveLength(1);
    for (const f of ["twice", "q2", "q3"]) expect(() => statSync(join(dir, `${f}.safetensors`))).toThrow();
  });
});

describe("distill-wasm quantize: runs", () => {
  it("int8: the file equals quantize() on the same seeded calibration rows; the --json numbers are the models' own", async () => {
    const r = cli(
      "quantize",
      "--data",
      "csv:blobs.csv",
      "--model",
      "m.safetensors",
      "--out",
      "q8.safetensors",
      "--calibration-rows",
      "50",
      "--seed",
      "4",
      "--json",
    );
    expect(r.code, r.err).toBe(0);
    const doc = JSON.parse(r.out);
    const engine = await init();
    const model = await loadModel(join(dir, "m.safetensors"));
    const sample = data.shuffled(4, { engine }).slice(0, 50);
    const expected = quantize(model, sample, { weights: "int8", activations: "int8" });
    const written = await loadQuantized(join(dir, "q8.safetensors"));
    try {
      expect(written.weights).toBe("int8");
      expect(written.activations).toBe("int8");
      expect(Array.from(written.logits(data.x))).toEqual(Array.from(expected.logits(data.x)));
      const floatIds = model.predict(data.x) as Int32Array;
      const int8Ids = written.predict(data.x) as Int32Array;
      let same = 0;
      for (let i = 0; i < floatIds.length; i++) if (floatIds[i] === int8Ids[i]) same++;
      expect(doc).toMatchObject({
        command: "quantize",
        model: "m.safetensors",
        out: "q8.safetensors",
        architecture: "8-16-3",
        weights: "int8",
        activations: "int8",
        calibrationRows: 50,
        rows: 300,
        fileBytes: { float: statSync(join(dir, "m.safetensors")).size, quantized: statSync(join(dir, "q8.safetensors")).size },
        parameterBytes: { float: model.parameterBytes, quantized: written.parameterBytes },
        float: { accuracy: accuracy(floatIds, data.y) },
        quantized: { accuracy: accuracy(int8Ids, data.y) },
        agreement: same / data.length,
      });
      expect(doc.fileBytes.quantized).toBeLessThan(doc.fileBytes.float);
      const meta = JSON.parse(
        new TextDecoder().decode(
          readFileSync(join(dir, "q8.safetensors")).subarray(8, 8 + Number(readFileSync(join(dir, "q8.safetensors")).readBigUInt64LE(0))),
        ),
      );
      expect(meta.__metadata__).toMatchObject({ quantized_from: "m.safetensors", calibration_rows: "50" });
    } finally {
      for (const m of [model, expected, written]) m.dispose();
    }
  });

  it("more --calibration-rows than training rows calibrates on all of them; the text output names size and both accuracies", () => {
    const r = cli("quantize", "--data", "csv:blobs.csv", "--model", "m.safetensors", "--out", "qall.safetensors", "--calibration-rows", "5000");
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/activation scales from 300 training rows/);
    expect(r.out).toMatch(/^size {6}\d+\.\d KB → \d+\.\d KB \(\d+\.\d× smaller\)$/m);
    expect(r.out).toMatch(/^accuracy {2}float \d+\.\d\d% → quantized \d+\.\d\d% \(all 300 rows \(no test set\)\); same class on \d+\.\d\d% of the rows$/m);
  });

  it("fp16 weights: float compute, no calibration, the same classes; --test-split measures on the held-out rows", async () => {
    const r = cli(
      "quantize",
      "--data",
      "csv:blobs.csv",
      "--test-split",
      "0.2",
      "--model",
      "m.safetensors",
      "--out",
      "q16.safetensors",
      "--weights",
      "fp16",
      "--json",
    );
    expect(r.code, r.err).toBe(0);
    const doc = JSON.parse(r.out);
    expect(doc.weights).toBe("fp16");
    expect(doc.activations).toBe("float");
    expect(doc.calibrationRows).toBeUndefined();
    expect(doc.rows).toBe(60);
    const model = await loadModel(join(dir, "m.safetensors"));
    const half = await loadQuantized(join(dir, "q16.safetensors"));
    const expected = quantize(model, undefined, { weights: "fp16" });
    try {
      expect(Array.from(half.logits(data.x))).toEqual(Array.from(expected.logits(data.x)));
    } finally {
      for (const m of [model, half, expected]) m.dispose();
    }
  });

  it("eval reads a quantized file as the int8 model it is: the library's evaluate() numbers, text and --json", async () => {
    expect(cli("quantize", "--data", "csv:blobs.csv", "--model", "m.safetensors", "--out", "for-eval.safetensors").code).toBe(0);
    const q = await loadQuantized(join(dir, "for-eval.safetensors"));
    const want = evaluate(q, data);
    q.dispose();
    const json = cli("eval", "--data", "csv:blobs.csv", "--model", "for-eval.safetensors", "--json");
    expect(json.code, json.err).toBe(0);
    const got = JSON.parse(json.out) as { accuracy: number; nll: number; ece: number; rows: number; quantized: { weights: string; activations: string } };
    expect(got).toMatchObject({
      accuracy: want.accuracy,
      nll: want.nll,
      ece: want.ece,
      rows: data.length,
      quantized: { weights: "int8", activations: "int8" },
    });
    const text = cli("eval", "--data", "csv:blobs.csv", "--model", "for-eval.safetensors");
    expect(text.code, text.err).toBe(0);
    expect(text.out).toMatch(/for-eval\.safetensors: quantized model \(int8 weights, int8 activations/);
    expect(text.out).toContain(`accuracy ${(100 * want.accuracy).toFixed(2)}%`);
  });

  it("a regression model: RMSE of the float and the quantized outputs against the targets", async () => {
    const r = cli(
      "quantize",
      "--data",
      "csv:reg.csv",
      "--task",
      "regression",
      "--label",
      "y",
      "--model",
      "reg.safetensors",
      "--out",
      "reg8.safetensors",
      "--json",
    );
    expect(r.code, r.err).toBe(0);
    const doc = JSON.parse(r.out);
    const set = await loadCsv(join(dir, "reg.csv"), { task: "regression", labelColumn: "y" });
    const written = await loadQuantized(join(dir, "reg8.safetensors"));
    const model = await loadModel(join(dir, "reg.safetensors"));
    const rmse = (y: Float32Array) => Math.sqrt(y.reduce((s, v, i) => s + (v - set.targets![i]!) ** 2, 0) / y.length);
    try {
      expect(doc.float).toEqual({ rmse: rmse(model.logits(set.x)) });
      expect(doc.quantized).toEqual({ rmse: rmse(written.logits(set.x)) });
      expect(doc.agreement).toBeUndefined();
      // Both files record the task, so both models predict their outputs, not a class id.
      expect([model.task, written.task]).toEqual(["regression", "regression"]);
      expect(Array.from(written.predict(set.x))).toEqual(Array.from(written.logits(set.x)));
    } finally {
      written.dispose();
      model.dispose();
    }
    const text = cli("quantize", "--data", "csv:reg.csv", "--task", "regression", "--label", "y", "--model", "reg.safetensors", "--out", "reg8b.safetensors");
    expect(text.out).toMatch(/^RMSE {6}float \S+ → quantized \S+ \(all 120 rows \(no test set\)\)$/m);
    // The same file on class labels (two features and one class, so that the data fits its shape): refused, naming the task, before anything is written.
    writeFileSync(join(dir, "labels2.csv"), "label,a,b\n0,0.1,0.2\n0,0.5,0.3\n0,0.2,0.9\n0,0.7,0.4\n");
    const blobs = cli("quantize", "--data", "csv:labels2.csv", "--model", "reg.safetensors", "--out", "reg8c.safetensors");
    expect(blobs.code).toBe(1);
    expect(blobs.err).toMatch(/reg\.safetensors is a regression model .* give --task regression/);
    expect(() => statSync(join(dir, "reg8c.safetensors"))).toThrow();
    const evaluated = cli("eval", "--data", "csv:labels2.csv", "--model", "reg.safetensors");
    expect(evaluated.code).toBe(1);
    expect(evaluated.err).toMatch(/evaluate: the model is a regression model .* Dataset\.regression data/);
  });
});
