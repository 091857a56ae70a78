/**
 * Flags shared by the training commands, and their translation into library options:
 * architecture, training budget, optimizer, schedule, regularisation and augmentation.
 */
import type { Dataset } from "../data/dataset.js";
import { mlp } from "../nn/mlp.js";
import { Sequential } from "../nn/sequential.js";
import { parseArchitecture } from "./arch.js";
import type { ActivationName } from "../nn/layers.js";
import type { Augment } from "../train/augment.js";
import type { TrainOptions } from "../train/loop.js";
import type { OptimizerSpec } from "../train/optimizer.js";
import type { ScheduleSpec } from "../train/schedule.js";
import { checkpointToFile, readCheckpoint } from "../train/checkpoint-file.js";
import { UsageError, type Flags, type FlagSpec } from "./args.js";

export const DATA_FLAGS: Record<string, FlagSpec> = {
  data: { kind: "string", help: "mnist | idx:DIR | csv:FILE | npy:X.npy,y.npy", default: "mnist" },
  "test-split": { kind: "number", help: "fraction held out for testing when the source has no test set", min: 0, max: 0.9 },
  seed: { kind: "int", help: "seed of initialisation, shuffling, splits and augmentation", default: 1, min: 0 },
  json: { kind: "boolean", help: "print one JSON document instead of progress and tables" },
};

export const MODEL_FLAGS: Record<string, FlagSpec> = {
  arch: { kind: "string", help: "784-512-512-10 (MLP) or 1x28x28-conv8k3p1-relu-maxpool2-flatten-10 (layer list)" },
  activation: { kind: "string", help: "relu | leaky_relu | tanh | sigmoid | gelu", default: "relu" },
  dropout: { kind: "number", help: "dropout after each hidden layer", default: 0, min: 0, max: 0.95 },
};

export const TRAIN_FLAGS: Record<string, FlagSpec> = {
  epochs: { kind: "int", help: "passes over the training data", default: 10, min: 1 },
  steps: { kind: "int", help: "stop after this many optimizer steps", min: 1 },
  "batch-size": { kind: "int", help: "samples per step", default: 64, min: 1 },
  optimizer: { kind: "string", help: "sgd | momentum | adam | adamw", default: "momentum" },
  lr: { kind: "number", help: "learning rate (default: 0.05 for SGD, 0.001 for Adam)", min: 0 },
  momentum: { kind: "number", help: "SGD momentum (with --optimizer sgd/momentum)", min: 0, max: 0.999 },
  nesterov: { kind: "boolean", help: "Nesterov momentum" },
  "weight-decay": { kind: "number", help: "L2 (SGD, Adam) or decoupled (AdamW) weight decay", min: 0 },
  schedule: { kind: "string", help: "constant | cosine | step:EVERY:GAMMA", default: "constant" },
  warmup: { kind: "int", help: "linear warm-up steps", min: 0 },
  "clip-norm": { kind: "number", help: "clip gradients to this global L2 norm", min: 0 },
  validation: { kind: "number", help: "fraction of the training data held out for validation", min: 0, max: 0.9 },
  patience: { kind: "int", help: "early stopping: epochs without validation improvement", min: 1 },
  augment: { kind: "string", help: "shift=K,noise=SIGMA (square images)" },
};

/** The dense widths of an MLP --arch (commands that build several students from widths). */
export function parseArch(text: unknown): number[] {
  const arch = parseArchitecture(text);
  if (!arch.widths) throw new UsageError(`--arch: this command needs an MLP architecture such as 784-32-10; got ${JSON.stringify(text)}`);
  return arch.widths;
}

/** The model named by --arch (an MLP, or a layer list with an input shape) for this data. */
export function buildModel(flags: Flags, data: Dataset, seed: number): Sequential {
  const arch = parseArchitecture(flags.arch);
  if (arch.widths) {
    if (arch.widths[0] !== data.features) {
      throw new UsageError(`--arch starts with ${arch.widths[0]} inputs but the data has ${data.features} features`);
    }
    return mlp(arch.widths, { seed, activation: flags.activation as ActivationName, dropout: flags.dropout as number });
  }
  const size = arch.inputShape!.reduce((a, b) => a * b, 1);
  if (size !== data.features) {
    throw new UsageError(`--arch takes ${arch.inputShape!.join("×")} = ${size} inputs but the data has ${data.features} features`);
  }
  return new Sequential(arch.layers!, { seed, inputShape: arch.inputShape! });
}

function parseOptimizer(flags: Flags): OptimizerSpec {
  const name = flags.optimizer as string;
  const wd = flags["weight-decay"] as number | undefined;
  if (name === "sgd" || name === "momentum") {
    const momentum = (flags.momentum as number | undefined) ?? (name === "momentum" ? 0.9 : 0);
    return { type: "sgd", lr: (flags.lr as number | undefined) ?? 0.05, momentum, nesterov: Boolean(flags.nesterov), weightDecay: wd ?? 0 };
  }
  if (name === "adam" || name === "adamw") {
    return { type: name, lr: (flags.lr as number | undefined) ?? 1e-3, ...(wd !== undefined ? { weightDecay: wd } : {}) };
  }
  throw new UsageError(`--optimizer must be sgd, momentum, adam or adamw; got ${JSON.stringify(name)}`);
}

function parseSchedule(text: string): ScheduleSpec {
  if (text === "constant" || text === "cosine") return { type: text };
  const m = /^step:(\d+):([0-9.eE+-]+)$/.exec(text);
  if (m) return { type: "step", every: Number(m[1]), gamma: Number(m[2]) };
  throw new UsageError(`--schedule must be constant, cosine or step:EVERY:GAMMA (e.g. step:5:0.5); got ${JSON.stringify(text)}`);
}

export function parseAugment(text: unknown): Augment | undefined {
  if (text === undefined) return undefined;
  const augment: { shift?: number; noise?: number } = {};
  for (const part of String(text).split(",")) {
    const [key, value] = part.split("=");
    const v = Number(value);
    if ((key === "shift" && Number.isInteger(v) && v >= 0) || (key === "noise" && v >= 0 && Number.isFinite(v))) augment[key] = v;
    else throw new UsageError(`--augment takes shift=K (integer ≥ 0) and noise=SIGMA (≥ 0), e.g. shift=2,noise=0.05; got ${JSON.stringify(part)}`);
  }
  return augment;
}

/** The library's TrainOptions for the training flags. */
export function trainOptions(flags: Flags): TrainOptions {
  const options: TrainOptions = {
    epochs: flags.epochs as number,
    batchSize: flags["batch-size"] as number,
    optimizer: parseOptimizer(flags),
    schedule: parseSchedule(flags.schedule as string),
    seed: flags.seed as number,
  };
  if (flags.steps !== undefined) options.steps = flags.steps as number;
  if (flags.warmup !== undefined) options.warmupSteps = flags.warmup as number;
  if (flags["clip-norm"] !== undefined) options.clipNorm = flags["clip-norm"] as number;
  if (flags.validation !== undefined) options.validation = flags.validation as number;
  if (flags.patience !== undefined) {
    if (flags.validation === undefined) throw new UsageError("--patience needs --validation FRACTION to watch");
    options.earlyStopping = { patience: flags.patience as number };
  }
  const augment = parseAugment(flags.augment);
  if (augment) options.augment = augment;
  return options;
}

export const CHECKPOINT_FLAGS: Record<string, FlagSpec> = {
  checkpoint: { kind: "string", help: "checkpoint file, rewritten atomically every --checkpoint-every steps" },
  "checkpoint-every": { kind: "int", help: "optimizer steps between checkpoints", default: 50, min: 1 },
  resume: { kind: "boolean", help: "continue from --checkpoint if it exists (bit-identical to an uninterrupted run)" },
};

/** Checkpoint saving and resuming as TrainOptions, from --checkpoint / --checkpoint-every / --resume. */
export async function checkpointOptions(flags: Flags): Promise<Pick<TrainOptions, "checkpoint" | "resume">> {
  const file = flags.checkpoint as string | undefined;
  if (!file) {
    if (flags.resume) throw new UsageError("--resume needs --checkpoint FILE");
    return {};
  }
  const options: Pick<TrainOptions, "checkpoint" | "resume"> = { checkpoint: checkpointToFile(file, flags["checkpoint-every"] as number) };
  if (flags.resume) {
    const saved = await readCheckpoint(file);
    if (saved) options.resume = saved;
  }
  return options;
}
