/**
 * The command-line tool on tabular CSV files, run as a user runs it (a child process of
 * the built CLI): --task regression with a named target column, --standardize, the
 * RMSE / MAE / R² it reports in text and --json, distillation of a regression teacher,
 * and --class-weights.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestRandom } from "../helpers/rand.js";

const CLI = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));
let dir: string;

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: "utf8", timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "distill-tabular-"));
  // y = 0.3·(a − 55) − 200·b + 1 + noise on raw features of very different scales; c is a distractor.
  const rnd = new TestRandom(3);
  const lines = ["a,y,b,c"];
  for (let r = 0; r < 200; r++) {
    const a = 50 + 10 * rnd.next(),
      b = 0.01 * rnd.next(),
      c = 1000 * rnd.next();
    lines.push(`${a},${0.3 * (a - 55) - 200 * b + 1 + 0.1 * (rnd.next() - 0.5)},${b},${c}`);
  }
  writeFileSync(join(dir, "reg.csv"), lines.join("\n") + "\n");
  const cls = ["x1,x2,label"];
  for (let r = 0; r < 120; r++) {
    const label = r % 6 === 0 ? 1 : 0;
    cls.push(`${label * 2 + rnd.next()},${rnd.next()},${label}`);
  }
  writeFileSync(join(dir, "cls.csv"), cls.join("\n") + "\n");
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("tabular CSV on the command line", () => {
  it("trains a standardised regression model on a named target column and reports RMSE / MAE / R²", () => {
    const common = ["--data", "csv:reg.csv", "--task", "regression", "--label", "y", "--test-split", "0.2"];
    const t = cli(
      "train",
      ...common,
      "--standardize",
      "--arch",
      "3-16-1",
      "--optimizer",
      "adam",
      "--lr",
      "0.01",
      "--epochs",
      "60",
      "--batch-size",
      "16",
      "--out",
      "t.safetensors",
    );
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/test RMSE [0-9.e+-]+ {3}MAE [0-9.e+-]+ {3}R² [0-9.-]+; saved t\.safetensors/);
    const e = cli("eval", ...common, "--model", "t.safetensors", "--json");
    expect(e.code, e.stderr).toBe(0);
    const report = JSON.parse(e.stdout) as { rmse: number; mae: number; r2: number; rows: number };
    expect(report.rows).toBe(40);
    expect(report.r2).toBeGreaterThan(0.5);
    expect(report.mae).toBeLessThanOrEqual(report.rmse);
    const d = cli(
      "distill",
      ...common,
      "--teacher",
      "t.safetensors",
      "--standardize",
      "--arch",
      "3-4-1",
      "--optimizer",
      "adam",
      "--lr",
      "0.01",
      "--epochs",
      "30",
      "--batch-size",
      "16",
      "--alpha",
      "0.5",
      "--out",
      "s.safetensors",
      "--json",
    );
    expect(d.code, d.stderr).toBe(0);
    const distilled = JSON.parse(d.stdout) as { rmse: number; r2: number; temperature: number | null; accuracy: number | null };
    expect(distilled.temperature).toBeNull();
    expect(distilled.accuracy).toBeNull();
    expect(Number.isFinite(distilled.rmse)).toBe(true);
  });

  it("takes --class-weights and refuses bad ones, a bad task and --label on a non-CSV source", () => {
    const ok = cli(
      "train",
      "--data",
      "csv:cls.csv",
      "--label",
      "label",
      "--class-weights",
      "balanced",
      "--arch",
      "2-2",
      "--epochs",
      "2",
      "--batch-size",
      "10",
      "--out",
      "c.safetensors",
    );
    expect(ok.code, ok.stderr).toBe(0);
    const weights = cli(
      "train",
      "--data",
      "csv:cls.csv",
      "--label",
      "2",
      "--class-weights",
      "1,5",
      "--arch",
      "2-2",
      "--epochs",
      "1",
      "--batch-size",
      "10",
      "--out",
      "c.safetensors",
    );
    expect(weights.code, weights.stderr).toBe(0);
    expect(cli("train", "--data", "csv:cls.csv", "--label", "label", "--class-weights", "1,x", "--arch", "2-2", "--out", "c.safetensors").code).not.toBe(0);
    expect(cli("train", "--data", "csv:cls.csv", "--task", "ranking", "--arch", "2-2", "--out", "c.safetensors").code).not.toBe(0);
    expect(cli("train", "--data", "mnist", "--label", "y", "--arch", "784-10", "--out", "c.safetensors").code).not.toBe(0);
  });
});
