/**
 * `--data shards:…` on the command line (a child process of the built CLI), on .npy shards of
 * the mnist package's digits written by the test:
 * - train and distill stream the shards and save the bits of the library's run over the same
 *   StreamDataset with the options the flags name (teacher logits in the shards, a --teacher
 *   model, a comma list of some of the shards); top-k teacher outputs in the shards;
 * - what a stream cannot do is refused with one line naming the flag (exit 2) before any
 *   training, and bad shards end in an error naming the file (exit 1).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  decodeSafetensors,
  distill,
  encodeNpy,
  init,
  loadMnistDigits,
  loadModel,
  mlp,
  StreamDataset,
  train,
  type Dataset,
  type TrainOptions,
} from "../../src/index.js";

const CLI = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));
const FEATURES = 784;
const CLASSES = 10;
/** Rows per shard: three shards of the first 3 × SHARD training digits. */
const SHARD = 160;

let dir: string;
let shards: string;
let digits: Dataset;
let logits: Float32Array;

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: "utf8", timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** The parameters of a saved model, in state_dict order, as one array. */
function savedWeights(file: string): Float32Array {
  const { tensors } = decodeSafetensors(new Uint8Array(readFileSync(join(dir, file))));
  const parts = [...tensors.values()].map((t) => t.data as Float32Array);
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
}

/** A model's parameters in state_dict order, read back through a saved file (the same layout as savedWeights). */
async function weightsOf(model: ReturnType<typeof mlp>, name: string): Promise<Float32Array> {
  const { saveModel } = await import("../../src/io/model-file.js");
  await saveModel(model, join(dir, name));
  return savedWeights(name);
}

/** Writes parts (prefix → rows × width values) as shards of SHARD rows named 0000, 0001, … into `folder`. */
function writeShards(folder: string, parts: Record<string, { data: Float32Array | Int32Array; width: number }>, count: number): void {
  mkdirSync(folder, { recursive: true });
  for (let i = 0; i < count; i++) {
    const name = String(i).padStart(4, "0");
    for (const [prefix, { data, width }] of Object.entries(parts)) {
      const piece = data.slice(i * SHARD * width, (i + 1) * SHARD * width);
      writeFileSync(join(folder, `${prefix}-${name}.npy`), encodeNpy(piece, prefix === "y" ? [SHARD] : [SHARD, width]));
    }
  }
}

/** The train options the flags `--epochs 2 --batch-size 32` and the defaults name (momentum SGD, lr 0.05, seed 1). */
const FLAG_OPTIONS: TrainOptions = {
  epochs: 2,
  batchSize: 32,
  optimizer: { type: "sgd", lr: 0.05, momentum: 0.9, nesterov: false, weightDecay: 0 },
  schedule: { type: "constant" },
  seed: 1,
};
const RUN_FLAGS = ["--epochs", "2", "--batch-size", "32"];
const student = () => mlp([FEATURES, 16, CLASSES], { seed: 1, activation: "relu", dropout: 0 });

beforeAll(async () => {
  await init();
  dir = mkdtempSync(join(tmpdir(), "distill-shards-cli-"));
  digits = (await loadMnistDigits({ train: 3 * SHARD, test: 10, seed: 3 })).train;
  // The teacher's logits: a small model trained on the digits in memory, as a user would precompute them.
  const teacher = mlp([FEATURES, 32, CLASSES], { seed: 7 });
  await train(teacher, digits, { epochs: 2, batchSize: 32, seed: 2 });
  logits = teacher.logits(digits.x);
  const { saveModel } = await import("../../src/io/model-file.js");
  await saveModel(teacher, join(dir, "teacher.safetensors"));
  teacher.dispose();
  shards = join(dir, "shards");
  writeShards(shards, { x: { data: digits.x, width: FEATURES }, y: { data: digits.y, width: 1 }, teacher: { data: logits, width: CLASSES } }, 3);
  writeShards(join(dir, "plain"), { x: { data: digits.x, width: FEATURES }, y: { data: digits.y, width: 1 } }, 3);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("--data shards:DIR", () => {
  it("train streams the shards and saves the bits of train() over the same StreamDataset", async () => {
    const r = cli("train", "--data", "shards:plain", "--arch", "784-16-10", ...RUN_FLAGS, "--out", "t.safetensors", "--json");
    expect(r.code, r.err).toBe(0);
    const doc = JSON.parse(r.out) as { steps: number; accuracy: number | null };
    expect(doc.steps).toBe(2 * Math.ceil((3 * SHARD) / 32));
    expect(doc.accuracy).toBeNull(); // a shards source has no test set
    const model = student();
    await train(model, await StreamDataset.fromShards(join(dir, "plain"), { classes: CLASSES }), FLAG_OPTIONS);
    expect(Buffer.from(savedWeights("t.safetensors").buffer).equals(Buffer.from((await weightsOf(model, "t-lib.safetensors")).buffer))).toBe(true);
    model.dispose();
    const saved = await loadModel(join(dir, "t.safetensors"));
    expect(saved.architecture).toContain("784");
    saved.dispose();
    const text = cli("train", "--data", "shards:plain", "--arch", "784-16-10", "--epochs", "1", "--out", "t2.safetensors");
    expect(text.code, text.err).toBe(0);
    expect(text.out).toMatch(/on shards plain, 480 rows in 3 shards, streamed/);
  });

  it("distill takes the teacher's logits from the shards, or a --teacher model, with the library's bits", async () => {
    const common = ["--arch", "784-16-10", ...RUN_FLAGS, "--temperature", "3", "--alpha", "0.2"];
    const a = cli("distill", "--data", "shards:shards", ...common, "--out", "s.safetensors");
    expect(a.code, a.err).toBe(0);
    expect(a.out).toMatch(/from teacher logits in the shards, T = 3/);
    const fromShards = student();
    await distill({
      ...FLAG_OPTIONS,
      student: fromShards,
      data: await StreamDataset.fromShards(shards, { classes: CLASSES }),
      temperature: 3,
      alpha: 0.2,
      softLoss: "kl",
    });
    expect(Buffer.from(savedWeights("s.safetensors").buffer).equals(Buffer.from((await weightsOf(fromShards, "s-lib.safetensors")).buffer))).toBe(true);

    const b = cli("distill", "--data", "shards:plain", "--teacher", "teacher.safetensors", ...common, "--out", "m.safetensors");
    expect(b.code, b.err).toBe(0);
    const teacher = await loadModel(join(dir, "teacher.safetensors"));
    const fromModel = student();
    await distill({
      ...FLAG_OPTIONS,
      teacher,
      student: fromModel,
      data: await StreamDataset.fromShards(join(dir, "plain"), { classes: CLASSES }),
      temperature: 3,
      alpha: 0.2,
      softLoss: "kl",
    });
    expect(Buffer.from(savedWeights("m.safetensors").buffer).equals(Buffer.from((await weightsOf(fromModel, "m-lib.safetensors")).buffer))).toBe(true);
    // The model teacher computes, on each streamed batch, the logits the shards hold: the same student.
    expect(Buffer.from(savedWeights("m.safetensors").buffer).equals(Buffer.from(savedWeights("s.safetensors").buffer))).toBe(true);
    for (const m of [fromShards, fromModel, teacher]) m.dispose();
  });

  it("a comma list streams the listed shards in its order; top-k teacher outputs come from their files", async () => {
    const list = "shards:shards/x-0002.npy,shards/x-0000.npy";
    const r = cli("distill", "--data", list, "--arch", "784-16-10", ...RUN_FLAGS, "--out", "l.safetensors", "--json");
    expect(r.code, r.err).toBe(0);
    expect((JSON.parse(r.out) as { steps: number }).steps).toBe(2 * Math.ceil((2 * SHARD) / 32));
    const model = student();
    const files = { x: ["x-0002", "x-0000"].map((n) => join(shards, `${n}.npy`)), y: ["y-0002", "y-0000"].map((n) => join(shards, `${n}.npy`)) };
    const stream = await StreamDataset.fromShards(
      { ...files, teacher: ["teacher-0002", "teacher-0000"].map((n) => join(shards, `${n}.npy`)) },
      { classes: CLASSES },
    );
    await distill({ ...FLAG_OPTIONS, student: model, data: stream, temperature: 4, alpha: 0.1, softLoss: "kl" });
    expect(Buffer.from(savedWeights("l.safetensors").buffer).equals(Buffer.from((await weightsOf(model, "l-lib.safetensors")).buffer))).toBe(true);
    model.dispose();

    // Top-3 teacher probabilities (softmax of the logits at T = 1), written as teacher-index / teacher-prob.
    const k = 3;
    const index = new Int32Array(3 * SHARD * k);
    const prob = new Float32Array(3 * SHARD * k);
    for (let row = 0; row < 3 * SHARD; row++) {
      const z = Array.from(logits.subarray(row * CLASSES, (row + 1) * CLASSES));
      const max = Math.max(...z);
      const e = z.map((v) => Math.exp(v - max));
      const sum = e.reduce((a, b) => a + b, 0);
      const top = e.map((v, c) => [v / sum, c] as const).sort((p, q) => q[0] - p[0]);
      for (let j = 0; j < k; j++) [prob[row * k + j], index[row * k + j]] = [Math.fround(top[j]![0]), top[j]![1]];
    }
    writeShards(
      join(dir, "topk"),
      {
        x: { data: digits.x, width: FEATURES },
        y: { data: digits.y, width: 1 },
        "teacher-index": { data: index, width: k },
        "teacher-prob": { data: prob, width: k },
      },
      3,
    );
    const t = cli("distill", "--data", "shards:topk", "--arch", "784-16-10", ...RUN_FLAGS, "--out", "k.safetensors");
    expect(t.code, t.err).toBe(0);
    expect(t.out).toMatch(/from top-k teacher outputs in the shards/);
    const topk = student();
    await distill({
      ...FLAG_OPTIONS,
      student: topk,
      data: await StreamDataset.fromShards(join(dir, "topk"), { classes: CLASSES }),
      temperature: 4,
      alpha: 0.1,
      softLoss: "kl",
    });
    expect(Buffer.from(savedWeights("k.safetensors").buffer).equals(Buffer.from((await weightsOf(topk, "k-lib.safetensors")).buffer))).toBe(true);
    topk.dispose();
  });

  const refused: [string, string[], RegExp][] = [
    ["--test-split", ["train", "--test-split", "0.2"], /^--test-split cannot follow --data shards:… \(streamed rows\): a seeded stratified split/],
    ["--exclude-classes", ["train", "--exclude-classes", "3"], /^--exclude-classes cannot follow --data shards:/],
    ["--keep-labels", ["distill", "--keep-labels", "10"], /^--keep-labels cannot follow --data shards:/],
    ["--standardize", ["train", "--standardize"], /^--standardize cannot follow --data shards:/],
    ["--validation", ["train", "--validation", "0.1"], /^--validation cannot follow --data shards:/],
    ["--class-weights balanced", ["train", "--class-weights", "balanced"], /^--class-weights balanced cannot follow --data shards:/],
    ["--task", ["train", "--task", "regression"], /^--task cannot follow --data shards:/],
    [
      "--teacher-logits",
      ["distill", "--teacher-logits", "l.npy"],
      /^--teacher-logits cannot follow --data shards:… \(streamed rows\): precomputed logits go in the shard folder/,
    ],
    ["--transfer", ["distill", "--transfer", "mnist"], /^--transfer cannot follow --data shards:/],
    ["--fine-tune-epochs", ["distill", "--fine-tune-epochs", "1"], /^--fine-tune-epochs cannot follow --data shards:/],
    [
      "--teacher beside teacher shards",
      ["distill", "--teacher", "teacher.safetensors"],
      /^--teacher: the shards carry the teacher's outputs \(teacher-NAME\.npy\); drop --teacher/,
    ],
  ];
  it.each(refused)("refuses %s with one line, exit 2", (_name, [command, ...flags], message) => {
    const r = cli(command!, "--data", "shards:shards", "--arch", "784-16-10", "--epochs", "1", ...flags, "--out", "x.safetensors");
    expect(r.code, r.err).toBe(2);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(new RegExp(`distill-wasm: ${message.source.slice(1)}`));
    expect(r.out).not.toMatch(/epoch/);
  });

  it("refuses a missing teacher, other commands, an --out among the shards, and wrong widths; bad rows name their shard", () => {
    const noTeacher = cli("distill", "--data", "shards:plain", "--arch", "784-16-10", "--out", "x.safetensors");
    expect([noTeacher.code, noTeacher.err]).toEqual([
      2,
      expect.stringMatching(/distill over shards needs --teacher model files, or the teacher's outputs in the shard folder/),
    ]);
    const evalShards = cli("eval", "--data", "shards:plain", "--model", "teacher.safetensors");
    expect([evalShards.code, evalShards.err]).toEqual([
      2,
      expect.stringMatching(/only train and distill read a stream; this command needs the rows in memory/),
    ]);
    const overwrite = cli("train", "--data", "shards:plain", "--arch", "784-16-10", "--out", "plain/x-0001.npy");
    expect([overwrite.code, overwrite.err]).toEqual([2, expect.stringMatching(/--out plain\/x-0001\.npy is the same file as the input --data/)]);
    expect(readFileSync(join(dir, "plain", "x-0001.npy")).length).toBeGreaterThan(SHARD * FEATURES * 4);
    const widths = cli("distill", "--data", "shards:shards", "--arch", "784-16-12", "--out", "x.safetensors");
    expect([widths.code, widths.err]).toEqual([2, expect.stringMatching(/--data shards:shards with --arch of 12 outputs: .*teacher logits have 10 per row/)]);
    const inputs = cli("train", "--data", "shards:plain", "--arch", "100-16-10", "--out", "x.safetensors");
    expect([inputs.code, inputs.err]).toEqual([2, expect.stringMatching(/--arch starts with 100 inputs but the data has 784 features/)]);
    const empty = join(dir, "empty");
    mkdirSync(empty);
    const none = cli("train", "--data", "shards:empty", "--arch", "784-16-10", "--out", "x.safetensors");
    expect([none.code, none.err]).toEqual([1, expect.stringMatching(/shards: empty holds no x-\*\.npy files/)]);
    const notX = cli("train", "--data", "shards:plain/y-0000.npy", "--arch", "784-16-10", "--out", "x.safetensors");
    expect([notX.code, notX.err]).toEqual([2, expect.stringMatching(/lists the x files of shards \(x-NAME\.npy\); got "plain\/y-0000\.npy"/)]);
    // A label outside the model's classes: the block is refused before it reaches the model, naming the file and row.
    const bad = digits.y.slice();
    bad[SHARD + 5] = 10;
    writeShards(join(dir, "badlabel"), { x: { data: digits.x, width: FEATURES }, y: { data: bad, width: 1 } }, 3);
    const label = cli("train", "--data", "shards:badlabel", "--arch", "784-16-10", "--out", "x.safetensors");
    expect(label.code).toBe(1);
    expect(label.err).toMatch(/shard .*x-0001\.npy rows 0…159: label 10 at row 5 is outside \[0, 10\)/);
  });
});
