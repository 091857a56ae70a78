/**
 * Optimizer steps split across threads (the rule and sizes: sgd_step and adam_step in
 * protocol.ts): they update every parameter on its own, from its own gradient and state,
 * so a block of parameters per thread gives exactly the bits of one call over all of them
 * (the SIMD body and the scalar tail compute the same formula; test/kernels/optim.test.ts checks
 * both against the reference). Blocks start at multiples of 16 parameters, keeping the
 * 16-byte alignment of the vector loads.
 *
 * Steps over fewer than DEFAULT_PARALLEL_PARAMETERS parameters run on the calling thread.
 */
import type { KernelExports } from "../abi.js";
import { chunkSize, type ThreadPool } from "./pool.js";
import { CHUNK } from "./protocol.js";

export const DEFAULT_PARALLEL_PARAMETERS = 1 << 16;
const SGD = CHUNK.sgd_step;
const ADAM = CHUNK.adam_step;

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

export function parallelOptimizer(pool: ThreadPool, minParameters = DEFAULT_PARALLEL_PARAMETERS): ParallelOptimizer {
  return {
    minParameters,
    sgd(param, grad, velocity, n, s) {
      const size = chunkSize(n, SGD.split.sizes.parameters, pool);
      const count = Math.ceil(n / size);
      const words = pool.words;
      const floats = pool.floats;
      const A = SGD.word;
      for (let i = 0; i < count; i++) {
        const from = i * size;
        const at = pool.chunk(i, SGD);
        words[at + A.param] = param + from * 4;
        words[at + A.grad] = grad + from * 4;
        words[at + A.velocity] = velocity + from * 4;
        words[at + A.n] = Math.min(size, n - from);
        floats[at + A.lr] = s.lr;
        floats[at + A.momentum] = s.momentum;
        floats[at + A.weightDecay] = s.weightDecay;
        words[at + A.nesterov] = s.nesterov;
      }
      pool.runChunks(count);
    },
    adam(param, grad, m, v, n, s) {
      const size = chunkSize(n, ADAM.split.sizes.parameters, pool);
      const count = Math.ceil(n / size);
      const words = pool.words;
      const floats = pool.floats;
      const A = ADAM.word;
      for (let i = 0; i < count; i++) {
        const from = i * size;
        const at = pool.chunk(i, ADAM);
        words[at + A.param] = param + from * 4;
        words[at + A.grad] = grad + from * 4;
        words[at + A.m] = m + from * 4;
        words[at + A.v] = v + from * 4;
        words[at + A.n] = Math.min(size, n - from);
        floats[at + A.lr] = s.lr;
        floats[at + A.beta1] = s.beta1;
        floats[at + A.beta2] = s.beta2;
        floats[at + A.eps] = s.eps;
        floats[at + A.weightDecay] = s.weightDecay;
        words[at + A.step] = s.steps;
        words[at + A.decoupled] = s.decoupled;
      }
      pool.runChunks(count);
    },
  };
}

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
      s.lr = lr;
      s.momentum = momentum;
      s.weightDecay = weightDecay;
      s.nesterov = nesterov;
      split.sgd(param, grad, velocity, n, s);
    },
    adam_step(param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, step, decoupled) {
      if (n < minParameters) return kernels.adam_step(param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, step, decoupled);
      s.lr = lr;
      s.beta1 = beta1;
      s.beta2 = beta2;
      s.eps = eps;
      s.weightDecay = weightDecay;
      s.steps = step;
      s.decoupled = decoupled;
      split.adam(param, grad, m, v, n, s);
    },
  };
}
