/**
 * `StreamDataset`: training data read a block at a time instead of held in memory, from
 * .npy shards on disk or from any (async) iterator of batches. Training keeps only the
 * current block and batch in wasm memory (train/stream-feed.ts), so the data may be larger
 * than the 4 GiB a wasm memory can hold; the teacher's outputs may come with the rows,
 * dense or as top-k probabilities.
 *
 * Order: with `shuffle` (the default), each epoch visits the blocks (`blockRows`
 * consecutive rows of one shard) in a seeded order and the rows of each block in a seeded
 * order (a shuffle window of one block); without, rows come as stored. An iterator's
 * blocks come as it yields them (its pieces of at most `blockRows` rows), shuffled within.
 */
import { ArgumentError, OptionError } from "../../errors.js";
import type { PathOrUrl } from "../../runtime/files.js";
import { contentHash } from "../../train/fingerprint.js";
import { MAX_CLASSES } from "../dataset.js";
import { checkBlock, type BlockShape, type StreamBlock } from "./block.js";
import { openShards, ShardReader, shardDirectory, type Shard, type ShardFiles } from "./npy-shards.js";

/** One item of a batch iterator: rows of x (rows, features), with their labels and teacher outputs as the stream declares. */
export interface StreamBatch {
  x: Float32Array;
  y?: Int32Array;
  teacher?: Float32Array;
  teacherIndex?: Int32Array;
  teacherProb?: Float32Array;
}

export interface StreamOptions {
  /** Rows per block: the shuffle window and the rows staged in wasm memory (default 4096). */
  blockRows?: number;
  /** A seeded order of blocks and of the rows in each block, new every epoch (default true). */
  shuffle?: boolean;
}

export interface ShardOptions extends StreamOptions {
  /** Classes (model outputs); default: the teacher logits' width. Needed with labels alone or top-k outputs. */
  classes?: number;
}

export interface BatchStreamOptions extends StreamOptions {
  features: number;
  classes: number;
  /** Rows per epoch: every epoch's iterator must yield exactly this many. */
  rows: number;
  /** Whether batches carry labels y (default true). */
  labels?: boolean;
  /** The teacher outputs batches carry: "dense" logits, or "top-k" indices + probabilities with `topK` per row. */
  teacher?: "dense" | "top-k";
  topK?: number;
}

const DEFAULT_BLOCK_ROWS = 4096;

function positiveInteger(op: string, name: string, v: unknown, max = 2 ** 31 - 1): number {
  if (!(typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= max))
    throw new OptionError(`${op}: ${name} must be an integer in [1, ${max}]; got ${String(v)}`);
  return v;
}

type Source =
  { kind: "shards"; shards: Shard[]; names: string[] } | { kind: "batches"; make: (epoch: number) => AsyncIterable<StreamBatch> | Iterable<StreamBatch> };

export class StreamDataset {
  /** Rows per epoch. */
  readonly length: number;
  readonly features: number;
  readonly classes: number;
  /** Rows with a label: all of them when the stream has labels (a row may still say MISSING_LABEL), else 0. */
  readonly labelled: number;
  readonly teacher: "dense" | "top-k" | undefined;
  readonly topK: number;
  readonly blockRows: number;
  readonly shuffle: boolean;
  /** Streams are single-label classification data. */
  readonly task = "classification" as const;
  readonly multiLabel = false as const;
  readonly targets: undefined = undefined;
  readonly targetWidth = 0;
  /** Blocks per epoch of a shard stream (undefined for an iterator's, whose pieces are its own). */
  readonly blockCount: number | undefined;
  private readonly source: Source;
  /** A shard stream's blocks: shard index, first row, rows. */
  private readonly blockList: { shard: number; first: number; rows: number }[] = [];

  private constructor(shape: BlockShape & { rows: number }, options: StreamOptions, source: Source) {
    const op = "StreamDataset";
    this.length = shape.rows;
    this.features = shape.features;
    this.classes = shape.classes;
    this.labelled = shape.labels ? shape.rows : 0;
    this.teacher = shape.teacher;
    this.topK = shape.topK;
    this.blockRows = options.blockRows === undefined ? DEFAULT_BLOCK_ROWS : positiveInteger(op, "blockRows", options.blockRows);
    if (options.shuffle !== undefined && typeof options.shuffle !== "boolean") throw new OptionError(`${op}: shuffle must be true or false`);
    this.shuffle = options.shuffle ?? true;
    this.source = source;
    if (source.kind === "shards") {
      source.shards.forEach((s, shard) => {
        for (let first = 0; first < s.rows; first += this.blockRows) this.blockList.push({ shard, first, rows: Math.min(this.blockRows, s.rows - first) });
      });
      this.blockCount = this.blockList.length;
    }
  }

  /** What a block of this stream must hold. */
  get shape(): BlockShape {
    return { features: this.features, classes: this.classes, labels: this.labelled > 0, teacher: this.teacher, topK: this.topK };
  }

  /**
   * A stream over .npy shards: a directory (x-NAME.npy with y-NAME.npy, teacher-NAME.npy or
   * teacher-index-NAME.npy + teacher-prob-NAME.npy) or lists of files. Reads only the headers now.
   */
  static async fromShards(source: PathOrUrl | ShardFiles, options: ShardOptions = {}): Promise<StreamDataset> {
    const op = "StreamDataset.fromShards";
    const files = typeof source === "string" || source instanceof URL ? await shardDirectory(source) : source;
    const shards = await openShards(files);
    const first = shards[0]!;
    const teacher = first.teacher ? "dense" : first.teacherIndex ? "top-k" : undefined;
    const classes = options.classes ?? first.teacher?.width;
    if (classes === undefined) throw new OptionError(`${op}: pass classes (the number of outputs): the shards carry no dense teacher logits to read it from`);
    positiveInteger(op, "classes", classes, MAX_CLASSES);
    if (first.teacher && first.teacher.width !== classes) {
      throw new OptionError(`${op}: classes is ${classes} but the teacher logits have ${first.teacher.width} per row`);
    }
    const topK = first.teacherIndex?.width ?? 0;
    if (teacher === "top-k" && !(topK >= 1 && topK <= classes)) throw new OptionError(`${op}: top-k outputs have k = ${topK}; expected 1 … ${classes}`);
    const rows = shards.reduce((n, s) => n + s.rows, 0);
    const shape = { rows, features: first.x.width, classes, labels: first.y !== undefined, teacher, topK } as const;
    return new StreamDataset(shape, options, { kind: "shards", shards, names: files.x.map(String) });
  }

  /**
   * A stream over batches from `make(epoch)` (epoch 0, 1, …): an async or sync iterable
   * whose items hold rows of x and, as declared, y and the teacher's outputs. Each epoch's
   * iterable must yield `rows` rows, the same ones for the same epoch (a resumed run asks
   * for its epoch again and skips the rows it has already trained on).
   */
  static fromBatches(make: (epoch: number) => AsyncIterable<StreamBatch> | Iterable<StreamBatch>, options: BatchStreamOptions): StreamDataset {
    const op = "StreamDataset.fromBatches";
    if (typeof make !== "function") throw new ArgumentError(`${op}: expects a function (epoch) => an iterable of batches`);
    if (!options || typeof options !== "object") throw new ArgumentError(`${op}: expects options { features, classes, rows }`);
    const features = positiveInteger(op, "features", options.features);
    const classes = positiveInteger(op, "classes", options.classes, MAX_CLASSES);
    const rows = positiveInteger(op, "rows", options.rows, Number.MAX_SAFE_INTEGER);
    const teacher = options.teacher;
    if (teacher !== undefined && teacher !== "dense" && teacher !== "top-k") throw new OptionError(`${op}: teacher must be "dense" or "top-k"`);
    const topK = teacher === "top-k" ? positiveInteger(op, "topK", options.topK, classes) : 0;
    const shape = { rows, features, classes, labels: options.labels ?? true, teacher, topK };
    return new StreamDataset(shape, options, { kind: "batches", make });
  }

  /**
   * The blocks of `epoch` in order, from position `start` of it: a shard stream's in `order`
   * (block indices; null: as stored), an iterator's as it yields them, split into pieces of
   * at most blockRows rows. Each block is checked (checkBlock) before it is returned; the
   * finiteness of its values is checked where it is staged (train/stream-feed.ts). A shard
   * stream's blocks are read by `reader` (see ShardReader: valid until two more are read).
   */
  async *blocks(epoch: number, order: Int32Array | null, start: number, reader: ShardReader = new ShardReader()): AsyncGenerator<StreamBlock> {
    const shape = this.shape;
    if (this.source.kind === "shards") {
      const { shards, names } = this.source;
      for (let i = start; i < this.blockList.length; i++) {
        const b = this.blockList[order ? order[i]! : i]!;
        const block = await reader.read(shards[b.shard]!, b.first, b.rows, `shard ${names[b.shard]} rows ${b.first}…${b.first + b.rows - 1}`);
        checkBlock(block, shape);
        yield block;
      }
      return;
    }
    let index = 0;
    let rows = 0;
    for await (const batch of this.source.make(epoch)) {
      const n = batch?.x instanceof Float32Array ? batch.x.length / this.features : NaN;
      if (!Number.isInteger(n) || n < 1)
        throw new ArgumentError(`StreamDataset: epoch ${epoch + 1}'s batch at row ${rows} needs x, a Float32Array of rows × ${this.features} values`);
      for (let first = 0; first < n; first += this.blockRows) {
        const count = Math.min(this.blockRows, n - first);
        const piece = (a: Float32Array | Int32Array | undefined, width: number) => a?.subarray(first * width, (first + count) * width);
        const where = `epoch ${epoch + 1}'s batches, rows ${rows}…${rows + count - 1}`;
        const block: StreamBlock = { rows: count, where, x: piece(batch.x, this.features) as Float32Array };
        if (batch.y) block.y = piece(batch.y, 1) as Int32Array;
        if (batch.teacher) block.teacher = piece(batch.teacher, this.classes) as Float32Array;
        if (batch.teacherIndex) block.topIndex = piece(batch.teacherIndex, this.topK) as Int32Array;
        if (batch.teacherProb) block.topProb = piece(batch.teacherProb, this.topK) as Float32Array;
        rows += count;
        if (rows > this.length) throw new ArgumentError(`StreamDataset: epoch ${epoch + 1}'s batches hold more than the declared ${this.length} rows`);
        if (index++ < start) continue;
        checkBlock(block, shape);
        yield block;
      }
    }
    if (rows !== this.length) throw new ArgumentError(`StreamDataset: epoch ${epoch + 1}'s batches hold ${rows} rows; the stream declares ${this.length}`);
  }

  /** What identifies the stream in a checkpoint: its files and their sizes (or the iterator's source), its shape and reading options. */
  identity(): string {
    const s = this.source;
    const what = s.kind === "shards" ? { shards: s.names, rows: s.shards.map((x) => x.rows) } : { batches: String(s.make) };
    return contentHash(new TextEncoder().encode(JSON.stringify({ ...what, shape: this.shape, blockRows: this.blockRows, shuffle: this.shuffle })));
  }
}

export function isStream(data: unknown): data is StreamDataset {
  return data instanceof StreamDataset;
}
