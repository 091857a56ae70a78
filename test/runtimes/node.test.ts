/**
 * Node: the shared scenario on the TypeScript source and on the built dist/ (both in this
 * process), and in a plain `node` process importing the package (and distill-wasm/infer) by its name.
 */
import { describe, expect, it } from "vitest";
import * as source from "../../src/index.js";
import * as sourceInfer from "../../src/infer/index.js";
import { checkReport, runReport } from "./helpers.js";
import { runAll } from "./scenario.mjs";

describe("Node runs the shared scenario with the committed checksum", () => {
  it("from the TypeScript source (src/index.ts)", async () => {
    const started = performance.now();
    checkReport(await runAll(source, sourceInfer), "Node, src/index.ts", performance.now() - started);
  });

  it("from the build (dist/index.js)", async () => {
    const started = performance.now();
    const dist = (await import(new URL("../../dist/index.js", import.meta.url).href)) as typeof source;
    const distInfer = (await import(new URL("../../dist/infer.js", import.meta.url).href)) as typeof sourceInfer;
    checkReport(await runAll(dist, distInfer), "Node, dist/index.js", performance.now() - started);
  });

  it('in a fresh node process: import * as api from "distill-wasm"', async () => {
    const { report, ms } = await runReport(process.execPath, ["test/runtimes/scripts/package.mjs"]);
    expect(report.resolved).toMatch(/\/dist\/index\.js$/);
    checkReport(report, 'node test/runtimes/scripts/package.mjs ("distill-wasm" → dist/index.js)', ms);
  });
});
