/**
 * Starting worker threads: whether threads are possible here, and one worker started from
 * the source text of worker.ts, as an `eval` worker of node:worker_threads in Node and as a
 * Blob URL module worker elsewhere (browsers, Deno, Bun).
 */
import { WorkerError } from "../../errors.js";
import { workerSource } from "./worker.js";

const START_TIMEOUT_MS = 30_000;

export interface WorkerHandle {
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
    return (
      "the page is not cross-origin isolated, so WebAssembly memory cannot be shared with workers (serve it " +
      "with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)"
    );
  }
  if (typeof Worker !== "function" && !isNode()) return "this JavaScript engine has no Worker";
  return undefined;
}

/** Node itself (Bun and Deno also define process.versions.node, but start workers the web way). */
function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string; bun?: string } } }).process;
  return typeof p?.versions?.node === "string" && p.versions.bun === undefined && typeof (globalThis as { Deno?: unknown }).Deno !== "object";
}

function isBrowser(): boolean {
  return typeof (globalThis as { location?: unknown }).location === "object" && !isNode() && typeof (globalThis as { Deno?: unknown }).Deno !== "object";
}

interface Started {
  handle: WorkerHandle;
  /** Resolves when the worker has posted "ready". */
  ready: Promise<void>;
}

/** A module worker from a Blob URL (browsers, Deno, Bun); throws if the global Worker refuses it. */
function startWebWorker(source: string): Started {
  const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  let worker: Worker;
  try {
    worker = new Worker(url, { type: "module", name: "distill-wasm kernels" });
  } catch (error) {
    URL.revokeObjectURL(url);
    throw error;
  }
  (worker as { unref?: () => void }).unref?.(); // Bun: an idle pool must not keep the process alive
  const ready = new Promise<void>((resolve, reject) => {
    worker.addEventListener("message", () => resolve(), { once: true });
    worker.addEventListener(
      "error",
      (e) => {
        e.preventDefault?.();
        reject(new WorkerError(`a worker thread failed to start: ${e.message || "no details"} (a Content-Security-Policy must allow ` + "worker-src blob:)"));
      },
      { once: true },
    );
  }).finally(() => URL.revokeObjectURL(url));
  return { handle: { post: (m) => worker.postMessage(m), terminate: () => worker.terminate() }, ready };
}

/** An `eval` worker of node:worker_threads (Node; also Deno and Bun when their global Worker is unusable). */
async function startNodeWorker(source: string): Promise<Started> {
  const { Worker: NodeWorker } = await import("node:worker_threads");
  const worker = new NodeWorker(source, { eval: true, name: "distill-wasm kernels" });
  worker.unref(); // an idle pool must not keep the process alive
  const ready = new Promise<void>((resolve, reject) => {
    worker.once("message", () => resolve());
    worker.once("error", (e) => reject(new WorkerError(`a worker thread failed to start: ${String(e)}`)));
    worker.once("exit", (code) => reject(new WorkerError(`a worker thread exited with code ${code} while starting`)));
  });
  return { handle: { post: (m) => worker.postMessage(m), terminate: () => void worker.terminate() }, ready };
}

/**
 * Starts one worker and resolves once it has instantiated the module and is waiting for
 * rounds. Node always uses worker_threads. Elsewhere the global Worker is tried first; if
 * it refuses a Blob URL (tfjs-backend-wasm replaces the global with worker_threads' Worker
 * under Deno, say), node:worker_threads is tried where the runtime has it.
 */
export async function startWorker(setup: Record<string, unknown>): Promise<WorkerHandle> {
  const source = workerSource();
  let started: Started;
  if (isNode()) {
    started = await startNodeWorker(source);
  } else {
    try {
      started = startWebWorker(source);
    } catch (webError) {
      try {
        started = await startNodeWorker(source);
      } catch {
        throw new WorkerError(`a worker thread could not be created: ${String(webError)}`);
      }
    }
  }
  const { handle, ready } = started;
  handle.post(setup);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new WorkerError(`a worker thread did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
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
