/**
 * Engines over each compiled build in build/, loaded the way a user passes their own bytes.
 * The builds in build/ keep the `_ref` twins (the embedded, shipped ones drop them), so these
 * engines are typed with the twins too.
 */
import { readFileSync } from "node:fs";
import { createEngine, detectFeatures, type Engine } from "../../src/index.js";
import { REFERENCE_KERNEL_NAMES, type KernelExports, type ReferenceKernelExports } from "../../src/runtime/abi.js";

export type BuildName = "release" | "debug" | "relaxed";

/** An engine whose kernels include the `_ref` twins. */
export type TestEngine = Engine & { readonly kernels: KernelExports & ReferenceKernelExports };

/** Builds whose SIMD kernels must match their `_ref` twins bit for bit. */
export const EXACT_BUILDS = ["release", "debug"] as const satisfies readonly BuildName[];

export function wasmBytes(build: BuildName): Uint8Array {
  return readFileSync(new URL(`../../build/distill.${build}.wasm`, import.meta.url));
}

/**
 * A fresh engine (own memory) running the given build, with its `_ref` twins, on the default
 * GEMM plan: no probe per engine (a user-supplied module's plan is not cached), and every
 * candidate has its own tests (test/kernels/gemm-plan.test.ts).
 */
export async function loadBuild(build: BuildName): Promise<TestEngine> {
  const engine = await createEngine({ wasm: wasmBytes(build), plan: "default" });
  const exports = engine.kernels as unknown as Record<string, unknown>;
  const missing = REFERENCE_KERNEL_NAMES.filter((name) => typeof exports[name] !== "function");
  if (missing.length > 0) throw new Error(`build/distill.${build}.wasm lacks the _ref twins ${missing.join(", ")}: run npm run build`);
  return engine as TestEngine;
}

/** Whether this process can run the relaxed-SIMD build. */
export const relaxedAvailable = detectFeatures().relaxedSimd;
