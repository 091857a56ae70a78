/** The numbers of a training run (epochs, step budget, batch, seed) and its optimizer, from checked options. */
import type { Dataset } from "../data/dataset.js";
import { OptionError } from "../errors.js";
import type { TrainOptions } from "./loop.js";
import { resolveOptimizer, type OptimizerSpec } from "./optimizer.js";

export interface ResolvedRun {
  epochs: number;
  maxSteps: number;
  batchSize: number;
  seed: number;
}

/** The optimizer named by the options (default: SGD, momentum 0.9, lr 0.05), with `lr` applied. */
export function optimizerWithLr(options: TrainOptions): OptimizerSpec {
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
