/** `train(model, data, options)`: supervised training on hard labels (teachers, and students from scratch). */
import { MISSING_LABEL, type Dataset } from "../data/dataset.js";
import { ArgumentError, OptionError, ShapeError, TaskError } from "../errors.js";
import type { Sequential } from "../nn/sequential.js";
import { augmentHook } from "./augment.js";
import { checkDataForModel, checkModelAndData } from "../data/fits-model.js";
import { isStream, type StreamDataset } from "../data/stream/stream-dataset.js";

export { checkModelAndData };
import { resolveRun, runLoop, type TrainOptions, type TrainResult } from "./loop.js";
import { checkTrainOptions } from "./options.js";
import { resolveClassWeights } from "./class-weights.js";

/** Class weights (outputs) f32 copied into a wasm block the caller frees (pushed on `owned`). */
export function copyWeights(model: Sequential, weights: Float32Array, owned: number[]): number {
  const p = model.engine.allocOwned(weights.length * 4);
  owned.push(p);
  model.engine.f32(p, weights.length).set(weights);
  return p;
}

/** Splits off the validation set named by options (a Dataset, or a fraction of data). */
export function resolveValidation(
  op: string,
  model: Sequential,
  data: Dataset | StreamDataset,
  options: TrainOptions,
): { train: Dataset | StreamDataset; validation?: Dataset } {
  const v = options.validation;
  if (v === undefined) return { train: data };
  if (typeof v === "number") {
    if (isStream(data)) throw new OptionError(`${op}: validation as a fraction splits rows held in memory; with a StreamDataset pass validation as a Dataset`);
    if (!(v > 0 && v < 1)) throw new OptionError(`${op}: validation as a fraction must be in (0, 1); got ${v}`);
    const split = { seed: options.seed ?? 0, stratified: true, engine: model.engine };
    if (data.labelled === data.length) return data.split(v, split);
    // The validation rows come from the labelled rows; the unlabelled ones all stay for training.
    const labelled = data.labelledRows();
    if (labelled.length < 2) throw new OptionError(`${op}: validation ${v} needs at least 2 labelled rows; data has ${labelled.length}`);
    const { train, validation } = labelled.split(v, split);
    const unlabelled: number[] = [];
    for (let i = 0; i < data.length; i++) if (data.y[i] === MISSING_LABEL) unlabelled.push(i);
    return { train: train.concat(data.subset(unlabelled)), validation };
  }
  checkDataForModel(op, v, model, "validation");
  if (v.task !== data.task) {
    const Mismatch = v.multiLabel || data.multiLabel ? TaskError : ShapeError;
    throw new Mismatch(`${op}: validation is a ${v.task} dataset but data is a ${data.task} one; they must be of the same task`);
  }
  return { train: data, validation: v };
}

/** The hard loss for data's task: the given one, which must match it, or the task's own. */
export function resolveHardLoss(op: string, data: Dataset | StreamDataset, loss: TrainOptions["loss"]): "cross-entropy" | "mse" | "binary-cross-entropy" {
  const task = data.task;
  const needed = task === "multilabel" ? "binary-cross-entropy" : task === "regression" ? "mse" : "cross-entropy";
  if (loss !== undefined && loss !== needed) {
    const what = {
      multilabel: "a multi-label dataset (yes/no labels)",
      regression: "a regression dataset (real-valued targets)",
      classification: "a classification dataset (class labels)",
    }[task];
    throw new OptionError(`${op}: loss "${loss}" does not fit ${what}; use "${needed}"`);
  }
  return needed;
}

/**
 * The model's task against the data's: a multi-label model trains on multi-label data only,
 * a regression model on regression data only (TaskError otherwise). A model trained on
 * multi-label or regression data takes that task (`mark`, called once every check has
 * passed), so that predict() and its model file say what its outputs mean; a classifier's
 * task stays (a model loaded from a file written before files recorded the task may be a
 * regression model read as a classifier: it trains on regression data and becomes one).
 */
export function checkModelTask(op: string, model: Sequential, data: Pick<Dataset, "multiLabel" | "task">, what = "the model"): { mark(): void } {
  if (model.multiLabel && !data.multiLabel) {
    throw new TaskError(
      `${op}: ${what} is multi-label (a sigmoid per output) but the data is a ${data.task} dataset; use Dataset.multiLabel data, or a model that is not multi-label`,
    );
  }
  if (model.task === "regression" && data.task !== "regression") {
    throw new TaskError(
      `${op}: ${what} is a regression model (real-valued outputs) but the data is a ${data.task} dataset; use Dataset.regression data, or a model whose task is not "regression"`,
    );
  }
  return {
    mark: () => {
      if (data.task !== "classification") model.task = data.task;
    },
  };
}

/**
 * Minibatch training with cross-entropy on the labels, or (a regression dataset) the
 * mean squared error against the targets, or (a multi-label dataset) the mean binary
 * cross-entropy of a sigmoid per label. Returns the per-epoch history.
 * Throws DivergenceError (with the last finite-loss weights restored) if the loss blows up.
 */
export async function train(model: Sequential, data: Dataset | StreamDataset, given: TrainOptions = {}): Promise<TrainResult> {
  const options = checkTrainOptions("train", given);
  checkModelAndData("train", model, data);
  const hardLoss = resolveHardLoss("train", data, options.loss);
  const regression = hardLoss === "mse";
  const task = checkModelTask("train", model, data);
  const { train: trainSet, validation } = resolveValidation("train", model, data, options);
  const k = model.engine.kernels;
  resolveRun(options, trainSet.length, trainSet.task);
  const weights = resolveClassWeights("train", options.classWeights, trainSet, model.outputs);
  const owned: number[] = [];
  try {
    model.reserve(Math.min(options.batchSize ?? 64, trainSet.length));
    const augment = options.augment ? augmentHook(model, options.augment, model.inputs, options.seed ?? 0, owned) : undefined;
    const weightsPtr = weights ? copyWeights(model, weights, owned) : 0;
    task.mark();
    return await runLoop(model, trainSet, validation, options, {
      augment: augment?.apply,
      rngs: augment?.rng ? [augment.rng] : [],
      loss:
        hardLoss === "binary-cross-entropy"
          ? (ctx) => {
              // PyTorch's BCEWithLogitsLoss(reduction="mean") over rows · labels values.
              ctx.loss = k.bce_logits(ctx.grad, ctx.logits, ctx.targets, ctx.y, ctx.rows, model.outputs);
            }
          : regression
            ? (ctx) => {
                // Every row has its target (checked above): PyTorch's mse_loss over rows · outputs values.
                const n = ctx.rows * model.outputs;
                ctx.loss = k.mse(ctx.grad, ctx.logits, ctx.targets, n, 1 / n);
              }
            : weightsPtr
              ? (ctx) => {
                  ctx.loss = k.cross_entropy_weighted(ctx.grad, ctx.logits, ctx.y, weightsPtr, ctx.rows, model.outputs);
                }
              : (ctx) => {
                  ctx.loss = k.cross_entropy(ctx.grad, ctx.logits, ctx.y, ctx.rows, model.outputs);
                },
      ...(weights ? { fingerprint: () => ({ classWeights: Array.from(weights) }) } : {}),
    });
  } finally {
    for (const p of owned) model.engine.free(p);
  }
}
