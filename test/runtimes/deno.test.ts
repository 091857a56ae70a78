/**
 * Deno (the `deno` npm package's binary, a devDependency): the shared scenario through the
 * package's npm entry (dist/index.js) and through deno.json (the TypeScript source), and
 * deno.json's readiness for JSR.
 */
import { execFile } from "node:child_process";
import { describe, expect, it } from "vitest";
import { checkReport, findExecutable, ROOT, runReport } from "./helpers.js";

const deno = findExecutable("DENO_BIN", [`${ROOT}node_modules/.bin/deno`]);
const env = { DENO_NO_UPDATE_CHECK: "1", DENO_NO_PROMPT: "1" };

describe("Deno runs the shared scenario with the committed checksum", () => {
  it("finds the deno binary (devDependency `deno`)", () => {
    expect(deno, "node_modules/.bin/deno is missing: run npm ci (or set DENO_BIN)").toBeDefined();
  });

  it.runIf(deno)('deno run: import * as api from "distill-wasm" (dist/index.js)', async () => {
    const { report, ms } = await runReport(deno!, ["run", "--no-prompt", "test/runtimes/scripts/package.mjs"], env);
    expect(report.resolved).toMatch(/\/dist\/index\.js$/);
    checkReport(report, "deno run (dist/index.js)", ms);
  });

  it.runIf(deno)("deno run: the TypeScript source through deno.json (src/index.ts)", async () => {
    const { report, ms } = await runReport(deno!, ["run", "--no-prompt", "test/runtimes/scripts/deno-source.mjs"], env);
    expect(report.resolved).toMatch(/\/src\/index\.ts$/);
    checkReport(report, "deno run (src/index.ts via deno.json)", ms);
  });
});

describe("deno.json is ready for JSR", () => {
  it.runIf(deno)(
    "deno publish --dry-run passes (type check, no slow types) and includes the generated modules",
    async () => {
      const output = await new Promise<string>((resolve, reject) => {
        execFile(
          deno!,
          ["publish", "--dry-run", "--allow-dirty"],
          { cwd: ROOT, env: { ...process.env, ...env, NO_COLOR: "1" }, timeout: 120_000 },
          (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stdout}\n${stderr}`)) : resolve(stdout + stderr)),
        );
      });
      for (const path of [
        "src/index.ts",
        "src/runtime/abi.generated.ts",
        "src/runtime/wasm-release.generated.ts",
        "src/runtime/vendor/assemblyscript-loader.ts",
      ]) {
        expect(output).toContain(path);
      }
    },
    150_000,
  ); // deno type-checks the whole source tree: about 40 s on a busy 2-core machine
});
