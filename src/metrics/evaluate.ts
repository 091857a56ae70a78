/**
 * Held-out metrics of a classifier: accuracy, top-k accuracy, negative log-likelihood,
 * expected calibration error with its reliability bins, and the confusion matrix; and the
 * agreement between a teacher and a student.
 *
 * The data is copied into wasm memory once and the model runs in batches (inference mode).
 * Probabilities and log-probabilities come from the kernels (softmax / log-softmax at
 * T = 1, KL from kl_div), so every transcendental is the same in every runtime; the
 * counting, comparing and averaging happen in JavaScript, where they are exact.
 */
import type { Dataset, MultiLabelDataset, RegressionDataset } from "../data/dataset.js";
import { evaluateRegression, type RegressionEvaluation } from "./regression.js";
import { evaluateMultiLabel, type MultiLabelEvaluation } from "./multi-label.js";
import { ArgumentError, OptionError, ShapeError, TaskError } from "../errors.js";
import type { Sequential } from "../nn/sequential.js";
import { copyToWasm } from "../data/wasm-data.js";
import { checkedElsewhere, checkOptions } from "../options/schema.js";
import { checkDataForModel, checkModelAndData } from "../data/fits-model.js";
import { QuantizedModel } from "../quantize/model.js";

export interface EvaluateOptions {
  /** k of the top-k accuracy: an integer in [1, model.outputs] (default min(5, outputs)). */
  topK?: number;
  /** Equal-width confidence bins over (0, 1] for the calibration error (default 15). */
  bins?: number;
  /** Rows per forward pass (default 256). */
  batchSize?: number;
}

/** One confidence bin (lower, upper]: its rows, their accuracy and mean confidence (0 when empty). */
export interface ReliabilityBin {
  lower: number;
  upper: number;
  count: number;
  accuracy: number;
  confidence: number;
}

export interface Evaluation {
  /** Fraction of rows whose argmax equals the label (ties go to the lowest class id). */
  accuracy: number;
  /** Fraction of rows whose label is among the k largest outputs (same tie rule). */
  topK: { k: number; accuracy: number };
  /** Mean of −log softmax(logits)[label]. */
  nll: number;
  /** Σ_b (n_b / n)·|accuracy_b − confidence_b| over the bins; confidence = max probability. */
  ece: number;
  /** The bins behind `ece`, lowest first (a reliability diagram). */
  reliability: ReliabilityBin[];
  /** (classes, classes) counts, row-major: row = true label, column = predicted class. */
  confusion: Int32Array;
  /** Rows evaluated. */
  count: number;
  /** model.outputs: the side of the confusion matrix. */
  classes: number;
}

export interface AgreementOptions {
  /** Rows per forward pass (default 256). */
  batchSize?: number;
}

export interface Agreement {
  /** Fraction of rows where the teacher's and the student's argmax agree. */
  top1: number;
  /** Mean over rows of KL(softmax(teacher) ‖ softmax(student)) at T = 1, in nats. */
  meanKl: number;
  count: number;
}

/** A positive integer option (OptionError otherwise). */
export function requireCount(op: string, name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw new OptionError(`${op}: ${name} must be a positive integer; got ${String(value)}`);
  }
  return value;
}

/** Runs `fn` with an allocator of owned wasm buffers that are all freed afterwards, even on a throw. */
function withOwned<T>(model: { engine: Sequential["engine"] }, fn: (alloc: (bytes: number) => number, owned: number[]) => T): T {
  const owned: number[] = [];
  try {
    return fn((bytes) => {
      const p = model.engine.allocOwned(bytes);
      owned.push(p);
      return p;
    }, owned);
  } finally {
    for (const p of owned) model.engine.free(p);
  }
}

/**
 * Evaluates a classifier on labelled data (see {@link Evaluation}), a regression model
 * on a regression dataset (see {@link RegressionEvaluation}: RMSE, MAE, R²), or a
 * multi-label model on a multi-label dataset (see {@link MultiLabelEvaluation}: subset and
 * per-label accuracy, micro and macro F1, mean BCE). A multi-label model on single-label
 * data, or the reverse, and a regression model on classification data, are a TaskError.
 */
export function evaluate(model: Sequential, data: MultiLabelDataset, options?: { batchSize?: number }): MultiLabelEvaluation;
export function evaluate(model: Sequential, data: RegressionDataset, options?: { batchSize?: number }): RegressionEvaluation;
export function evaluate(model: Sequential | QuantizedModel, data: Dataset, options?: EvaluateOptions): Evaluation;
export function evaluate(
  model: Sequential | QuantizedModel,
  data: Dataset,
  given: EvaluateOptions = {},
): Evaluation | RegressionEvaluation | MultiLabelEvaluation {
  if (model instanceof QuantizedModel) return evaluateClassifier(model, data, given);
  if (data && (data as Dataset).multiLabel) return evaluateMultiLabel(model, data, given);
  if (model && (model as Sequential).multiLabel) {
    throw new TaskError(
      `evaluate: the model is multi-label (a sigmoid per output) but the data is a ${data?.task ?? "missing"} dataset; evaluate it on Dataset.multiLabel data`,
    );
  }
  if (data && (data as Dataset).targets) return evaluateRegression(model, data, given);
  if (model && (model as Sequential).task === "regression") {
    throw new TaskError(
      `evaluate: the model is a regression model (real-valued outputs) but the data is a ${data?.task ?? "missing"} dataset; evaluate it on Dataset.regression data`,
    );
  }
  return evaluateClassifier(model, data, given);
}

/**
 * A quantized classifier on classification data: its logits come from its own runner (the
 * same as its `logits()`), copied into its engine's memory for the same metric kernels.
 */
function checkQuantized(op: string, model: QuantizedModel, data: Dataset): void {
  if (model.isDisposed) throw new ArgumentError(`${op}: the quantized model has been disposed`);
  if (model.task !== "classification" || !data || data.task !== "classification") {
    throw new TaskError(
      `${op}: a quantized model is evaluated as a classifier on classification data (this one is a ${model.task} model, the data ${data?.task ?? "missing"}); ` +
        "for other tasks compare its predict() with the targets",
    );
  }
  if (!(data.x instanceof Float32Array)) throw new ArgumentError(`${op}: data must be a Dataset (Dataset.from(x, y, { features }))`);
  checkDataForModel(op, data, model);
}

/** Where one batch's logits are in wasm memory: rows from `first` of the data copied in at x. */
type LogitsOf = (first: number, rows: number) => number;

function evaluateClassifier(model: Sequential | QuantizedModel, data: Dataset, given: EvaluateOptions): Evaluation {
  const op = "evaluate";
  const options = checkOptions(op, { topK: checkedElsewhere, bins: checkedElsewhere, batchSize: checkedElsewhere }, given);
  if (model instanceof QuantizedModel) checkQuantized(op, model, data);
  else checkModelAndData(op, model, data);
  const classes = model.outputs;
  const k = requireCount(op, "topK", options.topK ?? Math.min(5, classes));
  if (k > classes) throw new OptionError(`${op}: topK must be at most the number of outputs (${classes}); got ${k}`);
  const bins = requireCount(op, "bins", options.bins ?? 15);
  const batch = Math.min(requireCount(op, "batchSize", options.batchSize ?? 256), data.length);
  const engine = model.engine;
  const kernels = engine.kernels;

  const confusion = new Int32Array(classes * classes);
  const binCount = new Float64Array(bins);
  const binCorrect = new Float64Array(bins);
  const binConfidence = new Float64Array(bins);
  let correct = 0;
  let correctK = 0;
  let nllSum = 0;

  withOwned(model, (alloc, owned) => {
    const probs = alloc(batch * classes * 4);
    const logProbs = alloc(batch * classes * 4);
    const predicted = alloc(batch * 4);
    let logitsOf: LogitsOf;
    if (model instanceof QuantizedModel) {
      const out = alloc(batch * classes * 4);
      const width = data.features;
      logitsOf = (first, rows) => {
        // logits() may grow the memory (its first call of a batch size): the view is taken after it
        const z = model.logits(data.x.subarray(first * width, (first + rows) * width));
        engine.f32(out, rows * classes).set(z);
        return out;
      };
    } else {
      const x = copyToWasm(engine, data, owned).x;
      model.reserve(batch);
      logitsOf = (first, rows) => model.forward(x + first * data.features * 4, rows, false);
    }
    for (let first = 0; first < data.length; first += batch) {
      const rows = Math.min(batch, data.length - first);
      const logits = logitsOf(first, rows);
      kernels.softmax_forward(probs, logits, rows, classes, 1);
      kernels.log_softmax_forward(logProbs, logits, rows, classes, 1);
      kernels.argmax(predicted, logits, rows, classes);
      // Views are taken after the last wasm call of the batch (an allocation could detach them).
      const z = engine.f32(logits, rows * classes);
      const p = engine.f32(probs, rows * classes);
      const lp = engine.f32(logProbs, rows * classes);
      const ids = engine.i32(predicted, rows);
      for (let r = 0; r < rows; r++) {
        const label = data.y[first + r]!;
        const pred = ids[r]!;
        const row = r * classes;
        const hit = pred === label ? 1 : 0;
        correct += hit;
        confusion[label * classes + pred]!++;
        nllSum -= lp[row + label]!;
        // Rank of the label: classes strictly above it, plus equal ones with a lower id.
        const zl = z[row + label]!;
        let rank = 0;
        for (let c = 0; c < classes && rank < k; c++) {
          const v = z[row + c]!;
          if (v > zl || (v === zl && c < label)) rank++;
        }
        if (rank < k) correctK++;
        let confidence = 0;
        for (let c = 0; c < classes; c++) confidence = Math.max(confidence, p[row + c]!);
        const b = Math.min(bins, Math.max(1, Math.ceil(confidence * bins))) - 1;
        binCount[b]!++;
        binCorrect[b]! += hit;
        binConfidence[b]! += confidence;
      }
    }
  });

  const n = data.length;
  let ece = 0;
  const reliability: ReliabilityBin[] = [];
  for (let b = 0; b < bins; b++) {
    const count = binCount[b]!;
    ece += Math.abs(binCorrect[b]! - binConfidence[b]!) / n;
    reliability.push({
      lower: b / bins,
      upper: (b + 1) / bins,
      count,
      accuracy: count ? binCorrect[b]! / count : 0,
      confidence: count ? binConfidence[b]! / count : 0,
    });
  }
  return {
    accuracy: correct / n,
    topK: { k, accuracy: correctK / n },
    nll: nllSum / n,
    ece,
    reliability,
    confusion,
    count: n,
    classes,
  };
}

/** How closely a student follows a teacher on the inputs of `data` (labels are not used). */
export function agreement(teacher: Sequential, student: Sequential, data: Dataset, given: AgreementOptions = {}): Agreement {
  const op = "agreement";
  const options = checkOptions(op, { batchSize: checkedElsewhere }, given);
  checkModelAndData(op, teacher, data, true);
  checkModelAndData(op, student, data, true);
  if (teacher.multiLabel || student.multiLabel || data.multiLabel) {
    throw new TaskError(
      `${op}: compares softmax distributions (top-1 agreement, KL); for multi-label models compare evaluate()'s metrics on Dataset.multiLabel data`,
    );
  }
  if (teacher.inputs !== student.inputs) {
    throw new ShapeError(`${op}: the teacher takes ${teacher.inputs} inputs but the student takes ${student.inputs}; they must match`);
  }
  if (teacher.outputs !== student.outputs) {
    throw new ShapeError(`${op}: the teacher has ${teacher.outputs} outputs but the student has ${student.outputs}; they must match`);
  }
  if (teacher.engine !== student.engine) {
    throw new ArgumentError(`${op}: the teacher and the student run on different engines; create both on the same one`);
  }
  const batch = Math.min(requireCount(op, "batchSize", options.batchSize ?? 256), data.length);
  const classes = student.outputs;
  const engine = student.engine;
  let agree = 0;
  let klSum = 0;

  withOwned(student, (alloc, owned) => {
    const wasm = copyToWasm(engine, data, owned);
    const teacherIds = alloc(batch * 4);
    const studentIds = alloc(batch * 4);
    teacher.reserve(batch);
    student.reserve(batch);
    for (let first = 0; first < data.length; first += batch) {
      const rows = Math.min(batch, data.length - first);
      const x = wasm.x + first * data.features * 4;
      // Separate models keep separate output buffers, so the teacher's logits survive the
      // student's forward pass (and the same model given twice recomputes the same values).
      const t = teacher.forward(x, rows, false);
      engine.kernels.argmax(teacherIds, t, rows, classes);
      const s = student.forward(x, rows, false);
      engine.kernels.argmax(studentIds, s, rows, classes);
      klSum += engine.kernels.kl_div(0, s, t, rows, classes, 1) * rows;
      const ti = engine.i32(teacherIds, rows);
      const si = engine.i32(studentIds, rows);
      for (let r = 0; r < rows; r++) if (ti[r] === si[r]) agree++;
    }
  });

  return { top1: agree / data.length, meanKl: klSum / data.length, count: data.length };
}
