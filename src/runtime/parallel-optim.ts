/**
 * Optimizer steps split across threads: sgd_step and adam_step update every parameter
 * on its own, from its own gradient and state, so a block of parameters per thread gives
 * exactly the bits of one call over all of them (the SIMD body and the scalar tail compute
 * the same formula; test/optim.test.ts checks both against the reference). Blocks start at
 * multiples of 16 parameters, keeping the 16-byte alignment of the vector loads.
 *
 * Steps over fewer than DEFAULT_PARALLEL_PARAMETERS parameters run on the calling thread.
 */
import type { KernelExports } from "./abi.js";
import { chunkSize } from "./parallel-gemm.js";
import type { ChunkRunner, ThreadPool } from "./thread-pool.js";

export const DEFAULT_PARALLEL_PARAMETERS = 1 << 16;
const UNIT = 16;

export type OptimizerKernels = Pick<KernelExports, "sgd_step" | "adam_step">;

/**
 * The numbers of an optimizer step, handed over in one object: numbers passed as arguments
 * to a JavaScript function V8 does not inline are boxed, i.e. allocated, on every step.
 */
export interface OptimizerScalars {
  readonly lr: number;
  readonly momentum: number;
  readonly weightDecay: number;
  readonly nesterov: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly steps: number;
  readonly decoupled: number;
}

/** Optimizer steps split across the pool for the training loop, numbers in an OptimizerScalars. */
export interface ParallelOptimizer {
  /** Steps over fewer parameters than this belong on the calling thread (the plain kernels). */
  readonly minParameters: number;
  sgd(param: number, grad: number, velocity: number, n: number, s: OptimizerScalars): void;
  adam(param: number, grad: number, m: number, v: number, n: number, s: OptimizerScalars): void;
}

export function parallelOptimizer(kernels: OptimizerKernels, pool: ThreadPool, minParameters = DEFAULT_PARALLEL_PARAMETERS): ParallelOptimizer {
  const runSgd = sgdRunner(kernels.sgd_step);
  const runAdam = adamRunner(kernels.adam_step);
  return {
    minParameters,
    sgd(param, grad, velocity, n, s) {
      const size = chunkSize(n, UNIT, pool);
      const count = Math.ceil(n / size);
      for (let i = 0; i < count; i++) {
        const from = i * size;
        pool.setSgdChunkFrom(i, param + from * 4, grad + from * 4, velocity + from * 4, Math.min(size, n - from), s);
      }
      pool.runChunks(count, runSgd);
    },
    adam(param, grad, m, v, n, s) {
      const size = chunkSize(n, UNIT, pool);
      const count = Math.ceil(n / size);
      for (let i = 0; i < count; i++) {
        const from = i * size;
        pool.setAdamChunkFrom(i, param + from * 4, grad + from * 4, m + from * 4, v + from * 4, Math.min(size, n - from), s);
      }
      pool.runChunks(count, runAdam);
    },
  };
}

const sgdRunner = (sgd: OptimizerKernels["sgd_step"]): ChunkRunner => (w, at, f) =>
  sgd(w[at + 1]!, w[at + 2]!, w[at + 3]!, w[at + 4]!, f[at + 5]!, f[at + 6]!, f[at + 7]!, w[at + 8]!);
const adamRunner = (adam: OptimizerKernels["adam_step"]): ChunkRunner => (w, at, f) =>
  adam(w[at + 1]!, w[at + 2]!, w[at + 3]!, w[at + 4]!, w[at + 5]!, f[at + 6]!, f[at + 7]!, f[at + 8]!, f[at + 9]!, f[at + 10]!, w[at + 11]!, w[at + 12]!);

export function parallelOptimizers(kernels: OptimizerKernels, pool: ThreadPool, minParameters = DEFAULT_PARALLEL_PARAMETERS): OptimizerKernels {
  const sgd = kernels.sgd_step;
  const adam = kernels.adam_step;
  const runSgd = sgdRunner(sgd);
  const runAdam = adamRunner(adam);
  return {
    sgd_step(param, grad, velocity, n, lr, momentum, weightDecay, nesterov) {
      if (n < minParameters) {
        sgd(param, grad, velocity, n, lr, momentum, weightDecay, nesterov);
        return;
      }
      const size = chunkSize(n, UNIT, pool);
      const count = Math.ceil(n / size);
      for (let i = 0; i < count; i++) {
        const from = i * size;
        pool.setSgdChunk(i, param + from * 4, grad + from * 4, velocity + from * 4, Math.min(size, n - from),
          lr, momentum, weightDecay, nesterov);
      }
      pool.runChunks(count, runSgd);
    },
    adam_step(param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, step, decoupled) {
      if (n < minParameters) {
        adam(param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, step, decoupled);
        return;
      }
      const size = chunkSize(n, UNIT, pool);
      const count = Math.ceil(n / size);
      for (let i = 0; i < count; i++) {
        const from = i * size;
        pool.setAdamChunk(i, param + from * 4, grad + from * 4, m + from * 4, v + from * 4, Math.min(size, n - from),
          lr, beta1, beta2, eps, weightDecay, step, decoupled);
      }
      pool.runChunks(count, runAdam);
    },
  };
}
