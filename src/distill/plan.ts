/**
 * Step 2 of distill, resolve data and teacher: the checked options → a DistillPlan, the
 * run's every decision (data with its transfer rows, losses, teacher source, hints and
 * attention pairs, the validation split, class weights, the T and α schedules). Every
 * refusal of the options, the data or the teacher happens here, before any wasm memory
 * is taken for the run (the teacher source allocates nothing until it is prepared).
 */
import type { Dataset } from "../data/dataset.js";
import { isStream, type StreamDataset } from "../data/stream/stream-dataset.js";
import type { Engine } from "../engine.js";
import { OptionError } from "../errors.js";
import type { Sequential } from "../nn/sequential.js";
import { quantizableLayersOf } from "../quantize/quantize.js";
import type { QuantizableLayers } from "../quantize/layers.js";
import { resolveClassWeights } from "../train/class-weights.js";
import { resolveRun } from "../train/loop.js";
import { checkModelAndData, checkModelTask, resolveHardLoss, resolveValidation } from "../train/train.js";
import type { AttentionSpec } from "./attention.js";
import { epochValue } from "./epoch-value.js";
import type { HintSpec } from "./hints.js";
import type { DistillOptions } from "./options.js";
import { checkStreamDistillation } from "./stream-checks.js";
import { checkMultiLabelTeacher, checkRegressionOptions } from "./task-checks.js";
import { TEACHER_IN_DATA, TeacherSource } from "./teacher.js";
import { withTransfer } from "./transfer.js";

export type SoftLoss = NonNullable<DistillOptions["softLoss"]>;

/** Everything a distillation run is made of, decided and checked. */
export interface DistillPlan {
  op: string;
  options: DistillOptions;
  student: Sequential;
  engine: Engine;
  /** `data` followed by the transfer rows (unlabelled). */
  data: Dataset | StreamDataset;
  /** The data's task: regression (hard and soft loss are MSEs), multi-label (BCE), else classification. */
  regression: boolean;
  multiLabel: boolean;
  softLoss: SoftLoss;
  teacher: TeacherSource;
  /** Marks the student multi-label when the data is (once the run starts). */
  studentTask: { mark(): void };
  hintSpecs: HintSpec[];
  attentionSpecs: AttentionSpec[];
  hintEpochs: number;
  /** Quantization-aware distillation: the formats, and the layers the int8 model is made of. */
  quantize?: { activations: "int8" | "float"; layers: QuantizableLayers };
  /** The rows trained on (data without the validation split) and the validation rows. */
  trainSet: Dataset | StreamDataset;
  validation?: Dataset;
  /** Class weights of the hard term (classification only), or undefined for none. */
  weights?: Float32Array;
  /** Epochs of the main stage (Infinity when it runs a number of steps), and the epochs its schedules span. */
  epochs: number;
  epochCount: number;
  batch: number;
  seed: number;
  temperatureAt: (epoch: number) => number;
  alphaAt: (epoch: number) => number;
}

/** The checked options → the plan, or the first refusal (each message names the option, the data or the teacher at fault). */
export function resolvePlan(op: string, options: DistillOptions): DistillPlan {
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
  const teacherInData = checkStreamDistillation(op, options, data, regression);
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
  const quantizable = options.quantize ? quantizableLayersOf(op, student) : undefined;
  if (options.quantize && (options.checkpoint || options.resume)) {
    throw new OptionError(`${op}: quantize cannot be combined with checkpoint or resume (the activation observers' ranges are not saved in checkpoints)`);
  }
  const { train: trainSet, validation } = resolveValidation(op, student, data, options);
  resolveRun(options, trainSet.length, trainSet.task); // option errors before any teacher work
  const weights = resolveClassWeights(op, options.classWeights, trainSet, student.outputs);
  const epochs = options.epochs ?? (options.steps === undefined ? 10 : Infinity);
  const temperatureAt = epochValue("temperature", options.temperature ?? 4, epochs, (t) => t > 0 && Number.isFinite(t), "a finite number > 0");
  const alphaAt = epochValue("alpha", options.alpha ?? (data.labelled === 0 ? 0 : 0.1), epochs, (a) => a >= 0 && a <= 1, "in [0, 1]");
  const batch = options.batchSize ?? 64;
  return {
    op,
    options,
    student,
    engine,
    data,
    regression,
    multiLabel,
    softLoss,
    teacher,
    studentTask,
    hintSpecs,
    attentionSpecs,
    hintEpochs,
    quantize: quantizable ? { activations: options.quantize!.activations ?? "int8", layers: quantizable } : undefined,
    trainSet,
    validation,
    weights,
    epochs,
    epochCount: Math.min(1000, Number.isFinite(epochs) ? epochs : Math.ceil((options.steps ?? 0) / Math.ceil(trainSet.length / batch))),
    batch,
    seed: options.seed ?? 0,
    temperatureAt,
    alphaAt,
  };
}
