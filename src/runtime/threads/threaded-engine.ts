/**
 * A multi-threaded engine: the threads build of the kernels instantiated on a shared
 * WebAssembly.Memory, plus workers that instantiate the same module on the same memory
 * and take shares of every large GEMM (split-gemm.ts), convolution (split-conv.ts),
 * pooling (split-pooling.ts) and optimizer step (split-optimizer.ts).
 *
 * Only the engine's own instance runs the heap allocator; each worker gets a GEMM scratch
 * block from that heap, so no two threads ever pack into the same bytes.
 */
import { Engine } from "../../engine.js";
import { OutOfMemoryError } from "../../errors.js";
import { SCRATCH_BYTES, type KernelExports } from "../abi.js";
import { instantiateKernels } from "../loader.js";
import { embeddedModule } from "../source.js";
import { ThreadPool } from "./pool.js";
import { parallelConvs } from "./split-conv.js";
import { DEFAULT_PARALLEL_THRESHOLD, parallelGemms } from "./split-gemm.js";
import { parallelOptimizer, parallelOptimizers } from "./split-optimizer.js";
import { parallelPools } from "./split-pooling.js";
import { choosePlan } from "../gemm-plan/choose.js";
import { planSettings } from "../gemm-plan/plan.js";

const PAGE_BYTES = 65536;
/**
 * Maximum sizes tried for the shared memory, in 64 KiB pages: a shared memory reserves its
 * maximum up front, which a 32-bit or memory-constrained browser may refuse for 4 GiB.
 * The threads build declares at most 65536 pages (4 GiB); an imported memory may be smaller.
 */
const MAXIMUM_PAGES = [65536, 16384, 4096];
const INITIAL_PAGES = 32;

/** A shared memory with the largest maximum the JavaScript engine grants. */
function sharedMemory(threads: number): WebAssembly.Memory {
  let failure: unknown;
  for (const maximum of MAXIMUM_PAGES) {
    try {
      return new WebAssembly.Memory({ initial: INITIAL_PAGES, maximum, shared: true });
    } catch (cause) {
      failure = cause;
    }
  }
  const smallest = (MAXIMUM_PAGES.at(-1)! * PAGE_BYTES) / 1024 ** 2;
  throw new OutOfMemoryError(`cannot reserve shared WebAssembly memory (even ${smallest} MiB) for ${threads} threads: ${String(failure)}`);
}

/**
 * `planOption` is init's `plan`: it is chosen (measured) on the engine's own instance before
 * the workers start, and every worker's instance is set to the same plan.
 */
export async function startThreadedEngine(
  simd: "release" | "relaxed",
  threads: number,
  parallelThreshold: number | undefined,
  planOption: unknown,
): Promise<Engine> {
  const build = simd === "relaxed" ? "relaxed-threads" : "threads";
  const module = await embeddedModule(build);
  const memory = sharedMemory(threads);
  const exports = await instantiateKernels(module, memory);
  const plan = await choosePlan(exports, planOption, build);
  const scratch: number[] = [];
  for (let w = 1; w < threads; w++) {
    const block = exports.heap_alloc(SCRATCH_BYTES) >>> 0;
    if (block === 0) throw new OutOfMemoryError("cannot allocate GEMM scratch blocks for the worker threads");
    scratch.push(block);
  }
  const pool = await ThreadPool.start(module, memory, scratch, exports, planSettings(plan.plan));
  const optimizer = parallelOptimizer(pool);
  const minMacs = parallelThreshold ?? DEFAULT_PARALLEL_THRESHOLD;
  const kernels: KernelExports = {
    ...exports,
    ...parallelGemms(exports, pool, minMacs),
    ...parallelConvs(exports, pool, minMacs),
    ...parallelPools(exports, pool, minMacs),
    ...parallelOptimizers(exports, optimizer),
  };
  return new Engine(kernels, simd, pool, undefined, optimizer, plan);
}
