/**
 * Worker threads that run parts of GEMMs, convolutions, pooling and optimizer steps on the
 * engine's shared WebAssembly memory.
 *
 * Each worker instantiates the same compiled module on the same `WebAssembly.Memory`
 * (shared, so every thread sees every write) and has its own packing scratch block,
 * allocated by the owning engine's heap. A round of work is a list of chunks (independent
 * kernel calls on disjoint blocks of the output) written into a control block (an Int32Array
 * over a SharedArrayBuffer; its words and every kind of chunk are in protocol.ts); the
 * calling thread and the workers claim chunks one at a time with a compare-and-swap until
 * none is left. A worker that wakes late, or is not scheduled at all because the cores are
 * busy, simply finds nothing left to claim: the round never waits for a worker that has not
 * started, so threads cannot make a call slower than the calling thread alone would be,
 * beyond the cost of the claims.
 *
 * Workers are started by start-worker.ts from the source text of worker.ts.
 */
import { WasmLoadError, WorkerError } from "../../errors.js";
import type { KernelExports } from "../abi.js";
import {
  CHUNK_FORMS,
  CHUNK_WORDS,
  CONTROL,
  MAX_CHUNKS,
  WORKER_PROTOCOL,
  chunkCaller,
  type ChunkKernelFunction,
  type ChunkLayout,
  type ChunkRunner,
} from "./protocol.js";
import { startWorker, type WorkerHandle } from "./start-worker.js";

const { SEQUENCE, STOP, CLAIM, FINISHED, FAILED, COUNT, CHUNK_BASE } = CONTROL;

/**
 * One chunk per thread: each extra chunk repeats a packing and adds a claim, and measured
 * on 2 cores, two per thread made training steps 8–10% slower. A worker that has not started
 * still costs nothing: the calling thread claims its chunk too.
 */
const CHUNKS_PER_THREAD = 1;

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

/** Block size for `extent` items in multiples of `unit`, CHUNKS_PER_THREAD blocks per thread. */
export function chunkSize(extent: number, unit: number, pool: ThreadPool): number {
  const wanted = CHUNKS_PER_THREAD * (pool.workers + 1);
  return Math.ceil(Math.ceil(extent / wanted) / unit) * unit;
}

export class ThreadPool {
  /** Worker threads (the calling thread computes chunks too). */
  readonly workers: number;
  /**
   * The control block's words: a split writes chunk i's arguments at words[at + kind.word.<name>]
   * (f32 arguments through `floats`), `at` from chunk(i, kind).
   */
  readonly words: Int32Array;
  /** The same words as float32, for f32 arguments. */
  readonly floats: Float32Array;
  /** The calling thread's runner of every kind, by form. */
  private readonly runners: ChunkRunner[];
  private readonly handles: WorkerHandle[];
  private sequence = 0;
  private chunks = 0;
  private stopped = false;

  private constructor(words: Int32Array, floats: Float32Array, runners: ChunkRunner[], handles: WorkerHandle[]) {
    this.words = words;
    this.floats = floats;
    this.runners = runners;
    this.handles = handles;
    this.workers = handles.length;
  }

  /**
   * Starts `scratch.length` workers on the module behind `kernels` (the calling thread's
   * instance); worker w packs into the block at scratch[w]. `plan` is the GEMM plan as
   * gemm_plan_set's arguments ([form, class, candidate] per slot): every worker's instance
   * runs the same plan as the engine's.
   */
  static async start(
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    scratch: number[],
    kernels: KernelExports,
    plan: readonly (readonly [number, number, number])[],
  ): Promise<ThreadPool> {
    for (const kind of CHUNK_FORMS) {
      const arity = (kernels[kind.kernel] as ChunkKernelFunction).length;
      if (arity !== kind.arity) {
        throw new WasmLoadError(`the thread protocol gives ${kind.kernel} ${kind.arity} arguments; the module's takes ${arity}`);
      }
    }
    const control = new SharedArrayBuffer((CHUNK_BASE + MAX_CHUNKS * CHUNK_WORDS) * 4);
    const words = new Int32Array(control);
    const floats = new Float32Array(control);
    const runners = CHUNK_FORMS.map((kind) => chunkCaller(kernels[kind.kernel] as ChunkKernelFunction, kind.arity, kind.floats, words, floats));
    const started = await Promise.allSettled(scratch.map((block) => startWorker({ module, memory, control, scratch: block, protocol: WORKER_PROTOCOL, plan })));
    const handles = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
    const failure = started.find((s) => s.status === "rejected");
    if (failure) {
      for (const h of handles) h.terminate();
      throw (failure as PromiseRejectedResult).reason;
    }
    return new ThreadPool(words, floats, runners, handles);
  }

  /**
   * Makes chunk `i` of the next round (i < MAX_CHUNKS) one of `kind` and returns the word it
   * starts at; the split then writes its arguments at words[at + kind.word.<name>].
   */
  chunk(i: number, kind: ChunkLayout): number {
    const at = CHUNK_BASE + i * CHUNK_WORDS;
    this.words[at] = kind.form;
    return at;
  }

  /**
   * Runs chunks 0 … count-1 (written through chunk()) on this thread and the workers and
   * returns when all are done.
   */
  runChunks(count: number): void {
    if (this.stopped) throw new WorkerError("the engine's worker threads were stopped by dispose()");
    const w = this.words;
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
      const at = CHUNK_BASE + index * CHUNK_WORDS;
      try {
        this.runners[w[at]!]!(at);
      } catch (error) {
        failure ??= error;
      }
      Atomics.add(w, FINISHED, 1);
    }
    this.join();
    if (failure !== undefined) throw failure;
    const failed = Atomics.load(w, FAILED);
    if (failed !== 0) throw new WorkerError(`a worker thread failed while running ${CHUNK_FORMS[failed - 1]?.kernel ?? "a chunk"}`);
  }

  /**
   * Waits until every claimed chunk is finished: polling first, then sleeping in short
   * slices where this thread may block (a browser's main thread may not, and keeps polling).
   */
  private join(): void {
    const w = this.words;
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
    Atomics.store(this.words, STOP, 1);
    Atomics.add(this.words, SEQUENCE, 1);
    Atomics.notify(this.words, SEQUENCE);
    for (const h of this.handles) h.terminate();
  }
}
