/**
 * `npm run demo` starts with assembly/build-if-stale.mjs, which must leave a current build
 * alone (the test command builds before the tests run, so the build is current here).
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

it("build-if-stale does nothing when the build is newer than its sources", () => {
  const r = spawnSync(process.execPath, ["assembly/build-if-stale.mjs"], { cwd: ROOT, encoding: "utf8", timeout: 30_000 });
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout, "it rebuilt a current build").toBe("");
});
