/**
 * The minibatch training loop shared by `train` and `distill`: seeded shuffling, batch
 * gathering in wasm, forward, a pluggable loss, backward, gradient clipping, optimizer
 * step with a learning-rate schedule, validation, early stopping with best-weights
 * restore, callbacks, AbortSignal, and divergence detection.
 *
 * Per step nothing is allocated on the JS heap beyond the optional callbacks' records:
 * every buffer is allocated once per run and freed at the end, the steps of an epoch run
 * in a synchronous function (the async loop only awaits when something is pending), and
 * floating-point values that change every step live in object fields, never in
 * closure-captured variables or return values of calls V8 may not inline (either would
 * box each new value in a heap-allocated number).
 */
import type { Dataset } from "../data/dataset.js";
import type { Engine } from "../engine.js";
import { OptionError } from "../errors.js";
import { copyToWasm } from "../data/wasm-data.js";
import type { Sequential } from "../nn/sequential.js";
import type { ParameterSnapshot } from "../nn/snapshot.js";
import type { Augment } from "./augment.js";
import type { Checkpoint, CheckpointOptions } from "./checkpoint.js";
import { Optimizer, resolveOptimizer, type OptimizerSpec } from "./optimizer.js";
import { checkCheckpoint } from "./checkpoint-check.js";
import { contentHash } from "./fingerprint.js";
import { evaluateInWasm } from "./evaluate-batches.js";
import { HealthMonitor, type DivergenceOptions } from "./health.js";
import { learningRate, type ScheduleOptions } from "./schedule.js";
import type { ClassWeights } from "./class-weights.js";

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

/** Salt of the shuffling PRNG's seed: "shuf". */
const SHUFFLE_STREAM = 0x73687566;

/** With an AbortSignal, the loop yields to the event loop at least this often (ms). */
const YIELD_EVERY_MS = 50;
/** ...and reads the clock about this often (ms): a clock read allocates, so not every step. */
const CLOCK_EVERY_MS = 5;

/**
 * When to yield to the event loop, about every YIELD_EVERY_MS, without reading the clock
 * at every step: the number of steps between clock reads doubles while reads come less
 * than CLOCK_EVERY_MS / 2 apart and halves when they come more than 2·CLOCK_EVERY_MS apart.
 */
class YieldClock {
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

/** runSteps' answer when the epoch's steps are done or the loop stopped. */
const EPOCH_DONE = Symbol("epoch done");

/** Indices of the running sums of an epoch (runLoop's `sums`). */
const LOSS_SUM = 0;
const CORRECT = 1;
const SEEN = 2;
/** rows seen that have a label (training accuracy is over these; distillation's transfer rows have none) */
const LABELLED = 3;

/** Which part of the current step runSteps continues with (after an await). */
const START = 0;
const FINISH = 1;
const CHECKS = 2;
const ABORT_CHECK = 3;

const isThenable = (v: unknown): v is PromiseLike<unknown> => typeof (v as PromiseLike<unknown> | undefined)?.then === "function";

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

export interface ResolvedRun {
  epochs: number;
  maxSteps: number;
  batchSize: number;
  seed: number;
}

/** The optimizer named by the options (default: SGD, momentum 0.9, lr 0.05), with `lr` applied. */
function optimizerWithLr(options: TrainOptions): OptimizerSpec {
  const spec = options.optimizer ?? { type: "sgd", momentum: 0.9, lr: 0.05 };
  if (options.lr === undefined) return spec;
  const expanded = typeof spec === "string" ? (spec === "momentum" ? { type: "sgd", momentum: 0.9 } : { type: spec }) : spec;
  return { ...expanded, lr: options.lr } as OptimizerSpec;
}

/**
 * The run's numbers from options already checked by their schema (train/options.ts),
 * and the checks that need the data: the batch against the rows, early stopping against
 * the validation data.
 */
export function resolveRun(options: TrainOptions, dataLength: number, task: Dataset["task"] = "classification"): ResolvedRun {
  const batchSize = options.batchSize ?? 64;
  if (batchSize > dataLength) {
    throw new OptionError(`batchSize ${batchSize} is larger than the training data (${dataLength} samples); use a batch size ≤ ${dataLength}`);
  }
  const maxSteps = options.steps ?? Infinity;
  const epochs = options.epochs ?? (options.steps === undefined ? 10 : Infinity);
  if (options.earlyStopping && options.validation === undefined) {
    throw new OptionError("earlyStopping needs validation data: pass validation (a Dataset or a fraction)");
  }
  if (task !== "classification" && options.earlyStopping?.monitor === "accuracy") {
    throw new OptionError(
      `earlyStopping.monitor "accuracy" needs classification data; a ${task === "multilabel" ? "multi-label" : "regression"} run monitors the validation loss`,
    );
  }
  resolveOptimizer(optimizerWithLr(options)); // lr and the optimizer's own numbers together
  return { epochs, maxSteps, batchSize, seed: options.seed ?? 0 };
}

/** The top-level fields in which two run fingerprints (JSON) differ, named for a message. */
function fingerprintDifference(saved: string, now: string): string {
  try {
    const a = JSON.parse(saved) as Record<string, unknown>;
    const b = JSON.parse(now) as Record<string, unknown>;
    const names = { data: "the data's content", loss: "the loss's settings (temperature, α, soft loss, teacher, hints)", specs: "the architecture" } as Record<
      string,
      string
    >;
    const differ = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((key) => JSON.stringify(a[key]) !== JSON.stringify(b[key]));
    return differ.map((key) => names[key] ?? key).join(", ") || "its record";
  } catch {
    return "its record";
  }
}

function allFinite(values: Float32Array): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) return false;
  return true;
}

/**
 * Runs the loop. `validation` is already split off; the caller owns `data` validation.
 * Throws DivergenceError (after restoring the last weights with a finite loss) when the
 * loss becomes NaN or infinite.
 */
export async function runLoop(
  model: Sequential,
  train: Dataset,
  validation: Dataset | undefined,
  options: TrainOptions,
  hooks: LossHooks,
  stage = "train",
): Promise<TrainResult> {
  const run = resolveRun(options, train.length, train.task);
  model.beginTraining(stage === "train" ? "train" : "distill");
  const engine = model.engine;
  const k = engine.kernels;
  const withLr = optimizerWithLr(options);
  const owned: number[] = [];
  const optimizers: Optimizer[] = [];
  const alloc = (bytes: number) => {
    const p = engine.allocOwned(bytes);
    owned.push(p);
    return p;
  };
  const snapshots: ParameterSnapshot[] = [];
  const keep = (s: ParameterSnapshot) => {
    snapshots.push(s);
    return s;
  };
  try {
    const optimizer = new Optimizer(engine, withLr, model.blockLength);
    optimizers.push(optimizer);
    const extra = (hooks.extraParameters ?? []).map(([params, grads, length]) => {
      const o = new Optimizer(engine, withLr, length);
      optimizers.push(o);
      return { params, grads, length, optimizer: o };
    });
    const data = copyToWasm(engine, train, owned);
    const val = validation ? copyToWasm(engine, validation, owned) : undefined;
    model.reserve(run.batchSize);
    const classes = model.outputs;
    const features = model.inputs;
    const batchX = alloc(run.batchSize * features * 4);
    const batchY = alloc(run.batchSize * 4);
    // Regression and multi-label: the targets ride along with their rows, gathered by the same order.
    const withTargets = train.targets !== undefined;
    const targetBytes = train.targetWidth * 4;
    const batchT = withTargets ? alloc(run.batchSize * targetBytes) : 0;
    const grad = alloc(run.batchSize * classes * 4);
    const order = alloc(train.length * 4);
    const rng = alloc(16);
    // A stream of its own ("shuf" in the high word), so that a model and a run given the same
    // seed do not draw their weights and their data order from the same numbers.
    k.rng_seed(rng, run.seed >>> 0, (Math.floor(run.seed / 2 ** 32) ^ SHUFFLE_STREAM) >>> 0);
    /** The weights before the last step: what a non-finite or exploding step restores. */
    const snapshot = keep(model.snapshot());
    /** The weights at the end of the last healthy epoch (at first, the initial ones): what a collapse restores. */
    const lastGood = options.divergence === false ? undefined : keep(model.snapshot());
    const best = options.earlyStopping ? keep(model.snapshot()) : undefined;
    const clipList = alloc(8 * (1 + extra.length));
    const list = engine.i32(clipList, 2 * (1 + extra.length));
    list[0] = model.gradsPtr;
    list[1] = model.blockLength;
    extra.forEach((e, i) => {
      list[2 + 2 * i] = e.grads;
      list[3 + 2 * i] = e.length;
    });

    const batchesPerEpoch = Math.ceil(train.length / run.batchSize);
    // No chance level for regression or multi-label data (no accuracy): the accuracy check stays off there.
    const health = new HealthMonitor(model, options.divergence, withTargets ? [] : train.classCounts(), batchesPerEpoch, {
      lr: optimizer.baseLr,
      temperature: hooks.temperature,
      clipNorm: options.clipNorm,
    });
    const totalSteps = Math.min(run.maxSteps, run.epochs * batchesPerEpoch);
    const baseLr = optimizer.baseLr;
    const rngs = [rng, model.rngPtr, ...(hooks.rngs ?? [])];
    // Computed only for checkpoints (it hashes the data): what identifies the run.
    const fingerprint = () =>
      JSON.stringify({
        stage,
        specs: model.specs,
        rows: train.length,
        validation: validation?.length ?? 0,
        features,
        classes,
        epochs: run.epochs,
        steps: run.maxSteps,
        batchSize: run.batchSize,
        seed: run.seed,
        optimizer: withLr,
        schedule: options.schedule ?? null,
        warmup: options.warmupSteps ?? 0,
        clipNorm: options.clipNorm ?? null,
        ...(options.maxNorm !== undefined ? { maxNorm: options.maxNorm } : {}),
        extra: extra.map((e) => e.length),
        // What the rows hold, not only how many; the augmentation (a function: by its source); the loss's own settings.
        data: contentHash(
          train.x,
          train.y,
          ...(validation ? [validation.x, validation.y] : []),
          ...(train.targets ? [train.targets] : []),
          ...(validation?.targets ? [validation.targets] : []),
        ),
        augment: typeof options.augment === "function" ? `function ${String(options.augment)}` : (options.augment ?? null),
        loss: hooks.fingerprint?.() ?? null,
      });
    let runFingerprint: string | undefined;
    let history: EpochRecord[] = [];
    let steps = 0;
    let stopReason: StopReason = "completed";
    let bestEpoch: number | undefined;
    let bestValue = Infinity;
    let sinceBest = 0;
    // Doubles updated every step live in object fields: a closure-captured `let` would box a new number each time.
    const live = { lr: baseLr };
    let startEpoch = 0;
    let position = 0;
    /**
     * The epoch's running sums (Σ loss·rows, correct predictions, rows seen, labelled rows seen), reset at each
     * epoch start. A typed array, whose elements V8 never boxes: an object field can end up
     * holding a boxed number (after V8 generalises its representation) and allocate per store.
     */
    const sums = new Float64Array(4);
    const ctx: BatchContext = { x: batchX, y: batchY, targets: batchT, rows: 0, logits: 0, grad, order, first: 0, epoch: 0, loss: 0 };
    const backwardOptions = { inject: hooks.inject };
    const maxNorm = options.maxNorm;
    const maxSteps = run.maxSteps; // Infinity without a budget: a double field, which an unoptimised read boxes
    const clock = options.signal ? new YieldClock() : undefined;
    /** Where the current epoch's steps stand: the next batch's first position and the part of its step to run next. */
    const cursor = { first: 0, phase: START };

    const setSums = (lossSum: number, correct: number, seen: number, labelled: number): void => {
      sums[LOSS_SUM] = lossSum;
      sums[CORRECT] = correct;
      sums[SEEN] = seen;
      sums[LABELLED] = labelled;
    };
    const capture = (epoch: number, next: number): Checkpoint => ({
      format: "distill-wasm-checkpoint",
      version: 1,
      fingerprint: (runFingerprint ??= fingerprint()),
      stage,
      epoch,
      position: next,
      steps,
      lossSum: sums[LOSS_SUM]!,
      correct: sums[CORRECT]!,
      seen: sums[SEEN]!,
      labelled: sums[LABELLED]!,
      history: history.map((r) => ({ ...r })),
      early: { bestValue, bestEpoch: bestEpoch ?? null, sinceBest },
      params: model.parameterBlock(),
      best: best ? best.parameters() : null,
      optimizers: optimizers.map((o) => o.exportState()),
      extraParams: extra.map((e) => engine.readF32(e.params, e.length)),
      rngs: Uint8Array.from(rngs.flatMap((p) => Array.from(new Uint8Array(k.memory.buffer, p, 16)))),
      order: engine.i32(order, train.length).slice(),
      hookState: hooks.state?.save() ?? {},
      health: { ...health.state },
    });

    if (options.resume) {
      const c = options.resume;
      runFingerprint ??= fingerprint();
      if (c.format !== "distill-wasm-checkpoint" || c.fingerprint !== runFingerprint) {
        throw new OptionError(
          `cannot resume: the checkpoint is from a different run (stage ${c.stage}; it differs in ${fingerprintDifference(c.fingerprint, runFingerprint)}); ` +
            "resume with the same model, data and training options",
        );
      }
      checkCheckpoint(c, {
        rows: train.length,
        epochs: run.epochs,
        maxSteps: run.maxSteps,
        batchSize: run.batchSize,
        paramLengths: [model.blockLength, model.blockLength + model.bufferLength],
        rngStates: rngs.length,
        optimizerLengths: [model.blockLength, ...extra.map((e) => e.length)],
        extraLengths: extra.map((e) => e.length),
      });
      model.setParameterBlock(c.params);
      if (best && c.best) best.setParameters(c.best);
      c.optimizers.forEach((state, i) => optimizers[i]!.importState(state));
      c.extraParams.forEach((values, i) => engine.f32(extra[i]!.params, extra[i]!.length).set(values));
      rngs.forEach((p, i) => new Uint8Array(k.memory.buffer, p, 16).set(c.rngs.subarray(16 * i, 16 * i + 16)));
      engine.i32(order, train.length).set(c.order);
      hooks.state?.load(c.hookState);
      if (c.health) Object.assign(health.state, c.health);
      history = c.history.map((r) => ({ ...r }));
      steps = c.steps;
      bestValue = c.early.bestValue;
      bestEpoch = c.early.bestEpoch ?? undefined;
      sinceBest = c.early.sinceBest;
      startEpoch = c.epoch;
      position = c.position;
      setSums(c.lossSum, c.correct, c.seen, c.labelled ?? c.seen);
    }

    lastGood?.save();

    /**
     * The synchronous part of a step, kept out of this async function so that its numbers
     * stay unboxed (a step then allocates nothing on the JS heap): gather the batch,
     * augment, forward, and the loss into ctx.loss (a promise only for an async function teacher).
     */
    const startStep = (epoch: number, first: number): void | Promise<void> => {
      // Not Math.min: V8 may type its result as a double, which is boxed when passed to forward().
      const left = train.length - first;
      const rows = left < run.batchSize ? left : run.batchSize;
      k.gather_rows(batchX, data.x, order, first, rows, features * 4);
      k.gather_rows(batchY, data.y, order, first, rows, 4);
      if (withTargets) k.gather_rows(batchT, data.t, order, first, rows, targetBytes);
      hooks.augment?.(batchX, rows);
      const logits = model.forward(batchX, rows, true);
      if (health.forwardFailed(batchX, logits, rows)) diverged(epoch);
      if (!withTargets) {
        sums[CORRECT]! += k.accuracy_count(logits, batchY, rows, classes);
        sums[LABELLED]! += k.count_labelled(batchY, rows);
      }
      ctx.rows = rows;
      ctx.logits = logits;
      ctx.first = first;
      ctx.epoch = epoch;
      return hooks.loss(ctx);
    };
    /**
     * Restores the weights the failed check names and throws its DivergenceError (kept out
     * of the step functions, which stay small): for a bad loss, the weights before the last
     * update (whose loss was fine); for a dead network or outputs at chance, those at the
     * end of the last healthy epoch.
     */
    const diverged = (epoch: number, step = steps): never => {
      let restored: string;
      if (health.restore === "step" || !lastGood) {
        if (steps > 0) snapshot.restore();
        restored = steps > 0 ? "the weights from the step before, the last with a sound loss" : "its initial weights";
      } else {
        lastGood.restore();
        const healthy = history.length > 0 ? history.at(-1)!.epoch : 0;
        restored = healthy > 0 ? `the weights from the end of epoch ${healthy}, the last healthy one` : "its initial weights";
      }
      throw health.error(epoch, step, restored);
    };
    /** The rest of a step (the batch of ctx): divergence check, backward, clipping, optimizer update. */
    const finishStep = (epoch: number): void => {
      const loss = ctx.loss;
      const rows = ctx.rows;
      if (health.lossFailed(ctx)) diverged(epoch);
      sums[LOSS_SUM]! += loss * rows;
      sums[SEEN]! += rows;
      model.backward(grad, rows, backwardOptions);
      if (options.clipNorm !== undefined) k.clip_grad_norm(clipList, 1 + extra.length, options.clipNorm);
      snapshot.save();
      learningRate(live, engine, baseLr, options, steps, epoch, totalSteps);
      optimizer.step(model.paramsPtr, model.gradsPtr, live);
      if (maxNorm !== undefined) model.applyMaxNorm(maxNorm);
      model.markParametersChanged();
      for (let i = 0; i < extra.length; i++) extra[i]!.optimizer.step(extra[i]!.params, extra[i]!.grads, live);
    };

    /**
     * Runs the steps of `epoch` from cursor.first on, synchronously, until the epoch ends or
     * the loop stops (returns EPOCH_DONE), or until something must be awaited (returns it;
     * the caller awaits it and calls again, which continues the same step at cursor.phase).
     * Per step, in order: start (forward, loss), finish (backward, update), onBatch, a
     * checkpoint when due, the step budget, a yield to the event loop when due (with a
     * signal), the abort check.
     */
    const runSteps = (epoch: number): unknown => {
      while (cursor.first < train.length) {
        const first = cursor.first;
        if (cursor.phase === START) {
          cursor.phase = FINISH;
          const pending = startStep(epoch, first);
          if (pending) return pending;
        }
        if (cursor.phase === FINISH) {
          cursor.phase = CHECKS;
          finishStep(epoch);
          steps++;
          options.onBatch?.({ epoch: epoch + 1, step: steps, loss: ctx.loss, lr: live.lr });
          if (options.checkpoint && steps % options.checkpoint.every === 0) return options.checkpoint.save(capture(epoch, first + run.batchSize));
        }
        if (cursor.phase === CHECKS) {
          cursor.phase = ABORT_CHECK;
          if (steps >= maxSteps) {
            stopReason = "step-budget";
            return EPOCH_DONE;
          }
          // Let the event loop run (a Ctrl-C handler, a UI) so that the signal can be aborted at all.
          if (clock?.due()) return clock.yield();
        }
        cursor.phase = START;
        if (options.signal?.aborted) {
          stopReason = "aborted";
          return EPOCH_DONE;
        }
        cursor.first = first + run.batchSize;
      }
      return EPOCH_DONE;
    };

    for (let epoch = startEpoch; epoch < run.epochs && stopReason === "completed"; epoch++) {
      const started = performance.now();
      hooks.epochStart?.(epoch);
      const resuming = options.resume !== undefined && epoch === startEpoch;
      if (!resuming) {
        k.rng_permutation(rng, order, train.length);
        position = 0;
        setSums(0, 0, 0, 0);
      }
      cursor.first = position;
      cursor.phase = START;
      for (let wait = runSteps(epoch); wait !== EPOCH_DONE; wait = runSteps(epoch)) await wait;
      const record: EpochRecord = {
        epoch: epoch + 1,
        loss: sums[LOSS_SUM]! / sums[SEEN]!,
        accuracy: sums[CORRECT]! / sums[LABELLED]!,
        lr: live.lr,
        steps,
        seconds: (performance.now() - started) / 1000,
      };
      const parts = hooks.takeParts?.();
      if (parts) record.parts = parts;
      if (health.epochFailed(record.accuracy)) diverged(epoch);
      if (val) {
        const v = evaluateInWasm(model, val, run.batchSize, grad);
        record.valLoss = v.loss;
        record.valAccuracy = v.accuracy;
      }
      history.push(record);
      lastGood?.save();
      if (options.earlyStopping && val) {
        const es = options.earlyStopping;
        const value = (es.monitor ?? "loss") === "loss" ? record.valLoss! : -record.valAccuracy!;
        if (value < bestValue - (es.minDelta ?? 0)) {
          bestValue = value;
          bestEpoch = epoch + 1;
          sinceBest = 0;
          best!.save();
        } else if (++sinceBest >= es.patience && stopReason === "completed") {
          stopReason = "early-stopping";
        }
      }
      if (options.onEpoch) {
        // Awaited only when it returns a promise: awaiting a plain value would allocate one.
        const answer = options.onEpoch(record);
        if ((isThenable(answer) ? await answer : answer) === false && stopReason === "completed") stopReason = "callback";
      }
      if (stopReason === "completed" && steps >= run.maxSteps) stopReason = "step-budget";
    }
    // A NaN or Infinity made by the last update has no next loss to show it: check the
    // weights, and the outputs they give on the last batch.
    if (
      steps > 0 &&
      !(allFinite(engine.f32(model.paramsPtr, model.blockLength)) && allFinite(engine.f32(model.forward(batchX, ctx.rows, false), ctx.rows * classes)))
    ) {
      health.problem = "the last update made the weights or their outputs non-finite";
      health.restore = "step";
      diverged(history.length > 0 ? history.at(-1)!.epoch - 1 : 0, steps - 1);
    }
    if (options.earlyStopping && bestEpoch !== undefined && (options.earlyStopping.restoreBest ?? true)) {
      best!.restore();
    } else {
      bestEpoch = undefined;
    }
    return { history, stopReason, steps, ...(bestEpoch !== undefined ? { bestEpoch } : {}) };
  } finally {
    model.endTraining();
    for (const o of optimizers) o.dispose();
    for (const p of owned) engine.free(p);
    for (const s of snapshots) s.dispose();
  }
}
