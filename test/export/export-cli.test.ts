/**
 * `distill-wasm export`, run as a user runs it (a child process of the built CLI), and the
 * package's `distill-wasm/export` entry: the files it writes load in onnxruntime and
 * TensorFlow.js with the saved model's logits; usage mistakes exit 2 before any file is
 * written; an output naming the input is refused; `import "distill-wasm"` reaches no
 * export module and no protobufjs; Node, Deno and Bun load `distill-wasm/export` by name
 * and export the same bytes.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import * as tfl from "@tensorflow/tfjs-layers";
import * as ort from "onnxruntime-node";
import { beforeAll, describe, expect, it } from "vitest";
import { avgPool2d, batchNorm, conv2d, dense, flatten, init, maxPool2d, relu, saveModel, Sequential } from "../../src/index.js";
import { maxAbsDiff, randomiseBatchNorm } from "../helpers/export-models.js";
import { TestRandom } from "../helpers/rand.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CLI = join(ROOT, "dist/cli/main.js");

function cli(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

let dir: string;
let model: Sequential;
const x = new TestRandom(21).uniform(5 * 2 * 8 * 8, -1, 1);

beforeAll(async () => {
  await init();
  await tf.setBackend("cpu");
  dir = mkdtempSync(join(tmpdir(), "distill-export-"));
  model = new Sequential([conv2d(2, 3, 3, { padding: 1 }), batchNorm(3), relu(), avgPool2d(2), flatten(), dense(48, 4)], { seed: 7, inputShape: [2, 8, 8] });
  randomiseBatchNorm(model, 8);
  await saveModel(model, join(dir, "m.safetensors"));
});

describe("distill-wasm export", () => {
  it("--help lists its flags; the overview lists the command", () => {
    const help = cli(["export", "--help"], dir);
    expect(help.code).toBe(0);
    for (const flag of ["--model", "--format", "--out", "--opset", "--float16"]) expect(help.out).toContain(flag);
    expect(cli(["--help"], dir).out).toMatch(/export +a saved model as ONNX or as a TensorFlow.js layers model/);
  });

  it("--format onnx writes a file onnxruntime runs with the model's logits", async () => {
    const r = cli(["export", "--model", "m.safetensors", "--format", "onnx", "--out", "m.onnx", "--opset", "18"], dir);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/ONNX opset 18/);
    const session = await ort.InferenceSession.create(join(dir, "m.onnx"));
    const got = (await session.run({ input: new ort.Tensor("float32", x, [5, 2, 8, 8]) })).logits!.data as Float32Array;
    await session.release();
    expect(maxAbsDiff(got, model.logits(x))).toBeLessThanOrEqual(1e-5);
  });

  it("--format tfjs fills a folder with model.json and its weights, which TensorFlow.js loads; --json reports the files", async () => {
    const r = cli(["export", "--model", "m.safetensors", "--format", "tfjs", "--out", "web/model", "--float16", "--json"], dir);
    expect(r.code, r.err).toBe(0);
    const report = JSON.parse(r.out);
    expect(report).toMatchObject({ command: "export", format: "tfjs", float16: true, out: "web/model" });
    expect(readdirSync(join(dir, "web/model")).sort()).toEqual(["model.json", "model.weights.bin"]);
    expect(report.files.map((f: { path: string }) => f.path)).toEqual(["web/model/model.json", "web/model/model.weights.bin"]);
    const json = JSON.parse(readFileSync(join(dir, "web/model/model.json"), "utf8"));
    const bin = readFileSync(join(dir, "web/model/model.weights.bin"));
    const loaded = await tfl.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest[0].weights,
        weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
      }),
    );
    const got = tf.tidy(() => (loaded.predict(tf.tensor(x, [5, 2, 8, 8])) as tf.Tensor).dataSync().slice());
    loaded.dispose();
    // float16 weights: within half-precision rounding of the float32 logits
    expect(maxAbsDiff(got, model.logits(x))).toBeLessThan(2e-2);
  });

  const usage: [string, string[], RegExp][] = [
    ["no --model", ["export", "--out", "a.onnx"], /--model is required/],
    ["no --out", ["export", "--model", "m.safetensors"], /--out is required/],
    ["a bad --format", ["export", "--model", "m.safetensors", "--format", "tflite", "--out", "a.tflite"], /--format must be onnx or tfjs; got "tflite"/],
    ["a bad --opset", ["export", "--model", "m.safetensors", "--out", "a.onnx", "--opset", "12"], /toOnnx: opset must be an integer ≥ 13 ≤ 21; got 12/],
    ["--opset with tfjs", ["export", "--model", "m.safetensors", "--format", "tfjs", "--out", "t", "--opset", "17"], /--opset applies to --format onnx only/],
    ["--float16 with onnx", ["export", "--model", "m.safetensors", "--out", "a.onnx", "--float16"], /--float16 applies to --format tfjs only/],
    [
      "--out naming the input",
      ["export", "--model", "m.safetensors", "--out", "./m.safetensors"],
      /--out \.\/m\.safetensors is the same file as the input --model m\.safetensors/,
    ],
  ];
  for (const [what, args, message] of usage) {
    it(`${what}: exit 2, one line naming it, nothing written`, () => {
      const before = readFileSync(join(dir, "m.safetensors"));
      const r = cli(args, dir);
      expect(r.code, r.err).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.err.trim().split("\n")).toHaveLength(1);
      expect(existsSync(join(dir, "a.onnx"))).toBe(false);
      expect(readFileSync(join(dir, "m.safetensors")).equals(before)).toBe(true);
    });
  }

  it("a layer TensorFlow.js cannot express: exit 1 naming it, no file written", async () => {
    const padded = new Sequential([conv2d(1, 2, 3, { padding: 1 }), maxPool2d(2, { padding: 1 }), flatten(), dense(32, 3)], { seed: 1, inputShape: [1, 6, 6] });
    await saveModel(padded, join(dir, "padded.safetensors"));
    padded.dispose();
    const r = cli(["export", "--model", "padded.safetensors", "--format", "tfjs", "--out", "padded-web"], dir);
    expect(r.code, r.err).toBe(1);
    expect(r.err).toMatch(/layer 1 \(maxPool2d, kernel 2, stride 2, padding 1 on 6×6\) cannot be written as a TensorFlow.js layer/);
    expect(readdirSync(join(dir, "padded-web"))).toEqual([]);
    expect(cli(["export", "--model", "padded.safetensors", "--out", "padded.onnx"], dir).code).toBe(0);
  });

  it("a model file that is not there: exit 1", () => {
    const r = cli(["export", "--model", "missing.safetensors", "--out", "b.onnx"], dir);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/missing\.safetensors/);
  });
});

describe("the distill-wasm/export entry", () => {
  /** Relative static imports of a dist module, resolved, recursively. */
  function staticGraph(entry: string): { modules: Set<string>; bare: Set<string> } {
    const modules = new Set<string>();
    const bare = new Set<string>();
    const visit = (file: string) => {
      if (modules.has(file)) return;
      modules.add(file);
      const source = readFileSync(file, "utf8");
      for (const m of source.matchAll(/^\s*(?:import|export)\b[^"';]*?from\s*["']([^"']+)["']|^\s*import\s*["']([^"']+)["']/gm)) {
        const spec = m[1] ?? m[2]!;
        if (spec.startsWith(".")) visit(resolve(dirname(file), spec));
        else bare.add(spec);
      }
    };
    visit(entry);
    return { modules, bare };
  }

  it('import "distill-wasm" reaches no export module and no protobufjs', () => {
    const { modules, bare } = staticGraph(join(ROOT, "dist/index.js"));
    expect(modules.size).toBeGreaterThan(20);
    expect([...modules].map((m) => relative(join(ROOT, "dist"), m)).filter((m) => m.startsWith("export"))).toEqual([]);
    expect([...bare].filter((s) => !s.startsWith("node:"))).toEqual([]);
  });

  it("distill-wasm/export resolves through package.json's exports, with its types, and imports only protobufjs", () => {
    const script = "const m = await import('distill-wasm/export'); console.log(typeof m.toOnnx, typeof m.fromOnnx, typeof m.toTfjs);";
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: ROOT, encoding: "utf8" });
    expect(r.stdout.trim(), r.stderr).toBe("function function function");
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    expect(existsSync(join(ROOT, pkg.exports["./export"].types))).toBe(true);
    expect(pkg.dependencies.protobufjs).toMatch(/^\d+\.\d+\.\d+$/);
    const { bare } = staticGraph(join(ROOT, "dist/export/index.js"));
    expect([...bare]).toEqual(["protobufjs"]);
  });

  const runtimes: [string, string, string[]][] = [
    ["node", process.execPath, []],
    ["bun", join(ROOT, "node_modules/@oven/bun-linux-x64/bin/bun"), ["run"]],
    ["deno", join(ROOT, "node_modules/.bin/deno"), ["run", "-A"]],
  ];
  it("Node, Deno and Bun import it by name and write the same ONNX and TensorFlow.js bytes; fromOnnx gives the same logits", () => {
    const probe = join(ROOT, "test/fixtures/export/probe.mjs");
    const results = runtimes
      .filter(([, bin]) => existsSync(bin))
      .map(([name, bin, args]) => {
        const r = spawnSync(bin, [...args, probe], { cwd: ROOT, encoding: "utf8", timeout: 60_000, env: { ...process.env, DO_NOT_TRACK: "1", NO_COLOR: "1" } });
        expect(r.status, `${name}: ${r.stderr}`).toBe(0);
        return [name, JSON.parse(r.stdout.trim().split("\n").at(-1)!)] as const;
      });
    if (results.length < runtimes.length)
      console.log(
        `export: runtimes not installed: ${runtimes
          .filter(([, bin]) => !existsSync(bin))
          .map(([n]) => n)
          .join(", ")}`,
      );
    for (const [name, result] of results) {
      expect(result.roundTrip, name).toBe(true);
      expect(result, name).toEqual(results[0]![1]);
    }
  });
});
