/**
 * Range checks of a checkpoint against the run that resumes it, before any of its numbers
 * reach wasm memory: a damaged or hand-edited checkpoint is a FormatError naming the
 * field, never an out-of-bounds read (an `order` entry of −1), a hang (an all-zero PRNG
 * state makes rng_below loop forever) or a run that counts past its end (`epoch` −1).
 */
import { FormatError } from "../errors.js";
import type { Checkpoint } from "./checkpoint.js";

export interface CheckpointShape {
  rows: number;
  epochs: number;
  maxSteps: number;
  batchSize: number;
  /** Lengths a parameter block may have: the trainable block, or with the buffers (batch-norm statistics) after it. */
  paramLengths: readonly number[];
  rngStates: number;
  optimizerLengths: readonly number[];
  extraLengths: readonly number[];
  /** A streamed dataset's shape: blocks per epoch (undefined for an iterator's) and rows per block; absent for an in-memory one. */
  stream?: { blocks: number | undefined; blockRows: number };
}

const isCount = (v: unknown, max = Infinity): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0 && v <= max;

function finiteArray(name: string, values: unknown, length: number): void {
  if (!(values instanceof Float32Array) || values.length !== length) throw new FormatError(`checkpoint: ${name} must hold ${length} float32 values`);
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) throw new FormatError(`checkpoint: ${name} holds ${values[i]} at index ${i}`);
  }
}

function checkPermutation(name: string, order: unknown, n: number): void {
  if (!(order instanceof Int32Array) || order.length !== n) throw new FormatError(`checkpoint: ${name} must be a permutation of the ${n} rows`);
  const seen = new Uint8Array(n);
  for (let i = 0; i < order.length; i++) {
    const r = order[i]!;
    if (r < 0 || r >= n || seen[r]) throw new FormatError(`checkpoint: ${name} is not a permutation of the ${n} rows (entry ${i} is ${r})`);
    seen[r] = 1;
  }
}

/** A stream's place: the block order a permutation of the blocks, the block one of them, the row order one of its rows. */
function checkStreamPosition(c: Checkpoint, s: NonNullable<CheckpointShape["stream"]>): void {
  const p = c.stream;
  if (!p) throw new FormatError("checkpoint: it is from a run over an in-memory dataset; this run streams its data");
  if (s.blocks !== undefined) checkPermutation("stream.blockOrder", p.blockOrder, s.blocks);
  else if (!(p.blockOrder instanceof Int32Array) || p.blockOrder.length !== 0)
    throw new FormatError("checkpoint: stream.blockOrder must be empty for an iterator's stream");
  if (!isCount(p.block, s.blocks === undefined ? Infinity : s.blocks - 1))
    throw new FormatError(`checkpoint: stream.block ${p.block} is not a block of the stream`);
  if (!(p.rowOrder instanceof Int32Array) || p.rowOrder.length < 1 || p.rowOrder.length > s.blockRows) {
    throw new FormatError(`checkpoint: stream.rowOrder must order 1 … ${s.blockRows} rows`);
  }
  checkPermutation("stream.rowOrder", p.rowOrder, p.rowOrder.length);
  if (!isCount(p.offset, p.rowOrder.length)) throw new FormatError(`checkpoint: stream.offset ${p.offset} is outside its block`);
}

export function checkCheckpoint(c: Checkpoint, s: CheckpointShape): void {
  const fail = (what: string) => new FormatError(`checkpoint: ${what}`);
  if (!isCount(c.epoch) || c.epoch >= s.epochs) throw fail(`epoch ${c.epoch} is not an epoch of this run (0 ≤ epoch < ${s.epochs})`);
  if (!isCount(c.position, s.rows + s.batchSize)) throw fail(`position ${c.position} is outside the epoch (0 … ${s.rows + s.batchSize})`);
  if (!isCount(c.steps, s.maxSteps)) throw fail(`steps ${c.steps} is not a step count of this run`);
  const labelled = c.labelled;
  if (!isCount(c.seen) || !isCount(labelled, c.seen) || !isCount(c.correct, labelled) || typeof c.lossSum !== "number" || !Number.isFinite(c.lossSum)) {
    throw fail("the epoch's running sums (lossSum, correct ≤ labelled ≤ seen) are not valid counts");
  }
  if (s.stream) checkStreamPosition(c, s.stream);
  else checkPermutation("order", c.order, s.rows);
  if (!(c.rngs instanceof Uint8Array) || c.rngs.length !== 16 * s.rngStates) throw fail(`rngs must hold ${s.rngStates} PRNG states of 16 bytes`);
  for (let i = 0; i < s.rngStates; i++) {
    if (c.rngs.subarray(16 * i, 16 * i + 16).every((b) => b === 0)) throw fail(`PRNG state ${i} is all zero (the generator would never move)`);
  }
  if (!(c.params instanceof Float32Array) || !s.paramLengths.includes(c.params.length)) {
    throw fail(`params must hold ${s.paramLengths.join(" or ")} values for this model`);
  }
  finiteArray("params", c.params, c.params.length);
  if (c.best) finiteArray("best", c.best, c.best.length);
  if (!Array.isArray(c.optimizers) || c.optimizers.length !== s.optimizerLengths.length) throw fail("the optimizer states do not match the run's optimizers");
  c.optimizers.forEach((o, i) => {
    if (!isCount(o.steps)) throw fail(`optimizer ${i}'s step count ${o.steps} is not a count`);
    o.buffers.forEach((b, j) => finiteArray(`optimizer ${i} buffer ${j}`, b, s.optimizerLengths[i]!));
  });
  if (c.extraParams.length !== s.extraLengths.length) throw fail("the extra parameter blocks do not match the run's");
  c.extraParams.forEach((p, i) => finiteArray(`extra parameters ${i}`, p, s.extraLengths[i]!));
}
