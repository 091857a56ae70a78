/**
 * What the command-line tool needs from its host runtime (Node, Deno 2 and Bun all provide
 * Node's `process`): arguments, output streams, whether stdout is a terminal, the number
 * of cores, Ctrl-C and SIGTERM, the exit code. Kept here so that runtime-specific code
 * lives in src/runtime/.
 *
 * Output that cannot be delivered does not stop the work: when stdout's reader goes away
 * (`distill-wasm train … | head -1` closes the pipe: EPIPE) or the stream fails, further
 * output is dropped and the command goes on to finish and save its model, with its usual
 * exit code. The same for stderr. Without this, Node raises the stream's error as an
 * uncaught exception and the process dies before anything is saved.
 */
import { coreCount } from "./features.js";

/** The signals that stop a run after the current batch (a second one quits at once). */
export type StopSignal = "SIGINT" | "SIGTERM";
export const STOP_SIGNALS: readonly StopSignal[] = ["SIGINT", "SIGTERM"];

export interface Host {
  args: string[];
  /** Writes to stdout; dropped once stdout is closed or has failed. */
  out(text: string): void;
  /** Writes to stderr; dropped once stderr is closed or has failed. */
  err(text: string): void;
  /** stdout is an interactive terminal (progress bars) rather than a pipe or file. */
  isTTY: boolean;
  columns: number;
  /** Logical cores this process may use (for warning about more threads than that). */
  cores: number;
  /** Calls `handler` on each Ctrl-C (SIGINT) and SIGTERM; returns a function that stops listening. */
  onInterrupt(handler: (signal: StopSignal) => void): () => void;
  setExitCode(code: number): void;
  /** Exits at once (a second Ctrl-C or SIGTERM). */
  exitNow(code: number): never;
}

type Stream = NodeJS.WriteStream;

/** A write function for `stream` that stops writing, silently, after the stream's first error. */
function guardedWriter(stream: Stream): (text: string) => void {
  let open = true;
  // Listening is what keeps an EPIPE from becoming an uncaught exception; later errors of
  // the same stream (writes already queued) land here too and change nothing.
  stream.on("error", () => {
    open = false;
  });
  return (text) => {
    if (!open) return;
    try {
      stream.write(text);
    } catch {
      open = false; // runtimes that throw on a closed pipe instead of emitting "error"
    }
  };
}

export async function nodeHost(): Promise<Host> {
  const proc = globalThis.process;
  return {
    args: proc.argv.slice(2),
    out: guardedWriter(proc.stdout),
    err: guardedWriter(proc.stderr),
    isTTY: Boolean(proc.stdout.isTTY),
    columns: proc.stdout.columns || 80,
    cores: await coreCount(),
    onInterrupt(handler) {
      const listeners = STOP_SIGNALS.map((signal) => [signal, () => handler(signal)] as const);
      for (const [signal, listener] of listeners) proc.on(signal, listener);
      return () => {
        for (const [signal, listener] of listeners) proc.off(signal, listener);
      };
    },
    setExitCode(code) {
      proc.exitCode = code;
    },
    exitNow(code): never {
      return proc.exit(code);
    },
  };
}
