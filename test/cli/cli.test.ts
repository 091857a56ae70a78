/**
 * The distill-wasm command, run as a user runs it: a child process of the built CLI.
 * Exit codes (0 ok, 2 usage, 1 failure, 130 Ctrl-C, 143 SIGTERM), one-line errors without
 * stack traces, --json documents, every command on small data, Ctrl-C, and a run killed with
 * SIGKILL mid-epoch then resumed from its checkpoint ending bit-identical to a run that
 * was never interrupted.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { decodeSafetensors, encodeNpy, init, loadMnistDigits, loadModel, quantize } from "../../src/index.js";
import { blobs } from "../helpers/tiny-data.js";
import { TestRandom } from "../helpers/rand.js";

const CLI = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

function cli(args: string[], cwd = ROOT) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: "utf8", timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** The tensors of a safetensors file, as name → bytes (metadata ignored). */
function weights(file: string): Map<string, number[]> {
  const { tensors } = decodeSafetensors(new Uint8Array(readFileSync(file)));
  return new Map([...tensors].map(([name, t]) => [name, Array.from(t.data as Float32Array)]));
}

let dir: string;
let csv: string;

beforeAll(async () => {
  await init();
  dir = mkdtempSync(join(tmpdir(), "distill-cli-"));
  const data = blobs({ rows: 300, features: 8, classes: 3, seed: 4, spread: 1.5 });
  const lines = ["label,f0,f1,f2,f3,f4,f5,f6,f7"];
  for (let r = 0; r < data.length; r++) lines.push([data.y[r], ...data.x.subarray(r * 8, r * 8 + 8)].join(","));
  csv = join(dir, "blobs.csv");
  writeFileSync(csv, `${lines.join("\n")}\n`);
});

describe("usage and errors", () => {
  it("--help lists the commands and exits 0; no command exits 2", () => {
    const help = cli(["--help"]);
    expect(help.code).toBe(0);
    for (const c of ["demo", "train", "distill", "eval", "search", "bench"]) expect(help.out).toContain(c);
    expect(cli([]).code).toBe(2);
    const trainHelp = cli(["train", "--help"]);
    expect(trainHelp.code).toBe(0);
    expect(trainHelp.out).toMatch(/--arch/);
    expect(trainHelp.out).toMatch(/--checkpoint-every/);
  });

  const usage: [string, string[], RegExp][] = [
    ["unknown command", ["frob"], /unknown command "frob"/],
    ["unknown flag", ["train", "--bogus", "1"], /unknown option --bogus for train/],
    ["missing --out", ["train", "--arch", "8-3"], /--out is required/],
    ["bad integer", ["train", "--epochs", "abc", "--out", "x"], /--epochs needs an integer; got "abc"/],
    ["out of range", ["distill", "--alpha", "1.5"], /--alpha must be ≤ 1/],
    ["bad --arch", ["train", "--arch", "8-x-3", "--out", "x", "--data", "csv:blobs.csv"], /--arch "8-x-3": an MLP is positive integers joined by "-"/],
    ["bad --data", ["train", "--arch", "8-3", "--out", "x", "--data", "parquet:x"], /--data must be mnist, idx:DIR/],
    [
      "bad --threads",
      ["train", "--threads", "0", "--arch", "8-3", "--out", "x", "--data", "csv:blobs.csv"],
      /--threads must be a whole number from 1 to 64 or auto; got "0"/,
    ],
    [
      "two teacher sources",
      ["distill", "--teacher", "a", "--teacher-logits", "b", "--arch", "8-3", "--out", "x", "--data", "csv:blobs.csv"],
      /exactly one of --teacher/,
    ],
    [
      "--teacher with no file names",
      ["distill", "--teacher", ",", "--arch", "8-3", "--out", "x", "--data", "csv:blobs.csv"],
      /--teacher needs one or more model file names/,
    ],
    // Values the flag parser lets through and the library's option checks refuse before the first batch.
    [
      "--batch-size larger than the data",
      ["train", "--data", "csv:blobs.csv", "--arch", "8-3", "--batch-size", "1000", "--out", "x"],
      /batchSize 1000 is larger than the training data \(300 samples\)/,
    ],
    [
      "--validation 0",
      ["train", "--data", "csv:blobs.csv", "--arch", "8-3", "--validation", "0", "--out", "x"],
      /validation as a fraction must be in \(0, 1\); got 0/,
    ],
    ["--lr 0", ["train", "--data", "csv:blobs.csv", "--arch", "8-3", "--lr", "0", "--out", "x"], /lr must be a finite number > 0; got 0/],
    [
      "step:0 in --schedule",
      ["train", "--data", "csv:blobs.csv", "--arch", "8-3", "--schedule", "step:0:0.5", "--out", "x"],
      /step "every" must be an integer ≥ 1/,
    ],
    ["demo --temperature 0", ["demo", "--temperature", "0", "--out", "demo-never"], /temperature must be a finite number > 0; got 0/],
    ["--quantize int4", ["distill", "--teacher", "a", "--arch", "8-3", "--quantize", "int4", "--out", "x", "--data", "csv:blobs.csv"], /--quantize takes int8/],
  ];
  for (const [what, args, message] of usage) {
    it(`${what}: exit 2 and one line naming it`, () => {
      const r = cli(args, dir);
      expect(r.code, r.err).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.err.trim().split("\n")).toHaveLength(1);
      expect(r.err).not.toMatch(/ at .*\.js:\d+/);
    });
  }

  it("--temperature 0 and a zero among --temperatures are usage errors found before any training", () => {
    expect(cli(["train", "--data", "csv:blobs.csv", "--arch", "8-8-3", "--epochs", "1", "--out", "t0.safetensors"], dir).code).toBe(0);
    const common = ["--data", "csv:blobs.csv", "--teacher", "t0.safetensors", "--arch", "8-3"];
    for (const [args, message] of [
      [["distill", ...common, "--temperature", "0", "--out", "s0.safetensors"], /distill: temperature must be a finite number > 0; got 0/],
      [["search", ...common, "--temperatures", "2,0"], /--temperatures: temperature must be a finite number > 0; got 0/],
    ] as const) {
      const r = cli([...args], dir);
      expect(r.code, r.err).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.err.trim().split("\n")).toHaveLength(1);
      expect(r.out).not.toMatch(/epoch|trial 2/);
    }
    expect(existsSync(join(dir, "s0.safetensors"))).toBe(false);
  });

  it("--threads above the machine's cores trains, with a one-line warning that it runs slower", () => {
    const threads = availableParallelism() + 1;
    if (threads > 64) return; // --threads stops at 64: no count above the cores to try
    const r = cli(["train", "--data", "csv:blobs.csv", "--arch", "8-3", "--epochs", "1", "--threads", String(threads), "--out", "threads.safetensors"], dir);
    expect(r.code, r.err).toBe(0);
    expect(r.err.trim().split("\n")).toEqual([
      `distill-wasm: warning: --threads ${threads} is more than the ${threads - 1} cores of this machine; more threads than cores runs much slower`,
    ]);
    expect(
      cli(["train", "--data", "csv:blobs.csv", "--arch", "8-3", "--epochs", "1", "--threads", String(threads - 1), "--out", "threads.safetensors"], dir).err,
    ).toBe("");
  });

  it("a missing or corrupt file: exit 1 and one line naming the file, no stack trace", () => {
    const missing = cli(["eval", "--model", "missing.safetensors", "--data", "csv:blobs.csv"], dir);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/missing\.safetensors/);
    writeFileSync(join(dir, "corrupt.safetensors"), "not a model at all");
    const corrupt = cli(["eval", "--model", "corrupt.safetensors", "--data", "csv:blobs.csv"], dir);
    expect(corrupt.code).toBe(1);
    expect(corrupt.err).toMatch(/corrupt\.safetensors/);
    expect(corrupt.err.trim().split("\n")).toHaveLength(1);
  });
});

describe("commands on small data", () => {
  const common = ["--data", "csv:blobs.csv", "--test-split", "0.25", "--seed", "3"];

  it("train → eval → distill (model, ensemble, logits) → search, with --json documents", () => {
    const t = cli(["train", ...common, "--arch", "8-32-3", "--epochs", "8", "--out", "teacher.safetensors", "--json"], dir);
    expect(t.code, t.err).toBe(0);
    const trained = JSON.parse(t.out);
    expect(trained).toMatchObject({ command: "train", architecture: "8-32-3", params: 8 * 32 + 32 + 32 * 3 + 3 });
    expect(trained.accuracy).toBeGreaterThanOrEqual(0);
    expect(trained.accuracy).toBeLessThanOrEqual(1);
    expect(trained.history).toHaveLength(8);

    const e = JSON.parse(cli(["eval", ...common, "--model", "teacher.safetensors", "--json"], dir).out);
    expect(e.accuracy).toBe(trained.accuracy);
    expect(e.params).toBe(trained.params);

    cli(["train", ...common, "--arch", "8-24-3", "--epochs", "8", "--seed", "5", "--out", "teacher2.safetensors"], dir);
    for (const teacher of [
      ["--teacher", "teacher.safetensors"],
      ["--teacher", "teacher.safetensors,teacher2.safetensors"],
    ]) {
      const d = cli(["distill", ...common, ...teacher, "--arch", "8-4-3", "--epochs", "6", "--out", "student.safetensors", "--json"], dir);
      expect(d.code, d.err).toBe(0);
      const doc = JSON.parse(d.out);
      expect(doc).toMatchObject({ command: "distill", architecture: "8-4-3", temperature: 4, alpha: 0.1 });
      expect(doc.accuracy).toBeGreaterThan(0.5);
    }
    const search = cli(
      [
        "search",
        "--data",
        "csv:blobs.csv",
        "--teacher",
        "teacher.safetensors",
        "--arch",
        "8-4-3",
        "--temperatures",
        "2,4",
        "--alphas",
        "0.1,0.9",
        "--epochs",
        "2",
        "--json",
      ],
      dir,
    );
    expect(search.code, search.err).toBe(0);
    const s = JSON.parse(search.out);
    expect(s.trials).toHaveLength(4);
    expect(s.accuracy).toBe(Math.max(...s.trials.map((r: { valAccuracy: number }) => r.valAccuracy)));
  });

  it("distill from teacher logits in a .npy file equals distilling from the model itself", async () => {
    cli(["train", "--data", "csv:blobs.csv", "--arch", "8-32-3", "--epochs", "4", "--out", "t3.safetensors"], dir);
    const teacher = await loadModel(join(dir, "t3.safetensors"));
    // The logits of every training row, in the order the CSV source loads them (no test split).
    const { loadCsv } = await import("../../src/index.js");
    const data = await loadCsv(csv);
    writeFileSync(join(dir, "logits.npy"), encodeNpy(teacher.logits(data.x), [data.length, 3]));
    teacher.dispose();
    const args = ["--data", "csv:blobs.csv", "--arch", "8-4-3", "--epochs", "3"];
    expect(cli(["distill", ...args, "--teacher", "t3.safetensors", "--out", "from-model.safetensors"], dir).code).toBe(0);
    expect(cli(["distill", ...args, "--teacher-logits", "logits.npy", "--out", "from-logits.safetensors"], dir).code).toBe(0);
    expect(weights(join(dir, "from-logits.safetensors"))).toEqual(weights(join(dir, "from-model.safetensors")));
  });

  it("--threads 2 and --threads auto train and distill to the same weights as one thread", () => {
    const args = ["--data", "csv:blobs.csv", "--arch", "8-64-64-3", "--epochs", "3", "--batch-size", "128"];
    for (const threads of ["1", "2", "auto"]) {
      expect(cli(["train", ...args, "--threads", threads, "--out", `t-${threads}.safetensors`], dir).code).toBe(0);
      const d = cli(["distill", ...args, "--teacher", `t-${threads}.safetensors`, "--threads", threads, "--out", `s-${threads}.safetensors`], dir);
      expect(d.code, d.err).toBe(0);
    }
    for (const threads of ["2", "auto"]) {
      expect(weights(join(dir, `t-${threads}.safetensors`))).toEqual(weights(join(dir, "t-1.safetensors")));
      expect(weights(join(dir, `s-${threads}.safetensors`))).toEqual(weights(join(dir, "s-1.safetensors")));
    }
  });

  it("CNNs: --arch layer lists, and distillation with --attention transfer between conv layers", () => {
    const teacherArch = "1x28x28-conv8k3p1-relu-maxpool2-conv16k3p1-relu-maxpool2-flatten-10";
    const t = cli(["train", "--data", "mnist", "--arch", teacherArch, "--epochs", "1", "--out", "cnn-teacher.safetensors", "--json"], dir);
    expect(t.code, t.err).toBe(0);
    expect(JSON.parse(t.out).accuracy).toBeGreaterThan(0.8);
    const d = cli(
      [
        "distill",
        "--data",
        "mnist",
        "--teacher",
        "cnn-teacher.safetensors",
        "--arch",
        "1x28x28-conv4k3p1-relu-maxpool2-conv4k3p1-bn-relu-maxpool2-flatten-10",
        "--attention",
        "2:2:100,6:5:100",
        "--epochs",
        "1",
        "--clip-norm",
        "5",
        "--out",
        "cnn-student.safetensors",
        "--json",
      ],
      dir,
    );
    expect(d.code, d.err).toBe(0);
    const doc = JSON.parse(d.out);
    expect(doc.accuracy).toBeGreaterThan(0.5);
    expect(doc.history[0].parts.attention).toBeGreaterThan(0);
    const e = JSON.parse(cli(["eval", "--data", "mnist", "--model", "cnn-student.safetensors", "--json"], dir).out);
    expect(e.accuracy).toBe(doc.accuracy);
    for (const [arch, message] of [
      ["1x28x28-conv4-10", /needs "flatten" before it/],
      ["1x28x28-swirl3-flatten-10", /unknown layer "swirl3"/],
      ["1x8x8-flatten-10", /takes 1×8×8 = 64 inputs but the data has 784 features/],
    ] as const) {
      const r = cli(["train", "--data", "mnist", "--arch", arch, "--out", "x.safetensors"], dir);
      expect(r.code, arch).toBe(2);
      expect(r.err).toMatch(message);
    }
  }, 120_000);

  it("1-D CNNs on signals: CxL --arch layer lists with conv1d, pooling and gap1d, trained and distilled from .npy signals", () => {
    // 400 signals of 2 channels × 32 samples: square waves of period 8 or 16, a sawtooth or a triangle, random phase, noise
    const rnd = new TestRandom(5);
    const rows = 400;
    const x = new Float32Array(rows * 64);
    const y = new Int32Array(rows);
    const wave = (label: number, t: number) =>
      label === 0 ? ((t >> 2) & 1 ? 1 : -1) : label === 1 ? ((t >> 3) & 1 ? 1 : -1) : label === 2 ? (t % 8) / 4 - 1 : Math.abs((t % 16) - 8) / 4 - 1;
    for (let r = 0; r < rows; r++) {
      y[r] = r % 4;
      const phase = Math.floor(rnd.next() * 16);
      for (let c = 0; c < 2; c++) for (let t = 0; t < 32; t++) x[(r * 2 + c) * 32 + t] = wave(y[r]!, t + phase + 2 * c) + 0.4 * (rnd.next() - 0.5);
    }
    writeFileSync(join(dir, "signals-x.npy"), encodeNpy(x, [rows, 2, 32]));
    writeFileSync(join(dir, "signals-y.npy"), encodeNpy(y, [rows]));
    const data = ["--data", "npy:signals-x.npy,signals-y.npy", "--test-split", "0.25", "--seed", "3"];
    const teacherArch = "2x32-conv1d8k5p2-relu-maxpool1d2-conv1d8k3p1-bn-relu-gap1d-flatten-4";
    const t = cli(["train", ...data, "--arch", teacherArch, "--epochs", "6", "--out", "signal-teacher.safetensors", "--json"], dir);
    expect(t.code, t.err).toBe(0);
    expect(JSON.parse(t.out).accuracy).toBeGreaterThan(0.8);
    const file = decodeSafetensors(new Uint8Array(readFileSync(join(dir, "signal-teacher.safetensors"))));
    expect(file.metadata.input_shape).toBe("[2,32]");
    expect(file.tensors.get("0.weight")!.shape).toEqual([8, 2, 5]);
    expect(JSON.parse(file.metadata.architecture!)[6]).toEqual({ type: "avgPool1d", kernel: 16, stride: 16, padding: 0 });
    const d = cli(
      [
        "distill",
        ...data,
        "--teacher",
        "signal-teacher.safetensors",
        "--arch",
        "2x32-conv1d6k5s2p2-relu-maxpool1d2-flatten-4",
        "--epochs",
        "10",
        "--out",
        "signal-student.safetensors",
        "--json",
      ],
      dir,
    );
    expect(d.code, d.err).toBe(0);
    expect(JSON.parse(d.out).accuracy).toBeGreaterThan(0.5);
    for (const [arch, message] of [
      ["2x32-conv1d4-4", /needs "flatten" before it/],
      ["2x32-conv8-flatten-4", /conv2d\) takes \(channels, height, width\) images/],
      ["2x32-maxpool1d2p2-flatten-4", /padding 2 must be at most half the kernel 2/],
      ["2x32-conv1d4k40-flatten-4", /kernel 40 is longer than the padded signal 32/],
      ["2x16-flatten-4", /takes 2×16 = 32 inputs but the data has 64 features/],
    ] as const) {
      const r = cli(["train", ...data, "--arch", arch, "--out", "x.safetensors"], dir);
      expect(r.code, arch).toBe(2);
      expect(r.err).toMatch(message);
    }
  }, 120_000);

  it("bench --json reports GEMM and step throughput, and the GEMM plan", () => {
    const r = cli(["bench", "--json"], dir);
    expect(r.code, r.err).toBe(0);
    const doc = JSON.parse(r.out);
    expect(doc.gemmPlan).toMatchObject({ format: "distill-wasm/gemm-plan" });
    expect(Object.keys(doc.gemmPlan.gemm)).toEqual(["nn", "nt", "tn", "panels"]);
    // measured at init (or, on a machine too loaded to settle the probe, the default plan with the reason)
    expect(doc.gemmPlanNote).toMatch(/^measured at init in \d|^the default plan: the candidates' code was still being optimised/);
    expect(doc.gemm).toHaveLength(3);
    expect(doc.gemm.every((g: { gflops: number }) => g.gflops > 0)).toBe(true);
    expect(doc.distillStep.samplesPerSecond).toBeGreaterThan(0);
  });

  it("demo writes three models and a self-contained report, with the int8 student's row", async () => {
    const out = join(dir, "demo-out");
    const r = cli(["demo", "--epochs", "1", "--out", out, "--json"], dir);
    expect(r.code, r.err).toBe(0);
    const doc = JSON.parse(r.out);
    expect(doc.accuracy).toBeGreaterThan(0.5);
    expect(doc.params).toBe(25_450);
    expect(doc).toMatchObject({ labels: 300, unlabelled: 7700, steps: 2 * 125 });
    expect(doc.seeds.map((s: { seed: number }) => s.seed)).toEqual([1, 2, 3]);
    const mean = (key: "scratch" | "distilled") => doc.seeds.reduce((a: number, s: Record<string, number>) => a + s[key]!, 0) / 3;
    expect(doc.mean.scratch).toBeCloseTo(mean("scratch"), 12);
    expect(doc.mean.distilled).toBeCloseTo(mean("distilled"), 12);
    expect(doc.accuracy).toBe(doc.seeds[0].distilled);
    for (const f of doc.files) expect(existsSync(join(out, f)), f).toBe(true);
    const html = readFileSync(join(out, "report.html"), "utf8");
    expect(html).not.toMatch(/<script[^>]+src=|https?:\/\//);
    expect(html).toContain("distilled student");
    // The distilled student as int8: the last row, its accuracy that of quantize() on 1,000 training digits drawn by the seed.
    const int8 = doc.models.at(-1);
    expect(int8).toMatchObject({ name: "quantized", architecture: "784-32-10", params: 25_450, quantization: { weights: "int8", activations: "int8" } });
    expect(int8.bytes).toBeLessThan(doc.models[1].bytes / 3.5);
    const { train, test } = await loadMnistDigits({ train: 8000, test: 2000, seed: 1 });
    const student = await loadModel(join(out, "student-distilled.safetensors"));
    const q = quantize(student, train.shuffled(1).slice(0, 1000), { weights: "int8", activations: "int8" });
    const ids = q.predict(test.x);
    expect(int8.accuracy).toBe(ids.filter((c, i) => c === test.y[i]).length / test.length);
    expect(html).toContain("distilled student, int8");
    for (const m of [q, student]) m.dispose();
  }, 120_000);

  it("demo at its defaults: on 300 labelled digits, the students distilled on the other 7,700 beat those from scratch on every seed", () => {
    const r = cli(["demo", "--out", join(dir, "demo-defaults"), "--json"], dir);
    expect(r.code, r.err).toBe(0);
    const doc = JSON.parse(r.out);
    expect(doc.seeds).toHaveLength(3);
    for (const s of doc.seeds) expect(s.distilled - s.scratch, `seed ${s.seed}`).toBeGreaterThan(0.03);
    expect(doc.mean.gain).toBeGreaterThan(0.05);
  }, 180_000);
});

describe("the paper's recipe: layers, constraints, transfer sets and collapse", () => {
  const common = ["--data", "csv:blobs.csv", "--test-split", "0.25", "--seed", "3"];

  it("--keep-labels N: train uses the N labelled rows; distill also the rest, unlabelled; --transfer adds rows the teacher labels", () => {
    const t = cli(["train", ...common, "--arch", "8-32-3", "--epochs", "4", "--out", "kl-teacher.safetensors"], dir);
    expect(t.code, t.err).toBe(0);
    const few = cli(
      ["train", ...common, "--keep-labels", "24", "--arch", "8-4-3", "--epochs", "2", "--batch-size", "8", "--json", "--out", "kl-few.safetensors"],
      dir,
    );
    expect(few.code, few.err).toBe(0);
    expect(JSON.parse(few.out).steps, "24 rows in batches of 8, 2 epochs").toBe(6);
    const kd = ["distill", ...common, "--teacher", "kl-teacher.safetensors", "--arch", "8-4-3", "--epochs", "2", "--batch-size", "8", "--json"];
    const partly = cli([...kd, "--keep-labels", "24", "--out", "kl-distilled.safetensors"], dir);
    expect(partly.code, partly.err).toBe(0);
    expect(JSON.parse(partly.out).steps, "all 225 training rows, 24 of them labelled").toBe(2 * Math.ceil(225 / 8));
    const more = cli([...kd, "--keep-labels", "24", "--transfer", "csv:blobs.csv", "--out", "kl-transfer.safetensors"], dir);
    expect(more.code, more.err).toBe(0);
    expect(JSON.parse(more.out).steps, "plus the 300 rows of --transfer").toBe(2 * Math.ceil(525 / 8));
    const tooMany = cli([...kd, "--keep-labels", "999", "--out", "kl-x.safetensors"], dir);
    expect(tooMany.code).toBe(2);
    expect(tooMany.err).toMatch(/--keep-labels 999: the training rows have only 225 labels/);
  }, 60_000);

  it("--dropout INPUT,HIDDEN, --init torch and a flat layer list in --arch build the layers they name", async () => {
    const mlpRun = cli(["train", ...common, "--arch", "8-16-3", "--dropout", "0.2,0.5", "--init", "torch", "--epochs", "2", "--out", "drop.safetensors"], dir);
    expect(mlpRun.code, mlpRun.err).toBe(0);
    const listRun = cli(
      ["train", ...common, "--arch", "8-dropout0.2-16-relu-dropout0.5-3", "--init", "torch", "--epochs", "2", "--out", "list.safetensors"],
      dir,
    );
    expect(listRun.code, listRun.err).toBe(0);
    const [a, b] = [await loadModel(join(dir, "drop.safetensors")), await loadModel(join(dir, "list.safetensors"))];
    const layers = [
      { type: "dropout", p: 0.2 },
      { type: "dense", inputs: 8, outputs: 16, init: "torch" },
      { type: "activation", name: "relu" },
      { type: "dropout", p: 0.5 },
      { type: "dense", inputs: 16, outputs: 3, init: "torch" },
    ];
    expect(a.specs).toEqual(layers);
    expect(b.specs).toEqual(layers);
    expect(weights(join(dir, "list.safetensors")), "the same layers, seed and data train the same weights").toEqual(weights(join(dir, "drop.safetensors")));
    a.dispose();
    b.dispose();
    for (const [flags, message] of [
      [["--dropout", "0.2,0.5,0.1"], /--dropout takes P or INPUT,HIDDEN/],
      [["--dropout", "1.5"], /--dropout takes P or INPUT,HIDDEN/],
      [["--init", "lecun"], /--init must be he, glorot, torch; got "lecun"/],
    ] as const) {
      const r = cli(["train", ...common, "--arch", "8-16-3", ...flags, "--out", "x.safetensors"], dir);
      expect(r.code, r.err).toBe(2);
      expect(r.err).toMatch(message);
    }
  });

  it("--max-norm keeps every hidden unit's incoming weights within the norm; the output layer is free", async () => {
    const r = cli(["train", ...common, "--arch", "8-16-3", "--epochs", "4", "--lr", "0.5", "--max-norm", "0.3", "--out", "maxnorm.safetensors"], dir);
    expect(r.code, r.err).toBe(0);
    const w = weights(join(dir, "maxnorm.safetensors"));
    const rowNorms = (values: number[], cols: number) =>
      Array.from({ length: values.length / cols }, (_, i) => Math.hypot(...values.slice(i * cols, (i + 1) * cols)));
    expect(Math.max(...rowNorms(w.get("0.weight")!, 8))).toBeLessThanOrEqual(0.3 * (1 + 1e-6));
    expect(Math.max(...rowNorms(w.get("2.weight")!, 16)), "the output layer is not constrained here").toBeGreaterThan(0.3);
  });

  it("--exclude-classes trains without those rows (the test set keeps them); --class-bias shifts the output bias and is recorded", async () => {
    const base = ["train", ...common, "--arch", "8-16-3", "--epochs", "3", "--json"];
    const without = JSON.parse(cli([...base, "--exclude-classes", "2", "--out", "no2.safetensors"], dir).out);
    expect(without.errorsByClass).toHaveLength(3);
    expect(without.errorsByClass[2], "class 2 never seen: nearly every test 2 is wrong").toBeGreaterThan(0);
    const raised = JSON.parse(cli([...base, "--exclude-classes", "2", "--class-bias", "2:50", "--out", "no2-bias.safetensors"], dir).out);
    expect(raised.errorsByClass[2], "a bias of +50 makes class 2 win everywhere").toBe(0);
    const [plain, shifted] = [weights(join(dir, "no2.safetensors")), weights(join(dir, "no2-bias.safetensors"))];
    expect(shifted.get("2.bias")![2]).toBeCloseTo(plain.get("2.bias")![2]! + 50, 4);
    expect(shifted.get("0.weight")).toEqual(plain.get("0.weight"));
    const { metadata } = decodeSafetensors(new Uint8Array(readFileSync(join(dir, "no2-bias.safetensors"))));
    expect(metadata.class_bias).toBe('{"2":50}');
    for (const [flags, message] of [
      [["--exclude-classes", "7"], /--exclude-classes takes labels in \[0, 3\)/],
      [["--class-bias", "2"], /--class-bias entries are CLASS:OFFSET/],
    ] as const) {
      const r = cli([...base, ...flags, "--out", "x.safetensors"], dir);
      expect(r.code, r.err).toBe(2);
      expect(r.err).toMatch(message);
    }
  });

  it("a collapsing distillation exits 1 with DivergenceError's remedies and writes no model file", () => {
    cli(["train", ...common, "--arch", "8-32-3", "--epochs", "4", "--out", "t-collapse.safetensors"], dir);
    const r = cli(
      [
        "distill",
        ...common,
        "--teacher",
        "t-collapse.safetensors",
        "--arch",
        "8-64-64-3",
        "--temperature",
        "1000",
        "--alpha",
        "0",
        "--lr",
        "50",
        "--epochs",
        "3",
        "--out",
        "collapsed.safetensors",
      ],
      dir,
    );
    expect(r.code, r.err).toBe(1);
    expect(r.err).toMatch(/training collapsed at epoch \d+, step \d+: .*Try /);
    expect(r.err).toMatch(/T² = 1000000/);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(existsSync(join(dir, "collapsed.safetensors"))).toBe(false);
  });
});

describe("teacher logits must match the rows they teach", () => {
  it("a logits file of the right size but the wrong shape is refused; --test-split and --exclude-classes cannot follow logits", () => {
    const base = ["distill", "--data", "csv:blobs.csv", "--arch", "8-4-3", "--epochs", "1", "--out", "s.safetensors"];
    for (const shape of [
      [150, 6],
      [900, 1],
      [1, 900],
    ]) {
      writeFileSync(join(dir, "bad-logits.npy"), encodeNpy(new Float32Array(900), shape));
      const r = cli([...base, "--teacher-logits", "bad-logits.npy"], dir);
      expect(r.code, `shape ${shape}`).toBe(1);
      expect(r.err).toMatch(new RegExp(`holds logits of shape \\(${shape[0]}, ${shape[1]}\\), but (rows = 300|classes = 3) was expected`));
    }
    writeFileSync(join(dir, "good-logits.npy"), encodeNpy(new Float32Array(900), [300, 3]));
    for (const flag of [
      ["--test-split", "0.2"],
      ["--exclude-classes", "1"],
    ]) {
      const r = cli([...base, "--teacher-logits", "good-logits.npy", ...flag], dir);
      expect(r.code, flag.join(" ")).toBe(2);
      expect(r.err).toMatch(/--teacher-logits hold one row per row of the data file, in order; they cannot follow --test-split/);
    }
    expect(existsSync(join(dir, "s.safetensors"))).toBe(false);
  });

  it("search holds out --test-split before splitting off its validation rows, and takes no --teacher-logits", () => {
    cli(["train", "--data", "csv:blobs.csv", "--arch", "8-16-3", "--epochs", "2", "--out", "t-search.safetensors"], dir);
    const common = [
      "search",
      "--data",
      "csv:blobs.csv",
      "--teacher",
      "t-search.safetensors",
      "--arch",
      "8-4-3",
      "--temperatures",
      "2",
      "--alphas",
      "0.5",
      "--epochs",
      "1",
    ];
    const all = cli([...common], dir);
    const held = cli([...common, "--test-split", "0.2"], dir);
    expect(all.out).toMatch(/on 240 rows, ranked on 60/);
    expect(held.out).toMatch(/on 192 rows, ranked on 48/);
    const logits = cli([...common.slice(0, 3), "--teacher-logits", "good-logits.npy", ...common.slice(5)], dir);
    expect(logits.code).toBe(2);
    expect(logits.err).toMatch(/unknown option --teacher-logits for search/);
  });
});

describe("token models", () => {
  /** label, then 6 token ids in [0, 11): the label is the most frequent of tokens 1–3, each row padded with 0 after its length. */
  function tokenCsv(name: string, rows: number, maxId: number): string {
    let state = 7;
    const next = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
    const lines = ["label,t0,t1,t2,t3,t4,t5"];
    for (let r = 0; r < rows; r++) {
      const length = 1 + Math.floor(next() * 6);
      const ids = Array.from({ length: 6 }, (_, t) => (t < length ? 1 + Math.floor(next() * (maxId - 1)) : 0));
      const counts = [1, 2, 3].map((c) => ids.filter((id) => id === c).length);
      lines.push([counts.indexOf(Math.max(...counts)), ...ids].join(","));
    }
    writeFileSync(join(dir, name), `${lines.join("\n")}\n`);
    return `csv:${name}`;
  }

  it("--arch with emb, ln and bag tokens trains a teacher and distils a student from it", () => {
    const data = tokenCsv("tokens.csv", 200, 11);
    const t = cli(["train", "--data", data, "--arch", "6-emb11x4p0-ln-flatten-16-relu-3", "--epochs", "3", "--out", "tok-teacher.safetensors"], dir);
    expect(t.code, t.err).toBe(0);
    const teacher = decodeSafetensors(new Uint8Array(readFileSync(join(dir, "tok-teacher.safetensors"))));
    expect([...teacher.tensors.keys()].sort()).toEqual(["0.weight", "1.bias", "1.weight", "3.bias", "3.weight", "5.bias", "5.weight"]);
    expect(teacher.tensors.get("0.weight")!.shape).toEqual([11, 4]);
    const d = cli(
      ["distill", "--data", data, "--teacher", "tok-teacher.safetensors", "--arch", "6-bag11x5p0-3", "--epochs", "3", "--out", "tok-student.safetensors"],
      dir,
    );
    expect(d.code, d.err).toBe(0);
    expect(weights(join(dir, "tok-student.safetensors")).get("0.weight")).toHaveLength(55);
  });

  it("ids outside the vocabulary and token layers out of place are one-line errors", () => {
    const data = tokenCsv("tokens-wide.csv", 50, 14);
    const r = cli(["train", "--data", data, "--arch", "6-bag11x5p0-3", "--epochs", "1", "--out", "never.safetensors"], dir);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/token ids must be integers in \[0, 11\)/);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    const misplaced = cli(["train", "--data", data, "--arch", "6-8-bag11x5-3", "--out", "never.safetensors"], dir);
    expect(misplaced.code).toBe(2);
    expect(misplaced.err).toMatch(/reads token ids, so it must be the first layer/);
  });
});

describe("under Deno and Bun", () => {
  const deno = fileURLToPath(new URL("../../node_modules/.bin/deno", import.meta.url));
  const bun = fileURLToPath(new URL("../../node_modules/@oven/bun-linux-x64/bin/bun", import.meta.url));
  it("the same CLI files evaluate the same model to the same numbers in Node, Deno and Bun", () => {
    const train = cli(["train", "--data", "csv:blobs.csv", "--arch", "8-16-3", "--epochs", "3", "--out", "rt.safetensors"], dir);
    expect(train.code, train.err).toBe(0);
    const args = [CLI, "eval", "--data", "csv:blobs.csv", "--test-split", "0.3", "--model", "rt.safetensors", "--json"];
    const node = JSON.parse(cli(args.slice(1), dir).out);
    for (const [name, command, prefix] of [
      ["deno", deno, ["run", "-A"]],
      ["bun", bun, []],
    ] as const) {
      if (!existsSync(command)) {
        console.log(`[cli] skipping ${name}: ${command} is not installed`);
        continue;
      }
      const r = spawnSync(command, [...prefix, ...args], { cwd: dir, encoding: "utf8", timeout: 60_000 });
      expect(r.status, `${name}: ${r.stderr}`).toBe(0);
      expect(JSON.parse(r.stdout), name).toEqual(node);
    }
  });
});

describe("interruptions", () => {
  const args = [
    "--data",
    "csv:blobs.csv",
    "--arch",
    "8-64-64-3",
    "--epochs",
    "60",
    "--batch-size",
    "8",
    "--dropout",
    "0.1",
    "--augment",
    "noise=0.05",
    "--optimizer",
    "adam",
    "--schedule",
    "cosine",
    "--seed",
    "9",
  ];

  it("a run killed with SIGKILL mid-epoch and resumed with --resume ends bit-identical to an uninterrupted run", async () => {
    const reference = cli(["train", ...args, "--out", "uninterrupted.safetensors"], dir);
    expect(reference.code, reference.err).toBe(0);
    const checkpoint = join(dir, "run.ckpt");
    const child = spawn(process.execPath, [CLI, "train", ...args, "--out", "resumed.safetensors", "--checkpoint", checkpoint, "--checkpoint-every", "7"], {
      cwd: dir,
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal ? -1 : _code)));
    // Kill it as soon as the first checkpoint is on disk (the run is far from done then).
    const deadline = Date.now() + 60_000;
    while (!existsSync(checkpoint) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    child.kill("SIGKILL");
    expect(await exited, "the child was killed, not finished").toBe(-1);
    expect(existsSync(join(dir, "resumed.safetensors"))).toBe(false);
    const resumed = cli(["train", ...args, "--out", "resumed.safetensors", "--checkpoint", checkpoint, "--checkpoint-every", "7", "--resume"], dir);
    expect(resumed.code, resumed.err).toBe(0);
    expect(resumed.out).toMatch(/resuming from .* at step \d+/);
    expect(weights(join(dir, "resumed.safetensors"))).toEqual(weights(join(dir, "uninterrupted.safetensors")));
  }, 120_000);

  it("Ctrl-C (SIGINT) stops after the current batch, saves the model and exits 130", async () => {
    const child = spawn(process.execPath, [CLI, "train", ...args, "--epochs", "1000000", "--out", "interrupted.safetensors"], { cwd: dir });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    while (!/epoch 2\//.test(output)) await new Promise((r) => setTimeout(r, 10));
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    expect(output).toMatch(/stopped by Ctrl-C/);
    expect(existsSync(join(dir, "interrupted.safetensors"))).toBe(true);
  }, 60_000);

  it("SIGTERM stops like Ctrl-C: after the current batch, the model saved, exit 143 (128 + 15)", async () => {
    const child = spawn(process.execPath, [CLI, "train", ...args, "--epochs", "1000000", "--out", "terminated.safetensors"], { cwd: dir });
    let output = "";
    let errors = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (errors += d));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    while (!/epoch 2\//.test(output)) await new Promise((r) => setTimeout(r, 10));
    child.kill("SIGTERM");
    expect(await exited).toBe(143);
    expect(output).toMatch(/stopped by SIGTERM after \d+ steps; the model so far is saved/);
    expect(errors.trim()).toBe("SIGTERM: stopping after the current batch (SIGTERM again to quit now)");
    expect(weights(join(dir, "terminated.safetensors")).size).toBeGreaterThan(0);
  }, 60_000);
});
