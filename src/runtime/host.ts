/**
 * What the command-line tool needs from its host runtime (Node, Deno 2 and Bun all provide
 * Node's `process`): arguments, output streams, whether stdout is a terminal, Ctrl-C, the
 * exit code and the clock. Kept here so that runtime-specific code lives in src/runtime/.
 */

export interface Host {
  args: string[];
  out(text: string): void;
  err(text: string): void;
  /** stdout is an interactive terminal (progress bars) rather than a pipe or file. */
  isTTY: boolean;
  columns: number;
  /** Calls `handler` on each Ctrl-C (SIGINT); returns a function that stops listening. */
  onInterrupt(handler: () => void): () => void;
  setExitCode(code: number): void;
  /** Exits at once (a second Ctrl-C). */
  exitNow(code: number): never;
}

export function nodeHost(): Host {
  const proc = globalThis.process;
  return {
    args: proc.argv.slice(2),
    out: (text) => void proc.stdout.write(text),
    err: (text) => void proc.stderr.write(text),
    isTTY: Boolean(proc.stdout.isTTY),
    columns: proc.stdout.columns || 80,
    onInterrupt(handler) {
      proc.on("SIGINT", handler);
      return () => void proc.off("SIGINT", handler);
    },
    setExitCode(code) {
      proc.exitCode = code;
    },
    exitNow(code): never {
      return proc.exit(code);
    },
  };
}
