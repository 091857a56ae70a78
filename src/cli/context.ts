/**
 * What every command receives: the host, the output mode, Ctrl-C / SIGTERM as an
 * AbortSignal, whether training has begun, printing helpers.
 */
import type { Evaluation } from "../metrics/evaluate.js";
import type { Host, StopSignal } from "../runtime/host.js";
import type { OutputMode } from "./progress.js";

/**
 * How a run stopped by a signal ends: 128 + the signal's number, the code a shell reports
 * for a process that signal killed (130 for SIGINT, 143 for SIGTERM), so that scripts and
 * supervisors can tell "stopped" from "done" (0) and "failed" (1) and see which signal it was.
 */
const STOPPED: Record<StopSignal, { code: number; by: string }> = {
  SIGINT: { code: 130, by: "Ctrl-C" },
  SIGTERM: { code: 143, by: "SIGTERM" },
};

export interface Context {
  host: Host;
  mode: OutputMode;
  /** Aborted by the first Ctrl-C or SIGTERM (its reason is the signal's name): training stops after the current batch. */
  signal: AbortSignal;
  /** The exit code and the words for a run stopped by `signal` (see STOPPED). */
  stopped(): { code: number; by: string };
  /**
   * Whether a training batch has run. Until then an OptionError comes from checking the
   * options the flags made, and main() reports it as a usage mistake (exit 2).
   */
  readonly trainingStarted: boolean;
  /** Called by every training batch (Progress does it). */
  markTrainingStarted(): void;
  /** A line for people (suppressed in --json mode). */
  say(line: string): void;
  /** The one JSON document of --json mode. */
  json(document: unknown): void;
}

export function makeContext(host: Host, json: boolean, signal: AbortSignal): Context {
  const mode: OutputMode = json ? "json" : host.isTTY ? "tty" : "plain";
  let started = false;
  return {
    host,
    mode,
    signal,
    stopped: () => STOPPED[signal.reason as StopSignal] ?? STOPPED.SIGINT,
    get trainingStarted() {
      return started;
    },
    markTrainingStarted: () => {
      started = true;
    },
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
