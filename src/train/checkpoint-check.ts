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
}

const isCount = (v: unknown, max = Infinity): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0 && v <= max;

function finiteArray(name: string, values: unknown, length: number): void {
  if (!(values instanceof Float32Array) || values.length !== length) throw new FormatError(`checkpoint: ${name} must hold ${length} float32 values`);
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) throw new FormatError(`checkpoint: ${name} holds ${values[i]} at index ${i}`);
  }
}

export function checkCheckpoint(c: Checkpoint, s: CheckpointShape): void {
  const fail = (what: string) => new FormatError(`checkpoint: ${what}`);
  if (!isCount(c.epoch) || c.epoch >= s.epochs) throw fail(`epoch ${c.epoch} is not an epoch of this run (0 ≤ epoch < ${s.epochs})`);
  if (!isCount(c.position, s.rows + s.batchSize)) throw fail(`position ${c.position} is outside the epoch (0 … ${s.rows + s.batchSize})`);
  if (!isCount(c.steps, s.maxSteps)) throw fail(`steps ${c.steps} is not a step count of this run`);
  const labelled = c.labelled ?? c.seen;
  if (!isCount(c.seen) || !isCount(labelled, c.seen) || !isCount(c.correct, labelled) || typeof c.lossSum !== "number" || !Number.isFinite(c.lossSum)) {
    throw fail("the epoch's running sums (lossSum, correct ≤ labelled ≤ seen) are not valid counts");
  }
  if (!(c.order instanceof Int32Array) || c.order.length !== s.rows) throw fail(`order must be a permutation of the ${s.rows} rows`);
  const seen = new Uint8Array(s.rows);
  for (let i = 0; i < c.order.length; i++) {
    const r = c.order[i]!;
    if (r < 0 || r >= s.rows || seen[r]) throw fail(`order is not a permutation of the ${s.rows} rows (entry ${i} is ${r})`);
    seen[r] = 1;
  }
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
