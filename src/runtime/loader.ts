/**
 * The one place that instantiates the wasm module. It goes through
 * `@assemblyscript/loader` (the project's chosen loader; officially deprecated upstream),
 * so replacing it means editing this file only. The kernels use a plain pointer ABI, so
 * the raw `instance.exports` are used directly (the loader's demangled wrappers would add
 * a closure and an argument spread to every call).
 *
 * The loader is imported from a vendored copy of its ESM build (written by
 * assembly/embed.mjs during `npm run build:wasm`), by a relative path: a bare
 * `@assemblyscript/loader` specifier would not resolve in a browser page without an
 * import map, nor in Deno without node_modules.
 */
import * as vendoredLoader from "./vendor/assemblyscript-loader.js";
import { KERNEL_NAMES, type KernelExports } from "./abi.js";
import { KernelAssertionError, WasmLoadError } from "../errors.js";

/** The part of the loader's API used here (types from its index.d.ts; the copy is untyped JavaScript). */
interface AssemblyScriptLoader {
  instantiate(
    source: WebAssembly.Module,
    imports: Record<string, Record<string, unknown>>,
  ): Promise<{ module: WebAssembly.Module; instance: WebAssembly.Instance }>;
  instantiateSync(source: WebAssembly.Module, imports: Record<string, Record<string, unknown>>): { module: WebAssembly.Module; instance: WebAssembly.Instance };
}
const { instantiate, instantiateSync } = vendoredLoader as unknown as AssemblyScriptLoader;

/**
 * Whether this thread may instantiate a compiled module synchronously: everywhere but the
 * main thread of a browser page, where engines refuse it for all but small modules. Where
 * it may, the loader's `instantiateSync` is used: its asynchronous `instantiate` first tests
 * its source against the global `Response`, and Node loads its whole fetch implementation
 * on the first use of that global (some 40 ms, more than the rest of a cold start of
 * distill-wasm/infer).
 */
const MAY_BLOCK = typeof (globalThis as { document?: unknown }).document === "undefined";

/** Reads an AssemblyScript static string (UTF-16, byte length stored just before it). */
function readString(memory: WebAssembly.Memory | undefined, ptr: number): string {
  if (!memory || ptr === 0) return "";
  const buffer = memory.buffer;
  const byteLength = new Uint32Array(buffer, (ptr >>> 0) - 4, 1)[0]!;
  return String.fromCharCode(...new Uint16Array(buffer, ptr >>> 0, byteLength >>> 1));
}

/**
 * Instantiates a compiled kernel module and checks that it exports the whole ABI.
 * `sharedMemory` is the memory a threads build imports (it declares none of its own).
 */
export function instantiateKernels(module: WebAssembly.Module, sharedMemory?: WebAssembly.Memory): Promise<KernelExports> {
  return instantiateExports<KernelExports>(module, KERNEL_NAMES, sharedMemory);
}

/**
 * Instantiates a compiled module and checks that it exports its memory and a function for
 * each of `names` (the inference module's are a subset of the ABI's).
 */
export async function instantiateExports<T extends { memory: WebAssembly.Memory }>(
  module: WebAssembly.Module,
  names: readonly (keyof T & string)[],
  sharedMemory?: WebAssembly.Memory,
): Promise<T> {
  let memory: WebAssembly.Memory | undefined = sharedMemory;
  const imports = {
    env: {
      ...(sharedMemory ? { memory: sharedMemory } : {}),
      abort(message: number, file: number, line: number, column: number): never {
        throw new KernelAssertionError(`kernel assertion failed: ${readString(memory, message)} (${readString(memory, file)}:${line}:${column})`);
      },
    },
  };
  let instance: WebAssembly.Instance;
  try {
    ({ instance } = MAY_BLOCK ? instantiateSync(module, imports) : await instantiate(module, imports));
  } catch (cause) {
    throw new WasmLoadError(`could not instantiate the distill-wasm kernels: ${String(cause)}`);
  }
  const exports = instance.exports as unknown as T;
  memory = exports.memory;
  const missing = names.filter((name) => typeof exports[name] !== "function");
  if (!(memory instanceof WebAssembly.Memory) || missing.length > 0) {
    throw new WasmLoadError(
      `the supplied wasm is not a distill-wasm kernel module of this version (missing: ${missing.length ? missing.join(", ") : "memory"})`,
    );
  }
  return exports;
}
