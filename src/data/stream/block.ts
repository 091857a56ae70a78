/**
 * A block of a streamed dataset: consecutive rows read together (from one .npy shard, or a
 * piece of one batch of an async iterator), checked before any of it reaches the model:
 * shapes, labels and top-k outputs here, as the block is read; the finiteness of its inputs
 * and dense teacher logits where it is staged in wasm memory (train/stream-feed.ts, by the
 * first_non_finite kernel), with the message nonFiniteError gives.
 */
import { FormatError, LabelError, NonFiniteError, ShapeError } from "../../errors.js";
import { MISSING_LABEL } from "../dataset.js";

/** Rows of a stream: x (rows, features) f32, labels (rows) i32, and the teacher's outputs for them, if the stream has them. */
export interface StreamBlock {
  rows: number;
  /** Where the rows come from, for errors: "shard x-0003.npy rows 4096…8191". */
  where: string;
  x: Float32Array;
  /** (rows) labels, MISSING_LABEL for a row without one; absent: no row has a label. */
  y?: Int32Array;
  /** (rows, classes) dense teacher logits. */
  teacher?: Float32Array;
  /** (rows, k) top-k teacher classes and (rows, k) their probabilities. */
  topIndex?: Int32Array;
  topProb?: Float32Array;
}

/** What a block must look like: widths, and which teacher outputs it carries. */
export interface BlockShape {
  features: number;
  classes: number;
  labels: boolean;
  teacher: "dense" | "top-k" | undefined;
  topK: number;
}

/** Largest amount by which a row's top-k probabilities may sum above 1 (rounding in whoever wrote them). */
export const TOP_K_SUM_SLACK = 1e-3;

/**
 * Checks a block against the stream's shape: sizes, labels in [0, classes) or
 * MISSING_LABEL, top-k indices distinct and in range with probabilities in [0, 1] summing
 * to at most 1 (+ TOP_K_SUM_SLACK). Not the finiteness of x and dense logits: see the
 * module comment.
 */
export function checkBlock(b: StreamBlock, s: BlockShape): void {
  const rows = b.rows;
  const where = b.where;
  const size = (name: string, a: ArrayLike<number> | undefined, width: number) => {
    if (!a || a.length !== rows * width)
      throw new ShapeError(`${where}: ${name} has ${a?.length ?? 0} values; expected ${rows * width} = ${rows} rows × ${width}`);
  };
  size("x", b.x, s.features);
  if (s.labels) {
    size("y", b.y, 1);
    for (let r = 0; r < rows; r++) {
      const label = b.y![r]!;
      if (label !== MISSING_LABEL && !(label >= 0 && label < s.classes)) {
        throw new LabelError(`${where}: label ${label} at row ${r} is outside [0, ${s.classes}) (MISSING_LABEL, ${MISSING_LABEL}, marks a row without one)`);
      }
    }
  }
  if (s.teacher === "dense") size("teacher logits", b.teacher, s.classes);
  if (s.teacher === "top-k") checkTopK(b, s, where);
}

/** The error for value `value` at flat index `i` of a block's (rows, width) x or teacher logits. */
export function nonFiniteError(b: StreamBlock, part: "x" | "teacher", value: number, i: number, width: number): NonFiniteError {
  const at = `row ${Math.floor(i / width)}, ${part === "x" ? "feature" : "class"} ${i % width}`;
  return new NonFiniteError(`${b.where}: ${part === "x" ? "x holds" : "teacher logits hold"} ${value} at ${at}`);
}

function checkTopK(b: StreamBlock, s: BlockShape, where: string): void {
  const k = s.topK;
  for (const [name, a] of [
    ["top-k indices", b.topIndex],
    ["top-k probabilities", b.topProb],
  ] as const) {
    if (!a || a.length !== b.rows * k)
      throw new ShapeError(`${where}: ${name} have ${a?.length ?? 0} values; expected ${b.rows * k} = ${b.rows} rows × k ${k}`);
  }
  const index = b.topIndex!;
  const prob = b.topProb!;
  const stamp = new Int32Array(s.classes).fill(-1);
  for (let r = 0; r < b.rows; r++) {
    let sum = 0;
    for (let j = 0; j < k; j++) {
      const c = index[r * k + j]!;
      const p = prob[r * k + j]!;
      if (!(c >= 0 && c < s.classes)) throw new FormatError(`${where}: top-k index ${c} at row ${r} is outside [0, ${s.classes})`);
      if (stamp[c] === r) throw new FormatError(`${where}: top-k indices of row ${r} list class ${c} twice`);
      stamp[c] = r;
      if (!(p >= 0 && p <= 1)) throw new FormatError(`${where}: top-k probability ${p} at row ${r} is not in [0, 1] (probabilities, not logits)`);
      sum += p;
    }
    if (sum > 1 + TOP_K_SUM_SLACK) throw new FormatError(`${where}: the top-k probabilities of row ${r} sum to ${sum}, more than 1`);
  }
}
