/**
 * Inference suite alone (section 3 of bench/index.ts): a 784-800-800-10 MLP at batch 1 and 128.
 *
 *   npm run bench:inference
 *
 * Writes bench/results/<runtime>-inference-<YYYY-MM-DD>.json.
 */
import { nodePlatform } from "./lib/node-platform.js";
import { runSuites } from "./lib/run.js";

await runSuites(process.argv.slice(2), ["inference"], nodePlatform());
