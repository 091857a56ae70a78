/**
 * Interop with PyTorch and NumPy, through the scripts and files in test/fixtures/interop/.
 *
 * Our model → torch: a model trained here (every activation kind, dropout) is saved, and
 * read_safetensors.py loads it into a torch nn.Sequential (json + struct + numpy, then
 * load_state_dict(strict=True)) and prints its logits. With /usr/bin/python3 and torch
 * present that runs live; the committed ours-model.safetensors / ours-inputs.npy /
 * ours-torch-outputs.json are checked offline everywhere. Regenerate them with
 *   UPDATE_INTEROP_FIXTURES=1 npx vitest run --config test/vitest.config.ts test/api/interop.test.ts
 *
 * Torch → us: make_torch_teacher.py trains a torch MLP and writes its state_dict as
 * safetensors (no metadata), its inputs, labels and logits as .npy. We rebuild the model
 * from the names alone, reproduce torch's logits to float32 rounding, load the logits and
 * the data, and distill a student from the model and from the logits.
 *
 * NumPy: make_npy_cases.py writes .npy files of every dtype, both byte orders, three
 * format versions; we read them all and write NumPy's bytes exactly.
 *
 * "To float32 rounding": torch and we both compute in float32 with other summation orders
 * and other tanh / exp, so each logit is compared with a float64 evaluation of the same
 * weights and must lie within twice the first-order float32 error bound of that evaluation
 * (test/helpers/mlp64.ts) — for our result and for torch's.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import {
  FormatError,
  Sequential,
  agreement,
  dense,
  distill,
  dropout,
  evaluate,
  gelu,
  init,
  leakyRelu,
  mlp,
  relu,
  sigmoid,
  tanh,
  train,
} from "../../src/index.js";
import {
  decodeSafetensors,
  encodeNpy,
  encodeSafetensors,
  loadModel,
  loadTeacherLogits,
  modelFromSafetensors,
  parseNpy,
  saveModel,
  type NpyArray,
} from "../../src/io/index.js";
import { loadNpyDataset } from "../../src/data/csv.js";
import { forward64, layersOf } from "../helpers/mlp64.js";
import { TestRandom } from "../helpers/rand.js";
import { blobs } from "../helpers/tiny-data.js";

const DIR = fileURLToPath(new URL("../fixtures/interop/", import.meta.url));
const PYTHON = "/usr/bin/python3";
const fixture = (name: string) => new Uint8Array(readFileSync(join(DIR, name)));

const torchMissing = !existsSync(PYTHON)
  ? `${PYTHON} does not exist`
  : spawnSync(PYTHON, ["-c", "import torch, numpy"], { encoding: "utf8" }).status !== 0
    ? `${PYTHON} cannot import torch and numpy (apt-get install python3-torch)`
    : "";
if (torchMissing) console.log(`interop: live PyTorch tests skipped: ${torchMissing}; the committed fixtures are still checked`);

function python(script: string, ...args: string[]): string {
  const r = spawnSync(PYTHON, [join(DIR, script), ...args], { encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${script} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

beforeAll(async () => {
  await init();
});

/**
 * Checks that `ours` and `torch` (rows × outputs logits of `model` on x) both lie within
 * twice the float32 error bound of the float64 evaluation; returns the largest |ours − torch|.
 */
function expectWithinRounding(model: Sequential, x: Float32Array, ours: ArrayLike<number>, torch: ArrayLike<number>): number {
  const rows = x.length / model.inputs;
  const { output, bound } = forward64(layersOf(model), x, rows, { bounds: true });
  expect(ours.length).toBe(output.length);
  expect(torch.length).toBe(output.length);
  let worst = 0;
  for (let i = 0; i < output.length; i++) {
    const limit = 2 * bound[i]! + 1e-30;
    for (const [who, v] of [
      ["ours", ours[i]!],
      ["torch", torch[i]!],
    ] as const) {
      if (!(Math.abs(v - output[i]!) <= limit)) {
        expect.fail(
          `logit ${i} (row ${Math.floor(i / model.outputs)}): ${who} ${v} is ${Math.abs(v - output[i]!)} from the float64 value ${output[i]}, beyond ${limit}`,
        );
      }
    }
    worst = Math.max(worst, Math.abs(ours[i]! - torch[i]!));
  }
  return worst;
}

function argmaxRows(logits: ArrayLike<number>, cols: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < logits.length / cols; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if (logits[r * cols + c]! > logits[r * cols + best]!) best = c;
    out.push(best);
  }
  return out;
}

interface TorchOutputs {
  torch_version: string;
  logits: number[];
  predictions: number[];
}

// ================================================================ our model → torch

/** Trained with a fixed seed: every activation kind, dropout, glorot and he init. */
async function ourModel(): Promise<{ model: Sequential; inputs: Float32Array }> {
  const data = blobs({ rows: 96, features: 6, classes: 3, seed: 21 });
  const model = new Sequential(
    [
      dense(6, 12),
      leakyRelu(0.05),
      dense(12, 12),
      gelu(),
      dropout(0.1),
      dense(12, 10, { init: "glorot" }),
      tanh(),
      dense(10, 10),
      sigmoid(),
      dense(10, 8),
      relu(),
      dense(8, 3),
    ],
    { seed: 21 },
  );
  await train(model, data, { epochs: 5, batchSize: 16, seed: 21, optimizer: "adam", lr: 0.01 });
  return { model, inputs: new TestRandom(5).normal(40 * 6, 2) };
}

describe("a distill-wasm model in PyTorch", () => {
  it.skipIf(!!torchMissing)("loads into torch nn.Sequential with strict names and gives our logits (live)", async () => {
    const { model, inputs } = await ourModel();
    const dir = mkdtempSync(join(tmpdir(), "distill-interop-"));
    await saveModel(model, join(dir, "model.safetensors"), { trained_epochs: 5 });
    writeFileSync(join(dir, "inputs.npy"), encodeNpy(inputs, [40, 6]));
    const stdout = python("read_safetensors.py", join(dir, "model.safetensors"), join(dir, "inputs.npy"));
    const out = JSON.parse(stdout) as TorchOutputs;
    const ours = model.logits(inputs);
    const worst = expectWithinRounding(model, inputs, ours, out.logits);
    expect(out.predictions).toEqual(argmaxRows(ours, 3));
    console.log(`interop: torch ${out.torch_version} reads our model; largest |ours − torch| logit difference ${worst.toExponential(2)}`);
    if (process.env.UPDATE_INTEROP_FIXTURES === "1") {
      copyFileSync(join(dir, "model.safetensors"), join(DIR, "ours-model.safetensors"));
      copyFileSync(join(dir, "inputs.npy"), join(DIR, "ours-inputs.npy"));
      writeFileSync(join(DIR, "ours-torch-outputs.json"), stdout);
    }
    model.dispose();
  });

  it("matches the committed torch outputs for the committed model file (offline)", () => {
    const bytes = fixture("ours-model.safetensors");
    const model = modelFromSafetensors(bytes);
    const x = parseNpy(fixture("ours-inputs.npy"));
    expect(x.shape).toEqual([40, 6]);
    const out = JSON.parse(readFileSync(join(DIR, "ours-torch-outputs.json"), "utf8")) as TorchOutputs;
    const ours = model.logits(x.data as Float32Array);
    expectWithinRounding(model, x.data as Float32Array, ours, out.logits);
    expect(out.predictions).toEqual(argmaxRows(ours, 3));
    // Its metadata, and the encoder's determinism: decoding and re-encoding gives the same bytes.
    const { tensors, metadata } = decodeSafetensors(bytes);
    expect(Object.keys(metadata).sort()).toEqual(["architecture", "distill_wasm_version", "format", "trained_epochs"]);
    expect(metadata.format).toBe("pt");
    expect(JSON.parse(metadata.architecture!)).toEqual(model.specs);
    const again = encodeSafetensors(
      [...tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data as Float32Array })),
      metadata,
    );
    expect(again).toEqual(bytes);
    model.dispose();
  });
});

// ================================================================ torch teacher → distill-wasm

describe("a PyTorch teacher in distill-wasm", () => {
  it("rebuilds the architecture from the state_dict names and reproduces torch's logits", async () => {
    const teacher = await loadModel(join(DIR, "teacher.safetensors"));
    expect(teacher.specs).toEqual([dense(8, 32), relu(), dense(32, 32), relu(), dense(32, 4)]);
    const x = parseNpy(fixture("x.npy"));
    expect(x).toMatchObject({ dtype: "f4", shape: [400, 8] });
    const torchLogits = await loadTeacherLogits(join(DIR, "teacher-logits.npy"), { rows: 400, classes: 4 });
    const worst = expectWithinRounding(teacher, x.data as Float32Array, teacher.logits(x.data as Float32Array), torchLogits);
    console.log(`interop: our logits of the torch teacher differ from torch's by at most ${worst.toExponential(2)}`);
    expect(await loadTeacherLogits(fixture("teacher-logits-f8.npy"))).toEqual(torchLogits);
    teacher.dispose();
  });

  it("writes the same safetensors bytes as the Python writer (header layout, order, padding)", () => {
    const bytes = fixture("teacher.safetensors");
    const { tensors, metadata } = decodeSafetensors(bytes);
    expect(metadata).toEqual({});
    expect([...tensors.keys()]).toEqual(["0.bias", "0.weight", "2.bias", "2.weight", "4.bias", "4.weight"]);
    const again = encodeSafetensors([...tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data as Float32Array })));
    expect(again).toEqual(bytes);
  });

  it("teaches a student as a model and as precomputed logits", async () => {
    const data = await loadNpyDataset(join(DIR, "x.npy"), join(DIR, "y.npy"));
    expect([data.length, data.features, data.classes]).toEqual([400, 8, 4]);
    const teacher = modelFromSafetensors(fixture("teacher.safetensors"));
    expect(evaluate(teacher, data).accuracy).toBeCloseTo(0.828, 3); // what make_torch_teacher.py printed
    const logits = await loadTeacherLogits(fixture("teacher-logits.npy"), { rows: data.length, classes: data.classes });
    const run = { data, epochs: 30, batchSize: 32, seed: 3, optimizer: "adam" as const, lr: 0.01 };
    const fromModel = mlp([8, 32, 4], { seed: 7 });
    const fromLogits = mlp([8, 32, 4], { seed: 7 });
    const scratch = mlp([8, 32, 4], { seed: 7 });
    const a = await distill({ ...run, teacher, student: fromModel, temperature: 2, alpha: 0.1 });
    const b = await distill({ ...run, teacher: logits, student: fromLogits, temperature: 2, alpha: 0.1 });
    const { data: _data, ...budget } = run; // train takes the data as an argument, not an option
    await train(scratch, data, budget);
    // Distilled students follow the teacher's soft outputs much more closely than one trained on the labels.
    const kl = [fromModel, fromLogits, scratch].map((s) => agreement(teacher, s, data).meanKl);
    console.log(
      `interop: mean KL(torch teacher ‖ student): from the model ${kl[0]!.toFixed(4)}, from the logits ${kl[1]!.toFixed(4)}, from labels only ${kl[2]!.toFixed(4)}`,
    );
    expect(kl[0]!).toBeLessThan(0.75 * kl[2]!);
    expect(kl[1]!).toBeLessThan(0.75 * kl[2]!);
    // The two teachers differ at most in float32 rounding (here not at all), so the students match.
    expect(a.history.at(-1)!.loss).toBeCloseTo(b.history.at(-1)!.loss, 4);
    expect(agreement(fromModel, fromLogits, data).top1).toBeGreaterThan(0.97);
    for (const m of [teacher, fromModel, fromLogits, scratch]) m.dispose();
  });

  it.skipIf(!!torchMissing)("holds for a freshly generated teacher too (live)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "distill-teacher-"));
    python("make_torch_teacher.py", dir);
    const teacher = await loadModel(join(dir, "teacher.safetensors"));
    const x = parseNpy(new Uint8Array(readFileSync(join(dir, "x.npy"))));
    const torchLogits = await loadTeacherLogits(join(dir, "teacher-logits.npy"));
    expectWithinRounding(teacher, x.data as Float32Array, teacher.logits(x.data as Float32Array), torchLogits);
    teacher.dispose();
  });
});

// ================================================================ NumPy's .npy files

interface NpyCase {
  dtype?: string;
  shape?: number[];
  values?: (number | boolean)[];
  bits32?: number[];
  error?: string;
}

function checkNpyCases(dir: string): number {
  const { cases } = JSON.parse(readFileSync(join(dir, "cases.json"), "utf8")) as { cases: Record<string, NpyCase> };
  const files = readdirSync(dir).filter((f) => f.endsWith(".npy"));
  expect(files.sort()).toEqual(
    Object.keys(cases)
      .map((n) => `${n}.npy`)
      .sort(),
  );
  for (const [name, c] of Object.entries(cases)) {
    const bytes = new Uint8Array(readFileSync(join(dir, `${name}.npy`)));
    if (c.error) {
      expect(() => parseNpy(bytes, name), name).toThrow(FormatError);
      expect(() => parseNpy(bytes, name), name).toThrow(c.error);
      continue;
    }
    const a: NpyArray = parseNpy(bytes, name);
    expect([a.dtype, a.shape], name).toEqual([c.dtype, c.shape]);
    if (c.bits32) expect([...new Uint32Array((a.data as Float32Array).buffer)], name).toEqual(c.bits32);
    else {
      const expected = c.values!.map(Number);
      const got = Array.from(a.data as ArrayLike<number | bigint>, Number);
      expect(got, name).toEqual(a.dtype === "f4" ? expected.map(Math.fround) : expected);
    }
    // NumPy's own bytes for the types we write.
    if (["f4", "f8", "i4", "u1"].includes(a.dtype) && bytes[6] === 1 && !name.includes("big_endian")) {
      expect(encodeNpy(a.data as Float32Array, a.shape), `${name}: encodeNpy = np.save`).toEqual(bytes);
    }
  }
  return Object.keys(cases).length;
}

describe("NumPy .npy files", () => {
  it("reads every committed case and writes np.save's bytes", () => {
    expect(checkNpyCases(join(DIR, "npy-cases"))).toBeGreaterThan(20);
    for (const name of ["x.npy", "teacher-logits.npy", "teacher-logits-f8.npy"]) {
      const a = parseNpy(fixture(name));
      expect(encodeNpy(a.data as Float32Array, a.shape), name).toEqual(fixture(name));
    }
    expect(parseNpy(fixture("y.npy"))).toMatchObject({ dtype: "i8", shape: [400] });
  });

  it.skipIf(!!torchMissing)("reads the cases written by this machine's NumPy (live)", () => {
    const dir = mkdtempSync(join(tmpdir(), "distill-npy-"));
    python("make_npy_cases.py", dir);
    expect(checkNpyCases(dir)).toBeGreaterThan(20);
  });
});
