/**
 * The result file of a run: its name, <runtime>[-<variant>]-<YYYY-MM-DD>.json (a second run
 * on the same day overwrites it), and its text, `{ machine, ...payload }`. Where the file
 * goes is the platform's business (bench/results/ for Node, Deno and Bun; a POST to the
 * serving process, or a download, for a browser page).
 */
import { localDate, type MachineInfo } from "./machine.js";

export function resultsFileName(machine: MachineInfo, variant?: string): string {
  return `${[machine.runtime, variant, localDate(new Date(machine.date))].filter(Boolean).join("-")}.json`;
}

export function resultsJson(machine: MachineInfo, payload: Record<string, unknown>): string {
  return JSON.stringify({ machine, ...payload }, null, 2) + "\n";
}
