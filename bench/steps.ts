/**
 * Training-step suite alone (section 2 of bench/index.ts): the distillation step of a
 * 784-800-800-10 student and the supervised step of a 784-1200-1200-10 teacher, batch 128.
 *
 *   npm run bench:steps
 *
 * Writes bench/results/<runtime>-steps-<YYYY-MM-DD>.json.
 */
import { nodePlatform } from "./lib/node-platform.js";
import { runSuites } from "./lib/run.js";

await runSuites(process.argv.slice(2), ["steps"], nodePlatform());
