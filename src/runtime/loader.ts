/**
 * Where the full library's builds are instantiated. It goes through
 * `@assemblyscript/loader` (the project's chosen loader; officially deprecated upstream),
 * so replacing it means editing this file only (distill-wasm/infer's module, which needs
 * none of the loader's features, is instantiated by instance.ts's `instantiatePlain`). The kernels use a plain pointer ABI, so
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
import { WasmLoadError } from "../errors.js";
import { checkedExports, kernelImports, MAY_BLOCK } from "./instance.js";

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
  const imports = kernelImports(() => memory, sharedMemory);
  let instance: WebAssembly.Instance;
  try {
    ({ instance } = MAY_BLOCK ? instantiateSync(module, imports) : await instantiate(module, imports));
  } catch (cause) {
    throw new WasmLoadError(`could not instantiate the distill-wasm kernels: ${String(cause)}`);
  }
  memory = (instance.exports as { memory?: WebAssembly.Memory }).memory;
  return checkedExports<T>(instance, names);
}
