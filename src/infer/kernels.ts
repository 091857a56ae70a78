/**
 * The inference module (assembly/infer.ts: forward kernels only), embedded as base64 by
 * assembly/embed.mjs, compiled once per process; each loaded student gets an instance of
 * its own (its own linear memory, freed with it).
 */
import { RuntimeSupportError, WasmLoadError } from "../errors.js";
import { decodeBase64 } from "../runtime/base64.js";
import { detectFeatures, SIMD_MINIMUM_VERSIONS } from "../runtime/features.js";
import { instantiatePlain } from "../runtime/instance.js";
import { INFER_KERNEL_NAMES, type InferKernelExports } from "./abi.generated.js";
import { INFER_WASM_BASE64 } from "./wasm-bytes.generated.js";

let compiled: Promise<WebAssembly.Module> | undefined;

/** A new instance of the inference kernels; RuntimeSupportError where WebAssembly SIMD is missing. */
export async function inferKernels(): Promise<InferKernelExports> {
  const features = detectFeatures();
  if (!features.webAssembly) throw new RuntimeSupportError("this JavaScript engine has no WebAssembly support; distill-wasm needs it");
  if (!features.simd) {
    throw new RuntimeSupportError(`this JavaScript engine lacks WebAssembly SIMD, which distill-wasm needs (minimum: ${SIMD_MINIMUM_VERSIONS})`);
  }
  compiled ??= WebAssembly.compile(decodeBase64(INFER_WASM_BASE64) as BufferSource).catch((cause) => {
    compiled = undefined;
    throw new WasmLoadError(`could not compile the distill-wasm inference kernels: ${String(cause)}`);
  });
  return instantiatePlain<InferKernelExports>(await compiled, INFER_KERNEL_NAMES);
}
