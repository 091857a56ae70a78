/**
 * GEMM split across threads by its output (the rule and sizes: gemm_* and gemm_panels in
 * protocol.ts).
 *
 * C (m × n) is cut into chunks of whole columns (when n ≥ m) or whole rows, one per
 * thread; each chunk is an ordinary GEMM on offset pointers, computed by the single-thread
 * kernel on whichever thread claims it (pool.ts). The kernel sums every element of C over
 * k in one fixed order whatever the tiling (assembly/gemm.ts), so the result is
 * bit-identical to one thread for every split and every assignment of chunks to threads.
 * Chunks are multiples of the kernels' tiles (8 columns, 8 rows, 16-column panels), so no
 * thread runs edge tiles that one thread would not. Cutting columns repeats the packing
 * of A in every chunk and cutting rows repeats that of B, so the larger dimension is cut.
 *
 * Products of fewer than `minMacs` multiply-adds (m·n·k; default DEFAULT_PARALLEL_THRESHOLD)
 * run on the calling thread alone: waking a worker costs more than they do.
 */
import type { KernelExports } from "../abi.js";
import { chunkSize, type ThreadPool } from "./pool.js";
import { CHUNK } from "./protocol.js";

export const DEFAULT_PARALLEL_THRESHOLD = 1 << 18;

type Gemm = KernelExports["gemm_nn"];
type GemmPanels = KernelExports["gemm_panels"];
export type GemmKernels = Pick<KernelExports, "gemm_nn" | "gemm_nt" | "gemm_tn" | "gemm_panels">;

/** The GEMM entry points, each splitting its output over `pool` plus the calling thread. */
export function parallelGemms(kernels: GemmKernels, pool: ThreadPool, minMacs = DEFAULT_PARALLEL_THRESHOLD): GemmKernels {
  return {
    gemm_nn: splitGemm(kernels.gemm_nn, "gemm_nn", pool, minMacs),
    gemm_nt: splitGemm(kernels.gemm_nt, "gemm_nt", pool, minMacs),
    gemm_tn: splitGemm(kernels.gemm_tn, "gemm_tn", pool, minMacs),
    gemm_panels: splitPanels(kernels.gemm_panels, pool, minMacs),
  };
}

function splitGemm(single: Gemm, kernel: "gemm_nn" | "gemm_nt" | "gemm_tn", pool: ThreadPool, minMacs: number): Gemm {
  const kind = CHUNK[kernel];
  const A = kind.word;
  const { columns: columnUnit, rows: rowUnit } = kind.split.sizes;
  const transA = kernel === "gemm_tn"; // A stored (k, m)
  const transB = kernel === "gemm_nt"; // B stored (n, k)
  return (c, a, b, bias, m, n, k, lda, ldb, ldc, flags) => {
    if (m * n * k < minMacs) {
      single(c, a, b, bias, m, n, k, lda, ldb, ldc, flags);
      return;
    }
    const byColumns = n >= m;
    const extent = byColumns ? n : m;
    const size = chunkSize(extent, byColumns ? columnUnit : rowUnit, pool);
    const count = Math.ceil(extent / size);
    const words = pool.words;
    for (let i = 0; i < count; i++) {
      const from = i * size;
      const length = Math.min(size, extent - from);
      const at = pool.chunk(i, kind);
      words[at + A.k] = k;
      words[at + A.lda] = lda;
      words[at + A.ldb] = ldb;
      words[at + A.ldc] = ldc;
      words[at + A.flags] = flags;
      if (byColumns) {
        words[at + A.c] = c + from * 4;
        words[at + A.a] = a;
        words[at + A.b] = transB ? b + from * ldb * 4 : b + from * 4;
        words[at + A.bias] = bias && bias + from * 4;
        words[at + A.m] = m;
        words[at + A.n] = length;
      } else {
        words[at + A.c] = c + from * ldc * 4;
        words[at + A.a] = transA ? a + from * 4 : a + from * lda * 4;
        words[at + A.b] = b;
        words[at + A.bias] = bias;
        words[at + A.m] = length;
        words[at + A.n] = n;
      }
    }
    pool.runChunks(count);
  };
}

/** gemm_panels (a few rows against pre-packed B) split by whole panels of columns. */
function splitPanels(single: GemmPanels, pool: ThreadPool, minMacs: number): GemmPanels {
  const kind = CHUNK.gemm_panels;
  const A = kind.word;
  const panel = kind.split.sizes.columns;
  return (c, a, panels, bias, m, n, k, lda, ldc, flags) => {
    if (m * n * k < minMacs) {
      single(c, a, panels, bias, m, n, k, lda, ldc, flags);
      return;
    }
    const size = chunkSize(n, panel, pool);
    const count = Math.ceil(n / size);
    const words = pool.words;
    for (let i = 0; i < count; i++) {
      const from = i * size; // a whole number of panels of k rows
      const at = pool.chunk(i, kind);
      words[at + A.c] = c + from * 4;
      words[at + A.a] = a;
      words[at + A.panels] = panels + from * k * 4;
      words[at + A.bias] = bias && bias + from * 4;
      words[at + A.m] = m;
      words[at + A.n] = Math.min(size, n - from);
      words[at + A.k] = k;
      words[at + A.lda] = lda;
      words[at + A.ldc] = ldc;
      words[at + A.flags] = flags;
    }
    pool.runChunks(count);
  };
}
