/**
 * GEMM split across threads by its output.
 *
 * C (m × n) is cut into chunks of whole columns (when n ≥ m) or whole rows, one per
 * thread; each chunk is an ordinary GEMM on offset pointers, computed by the single-thread
 * kernel on whichever thread claims it (thread-pool.ts). The kernel sums every element of
 * C over k in one fixed order whatever the tiling (assembly/gemm.ts), so the result is
 * bit-identical to one thread for every split and every assignment of chunks to threads.
 * Chunks are multiples of the kernels' tiles (8 columns, 8 rows, 16-column panels), so no
 * thread runs edge tiles that one thread would not. Cutting columns repeats the packing
 * of A in every chunk and cutting rows repeats that of B, so the larger dimension is cut.
 *
 * Products of fewer than `minMacs` multiply-adds (m·n·k; default DEFAULT_PARALLEL_THRESHOLD)
 * run on the calling thread alone: waking a worker costs more than they do.
 */
import type { KernelExports } from "./abi.js";
import { FORM_NN, FORM_NT, FORM_PANELS, FORM_TN, type ChunkRunner, type ThreadPool } from "./thread-pool.js";

export const DEFAULT_PARALLEL_THRESHOLD = 1 << 18;
const COLUMN_UNIT = 8; // columns per micro-kernel tile (assembly/gemm.ts)
const ROW_UNIT = 8; // rows per narrow tile (two 4-row panels)
const PANEL = 16; // columns per panel of gemm_panels
/**
 * One chunk per thread: each extra chunk repeats a packing and adds a claim, and measured
 * on 2 cores, two per thread made training steps 8–10% slower. A worker that has not started
 * still costs nothing: the calling thread claims its chunk too.
 */
const CHUNKS_PER_THREAD = 1;

type Gemm = KernelExports["gemm_nn"];
type GemmPanels = KernelExports["gemm_panels"];
export type GemmKernels = Pick<KernelExports, "gemm_nn" | "gemm_nt" | "gemm_tn" | "gemm_panels">;

/** The GEMM entry points, each splitting its output over `pool` plus the calling thread. */
export function parallelGemms(kernels: GemmKernels, pool: ThreadPool, minMacs = DEFAULT_PARALLEL_THRESHOLD): GemmKernels {
  return {
    gemm_nn: splitGemm(kernels.gemm_nn, FORM_NN, pool, minMacs),
    gemm_nt: splitGemm(kernels.gemm_nt, FORM_NT, pool, minMacs),
    gemm_tn: splitGemm(kernels.gemm_tn, FORM_TN, pool, minMacs),
    gemm_panels: splitPanels(kernels.gemm_panels, pool, minMacs),
  };
}

/** Chunk size for `extent` items in multiples of `unit`, CHUNKS_PER_THREAD per thread. */
export function chunkSize(extent: number, unit: number, pool: ThreadPool): number {
  const wanted = CHUNKS_PER_THREAD * (pool.workers + 1);
  return Math.ceil(Math.ceil(extent / wanted) / unit) * unit;
}

function splitGemm(single: Gemm, form: number, pool: ThreadPool, minMacs: number): Gemm {
  const transA = form === FORM_TN; // A stored (k, m)
  const transB = form === FORM_NT; // B stored (n, k)
  const run: ChunkRunner = (w, at) =>
    single(w[at + 1]!, w[at + 2]!, w[at + 3]!, w[at + 4]!, w[at + 5]!, w[at + 6]!, w[at + 7]!, w[at + 8]!, w[at + 9]!, w[at + 10]!, w[at + 11]!);
  return (c, a, b, bias, m, n, k, lda, ldb, ldc, flags) => {
    if (m * n * k < minMacs) {
      single(c, a, b, bias, m, n, k, lda, ldb, ldc, flags);
      return;
    }
    const byColumns = n >= m;
    const extent = byColumns ? n : m;
    const size = chunkSize(extent, byColumns ? COLUMN_UNIT : ROW_UNIT, pool);
    const count = Math.ceil(extent / size);
    for (let i = 0; i < count; i++) {
      const from = i * size;
      const length = Math.min(size, extent - from);
      if (byColumns) {
        const bAt = transB ? b + from * ldb * 4 : b + from * 4;
        pool.setChunk(i, form, c + from * 4, a, bAt, bias && bias + from * 4, m, length, k, lda, ldb, ldc, flags);
      } else {
        const aAt = transA ? a + from * 4 : a + from * lda * 4;
        pool.setChunk(i, form, c + from * ldc * 4, aAt, b, bias, length, n, k, lda, ldb, ldc, flags);
      }
    }
    pool.runChunks(count, run);
  };
}

/** gemm_panels (a few rows against pre-packed B) split by whole panels of columns. */
function splitPanels(single: GemmPanels, pool: ThreadPool, minMacs: number): GemmPanels {
  const run: ChunkRunner = (w, at) =>
    single(w[at + 1]!, w[at + 2]!, w[at + 3]!, w[at + 4]!, w[at + 5]!, w[at + 6]!, w[at + 7]!, w[at + 8]!, w[at + 10]!, w[at + 11]!);
  return (c, a, panels, bias, m, n, k, lda, ldc, flags) => {
    if (m * n * k < minMacs) {
      single(c, a, panels, bias, m, n, k, lda, ldc, flags);
      return;
    }
    const size = chunkSize(n, PANEL, pool);
    const count = Math.ceil(n / size);
    for (let i = 0; i < count; i++) {
      const from = i * size; // a whole number of PANEL-column panels of k rows
      pool.setChunk(i, FORM_PANELS, c + from * 4, a, panels + from * k * 4, bias && bias + from * 4,
        m, Math.min(size, n - from), k, lda, 0, ldc, flags);
    }
    pool.runChunks(count, run);
  };
}
