/** The machine as Node, Deno and Bun see it: node:os and, on Linux, /proc/cpuinfo. */
import { readFileSync } from "node:fs";
import os from "node:os";
import { parseCpuinfo, type CpuRecord } from "./cpu.js";
import type { MachineInfo } from "./machine.js";

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

/** The record of /proc/cpuinfo's first processor, or undefined off Linux. */
export function cpuRecord(): CpuRecord | undefined {
  try {
    return parseCpuinfo(readFileSync("/proc/cpuinfo", "utf8"));
  } catch {
    return undefined;
  }
}

export function machineInfo(): MachineInfo {
  const { runtime, version } = detectRuntime();
  const cpus = os.cpus();
  const id = cpuId();
  const record = cpuRecord();
  return {
    runtime,
    runtimeVersion: version,
    cpu: cpus[0]?.model.trim() ?? "unknown",
    ...(id !== undefined ? { cpuId: id } : {}),
    ...(record !== undefined ? { cpuRecord: record } : {}),
    cores: cpus.length,
    platform: os.platform(),
    arch: os.arch(),
    totalMemoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    date: new Date().toISOString(),
  };
}
