/**
 * Losses on plain arrays, each returning the batch-mean loss and its gradient with
 * respect to the (student) logits, computed in one wasm pass.
 */
import { checkOptions, knownKeys } from "../options/schema.js";
import type { Engine } from "../engine.js";
import { getEngine } from "../init.js";
import {
  requireAlpha,
  requireArray,
  requireChoice,
  requireDim,
  requireFinite,
  requireLabels,
  requireLength,
  requireTemperature,
  rowsOf,
  type FloatArray,
  type LabelArray,
} from "../validate.js";

export interface LossResult {
  /** Mean loss over the batch. */
  loss: number;
  /** ∂loss/∂logits, same shape as the logits. */
  grad: Float32Array;
}

export interface DistillationLossResult extends LossResult {
  /** Cross-entropy with the hard labels. */
  hard: number;
  /** T²·KL(teacher_T ‖ student_T). */
  soft: number;
}

export interface EngineOption {
  engine?: Engine;
}

export interface TemperatureOption extends EngineOption {
  /** Softening temperature T (default 1). */
  temperature?: number;
}

export interface DistillationOptions extends TemperatureOption {
  /** Weight of the hard-label loss in [0, 1]: loss = α·CE + (1 − α)·T²·KL. Required. */
  alpha: number;
}

/** Validates a (rows, classes) logit matrix and returns rows. */
function logitRows(op: string, name: string, x: unknown, classes: number): [ArrayLike<number>, number] {
  const arr = requireArray(op, name, x);
  const rows = rowsOf(op, name, arr, classes);
  requireFinite(op, name, arr, classes);
  return [arr, rows];
}

/**
 * Mean cross-entropy of softmax(logits) against integer labels.
 * logits: flat (rows, classes); labels: rows integers in [0, classes).
 */
export function crossEntropy(logits: FloatArray, labels: LabelArray, classes: number, options: EngineOption = {}): LossResult {
  const op = "crossEntropy";
  options = checkOptions(op, knownKeys("engine"), options);
  const cols = requireDim(op, "classes", classes);
  const [x, rows] = logitRows(op, "logits", logits, cols);
  const y = requireLabels(op, labels, rows, cols);
  const engine = options.engine ?? getEngine();
  return engine.scoped(() => {
    const xPtr = engine.putF32(x);
    const yPtr = engine.putI32(y);
    const gPtr = engine.allocF32(x.length);
    const loss = engine.kernels.cross_entropy(gPtr, xPtr, yPtr, rows, cols);
    return { loss, grad: engine.readF32(gPtr, x.length) };
  });
}

/**
 * T²·KL(softmax(teacher/T) ‖ softmax(student/T)), averaged over rows (PyTorch's
 * `F.kl_div(F.log_softmax(s/T), F.softmax(t/T), reduction="batchmean") * T*T`).
 */
export function klDivergence(studentLogits: FloatArray, teacherLogits: FloatArray, classes: number, options: TemperatureOption = {}): LossResult {
  const op = "klDivergence";
  options = checkOptions(op, knownKeys("temperature", "engine"), options);
  const cols = requireDim(op, "classes", classes);
  const [s, rows] = logitRows(op, "studentLogits", studentLogits, cols);
  const [t] = logitRows(op, "teacherLogits", teacherLogits, cols);
  requireLength(op, "teacherLogits", t, s.length, `${rows} rows × ${cols} classes, like studentLogits`);
  const temperature = requireTemperature(op, options.temperature ?? 1, s, t);
  const engine = options.engine ?? getEngine();
  return engine.scoped(() => {
    const sPtr = engine.putF32(s);
    const tPtr = engine.putF32(t);
    const gPtr = engine.allocF32(s.length);
    const loss = engine.kernels.kl_div(gPtr, sPtr, tPtr, rows, cols, temperature);
    return { loss, grad: engine.readF32(gPtr, s.length) };
  });
}

/**
 * The knowledge-distillation loss of Hinton et al. (2015):
 * α·CE(labels, student) + (1 − α)·T²·KL(teacher_T ‖ student_T), with both parts.
 */
export function distillationLoss(
  studentLogits: FloatArray,
  teacherLogits: FloatArray,
  labels: LabelArray,
  classes: number,
  options: DistillationOptions,
): DistillationLossResult {
  const op = "distillationLoss";
  options = checkOptions(op, knownKeys("temperature", "alpha", "engine"), options, ["alpha"]);
  const cols = requireDim(op, "classes", classes);
  const [s, rows] = logitRows(op, "studentLogits", studentLogits, cols);
  const [t] = logitRows(op, "teacherLogits", teacherLogits, cols);
  requireLength(op, "teacherLogits", t, s.length, `${rows} rows × ${cols} classes, like studentLogits`);
  const y = requireLabels(op, labels, rows, cols);
  const alpha = requireAlpha(op, options?.alpha);
  const temperature = requireTemperature(op, options.temperature ?? 1, s, t);
  const engine = options.engine ?? getEngine();
  return engine.scoped(() => {
    const outPtr = engine.alloc(3 * 8);
    const sPtr = engine.putF32(s);
    const tPtr = engine.putF32(t);
    const yPtr = engine.putI32(y);
    const gPtr = engine.allocF32(s.length);
    engine.kernels.distill_loss(outPtr, gPtr, sPtr, tPtr, yPtr, rows, cols, temperature, alpha, 0);
    const [loss, hard, soft] = engine.f64(outPtr, 3);
    return { loss: loss!, hard: hard!, soft: soft!, grad: engine.readF32(gPtr, s.length) };
  });
}

export interface MseOptions extends EngineOption {
  /** "mean" (default, PyTorch's mse_loss): over all elements; "sum": no division. */
  reduction?: "mean" | "sum";
}

/** Mean squared error between two equal-length arrays (logit matching, feature hints). */
export function mseLoss(prediction: FloatArray, target: FloatArray, options: MseOptions = {}): LossResult {
  const op = "mseLoss";
  options = checkOptions(op, knownKeys("reduction", "engine"), options);
  const p = requireArray(op, "prediction", prediction);
  const q = requireArray(op, "target", target);
  if (p.length === 0) requireDim(op, "prediction.length", 0);
  requireLength(op, "target", q, p.length, "the length of prediction");
  requireFinite(op, "prediction", p);
  requireFinite(op, "target", q);
  const reduction = requireChoice(op, "reduction", options.reduction ?? "mean", ["mean", "sum"] as const);
  const scale = reduction === "mean" ? 1 / p.length : 1;
  const engine = options.engine ?? getEngine();
  return engine.scoped(() => {
    const pPtr = engine.putF32(p);
    const qPtr = engine.putF32(q);
    const gPtr = engine.allocF32(p.length);
    const loss = engine.kernels.mse(gPtr, pPtr, qPtr, p.length, scale);
    return { loss, grad: engine.readF32(gPtr, p.length) };
  });
}
