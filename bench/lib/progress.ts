/**
 * Progress lines ("  check …", per-task medians) go to a sink the platform installs:
 * stderr in Node, Deno and Bun, the console (and the page's status line) in a browser.
 * A module-level sink rather than a context field because timing.ts reports from deep
 * inside measure(), which the suites call without a context.
 */
let sink: (text: string) => void = (text) => console.error(text.replace(/\n$/, ""));

export function setProgressSink(write: (text: string) => void): void {
  sink = write;
}

/** Writes `text` as is (callers end lines with "\n", as with process.stderr.write). */
export function progress(text: string): void {
  sink(text);
}
