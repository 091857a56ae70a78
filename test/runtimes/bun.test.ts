/** Bun (the `@oven/bun-linux-x64` npm package's binary, a devDependency): the shared scenario through dist/index.js. */
import { describe, expect, it } from "vitest";
import { checkReport, findExecutable, ROOT, runReport } from "./helpers.js";

const bun = findExecutable("BUN_BIN", [`${ROOT}node_modules/@oven/bun-linux-x64/bin/bun`]);

describe("Bun runs the shared scenario with the committed checksum", () => {
  it("finds the bun binary (devDependency @oven/bun-linux-x64)", () => {
    expect(bun, "node_modules/@oven/bun-linux-x64/bin/bun is missing: run npm ci (or set BUN_BIN)").toBeDefined();
  });

  it.runIf(bun)('bun run: import * as api from "distill-wasm" (dist/index.js)', async () => {
    const { report, ms } = await runReport(bun!, ["run", "test/runtimes/scripts/package.mjs"], { DO_NOT_TRACK: "1" });
    expect(report.resolved).toMatch(/\/dist\/index\.js$/);
    checkReport(report, "bun run (dist/index.js)", ms);
  });
});
