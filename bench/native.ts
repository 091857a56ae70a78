/**
 * Native comparison alone (section 6 of bench/index.ts): distill-wasm (baseline and relaxed
 * SIMD builds, 1 and 2 threads) against PyTorch on the CPU with the reference BLAS and
 * OpenBLAS, on the distillation and teacher steps and inference.
 *
 *   npm run bench:native
 *   DISTILL_BENCH_OPENBLAS=/path/to/openblas-openmp npm run bench:native
 *
 * Writes bench/results/<cpu key>/<runtime>-native-<YYYY-MM-DD>.json.
 */
import { nodePlatform } from "./lib/node-platform.js";
import { runSuites } from "./lib/run.js";

await runSuites(process.argv.slice(2), ["native"], nodePlatform());
