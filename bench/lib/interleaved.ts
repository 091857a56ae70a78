/**
 * Interleaved timing for calls of microseconds to milliseconds: several implementations in
 * turn, round after round, with the process's CPU time beside the wall-clock time where the
 * runtime reports it. Used by the int8 suite (`npm run bench:int8`, bench/suites/int8.ts).
 */
import { progress } from "./progress.js";
import type { Timing } from "./stats.js";
import { fmtNum } from "./table.js";
import { once, timingOfSamples } from "./timing.js";

/** Milliseconds each implementation runs per round (at least one call). */
export const SAMPLE_MS = 4;

/** One implementation: its label and its call (async ones are awaited, synchronous ones are not). */
export interface Timed {
  library: string;
  run: () => unknown;
  async?: boolean;
}

/**
 * Times the implementations in turn, round after round (each round: every implementation for
 * about SAMPLE_MS, the ms per call recorded), so that a machine whose load changes during the
 * run (a shared one) slows all of them alike and their ratios hold. After a warm-up of
 * SAMPLE_MS each, which also sets the calls per sample.
 */
export async function interleaved(impls: readonly Timed[], rounds: number, label: string): Promise<{ wall: Timing; cpu?: Timing }[]> {
  const cpuNow = processCpuMs();
  const calls: number[] = [];
  for (const impl of impls) {
    const first = await once(impl.run);
    const warm = Math.max(1, Math.ceil(SAMPLE_MS / Math.max(first, 1e-3)));
    const t0 = performance.now();
    for (let c = 0; c < warm; c++) await impl.run();
    const each = (performance.now() - t0) / warm;
    calls.push(Math.max(1, Math.round(SAMPLE_MS / Math.max(each, 1e-3))));
  }
  const wall: number[][] = impls.map(() => []);
  const cpu: number[][] = impls.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < impls.length; i++) {
      const { run, async } = impls[i]!;
      const n = calls[i]!;
      const c0 = cpuNow?.();
      const t0 = performance.now();
      if (async) for (let c = 0; c < n; c++) await run();
      else for (let c = 0; c < n; c++) run(); // no await: a synchronous call pays no microtask
      wall[i]!.push((performance.now() - t0) / n);
      if (cpuNow) cpu[i]!.push((cpuNow() - c0!) / n);
    }
  }
  const timings = impls.map((_, i) => ({ wall: timingOfSamples(wall[i]!), ...(cpuNow ? { cpu: timingOfSamples(cpu[i]!) } : {}) }));
  impls.forEach((impl, i) =>
    progress(
      `  ${`${impl.library} ${label}`.padEnd(52)} ${fmtNum(timings[i]!.wall.medianMs).padStart(7)} ms` +
        `${timings[i]!.cpu ? `, CPU ${fmtNum(timings[i]!.cpu!.medianMs)} ms` : ""}  (${rounds} rounds × ${calls[i]} calls)\n`,
    ),
  );
  return timings;
}

/**
 * The process's CPU time in ms (every thread), where the runtime tells it (Node, Deno, Bun:
 * process.cpuUsage, microsecond resolution); undefined in a browser page. On a machine shared
 * with other jobs a call's wall-clock time includes the time other processes held the core,
 * its CPU time does not.
 */
export function processCpuMs(): (() => number) | undefined {
  const usage = (globalThis as { process?: { cpuUsage?: () => { user: number; system: number } } }).process?.cpuUsage;
  if (typeof usage !== "function") return undefined;
  return () => {
    const u = usage();
    return (u.user + u.system) / 1000;
  };
}
