/**
 * How busy the machine was while a suite ran, for the results file: the load average at the
 * start and the end, and the share of CPU time the hypervisor gave to other guests (steal)
 * and the share this machine spent busy, from /proc/stat's aggregate line. A suite whose
 * numbers disagree with another run's can then be told apart from a noisy neighbour.
 * Linux only; elsewhere only the load average (zeros on Windows) is recorded.
 */
import { readFileSync } from "node:fs";
import os from "node:os";
import type { SuiteLoad } from "./platform.js";

/** /proc/stat "cpu" jiffies: [user, nice, system, idle, iowait, irq, softirq, steal]. */
function cpuJiffies(): number[] | undefined {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0]!;
    if (!line.startsWith("cpu ")) return undefined;
    return line.trim().split(/\s+/).slice(1, 9).map(Number);
  } catch {
    return undefined;
  }
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));

/** Call at a suite's start; the function returned, at its end, gives the record. */
export function startLoadRecord(): () => SuiteLoad {
  const loadStart = os.loadavg()[0]!;
  const before = cpuJiffies();
  return () => {
    const after = cpuJiffies();
    const record: SuiteLoad = { loadAverageStart: round(loadStart, 2), loadAverageEnd: round(os.loadavg()[0]!, 2) };
    if (before && after) {
      const d = after.map((v, i) => v - before[i]!);
      const total = d.reduce((s, v) => s + v, 0);
      if (total > 0) {
        record.stealPercent = round((100 * d[7]!) / total, 1);
        record.busyPercent = round((100 * (total - d[3]! - d[4]!)) / total, 1);
      }
    }
    return record;
  };
}
