/** Describes the machine and runtime a benchmark ran on, for labelling output and result files. */
import { readFileSync } from "node:fs";
import os from "node:os";

export interface MachineInfo {
  /** "node", "deno" or "bun". */
  runtime: string;
  runtimeVersion: string;
  cpu: string;
  /** Linux: vendor, family, model and stepping from /proc/cpuinfo (the model name alone can be vague, e.g. "AMD EPYC"). */
  cpuId?: string;
  cores: number;
  platform: string;
  arch: string;
  totalMemoryGiB: number;
  /** ISO 8601 timestamp of the run. */
  date: string;
}

declare const Deno: { version: { deno: string } } | undefined;

function detectRuntime(): { runtime: string; version: string } {
  const versions = process.versions as NodeJS.ProcessVersions & { bun?: string };
  if (versions.bun !== undefined) return { runtime: "bun", version: versions.bun };
  if (typeof Deno !== "undefined" && Deno !== undefined) return { runtime: "deno", version: Deno.version.deno };
  return { runtime: "node", version: process.version.replace(/^v/, "") };
}

/** "AuthenticAMD family 26 model 2 stepping 1", or undefined off Linux. */
function cpuId(): string | undefined {
  try {
    const text = readFileSync("/proc/cpuinfo", "utf8");
    const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, "m").exec(text)?.[1]?.trim();
    const vendor = field("vendor_id");
    const family = field("cpu family");
    if (vendor === undefined || family === undefined) return undefined;
    return `${vendor} family ${family} model ${field("model") ?? "?"} stepping ${field("stepping") ?? "?"}`;
  } catch {
    return undefined;
  }
}

export function machineInfo(): MachineInfo {
  const { runtime, version } = detectRuntime();
  const cpus = os.cpus();
  const id = cpuId();
  return {
    runtime,
    runtimeVersion: version,
    cpu: cpus[0]?.model.trim() ?? "unknown",
    ...(id !== undefined ? { cpuId: id } : {}),
    cores: cpus.length,
    platform: os.platform(),
    arch: os.arch(),
    totalMemoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    date: new Date().toISOString(),
  };
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
