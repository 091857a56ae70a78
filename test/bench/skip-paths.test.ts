/**
 * The whole-epoch suite's and the PyTorch comparator's paths that decide what runs:
 * finding the MNIST files (argument, environment, default; skipped with the reason),
 * cutting IDX files to their first rows, the CLI's flags and --json epoch, and the suites'
 * skips where there is no native tool (a browser page), no Python, or no torch.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { idxHead, resolveMnistDir } from "../../bench/lib/mnist-files.js";
import { runTorchDriver } from "../../bench/lib/node-native.js";
import type { TorchSpec } from "../../bench/lib/torch.js";
import type { Context } from "../../bench/lib/context.js";
import { cliEpoch, cliFlags, epochRowsOf, runEpochs } from "../../bench/suites/epochs.js";

const DRIVER = fileURLToPath(new URL("../../bench/torch/step.py", import.meta.url));
const PYTHON = process.env.DISTILL_BENCH_PYTHON ?? "/usr/bin/python3";
const HAS_PYTHON = existsSync(PYTHON);
if (!HAS_PYTHON) console.log(`[bench] ${PYTHON} not found: the driver's skip tests that need Python are skipped`);
const scratch = mkdtempSync(join(tmpdir(), "distill-wasm-bench-skip-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("resolveMnistDir", () => {
  const has =
    (...files: string[]) =>
    (f: string) =>
      files.includes(f);

  it("prefers --mnist=DIR, then DISTILL_BENCH_MNIST, then the default", () => {
    const exists = has("/a/train-images-idx3-ubyte.gz", "/b/train-images-idx3-ubyte", "/c/train-images.idx3-ubyte");
    expect(resolveMnistDir({ argv: ["--mnist=/a/"], envDir: "/b", defaultDir: "/c", exists })).toEqual({ dir: "/a", source: "/a (--mnist)" });
    expect(resolveMnistDir({ argv: [], envDir: "/b", defaultDir: "/c", exists })).toEqual({ dir: "/b", source: "/b (DISTILL_BENCH_MNIST)" });
    expect(resolveMnistDir({ argv: ["--mnist="], envDir: "", defaultDir: "/c", exists })).toEqual({ dir: "/c", source: "/c (the default location)" });
  });

  it("skips with the reason, and how to point elsewhere, when the directory has no training images", () => {
    const r = resolveMnistDir({ argv: [], defaultDir: "/work/shared/data/mnist", exists: () => false });
    expect(r).toEqual({
      skipped:
        "no MNIST training images (train-images-idx3-ubyte[.gz]) in /work/shared/data/mnist, from the default location; " +
        "pass --mnist=DIR or set DISTILL_BENCH_MNIST to a directory of the MNIST IDX files",
    });
  });
});

describe("idxHead", () => {
  /** An IDX file of `count` records of 2×3 unsigned bytes, record r filled with r. */
  const images = (count: number) => {
    const bytes = new Uint8Array(16 + count * 6);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, 0x00000803);
    view.setUint32(4, count);
    view.setUint32(8, 2);
    view.setUint32(12, 3);
    for (let r = 0; r < count; r++) bytes.fill(r, 16 + r * 6, 16 + (r + 1) * 6);
    return bytes;
  };

  it("keeps the header with the new count and the first records", () => {
    const { bytes, rows } = idxHead(images(5), 2);
    expect(rows).toBe(2);
    expect(Array.from(bytes)).toEqual([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
  });

  it("keeps the whole file when asked for more rows than it has", () => {
    const whole = images(3);
    const { bytes, rows } = idxHead(whole, Number.MAX_SAFE_INTEGER);
    expect(rows).toBe(3);
    expect(bytes).toEqual(whole);
  });

  it("reads labels (one dimension) and refuses what is not IDX or is truncated", () => {
    const labels = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 4, 7, 8, 9, 6]);
    expect(Array.from(idxHead(labels, 3).bytes)).toEqual([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9]);
    expect(() => idxHead(new Uint8Array([1, 0, 8, 1, 0, 0, 0, 0]), 1)).toThrow(/not an IDX file/);
    expect(() => idxHead(new Uint8Array([0, 0, 0x42, 1, 0, 0, 0, 0]), 1)).toThrow(/type code 0x42/);
    expect(() => idxHead(images(4).subarray(0, 30), 1)).toThrow(/truncated: 4 records need 40 bytes, the file has 30/);
  });
});

describe("the epoch suite's CLI runs", () => {
  it("passes the bare step's hyperparameters, and dropout with shifts when regularised", () => {
    expect(cliFlags("teacher", "none", [784, 1200, 1200, 10])).toEqual([
      "--arch",
      "784-1200-1200-10",
      "--epochs",
      "1",
      "--batch-size",
      "128",
      "--optimizer",
      "momentum",
      "--lr",
      "0.05",
      "--seed",
      "1",
    ]);
    expect(cliFlags("student", "dropout + shift", [784, 800, 800, 10]).slice(12)).toEqual([
      "--temperature",
      "4",
      "--alpha",
      "0.1",
      "--dropout",
      "0.2,0.5",
      "--augment",
      "shift=2",
    ]);
  });

  it("reads the epoch from --json, or says what is wrong", () => {
    const epoch = { epoch: 1, loss: 0.5, accuracy: 0.9, lr: 0.05, steps: 79, seconds: 2.5 };
    expect(cliEpoch(JSON.stringify({ command: "train", history: [epoch] }))).toEqual(epoch);
    expect(cliEpoch("epoch 1/1 ...")).toMatch(/not one JSON document/);
    expect(cliEpoch(JSON.stringify({ history: [epoch, epoch] }))).toMatch(/no one-epoch history/);
    expect(cliEpoch(JSON.stringify({ history: [{ ...epoch, seconds: 0 }] }))).toMatch(/no seconds or loss/);
  });

  it("takes 10,000 rows by default, 1,024 with --quick and every row with --full-epochs", () => {
    expect(epochRowsOf([], false)).toBe(10_000);
    expect(epochRowsOf([], true)).toBe(1_024);
    expect(epochRowsOf(["--full-epochs"], true)).toBe("all");
  });

  it("is skipped, with the reason, where the platform has no native tools (a browser page)", async () => {
    const ctx = { argv: [], quick: true, platform: {} } as unknown as Context;
    expect(await runEpochs(ctx)).toEqual({
      epochRows: [],
      failures: [],
      skipped: "this runtime cannot read the MNIST files or start the CLI (a browser page)",
    });
  });
});

describe("the PyTorch driver's skips", () => {
  const spec: TorchSpec = {
    threads: 1,
    quick: true,
    lr: 0.05,
    momentum: 0.9,
    temperature: 4,
    alpha: 0.1,
    scenarios: [{ id: "inference, batch 1", kind: "infer", widths: [4, 3, 2], seed: 1, batch: 1, batchSeed: 2 }],
  };
  const variant = { requested: "default BLAS" as const };

  it("skips when the Python executable does not exist", async () => {
    const out = await runTorchDriver({ python: join(scratch, "no-python3"), driver: DRIVER, spec, variant, env: process.env });
    expect(out).toHaveProperty("skipped");
    expect((out as { skipped: string }).skipped).toMatch(/^cannot run .*no-python3 .*set DISTILL_BENCH_PYTHON to a Python with torch$/);
  });

  it.skipIf(!HAS_PYTHON)("skips when torch cannot be imported (the driver's skip line)", async () => {
    // A module named torch that fails to import, first on the path.
    const fake = join(scratch, "fake-torch");
    mkdirSync(fake, { recursive: true });
    writeFileSync(join(fake, "torch.py"), 'raise ImportError("no torch here")\n');
    const out = await runTorchDriver({ python: PYTHON, driver: DRIVER, spec, variant, env: { ...process.env, PYTHONPATH: fake } });
    expect(out).toHaveProperty("skipped");
    expect((out as { skipped: string }).skipped).toMatch(/^cannot import torch and numpy in .*: ImportError: no torch here$/);
  });

  it.skipIf(!HAS_PYTHON)("skips with the exit code and the end of stderr when the driver fails", async () => {
    const failing = join(scratch, "failing.py");
    writeFileSync(failing, 'import sys\nsys.stderr.write("line 1\\nboom\\n")\nsys.exit(3)\n');
    const out = await runTorchDriver({ python: PYTHON, driver: failing, spec, variant, env: process.env });
    expect((out as { skipped: string }).skipped).toMatch(/failing\.py exited with code 3:\nline 1\nboom$/);
  });
});
