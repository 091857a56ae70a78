/**
 * The command-line tool on a multi-label CSV (run as a user runs it, a child process of the
 * built CLI): --task multilabel with several --label columns for train, eval and distill,
 * the subset accuracy / per-label accuracy / F1 / BCE it prints in text and --json, the task
 * recorded in the saved model, and errors for bad label values and a non-CSV source.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeSafetensors } from "../../src/index.js";
import { TestRandom } from "../helpers/rand.js";

const CLI = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));
let dir: string;

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: "utf8", timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "distill-multilabel-"));
  // Three yes/no labels of three features: a = x1 > 0, b = x1 + x2 > 0.5, c = x3 < 0.2 (the columns in between).
  const rnd = new TestRandom(5);
  const lines = ["x1,a,x2,b,x3,c"];
  for (let r = 0; r < 200; r++) {
    const [x1, x2, x3] = [rnd.next() * 2 - 1, rnd.next(), rnd.next()];
    lines.push(`${x1},${x1 > 0 ? 1 : 0},${x2},${x1 + x2 > 0.5 ? 1 : 0},${x3},${x3 < 0.2 ? 1 : 0}`);
  }
  writeFileSync(join(dir, "ml.csv"), lines.join("\n") + "\n");
  writeFileSync(join(dir, "bad.csv"), "x,a,b\n0.5,1,0\n0.1,2,0\n");
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const COMMON = ["--data", "csv:ml.csv", "--task", "multilabel", "--label", "a,b,c", "--test-split", "0.2"];
const FIT = ["--optimizer", "adam", "--lr", "0.01", "--batch-size", "16"];

describe("multi-label CSV on the command line", () => {
  it("trains, evaluates and distils with --task multilabel --label a,b,c, printing the metrics", () => {
    const t = cli("train", ...COMMON, ...FIT, "--arch", "3-32-3", "--epochs", "60", "--out", "t.safetensors");
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/3 yes\/no labels/);
    expect(t.stdout).toMatch(
      /test subset accuracy [0-9.]+% {3}per-label accuracy [0-9.]+% {3}micro F1 [0-9.]+ {3}macro F1 [0-9.]+ {3}BCE [0-9.]+; saved t\.safetensors/,
    );
    const metadata = decodeSafetensors(readFileSync(join(dir, "t.safetensors"))).metadata;
    expect(metadata.task).toBe("multilabel");
    expect(Number(metadata.test_micro_f1)).toBeGreaterThan(0.8);
    const e = cli("eval", ...COMMON, "--model", "t.safetensors", "--json");
    expect(e.code, e.stderr).toBe(0);
    const report = JSON.parse(e.stdout) as { rows: number; subsetAccuracy: number; hammingAccuracy: number; microF1: number; labelF1: number[] };
    expect(report.rows).toBe(40);
    expect(report.microF1).toBe(Number(metadata.test_micro_f1));
    expect(report.hammingAccuracy).toBeGreaterThanOrEqual(report.subsetAccuracy);
    expect(report.labelF1).toHaveLength(3);
    const text = cli("eval", ...COMMON, "--model", "t.safetensors");
    expect(text.stdout).toMatch(/3 yes\/no labels/);
    const d = cli(
      "distill",
      ...COMMON,
      ...FIT,
      "--teacher",
      "t.safetensors",
      "--arch",
      "3-8-3",
      "--epochs",
      "40",
      "--alpha",
      "0.3",
      "--temperature",
      "2",
      "--out",
      "s.safetensors",
      "--json",
    );
    expect(d.code, d.stderr).toBe(0);
    const distilled = JSON.parse(d.stdout) as { temperature: number; accuracy: number | null; microF1: number; subsetAccuracy: number };
    expect(distilled.temperature).toBe(2);
    expect(distilled.accuracy).toBeNull();
    expect(distilled.microF1).toBeGreaterThan(0.5);
    expect(decodeSafetensors(readFileSync(join(dir, "s.safetensors"))).metadata.soft_loss).toBe("bce");
  });

  it("refuses a label that is not 0 or 1, a multi-label model on single-label data, and --task multilabel off CSV", () => {
    const bad = cli("train", "--data", "csv:bad.csv", "--task", "multilabel", "--label", "a,b", "--arch", "1-2", "--epochs", "1", "--out", "x.safetensors");
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/line 3, column 2: label 2 \("a"\) is not 0, 1 or -1/);
    const mixed = cli("eval", "--data", "csv:ml.csv", "--label", "a", "--model", "t.safetensors");
    expect(mixed.code).not.toBe(0);
    expect(mixed.stderr).toMatch(/multi-label/);
    const off = cli("train", "--data", "mnist", "--task", "multilabel", "--arch", "784-10", "--out", "x.safetensors");
    expect(off.code).toBe(2);
    expect(off.stderr).toMatch(/--task and --label apply to a csv:FILE source/);
    const task = cli("train", "--data", "csv:ml.csv", "--task", "multi", "--arch", "5-3", "--out", "x.safetensors");
    expect(task.stderr).toMatch(/--task must be classification, regression or multilabel/);
  });
});
