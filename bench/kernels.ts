/**
 * GEMM kernel suite alone (section 1 of bench/index.ts): distill-wasm's gemm_nn / gemm_nt /
 * gemm_tn against tfjs-wasm and tfjs-cpu tf.matMul and a naive JavaScript loop, and the
 * wasm-SIMD peak probe.
 *
 *   npm run bench:kernels
 *   node bench/dist/kernels.js --simd=relaxed     (Node 20: add --experimental-wasm-relaxed-simd)
 *
 * Writes bench/results/<runtime>-kernels[-relaxed]-<YYYY-MM-DD>.json.
 */
import { nodePlatform } from "./lib/node-platform.js";
import { runSuites } from "./lib/run.js";

await runSuites(process.argv.slice(2), ["kernels"], nodePlatform());
