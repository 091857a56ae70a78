/**
 * Where a training run's batches come from (the Trainer's "feed"): an in-memory Dataset
 * copied into wasm once and gathered by a seeded permutation (here), or a StreamDataset
 * read a block at a time (stream-feed.ts). A feed writes each batch's rows into the run's
 * batch buffers and carries its position in checkpoints.
 */
import type { Dataset } from "../data/dataset.js";
import type { Engine } from "../engine.js";
import { copyToWasm, type WasmData } from "../data/wasm-data.js";
import type { Checkpoint } from "./checkpoint.js";
import { contentHash } from "./fingerprint.js";

/** The batch buffers a feed fills: x (batch, features), y (batch) i32, targets (batch, targetWidth), teacher logits (batch, classes) or 0. */
export interface BatchBuffers {
  x: number;
  y: number;
  targets: number;
  teacher: number;
}

export interface BatchFeed {
  /** Rows per epoch. */
  readonly rows: number;
  /** Draws the epoch's order (not when resuming the checkpoint's epoch, whose order load() put back). */
  epochStart(epoch: number, resuming: boolean): void;
  /**
   * Writes the next `rows` rows of the epoch (from position `first`) into the batch buffers,
   * synchronously, or returns a promise when it must wait for data first; called again
   * after the promise settles, it continues where it stopped.
   */
  fill(out: BatchBuffers, first: number, rows: number): void | Promise<void>;
  /** The position state a checkpoint keeps: the in-memory permutation, or a stream's place. */
  save(): Pick<Checkpoint, "order" | "stream">;
  load(c: Checkpoint): void;
  /** A hash of what the rows hold, for the run's fingerprint. */
  dataHash(): string;
  dispose(): void;
}

/** A Dataset copied into wasm memory, gathered by a seeded permutation drawn every epoch. */
export class MemoryFeed implements BatchFeed {
  readonly rows: number;
  private readonly data: WasmData;
  private readonly order: number;
  private readonly featureBytes: number;
  private readonly targetBytes: number;

  constructor(
    private readonly engine: Engine,
    private readonly train: Dataset,
    private readonly validation: Dataset | undefined,
    /** The shuffling PRNG (16-byte state). */
    private readonly rng: number,
    owned: number[],
  ) {
    this.rows = train.length;
    this.data = copyToWasm(engine, train, owned);
    this.order = engine.allocOwned(train.length * 4);
    owned.push(this.order);
    this.featureBytes = train.features * 4;
    this.targetBytes = train.targetWidth * 4;
  }

  epochStart(_epoch: number, resuming: boolean): void {
    if (!resuming) this.engine.kernels.rng_permutation(this.rng, this.order, this.rows);
  }

  fill(out: BatchBuffers, first: number, rows: number): void {
    const k = this.engine.kernels;
    const data = this.data;
    k.gather_rows(out.x, data.x, this.order, first, rows, this.featureBytes);
    k.gather_rows(out.y, data.y, this.order, first, rows, 4);
    if (data.t) k.gather_rows(out.targets, data.t, this.order, first, rows, this.targetBytes);
  }

  /** The permutation and the batch's first position in it (what a cached teacher gathers by). */
  get orderPtr(): number {
    return this.order;
  }

  save(): Pick<Checkpoint, "order"> {
    return { order: this.engine.i32(this.order, this.rows).slice() };
  }

  load(c: Checkpoint): void {
    this.engine.i32(this.order, this.rows).set(c.order);
  }

  dataHash(): string {
    const { train, validation } = this;
    return contentHash(
      train.x,
      train.y,
      ...(validation ? [validation.x, validation.y] : []),
      ...(train.targets ? [train.targets] : []),
      ...(validation?.targets ? [validation.targets] : []),
    );
  }

  dispose(): void {}
}
