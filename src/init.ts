/**
 * Loading the kernels: `init()` creates the default engine that the functional ops use;
 * `createEngine()` makes an independent one.
 */
import { Engine } from "./engine.js";
import { OptionError, NotInitializedError, RuntimeSupportError } from "./errors.js";
import { coreCount, detectFeatures, SIMD_MINIMUM_VERSIONS } from "./runtime/features.js";
import { instantiateKernels } from "./runtime/loader.js";
import { compileSource, embeddedModule, type WasmSource } from "./runtime/source.js";
import { checkedElsewhere, checkOptions } from "./options/schema.js";
import { startThreadedEngine } from "./runtime/threads/threaded-engine.js";
import { threadsUnavailableReason } from "./runtime/threads/start-worker.js";
import { checkPlanOption, choosePlan, type PlanOption } from "./runtime/gemm-plan/choose.js";

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
  /**
   * Threads that share each large matrix product (default 1). "auto" uses every core.
   * Results are bit-identical for every count. Needs SharedArrayBuffer (in browsers: a
   * cross-origin isolated page); where it is missing the engine runs on one thread and
   * says why in `engine.threadsNote` and a console warning. Call `engine.dispose()` to stop
   * the workers.
   */
  threads?: number | "auto";
  /**
   * With several threads, a matrix product is shared only when m·n·k (its multiply-adds)
   * is at least this; smaller ones run on the calling thread. Default 262144.
   */
  parallelThreshold?: number;
  /**
   * How the GEMM kernels' loop nests are chosen for this CPU (every choice gives the same
   * bits). "measure" (default): time the candidates at init (0.2–0.5 s, most of it waiting
   * for the wasm engine to optimise them), once per build and process; "default": candidate 0
   * everywhere (the tuning for AMD family 26), no probe; or a plan saved from
   * `engine.gemmPlan` (a plain object), used as is. A malformed plan is an OptionError; a
   * plan made by another version of distill-wasm is ignored with a console warning, the
   * plan is measured instead, and `engine.gemmPlanNote` says so.
   */
  plan?: PlanOption;
}

const MAX_THREADS = 64;

const SIMD_CHOICES = ["baseline", "relaxed", "prefer-relaxed"] as const;

/** Creates an independent engine (its own linear memory); does not change the default. */
export async function createEngine(given: InitOptions = {}): Promise<Engine> {
  const options = checkOptions(
    "init",
    { simd: checkedElsewhere, wasm: checkedElsewhere, threads: checkedElsewhere, parallelThreshold: checkedElsewhere, plan: checkedElsewhere },
    given,
  );
  checkPlanOption(options.plan);
  const simd = options.simd ?? "baseline";
  if (!SIMD_CHOICES.includes(simd)) {
    throw new OptionError(`init: simd must be one of ${SIMD_CHOICES.join(", ")}; got ${JSON.stringify(simd)}`);
  }
  const features = detectFeatures();
  if (!features.webAssembly) {
    throw new RuntimeSupportError("this JavaScript engine has no WebAssembly support; distill-wasm needs it");
  }
  if (!features.simd) {
    throw new RuntimeSupportError(`this JavaScript engine lacks WebAssembly SIMD, which distill-wasm needs (minimum: ${SIMD_MINIMUM_VERSIONS})`);
  }
  if (simd === "relaxed" && !features.relaxedSimd) {
    throw new RuntimeSupportError(
      'this JavaScript engine lacks WebAssembly relaxed SIMD; use { simd: "prefer-relaxed" } to fall back to ' +
        'the baseline build, or the default { simd: "baseline" }',
    );
  }
  let threads = await resolveThreads(options.threads);
  const threshold = options.parallelThreshold;
  if (threshold !== undefined && !(Number.isSafeInteger(threshold) && threshold >= 0)) {
    throw new OptionError(`init: parallelThreshold must be a non-negative integer; got ${JSON.stringify(threshold)}`);
  }
  if (threads > 1 && options.wasm !== undefined) {
    throw new OptionError("init: threads > 1 needs the embedded builds; it cannot be combined with { wasm }");
  }
  if (options.wasm !== undefined) {
    const kernels = await instantiateKernels(await compileSource(options.wasm));
    return new Engine(kernels, "custom", undefined, undefined, undefined, await choosePlan(kernels, options.plan, undefined));
  }
  const relaxed = simd !== "baseline" && features.relaxedSimd;
  const unavailable = threads > 1 ? threadsUnavailableReason() : undefined;
  if (unavailable !== undefined) {
    console.warn(`distill-wasm: running on one thread instead of ${threads}: ${unavailable}`);
    threads = 1;
  }
  if (threads > 1) return startThreadedEngine(relaxed ? "relaxed" : "release", threads, options.parallelThreshold, options.plan);
  const build = relaxed ? "relaxed" : "release";
  const kernels = await instantiateKernels(await embeddedModule(build));
  return new Engine(kernels, build, undefined, unavailable, undefined, await choosePlan(kernels, options.plan, build));
}

/** Validates the `threads` option and turns "auto" into the number of cores. */
async function resolveThreads(threads: InitOptions["threads"]): Promise<number> {
  if (threads === undefined) return 1;
  if (threads === "auto") return Math.min(MAX_THREADS, await coreCount());
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    throw new OptionError(`init: threads must be an integer from 1 to ${MAX_THREADS} or "auto"; got ${JSON.stringify(threads)}`);
  }
  return threads;
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
