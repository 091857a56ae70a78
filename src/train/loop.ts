/**
 * The minibatch training loop shared by `train` and `distill`: its options, the hooks a
 * caller plugs in (the loss, augmentation, extra parameters), and the epoch driver over a
 * Trainer (trainer.ts), which holds the run's state and does the work of each step:
 * seeded shuffling, batch gathering in wasm, forward, the loss, backward, gradient
 * clipping, optimizer step with a learning-rate schedule, validation, early stopping with
 * best-weights restore, callbacks, AbortSignal, checkpoints and divergence detection.
 */
import type { Dataset } from "../data/dataset.js";
import type { StreamDataset } from "../data/stream/stream-dataset.js";
import type { Sequential } from "../nn/sequential.js";
import type { Augment } from "./augment.js";
import type { CheckpointOptions, Checkpoint } from "./checkpoint.js";
import type { OptimizerSpec } from "./optimizer.js";
import type { DivergenceOptions } from "./health.js";
import type { ScheduleOptions } from "./schedule.js";
import type { ClassWeights } from "./class-weights.js";
import { EPOCH_DONE, Trainer } from "./trainer.js";

export { resolveRun, type ResolvedRun } from "./run.js";

const isThenable = (v: unknown): v is PromiseLike<unknown> => typeof (v as PromiseLike<unknown> | undefined)?.then === "function";

export interface EarlyStopping {
  /** Epochs without improvement before stopping. */
  patience: number;
  /** Validation metric to watch (default "loss"). */
  monitor?: "loss" | "accuracy";
  /** Smallest change that counts as an improvement (default 0). */
  minDelta?: number;
  /** Put back the best epoch's weights when stopping (default true). */
  restoreBest?: boolean;
}

export interface EpochRecord {
  epoch: number;
  /** Mean training loss over the epoch's batches. */
  loss: number;
  /** Training accuracy over the epoch's labelled rows (measured before each update; NaN when none had a label, and for regression and multi-label data). */
  accuracy: number;
  valLoss?: number;
  valAccuracy?: number;
  /** Learning rate of the epoch's last step. */
  lr: number;
  /** Optimizer steps taken so far in the run. */
  steps: number;
  seconds: number;
  /** Mean of extra loss parts (e.g. hard / soft / hint for distillation). */
  parts?: Record<string, number>;
}

export interface BatchInfo {
  epoch: number;
  step: number;
  loss: number;
  lr: number;
}

export interface TrainOptions extends ScheduleOptions {
  /**
   * The hard loss: "cross-entropy" on class labels, "mse" (mean over all target values,
   * PyTorch's mse_loss) on a regression dataset's targets, or "binary-cross-entropy" (mean
   * over all labels of a sigmoid each, PyTorch's BCEWithLogitsLoss) on a multi-label
   * dataset. Default: the one the data's task needs.
   */
  loss?: "cross-entropy" | "mse" | "binary-cross-entropy";
  /**
   * Weights of the classes in the hard cross-entropy, per labelled row (imbalanced labels):
   * one weight ≥ 0 per output, or "balanced" (n / (classes · n_c) from the training rows).
   * The validation loss stays unweighted. See train/class-weights.ts.
   */
  classWeights?: ClassWeights;
  /** Passes over the data (default 10 unless `steps` is given). */
  epochs?: number;
  /** Stop after this many optimizer steps (a step budget). */
  steps?: number;
  batchSize?: number;
  /** Default: SGD with momentum 0.9 and lr 0.05. */
  optimizer?: OptimizerSpec;
  /** Overrides the optimizer's learning rate. */
  lr?: number;
  /** Clip gradients to this global L2 norm. */
  clipNorm?: number;
  /** Max-norm constraint: after each step, every hidden unit's incoming weights are scaled to an L2 norm ≤ maxNorm. */
  maxNorm?: number;
  /** Held-out data: a Dataset, or a fraction of `data` split off (seeded, stratified). */
  validation?: Dataset | number;
  earlyStopping?: EarlyStopping;
  /** Seed for shuffling, splitting and augmentation (default 0). */
  seed?: number;
  /** Called after every epoch; return false to stop. */
  onEpoch?: (record: EpochRecord) => void | boolean | Promise<void | boolean>;
  onBatch?: (info: BatchInfo) => void;
  /** Aborting stops training after the current batch. */
  signal?: AbortSignal;
  /** Augmentation of each training batch (built-in shifts / noise, or a function). */
  augment?: Augment;
  /** Save a checkpoint every N optimizer steps. */
  checkpoint?: CheckpointOptions;
  /** Continue from a checkpoint of the same run (same model, data and options): bit-identical to never stopping. */
  resume?: Checkpoint;
  /**
   * Collapse checks (exploding loss, dead ReLU layers, constant outputs, accuracy back at
   * chance), which stop training with a DivergenceError: tune them, or `false` to keep
   * only the non-finite loss check.
   */
  divergence?: DivergenceOptions | false;
}

export type StopReason = "completed" | "step-budget" | "early-stopping" | "aborted" | "callback";

export interface TrainResult {
  history: EpochRecord[];
  stopReason: StopReason;
  steps: number;
  /** Epoch whose weights the model holds when early stopping restored them. */
  bestEpoch?: number;
}

/** What a batch's loss computation sees: pointers into wasm memory, and where the loss goes. */
export interface BatchContext {
  /** (rows, features) inputs of the batch (after augmentation) */
  x: number;
  /** (rows) i32 labels (regression, multi-label: 0, or MISSING_LABEL on a row without targets / labels) */
  y: number;
  /** (rows, outputs) f32 regression targets or multi-label 0/1 labels of the batch (0 for classification) */
  targets: number;
  /** (rows, classes) f32 teacher logits that came with the batch's rows (a StreamDataset carrying them), else 0 */
  teacher: number;
  rows: number;
  /** (rows, classes) model outputs of this batch */
  logits: number;
  /** (rows, classes): the loss writes ∂loss/∂logits here */
  grad: number;
  /** i32 permutation of the data and this batch's first position in it */
  order: number;
  first: number;
  epoch: number;
  /** The loss hook writes the batch's loss here (a field, so that the value is not boxed). */
  loss: number;
}

/** The parts a caller plugs into the loop. */
export interface LossHooks {
  /** Called at the start of each epoch (0-based), e.g. to update temperature schedules. */
  epochStart?(epoch: number): void;
  /** Rewrites the batch inputs in place before the forward pass (augmentation). */
  augment?(x: number, rows: number): void;
  /**
   * Computes the loss into ctx.loss and writes ∂loss/∂logits into ctx.grad; returns a
   * promise (resolved once ctx.loss is set) only when it must wait for something.
   */
  loss(ctx: BatchContext): void | Promise<void>;
  /** Extra gradients to add to layer outputs during backward (layer index → pointer). */
  inject?: ReadonlyMap<number, number>;
  /** Extra parameter blocks that take part in clipping and stepping: [params, grads, length]. */
  extraParameters?: [number, number, number][];
  /** Means of extra loss parts accumulated over the epoch, reset by the loop each epoch. */
  takeParts?(): Record<string, number> | undefined;
  /** PRNG states (16-byte pointers) the hooks draw from, saved in checkpoints. */
  rngs?: number[];
  /** What else defines the run's bits (distillation: temperature, α, soft loss, teacher), for checkpoints. */
  fingerprint?(): Record<string, unknown>;
  /** The softening temperature in use, for the remedies a DivergenceError names. */
  temperature?(): number;
  /** Scalars the hooks keep between batches (e.g. partial loss sums), saved in checkpoints. */
  state?: { save(): Record<string, number>; load(values: Record<string, number>): void };
}

/**
 * Runs the loop: a Trainer (trainer.ts) driven epoch by epoch. `validation` is already
 * split off; the caller owns `data` validation. Throws DivergenceError (after restoring
 * the last weights with a finite loss) when the loss becomes NaN or infinite.
 */
export async function runLoop(
  model: Sequential,
  train: Dataset | StreamDataset,
  validation: Dataset | undefined,
  options: TrainOptions,
  hooks: LossHooks,
  stage = "train",
): Promise<TrainResult> {
  const trainer = new Trainer(model, train, validation, options, hooks, stage);
  try {
    trainer.prepare();
    for (let epoch = trainer.startEpoch; epoch < trainer.run.epochs && trainer.stopReason === "completed"; epoch++) {
      const started = performance.now();
      trainer.prepareEpoch(epoch);
      for (let wait = trainer.runSteps(epoch); wait !== EPOCH_DONE; wait = trainer.runSteps(epoch)) await wait;
      const record = trainer.closeEpoch(epoch, started);
      if (options.onEpoch) {
        // Awaited only when it returns a promise: awaiting a plain value would allocate one.
        const answer = options.onEpoch(record);
        if ((isThenable(answer) ? await answer : answer) === false && trainer.stopReason === "completed") trainer.stopReason = "callback";
      }
      trainer.checkBudget();
    }
    return trainer.finish();
  } finally {
    trainer.dispose();
  }
}
