/**
 * Worker threads that compute parts of GEMMs and optimizer steps on the engine's shared
 * WebAssembly memory.
 *
 * Each worker instantiates the same compiled module on the same `WebAssembly.Memory`
 * (shared, so every thread sees every write) and has its own packing scratch block,
 * allocated by the owning engine's heap. A round of work is a list of chunks (independent
 * kernel calls on disjoint blocks of the output) written into a control block (an Int32Array over a
 * SharedArrayBuffer); the calling thread and the workers claim chunks one at a time with
 * a compare-and-swap until none is left. A worker that wakes late, or is not scheduled
 * at all because the cores are busy, simply finds nothing left to claim: the round never
 * waits for a worker that has not started, so threads cannot make a product slower than
 * the calling thread alone would be, beyond the cost of the claims.
 *
 *   control[SEQUENCE]  round counter; bumped and notified to wake the workers
 *   control[STOP]      1 asks the workers to return
 *   control[CLAIM]     (round & 0x3fff) << 16 | next chunk index (the round bits make a claim
 *                      read in an earlier round fail its compare-and-swap; 14 of them keep the
 *                      word below 2^30, a small integer to V8, which reads it without boxing)
 *   control[FINISHED]  chunks completed this round
 *   control[FAILED]    1 if a worker's call threw
 *   control[COUNT]     chunks in this round
 *   control[CHUNK_BASE + i·CHUNK_WORDS + …]  chunk i: its form and then its arguments:
 *                      0 gemm_nn, 1 gemm_nt, 2 gemm_tn: c, a, b, bias, m, n, k, lda, ldb, ldc, flags
 *                      3 gemm_panels: c, a, panels, bias, m, n, k, lda, -, ldc, flags
 *                      4 sgd_step: param, grad, velocity, n, lr, momentum, weightDecay, nesterov
 *                      5 adam_step: param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, step, decoupled
 *                      6 conv2d_forward: y, x, w, bias, work, batch, cin, h, wd, cout, kh, kw, stride, pad, flags
 *                      7 conv2d_backward_filter: dw, db, dy, x, work, batch, cin, h, wd, cout, kh, kw, stride, pad, o0, o1, k0, k1
 *                      8 conv2d_backward_data: dx, dy, w, work, batch, cin, h, wd, cout, kh, kw, stride, pad
 *                      9 maxpool2d_forward: y, argmax, x, batch, c, h, w, k, stride, pad
 *                      10 maxpool2d_backward: dx, dy, argmax, batch, c, h, w, k, stride, pad
 *                      11 avgpool2d_forward: y, x, batch, c, h, w, k, stride, pad
 *                      12 avgpool2d_backward: dx, dy, batch, c, h, w, k, stride, pad
 *                      (f32 arguments stored as float32 bits: the kernels take f32, so nothing is rounded twice)
 *
 * Workers are started by worker-start.ts from the source text of gemm-worker.ts.
 */
import { WorkerError } from "../errors.js";
import type { OptimizerScalars } from "./parallel-optim.js";
import { startWorker, type WorkerHandle } from "./worker-start.js";

export const SEQUENCE = 0;
export const STOP = 1;
export const CLAIM = 2;
export const FINISHED = 3;
export const FAILED = 4;
export const COUNT = 5;
export const CHUNK_BASE = 8;
export const CHUNK_WORDS = 20;
/** Chunks one round can hold. */
export const MAX_CHUNKS = 64;

/** Chunk forms (which kernel a chunk calls) as numbered in the control block. */
export const FORM_NN = 0;
export const FORM_NT = 1;
export const FORM_TN = 2;
export const FORM_PANELS = 3;
export const FORM_SGD = 4;
export const FORM_ADAM = 5;
export const FORM_CONV_FORWARD = 6;
export const FORM_CONV_FILTER = 7;
export const FORM_CONV_DATA = 8;
export const FORM_MAXPOOL_FORWARD = 9;
export const FORM_MAXPOOL_BACKWARD = 10;
export const FORM_AVGPOOL_FORWARD = 11;
export const FORM_AVGPOOL_BACKWARD = 12;

/** Polls of FINISHED before join() sleeps (some tens of µs): the last chunks usually end together. */
const JOIN_SPIN_CHECKS = 50_000;
/**
 * join() then sleeps, so that a worker sharing this core can run, until a worker's notify
 * wakes it or this many ms pass (a whole number: a fractional timeout is boxed, i.e.
 * allocated, on every call).
 */
const JOIN_SLEEP_MS = 1;

/** Whether this thread may block in Atomics.wait (a browser's main thread may not). */
const canBlock = (() => {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0); // returns "not-equal" at once
    return true;
  } catch {
    return false;
  }
})();

/**
 * Runs the chunk whose form and arguments start at word `at` of the control block, on the
 * calling thread (`floats` views the same words as float32, for f32 arguments).
 */
export type ChunkRunner = (control: Int32Array, at: number, floats: Float32Array) => void;

export class ThreadPool {
  /** Worker threads (the calling thread computes chunks too). */
  readonly workers: number;
  private readonly control: Int32Array;
  private readonly floats: Float32Array;
  private readonly handles: WorkerHandle[];
  private sequence = 0;
  private chunks = 0;
  private stopped = false;

  private constructor(control: Int32Array, handles: WorkerHandle[]) {
    this.control = control;
    this.floats = new Float32Array(control.buffer);
    this.handles = handles;
    this.workers = handles.length;
  }

  /** Starts `scratch.length` workers; worker w packs into the block at scratch[w]. */
  static async start(module: WebAssembly.Module, memory: WebAssembly.Memory, scratch: number[]): Promise<ThreadPool> {
    const control = new SharedArrayBuffer((CHUNK_BASE + MAX_CHUNKS * CHUNK_WORDS) * 4);
    const started = await Promise.allSettled(
      scratch.map((block) => startWorker({ module, memory, control, scratch: block })),
    );
    const handles = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
    const failure = started.find((s) => s.status === "rejected");
    if (failure) {
      for (const h of handles) h.terminate();
      throw (failure as PromiseRejectedResult).reason;
    }
    return new ThreadPool(new Int32Array(control), handles);
  }

  /**
   * The control block's words and where chunk `i` starts in them, for callers that write
   * a chunk's form and arguments themselves (convolutions and pooling: too many for one call).
   */
  get words(): Int32Array {
    return this.control;
  }

  chunkAt(i: number): number {
    return CHUNK_BASE + i * CHUNK_WORDS;
  }

  /** Describes chunk `i` of the next round (i < MAX_CHUNKS). */
  setChunk(
    i: number, form: number, c: number, a: number, b: number, bias: number,
    m: number, n: number, k: number, lda: number, ldb: number, ldc: number, flags: number,
  ): void {
    const w = this.control;
    const at = CHUNK_BASE + i * CHUNK_WORDS;
    w[at] = form;
    w[at + 1] = c; w[at + 2] = a; w[at + 3] = b; w[at + 4] = bias;
    w[at + 5] = m; w[at + 6] = n; w[at + 7] = k;
    w[at + 8] = lda; w[at + 9] = ldb; w[at + 10] = ldc; w[at + 11] = flags;
  }

  /**
   * Describes chunk `i` of the next round as an sgd_step over n parameters, its numbers
   * read from `s` (numbers as arguments could be boxed).
   */
  setSgdChunk(i: number, param: number, grad: number, velocity: number, n: number, s: OptimizerScalars): void {
    const at = CHUNK_BASE + i * CHUNK_WORDS;
    const w = this.control;
    const f = this.floats;
    w[at] = FORM_SGD;
    w[at + 1] = param; w[at + 2] = grad; w[at + 3] = velocity; w[at + 4] = n;
    f[at + 5] = s.lr; f[at + 6] = s.momentum; f[at + 7] = s.weightDecay; w[at + 8] = s.nesterov;
  }

  /** Describes chunk `i` of the next round as an adam_step over n parameters, numbers from `s`. */
  setAdamChunk(i: number, param: number, grad: number, m: number, v: number, n: number, s: OptimizerScalars): void {
    const at = CHUNK_BASE + i * CHUNK_WORDS;
    const w = this.control;
    const f = this.floats;
    w[at] = FORM_ADAM;
    w[at + 1] = param; w[at + 2] = grad; w[at + 3] = m; w[at + 4] = v; w[at + 5] = n;
    f[at + 6] = s.lr; f[at + 7] = s.beta1; f[at + 8] = s.beta2; f[at + 9] = s.eps; f[at + 10] = s.weightDecay;
    w[at + 11] = s.steps; w[at + 12] = s.decoupled;
  }

  /**
   * Runs chunks 0 … count-1 (described by the set…Chunk methods) on this thread and the
   * workers and returns when all are done. `run(control, at)` computes the chunk whose form and
   * arguments start at control[at]; it is called for the chunks this thread claims.
   */
  runChunks(count: number, run: ChunkRunner): void {
    if (this.stopped) throw new WorkerError("the engine's worker threads were stopped by dispose()");
    const w = this.control;
    this.sequence = (this.sequence + 1) | 0;
    this.chunks = count;
    const round = (this.sequence & 0x3fff) << 16;
    Atomics.store(w, FINISHED, 0);
    Atomics.store(w, FAILED, 0);
    Atomics.store(w, COUNT, count);
    Atomics.store(w, CLAIM, round); // publishes the chunks and count written before it
    Atomics.store(w, SEQUENCE, this.sequence);
    Atomics.notify(w, SEQUENCE);
    let failure: unknown;
    for (;;) {
      const claim = Atomics.load(w, CLAIM);
      const index = claim & 0xffff;
      if (index >= count) break;
      if (Atomics.compareExchange(w, CLAIM, claim, claim + 1) !== claim) continue;
      try {
        run(w, CHUNK_BASE + index * CHUNK_WORDS, this.floats);
      } catch (error) {
        failure ??= error;
      }
      Atomics.add(w, FINISHED, 1);
    }
    this.join();
    if (failure !== undefined) throw failure;
    if (Atomics.load(w, FAILED) !== 0) throw new WorkerError("a GEMM worker failed while computing its part");
  }

  /**
   * Waits until every claimed chunk is finished: polling first, then sleeping in short
   * slices where this thread may block (a browser's main thread may not, and keeps polling).
   */
  private join(): void {
    const w = this.control;
    let spins = 0;
    for (;;) {
      const finished = Atomics.load(w, FINISHED);
      if (finished === this.chunks) return;
      if (++spins > JOIN_SPIN_CHECKS && canBlock) Atomics.wait(w, FINISHED, finished, JOIN_SLEEP_MS);
    }
  }

  /** Stops and terminates the workers. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    Atomics.store(this.control, STOP, 1);
    Atomics.add(this.control, SEQUENCE, 1);
    Atomics.notify(this.control, SEQUENCE);
    for (const h of this.handles) h.terminate();
  }
}
