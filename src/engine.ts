/**
 * An Engine is one instance of the kernel module: its exports, its linear memory and the
 * arena that tensors live in. Engines are independent; `init()` creates the default one.
 *
 * Views over linear memory (`f32`, `i32`) must be re-created after any allocation,
 * because growing memory detaches the previous ArrayBuffer: take a view, use it, drop it.
 */
import type { KernelExports } from "./runtime/abi.js";
import type { ParallelOptimizer } from "./runtime/threads/split-optimizer.js";
import type { ThreadPool } from "./runtime/threads/pool.js";
import { ArgumentError, OutOfMemoryError } from "./errors.js";
import type { GemmPlan } from "./runtime/gemm-plan/plan.js";

/** Which compiled build an engine runs. */
export type EngineBuild = "release" | "relaxed" | "custom";

/** The GEMM plan an engine runs and how it was chosen (see `init({ plan })`). */
export interface EnginePlan {
  /** A plain JSON object: save it and pass it back as `init({ plan })` to skip the probe. */
  plan: GemmPlan;
  /** How it was chosen: "measured at init in 6.2 ms", "the default plan (plan: \"default\")", … */
  note: string;
}

const MAX_MEMORY_BYTES = 4 * 1024 ** 3; // wasm32 address space
/**
 * An engine that is dropped without dispose() would keep its worker threads (and their
 * memory) for the life of the process: once the engine is garbage, its pool is stopped.
 */
const WORKERS_OF_LOST_ENGINES = new FinalizationRegistry<ThreadPool>((pool) => pool.stop());

/** Static data, block headers and slack the heap needs beyond the payload (assembly/memory.ts). */
const HEAP_OVERHEAD_BYTES = 1024 * 1024;

export class Engine {
  /** The raw kernel exports (pointer ABI). */
  readonly kernels: KernelExports;
  /** "release": plain SIMD, bit-identical everywhere; "relaxed": FMA, may differ between CPUs. */
  readonly build: EngineBuild;
  /**
   * Threads that share each large GEMM (1: only the calling thread). Results are
   * bit-identical for every thread count.
   */
  readonly threads: number;
  /** Why fewer threads run than were asked for (no SharedArrayBuffer, …), or undefined. */
  readonly threadsNote: string | undefined;
  /**
   * Optimizer steps split over the threads, taking their numbers in one object (the
   * training loop's allocation-free path); undefined on one thread.
   */
  readonly parallelOptimizer: ParallelOptimizer | undefined;
  /**
   * Which candidate loop nest each GEMM form runs per shape class on this machine (every
   * candidate gives the same bits): a plain object to save and pass back as `init({ plan })`.
   */
  readonly gemmPlan: GemmPlan | undefined;
  /** How `gemmPlan` was chosen (measured, default, given, or a given plan ignored and why). */
  readonly gemmPlanNote: string;
  private readonly pool: ThreadPool | undefined;

  constructor(kernels: KernelExports, build: EngineBuild, pool?: ThreadPool, threadsNote?: string, parallelOptimizer?: ParallelOptimizer, plan?: EnginePlan) {
    this.kernels = kernels;
    this.gemmPlan = plan?.plan;
    this.gemmPlanNote = plan?.note ?? "the module's own plan (the engine was constructed directly)";
    this.build = build;
    this.pool = pool;
    this.parallelOptimizer = parallelOptimizer;
    this.threads = pool ? pool.workers + 1 : 1;
    this.threadsNote = threadsNote;
    if (pool) WORKERS_OF_LOST_ENGINES.register(this, pool, this);
  }

  /**
   * Stops the engine's worker threads (a no-op on one thread). Node and Bun let the
   * process exit while idle workers are alive; Deno waits for them until this is called.
   * A multi-threaded engine cannot run large GEMMs after it.
   */
  dispose(): void {
    this.pool?.stop();
    WORKERS_OF_LOST_ENGINES.unregister(this);
  }

  /** A Float32Array view of `length` floats at byte offset `ptr`. */
  f32(ptr: number, length: number): Float32Array {
    return new Float32Array(this.kernels.memory.buffer, ptr, length);
  }

  /** An Int32Array view of `length` ints at byte offset `ptr`. */
  i32(ptr: number, length: number): Int32Array {
    return new Int32Array(this.kernels.memory.buffer, ptr, length);
  }

  /** A Float64Array view of `length` doubles at byte offset `ptr` (8-byte aligned). */
  f64(ptr: number, length: number): Float64Array {
    return new Float64Array(this.kernels.memory.buffer, ptr, length);
  }

  /**
   * Allocates a temporary of `bytes` (16-byte aligned) from the arena: freed by the
   * enclosing `scoped` call (or `kernels.arena_release`). Throws OutOfMemoryError.
   */
  alloc(bytes: number): number {
    this.checkSize(bytes);
    return this.checkPointer(this.kernels.arena_alloc(bytes) >>> 0, bytes);
  }

  /** Allocates `bytes` (16-byte aligned) that live until `free(ptr)`. Throws OutOfMemoryError. */
  allocOwned(bytes: number): number {
    this.checkSize(bytes);
    return this.checkPointer(this.kernels.heap_alloc(bytes) >>> 0, bytes);
  }

  /** Frees a pointer returned by `allocOwned`. */
  free(ptr: number): void {
    this.kernels.heap_free(ptr);
  }

  private checkSize(bytes: number): void {
    if (!Number.isSafeInteger(bytes) || bytes < 0) {
      throw new ArgumentError(`alloc: byte count must be a non-negative integer; got ${bytes}`);
    }
    const used = this.kernels.heap_used() >>> 0;
    if (bytes + used + HEAP_OVERHEAD_BYTES > MAX_MEMORY_BYTES) {
      throw new OutOfMemoryError(
        `cannot allocate ${formatBytes(bytes)}: WebAssembly memory is limited to 4 GiB ` + `and ${formatBytes(used)} are already in use`,
      );
    }
  }

  private checkPointer(ptr: number, bytes: number): number {
    if (ptr === 0) {
      throw new OutOfMemoryError(
        `cannot allocate ${formatBytes(bytes)}: the JavaScript engine refused to grow WebAssembly memory ` +
          `beyond ${formatBytes(this.kernels.memory.buffer.byteLength)}`,
      );
    }
    return ptr;
  }

  /** Allocates room for `length` f32 values. */
  allocF32(length: number): number {
    return this.alloc(length * 4);
  }

  /** Copies numbers into a fresh f32 temporary and returns its pointer. */
  putF32(values: ArrayLike<number>): number {
    const ptr = this.allocF32(values.length);
    this.f32(ptr, values.length).set(values);
    return ptr;
  }

  /** Copies integers into a fresh i32 allocation and returns its pointer. */
  putI32(values: ArrayLike<number>): number {
    const ptr = this.alloc(values.length * 4);
    this.i32(ptr, values.length).set(values);
    return ptr;
  }

  /** Copies `length` f32 values out of linear memory into a new Float32Array. */
  readF32(ptr: number, length: number): Float32Array {
    return this.f32(ptr, length).slice();
  }

  /** Runs `fn` and then frees everything it allocated from the arena (even if it throws). */
  scoped<T>(fn: () => T): T {
    const mark = this.kernels.arena_mark() >>> 0;
    try {
      return fn();
    } finally {
      this.kernels.arena_release(mark);
    }
  }

  /** Bytes of temporaries currently allocated in the arena. */
  get bytesInUse(): number {
    return this.kernels.arena_used() >>> 0;
  }

  /** Bytes of linear memory in use by every live allocation (owned and temporary). */
  get heapBytes(): number {
    return this.kernels.heap_used() >>> 0;
  }
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${bytes} bytes`;
}
