/**
 * Same seed, same bits: one seeded sequence of calls through every kernel family gives
 * the same SHA-256 in two engines of one process, in a fresh Node process loading the
 * built package, and equal to the committed value.
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { createEngine } from "../../src/index.js";
import { kernelSequenceChecksum } from "../helpers/kernel-sequence.mjs";
import { loadBuild } from "../helpers/engines.js";

/**
 * SHA-256 of the kernel sequence's outputs. It changes only when a kernel's arithmetic
 * (or its summation order) changes; update it on purpose, in the same commit, saying why.
 */
const EXPECTED_CHECKSUM = "602741a2f57707dcbaec41a299d76a8f328ae6ab588e0826cddd8e0335a4d8e4";

describe("determinism", () => {
  it("two engines in one process produce identical bytes", async () => {
    const first = kernelSequenceChecksum(await createEngine());
    const second = kernelSequenceChecksum(await createEngine());
    expect(second).toBe(first);
  });

  it("the debug build (no optimisation, assertions on) produces the same bytes as the release build", async () => {
    expect(kernelSequenceChecksum(await loadBuild("debug"))).toBe(kernelSequenceChecksum(await loadBuild("release")));
  });

  it("a fresh Node process running the built package produces the same bytes", async () => {
    const dist = new URL("../../dist/index.js", import.meta.url).href;
    const sequence = new URL("../helpers/kernel-sequence.mjs", import.meta.url).href;
    const script =
      `const { createEngine } = await import(${JSON.stringify(dist)});` +
      `const { kernelSequenceChecksum } = await import(${JSON.stringify(sequence)});` +
      `process.stdout.write(kernelSequenceChecksum(await createEngine()));`;
    const child = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
      cwd: fileURLToPath(new URL("../..", import.meta.url)),
      encoding: "utf8",
    });
    expect(child).toBe(kernelSequenceChecksum(await createEngine()));
  });

  it("matches the committed checksum", async () => {
    expect(kernelSequenceChecksum(await createEngine())).toBe(EXPECTED_CHECKSUM);
  });
});
