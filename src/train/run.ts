/** The numbers of a training run (epochs, step budget, batch, seed) and its optimizer, from checked options. */
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
export function resolveRun(options: TrainOptions, dataLength: number): ResolvedRun {
  const batchSize = options.batchSize ?? 64;
  if (batchSize > dataLength) {
    throw new OptionError(`batchSize ${batchSize} is larger than the training data (${dataLength} samples); use a batch size ≤ ${dataLength}`);
  }
  const maxSteps = options.steps ?? Infinity;
  const epochs = options.epochs ?? (options.steps === undefined ? 10 : Infinity);
  if (options.earlyStopping && options.validation === undefined) {
    throw new OptionError("earlyStopping needs validation data: pass validation (a Dataset or a fraction)");
  }
  resolveOptimizer(optimizerWithLr(options)); // lr and the optimizer's own numbers together
  return { epochs, maxSteps, batchSize, seed: options.seed ?? 0 };
}
