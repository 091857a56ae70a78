/**
 * Loading the kernels: `init()` creates the default engine that the functional ops use;
 * `createEngine()` makes an independent one.
 */
import { Engine } from "./engine.js";
import { OptionError, NotInitializedError, RuntimeSupportError } from "./errors.js";
import { detectFeatures, SIMD_MINIMUM_VERSIONS } from "./runtime/features.js";
import { instantiateKernels } from "./runtime/loader.js";
import { compileSource, embeddedModule, type WasmSource } from "./runtime/source.js";

export interface InitOptions {
  /**
   * "baseline" (default): plain WebAssembly SIMD, bit-identical results in every runtime.
   * "relaxed": the relaxed-SIMD build with fused multiply-add: faster, but results may
   * differ in the last bits between CPUs; throws if the engine lacks relaxed SIMD.
   * "prefer-relaxed": the relaxed build where supported, else baseline.
   */
  simd?: "baseline" | "relaxed" | "prefer-relaxed";
  /** Your own copy of the module (bytes, WebAssembly.Module, Response or URL), e.g. for CSP-strict pages. */
  wasm?: WasmSource;
}

const SIMD_CHOICES = ["baseline", "relaxed", "prefer-relaxed"] as const;

/** Creates an independent engine (its own linear memory); does not change the default. */
export async function createEngine(options: InitOptions = {}): Promise<Engine> {
  const simd = options.simd ?? "baseline";
  if (!SIMD_CHOICES.includes(simd)) {
    throw new OptionError(`init: simd must be one of ${SIMD_CHOICES.join(", ")}; got ${JSON.stringify(simd)}`);
  }
  const features = detectFeatures();
  if (!features.webAssembly) {
    throw new RuntimeSupportError("this JavaScript engine has no WebAssembly support; distill-wasm needs it");
  }
  if (!features.simd) {
    throw new RuntimeSupportError(
      `this JavaScript engine lacks WebAssembly SIMD, which distill-wasm needs (minimum: ${SIMD_MINIMUM_VERSIONS})`,
    );
  }
  if (simd === "relaxed" && !features.relaxedSimd) {
    throw new RuntimeSupportError(
      'this JavaScript engine lacks WebAssembly relaxed SIMD; use { simd: "prefer-relaxed" } to fall back to ' +
        "the baseline build, or the default { simd: \"baseline\" }",
    );
  }
  if (options.wasm !== undefined) {
    return new Engine(await instantiateKernels(await compileSource(options.wasm)), "custom");
  }
  const build = simd !== "baseline" && features.relaxedSimd ? "relaxed" : "release";
  return new Engine(await instantiateKernels(await embeddedModule(build)), build);
}

let defaultEngine: Engine | undefined;

/** Loads the kernels and makes the result the default engine. Call (and await) once at startup. */
export async function init(options: InitOptions = {}): Promise<Engine> {
  defaultEngine = await createEngine(options);
  return defaultEngine;
}

/** The default engine; throws NotInitializedError before `init()` has finished. */
export function getEngine(): Engine {
  if (!defaultEngine) throw new NotInitializedError();
  return defaultEngine;
}
