/** Summaries of a finished tinybench task: median and interquartile spread of its latency samples. */
import type { Task } from "tinybench";

export interface Timing {
  /** Median latency, ms. */
  medianMs: number;
  p25Ms: number;
  p75Ms: number;
  meanMs: number;
  minMs: number;
  /** (p75 − p25) / median. */
  relIqr: number;
  samples: number;
}

/** Linear-interpolated quantile of sorted values (q in [0, 1]). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** Needs the task to have run with retainSamples; throws if it failed. */
export function timingOf(task: Task): Timing {
  const result = task.result;
  if (result.state === "errored") throw result.error;
  if (result.state !== "completed" && result.state !== "aborted-with-statistics") {
    throw new Error(`benchmark task "${task.name}" did not complete (state: ${result.state})`);
  }
  const lat = result.latency;
  const sorted = lat.samples ? [...lat.samples].sort((a, b) => a - b) : undefined;
  const median = sorted ? quantile(sorted, 0.5) : lat.p50;
  const p25 = sorted ? quantile(sorted, 0.25) : NaN;
  const p75 = sorted ? quantile(sorted, 0.75) : lat.p75;
  return {
    medianMs: median,
    p25Ms: p25,
    p75Ms: p75,
    meanMs: lat.mean,
    minMs: lat.min,
    relIqr: (p75 - p25) / median,
    samples: lat.samplesCount,
  };
}
