/** What every command receives: the host, the output mode, Ctrl-C as an AbortSignal, printing helpers. */
import type { Evaluation } from "../metrics/evaluate.js";
import type { Host } from "../runtime/host.js";
import type { OutputMode } from "./progress.js";

export interface Context {
  host: Host;
  mode: OutputMode;
  /** Aborted by the first Ctrl-C: training stops after the current batch. */
  signal: AbortSignal;
  /** A line for people (suppressed in --json mode). */
  say(line: string): void;
  /** The one JSON document of --json mode. */
  json(document: unknown): void;
}

export function makeContext(host: Host, json: boolean, signal: AbortSignal): Context {
  const mode: OutputMode = json ? "json" : host.isTTY ? "tty" : "plain";
  return {
    host,
    mode,
    signal,
    say: (line) => {
      if (mode !== "json") host.out(`${line}\n`);
    },
    json: (document) => host.out(`${JSON.stringify(document, null, 2)}\n`),
  };
}

export const percent = (x: number | undefined) => (x === undefined ? "—" : `${(100 * x).toFixed(2)}%`);

/** Test errors in all and per true class (from the confusion matrix), for --json output. */
export function testErrors(e: Evaluation | undefined): { errors?: number; errorsByClass?: number[] } {
  if (!e) return {};
  const byClass = Array.from({ length: e.classes }, (_, c) => {
    let wrong = 0;
    for (let j = 0; j < e.classes; j++) if (j !== c) wrong += e.confusion[c * e.classes + j]!;
    return wrong;
  });
  return { errors: byClass.reduce((a, b) => a + b, 0), errorsByClass: byClass };
}

/** " (N errors)" after a test accuracy. */
export const errorsText = (e: Evaluation | undefined) => (e ? ` (${testErrors(e).errors} errors)` : "");
