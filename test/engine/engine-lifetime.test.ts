/**
 * A threaded engine dropped without dispose() gives back its worker threads once it is
 * garbage: five engines of two threads are made and dropped in a child process (with
 * --expose-gc), and the process's OS thread count (/proc/self/status, Linux) goes back to
 * what it was before them.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const DIST = new URL("../../dist/index.js", import.meta.url).href;
const SCRIPT = `
import { readFileSync } from "node:fs";
import { createEngine } from ${JSON.stringify(DIST)};
const threads = () => Number(/Threads:\\s+(\\d+)/.exec(readFileSync("/proc/self/status", "utf8"))[1]);
const base = threads();
for (let i = 0; i < 5; i++) await createEngine({ threads: 2 }); // each dropped at once, never disposed
const during = threads();
for (let i = 0; i < 100 && threads() > base + 1; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 50)); }
console.log(JSON.stringify({ base, during, after: threads() }));
`;

it.skipIf(!existsSync("/proc/self/status"))("worker threads of an engine dropped without dispose() stop once it is garbage", () => {
  const script = join(mkdtempSync(join(tmpdir(), "engine-lifetime-")), "drop-engines.mjs");
  writeFileSync(script, SCRIPT);
  const r = spawnSync(process.execPath, ["--expose-gc", script], {
    cwd: fileURLToPath(new URL("../..", import.meta.url)),
    encoding: "utf8",
    timeout: 120_000,
  });
  expect(r.status, r.stderr).toBe(0);
  const { base, during, after } = JSON.parse(r.stdout) as { base: number; during: number; after: number };
  expect(during, "five engines of two threads start five workers").toBeGreaterThanOrEqual(base + 5);
  expect(after, `threads: ${base} before, ${during} with the engines, ${after} after they were collected`).toBeLessThanOrEqual(base + 1);
});
