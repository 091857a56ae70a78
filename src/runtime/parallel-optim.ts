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

export function parallelOptimizers(kernels: OptimizerKernels, pool: ThreadPool, minParameters = DEFAULT_PARALLEL_PARAMETERS): OptimizerKernels {
  const sgd = kernels.sgd_step;
  const adam = kernels.adam_step;
  const runSgd: ChunkRunner = (w, at, f) => sgd(w[at + 1]!, w[at + 2]!, w[at + 3]!, w[at + 4]!, f[at + 5]!, f[at + 6]!, f[at + 7]!, w[at + 8]!);
  const runAdam: ChunkRunner = (w, at, f) =>
    adam(w[at + 1]!, w[at + 2]!, w[at + 3]!, w[at + 4]!, w[at + 5]!, f[at + 6]!, f[at + 7]!, f[at + 8]!, f[at + 9]!, f[at + 10]!, w[at + 11]!, w[at + 12]!);
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
