/**
 * The state of one training run and its steps, one method each: prepare (buffers, the
 * resumed state), prepare an epoch, run the epoch's batches, close the epoch (validation,
 * early stopping), take a checkpoint, finish. The epoch driver in loop.ts calls them in order.
 *
 * Per step nothing is allocated on the JS heap beyond the optional callbacks' records:
 * every buffer is allocated once per run and freed by dispose(), the steps of an epoch
 * run in a synchronous method (the async driver only awaits when something is pending),
 * and floating-point values that change every step live in typed arrays or in objects
 * whose fields only ever hold numbers (`live`, `ctx`), never in values returned by calls
 * V8 may not inline (those would box each new value in a heap-allocated number).
 */
import type { Dataset } from "../data/dataset.js";
import type { Engine } from "../engine.js";
import { OptionError } from "../errors.js";
import { copyToWasm, type WasmData } from "../data/wasm-data.js";
import { isStream, type StreamDataset } from "../data/stream/stream-dataset.js";
import { MemoryFeed, type BatchFeed } from "./feed.js";
import { StreamFeed } from "./stream-feed.js";
import type { Sequential } from "../nn/sequential.js";
import type { ParameterSnapshot } from "../nn/snapshot.js";
import type { Checkpoint } from "./checkpoint.js";
import { checkCheckpoint } from "./checkpoint-check.js";
import { evaluateInWasm } from "./evaluate-batches.js";
import { HealthMonitor } from "./health.js";
import type { BatchContext, EpochRecord, LossHooks, StopReason, TrainOptions, TrainResult } from "./loop.js";
import { Optimizer } from "./optimizer.js";
import { optimizerWithLr, resolveRun, type ResolvedRun } from "./run.js";
import { learningRate } from "./schedule.js";
import { YieldClock } from "./yield-clock.js";
import type { OptimizerSpec } from "./optimizer.js";

/** Salt of the shuffling PRNG's seed: "shuf". */
const SHUFFLE_STREAM = 0x73687566;

/** runSteps' answer when the epoch's steps are done or the loop stopped. */
export const EPOCH_DONE = Symbol("epoch done");

/** Indices of the running sums of an epoch (Trainer.sums). */
const LOSS_SUM = 0;
const CORRECT = 1;
const SEEN = 2;
/** rows seen that have a label (training accuracy is over these; distillation's transfer rows have none) */
const LABELLED = 3;

/** Which part of the current step runSteps continues with (after an await). */
const FETCH = 0;
const START = 1;
const FINISH = 2;
const CHECKS = 3;
const ABORT_CHECK = 4;

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

/** An extra trained parameter block (e.g. hint regressors) with its own optimizer state. */
interface ExtraBlock {
  params: number;
  grads: number;
  length: number;
  optimizer: Optimizer;
}

export class Trainer {
  readonly run: ResolvedRun;
  stopReason: StopReason = "completed";
  /** The epoch the run starts at (a resumed run: the checkpoint's). */
  startEpoch = 0;

  private readonly engine: Engine;
  private readonly withLr: OptimizerSpec;
  private readonly owned: number[] = [];
  private readonly optimizers: Optimizer[] = [];
  private readonly snapshots: ParameterSnapshot[] = [];
  private readonly regression: boolean;
  private readonly classes: number;
  private readonly features: number;
  private readonly targetBytes: number;
  private readonly backwardOptions: { inject: ReadonlyMap<number, number> | undefined };
  private readonly maxNorm: number | undefined;
  /** Infinity without a budget. */
  private readonly maxSteps: number;
  private readonly clock: YieldClock | undefined;
  /**
   * The epoch's running sums (Σ loss·rows, correct predictions, rows seen, labelled rows seen), reset at each
   * epoch start. A typed array, whose elements V8 never boxes: an object field can end up
   * holding a boxed number (after V8 generalises its representation) and allocate per store.
   */
  private readonly sums = new Float64Array(4);
  /** Doubles updated every step live in object fields whose only values are numbers. */
  private readonly live = { lr: 0 };
  /** Where the current epoch's steps stand: the next batch's first position and the part of its step to run next. */
  private readonly cursor = { first: 0, phase: FETCH };
  /** Rows per epoch. */
  private readonly rows: number;

  // Set by prepare(): the buffers and helpers of the run.
  private optimizer!: Optimizer;
  private extra: ExtraBlock[] = [];
  private feed!: BatchFeed;
  private batch!: { x: number; y: number; targets: number; teacher: number };
  private val: WasmData | undefined;
  private batchX = 0;
  private batchY = 0;
  private batchT = 0;
  private grad = 0;
  private rng = 0;
  private clipList = 0;
  private rngs: number[] = [];
  /**
   * Read every step and passed to learningRate(): declared without an initializer, so that
   * the field holds undefined first and then a pointer to the number (a "tagged" field). A
   * field first set to a number becomes a double field, whose every read V8 does not keep
   * unboxed allocates a new heap number.
   */
  private baseLr!: number;
  private totalSteps!: number;
  private ctx!: BatchContext;
  private health!: HealthMonitor;
  /** The weights before the last step: what a non-finite or exploding step restores. */
  private snapshot!: ParameterSnapshot;
  /** The weights at the end of the last healthy epoch (at first, the initial ones): what a collapse restores. */
  private lastGood: ParameterSnapshot | undefined;
  private best: ParameterSnapshot | undefined;

  // The run's progress.
  private runFingerprint: string | undefined;
  private history: EpochRecord[] = [];
  private steps = 0;
  private bestEpoch: number | undefined;
  private bestValue = Infinity;
  private sinceBest = 0;
  private position = 0;

  /** Checks the run's numbers and puts the model in training mode; dispose() ends it. */
  constructor(
    private readonly model: Sequential,
    private readonly train: Dataset | StreamDataset,
    private readonly validation: Dataset | undefined,
    private readonly options: TrainOptions,
    private readonly hooks: LossHooks,
    private readonly stage: string,
  ) {
    this.run = resolveRun(options, train.length, isStream(train) ? "classification" : train.task);
    this.rows = train.length;
    model.beginTraining(stage === "train" ? "train" : "distill");
    this.engine = model.engine;
    this.withLr = optimizerWithLr(options);
    this.regression = train.targets !== undefined;
    this.classes = model.outputs;
    this.features = model.inputs;
    this.targetBytes = train.targetWidth * 4;
    this.backwardOptions = { inject: hooks.inject };
    this.maxNorm = options.maxNorm;
    this.maxSteps = this.run.maxSteps;
    this.clock = options.signal ? new YieldClock() : undefined;
  }

  private alloc(bytes: number): number {
    const p = this.engine.allocOwned(bytes);
    this.owned.push(p);
    return p;
  }

  private keep(s: ParameterSnapshot): ParameterSnapshot {
    this.snapshots.push(s);
    return s;
  }

  /** Allocates the run's buffers, seeds the shuffling, and loads the checkpoint being resumed. */
  prepare(): void {
    const { model, engine, run, options, hooks, train } = this;
    const k = engine.kernels;
    this.optimizer = new Optimizer(engine, this.withLr, model.blockLength);
    this.optimizers.push(this.optimizer);
    this.extra = (hooks.extraParameters ?? []).map(([params, grads, length]) => {
      const o = new Optimizer(engine, this.withLr, length);
      this.optimizers.push(o);
      return { params, grads, length, optimizer: o };
    });
    this.rng = this.alloc(16);
    this.feed = isStream(train)
      ? new StreamFeed(engine, train, this.rng, this.validation, run.batchSize, this.owned)
      : new MemoryFeed(engine, train, this.validation, this.rng, this.owned);
    this.val = this.validation ? copyToWasm(engine, this.validation, this.owned) : undefined;
    model.reserve(run.batchSize);
    this.batchX = this.alloc(run.batchSize * this.features * 4);
    this.batchY = this.alloc(run.batchSize * 4);
    // Regression: the targets ride along with their rows, gathered by the same order.
    this.batchT = this.regression ? this.alloc(run.batchSize * this.targetBytes) : 0;
    this.grad = this.alloc(run.batchSize * this.classes * 4);
    const batchTeacher = isStream(train) && train.teacher !== undefined ? this.alloc(run.batchSize * this.classes * 4) : 0;
    this.batch = { x: this.batchX, y: this.batchY, targets: this.batchT, teacher: batchTeacher };
    // A stream of its own ("shuf" in the high word), so that a model and a run given the same
    // seed do not draw their weights and their data order from the same numbers.
    k.rng_seed(this.rng, run.seed >>> 0, (Math.floor(run.seed / 2 ** 32) ^ SHUFFLE_STREAM) >>> 0);
    this.snapshot = this.keep(model.snapshot());
    this.lastGood = options.divergence === false ? undefined : this.keep(model.snapshot());
    this.best = options.earlyStopping ? this.keep(model.snapshot()) : undefined;
    const extra = this.extra;
    this.clipList = this.alloc(8 * (1 + extra.length));
    const list = engine.i32(this.clipList, 2 * (1 + extra.length));
    list[0] = model.gradsPtr;
    list[1] = model.blockLength;
    extra.forEach((e, i) => {
      list[2 + 2 * i] = e.grads;
      list[3 + 2 * i] = e.length;
    });

    const batchesPerEpoch = Math.ceil(train.length / run.batchSize);
    // No chance level for regression or multi-label data (no accuracy): the accuracy check stays off there.
    // No chance level for a stream either (its class counts are unknown before it is read).
    const counts = this.regression || isStream(train) ? [] : train.classCounts();
    this.health = new HealthMonitor(model, options.divergence, counts, batchesPerEpoch, {
      lr: this.optimizer.baseLr,
      temperature: hooks.temperature,
      clipNorm: options.clipNorm,
    });
    this.totalSteps = Math.min(run.maxSteps, run.epochs * batchesPerEpoch);
    this.baseLr = this.optimizer.baseLr;
    this.live.lr = this.baseLr;
    this.rngs = [this.rng, model.rngPtr, ...(hooks.rngs ?? [])];
    const order = this.feed instanceof MemoryFeed ? this.feed.orderPtr : 0;
    this.ctx = {
      x: this.batchX,
      y: this.batchY,
      targets: this.batchT,
      teacher: batchTeacher,
      rows: 0,
      logits: 0,
      grad: this.grad,
      order,
      first: 0,
      epoch: 0,
      loss: 0,
    };
    if (options.resume) this.resume(options.resume);
    this.lastGood?.save();
  }

  /** What identifies the run, computed only for checkpoints (it hashes the data). */
  private fingerprint(): string {
    const { model, train, validation, run, options, extra, hooks } = this;
    return JSON.stringify({
      stage: this.stage,
      specs: model.specs,
      rows: train.length,
      validation: validation?.length ?? 0,
      features: this.features,
      classes: this.classes,
      epochs: run.epochs,
      steps: run.maxSteps,
      batchSize: run.batchSize,
      seed: run.seed,
      optimizer: this.withLr,
      schedule: options.schedule ?? null,
      warmup: options.warmupSteps ?? 0,
      clipNorm: options.clipNorm ?? null,
      ...(options.maxNorm !== undefined ? { maxNorm: options.maxNorm } : {}),
      extra: extra.map((e) => e.length),
      // What the rows hold, not only how many; the augmentation (a function: by its source); the loss's own settings.
      data: this.feed.dataHash(),
      augment: typeof options.augment === "function" ? `function ${String(options.augment)}` : (options.augment ?? null),
      loss: hooks.fingerprint?.() ?? null,
    });
  }

  private setSums(lossSum: number, correct: number, seen: number, labelled: number): void {
    const sums = this.sums;
    sums[LOSS_SUM] = lossSum;
    sums[CORRECT] = correct;
    sums[SEEN] = seen;
    sums[LABELLED] = labelled;
  }

  /** Puts the run back where checkpoint `c` left it, after checking that it is a checkpoint of this run. */
  private resume(c: Checkpoint): void {
    const { model, engine, run, train, extra, rngs, hooks, health } = this;
    const k = engine.kernels;
    const runFingerprint = (this.runFingerprint ??= this.fingerprint());
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
      ...(isStream(train) ? { stream: { blocks: train.blockCount, blockRows: train.blockRows } } : {}),
    });
    model.setParameterBlock(c.params);
    if (this.best && c.best) this.best.setParameters(c.best);
    c.optimizers.forEach((state, i) => this.optimizers[i]!.importState(state));
    c.extraParams.forEach((values, i) => engine.f32(extra[i]!.params, extra[i]!.length).set(values));
    rngs.forEach((p, i) => new Uint8Array(k.memory.buffer, p, 16).set(c.rngs.subarray(16 * i, 16 * i + 16)));
    this.feed.load(c);
    hooks.state?.load(c.hookState);
    if (c.health) Object.assign(health.state, c.health);
    this.history = c.history.map((r) => ({ ...r }));
    this.steps = c.steps;
    this.bestValue = c.early.bestValue;
    this.bestEpoch = c.early.bestEpoch ?? undefined;
    this.sinceBest = c.early.sinceBest;
    this.startEpoch = c.epoch;
    this.position = c.position;
    this.setSums(c.lossSum, c.correct, c.seen, c.labelled);
    // The learning rate of the last step taken (that of epoch c.epoch), which the epoch's record shows
    // even when the checkpoint was taken at the epoch's end and no step follows before the record.
    if (c.steps > 0) learningRate(this.live, engine, this.baseLr, this.options, c.steps - 1, c.epoch, this.totalSteps);
  }

  /** A checkpoint of the run as it stands, continuing at batch position `next` of `epoch`. */
  checkpoint(epoch: number, next: number): Checkpoint {
    const { model, engine, sums, extra, rngs, hooks, train } = this;
    const k = engine.kernels;
    return {
      format: "distill-wasm-checkpoint",
      version: 1,
      fingerprint: (this.runFingerprint ??= this.fingerprint()),
      stage: this.stage,
      epoch,
      position: next,
      steps: this.steps,
      lossSum: sums[LOSS_SUM]!,
      correct: sums[CORRECT]!,
      seen: sums[SEEN]!,
      labelled: sums[LABELLED]!,
      history: this.history.map((r) => ({ ...r })),
      early: { bestValue: this.bestValue, bestEpoch: this.bestEpoch ?? null, sinceBest: this.sinceBest },
      params: model.parameterBlock(),
      best: this.best ? this.best.parameters() : null,
      optimizers: this.optimizers.map((o) => o.exportState()),
      extraParams: extra.map((e) => engine.readF32(e.params, e.length)),
      rngs: Uint8Array.from(rngs.flatMap((p) => Array.from(new Uint8Array(k.memory.buffer, p, 16)))),
      ...this.feed.save(),
      hookState: hooks.state?.save() ?? {},
      health: { ...this.health.state },
    };
  }

  /** Starts `epoch`: the hooks' schedules, a fresh data order and sums (unless it is the resumed epoch), the cursor at its first batch. */
  prepareEpoch(epoch: number): void {
    this.hooks.epochStart?.(epoch);
    const resuming = this.options.resume !== undefined && epoch === this.startEpoch;
    this.feed.epochStart(epoch, resuming);
    if (!resuming) {
      this.position = 0;
      this.setSums(0, 0, 0, 0);
    }
    this.cursor.first = this.position;
    this.cursor.phase = FETCH;
  }

  /** The batch's rows from the feed into the batch buffers (a promise when a streamed block must be read first). */
  private fetchBatch(first: number): void | Promise<void> {
    // Not Math.min: V8 may type its result as a double, which is boxed when passed to forward().
    const left = this.rows - first;
    const rows = left < this.run.batchSize ? left : this.run.batchSize;
    this.ctx.rows = rows;
    return this.feed.fill(this.batch, first, rows);
  }

  /**
   * The synchronous first part of a batch, kept out of async functions so that its numbers
   * stay unboxed (a step then allocates nothing on the JS heap): gather the batch, augment,
   * forward, and the loss into ctx.loss (a promise only for an async function teacher).
   */
  private startBatch(epoch: number, first: number): void | Promise<void> {
    const { engine, hooks, model, sums, ctx } = this;
    const k = engine.kernels;
    const rows = ctx.rows;
    const batchX = this.batchX;
    const batchY = this.batchY;
    hooks.augment?.(batchX, rows);
    const logits = model.forward(batchX, rows, true);
    if (this.health.forwardFailed(batchX, logits, rows)) this.diverged(epoch);
    if (!this.regression) {
      sums[CORRECT]! += k.accuracy_count(logits, batchY, rows, this.classes);
      sums[LABELLED]! += k.count_labelled(batchY, rows);
    }
    ctx.logits = logits;
    ctx.first = first;
    ctx.epoch = epoch;
    return hooks.loss(ctx);
  }

  /** The rest of a batch (the one in ctx): divergence check, backward, clipping, optimizer update. */
  private finishBatch(epoch: number): void {
    const { engine, options, model, sums, ctx, extra, live } = this;
    const k = engine.kernels;
    const loss = ctx.loss;
    const rows = ctx.rows;
    if (this.health.lossFailed(ctx)) this.diverged(epoch);
    sums[LOSS_SUM]! += loss * rows;
    sums[SEEN]! += rows;
    model.backward(this.grad, rows, this.backwardOptions);
    if (options.clipNorm !== undefined) k.clip_grad_norm(this.clipList, 1 + extra.length, options.clipNorm);
    this.snapshot.save();
    learningRate(live, engine, this.baseLr, options, this.steps, epoch, this.totalSteps);
    this.optimizer.step(model.paramsPtr, model.gradsPtr, live);
    const maxNorm = this.maxNorm;
    if (maxNorm !== undefined) model.applyMaxNorm(maxNorm);
    model.markParametersChanged();
    for (let i = 0; i < extra.length; i++) extra[i]!.optimizer.step(extra[i]!.params, extra[i]!.grads, live);
  }

  /**
   * Restores the weights the failed check names and throws its DivergenceError: for a bad
   * loss, the weights before the last update (whose loss was fine); for a dead network or
   * outputs at chance, those at the end of the last healthy epoch.
   */
  private diverged(epoch: number, step = this.steps): never {
    const { health, lastGood, steps, history } = this;
    let restored: string;
    if (health.restore === "step" || !lastGood) {
      if (steps > 0) this.snapshot.restore();
      restored = steps > 0 ? "the weights from the step before, the last with a sound loss" : "its initial weights";
    } else {
      lastGood.restore();
      const healthy = history.length > 0 ? history.at(-1)!.epoch : 0;
      restored = healthy > 0 ? `the weights from the end of epoch ${healthy}, the last healthy one` : "its initial weights";
    }
    throw health.error(epoch, step, restored);
  }

  /**
   * Runs the batches of `epoch` from the cursor on, synchronously, until the epoch ends or
   * the run stops (returns EPOCH_DONE), or until something must be awaited (returns it;
   * the driver awaits it and calls again, which continues the same step at cursor.phase).
   * Per step, in order: fetch (the batch's rows), start (forward, loss), finish (backward, update), onBatch, a
   * checkpoint when due, the step budget, a yield to the event loop when due (with a
   * signal), the abort check.
   */
  runSteps(epoch: number): unknown {
    const { cursor, options, run } = this;
    const rowsInEpoch = this.rows;
    while (cursor.first < rowsInEpoch) {
      const first = cursor.first;
      if (cursor.phase === FETCH) {
        const pending = this.fetchBatch(first);
        if (pending) return pending;
        cursor.phase = START;
      }
      if (cursor.phase === START) {
        cursor.phase = FINISH;
        const pending = this.startBatch(epoch, first);
        if (pending) return pending;
      }
      if (cursor.phase === FINISH) {
        cursor.phase = CHECKS;
        this.finishBatch(epoch);
        this.steps++;
        options.onBatch?.({ epoch: epoch + 1, step: this.steps, loss: this.ctx.loss, lr: this.live.lr });
        if (options.checkpoint && this.steps % options.checkpoint.every === 0) return options.checkpoint.save(this.checkpoint(epoch, first + run.batchSize));
      }
      if (cursor.phase === CHECKS) {
        cursor.phase = ABORT_CHECK;
        if (this.steps >= this.maxSteps) {
          this.stopReason = "step-budget";
          return EPOCH_DONE;
        }
        // Let the event loop run (a Ctrl-C handler, a UI) so that the signal can be aborted at all.
        if (this.clock?.due()) return this.clock.yield();
      }
      cursor.phase = FETCH;
      if (options.signal?.aborted) {
        this.stopReason = "aborted";
        return EPOCH_DONE;
      }
      cursor.first = first + run.batchSize;
    }
    return EPOCH_DONE;
  }

  /** The loss and accuracy on the validation data, when there is some. */
  private validate(record: EpochRecord): void {
    if (!this.val) return;
    const v = evaluateInWasm(this.model, this.val, this.run.batchSize, this.grad);
    record.valLoss = v.loss;
    record.valAccuracy = v.accuracy;
  }

  /** Early stopping: keeps the best epoch's weights and stops after `patience` epochs without improvement. */
  private watchEarlyStopping(record: EpochRecord, epoch: number): void {
    const es = this.options.earlyStopping;
    if (!es || !this.val) return;
    const value = (es.monitor ?? "loss") === "loss" ? record.valLoss! : -record.valAccuracy!;
    if (value < this.bestValue - (es.minDelta ?? 0)) {
      this.bestValue = value;
      this.bestEpoch = epoch + 1;
      this.sinceBest = 0;
      this.best!.save();
    } else if (++this.sinceBest >= es.patience && this.stopReason === "completed") {
      this.stopReason = "early-stopping";
    }
  }

  /** Ends `epoch` (started at `started`, a performance.now() time): its record, the collapse check, validation, early stopping. */
  closeEpoch(epoch: number, started: number): EpochRecord {
    const sums = this.sums;
    const record: EpochRecord = {
      epoch: epoch + 1,
      loss: sums[LOSS_SUM]! / sums[SEEN]!,
      accuracy: sums[CORRECT]! / sums[LABELLED]!,
      lr: this.live.lr,
      steps: this.steps,
      seconds: (performance.now() - started) / 1000,
    };
    const parts = this.hooks.takeParts?.();
    if (parts) record.parts = parts;
    if (this.health.epochFailed(record.accuracy)) this.diverged(epoch);
    this.validate(record);
    this.history.push(record);
    this.lastGood?.save();
    this.watchEarlyStopping(record, epoch);
    return record;
  }

  /** After an epoch and its callback: a step budget reached at the epoch's end stops the run. */
  checkBudget(): void {
    if (this.stopReason === "completed" && this.steps >= this.run.maxSteps) this.stopReason = "step-budget";
  }

  /** The run's result, after the last checks: finite weights and outputs, the best epoch's weights put back. */
  finish(): TrainResult {
    const { engine, model, steps, history, ctx, options } = this;
    // A NaN or Infinity made by the last update has no next loss to show it: check the
    // weights, and the outputs they give on the last batch.
    if (
      steps > 0 &&
      !(
        allFinite(engine.f32(model.paramsPtr, model.blockLength)) && allFinite(engine.f32(model.forward(this.batchX, ctx.rows, false), ctx.rows * this.classes))
      )
    ) {
      this.health.problem = "the last update made the weights or their outputs non-finite";
      this.health.restore = "step";
      this.diverged(history.length > 0 ? history.at(-1)!.epoch - 1 : 0, steps - 1);
    }
    let bestEpoch = this.bestEpoch;
    if (options.earlyStopping && bestEpoch !== undefined && (options.earlyStopping.restoreBest ?? true)) {
      this.best!.restore();
    } else {
      bestEpoch = undefined;
    }
    return { history, stopReason: this.stopReason, steps, ...(bestEpoch !== undefined ? { bestEpoch } : {}) };
  }

  /** Ends training mode and frees every buffer of the run. */
  dispose(): void {
    this.model.endTraining();
    for (const o of this.optimizers) o.dispose();
    for (const p of this.owned) this.engine.free(p);
    for (const s of this.snapshots) s.dispose();
  }
}
