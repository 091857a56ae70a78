/**
 * What every instantiation of a kernel module shares, whichever path makes the instance:
 * the imports (`env.abort`, which turns a kernel assertion into a KernelAssertionError, and
 * a threads build's shared memory), the check that the instance exports the ABI, and whether
 * this thread may instantiate synchronously. src/runtime/loader.ts instantiates the full
 * library's builds through @assemblyscript/loader; distill-wasm/infer, whose module uses no
 * loader feature (the kernels take and return plain numbers), instantiates its own directly
 * (`instantiatePlain`), so a page that only predicts does not download the loader.
 */
import { KernelAssertionError, WasmLoadError } from "../errors.js";

/**
 * Whether this thread may instantiate a compiled module synchronously: everywhere but the
 * main thread of a browser page, where engines refuse it for all but small modules.
 * Synchronous instantiation also keeps Node from loading its whole fetch implementation,
 * which the loader's asynchronous path touches (some 40 ms of a cold start).
 */
export const MAY_BLOCK = typeof (globalThis as { document?: unknown }).document === "undefined";

/** Reads an AssemblyScript static string (UTF-16, byte length stored just before it). */
function readString(memory: WebAssembly.Memory | undefined, ptr: number): string {
  if (!memory || ptr === 0) return "";
  const buffer = memory.buffer;
  const byteLength = new Uint32Array(buffer, (ptr >>> 0) - 4, 1)[0]!;
  return String.fromCharCode(...new Uint16Array(buffer, ptr >>> 0, byteLength >>> 1));
}

/** The module's imports; `memoryOf` gives the instance's memory once it exists (for abort's messages). */
export function kernelImports(memoryOf: () => WebAssembly.Memory | undefined, sharedMemory?: WebAssembly.Memory) {
  return {
    env: {
      ...(sharedMemory ? { memory: sharedMemory } : {}),
      abort(message: number, file: number, line: number, column: number): never {
        const memory = memoryOf();
        throw new KernelAssertionError(`kernel assertion failed: ${readString(memory, message)} (${readString(memory, file)}:${line}:${column})`);
      },
    },
  };
}

/** The instance's exports, checked to hold its memory and a function for each of `names`. */
export function checkedExports<T extends { memory: WebAssembly.Memory }>(instance: WebAssembly.Instance, names: readonly (keyof T & string)[]): T {
  const exports = instance.exports as unknown as T;
  const missing = names.filter((name) => typeof exports[name] !== "function");
  if (!(exports.memory instanceof WebAssembly.Memory) || missing.length > 0) {
    throw new WasmLoadError(
      `the supplied wasm is not a distill-wasm kernel module of this version (missing: ${missing.length ? missing.join(", ") : "memory"})`,
    );
  }
  return exports;
}

/** Instantiates a compiled module with the WebAssembly API alone and checks its exports. */
export async function instantiatePlain<T extends { memory: WebAssembly.Memory }>(module: WebAssembly.Module, names: readonly (keyof T & string)[]): Promise<T> {
  let instance: WebAssembly.Instance | undefined;
  const imports = kernelImports(() => (instance?.exports.memory as WebAssembly.Memory | undefined) ?? undefined);
  try {
    instance = MAY_BLOCK ? new WebAssembly.Instance(module, imports) : await WebAssembly.instantiate(module, imports);
  } catch (cause) {
    throw new WasmLoadError(`could not instantiate the distill-wasm kernels: ${String(cause)}`);
  }
  return checkedExports<T>(instance, names);
}
