/** Times one function with tinybench and summarises it (median, IQR) with stats.ts. */
import { Bench } from "tinybench";
import { progress } from "./progress.js";
import { quantile, timingOf, type Timing } from "./stats.js";
import { fmtNum } from "./table.js";

/**
 * tinybench's limits: a task runs until both `time` (ms) and `iterations` are reached,
 * after a warm-up that stops when both `warmupTime` and `warmupIterations` are reached.
 */
export interface Budget {
  time: number;
  iterations: number;
  warmupTime: number;
  warmupIterations: number;
  /** false: no warm-up phase (the untimed call that chose the budget was the warm-up). */
  warmup?: boolean;
}

/** For functions of a few milliseconds or less. */
export const FAST: Budget = { time: 500, iterations: 20, warmupTime: 150, warmupIterations: 5 };
/** For functions of tens of milliseconds. */
export const MEDIUM: Budget = { time: 600, iterations: 8, warmupTime: 0, warmupIterations: 2 };
/** For functions of a few hundred milliseconds or more (naive JS, tfjs-cpu). */
export const SLOW: Budget = { time: 0, iterations: 4, warmupTime: 0, warmupIterations: 1 };

/** For functions of a second or more: three timed calls after the untimed one. */
export const VERY_SLOW: Budget = { time: 0, iterations: 3, warmupTime: 0, warmupIterations: 0, warmup: false };

/** --quick: one warm-up call and three timed calls, whatever the function. */
export const QUICK: Budget = { time: 0, iterations: 3, warmupTime: 0, warmupIterations: 1 };

/** When set, measure() uses this budget instead of the one it is given (--quick). */
let override: Budget | undefined;
export function capBudgets(budget: Budget | undefined): void {
  override = budget;
}

/** Picks a budget from one untimed call's duration (which also serves as a first warm-up). */
export function budgetFor(ms: number): Budget {
  if (ms < 8) return FAST;
  if (ms < 120) return MEDIUM;
  if (ms < 1000) return SLOW;
  return VERY_SLOW;
}

/**
 * Runs `fn` under tinybench and returns its latency summary. The function is awaited
 * only when it returns a promise (declare `async: true` for functions that do).
 */
export async function measure(name: string, fn: () => unknown, budget: Budget, options: { async?: boolean } = {}): Promise<Timing> {
  const bench = new Bench({ name, retainSamples: true, throws: true, ...(override ?? budget) });
  bench.add(name, fn as () => void, { async: options.async ?? false });
  await bench.run();
  const timing = timingOf(bench.getTask(name)!);
  progress(`  ${name.padEnd(52)} ${fmtNum(timing.medianMs).padStart(7)} ms  (${timing.samples} samples)\n`);
  return timing;
}

/** Times one call of `fn` (ms) outside tinybench, e.g. to choose a budget. */
export async function once(fn: () => unknown): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** Summarises externally collected per-iteration durations (ms) the same way as timingOf. */
export function timingOfSamples(samplesMs: readonly number[]): Timing {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const median = quantile(sorted, 0.5);
  const p25 = quantile(sorted, 0.25);
  const p75 = quantile(sorted, 0.75);
  return {
    medianMs: median,
    p25Ms: p25,
    p75Ms: p75,
    meanMs: sorted.reduce((s, x) => s + x, 0) / sorted.length,
    minMs: sorted[0]!,
    relIqr: (p75 - p25) / median,
    samples: sorted.length,
  };
}
