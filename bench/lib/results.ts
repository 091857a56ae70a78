/**
 * The result file of a run: its name, <runtime>[-<variant>]-<YYYY-MM-DD>.json (a second run
 * on the same day overwrites it), and its text, `{ machine, ...payload }`. Where the file
 * goes is the platform's business (bench/results/<machine key>/ for Node, Deno and Bun; a
 * POST to the serving process, or a download, for a browser page).
 */
import { cpuKey } from "./cpu.js";
import { localDate, type MachineInfo } from "./machine.js";

/** The folder of a machine's results: cpu.ts's key of its CPU record (or of the model name alone where there is none). */
export function machineKey(machine: MachineInfo): string {
  return cpuKey(machine.cpuRecord ?? { modelName: machine.cpu });
}

export function resultsFileName(machine: MachineInfo, variant?: string): string {
  return `${[machine.runtime, variant, localDate(new Date(machine.date))].filter(Boolean).join("-")}.json`;
}

export function resultsJson(machine: MachineInfo, payload: Record<string, unknown>): string {
  return JSON.stringify({ machine, ...payload }, null, 2) + "\n";
}
