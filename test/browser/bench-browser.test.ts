/**
 * The benchmark suites in a browser page, in quick mode (bench/browser/main.ts --quick:
 * smallest shapes, three timed calls each): compiles bench/, runs the runner against
 * headless Chromium with the results written to a temporary directory, and checks the JSON
 * the page posted back: every comparison library loaded, every implementation passed its
 * agreement check and produced a row. No assertion about speed.
 * Skipped, with the reason printed, when Chromium is not installed (outside CI).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REQUIRE_ALL, ROOT } from "../runtimes/helpers.js";
import { findBrowser } from "../../bench/browser/browsers.js";

const CHROMIUM = findBrowser("chromium");
const out = mkdtempSync(join(tmpdir(), "distill-wasm-bench-browser-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function run(command: string, args: string[], timeout: number): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd: ROOT, timeout, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, CHROMIUM_BIN: CHROMIUM } }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(" ")} failed (${error.message})\nstdout:\n${stdout}\nstderr:\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

interface Row {
  library: string;
  timing: { medianMs: number; samples: number };
}
interface Results {
  machine: { runtime: string; crossOriginIsolated?: boolean };
  quick?: boolean;
  skipped: Record<string, string>;
  kernels: { rows: (Row & { maxScaledError: number; form: string; m: number; k: number; n: number })[]; tolerance: number };
  steps: {
    rows: (Row & { scenario: string })[];
    checks: { scenario: string; library: string; agreement: { lossRelErr: number; updateRelErr: number } }[];
    tolerances: { loss: number; update: number };
  };
  inference: {
    rows: (Row & { batch: number; outputRelErr: number })[];
    tolerance: number;
  };
  int8: { rows: (Row & { model: string; batch: number; outputRelErr: number })[]; skipped: Record<string, string>; intPeakGops: number };
  conv: { rows: (Row & { pass: string; maxScaledError: number; cin: number })[]; tolerance: number };
  threads: { threads: number; rows: { scenario: string; sameBits: boolean; speedup: number }[]; skipped?: string };
  native: { rows: (Row & { scenario: string; variant: string; threads: number })[]; skipped: Record<string, string> };
  epochs: { epochRows: unknown[]; skipped?: string };
}

/** Every library appears once per group (shape, scenario, batch, …) with a timing. */
function expectAllLibraries<R extends Row>(rows: R[], group: (r: R) => string, libraries: string[], label: string): void {
  const groups = [...new Set(rows.map(group))];
  expect(groups.length, `${label}: no rows`).toBeGreaterThan(0);
  for (const g of groups) {
    const got = rows.filter((r) => group(r) === g).map((r) => r.library);
    expect(got.sort(), `${label} ${g}`).toEqual([...libraries].sort());
  }
  for (const r of rows) {
    expect(r.timing.samples, `${label} ${group(r)} ${r.library}: samples`).toBeGreaterThan(0);
    expect(Number.isFinite(r.timing.medianMs) && r.timing.medianMs >= 0, `${label} ${group(r)} ${r.library}: median`).toBe(true);
  }
}

function checkResults(results: Results): void {
  expect(results.machine.runtime).toBe("chromium");
  expect(results.machine.crossOriginIsolated, "the page must be cross-origin isolated").toBe(true);
  expect(results.quick).toBe(true);
  expect(results.skipped, "every comparison library must load in the page").toEqual({});

  const { kernels, steps, inference, conv } = results;
  expectAllLibraries(kernels.rows, (r) => `${r.form} ${r.m}×${r.k}×${r.n}`, ["distill-wasm", "tfjs-wasm", "tfjs-cpu", "naive JS"], "kernels");
  for (const r of kernels.rows) expect(r.maxScaledError, `kernels ${r.library} ${r.form}`).toBeLessThanOrEqual(kernels.tolerance);

  const stepLibs = (s: string) => [
    "distill-wasm step",
    "distill-wasm step, relaxed SIMD",
    s === "distillation" ? "distill-wasm distill()" : "distill-wasm train()",
    "tfjs-wasm",
    "tfjs-cpu",
    "naive JS",
  ];
  for (const scenario of ["distillation", "teacher"]) {
    expectAllLibraries(
      steps.rows.filter((r) => r.scenario === scenario),
      () => scenario,
      stepLibs(scenario),
      "steps",
    );
    const checked = steps.checks.filter((c) => c.scenario === scenario);
    expect(checked.map((c) => c.library).sort()).toEqual(
      stepLibs(scenario)
        .filter((l) => l !== "naive JS")
        .sort(),
    );
    for (const c of checked) {
      expect(c.agreement.lossRelErr, `${scenario} ${c.library} loss`).toBeLessThanOrEqual(steps.tolerances.loss);
      expect(c.agreement.updateRelErr, `${scenario} ${c.library} update`).toBeLessThanOrEqual(steps.tolerances.update);
    }
  }

  // A page starts no Python process and reads no MNIST files: those parts are skipped with the reason;
  // distill-wasm's own rows of the native section (both builds, 1 and 2 threads) still run.
  expect(results.native.skipped.PyTorch).toMatch(/browser page/);
  expect(new Set(results.native.rows.map((r) => `${r.library} ${r.variant} ${r.threads}`))).toEqual(
    new Set(["distill-wasm baseline 1", "distill-wasm relaxed 1", "distill-wasm baseline 2", "distill-wasm relaxed 2"]),
  );
  expect(results.epochs.skipped).toMatch(/browser page/);

  const inferenceLibs = ["distill-wasm logits()", "distill-wasm forward", "tfjs-wasm", "tfjs-wasm, unfused", "tfjs-cpu", "onnxruntime-web", "naive JS"];
  expectAllLibraries(inference.rows, (r) => `batch ${r.batch}`, inferenceLibs, "inference");
  for (const r of inference.rows) expect(r.outputRelErr, `inference batch ${r.batch} ${r.library}`).toBeLessThanOrEqual(inference.tolerance);
  // The int8 suite: distill-wasm/export's QDQ graphs (MLPs and the CNN) load in the page's onnxruntime-web, and every row passed its check (the suite aborts otherwise).
  expect(results.int8.skipped, "int8 rows skipped").toEqual({});
  expect(results.int8.intPeakGops).toBeGreaterThan(0);
  const int8Libs = ["distill-wasm int8", "distill-wasm float32", "onnxruntime-web int8 (QDQ)", "onnxruntime-web float32"];
  expectAllLibraries(results.int8.rows, (r) => `${r.model} batch ${r.batch}`, int8Libs, "int8 inference");
  expect(new Set(results.int8.rows.map((r) => r.model)).size).toBe(3);

  // The page is isolated, so the threads suite must run (one thread vs hardwareConcurrency, at least 2).
  expect(results.threads.skipped, "threads suite skipped").toBeUndefined();
  expect(results.threads.threads).toBeGreaterThanOrEqual(2);
  expect(results.threads.rows.map((r) => r.scenario)).toHaveLength(8);
  for (const r of results.threads.rows) expect(r.sameBits, `threads ${r.scenario}`).toBe(true);

  expectAllLibraries(conv.rows, (r) => `${r.pass} cin ${r.cin}`, ["distill-wasm", "tfjs-wasm", "tfjs-cpu", "naive JS"], "conv");
  for (const r of conv.rows) expect(r.maxScaledError, `conv ${r.pass} ${r.library}`).toBeLessThanOrEqual(conv.tolerance);
}

describe("the benchmark suites run in a browser page", () => {
  if (!CHROMIUM && !REQUIRE_ALL) {
    console.warn("[bench] SKIPPING the browser benchmark smoke test: Chromium not found (apt-get install chromium, or set CHROMIUM_BIN)");
    it.skip("Chromium (not installed: apt-get install chromium)", () => {});
    return;
  }
  it("npm run bench:browser -- --quick in headless Chromium: all libraries load, agree and produce rows", async () => {
    expect(CHROMIUM, "Chromium not found; .ci/run installs it with: apt-get install chromium").toBeDefined();
    const started = performance.now();
    // npm test builds dist/ but only type-checks bench/; the page needs bench/dist/.
    await run(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "bench"], 60_000);
    const { stdout, stderr } = await run(process.execPath, ["bench/dist/browser/main.js", "--quick", `--out=${out}`, "--timeout=100"], 110_000);
    expect(stdout).toContain("## Summary");
    expect(stdout + stderr).not.toContain("AGREEMENT CHECK FAILED");
    const files = readdirSync(out);
    const json = files.find((f) => /^chromium-quick-\d{4}-\d\d-\d\d\.json$/.test(f));
    expect(json, `result files: ${files.join(", ")}`).toBeDefined();
    expect(files.some((f) => f === "samples-per-second-chromium-quick.svg")).toBe(true);
    checkResults(JSON.parse(readFileSync(join(out, json!), "utf8")) as Results);
    console.log(`[bench] browser suites in quick mode: ${stderr.match(/chromium [\d.]+: done/)?.[0] ?? "done"}, ${Math.round(performance.now() - started)} ms`);
  }, 180_000);
});
