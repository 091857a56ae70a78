/**
 * Convolution kernel suite alone (section 4 of bench/index.ts): distill-wasm's
 * conv2d_forward / conv2d_backward against tfjs-wasm and tfjs-cpu and naive JavaScript
 * loops, at the 3×3 layers of a small MNIST CNN, batch 32.
 *
 *   npm run bench:conv
 *   node bench/dist/conv.js --simd=relaxed     (Node 20: add --experimental-wasm-relaxed-simd)
 *
 * Writes bench/results/<runtime>-conv[-relaxed]-<YYYY-MM-DD>.json.
 */
import { nodePlatform } from "./lib/node-platform.js";
import { runSuites } from "./lib/run.js";

await runSuites(process.argv.slice(2), ["conv"], nodePlatform());
