/**
 * Training checkpoints: everything the training loop needs to continue a run so that the
 * final weights are bit-identical to an uninterrupted run — parameters, optimizer state,
 * every PRNG state (shuffling, dropout, augmentation), the epoch's data order and position,
 * the partial epoch sums, the history and the early-stopping state.
 */
import type { EpochRecord } from "./loop.js";
import type { HealthState } from "./health.js";
import type { OptimizerState } from "./optimizer.js";

/** The fields every checkpoint has, whatever its data (see Checkpoint). */
export interface CheckpointCommon {
  format: "distill-wasm-checkpoint";
  version: 1;
  /** Identifies the run (model, data size and the options that shape the computation). */
  fingerprint: string;
  /** The stage of a multi-stage run ("train", or distill's "hint" / "main" / "fine-tune"). */
  stage: string;
  /** 0-based epoch in progress, next batch start in its order, optimizer steps so far. */
  epoch: number;
  position: number;
  steps: number;
  /** Sums over the epoch's batches so far. */
  lossSum: number;
  correct: number;
  seen: number;
  /** Rows seen that have a label (a file written before unlabelled rows existed has none: decodeCheckpoint gives `seen`). */
  labelled: number;
  history: EpochRecord[];
  early: { bestValue: number; bestEpoch: number | null; sinceBest: number };
  /** The model's flat parameter block, and the best epoch's when early stopping keeps one. */
  params: Float32Array;
  best: Float32Array | null;
  optimizers: OptimizerState[];
  /** Extra trained parameters (e.g. hint regressors), one block each. */
  extraParams: Float32Array[];
  /** PRNG states, 16 bytes each, in a fixed order (loop, model, then the loss hooks'). */
  rngs: Uint8Array;
  /** The permutation of the epoch in progress (empty for a streamed dataset, whose place is `stream`). */
  order: Int32Array;
  /** Scalars kept by the loss (e.g. distillation's partial loss sums). */
  hookState: Record<string, number>;
  /** The collapse checks' state (first loss, runs of dead batches, best accuracy); absent in files written before those checks. */
  health?: HealthState;
}

/** A checkpoint of a run over an in-memory Dataset: `order` is the epoch's permutation of the rows. */
export interface DatasetCheckpoint extends CheckpointCommon {
  stream?: undefined;
}

/** A checkpoint of a run over a StreamDataset: its place in the stream (`order` is empty). */
export interface StreamCheckpoint extends CheckpointCommon {
  stream: StreamPosition;
}

/**
 * A training checkpoint, one of two kinds told apart by `stream`: test `c.stream !==
 * undefined` (or `"stream" in c`) before reading the stream's place.
 */
export type Checkpoint = DatasetCheckpoint | StreamCheckpoint;

/** Where a run over a StreamDataset stands: the epoch's block order, the block in progress and its row order. */
export interface StreamPosition {
  /** The epoch's order of blocks (a shard stream's; empty for an iterator's, which come as yielded). */
  blockOrder: Int32Array;
  /** Position in the epoch's block order of the block in progress, and rows of it already trained on. */
  block: number;
  offset: number;
  /** That block's row order. */
  rowOrder: Int32Array;
}

/** Where checkpoints go: every `every` optimizer steps, `save` receives one (await-ed). */
export interface CheckpointOptions {
  every: number;
  save: (checkpoint: Checkpoint) => void | Promise<void>;
}
