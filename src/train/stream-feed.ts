/**
 * The feed of a StreamDataset: one block of rows at a time is staged in wasm memory (a
 * fixed-size area of blockRows rows, allocated once), and batches are gathered from it in
 * the block's row order; the next block is read while the current one is trained on: while
 * that read is in flight, each batch's fill first lets the event loop turn once (nextTurn),
 * since a loop of synchronous steps never would, and the read's I/O callbacks would wait
 * until the block is needed.
 *
 * Order, all drawn from the run's shuffling PRNG in wasm (the same bits in every runtime):
 * at each epoch start, a permutation of a shard stream's blocks; when a block is staged, a
 * permutation of its rows. Without shuffle both are the identity and no number is drawn. A
 * batch may span blocks: it takes the rest of one block and the start of the next.
 *
 * Checkpoints keep the epoch's block order, the block in progress, its row order and the
 * rows of it used (StreamPosition); resuming reads that block again and goes on from there.
 */
import { ArgumentError } from "../errors.js";
import type { Engine } from "../engine.js";
import { MISSING_LABEL, type Dataset } from "../data/dataset.js";
import { nextTurn } from "../runtime/next-turn.js";
import { contentHash } from "./fingerprint.js";
import { nonFiniteError, type StreamBlock } from "../data/stream/block.js";
import { ShardReader } from "../data/stream/npy-shards.js";
import type { StreamDataset } from "../data/stream/stream-dataset.js";
import type { Checkpoint, StreamPosition } from "./checkpoint.js";
import type { BatchBuffers, BatchFeed } from "./feed.js";

export class StreamFeed implements BatchFeed {
  readonly rows: number;
  private readonly features: number;
  private readonly classes: number;
  private readonly topK: number;
  // The staging area: one block's x, y, teacher outputs and row order; a shard stream's block order.
  private readonly slotX: number;
  private readonly slotY: number;
  private readonly slotTeacher: number;
  private readonly slotIndex: number;
  private readonly slotProb: number;
  private readonly rowOrder: number;
  private readonly blockOrder: number;
  /** A top-k stream's batch indices and probabilities, expanded into the batch's dense teacher logits. */
  private readonly batchIndex: number;
  private readonly batchProb: number;

  private epoch = 0;
  private blocks: AsyncGenerator<StreamBlock> | undefined;
  /** Reads a shard stream's blocks into buffers it reuses; new when the blocks before were abandoned with a read in flight. */
  private reader = new ShardReader();
  /** Position in the epoch's block order of the staged block (−1: none yet), its rows, the rows of it used. */
  private block = -1;
  private blockRows = 0;
  private offset = 0;
  /** Rows of the batch being filled already written (a fill that waited for a block goes on from there). */
  private filled = 0;
  /** The next block once read, the read in flight (never rejects: a failure is kept in `failure`), whether the epoch's blocks ended. */
  private next: StreamBlock | undefined;
  private reading: Promise<void> | undefined;
  /** Whether `reading` has not settled yet; whether this batch's fill has let the event loop turn. */
  private inFlight = false;
  private turned = false;
  private failure: unknown;
  private ended = false;
  /** A resumed block's row order and offset, applied when it is staged again. */
  private restored: { rowOrder: Int32Array; offset: number } | undefined;

  constructor(
    private readonly engine: Engine,
    private readonly stream: StreamDataset,
    /** The shuffling PRNG (16-byte state). */
    private readonly rng: number,
    private readonly validation: Dataset | undefined,
    batchSize: number,
    owned: number[],
  ) {
    const alloc = (bytes: number) => {
      if (bytes === 0) return 0;
      const p = engine.allocOwned(bytes);
      owned.push(p);
      return p;
    };
    this.rows = stream.length;
    this.features = stream.features;
    this.classes = stream.classes;
    this.topK = stream.topK;
    const slot = stream.blockRows;
    this.slotX = alloc(slot * this.features * 4);
    this.slotY = alloc(slot * 4);
    this.slotTeacher = stream.teacher === "dense" ? alloc(slot * this.classes * 4) : 0;
    this.slotIndex = stream.teacher === "top-k" ? alloc(slot * this.topK * 4) : 0;
    this.slotProb = stream.teacher === "top-k" ? alloc(slot * this.topK * 4) : 0;
    this.rowOrder = alloc(slot * 4);
    this.blockOrder = alloc((stream.blockCount ?? 0) * 4);
    this.batchIndex = stream.teacher === "top-k" ? alloc(batchSize * this.topK * 4) : 0;
    this.batchProb = stream.teacher === "top-k" ? alloc(batchSize * this.topK * 4) : 0;
  }

  epochStart(epoch: number, resuming: boolean): void {
    const k = this.engine.kernels;
    const count = this.stream.blockCount;
    this.epoch = epoch;
    if (!resuming) {
      if (count !== undefined) {
        if (this.stream.shuffle) k.rng_permutation(this.rng, this.blockOrder, count);
        else this.engine.i32(this.blockOrder, count).forEach((_, i, a) => (a[i] = i));
      }
      this.block = -1;
      this.restored = undefined;
    }
    this.blockRows = this.offset = this.filled = 0;
    this.openBlocks(this.block + 1);
  }

  /** Starts the epoch's blocks from position `start` of its order, and reads the first. */
  private openBlocks(start: number): void {
    void this.blocks?.return(undefined).catch(() => undefined);
    // An abandoned read may still be writing into the reader's buffers: a reader of its own then.
    if (this.blocks && (this.inFlight || !this.ended)) this.reader = new ShardReader();
    const count = this.stream.blockCount;
    const order = count === undefined ? null : this.engine.i32(this.blockOrder, count).slice();
    this.blocks = this.stream.blocks(this.epoch, order, start, this.reader);
    this.next = undefined;
    this.failure = undefined;
    this.ended = false;
    this.readNext();
  }

  private readNext(): void {
    const blocks = this.blocks!;
    this.inFlight = true;
    this.reading = blocks.next().then(
      (r) => {
        if (blocks !== this.blocks) return;
        this.inFlight = false;
        if (r.done) this.ended = true;
        else this.next = r.value;
      },
      (e: unknown) => {
        if (blocks !== this.blocks) return;
        this.inFlight = false;
        this.failure = e;
      },
    );
  }

  /**
   * Copies the next block into the staging area, with its row order (drawn, the identity, or
   * a checkpoint's). Its x and dense teacher logits are checked for NaN and ±∞ there, by a
   * kernel, before any row is gathered into a batch (checkBlock checked the rest as it was read).
   */
  private stage(b: StreamBlock): void {
    const e = this.engine;
    const k = e.kernels;
    const rows = b.rows;
    const xs = rows * this.features;
    e.f32(this.slotX, xs).set(b.x);
    const badX = k.first_non_finite(this.slotX, xs);
    if (badX < xs) throw nonFiniteError(b, "x", b.x[badX]!, badX, this.features);
    if (b.y) e.i32(this.slotY, rows).set(b.y);
    else e.i32(this.slotY, rows).fill(MISSING_LABEL);
    if (this.slotTeacher) {
      const ts = rows * this.classes;
      e.f32(this.slotTeacher, ts).set(b.teacher!);
      const badT = k.first_non_finite(this.slotTeacher, ts);
      if (badT < ts) throw nonFiniteError(b, "teacher", b.teacher![badT]!, badT, this.classes);
    }
    if (this.slotIndex) {
      e.i32(this.slotIndex, rows * this.topK).set(b.topIndex!);
      e.f32(this.slotProb, rows * this.topK).set(b.topProb!);
    }
    this.block++;
    this.blockRows = rows;
    this.offset = 0;
    if (this.restored) {
      e.i32(this.rowOrder, rows).set(this.restored.rowOrder);
      this.offset = this.restored.offset;
      this.restored = undefined;
    } else if (this.stream.shuffle) {
      k.rng_permutation(this.rng, this.rowOrder, rows);
    } else {
      e.i32(this.rowOrder, rows).forEach((_, i, a) => (a[i] = i));
    }
  }

  fill(out: BatchBuffers, _first: number, rows: number): void | Promise<void> {
    const k = this.engine.kernels;
    // One turn of the event loop per batch while the next block is read (see the module comment).
    if (this.inFlight && !this.turned) {
      this.turned = true;
      return nextTurn();
    }
    this.turned = false;
    while (this.filled < rows) {
      if (this.offset === this.blockRows) {
        if (this.failure !== undefined) throw this.failure;
        if (this.next === undefined) {
          if (this.ended) throw new ArgumentError(`StreamDataset: epoch ${this.epoch + 1}'s data ended before its ${this.rows} rows`);
          return this.reading;
        }
        const b = this.next;
        this.next = undefined;
        this.readNext();
        this.stage(b);
        if (this.offset === this.blockRows) continue; // a resumed block that was used up
      }
      const left = this.blockRows - this.offset;
      const want = rows - this.filled;
      const n = left < want ? left : want;
      const at = this.filled;
      k.gather_rows(out.x + at * this.features * 4, this.slotX, this.rowOrder, this.offset, n, this.features * 4);
      k.gather_rows(out.y + at * 4, this.slotY, this.rowOrder, this.offset, n, 4);
      if (this.slotTeacher) k.gather_rows(out.teacher + at * this.classes * 4, this.slotTeacher, this.rowOrder, this.offset, n, this.classes * 4);
      if (this.slotIndex) {
        k.gather_rows(this.batchIndex + at * this.topK * 4, this.slotIndex, this.rowOrder, this.offset, n, this.topK * 4);
        k.gather_rows(this.batchProb + at * this.topK * 4, this.slotProb, this.rowOrder, this.offset, n, this.topK * 4);
      }
      this.offset += n;
      this.filled += n;
    }
    this.filled = 0;
    if (this.slotIndex) k.sparse_teacher_logits(out.teacher, this.batchIndex, this.batchProb, rows, this.topK, this.classes);
  }

  save(): Pick<Checkpoint, "order" | "stream"> {
    const e = this.engine;
    const stream: StreamPosition = {
      blockOrder: e.i32(this.blockOrder, this.stream.blockCount ?? 0).slice(),
      block: this.block,
      offset: this.offset,
      rowOrder: e.i32(this.rowOrder, this.blockRows).slice(),
    };
    return { order: new Int32Array(0), stream };
  }

  load(c: Checkpoint): void {
    const p = c.stream!;
    this.engine.i32(this.blockOrder, p.blockOrder.length).set(p.blockOrder);
    // epochStart(resuming) reads the block again from here; stage() puts back its order and offset.
    this.block = p.block - 1;
    this.restored = { rowOrder: p.rowOrder, offset: p.offset };
  }

  dataHash(): string {
    const v = this.validation;
    return this.stream.identity() + (v ? contentHash(v.x, v.y) : "");
  }

  dispose(): void {
    void this.blocks?.return(undefined).catch(() => undefined);
    this.blocks = undefined;
  }
}
