/**
 * Shared checks of the cross-runtime tests: every runtime's report must carry the committed
 * baseline checksum and the committed checksums of the students' logits through
 * distill-wasm/infer (equal to the full library's), float and int8, and the signals and tokens parts' own two each; relaxed-SIMD runs (where the engine has
 * relaxed SIMD) must be finite and identical to each other.
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import type { RuntimeReport } from "./scenario.mjs";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export const EXPECTED: {
  sha256: string;
  why: string;
  infer_sha256: string;
  int8_sha256: string;
  signals_sha256: string;
  signals_infer_sha256: string;
  tokens_sha256: string;
  tokens_infer_sha256: string;
} = JSON.parse(readFileSync(new URL("./expected-checksum.json", import.meta.url), "utf8"));

/** In CI every runtime must run: a missing browser fails instead of skipping. */
export const REQUIRE_ALL = Boolean(process.env.CI) && process.env.CI !== "false";

const short = (sha: string) => `${sha.slice(0, 12)}…`;

/** Asserts the report and prints one line about it; returns that line. */
export function checkReport(report: RuntimeReport, label: string, elapsedMs: number): string {
  const { baseline, relaxed } = report;
  expect(baseline.finite, `${label}: baseline run produced non-finite values`).toBe(true);
  expect(baseline.build).toBe("release");
  expect(baseline.steps).toEqual({ teacher: 84, student: 224 });
  expect(baseline.checksum, `${label}: checksum differs from test/runtimes/expected-checksum.json`).toBe(EXPECTED.sha256);
  expect(baseline.infer, `${label}: the baseline run was not given distill-wasm/infer`).toBeDefined();
  expect(baseline.infer!.checksum, `${label}: distill-wasm/infer's logits differ from model.logits`).toBe(baseline.infer!.library);
  expect(baseline.infer!.checksum, `${label}: distill-wasm/infer's logits differ from infer_sha256 in expected-checksum.json`).toBe(EXPECTED.infer_sha256);
  expect(baseline.infer!.int8.checksum, `${label}: distill-wasm/infer's int8 logits differ from the int8 model's`).toBe(baseline.infer!.int8.library);
  expect(baseline.infer!.int8.checksum, `${label}: int8 logits differ from int8_sha256 in expected-checksum.json`).toBe(EXPECTED.int8_sha256);
  expect(baseline.signals.steps).toEqual({ teacher: 56, student: 56 });
  expect(baseline.signals.checksum, `${label}: the signals part's checksum differs from signals_sha256 in expected-checksum.json`).toBe(
    EXPECTED.signals_sha256,
  );
  expect(baseline.signals.infer, `${label}: the signals part was not given distill-wasm/infer`).toBeDefined();
  expect(baseline.signals.infer!.checksum, `${label}: distill-wasm/infer's signal logits differ from model.logits`).toBe(baseline.signals.infer!.library);
  expect(baseline.signals.infer!.checksum, `${label}: signal logits through distill-wasm/infer differ from signals_infer_sha256`).toBe(
    EXPECTED.signals_infer_sha256,
  );
  expect(baseline.tokens.steps).toEqual({ teacher: 42, student: 42 });
  expect(baseline.tokens.checksum, `${label}: the tokens part's checksum differs from tokens_sha256 in expected-checksum.json`).toBe(EXPECTED.tokens_sha256);
  expect(baseline.tokens.infer, `${label}: the tokens part was not given distill-wasm/infer`).toBeDefined();
  expect(baseline.tokens.infer!.checksum, `${label}: distill-wasm/infer's token-model logits differ from model.logits`).toBe(baseline.tokens.infer!.library);
  expect(baseline.tokens.infer!.checksum, `${label}: token-model logits through distill-wasm/infer differ from tokens_infer_sha256`).toBe(
    EXPECTED.tokens_infer_sha256,
  );
  const { threaded } = report;
  expect(threaded.signals.checksum, `${label}: the signals part differs with threads`).toBe(EXPECTED.signals_sha256);
  expect(threaded.tokens.checksum, `${label}: the tokens part differs with threads`).toBe(EXPECTED.tokens_sha256);
  let threadsText: string;
  if (threaded.threads === 2) {
    expect(threaded.checksum, `${label}: two threads changed the result`).toBe(EXPECTED.sha256);
    threadsText = "2 threads: same bits";
  } else {
    expect(threaded.threadsNote, `${label}: one thread without a reason`).toBeTruthy();
    expect(REQUIRE_ALL, `${label}: threads unavailable in CI: ${threaded.threadsNote}`).toBe(false);
    expect(threaded.checksum).toBe(EXPECTED.sha256);
    threadsText = `threads skipped: ${threaded.threadsNote}`;
  }
  let relaxedText: string;
  if ("skipped" in relaxed) {
    relaxedText = `relaxed SIMD skipped: ${relaxed.skipped}`;
  } else {
    expect(relaxed.first.build).toBe("relaxed");
    expect(relaxed.first.finite, `${label}: relaxed run produced non-finite values`).toBe(true);
    expect(relaxed.second.checksum, `${label}: relaxed build not stable run to run`).toBe(relaxed.first.checksum);
    expect(relaxed.second.signals.checksum, `${label}: relaxed build's signals part not stable run to run`).toBe(relaxed.first.signals.checksum);
    expect(relaxed.second.tokens.checksum, `${label}: relaxed build's tokens part not stable run to run`).toBe(relaxed.first.tokens.checksum);
    const same = relaxed.first.checksum === baseline.checksum;
    relaxedText = `relaxed ${short(relaxed.first.checksum)} (${same ? "equal to" : "differs from"} baseline; stable over 2 runs)`;
  }
  const line =
    `[runtimes] ${label} — ${report.runtime}: ✔ ${short(baseline.checksum)} = committed; infer ${short(baseline.infer!.checksum)} = model.logits = committed; ` +
    `signals ${short(baseline.signals.checksum)} = committed; tokens ${short(baseline.tokens.checksum)} = committed; ` +
    `${threadsText}; ${relaxedText}; ` +
    `scenario ${Math.round(report.baselineMs)} ms, whole check ${Math.round(elapsedMs)} ms`;
  console.log(line);
  return line;
}

/** Where a runtime's executable is: an environment override, else the first existing candidate. */
export function findExecutable(envName: string, candidates: string[]): string | undefined {
  const override = process.env[envName];
  if (override) return override;
  return candidates.find((path) => existsSync(path));
}

/** Runs a command that prints a RuntimeReport as the last line of its stdout. */
export function runReport(
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ report: RuntimeReport & { resolved: string }; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { cwd: ROOT, env: { ...process.env, NO_COLOR: "1", ...env }, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const ms = performance.now() - started;
        if (error) {
          reject(new Error(`${command} ${args.join(" ")} failed (${error.message})\nstdout:\n${stdout}\nstderr:\n${stderr}`));
          return;
        }
        const last = stdout.trim().split("\n").pop() ?? "";
        try {
          resolve({ report: JSON.parse(last), ms });
        } catch {
          reject(new Error(`${command} ${args.join(" ")} printed no JSON report\nstdout:\n${stdout}\nstderr:\n${stderr}`));
        }
      },
    );
  });
}
