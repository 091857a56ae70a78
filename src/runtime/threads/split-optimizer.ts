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
        pool.setSgdChunk(i, param + from * 4, grad + from * 4, velocity + from * 4, Math.min(size, n - from), s);
      }
      pool.runChunks(count, runSgd);
    },
    adam(param, grad, m, v, n, s) {
      const size = chunkSize(n, UNIT, pool);
      const count = Math.ceil(n / size);
      for (let i = 0; i < count; i++) {
        const from = i * size;
        pool.setAdamChunk(i, param + from * 4, grad + from * 4, m + from * 4, v + from * 4, Math.min(size, n - from), s);
      }
      pool.runChunks(count, runAdam);
    },
  };
}

const sgdRunner = (sgd: OptimizerKernels["sgd_step"]): ChunkRunner => (w, at, f) =>
  sgd(w[at + 1]!, w[at + 2]!, w[at + 3]!, w[at + 4]!, f[at + 5]!, f[at + 6]!, f[at + 7]!, w[at + 8]!);
const adamRunner = (adam: OptimizerKernels["adam_step"]): ChunkRunner => (w, at, f) =>
  adam(w[at + 1]!, w[at + 2]!, w[at + 3]!, w[at + 4]!, w[at + 5]!, f[at + 6]!, f[at + 7]!, f[at + 8]!, f[at + 9]!, f[at + 10]!, w[at + 11]!, w[at + 12]!);

/** The numbers of one kernel-level call, reused from call to call (no allocation). */
type MutableScalars = { -readonly [K in keyof OptimizerScalars]: OptimizerScalars[K] };

/**
 * sgd_step and adam_step with the kernels' own signatures (for direct kernel calls): the
 * numbers go into one reused object and the split is parallelOptimizer's.
 */
export function parallelOptimizers(kernels: OptimizerKernels, split: ParallelOptimizer): OptimizerKernels {
  const { minParameters } = split;
  const s: MutableScalars = { lr: 0, momentum: 0, weightDecay: 0, nesterov: 0, beta1: 0, beta2: 0, eps: 0, steps: 0, decoupled: 0 };
  return {
    sgd_step(param, grad, velocity, n, lr, momentum, weightDecay, nesterov) {
      if (n < minParameters) return kernels.sgd_step(param, grad, velocity, n, lr, momentum, weightDecay, nesterov);
      s.lr = lr; s.momentum = momentum; s.weightDecay = weightDecay; s.nesterov = nesterov;
      split.sgd(param, grad, velocity, n, s);
    },
    adam_step(param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, step, decoupled) {
      if (n < minParameters) return kernels.adam_step(param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, step, decoupled);
      s.lr = lr; s.beta1 = beta1; s.beta2 = beta2; s.eps = eps; s.weightDecay = weightDecay; s.steps = step; s.decoupled = decoupled;
      split.adam(param, grad, m, v, n, s);
    },
  };
}
