/**
 * One turn of the event loop, with its I/O callbacks: what a file read in flight needs to go
 * on while a synchronous training loop holds the thread.
 * - Node and Bun: setImmediate (after the poll phase, a few microseconds).
 * - Browsers and Deno: a message through a fresh MessageChannel, a task of its own that runs
 *   after the tasks already queued (a read's completion among them). Not setTimeout(0): a
 *   training loop calls this once per batch from inside the previous turn's callback, so its
 *   timers nest, and nested timers are clamped to 4 ms (HTML's timer rule, Deno's too).
 * - Anything else: setTimeout(0).
 */
type Immediate = (callback: () => void) => unknown;

const immediate = (globalThis as { setImmediate?: Immediate }).setImmediate;

/** A turn by message: both ports are closed once it arrives, so none keeps a process alive. */
export function messageTurn(): Promise<void> {
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      port1.close();
      port2.close();
      resolve();
    };
    port2.postMessage(undefined);
  });
}

export function nextTurn(): Promise<void> {
  if (typeof immediate === "function") return new Promise((resolve) => void immediate(resolve));
  if (typeof MessageChannel === "function") return messageTurn();
  return new Promise((resolve) => void setTimeout(resolve, 0));
}
