/**
 * What `distill` takes and gives: its options (those of `train` plus the teacher, the
 * student and the distillation's own), its result, and DISTILL_SCHEMA, the one rule set
 * its options are checked against (searchTemperature's schema is derived from it).
 */
import type { Dataset } from "../data/dataset.js";
import type { StreamDataset } from "../data/stream/stream-dataset.js";
import { ArgumentError } from "../errors.js";
import type { Sequential } from "../nn/sequential.js";
import { checkedElsewhere, oneOf, shape, type Schema } from "../options/schema.js";
import type { QuantizedModel } from "../quantize/model.js";
import type { TrainOptions, TrainResult } from "../train/loop.js";
import { checkTrainOptions, TRAIN_SCHEMA } from "../train/options.js";
import type { AttentionSpec } from "./attention.js";
import type { HintSpec } from "./hints.js";
import type { Teacher } from "./teacher.js";

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

/**
 * Step 1, resolve options: `given` (anything the caller passed) → the options checked
 * against DISTILL_SCHEMA (unknown keys refused with the closest name), normalised.
 */
export function resolveDistillOptions(op: string, given: DistillOptions): DistillOptions {
  if (!given || typeof given !== "object") throw new ArgumentError(`${op}: expects an options object { teacher, student, data, ... }`);
  return checkTrainOptions(op, given, DISTILL_SCHEMA);
}
