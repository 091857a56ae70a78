/**
 * `distill({ teacher, student, data, transfer, temperature, alpha, ... })`: trains a student
 * on α·CE(labels) + (1 − α)·soft(teacher, student) with the shared training loop, plus
 * optional FitNets hints (with a hint-only first stage), augmentation the teacher also
 * sees, and a fine-tuning stage on the labels afterwards. Rows without a label (a
 * `transfer` set, or MISSING_LABEL in `data`) get the soft term alone.
 */
import { Dataset } from "../data/dataset.js";
import type { Engine } from "../engine.js";
import { ArgumentError, OptionError, TaskError } from "../errors.js";
import type { Sequential } from "../nn/sequential.js";
import { DISTILL_SOFT_CROSS_ENTROPY } from "../runtime/abi.js";
import { copyToWasm } from "../data/wasm-data.js";
import { resolveRun, runLoop, type BatchContext, type LossHooks, type TrainOptions, type TrainResult } from "../train/loop.js";
import { checkModelAndData, checkModelTask, copyWeights, resolveHardLoss, resolveValidation, train } from "../train/train.js";
import { resolveClassWeights } from "../train/class-weights.js";
import { augmentHook } from "../train/augment.js";
import { checkTrainOptions, TRAIN_SCHEMA } from "../train/options.js";
import { checkedElsewhere, oneOf, shape, type Schema } from "../options/schema.js";
import { QuantizedModel } from "../quantize/model.js";
import { quantizableLayersOf, quantizedNet } from "../quantize/quantize.js";
import { AttentionTransfer, type AttentionSpec } from "./attention.js";
import { Hints, type HintSpec } from "./hints.js";
import { TEACHER_IN_DATA, TeacherSource, type Teacher } from "./teacher.js";
import { isStream, type StreamDataset } from "../data/stream/stream-dataset.js";

/** A value per epoch: constant, linear from → to over the epochs, or a function of the epoch (1, 2, …, as in history[].epoch). */
export type EpochValue = number | { from: number; to: number } | ((epoch: number) => number);

/** Options of `train` (including `augment`: the teacher sees the same augmented inputs) plus: */
export interface DistillOptions extends TrainOptions {
  /** Omitted when `data` is a StreamDataset that carries the teacher's outputs. */
  teacher?: Teacher;
  student: Sequential;
  /** Labelled rows (some may be MISSING_LABEL), in memory or streamed; optional when `transfer` is given. */
  data?: Dataset | StreamDataset;
  /**
   * Unlabelled rows the teacher labels (a transfer set, Hinton et al. 2015): appended to
   * `data` for training with the soft loss only; their labels, if any, are ignored.
   */
  transfer?: Dataset;
  /** Softening temperature T (default 4). */
  temperature?: EpochValue;
  /** Weight of the hard-label loss, in [0, 1] (default 0.1; 0 when no row has a label). */
  alpha?: EpochValue;
  /**
   * "kl" (default, T²-scaled KL), "mse" (between logits), "soft-ce" (T²-scaled cross-entropy
   * with soft targets). On a regression dataset only "mse" (the default there): the mean
   * squared error against the teacher's outputs, with no temperature. On a multi-label
   * dataset only "bce" (the default there): T²·binary cross-entropy of σ(s/T) against the
   * teacher's σ(t/T), per label (assembly/bce.ts).
   */
  softLoss?: "kl" | "mse" | "soft-ce" | "bce";
  /** FitNets hints: student layer ← teacher layer pairs (needs a model teacher). */
  hints?: HintSpec[];
  /** Attention transfer: student conv layer ← teacher conv layer pairs (needs a model teacher). */
  attention?: AttentionSpec[];
  /** Epochs of a first stage trained on the hint loss alone (default 0). */
  hintEpochs?: number;
  /** A last stage of plain training on the labels. */
  fineTune?: TrainOptions;
  /**
   * Quantization-aware distillation: the student trains with fake quantization (int8
   * weights per output channel, and int8 activations per tensor unless activations is
   * "float"; straight-through gradients; activation ranges from moving-average min/max
   * observers) and the result's `quantized` is its int8 model, in quantize()'s format.
   */
  quantize?: { weights?: "int8"; activations?: "int8" | "float" };
}

export interface DistillResult extends TrainResult {
  /** The hint-only first stage, when hintEpochs > 0. */
  hintStage?: TrainResult;
  /** The fine-tuning stage, when requested. */
  fineTune?: TrainResult;
  /** With `quantize`: the student as an int8 model (the float student keeps its float weights). */
  quantized?: QuantizedModel;
}

function epochValue(name: string, v: EpochValue, epochs: number, check: (x: number) => boolean, expected: string): (epoch: number) => number {
  const validated = (x: number, epoch: number) => {
    if (typeof x !== "number" || !check(x))
      throw new OptionError(`distill: ${name} must be ${expected}; got ${x}${epoch >= 0 ? ` at epoch ${epoch + 1}` : ""}`);
    return x;
  };
  if (typeof v === "number") {
    validated(v, -1);
    return () => v;
  }
  if (typeof v === "function") return (epoch) => validated(v(epoch + 1), epoch);
  if (v && typeof v === "object") {
    validated(v.from, -1);
    validated(v.to, -1);
    if (!Number.isFinite(epochs)) throw new OptionError(`distill: a { from, to } ${name} schedule needs a number of epochs`);
    return (epoch) => (epochs > 1 ? v.from + ((v.to - v.from) * epoch) / (epochs - 1) : v.from);
  }
  throw new OptionError(`distill: ${name} must be a number, { from, to } or a function of the epoch`);
}

/**
 * Lets the teacher allocate its buffers (and cache its logits) from a copy of the data in
 * wasm, freed afterwards: the training loop keeps a copy of its own, so that distillation
 * does not hold the data twice.
 */
async function prepareTeacher(engine: Engine, teacher: TeacherSource, data: Dataset | StreamDataset, batch: number, cache: boolean): Promise<void> {
  // A stream is never cached: the teacher runs on every batch (or its outputs come with the rows).
  if (isStream(data)) return teacher.prepare({ x: 0, y: 0, t: 0, rows: 0, features: data.features, targetWidth: 0, multiLabel: false }, batch, false);
  const owned: number[] = [];
  try {
    await teacher.prepare(copyToWasm(engine, data, owned), batch, cache);
  } finally {
    for (const p of owned) engine.free(p);
  }
}

/** Every option of `distill`: those of `train` plus the teacher, the student and the distillation's own. */
export const DISTILL_SCHEMA: Schema = {
  ...TRAIN_SCHEMA,
  teacher: checkedElsewhere,
  student: checkedElsewhere,
  data: checkedElsewhere,
  transfer: checkedElsewhere,
  temperature: checkedElsewhere,
  alpha: checkedElsewhere,
  softLoss: checkedElsewhere,
  hints: checkedElsewhere,
  attention: checkedElsewhere,
  hintEpochs: checkedElsewhere,
  fineTune: (v, name) => checkTrainOptions(name, v as TrainOptions),
  quantize: shape({ weights: oneOf(["int8"]), activations: oneOf(["int8", "float"]) }),
};

/** data followed by the transfer rows as unlabelled rows (either may be absent, not both). */
function withTransfer(op: string, student: Sequential, data: Dataset | StreamDataset | undefined, transfer: Dataset | undefined): Dataset | StreamDataset {
  if (data === undefined && transfer === undefined) throw new ArgumentError(`${op}: needs data (labelled rows), transfer (unlabelled rows) or both`);
  if (transfer === undefined) return data!;
  if (isStream(data)) throw new OptionError(`${op}: a StreamDataset cannot take transfer rows; put them in the stream (without labels)`);
  if (!(transfer instanceof Dataset)) throw new ArgumentError(`${op}: transfer must be a Dataset (Dataset.unlabelled(x, { features, classes }))`);
  if (data !== undefined && !(data instanceof Dataset)) throw new ArgumentError(`${op}: data must be a Dataset (Dataset.from(x, y, { features }))`);
  const classes = data?.classes ?? student?.outputs;
  if (data !== undefined && transfer.features !== data.features) {
    throw new ArgumentError(`${op}: transfer has ${transfer.features} features per row but data has ${data.features}`);
  }
  const task = data ? data.task : transfer.task;
  const width = data?.targetWidth ?? transfer.targetWidth;
  const unlabelled =
    task === "multilabel"
      ? Dataset.multiLabel(transfer.x, null, { features: transfer.features, labels: width })
      : task === "regression"
        ? Dataset.regression(transfer.x, null, { features: transfer.features, outputs: width })
        : Dataset.unlabelled(transfer.x, { features: transfer.features, classes: classes ?? transfer.classes });
  return data === undefined ? unlabelled : data.concat(unlabelled);
}

/**
 * What regression distillation refuses: a soft loss other than "mse" (KL and soft
 * cross-entropy compare class distributions), a temperature (the teacher's outputs are
 * matched as they are) and an ensemble (members are combined as class probabilities).
 */
function checkRegressionOptions(op: string, options: DistillOptions, softLoss: string): void {
  if (softLoss !== "mse") throw new OptionError(`${op}: a regression dataset takes softLoss "mse" (the default there); got ${JSON.stringify(softLoss)}`);
  if (options.temperature !== undefined)
    throw new OptionError(`${op}: a regression dataset has no temperature (the teacher's outputs are matched by MSE as they are); drop temperature`);
  const t = options.teacher;
  if (Array.isArray(t) && t.length > 0 && typeof t[0] === "object")
    throw new OptionError(`${op}: an ensemble teacher combines class probabilities; for regression, average its members' outputs and pass them as logits`);
}

/**
 * What multi-label distillation refuses: a soft loss other than "bce" (the others compare
 * softmax distributions or raw logits) and an ensemble (members are combined as softmax
 * probabilities); and the mixing of tasks: a multi-label teacher model on single-label data,
 * a single-label teacher model on multi-label data (TaskError).
 */
function checkMultiLabelTeacher(
  op: string,
  options: DistillOptions,
  data: Pick<Dataset, "multiLabel" | "task">,
  teacher: TeacherSource,
  softLoss: string,
): void {
  for (const [i, m] of teacher.models.entries()) {
    const what = teacher.kind === "ensemble" ? `ensemble member ${i}` : "the teacher";
    if (m.multiLabel && !data.multiLabel) {
      throw new TaskError(
        `${op}: ${what} is multi-label (a sigmoid per output) but the data is a ${data.task} dataset; a multi-label teacher teaches on Dataset.multiLabel data`,
      );
    }
    if (!m.multiLabel && data.multiLabel) {
      throw new TaskError(
        `${op}: the data is multi-label but ${what} is not (its outputs are read as one softmax); train it on Dataset.multiLabel data, ` +
          "load a file that records task multilabel, or set teacher.multiLabel = true for a model trained elsewhere with a sigmoid per output",
      );
    }
  }
  if (!data.multiLabel) {
    if (softLoss === "bce") throw new OptionError(`${op}: softLoss "bce" is for multi-label data (a sigmoid per label); the data is a ${data.task} dataset`);
    return;
  }
  if (softLoss !== "bce") throw new OptionError(`${op}: a multi-label dataset takes softLoss "bce" (the default there); got ${JSON.stringify(softLoss)}`);
  if (teacher.kind === "ensemble") {
    throw new OptionError(
      `${op}: an ensemble teacher combines softmax probabilities; for multi-label data, average its members' logits and pass them as logits`,
    );
  }
}

export async function distill(given: DistillOptions): Promise<DistillResult> {
  const op = "distill";
  if (!given || typeof given !== "object") throw new ArgumentError(`${op}: expects an options object { teacher, student, data, ... }`);
  const options = checkTrainOptions(op, given, DISTILL_SCHEMA);
  const { student } = options;
  const data = withTransfer(op, student, options.data, options.transfer);
  checkModelAndData(op, student, data, true);
  const engine = student.engine;
  const hardLoss = resolveHardLoss(op, data, options.loss);
  const regression = hardLoss === "mse";
  const multiLabel = hardLoss === "binary-cross-entropy";
  const softLoss = options.softLoss ?? (regression ? "mse" : multiLabel ? "bce" : "kl");
  if (!["kl", "mse", "soft-ce", "bce"].includes(softLoss))
    throw new OptionError(`${op}: softLoss must be "kl", "mse" or "soft-ce" ("bce" on multi-label data); got ${JSON.stringify(softLoss)}`);
  if (regression) checkRegressionOptions(op, options, softLoss);
  const teacherInData = isStream(data) && data.teacher !== undefined;
  if (teacherInData && options.teacher !== undefined) throw new OptionError(`${op}: the StreamDataset carries the teacher's outputs; drop teacher`);
  if (isStream(data) && !teacherInData && options.teacher === undefined)
    throw new ArgumentError(`${op}: needs a teacher (the StreamDataset carries no teacher outputs)`);
  if (isStream(data) && (options.fineTune || regression))
    throw new OptionError(`${op}: a StreamDataset trains the main stage only (no fineTune, classification)`);
  const studentTask = checkModelTask(op, student, data, "the student");
  const teacher = new TeacherSource(engine, teacherInData ? TEACHER_IN_DATA : options.teacher!, student.outputs, student.inputs);
  checkMultiLabelTeacher(op, options, data, teacher, softLoss);
  if (!isStream(data)) teacher.checkInputs(op, data.x);
  const hintSpecs = options.hints ?? [];
  if (hintSpecs.length > 0 && !teacher.model) throw new OptionError(`${op}: hints need a single model teacher (not an ensemble, function or logits)`);
  const attentionSpecs = options.attention ?? [];
  if (attentionSpecs.length > 0 && !teacher.model)
    throw new OptionError(`${op}: attention transfer needs a single model teacher (not an ensemble, function or logits)`);
  for (const a of attentionSpecs) {
    if (hintSpecs.some((h) => h.student === a?.student))
      throw new OptionError(`${op}: student layer ${a.student} has both a hint and an attention pair; use one`);
  }
  const hintEpochs = options.hintEpochs ?? 0;
  if (!(Number.isInteger(hintEpochs) && hintEpochs >= 0)) throw new OptionError(`${op}: hintEpochs must be an integer ≥ 0; got ${hintEpochs}`);
  if (hintEpochs > 0 && hintSpecs.length === 0) throw new OptionError(`${op}: hintEpochs needs hints`);
  if (options.augment && (teacher.kind === "logits" || teacher.kind === "data")) {
    throw new OptionError(`${op}: precomputed teacher logits cannot follow augmented inputs; use a model or function teacher, or no augmentation`);
  }
  if (teacher.kind === "logits" && isStream(data)) {
    throw new OptionError(`${op}: precomputed teacher logits for a StreamDataset go in its shards (teacher-NAME.npy) or batches, not in teacher`);
  }
  if (teacher.kind === "logits" && options.transfer !== undefined) {
    throw new OptionError(
      `${op}: precomputed teacher logits are indexed by the rows of data; put the unlabelled rows in data (labels MISSING_LABEL) with their logits in the same order, instead of transfer`,
    );
  }
  if (options.fineTune && data.labelled === 0) throw new OptionError(`${op}: fineTune trains on labels, and no row of data has one`);
  if (teacher.kind === "logits" && typeof options.validation === "number") {
    throw new OptionError(`${op}: with precomputed teacher logits, pass validation as a Dataset (the logits are indexed by the rows of data)`);
  }
  const stage = options.resume?.stage;
  if (options.resume && stage !== "hint" && stage !== "main") {
    throw new OptionError(
      `${op}: cannot resume from a checkpoint of a ${JSON.stringify(stage)} stage: distill resumes its own "hint" or "main" stage (a checkpoint of train() resumes with train())`,
    );
  }
  const quantize = options.quantize;
  const quantizable = quantize ? quantizableLayersOf(op, student) : undefined;
  if (quantize && (options.checkpoint || options.resume)) {
    throw new OptionError(`${op}: quantize cannot be combined with checkpoint or resume (the activation observers' ranges are not saved in checkpoints)`);
  }
  const { train: trainSet, validation } = resolveValidation(op, student, data, options);
  resolveRun(options, trainSet.length, trainSet.task); // option errors before any teacher work
  const weights = resolveClassWeights(op, options.classWeights, trainSet, student.outputs);
  const epochs = options.epochs ?? (options.steps === undefined ? 10 : Infinity);
  const temperatureAt = epochValue("temperature", options.temperature ?? 4, epochs, (t) => t > 0 && Number.isFinite(t), "a finite number > 0");
  const alphaAt = epochValue("alpha", options.alpha ?? (data.labelled === 0 ? 0 : 0.1), epochs, (a) => a >= 0 && a <= 1, "in [0, 1]");

  const k = engine.kernels;
  const batch = options.batchSize ?? 64;
  const epochCount = Math.min(1000, Number.isFinite(epochs) ? epochs : Math.ceil((options.steps ?? 0) / Math.ceil(trainSet.length / batch)));
  const seed = options.seed ?? 0;
  const owned: number[] = [];
  let hints: Hints | undefined;
  let attention: AttentionTransfer | undefined;
  const quantizeActivations = (quantize?.activations ?? "int8") === "int8";
  try {
    studentTask.mark();
    if (quantize) student.startFakeQuantization({ activations: quantizeActivations });
    student.reserve(Math.min(batch, trainSet.length));
    const perBatch = options.augment !== undefined || hintSpecs.length > 0 || attentionSpecs.length > 0;
    await prepareTeacher(engine, teacher, trainSet, Math.min(batch, trainSet.length), !perBatch);
    if (hintSpecs.length > 0) hints = new Hints(engine, hintSpecs, student, teacher.model!, batch, seed);
    if (attentionSpecs.length > 0) attention = new AttentionTransfer(engine, attentionSpecs, student, teacher.model!, batch);
    const inject = new Map([...(hints?.inject ?? []), ...(attention?.inject ?? [])]);
    const teacherLogits = engine.allocOwned(batch * student.outputs * 4);
    owned.push(teacherLogits);
    const mseGrad = engine.allocOwned(batch * student.outputs * 4);
    owned.push(mseGrad);
    const parts = engine.allocOwned(24);
    owned.push(parts);
    let partsView = engine.f64(parts, 3);
    const augment = options.augment ? augmentHook(student, options.augment, student.inputs, seed, owned) : undefined;
    const weightsPtr = weights ? copyWeights(student, weights, owned) : 0;

    let temperature = 4;
    let alpha = 0.1;
    const sums = { hard: 0, soft: 0, hint: 0, attention: 0, rows: 0 };
    const takeParts = () => {
      const n = Math.max(sums.rows, 1);
      const out: Record<string, number> = { hard: sums.hard / n, soft: sums.soft / n, temperature, alpha };
      if (hints) out.hint = sums.hint / n;
      if (attention) out.attention = sums.attention / n;
      sums.hard = sums.soft = sums.hint = sums.attention = sums.rows = 0;
      return out;
    };
    /** Fills teacherLogits for the batch, then runs `then` (synchronously unless the teacher is an async function). */
    const withTeacher = (ctx: BatchContext, then: (ctx: BatchContext) => void): void | Promise<void> => {
      if (ctx.teacher !== 0) {
        k.copy_bytes(teacherLogits, ctx.teacher, ctx.rows * student.outputs * 4); // the stream's own
        then(ctx);
        return;
      }
      const pending = teacher.batchLogits(teacherLogits, ctx.x, ctx.rows, student.inputs, ctx.order, ctx.first, temperature);
      if (pending) return pending.then(() => then(ctx));
      then(ctx);
    };
    // Losses are passed in fields (hints.loss, attention.loss, ctx.loss), never as return
    // values: a number returned by a call V8 does not inline is boxed, allocating every step.

    const hookBase: Omit<LossHooks, "loss"> = {
      augment: augment?.apply,
      rngs: augment?.rng ? [augment.rng] : [],
      state: {
        save: () => ({ ...sums }),
        load: (v) => Object.assign(sums, { hard: v.hard ?? 0, soft: v.soft ?? 0, hint: v.hint ?? 0, attention: v.attention ?? 0, rows: v.rows ?? 0 }),
      },
      inject: inject.size > 0 ? inject : undefined,
      extraParameters: hints && hints.length > 0 ? [[hints.params, hints.grads, hints.length]] : [],
      takeParts,
      temperature: () => temperature,
      fingerprint: () => ({
        teacher: teacher.identity(),
        softLoss,
        hints: hintSpecs,
        attention: attentionSpecs,
        hintEpochs,
        ...(weights ? { classWeights: Array.from(weights) } : {}),
        // Every epoch's T and α, so that a schedule given as a function is compared by what it gives.
        temperature: Array.from({ length: epochCount }, (_, e) => temperatureAt(e)),
        alpha: Array.from({ length: epochCount }, (_, e) => alphaAt(e)),
      }),
    };

    /** The hint-only stage's loss: the logits get no gradient, only the hints drive the student. */
    const hintOnlyLoss = (ctx: BatchContext): void => {
      k.zero_bytes(ctx.grad, ctx.rows * student.outputs * 4);
      hints!.compute(student, teacher.model!, ctx.rows);
      const h = hints!.loss;
      sums.hint += h * ctx.rows;
      sums.rows += ctx.rows;
      ctx.loss = h;
    };
    /** The main stage's loss: α·hard + (1 − α)·soft (+ hints + attention transfer), gradient into ctx.grad. */
    const distillLoss = (ctx: BatchContext): void => {
      const n = ctx.rows * student.outputs;
      let total: number;
      let hard: number;
      let soft: number;
      if (multiLabel) {
        // Rows flagged MISSING_LABEL (transfer rows) get the soft term alone, inside the kernel.
        total = k.distill_bce(parts, ctx.grad, ctx.logits, teacherLogits, ctx.targets, ctx.y, ctx.rows, student.outputs, temperature, alpha);
        if (partsView.buffer !== engine.kernels.memory.buffer) partsView = engine.f64(parts, 3); // memory grew
        hard = partsView[1]!;
        soft = partsView[2]!;
      } else if (regression) {
        // A row without a target gets the predictions as its target: no hard loss, no hard gradient.
        // Both terms are means over the batch's rows · outputs values, as in cross_entropy's 1/rows.
        k.fill_missing_rows(ctx.targets, ctx.logits, ctx.y, ctx.rows, student.outputs * 4);
        hard = k.mse(ctx.grad, ctx.logits, ctx.targets, n, 1 / n);
        soft = k.mse(mseGrad, ctx.logits, teacherLogits, n, 1 / n);
        k.axpby(ctx.grad, mseGrad, n, 1 - alpha, alpha); // grad = α·g_hard + (1 − α)·g_soft
        total = alpha * hard + (1 - alpha) * soft;
      } else if (softLoss === "mse") {
        hard = weightsPtr
          ? k.cross_entropy_weighted(ctx.grad, ctx.logits, ctx.y, weightsPtr, ctx.rows, student.outputs)
          : k.cross_entropy(ctx.grad, ctx.logits, ctx.y, ctx.rows, student.outputs);
        soft = k.mse(mseGrad, ctx.logits, teacherLogits, n, 1 / n);
        k.axpby(ctx.grad, mseGrad, n, 1 - alpha, alpha); // grad = α·g_hard + (1 − α)·g_soft
        total = alpha * hard + (1 - alpha) * soft;
      } else {
        const flags = softLoss === "soft-ce" ? DISTILL_SOFT_CROSS_ENTROPY : 0;
        total = weightsPtr
          ? k.distill_loss_weighted(parts, ctx.grad, ctx.logits, teacherLogits, ctx.y, weightsPtr, ctx.rows, student.outputs, temperature, alpha, flags)
          : k.distill_loss(parts, ctx.grad, ctx.logits, teacherLogits, ctx.y, ctx.rows, student.outputs, temperature, alpha, flags);
        if (partsView.buffer !== engine.kernels.memory.buffer) partsView = engine.f64(parts, 3); // memory grew
        hard = partsView[1]!;
        soft = partsView[2]!;
      }
      if (hints) hints.compute(student, teacher.model!, ctx.rows);
      if (attention) attention.compute(student, teacher.model!, ctx.rows);
      const h = hints ? hints.loss : 0;
      const at = attention ? attention.loss : 0;
      sums.hard += hard * ctx.rows;
      sums.soft += soft * ctx.rows;
      sums.hint += h * ctx.rows;
      sums.attention += at * ctx.rows;
      sums.rows += ctx.rows;
      ctx.loss = total + h + at;
    };

    // A checkpoint records its stage; resuming the main stage skips the (finished) hint stage.
    const resumeStage = options.resume?.stage;
    let hintStage: TrainResult | undefined;
    if (hintEpochs > 0 && resumeStage !== "main") {
      hintStage = await runLoop(
        student,
        trainSet,
        validation,
        { ...options, epochs: hintEpochs, steps: undefined, earlyStopping: undefined },
        {
          ...hookBase,
          inject: hints?.inject, // only the hints are computed in this stage
          loss: (batch) => withTeacher(batch, hintOnlyLoss),
        },
        "hint",
      );
    }

    const mainOptions = resumeStage === "main" ? options : { ...options, resume: undefined };
    const main = await runLoop(
      student,
      trainSet,
      validation,
      mainOptions,
      {
        ...hookBase,
        epochStart: (epoch) => {
          temperature = temperatureAt(epoch);
          alpha = alphaAt(epoch);
        },
        loss: (batch) => withTeacher(batch, distillLoss),
      },
      "main",
    );

    const result: DistillResult = { ...main };
    if (hintStage) result.hintStage = hintStage;
    if (options.fineTune && main.stopReason !== "aborted") {
      // The fine-tuning stage takes no checkpoints of its own (pass options.fineTune.checkpoint for that).
      const labelled = (data as Dataset).labelled === data.length ? (data as Dataset) : (data as Dataset).labelledRows();
      result.fineTune = await train(student, labelled, { seed, batchSize: batch, validation: options.validation, ...options.fineTune });
    }
    if (quantize) {
      // The int8 weights are the fake-quantization codes of the final weights; the input scales are the observers'.
      const scales = student.fakeQuantInputScales();
      const net = quantizedNet(op, student, quantizable!, "int8", quantizeActivations ? "int8" : "float", (i) => {
        const scale = scales.get(i);
        if (scale === undefined) throw new ArgumentError(`${op}: layer ${i} saw no batch, so its input range is unknown; train for at least one step`);
        return scale;
      });
      result.quantized = new QuantizedModel(net, { engine });
    }
    return result;
  } finally {
    if (quantize) student.stopFakeQuantization();
    teacher.dispose();
    hints?.dispose();
    attention?.dispose();
    for (const p of owned) engine.free(p);
  }
}
