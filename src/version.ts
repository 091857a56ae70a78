/** The library's version (kept equal to package.json's by a test): written into model files and GEMM plans. */
export const DISTILL_WASM_VERSION = "0.1.0";
