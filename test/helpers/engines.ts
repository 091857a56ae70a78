/** Engines over each compiled build in build/, loaded the way a user passes their own bytes. */
import { readFileSync } from "node:fs";
import { createEngine, detectFeatures, type Engine } from "../../src/index.js";

export type BuildName = "release" | "debug" | "relaxed";

/** Builds whose SIMD kernels must match their `_ref` twins bit for bit. */
export const EXACT_BUILDS = ["release", "debug"] as const satisfies readonly BuildName[];

export function wasmBytes(build: BuildName): Uint8Array {
  return readFileSync(new URL(`../../build/distill.${build}.wasm`, import.meta.url));
}

/**
 * A fresh engine (own memory) running the given build, on the default GEMM plan: no probe
 * per engine (a user-supplied module's plan is not cached), and every candidate has its
 * own tests (test/kernels/gemm-plan.test.ts).
 */
export function loadBuild(build: BuildName): Promise<Engine> {
  return createEngine({ wasm: wasmBytes(build), plan: "default" });
}

/** Whether this process can run the relaxed-SIMD build. */
export const relaxedAvailable = detectFeatures().relaxedSimd;
