/**
 * "A training step allocates nothing on the JS heap", checked by the test run and not only
 * by `npm run bench:allocation`: the bench's allocation probe (bench/allocation.ts, compiled
 * by the test command's type-check step) runs in a child process with --expose-gc and a
 * young generation large enough that no collection runs while it measures, for the step
 * variants that do not read the clock. The probe reports bytes per step as the difference
 * between windows of 4,096 and 2,048 steps; a single 16-byte number boxed on every step
 * would show as 16, so the bound of 1 byte per step leaves room for nothing per step.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const PROBE = fileURLToPath(new URL("../../bench/dist/allocation.js", import.meta.url));
const CASES = ["train (momentum SGD)", "distill (cached logits)", "distill (CNN, attention)"];

it("training steps of train and distill allocate nothing on the JS heap (bench/allocation.ts in a child process)", () => {
  expect(existsSync(PROBE), "bench/dist/allocation.js: run `tsc -p bench` (npm test does)").toBe(true);
  const r = spawnSync(process.execPath, ["--expose-gc", "--max-semi-space-size=128", PROBE, ...CASES.flatMap((c) => ["--only", c]), "--json"], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 600_000,
  });
  expect(r.status, r.stderr).toBe(0);
  const rows = r.stdout
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { case: string; bytesPerStep: number });
  expect(rows.map((x) => x.case)).toEqual(CASES);
  for (const row of rows) expect(row.bytesPerStep, `${row.case}: bytes per step`).toBeLessThan(1);
}, 600_000);
