/**
 * int8 inference suite alone: three students (784-800-800-10 and 784-32-10 MLPs, the small
 * MNIST CNN) quantized to int8, beside their float32 selves and onnxruntime-web (float32 and
 * int8 QDQ), at batch 1 and 128, one thread (bench/suites/int8.ts).
 *
 *   npm run bench:int8 [-- --quick]
 *
 * Writes bench/results/<machine>/<runtime>-int8-<YYYY-MM-DD>.json.
 */
import { nodePlatform } from "./lib/node-platform.js";
import { runSuites } from "./lib/run.js";

await runSuites(process.argv.slice(2), ["int8"], nodePlatform());
