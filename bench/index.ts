/**
 * The full comparison suite: GEMM kernels (with the wasm-SIMD peak probe), training steps,
 * inference and convolution kernels, distill-wasm against tfjs-wasm, tfjs-cpu, onnxruntime-web and naive JS.
 *
 *   npm run bench                                   (Node)
 *   deno run -A bench/dist/index.js                 (after npm run bench or tsc -p bench)
 *   node_modules/@oven/bun-linux-x64/bin/bun bench/dist/index.js
 *   node bench/dist/index.js --simd=relaxed         (Node 20: add --experimental-wasm-relaxed-simd)
 *
 * Writes bench/results/<runtime>-<YYYY-MM-DD>.json and bench/results/samples-per-second.svg
 * (samples-per-second-<runtime>.svg outside Node). See bench/README.md.
 */
import { nodePlatform } from "./lib/node-platform.js";
import { ALL_SUITES, runSuites } from "./lib/run.js";

await runSuites(process.argv.slice(2), ALL_SUITES, nodePlatform());
