/**
 * Threads suite alone (section 5 of bench/index.ts): distill-wasm on one thread against
 * every core (`init({ threads })`), bit-identical results checked before timing.
 *
 *   npm run bench:threads
 *
 * Writes bench/results/<runtime>-threads-<YYYY-MM-DD>.json.
 */
import { nodePlatform } from "./lib/node-platform.js";
import { runSuites } from "./lib/run.js";

await runSuites(process.argv.slice(2), ["threads"], nodePlatform());
