/**
 * Whole epochs alone (section 7 of bench/index.ts): one MNIST epoch through train() /
 * distill() and through the CLI, plain and with dropout + shifts, beside the bare step.
 *
 *   npm run bench:epochs                                   (10,000 images)
 *   npm run bench:epochs -- --full-epochs                  (all 60,000)
 *   npm run bench:epochs -- --mnist=/path/to/mnist         (or DISTILL_BENCH_MNIST)
 *
 * Writes bench/results/<cpu key>/<runtime>-epochs-<YYYY-MM-DD>.json.
 */
import { nodePlatform } from "./lib/node-platform.js";
import { runSuites } from "./lib/run.js";

await runSuites(process.argv.slice(2), ["epochs"], nodePlatform());
