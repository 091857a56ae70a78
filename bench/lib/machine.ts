/**
 * Describes the machine and runtime a benchmark ran on, for labelling output and result
 * files. Filled in by the platform: node-machine.ts (Node, Deno, Bun) or
 * ../browser/machine.ts (a browser page).
 */
import type { CpuRecord } from "./cpu.js";

export interface MachineInfo {
  /** "node", "deno" or "bun"; in a page the browser: "chromium", "chrome", "edge", "firefox", "safari". */
  runtime: string;
  runtimeVersion: string;
  cpu: string;
  /** Linux: vendor, family, model and stepping from /proc/cpuinfo (the model name alone can be vague, e.g. "AMD EPYC"). */
  cpuId?: string;
  /** Linux: model name, vendor, family, model, stepping and the SIMD-related flags (cpu.ts). */
  cpuRecord?: CpuRecord;
  cores: number;
  platform: string;
  arch: string;
  totalMemoryGiB: number;
  /** ISO 8601 timestamp of the run. */
  date: string;
  /** Browsers only: navigator.userAgent. */
  userAgent?: string;
  /** Browsers only: whether the page was cross-origin isolated (SharedArrayBuffer, 5 µs timers in Chromium). */
  crossOriginIsolated?: boolean;
}

/** One line, e.g. "AMD EPYC, 2 cores, node 20.20.2, linux x64, 2025-01-31 14:02". */
export function machineLabel(info: MachineInfo): string {
  const when = `${localDate(new Date(info.date))} ${new Date(info.date).toTimeString().slice(0, 5)}`;
  const id = info.cpuId ? ` (${info.cpuId.replace(/ stepping .*/, "")})` : "";
  return `${info.cpu}${id}, ${info.cores} cores, ${info.runtime} ${info.runtimeVersion}, ${info.platform} ${info.arch}, ${when}`;
}

/** YYYY-MM-DD in local time. */
export function localDate(d: Date = new Date()): string {
  const pad = (x: number) => String(x).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}
