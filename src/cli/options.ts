/**
 * Flags shared by the training commands, and their translation into library options:
 * architecture, training budget, optimizer, schedule, regularisation and augmentation.
 */
import type { Dataset } from "../data/dataset.js";
import { isStream, type StreamDataset } from "../data/stream/stream-dataset.js";
import type { ClassBias } from "../nn/class-bias.js";
import { mlp, mlpLayers, type MlpOptions } from "../nn/mlp.js";
import { standardizer } from "../data/standardizer.js";
import type { LayerSpec } from "../nn/layers/index.js";
import { Sequential } from "../nn/sequential.js";
import { parseArchitecture } from "./arch.js";
import { INIT_NAMES, type ActivationName, type InitName } from "../nn/layers/index.js";
import type { Augment } from "../train/augment.js";
import type { TrainOptions } from "../train/loop.js";
import type { OptimizerSpec } from "../train/optimizer.js";
import type { ScheduleSpec } from "../train/schedule.js";
import { checkpointToFile, readCheckpoint } from "../train/checkpoint-file.js";
import { UsageError, type Flags, type FlagSpec } from "./args.js";

export const DATA_FLAGS: Record<string, FlagSpec> = {
  data: { kind: "string", help: "mnist | idx:DIR | csv:FILE | npy:X.npy,y.npy | shards:DIR (train, distill: .npy shards streamed)", default: "mnist" },
  "test-split": { kind: "number", help: "fraction held out for testing when the source has no test set", min: 0, max: 0.9 },
  task: { kind: "string", help: "csv: classification (integer labels, the default) | regression (real-valued targets) | multilabel (0/1 label columns)" },
  label: {
    kind: "list",
    help: "csv: the label column, by header name or 0-based index (default 0); regression: one or more target columns; multilabel: the label columns",
  },
  seed: { kind: "int", help: "seed of initialisation, shuffling, splits and augmentation", default: 1, min: 0 },
  json: { kind: "boolean", help: "print one JSON document instead of progress and tables" },
};

/** Flags of the commands that train (train, distill, search): which rows they train on, and the output bias after. */
export const TRAINING_ROWS_FLAGS: Record<string, FlagSpec> = {
  "exclude-classes": { kind: "list", help: "train without the rows of these labels (e.g. 3: a transfer set with no 3s); the test set keeps them" },
  "keep-labels": {
    kind: "int",
    min: 1,
    help: "keep the labels of only N training rows (stratified, seeded by --seed); train uses those rows, distill also the rest as unlabelled rows the teacher labels",
  },
};

export const MODEL_FLAGS: Record<string, FlagSpec> = {
  arch: {
    kind: "string",
    help: "784-512-512-10 (MLP), 1x28x28-conv8k3p1-relu-maxpool2-flatten-10 (images) or 3x128-conv1d16k5p2-relu-gap1d-flatten-4 (signals)",
  },
  activation: { kind: "string", help: "relu | leaky_relu | tanh | sigmoid | gelu", default: "relu" },
  dropout: {
    kind: "string",
    help: "dropout after each hidden layer (P), or on the inputs and after each hidden layer (INPUT,HIDDEN, e.g. 0.2,0.5)",
    default: "0",
  },
  init: { kind: "string", help: "weight initialisation: torch (PyTorch's nn.Linear default, the default) | he | glorot" },
  standardize: {
    kind: "boolean",
    help: "put a standardize layer first, fitted on the training rows: the model learns on standardised features and the saved model takes raw ones",
  },
};

/** Flags of the commands that save a trained model (train, distill). */
export const CLASS_BIAS_FLAGS: Record<string, FlagSpec> = {
  "class-bias": { kind: "list", help: "after training, add OFFSET to the output bias of class C: C:OFFSET[,C:OFFSET…] (e.g. 3:3.5)" },
};

/**
 * The training rows after --exclude-classes and --keep-labels; `unlabelled`: keep the rows
 * whose labels were dropped (distill, whose teacher labels them) rather than leave them out.
 */
export function trainingRows(flags: Flags, data: Dataset, unlabelled = false): Dataset {
  const list = flags["exclude-classes"] as string[] | undefined;
  let rows = data;
  if (list) {
    const classes = list.map(Number);
    if (classes.some((c) => !Number.isInteger(c) || c < 0 || c >= data.classes)) {
      throw new UsageError(`--exclude-classes takes labels in [0, ${data.classes}) separated by commas; got ${JSON.stringify(list.join(","))}`);
    }
    rows = rows.withoutClasses(classes);
  }
  const keep = flags["keep-labels"] as number | undefined;
  if (keep === undefined) return rows;
  if (keep > rows.labelled) throw new UsageError(`--keep-labels ${keep}: the training rows have only ${rows.labelled} labels`);
  const kept = rows.keepLabels(keep, { seed: flags.seed as number });
  return unlabelled ? kept : kept.labelledRows();
}

/** --class-bias C:OFFSET,… as offsets by class (undefined without the flag). */
export function classBiasFlag(flags: Flags): ClassBias | undefined {
  const list = flags["class-bias"] as string[] | undefined;
  if (!list) return undefined;
  const offsets: ClassBias = {};
  for (const item of list) {
    const m = /^(\d+):([-+]?[0-9.]+(?:e[-+]?\d+)?)$/i.exec(item);
    if (!m || !Number.isFinite(Number(m[2]))) throw new UsageError(`--class-bias entries are CLASS:OFFSET, e.g. 3:3.5; got ${JSON.stringify(item)}`);
    offsets[Number(m[1])] = Number(m[2]);
  }
  return offsets;
}

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
  "max-norm": { kind: "number", help: "max-norm constraint: each hidden unit's incoming weight vector kept within this L2 norm", min: 0 },
  validation: { kind: "number", help: "fraction of the training data held out for validation", min: 0, max: 0.9 },
  patience: { kind: "int", help: "early stopping: epochs without validation improvement", min: 1 },
  augment: { kind: "string", help: "shift=K,noise=SIGMA (square images)" },
  "class-weights": { kind: "list", help: "weights of the classes in the hard loss: balanced (n / (classes · n_c)) or W0,W1,… (one per class)" },
};

/** --class-weights balanced | W0,W1,… as the classWeights option (undefined without the flag). */
function parseClassWeights(list: unknown): TrainOptions["classWeights"] {
  if (list === undefined) return undefined;
  const items = list as string[];
  if (items.length === 1 && items[0] === "balanced") return "balanced";
  const weights = items.map(Number);
  if (items.length === 0 || weights.some((w) => !(w >= 0 && Number.isFinite(w)))) {
    throw new UsageError(`--class-weights takes balanced or one number ≥ 0 per class separated by commas (e.g. 1,5); got ${JSON.stringify(items.join(","))}`);
  }
  return weights;
}

/** The dense widths of an MLP --arch (commands that build several students from widths). */
export function parseArch(text: unknown): number[] {
  const arch = parseArchitecture(text);
  if (!arch.widths) throw new UsageError(`--arch: this command needs an MLP architecture such as 784-32-10; got ${JSON.stringify(text)}`);
  return arch.widths;
}

/** --dropout P or INPUT,HIDDEN as mlp options. */
function parseDropout(text: unknown): { dropout: number; inputDropout?: number } {
  const parts = String(text)
    .split(",")
    .map((p) => Number(p.trim()));
  if (parts.length > 2 || parts.some((p) => !(p >= 0 && p <= 0.95)) || String(text).trim() === "") {
    throw new UsageError(`--dropout takes P or INPUT,HIDDEN, each in [0, 0.95] (e.g. 0.5 or 0.2,0.5); got ${JSON.stringify(text)}`);
  }
  return parts.length === 2 ? { inputDropout: parts[0]!, dropout: parts[1]! } : { dropout: parts[0]! };
}

/** The MLP options named by --activation, --dropout and --init (a layer list takes only --init). */
export function mlpOptions(flags: Flags, seed: number): MlpOptions {
  const init = flags.init as string | undefined;
  if (init !== undefined && !(INIT_NAMES as readonly string[]).includes(init)) {
    throw new UsageError(`--init must be ${INIT_NAMES.join(", ")}; got ${JSON.stringify(init)}`);
  }
  return { seed, activation: flags.activation as ActivationName, ...parseDropout(flags.dropout), ...(init ? { init: init as InitName } : {}) };
}

/** The model named by --arch (an MLP, or a layer list with an input shape) for this data. */
export function buildModel(flags: Flags, data: Dataset | StreamDataset, seed: number): Sequential {
  const arch = parseArchitecture(flags.arch);
  if (flags.standardize && isStream(data)) throw new UsageError("--standardize is fitted on every training row; a streamed source cannot give them");
  // --standardize: the fitted layer goes first; the layers after it are drawn as without it.
  const first: LayerSpec[] = flags.standardize && !isStream(data) ? [standardizer(data)] : [];
  if (arch.widths) {
    if (arch.widths[0] !== data.features) {
      throw new UsageError(`--arch starts with ${arch.widths[0]} inputs but the data has ${data.features} features`);
    }
    if (first.length === 0) return mlp(arch.widths, mlpOptions(flags, seed));
    return new Sequential([...first, ...mlpLayers(arch.widths, mlpOptions(flags, seed))], { seed });
  }
  if (first.length > 0 && arch.inputShape!.length !== 1) {
    throw new UsageError(`--standardize takes flat feature rows; --arch gives ${arch.inputShape!.join("×")} images`);
  }
  const size = arch.inputShape!.reduce((a, b) => a * b, 1);
  if (size !== data.features) {
    throw new UsageError(`--arch takes ${arch.inputShape!.join("×")} = ${size} inputs but the data has ${data.features} features`);
  }
  const { init } = mlpOptions(flags, seed);
  const layers = init ? arch.layers!.map((l) => (l.type === "dense" || l.type === "conv2d" || l.type === "conv1d" ? { ...l, init } : l)) : arch.layers!;
  return new Sequential([...first, ...layers], { seed, inputShape: arch.inputShape! });
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
  if (flags["max-norm"] !== undefined) options.maxNorm = flags["max-norm"] as number;
  if (flags.validation !== undefined) options.validation = flags.validation as number;
  if (flags.patience !== undefined) {
    if (flags.validation === undefined) throw new UsageError("--patience needs --validation FRACTION to watch");
    options.earlyStopping = { patience: flags.patience as number };
  }
  const augment = parseAugment(flags.augment);
  if (augment) options.augment = augment;
  const classWeights = parseClassWeights(flags["class-weights"]);
  if (classWeights) options.classWeights = classWeights;
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
