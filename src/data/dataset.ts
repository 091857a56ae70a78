/**
 * A dataset in JavaScript memory:
 *   x  (length, features)  f32, row-major
 *   y  (length)            class ids, integers in [0, classes), or MISSING_LABEL (−1) for a
 *                          row without a label (an unlabelled transfer row: distillation
 *                          trains on the teacher's soft targets alone there; train,
 *                          evaluate and validation need every label)
 *   targets (length, targetWidth) f32, only in a regression dataset (Dataset.regression):
 *                          real-valued targets; there y is 0 on a row that has its
 *                          target and MISSING_LABEL on a row that has none (whose
 *                          targets are 0 and unused), and classes is 1
 *   targets (length, labels) f32, in a multi-label dataset (Dataset.multiLabel): 0 or 1 per
 *                          label (several independent yes/no labels per row); y is 0 on a row
 *                          that has its labels and MISSING_LABEL on a row that has none (its
 *                          targets are 0 and unused), classes and targetWidth are the
 *                          number of labels, and multiLabel is true
 *
 * Every shuffle and split draws its order from the wasm PRNG (xoshiro128** seeded with
 * the given seed, Fisher–Yates), so a seed gives the same rows in the same order in every
 * runtime. Only copying and integer bookkeeping happen in JavaScript.
 */
import { checkOptions, knownKeys } from "../options/schema.js";
import type { Engine } from "../engine.js";
import { ArgumentError, LabelError, OptionError, ShapeError, TaskError } from "../errors.js";
import { getEngine } from "../init.js";
import type { EngineOption } from "../ops/losses.js";
import { tokenRows, type TokenDatasetOptions } from "./tokens.js";
import { requireArray, requireDim, requireFinite, requireLabels, requireLength, type FloatArray, type LabelArray } from "../validate.js";

/** The label of a row that has none; the same value as the loss kernels' MISSING_LABEL. */
export const MISSING_LABEL = -1;

/** The largest number of classes a dataset may have. */
export const MAX_CLASSES = 65536;

export interface RegressionOptions {
  /** Values per row. */
  features: number;
  /** Target values per row (the model's outputs). */
  outputs: number;
}

export interface MultiLabelOptions {
  /** Values per row. */
  features: number;
  /** Yes/no labels per row (the model's outputs). */
  labels: number;
}

export interface DatasetOptions {
  /** Values per row. */
  features: number;
  /** Number of classes; default: the largest label + 1. */
  classes?: number;
}

export interface SignalOptions {
  /** Channels per signal (sensor axes, leads, …). */
  channels: number;
  /** Samples per channel. */
  length: number;
  /** Number of classes; default: the largest label + 1. */
  classes?: number;
}

export interface SplitOptions extends EngineOption {
  /** Seed of the order, an integer in [0, 2^53) (default 0). */
  seed?: number;
  /** Keep each class's share in every part, to within one row per class (default false). */
  stratified?: boolean;
}

/** A run of consecutive rows: views into the dataset, not copies. */
export interface Batch {
  /** (rows, features) */
  x: Float32Array;
  /** (rows) */
  y: Int32Array;
  /** (rows, targetWidth): a regression dataset's targets. */
  targets?: Float32Array;
  /** Index of the first row. */
  start: number;
}

export class Dataset {
  /** (length, features), row-major. */
  readonly x: Float32Array;
  /** (length) class ids in [0, classes), or MISSING_LABEL. */
  readonly y: Int32Array;
  readonly features: number;
  readonly classes: number;
  /** Number of rows (≥ 1). */
  readonly length: number;
  /** (length, targetWidth) real-valued targets of a regression dataset; undefined for classification. */
  readonly targets?: Float32Array;
  /** Target values per row: 0 for classification. */
  readonly targetWidth: number = 0;
  /** True for a multi-label dataset (Dataset.multiLabel): targets hold 0/1 labels. */
  readonly multiLabel: boolean = false;

  /**
   * Validates and wraps x (length × features values, all finite) and y (length labels).
   * A Float32Array x or Int32Array y is used as is (not copied); other arrays are converted.
   */
  constructor(x: FloatArray, y: LabelArray, options: DatasetOptions) {
    const op = "Dataset";
    if (typeof options !== "object" || options === null) {
      throw new ArgumentError(`${op}: options must be an object { features, classes? }; got ${String(options)}`);
    }
    const features = requireDim(op, "features", options.features);
    const xs = requireArray(op, "x", x);
    if (!ArrayBuffer.isView(y) && !Array.isArray(y)) {
      throw new ArgumentError(`${op}: y must be an Int32Array, Uint8Array or number[] of labels; got ${typeof y}`);
    }
    const ys = y as ArrayLike<number>;
    if (ys.length === 0) throw new ShapeError(`${op}: y is empty; a dataset needs at least one row`);
    requireLength(op, "x", xs, ys.length * features, `${ys.length} rows (one per label) × ${features} features`);
    requireFinite(op, "x", xs, features);
    if (options.classes === undefined && Array.prototype.every.call(ys, (v: number) => v === MISSING_LABEL)) {
      throw new OptionError(`${op}: no row has a label, so the number of classes cannot be inferred; pass classes`);
    }
    const classes = options.classes === undefined ? inferClasses(op, ys) : requireClasses(op, options.classes);
    requireLabels(op, ys, ys.length, classes, true);
    this.x = xs instanceof Float32Array ? xs : Float32Array.from(xs);
    this.y = ys instanceof Int32Array ? ys : Int32Array.from(ys);
    this.features = features;
    this.classes = classes;
    this.length = ys.length;
  }

  /**
   * A regression dataset: x (rows, features) and targets (rows, outputs), all finite, or
   * targets null for rows that have none (a transfer set, whose teacher gives the targets).
   * Copies neither array when it is already a Float32Array.
   */
  static regression(x: FloatArray, targets: FloatArray | null, options: RegressionOptions): RegressionDataset {
    const op = "Dataset.regression";
    if (typeof options !== "object" || options === null) throw new ArgumentError(`${op}: options must be an object { features, outputs }`);
    const features = requireDim(op, "features", options.features);
    const outputs = requireDim(op, "outputs", options.outputs);
    const xs = requireArray(op, "x", x);
    if (xs.length === 0 || xs.length % features !== 0) {
      throw new ShapeError(`${op}: x has ${xs.length} values, not a positive multiple of ${features} features`);
    }
    requireFinite(op, "x", xs, features);
    const rows = xs.length / features;
    let t: Float32Array;
    let y: Int32Array;
    if (targets === null) {
      t = new Float32Array(rows * outputs);
      y = new Int32Array(rows).fill(MISSING_LABEL);
    } else {
      const ts = requireArray(op, "targets", targets);
      requireLength(op, "targets", ts, rows * outputs, `${rows} rows × ${outputs} outputs`);
      requireFinite(op, "targets", ts, outputs);
      t = ts instanceof Float32Array ? ts : Float32Array.from(ts);
      y = new Int32Array(rows);
    }
    return wrap(xs instanceof Float32Array ? xs : Float32Array.from(xs), y, features, 1, t, outputs) as RegressionDataset;
  }

  /**
   * A multi-label dataset: x (rows, features), all finite, and labels (rows, labels) of 0 or
   * 1, several independent yes/no labels per row. A row without labels has MISSING_LABEL
   * (−1) in every one of its places (it gets the teacher's soft loss alone in `distill`,
   * like a MISSING_LABEL row of a classification dataset); labels null: no row has any (a
   * transfer set). Any other value, or a row with some labels missing and some given, is a
   * LabelError naming the row. The labels are stored as a (rows, labels) Float32Array of
   * 0 and 1 in `targets` (0 on rows without labels), and `y` is 0 or MISSING_LABEL per row.
   */
  static multiLabel(x: FloatArray, labels: FloatArray | LabelArray | null, options: MultiLabelOptions): MultiLabelDataset {
    const op = "Dataset.multiLabel";
    if (typeof options !== "object" || options === null) throw new ArgumentError(`${op}: options must be an object { features, labels }`);
    checkOptions(op, knownKeys("features", "labels"), options);
    const features = requireDim(op, "features", options.features);
    const width = requireDim(op, "labels", options.labels);
    if (width > MAX_CLASSES) throw new OptionError(`${op}: labels = ${width} exceeds the supported maximum of ${MAX_CLASSES}`);
    const xs = requireArray(op, "x", x);
    if (xs.length === 0 || xs.length % features !== 0) {
      throw new ShapeError(`${op}: x has ${xs.length} values, not a positive multiple of ${features} features`);
    }
    requireFinite(op, "x", xs, features);
    const rows = xs.length / features;
    const t = new Float32Array(rows * width);
    const y = new Int32Array(rows).fill(MISSING_LABEL);
    if (labels !== null) {
      if (!ArrayBuffer.isView(labels) && !Array.isArray(labels)) {
        throw new ArgumentError(`${op}: labels must be a typed array or number[] of 0, 1 or MISSING_LABEL, or null; got ${typeof labels}`);
      }
      const ls = labels as ArrayLike<number>;
      requireLength(op, "labels", ls, rows * width, `${rows} rows × ${width} labels`);
      for (let r = 0; r < rows; r++) {
        const missing = ls[r * width] === MISSING_LABEL;
        for (let j = 0; j < width; j++) {
          const v = ls[r * width + j]!;
          if (v !== 0 && v !== 1 && v !== MISSING_LABEL) {
            throw new LabelError(
              `${op}: labels[${r * width + j}] (row ${r}, label ${j}) is ${String(v)}; a label is 0, 1 or MISSING_LABEL (−1) for a row without labels`,
            );
          }
          if ((v === MISSING_LABEL) !== missing) {
            throw new LabelError(
              `${op}: row ${r} has some labels missing (MISSING_LABEL) and some given; a row has all its labels or none (MISSING_LABEL in every place)`,
            );
          }
          if (v === 1) t[r * width + j] = 1;
        }
        if (!missing) y[r] = 0;
      }
    }
    return wrap(xs instanceof Float32Array ? xs : Float32Array.from(xs), y, features, width, t, width, true) as MultiLabelDataset;
  }

  /** "multilabel" for several yes/no labels per row, "regression" for real-valued targets, else "classification". */
  get task(): "classification" | "regression" | "multilabel" {
    return this.multiLabel ? "multilabel" : this.targets ? "regression" : "classification";
  }

  /**
   * A dataset whose rows have no labels (every label MISSING_LABEL): a transfer set for
   * distillation, whose teacher gives the targets. `classes` is the number of outputs.
   */
  static unlabelled(x: FloatArray, options: DatasetOptions & { classes: number }): Dataset {
    const op = "Dataset.unlabelled";
    if (typeof options !== "object" || options === null) throw new ArgumentError(`${op}: options must be an object { features, classes }`);
    const features = requireDim(op, "features", options.features);
    const classes = requireClasses(op, options.classes);
    const xs = requireArray(op, "x", x);
    if (xs.length === 0 || xs.length % features !== 0) {
      throw new ShapeError(`${op}: x has ${xs.length} values, not a positive multiple of ${features} features`);
    }
    return new Dataset(xs as FloatArray, new Int32Array(xs.length / features).fill(MISSING_LABEL), { features, classes });
  }

  /**
   * Multichannel 1-D signals for a model with inputShape [channels, length]: x holds, per
   * row, channel after channel of `length` samples each (PyTorch's (N, C, L) layout), so a
   * row has channels·length features. Checks the sizes against the labels (a ShapeError
   * naming all three numbers) and refuses unknown option keys; then as the constructor.
   */
  static signals(x: FloatArray, y: LabelArray, options: SignalOptions): Dataset {
    const op = "Dataset.signals";
    const o = checkOptions(op, knownKeys("channels", "length", "classes"), options, ["channels", "length"]);
    const channels = requireDim(op, "channels", o.channels);
    const length = requireDim(op, "length", o.length);
    const xs = requireArray(op, "x", x);
    const rows = ArrayBuffer.isView(y) || Array.isArray(y) ? (y as ArrayLike<number>).length : 0;
    if (rows > 0 && xs.length !== rows * channels * length) {
      throw new ShapeError(
        `${op}: x has ${xs.length} values, but ${rows} signals (one per label) of ${channels} channels × ${length} samples need ${rows * channels * length}`,
      );
    }
    return new Dataset(xs as FloatArray, y, { features: channels * length, ...(o.classes !== undefined ? { classes: o.classes } : {}) });
  }

  /**
   * A dataset of token sequences (./tokens.ts): ids (rows, seqLen) integers in [0, vocab),
   * stored exactly as float32 features, with labels y (rows), or y null for a transfer set
   * without labels (then classes is required). `lengths` (rows) with `padding` fill each
   * row after its length with the padding id, the paddingIdx of the model's embedding.
   */
  static tokens(ids: Int32Array | Uint16Array | Uint32Array | Uint8Array | readonly number[], y: LabelArray | null, options: TokenDatasetOptions): Dataset {
    const op = "Dataset.tokens";
    if (typeof options !== "object" || options === null)
      throw new ArgumentError(`${op}: options must be an object { seqLen, vocab, classes?, lengths?, padding? }`);
    const { x, seqLen, classes } = tokenRows(op, ids, options);
    if (y === null) {
      if (classes === undefined) throw new OptionError(`${op}: rows without labels (y null) need classes, the number of outputs`);
      return Dataset.unlabelled(x, { features: seqLen, classes });
    }
    return new Dataset(x, y, { features: seqLen, ...(classes !== undefined ? { classes } : {}) });
  }

  /** Like the constructor, but always copies x and y. */
  static from(x: FloatArray, y: LabelArray, options: DatasetOptions): Dataset {
    const d = new Dataset(x, y, options);
    return wrap(d.x === x ? d.x.slice() : d.x, d.y === y ? d.y.slice() : d.y, d.features, d.classes);
  }

  /** Row i: a (features) view into x. */
  row(i: number): Float32Array {
    const r = this.checkIndex("Dataset.row", "i", i);
    return this.x.subarray(r * this.features, (r + 1) * this.features);
  }

  /** A new dataset of the given rows, in the given order (indices may repeat). */
  subset(indices: ArrayLike<number>): Dataset {
    const op = "Dataset.subset";
    if (!ArrayBuffer.isView(indices) && !Array.isArray(indices)) {
      throw new ArgumentError(`${op}: indices must be an Int32Array or number[]; got ${typeof indices}`);
    }
    if (indices.length === 0) throw new ShapeError(`${op}: indices is empty; a dataset needs at least one row`);
    for (let k = 0; k < indices.length; k++) this.checkIndex(op, `indices[${k}]`, indices[k]);
    return this.take(indices);
  }

  /**
   * The rows whose label is not one of `classes`, in order (the label range stays the
   * same): e.g. a transfer set without any 3s, as in Hinton et al. 2015, section 3.
   */
  withoutClasses(classes: readonly number[]): Dataset {
    const op = "Dataset.withoutClasses";
    if (!Array.isArray(classes) || classes.length === 0) throw new ArgumentError(`${op}: classes must be a non-empty array of labels`);
    for (const c of classes) {
      if (!Number.isInteger(c) || c < 0 || c >= this.classes) throw new ArgumentError(`${op}: class ${String(c)} is not a label in [0, ${this.classes})`);
    }
    const drop = new Set(classes);
    const keep: number[] = [];
    for (let i = 0; i < this.length; i++) if (!drop.has(this.y[i]!)) keep.push(i);
    if (keep.length === 0) throw new ShapeError(`${op}: every row has one of the classes ${classes.join(", ")}; nothing is left`);
    return this.take(keep);
  }

  /** Rows start ≤ i < end (copied), 0 ≤ start < end ≤ length. */
  slice(start: number, end: number = this.length): Dataset {
    const op = "Dataset.slice";
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > this.length || start >= end) {
      throw new ArgumentError(`${op}: (start, end) = (${start}, ${end}) is not a non-empty row range; expected integers 0 ≤ start < end ≤ ${this.length}`);
    }
    const f = this.features;
    const w = this.targetWidth;
    return wrap(this.x.slice(start * f, end * f), this.y.slice(start, end), f, this.classes, this.targets?.slice(start * w, end * w), w, this.multiLabel);
  }

  /** The rows in a seeded random order. */
  shuffled(seed: number, options: EngineOption = {}): Dataset {
    return this.take(seededPermutation(this.length, requireSeed("Dataset.shuffled", seed), checkOptions("Dataset.shuffled", knownKeys("engine"), options)));
  }

  /**
   * Splits off round(length × validationFraction) rows for validation, in seeded random
   * order; the rest is the training set. Both must be non-empty.
   */
  split(validationFraction: number, options: SplitOptions = {}): { train: Dataset; validation: Dataset } {
    const op = "Dataset.split";
    options = checkOptions(op, knownKeys("seed", "stratified", "engine"), options);
    if (typeof validationFraction !== "number" || !(validationFraction > 0 && validationFraction < 1)) {
      throw new OptionError(`${op}: validationFraction must be a number strictly between 0 and 1; got ${String(validationFraction)}`);
    }
    const validation = Math.round(this.length * validationFraction);
    const train = this.length - validation;
    if (validation < 1 || train < 1) {
      throw new OptionError(
        `${op}: validationFraction ${validationFraction} of ${this.length} rows gives ${validation} validation and ` +
          `${train} training rows; both parts need at least one row`,
      );
    }
    const [v, t] = this.partition([validation, train], options) as [Dataset, Dataset];
    return { train: t, validation: v };
  }

  /**
   * Disjoint parts with the given numbers of rows (each ≥ 1, sum ≤ length), drawn in a
   * seeded random order. Stratified: each part holds each class in proportion to its
   * share of the dataset (largest-remainder rounding: within one row per class when the
   * parts cover the dataset), and its rows are then shuffled so classes are mixed.
   */
  partition(sizes: readonly number[], options: SplitOptions = {}): Dataset[] {
    const op = "Dataset.partition";
    options = checkOptions(op, knownKeys("seed", "stratified", "engine"), options);
    if (!Array.isArray(sizes) || sizes.length === 0) {
      throw new ArgumentError(`${op}: sizes must be a non-empty array of row counts; got ${String(sizes)}`);
    }
    let total = 0;
    for (const [j, s] of sizes.entries()) total += requireDim(op, `sizes[${j}]`, s);
    if (total > this.length) {
      throw new OptionError(`${op}: the parts need ${total} rows (${sizes.join(" + ")}) but the dataset has ${this.length}`);
    }
    return this.partitionIndices(sizes, options).map((rows) => this.take(rows));
  }

  /** The row indices of partition(sizes, options)'s parts (sizes already checked by the caller or here). */
  private partitionIndices(sizes: readonly number[], options: SplitOptions): Int32Array[] {
    const op = "Dataset.partition";
    const stratified = options.stratified ?? false;
    if (typeof stratified !== "boolean") throw new OptionError(`${op}: stratified must be true or false; got ${String(stratified)}`);
    if (stratified && this.labelled < this.length) {
      throw new LabelError(`${op}: a stratified split needs a label on every row; ${this.length - this.labelled} rows have none (MISSING_LABEL)`);
    }
    const seed = requireSeed(op, options.seed ?? 0);
    const engine = options.engine ?? getEngine();
    return withPermutations(engine, seed, (permutation) =>
      stratified ? this.stratifiedParts(sizes, permutation) : contiguousParts(permutation(this.length), sizes),
    );
  }

  /** Rows per class: (classes); rows without a label are not counted. */
  classCounts(): Int32Array {
    const counts = new Int32Array(this.classes);
    for (let i = 0; i < this.length; i++) if (this.y[i] !== MISSING_LABEL) counts[this.y[i]!]!++;
    return counts;
  }

  /** Number of rows that have a label. */
  get labelled(): number {
    let n = 0;
    for (let i = 0; i < this.length; i++) if (this.y[i] !== MISSING_LABEL) n++;
    return n;
  }

  /** The rows that have a label, in order. */
  labelledRows(): Dataset {
    const keep: number[] = [];
    for (let i = 0; i < this.length; i++) if (this.y[i] !== MISSING_LABEL) keep.push(i);
    if (keep.length === 0) throw new LabelError("Dataset.labelledRows: no row has a label");
    return this.take(keep);
  }

  /**
   * The same rows in the same order with only `count` labels kept, on rows drawn in a seeded
   * random order (stratified by default: each class keeps its share, within one row); the
   * other rows get MISSING_LABEL. E.g. "a few hundred labelled digits and the rest
   * unlabelled" for a student distilled on a transfer set.
   */
  keepLabels(count: number, options: SplitOptions = {}): Dataset {
    const op = "Dataset.keepLabels";
    options = checkOptions(op, knownKeys("seed", "stratified", "engine"), options);
    const n = requireDim(op, "count", count);
    const labelled = this.labelled;
    if (n > labelled) throw new OptionError(`${op}: cannot keep ${n} labels; the dataset has ${labelled} labelled rows`);
    const candidates = labelled === this.length ? this : this.labelledRows();
    const index = labelled === this.length ? null : Int32Array.from({ length: this.length }, (_, i) => i).filter((i) => this.y[i] !== MISSING_LABEL);
    const chosen = candidates.partitionIndices([n], { stratified: true, ...options })[0]!;
    const y = new Int32Array(this.length).fill(MISSING_LABEL);
    for (const k of chosen) {
      const row = index ? index[k]! : k;
      y[row] = this.y[row]!;
    }
    return wrap(this.x.slice(), y, this.features, this.classes, this.targets?.slice(), this.targetWidth, this.multiLabel);
  }

  /** This dataset's rows followed by `other`'s (same features and classes), copied. */
  concat(other: Dataset): Dataset {
    const op = "Dataset.concat";
    if (!(other instanceof Dataset)) throw new ArgumentError(`${op}: expects a Dataset; got ${typeof other}`);
    if (other.features !== this.features) throw new ShapeError(`${op}: the datasets have ${this.features} and ${other.features} features`);
    const targets = concatTargets(op, this, other);
    if (!targets && other.classes !== this.classes) throw new ShapeError(`${op}: the datasets have ${this.classes} and ${other.classes} classes`);
    const x = new Float32Array(this.x.length + other.x.length);
    x.set(this.x);
    x.set(other.x, this.x.length);
    const y = new Int32Array(this.length + other.length);
    y.set(this.y);
    y.set(other.y, this.length);
    if (!targets) return wrap(x, y, this.features, this.classes);
    return targets.multiLabel
      ? wrap(x, y, this.features, targets.width, targets.values, targets.width, true)
      : wrap(x, y, this.features, 1, targets.values, targets.width);
  }

  /** Consecutive batches of batchSize rows (the last may be shorter), as views. */
  batches(batchSize: number): Generator<Batch, void, undefined> {
    return this.batchesOf(requireDim("Dataset.batches", "batchSize", batchSize)); // checked before the first next()
  }

  private *batchesOf(size: number): Generator<Batch, void, undefined> {
    const f = this.features;
    for (let start = 0; start < this.length; start += size) {
      const end = Math.min(start + size, this.length);
      const batch: Batch = { x: this.x.subarray(start * f, end * f), y: this.y.subarray(start, end), start };
      if (this.targets) batch.targets = this.targets.subarray(start * this.targetWidth, end * this.targetWidth);
      yield batch;
    }
  }

  /** Per class, shuffle its rows; deal them out to the parts; then shuffle each part. */
  private stratifiedParts(sizes: readonly number[], permutation: (n: number) => Int32Array): Int32Array[] {
    const byClass = rowsByClass(this.y, this.classes);
    const counts = Int32Array.from(byClass, (rows) => rows.length);
    // Hierarchical apportionment: first how many rows of each class are used at all,
    // then each part's share of what remains, so no class is ever overdrawn.
    let remaining = apportion(
      counts,
      sizes.reduce((a, b) => a + b, 0),
    );
    const perPart = sizes.map((size, j) => {
      const take = j === sizes.length - 1 ? remaining : apportion(remaining, size);
      remaining = remaining.map((r, c) => r - take[c]!);
      return take;
    });
    const shuffled = byClass.map((rows) => permutation(rows.length).map((k) => rows[k]!));
    const used = new Int32Array(this.classes);
    return perPart.map((take, j) => {
      const part = new Int32Array(sizes[j]!);
      let n = 0;
      for (let c = 0; c < this.classes; c++) {
        part.set(shuffled[c]!.subarray(used[c]!, used[c]! + take[c]!), n);
        n += take[c]!;
        used[c]! += take[c]!;
      }
      return permutation(part.length).map((k) => part[k]!);
    });
  }

  /** Copies rows by already validated indices. */
  private take(indices: ArrayLike<number>): Dataset {
    const f = this.features;
    const x = new Float32Array(indices.length * f);
    const y = new Int32Array(indices.length);
    const w = this.targetWidth;
    const t = this.targets ? new Float32Array(indices.length * w) : undefined;
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k]!;
      x.set(this.x.subarray(i * f, (i + 1) * f), k * f);
      y[k] = this.y[i]!;
      if (t) t.set(this.targets!.subarray(i * w, (i + 1) * w), k * w);
    }
    return wrap(x, y, f, this.classes, t, w, this.multiLabel);
  }

  private checkIndex(op: string, name: string, i: unknown): number {
    if (typeof i !== "number" || !Number.isInteger(i) || i < 0 || i >= this.length) {
      throw new ArgumentError(`${op}: ${name} = ${String(i)} is not a row index; expected an integer in [0, ${this.length})`);
    }
    return i;
  }
}

/** A Dataset that carries regression targets (as Dataset.regression returns it). */
export type RegressionDataset = Dataset & { readonly targets: Float32Array };

/** A Dataset of several yes/no labels per row (as Dataset.multiLabel returns it): targets (rows, labels) of 0 and 1. */
export type MultiLabelDataset = Dataset & { readonly targets: Float32Array; readonly multiLabel: true };

/**
 * A Dataset around arrays that are already valid (no checks, no copies). It bypasses the
 * constructor, which is why the class uses TypeScript `private` rather than `#` members.
 */
function wrap(x: Float32Array, y: Int32Array, features: number, classes: number, targets?: Float32Array, targetWidth = 0, multiLabel = false): Dataset {
  const fields = targets
    ? { x, y, features, classes, length: y.length, targets, targetWidth, multiLabel }
    : { x, y, features, classes, length: y.length, targetWidth: 0, multiLabel: false };
  return Object.assign(Object.create(Dataset.prototype) as Dataset, fields);
}

/**
 * The targets of a.concat(b) when either is a regression dataset: (a.length + b.length,
 * width), zeros on the rows of a dataset without targets, which must then have no label
 * on any row (a transfer set); undefined when neither has targets.
 */
function concatTargets(op: string, a: Dataset, b: Dataset): { values: Float32Array; width: number; multiLabel: boolean } | undefined {
  if (!a.targets && !b.targets) return undefined;
  const width = a.targets ? a.targetWidth : b.targetWidth;
  const multiLabel = a.targets ? a.multiLabel : b.multiLabel;
  if (a.targets && b.targets && a.multiLabel !== b.multiLabel) {
    throw new TaskError(`${op}: cannot join a ${a.task} dataset and a ${b.task} one; they must be of the same task`);
  }
  if (a.targets && b.targets && a.targetWidth !== b.targetWidth) {
    throw new ShapeError(`${op}: the datasets have ${a.targetWidth} and ${b.targetWidth} ${multiLabel ? "labels" : "targets"} per row`);
  }
  for (const d of [a, b]) {
    if (!d.targets && d.labelled > 0) {
      throw new LabelError(
        `${op}: a ${multiLabel ? "multi-label" : "regression"} dataset can only be joined by rows without labels (a transfer set); the other has ${d.labelled} labelled rows`,
      );
    }
  }
  const values = new Float32Array((a.length + b.length) * width);
  if (a.targets) values.set(a.targets);
  if (b.targets) values.set(b.targets, a.length * width);
  return { values, width, multiLabel };
}

/**
 * A random permutation of 0 … n−1: (n) Int32Array, drawn by the wasm PRNG seeded with
 * `seed` (an integer in [0, 2^53)). The same n and seed give the same order everywhere.
 */
export function seededPermutation(n: number, seed: number, options: EngineOption = {}): Int32Array {
  const op = "seededPermutation";
  if (!Number.isInteger(n) || n < 0 || n > 2 ** 31 - 1) {
    throw new ArgumentError(`${op}: n must be an integer in [0, 2^31); got ${String(n)}`);
  }
  const s = requireSeed(op, seed);
  return withPermutations(options.engine ?? getEngine(), s, (permutation) => permutation(n));
}

/** Runs fn with `permutation(n)`, which draws successive permutations from one seeded stream. */
function withPermutations<T>(engine: Engine, seed: number, fn: (permutation: (n: number) => Int32Array) => T): T {
  return engine.scoped(() => {
    const rng = engine.alloc(16);
    engine.kernels.rng_seed(rng, seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0);
    return fn((n) => {
      if (n <= 1) return new Int32Array(n);
      return engine.scoped(() => {
        const out = engine.alloc(4 * n);
        engine.kernels.rng_permutation(rng, out, n);
        return engine.i32(out, n).slice();
      });
    });
  });
}

/** A PRNG seed: an integer in [0, 2^53); OptionError otherwise. */
export function requireSeed(op: string, seed: unknown): number {
  if (typeof seed !== "number" || !Number.isSafeInteger(seed) || seed < 0) {
    throw new OptionError(`${op}: seed must be an integer in [0, 2^53); got ${String(seed)}`);
  }
  return seed;
}

function requireClasses(op: string, classes: unknown): number {
  const c = requireDim(op, "classes", classes);
  if (c > MAX_CLASSES) throw new OptionError(`${op}: classes = ${c} exceeds the supported maximum of ${MAX_CLASSES}`);
  return c;
}

/** Largest label + 1 (labels that are not class ids are reported by requireLabels afterwards; MISSING_LABEL rows do not count). */
function inferClasses(op: string, labels: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i]!;
    if (v >= MAX_CLASSES) {
      throw new LabelError(`${op}: labels[${i}] = ${v} is not a class id; labels must be integers in [0, ${MAX_CLASSES})`);
    }
    if (v > max) max = v;
  }
  return Math.floor(max) + 1;
}

/** For each class, its row indices in dataset order. */
function rowsByClass(y: Int32Array, classes: number): Int32Array[] {
  const counts = new Int32Array(classes);
  for (let i = 0; i < y.length; i++) counts[y[i]!]!++;
  const rows = Array.from(counts, (n) => new Int32Array(n));
  const filled = new Int32Array(classes);
  for (let i = 0; i < y.length; i++) rows[y[i]!]![filled[y[i]!]!++] = i;
  return rows;
}

/** Consecutive runs of `order` with the given sizes. */
function contiguousParts(order: Int32Array, sizes: readonly number[]): Int32Array[] {
  let start = 0;
  return sizes.map((size) => order.slice(start, (start += size)));
}

/**
 * Largest-remainder apportionment of `total` (≤ Σ counts) in proportion to counts: each
 * share is ⌊counts[c]·total / Σ⌋ or one more; ties go to the lower class. Exact integer
 * arithmetic (products stay below 2^53 for datasets under 2^26 rows).
 */
function apportion(counts: Int32Array, total: number): Int32Array {
  const sum = counts.reduce((a, b) => a + b, 0);
  const shares = new Int32Array(counts.length);
  const remainders = new Float64Array(counts.length);
  let given = 0;
  for (let c = 0; c < counts.length; c++) {
    const p = counts[c]! * total;
    let q = Math.floor(p / sum);
    if (q * sum > p) q--; // guard against p / sum rounding up to an integer
    shares[c] = q;
    remainders[c] = p - q * sum;
    given += q;
  }
  const order = Array.from(counts, (_, c) => c).sort((a, b) => remainders[b]! - remainders[a]! || a - b);
  for (let k = 0; k < total - given; k++) shares[order[k]!]!++;
  return shares;
}
