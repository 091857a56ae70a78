/**
 * The options schema of `train` (and the part of `distill` / `searchTemperature` they
 * share): every key a TrainOptions object may have, with the rule for its value. Checks
 * that need the data or the model (batch size against the rows, validation data against
 * the model's inputs) happen where those are known (resolveRun, resolveValidation).
 */
import { OptionError } from "../errors.js";
import { boolean, checkedElsewhere, checkOptions, func, number, oneOf, positiveInteger, shape, show, type Rule, type Schema } from "../options/schema.js";
import { checkSchedule, type ScheduleSpec } from "./schedule.js";
import { resolveOptimizer } from "./optimizer.js";
import { classWeightsRule } from "./class-weights.js";

const SGD: Schema = {
  type: oneOf(["sgd"]),
  lr: checkedElsewhere,
  momentum: checkedElsewhere,
  nesterov: boolean,
  weightDecay: checkedElsewhere,
};
const ADAM: Schema = {
  type: oneOf(["adam", "adamw"]),
  lr: checkedElsewhere,
  beta1: checkedElsewhere,
  beta2: checkedElsewhere,
  eps: checkedElsewhere,
  weightDecay: checkedElsewhere,
};

/** "sgd" | "momentum" | "adam" | "adamw" or { type, ... } with that type's keys; the numbers by resolveOptimizer. */
const optimizer: Rule = (v, name) => {
  if (v !== null && typeof v === "object" && !Array.isArray(v)) {
    const type = (v as { type?: unknown }).type;
    if (type === "sgd") shape(SGD)(v, name);
    else if (type === "adam" || type === "adamw") shape(ADAM)(v, name);
  }
  resolveOptimizer(v as never);
  return v;
};

/** A schedule, or its name where it needs no numbers: "constant" and "cosine" mean { type: "constant" } and { type: "cosine" }. */
const schedule: Rule = (v, name) => {
  let spec: unknown = v;
  if (typeof v === "string") {
    if (v === "constant" || v === "cosine") spec = { type: v };
    else throw new OptionError(`${name} must be "constant", "cosine" or { type: "step", every, gamma } (a step schedule needs its numbers); got ${show(v)}`);
  } else if (v !== null && typeof v === "object" && !Array.isArray(v)) {
    const type = (v as { type?: unknown }).type;
    const keys: Schema =
      type === "step"
        ? { type: checkedElsewhere, every: checkedElsewhere, gamma: checkedElsewhere }
        : type === "cosine"
          ? { type: checkedElsewhere, minLr: checkedElsewhere }
          : { type: checkedElsewhere };
    shape(keys)(v, name);
  }
  checkSchedule({ schedule: spec as ScheduleSpec });
  return spec;
};

const earlyStopping = shape(
  {
    patience: (v, name) => positiveInteger(v, name),
    monitor: oneOf(["loss", "accuracy"]),
    minDelta: number({ min: 0 }),
    restoreBest: boolean,
  },
  ["patience"],
);

/** A rule for an object with its own keys, or one other accepted value (a function, `false`). */
function objectOr(other: Rule, otherName: string, keys: Schema): Rule {
  const asObject = shape(keys);
  return (v, name) => {
    if (v !== null && typeof v === "object" && !Array.isArray(v)) return asObject(v, name);
    try {
      return other(v, name);
    } catch {
      throw new OptionError(`${name} must be ${otherName} or { ${Object.keys(keys).join(", ")} }; got ${show(v)}`);
    }
  };
}

/** Built-in augmentation { shift, noise, side } (checked again against the image size when training starts) or a function. */
const augment = objectOr(func, "a function (x, rows, features) => void", {
  shift: number({ integer: true, min: 0 }),
  noise: number({ min: 0 }),
  side: positiveInteger,
});

const divergence = objectOr(oneOf([false]), "false", { lossFactor: number({ above: 1 }), deadSteps: positiveInteger, chance: boolean });

export const TRAIN_SCHEMA: Schema = {
  epochs: positiveInteger,
  steps: positiveInteger,
  batchSize: positiveInteger,
  optimizer,
  lr: number({ above: 0, float32: true }),
  schedule,
  warmupSteps: number({ integer: true, min: 0 }),
  clipNorm: number({ above: 0, float32: true }),
  maxNorm: number({ above: 0, float32: true }),
  validation: checkedElsewhere,
  earlyStopping,
  seed: number({ integer: true, min: 0 }),
  onEpoch: func,
  onBatch: func,
  signal: checkedElsewhere,
  augment,
  checkpoint: shape({ every: positiveInteger, save: func }, ["every", "save"]),
  resume: checkedElsewhere,
  divergence,
  loss: oneOf(["cross-entropy", "mse", "binary-cross-entropy"]),
  classWeights: classWeightsRule,
};

/** The options of `train`, checked and normalised (see TRAIN_SCHEMA). */
export function checkTrainOptions<T extends object>(op: string, options: T | undefined, schema: Schema = TRAIN_SCHEMA, required: readonly string[] = []): T {
  return checkOptions(op, schema, options, required);
}
