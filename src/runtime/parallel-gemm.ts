/**
 * GEMM split across threads by its output.
 *
 * C (m × n) is cut into one block of whole columns (when n ≥ m) or whole rows per thread;
 * each block is an ordinary GEMM on offset pointers, computed by the single-thread kernel.
 * The kernel sums every element of C over k in one fixed order whatever the tiling
 * (assembly/gemm.ts), so the result is bit-identical to one thread for every split.
 * Blocks are multiples of the micro-kernel tile (8 columns or 4 rows) so no thread runs
 * edge tiles that one thread would not. Cutting columns repeats the packing of A in every
 * thread and cutting rows repeats that of B, so the larger output dimension is cut.
 *
 * Products of fewer than `minMacs` multiply-adds (m·n·k; default DEFAULT_PARALLEL_THRESHOLD)
 * run on the calling thread alone: waking a worker costs more than they do.
 */
import type { KernelExports } from "./abi.js";
import { FORM_NN, FORM_NT, FORM_PANELS, FORM_TN, type ThreadPool } from "./thread-pool.js";

export const DEFAULT_PARALLEL_THRESHOLD = 1 << 18;
const NR = 8; // columns per micro-kernel tile (assembly/gemm.ts)
const MR = 4; // rows per micro-kernel tile
const PANEL = 16; // columns per panel of gemm_panels

type Gemm = KernelExports["gemm_nn"];
type GemmPanels = KernelExports["gemm_panels"];
export type GemmKernels = Pick<KernelExports, "gemm_nn" | "gemm_nt" | "gemm_tn" | "gemm_panels">;

/** The three GEMM entry points, each splitting its output over `pool` plus the calling thread. */
export function parallelGemms(kernels: GemmKernels, pool: ThreadPool, minMacs = DEFAULT_PARALLEL_THRESHOLD): GemmKernels {
  return {
    gemm_nn: splitGemm(kernels.gemm_nn, FORM_NN, pool, minMacs),
    gemm_nt: splitGemm(kernels.gemm_nt, FORM_NT, pool, minMacs),
    gemm_tn: splitGemm(kernels.gemm_tn, FORM_TN, pool, minMacs),
    gemm_panels: splitPanels(kernels.gemm_panels, pool, minMacs),
  };
}

/** gemm_panels (a few rows against pre-packed B) split by whole panels of columns. */
function splitPanels(single: GemmPanels, pool: ThreadPool, minMacs: number): GemmPanels {
  const threads = pool.workers + 1;
  return (c, a, panels, bias, m, n, k, lda, ldc, flags) => {
    if (m * n * k < minMacs) {
      single(c, a, panels, bias, m, n, k, lda, ldc, flags);
      return;
    }
    const share = Math.ceil(Math.ceil(n / threads) / PANEL) * PANEL;
    for (let t = 1; t < threads; t++) {
      const from = t * share;
      if (from >= n) {
        pool.assign(t - 1, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        continue;
      }
      const panelsAt = panels + from * k * 4; // `from` is a whole number of PANEL-column panels of k rows
      const to = Math.min(n, from + share);
      pool.assign(t - 1, FORM_PANELS, c + from * 4, a, panelsAt, bias && bias + from * 4, m, to - from, k, lda, 0, ldc, flags);
    }
    pool.wake();
    try {
      single(c, a, panels, bias, m, Math.min(share, n), k, lda, ldc, flags);
    } finally {
      pool.join();
    }
  };
}

function splitGemm(single: Gemm, form: number, pool: ThreadPool, minMacs: number): Gemm {
  const threads = pool.workers + 1;
  const transA = form === FORM_TN; // A stored (k, m)
  const transB = form === FORM_NT; // B stored (n, k)
  return (c, a, b, bias, m, n, k, lda, ldb, ldc, flags) => {
    if (m * n * k < minMacs) {
      single(c, a, b, bias, m, n, k, lda, ldb, ldc, flags);
      return;
    }
    const byColumns = n >= m;
    const extent = byColumns ? n : m;
    const unit = byColumns ? NR : MR;
    const share = Math.ceil(Math.ceil(extent / threads) / unit) * unit;
    // Shares 1 … threads-1 go to the workers; share 0 is computed here.
    for (let t = 1; t < threads; t++) {
      const from = t * share;
      const to = Math.min(extent, from + share);
      if (from >= extent) {
        pool.assign(t - 1, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
      } else if (byColumns) {
        const bAt = transB ? b + from * ldb * 4 : b + from * 4;
        pool.assign(t - 1, form, c + from * 4, a, bAt, bias && bias + from * 4, m, to - from, k, lda, ldb, ldc, flags);
      } else {
        const aAt = transA ? a + from * 4 : a + from * lda * 4;
        pool.assign(t - 1, form, c + from * ldc * 4, aAt, b, bias, to - from, n, k, lda, ldb, ldc, flags);
      }
    }
    pool.wake();
    const own = Math.min(share, extent);
    try {
      if (byColumns) single(c, a, b, bias, m, own, k, lda, ldb, ldc, flags);
      else single(c, a, b, bias, own, n, k, lda, ldb, ldc, flags);
    } finally {
      pool.join();
    }
  };
}
