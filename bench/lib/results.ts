/** Writes a suite's results as JSON under bench/results/. */
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { localDate, type MachineInfo } from "./machine.js";

/** bench/results, found relative to this compiled file (bench/dist/lib/results.js). */
export const RESULTS_DIR = fileURLToPath(new URL("../../results/", import.meta.url));

/**
 * Writes `{ machine, ...payload }` to bench/results/<runtime>[-<variant>]-<YYYY-MM-DD>.json
 * (overwriting a file of the same day) and returns its path.
 */
export function writeResults(machine: MachineInfo, payload: Record<string, unknown>, variant?: string): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const name = [machine.runtime, variant, localDate(new Date(machine.date))].filter(Boolean).join("-");
  const file = path.join(RESULTS_DIR, `${name}.json`);
  writeFileSync(file, JSON.stringify({ machine, ...payload }, null, 2) + "\n");
  return file;
}
