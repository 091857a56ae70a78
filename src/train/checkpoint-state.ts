/**
 * The state record of a checkpoint file: the scalars, history and sizes that
 * checkpoint-file.ts keeps as JSON in the safetensors metadata, beside the tensors. Parsed
 * field by field, so that the record's type says what the file held: a field a file did
 * not have (`labelled`, `health`, `stream` in files written before them, or by a run over
 * an in-memory dataset) is absent in the type too, and a field of the wrong kind is a
 * FormatError naming it — never an undefined read later in the training loop.
 */
import { FormatError } from "../errors.js";
import type { CheckpointCommon, StreamPosition } from "./checkpoint.js";
import type { HealthState } from "./health.js";
import type { EpochRecord } from "./loop.js";

/**
 * The record as written by encodeCheckpoint (version 1): the checkpoint's scalars as they
 * are, with `labelled` and `health` optional (files written before them lack them).
 */
export type CheckpointStateRecord = Pick<
  CheckpointCommon,
  "fingerprint" | "stage" | "epoch" | "position" | "steps" | "lossSum" | "correct" | "seen" | "history" | "early" | "hookState" | "health"
> & {
  labelled?: number;
  /** A streamed run's block and offset (its orders are tensors); absent for an in-memory dataset. */
  stream?: Pick<StreamPosition, "block" | "offset">;
  /** Per optimizer: its step count and how many buffer tensors it has. */
  optimizers: { steps: number; buffers: number }[];
  /** How many extra parameter tensors there are. */
  extra: number;
};

/** JSON keeps NaN and ±Infinity (e.g. "no best value yet") as tagged strings. */
export const nonFiniteReplacer = (_key: string, value: unknown) =>
  typeof value === "number" && !Number.isFinite(value) ? { nonFinite: String(value) } : value;
const reviver = (_key: string, value: unknown) =>
  value && typeof value === "object" && "nonFinite" in value ? Number((value as { nonFinite: string }).nonFinite) : value;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
/** A count of tensors: a whole number from 0 to `max` (the tensors the file holds). */
const isCount = (v: unknown, max: number): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0 && v <= max;

/**
 * The record's text → its typed fields, or a FormatError naming the first field that is
 * missing or of the wrong kind. `tensors`: how many tensors the file holds (no count in
 * the record may exceed it). The values' ranges against the run are checked when it is
 * resumed (checkpoint-check.ts).
 */
export function parseStateRecord(text: string, tensors: number, name: string): CheckpointStateRecord {
  let s: unknown;
  try {
    s = JSON.parse(text, reviver);
  } catch {
    throw new FormatError(`${name}: its state record is not valid JSON`);
  }
  if (!isObject(s) || typeof s.fingerprint !== "string" || !Array.isArray(s.optimizers) || !Array.isArray(s.history)) {
    throw new FormatError(`${name}: its state record is incomplete`);
  }
  const bad = (field: string, kind: string) => new FormatError(`${name}: its state record's ${field} is not ${kind}`);
  const number = (v: unknown, field: string): number => {
    if (typeof v !== "number") throw bad(field, "a number");
    return v;
  };
  const numbers = (v: unknown, field: string): Record<string, number> => {
    if (!isObject(v)) throw bad(field, "an object of numbers");
    for (const [key, value] of Object.entries(v)) number(value, `${field}.${key}`);
    return v as Record<string, number>;
  };
  if (typeof s.stage !== "string") throw bad("stage", "a string");
  const early = s.early;
  if (!isObject(early) || (early.bestEpoch !== null && typeof early.bestEpoch !== "number")) throw bad("early", "{ bestValue, bestEpoch, sinceBest }");
  s.history.forEach((r, i) => {
    if (!isObject(r)) throw bad(`history[${i}]`, "an epoch record");
  });
  const optimizers = s.optimizers.map((o: unknown, i) => {
    if (!isObject(o) || !isCount(o.buffers, tensors)) throw bad(`optimizers[${i}]`, "{ steps, buffers } with a count of buffers");
    return { steps: number(o.steps, `optimizers[${i}].steps`), buffers: o.buffers };
  });
  if (!isCount(s.extra, tensors)) throw bad("extra", "a count of tensors");
  const stream = s.stream;
  if (stream != null && (!isObject(stream) || typeof stream.block !== "number" || typeof stream.offset !== "number")) {
    throw bad("stream", "{ block, offset }");
  }
  if (s.health != null) numbers(s.health, "health");
  return {
    fingerprint: s.fingerprint,
    stage: s.stage,
    epoch: number(s.epoch, "epoch"),
    position: number(s.position, "position"),
    steps: number(s.steps, "steps"),
    lossSum: number(s.lossSum, "lossSum"),
    correct: number(s.correct, "correct"),
    seen: number(s.seen, "seen"),
    ...(s.labelled != null ? { labelled: number(s.labelled, "labelled") } : {}),
    history: s.history as EpochRecord[],
    early: {
      bestValue: number(early.bestValue, "early.bestValue"),
      bestEpoch: early.bestEpoch as number | null,
      sinceBest: number(early.sinceBest, "early.sinceBest"),
    },
    hookState: s.hookState == null ? {} : numbers(s.hookState, "hookState"),
    ...(s.health != null ? { health: s.health as unknown as HealthState } : {}),
    ...(stream != null ? { stream: { block: stream.block as number, offset: stream.offset as number } } : {}),
    optimizers,
    extra: s.extra,
  };
}
