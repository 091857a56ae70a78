/**
 * When the training loop yields to the event loop (with an AbortSignal, so that a Ctrl-C
 * handler or a UI can run at all), about every YIELD_EVERY_MS, without reading the clock at
 * every step: a clock read allocates.
 */

/** With an AbortSignal, the loop yields to the event loop at least this often (ms). */
const YIELD_EVERY_MS = 50;
/** ...and reads the clock about this often (ms): a clock read allocates, so not every step. */
const CLOCK_EVERY_MS = 5;

/**
 * The number of steps between clock reads doubles while reads come less than
 * CLOCK_EVERY_MS / 2 apart and halves when they come more than 2·CLOCK_EVERY_MS apart.
 */
export class YieldClock {
  private lastYield = performance.now();
  private lastRead = this.lastYield;
  private every = 1;
  private countdown = 1;

  /** Called once per step: true when the loop should yield now. */
  due(): boolean {
    if (--this.countdown > 0) return false;
    const now = performance.now();
    const elapsed = now - this.lastRead;
    this.lastRead = now;
    if (elapsed < CLOCK_EVERY_MS / 2) this.every *= 2;
    else if (elapsed > 2 * CLOCK_EVERY_MS && this.every > 1) this.every = Math.floor(this.every / 2);
    this.countdown = this.every;
    return now - this.lastYield > YIELD_EVERY_MS;
  }

  /** A promise that resolves once the event loop has run (a Ctrl-C handler, a UI). */
  yield(): Promise<void> {
    return new Promise((resolve) =>
      setTimeout(() => {
        this.lastYield = this.lastRead = performance.now();
        resolve();
      }, 0),
    );
  }
}
