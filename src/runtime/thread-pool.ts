/**
 * Worker threads that compute shares of a GEMM on the engine's shared WebAssembly memory.
 *
 * Each worker instantiates the same compiled module on the same `WebAssembly.Memory`
 * (shared, so every thread sees every write) and has its own packing scratch block,
 * allocated by the owning engine's heap. Jobs are passed through a small control block
 * (an Int32Array over a SharedArrayBuffer) with Atomics, not messages, so handing out a
 * GEMM costs microseconds and allocates nothing:
 *
 *   control[SEQUENCE]  job counter; the owner bumps it and notifies to start a round
 *   control[STOP]      1 asks the workers to return
 *   control[SLOT_BASE + w·SLOT_WORDS + …]  worker w's job:
 *     FORM (0 nn, 1 nt, 2 tn, 3 panels, -1 nothing this round), the 11 GEMM arguments,
 *     DONE (the round it finished), FAILED (1 if its call threw)
 *
 * Workers are started from source text (gemm-worker.ts): a Blob URL where the global
 * `Worker` exists (browsers, Deno, Bun) and an `eval` worker in Node's worker_threads.
 */
import { WorkerError } from "../errors.js";
import { gemmWorkerSource } from "./gemm-worker.js";

export const SEQUENCE = 0;
export const STOP = 1;
export const SLOT_BASE = 16;
export const SLOT_WORDS = 16;
const FORM = 0;
const ARGS = 1;
const DONE = 12;
const FAILED = 13;
const START_TIMEOUT_MS = 30_000;
const JOIN_SPIN_CHECKS = 20_000;

/** Whether this thread may block in Atomics.wait (a browser's main thread may not). */
const canBlock = (() => {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0); // returns "not-equal" at once
    return true;
  } catch {
    return false;
  }
})();

/** GEMM forms as numbered in the control block. */
export const FORM_NN = 0;
export const FORM_NT = 1;
export const FORM_TN = 2;
export const FORM_PANELS = 3;

interface WorkerHandle {
  post(message: unknown): void;
  terminate(): void;
}

/** Why threads cannot be used here, or undefined if they can. */
export function threadsUnavailableReason(): string | undefined {
  if (typeof SharedArrayBuffer !== "function") {
    const browser = typeof (globalThis as { document?: unknown }).document === "object";
    return browser
      ? "SharedArrayBuffer is unavailable because the page is not cross-origin isolated (serve it with the headers " +
          "Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)"
      : "this JavaScript engine has no SharedArrayBuffer";
  }
  if ((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === false && isBrowser()) {
    return "the page is not cross-origin isolated, so WebAssembly memory cannot be shared with workers (serve it " +
      "with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)";
  }
  if (typeof Worker !== "function" && !isNode()) return "this JavaScript engine has no Worker";
  return undefined;
}

function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string; bun?: string } } }).process;
  return typeof p?.versions?.node === "string";
}

function isBrowser(): boolean {
  return typeof (globalThis as { location?: unknown }).location === "object" && !isNode() &&
    typeof (globalThis as { Deno?: unknown }).Deno !== "object";
}

/** Starts one worker and resolves once it has instantiated the module and is waiting for jobs. */
async function startWorker(setup: Record<string, unknown>): Promise<WorkerHandle> {
  const source = gemmWorkerSource();
  let handle: WorkerHandle;
  let ready: Promise<void>;
  if (typeof Worker === "function") {
    const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
    const worker = new Worker(url, { type: "module", name: "distill-wasm gemm" });
    (worker as { unref?: () => void }).unref?.(); // Bun: an idle pool must not keep the process alive
    ready = new Promise<void>((resolve, reject) => {
      worker.addEventListener("message", () => resolve(), { once: true });
      worker.addEventListener("error", (e) => {
        e.preventDefault?.();
        reject(new WorkerError(
          `a GEMM worker failed to start: ${e.message || "no details"} (a Content-Security-Policy must allow ` +
            "worker-src blob:)",
        ));
      }, { once: true });
    }).finally(() => URL.revokeObjectURL(url));
    handle = { post: (m) => worker.postMessage(m), terminate: () => worker.terminate() };
  } else {
    const { Worker: NodeWorker } = await import("node:worker_threads");
    const worker = new NodeWorker(source, { eval: true, name: "distill-wasm gemm" });
    worker.unref(); // an idle pool must not keep the process alive
    ready = new Promise<void>((resolve, reject) => {
      worker.once("message", () => resolve());
      worker.once("error", (e) => reject(new WorkerError(`a GEMM worker failed to start: ${String(e)}`)));
      worker.once("exit", (code) => reject(new WorkerError(`a GEMM worker exited with code ${code} while starting`)));
    });
    handle = { post: (m) => worker.postMessage(m), terminate: () => void worker.terminate() };
  }
  handle.post(setup);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new WorkerError(`a GEMM worker did not start within ${START_TIMEOUT_MS / 1000} s`)),
      START_TIMEOUT_MS);
  });
  try {
    await Promise.race([ready, timeout]);
  } catch (error) {
    handle.terminate();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return handle;
}

export class ThreadPool {
  /** Worker threads (the calling thread computes a share too). */
  readonly workers: number;
  private readonly control: Int32Array;
  private readonly handles: WorkerHandle[];
  private sequence = 0;
  private stopped = false;

  private constructor(control: Int32Array, handles: WorkerHandle[]) {
    this.control = control;
    this.handles = handles;
    this.workers = handles.length;
  }

  /** Starts `scratch.length` workers; worker w packs into the block at scratch[w]. */
  static async start(module: WebAssembly.Module, memory: WebAssembly.Memory, scratch: number[]): Promise<ThreadPool> {
    const control = new SharedArrayBuffer((SLOT_BASE + scratch.length * SLOT_WORDS) * 4);
    const started = await Promise.allSettled(
      scratch.map((block, slot) => startWorker({ module, memory, control, slot, scratch: block })),
    );
    const handles = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
    const failure = started.find((s) => s.status === "rejected");
    if (failure) {
      for (const h of handles) h.terminate();
      throw (failure as PromiseRejectedResult).reason;
    }
    return new ThreadPool(new Int32Array(control), handles);
  }

  /** Gives worker `slot` a GEMM for the next round (form -1: nothing). */
  assign(
    slot: number, form: number, c: number, a: number, b: number, bias: number,
    m: number, n: number, k: number, lda: number, ldb: number, ldc: number, flags: number,
  ): void {
    const at = SLOT_BASE + slot * SLOT_WORDS;
    const w = this.control;
    w[at + FORM] = form;
    w[at + ARGS] = c; w[at + ARGS + 1] = a; w[at + ARGS + 2] = b; w[at + ARGS + 3] = bias;
    w[at + ARGS + 4] = m; w[at + ARGS + 5] = n; w[at + ARGS + 6] = k;
    w[at + ARGS + 7] = lda; w[at + ARGS + 8] = ldb; w[at + ARGS + 9] = ldc; w[at + ARGS + 10] = flags;
  }

  /** Starts a round: every worker runs what `assign` gave it. */
  wake(): void {
    if (this.stopped) throw new WorkerError("the engine's worker threads were stopped by dispose()");
    this.sequence = (this.sequence + 1) | 0;
    Atomics.store(this.control, SEQUENCE, this.sequence); // publishes the slots written before it
    Atomics.notify(this.control, SEQUENCE);
  }

  /**
   * Waits until every worker has finished the round: spinning first (a share usually ends
   * within microseconds of this thread's), then sleeping in Atomics.wait where this thread
   * may block, so that a spinning caller never holds a core its worker needs. A browser's
   * main thread may not block and keeps spinning.
   */
  join(): void {
    const w = this.control;
    for (let slot = 0; slot < this.workers; slot++) {
      const at = SLOT_BASE + slot * SLOT_WORDS;
      let spins = 0;
      for (;;) {
        const done = Atomics.load(w, at + DONE);
        if (done === this.sequence) break;
        if (++spins > JOIN_SPIN_CHECKS && canBlock) Atomics.wait(w, at + DONE, done, 1);
      }
      if (w[at + FAILED] !== 0) {
        w[at + FAILED] = 0;
        throw new WorkerError(`GEMM worker ${slot + 1} failed while computing its share`);
      }
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
