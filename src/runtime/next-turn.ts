/**
 * One turn of the event loop, with its I/O callbacks: what a file read in flight needs to go
 * on while a synchronous training loop holds the thread. Node and Bun: setImmediate (after
 * the poll phase, a few microseconds); elsewhere setTimeout(0).
 */
type Immediate = (callback: () => void) => unknown;

const immediate = (globalThis as { setImmediate?: Immediate }).setImmediate;

export function nextTurn(): Promise<void> {
  return new Promise((resolve) => {
    if (typeof immediate === "function") immediate(resolve);
    else setTimeout(resolve, 0);
  });
}
