/**
 * Training progress on the terminal: a bar with the epoch, ETA, loss and accuracy that
 * redraws in place on a TTY, one plain line per epoch otherwise, nothing in --json mode.
 * Every batch also tells the context that training has begun (see Context.trainingStarted).
 */
import type { Host } from "../runtime/host.js";
import type { Context } from "./context.js";
import type { BatchInfo, EpochRecord } from "../train/loop.js";

export type OutputMode = "tty" | "plain" | "json";

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

function eta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--:--";
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export class Progress {
  private readonly ctx: Context;
  private readonly host: Host;
  private readonly mode: OutputMode;
  private readonly label: string;
  private readonly stepsPerEpoch: number;
  private readonly epochs: number;
  private started = 0;
  private lastDraw = 0;
  private lastEpoch = 0;

  constructor(ctx: Context, label: string, epochs: number, stepsPerEpoch: number) {
    this.ctx = ctx;
    this.host = ctx.host;
    this.mode = ctx.mode;
    this.label = label;
    this.epochs = epochs;
    this.stepsPerEpoch = stepsPerEpoch;
  }

  /** onBatch callback: redraws the bar at most ~10 times a second. */
  batch = (info: BatchInfo): void => {
    this.ctx.markTrainingStarted();
    if (this.mode !== "tty") return;
    const now = performance.now();
    if (this.started === 0) this.started = now;
    if (now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const total = this.epochs * this.stepsPerEpoch;
    const done = Math.min(info.step / total, 1);
    const width = 24;
    const filled = Math.round(done * width);
    const remaining = ((now - this.started) / 1000) * (1 / Math.max(done, 1e-9) - 1);
    const bar = "█".repeat(filled) + "░".repeat(width - filled);
    const line = `${this.label} ${bar} epoch ${info.epoch}/${this.epochs}  ETA ${eta(remaining)}  loss ${info.loss.toFixed(4)}`;
    this.host.out(`\r${line.slice(0, this.host.columns - 1).padEnd(Math.min(this.host.columns - 1, line.length + 2))}`);
  };

  /** onEpoch callback: one line per epoch. */
  epoch = (record: EpochRecord): void => {
    this.lastEpoch = record.epoch;
    if (this.mode === "json") return;
    // A regression run has no accuracy (NaN): its line shows the losses.
    const regression = Number.isNaN(record.accuracy) && (record.valAccuracy === undefined || Number.isNaN(record.valAccuracy));
    const val = record.valAccuracy === undefined ? "" : regression ? `  val loss ${record.valLoss!.toFixed(4)}` : `  val acc ${pct(record.valAccuracy)}`;
    const acc = regression ? "" : `  acc ${pct(record.accuracy)}`;
    const line = `${this.label} epoch ${record.epoch}/${this.epochs}  loss ${record.loss.toFixed(4)}${acc}${val}  ${record.seconds.toFixed(1)} s`;
    this.host.out(this.mode === "tty" ? `\r${line.padEnd(this.host.columns - 1)}\n` : `${line}\n`);
  };

  get epochsDone(): number {
    return this.lastEpoch;
  }
}
