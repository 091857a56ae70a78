/**
 * The kernel ABI as seen from TypeScript, under the names the rest of the code imports:
 * `KernelExports` (one signature per export of assembly/index.ts that ships), `KERNEL_NAMES`,
 * `ReferenceKernelExports` / `REFERENCE_KERNEL_NAMES` (the `_ref` twins), and the
 * constants the AssemblyScript sources export (`GEMM_ACCUMULATE`, `GEMM_RELU`,
 * `DISTILL_SOFT_CROSS_ENTROPY`, `SCRATCH_BYTES`, …).
 *
 * None of it is written here: assembly/abi-gen.mjs generates abi.generated.ts from the
 * AssemblyScript sources during `npm run build:wasm`, and test/toolchain/abi.test.ts fails when that
 * file, the sources and the compiled builds disagree. Pointers are byte offsets into the
 * module's linear memory (a returned pointer arrives as a signed i32: read it with `>>> 0`);
 * shapes and semantics are in the kernels' doc comments. The `_ref` twins, the plain scalar
 * references, are in build/*.wasm for the tests and left out of the embedded builds.
 */
export * from "./abi.generated.js";
