/**
 * Input checks run before any wasm call. Each throws a typed error whose message starts
 * with the operation's name and names the argument, the value found and what is expected.
 */
import { ArgumentError, LabelError, NonFiniteError, OptionError, ShapeError, TokenError } from "./errors.js";

/** Float data accepted by the public API (copied into wasm memory as f32). */
export type FloatArray = Float32Array | Float64Array | readonly number[];
/** Integer class labels accepted by the public API. */
export type LabelArray = Int32Array | Uint8Array | Uint16Array | Uint32Array | Int8Array | Int16Array | readonly number[];

const F32_MAX = 3.4028234663852886e38;

function isArrayLikeOfNumbers(x: unknown): x is ArrayLike<number> {
  return ArrayBuffer.isView(x) ? !(x instanceof DataView) : Array.isArray(x);
}

/** A positive integer dimension. */
export function requireDim(op: string, name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw new ShapeError(`${op}: ${name} must be a positive integer; got ${String(value)}`);
  }
  return value;
}

/** A numeric array (typed array or plain array). */
export function requireArray(op: string, name: string, x: unknown): ArrayLike<number> {
  if (!isArrayLikeOfNumbers(x)) {
    const kind = x === null ? "null" : typeof x === "object" ? ((x as object).constructor?.name ?? "object") : typeof x;
    throw new ArgumentError(`${op}: ${name} must be a Float32Array, Float64Array or number[]; got ${kind}`);
  }
  return x;
}

/** Rows of a (rows, cols) matrix stored flat in `x`: the length must be a positive multiple of cols. */
export function rowsOf(op: string, name: string, x: ArrayLike<number>, cols: number): number {
  if (x.length === 0 || x.length % cols !== 0) {
    throw new ShapeError(`${op}: ${name} has ${x.length} values, which is not a positive multiple of ${cols} ` + `(expected a flat (rows, ${cols}) matrix)`);
  }
  return x.length / cols;
}

/** Exact length check, with the expected shape spelled out. */
export function requireLength(op: string, name: string, x: ArrayLike<number>, expected: number, shape: string): void {
  if (x.length !== expected) {
    throw new ShapeError(`${op}: ${name} has ${x.length} values; expected ${expected} = ${shape}`);
  }
}

/** Every value finite and within f32 range (so that the f32 copy is finite too). */
export function requireFinite(op: string, name: string, x: ArrayLike<number>, cols?: number): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (!(Math.abs(v) <= F32_MAX)) {
      const where = cols ? `row ${Math.floor(i / cols)}, column ${i % cols}` : `index ${i}`;
      throw new NonFiniteError(`${op}: ${name} contains ${v} at ${where}; all values must be finite`);
    }
  }
}

/** The largest vocabulary: token ids travel as float32 values, exact for integers up to 2^24. */
export const MAX_VOCAB = 2 ** 24;

/**
 * Token ids: every value an integer in [0, vocab) (vocab ≤ 2^24, so each id is exact in
 * float32), in a flat (rows, cols) matrix; the first bad one is named by row and position.
 */
export function requireTokenIds(op: string, name: string, x: ArrayLike<number>, vocab: number, cols: number, firstRow = 0): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (!(Number.isInteger(v) && v >= 0 && v < vocab)) {
      throw new TokenError(
        `${op}: ${name} holds ${v} at row ${firstRow + Math.floor(i / cols)}, position ${i % cols}; token ids must be integers in [0, ${vocab}) (the vocabulary size)`,
      );
    }
  }
}

/** Labels: `rows` integers in [0, classes). */
export function requireLabels(op: string, labels: unknown, rows: number, classes: number, allowMissing = false): ArrayLike<number> {
  if (!isArrayLikeOfNumbers(labels)) {
    throw new ArgumentError(`${op}: labels must be an Int32Array, Uint8Array or number[]; got ${typeof labels}`);
  }
  if (labels.length !== rows) {
    throw new ShapeError(`${op}: labels has ${labels.length} entries; expected one per row (${rows})`);
  }
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i]!;
    if (allowMissing && v === -1) continue; // MISSING_LABEL
    if (!Number.isInteger(v) || v < 0 || v >= classes) {
      throw new LabelError(
        `${op}: labels[${i}] = ${v} is not a class id; labels must be integers in [0, ${classes})${allowMissing ? " or MISSING_LABEL (−1) for a row without a label" : ""}`,
      );
    }
  }
  return labels;
}

/** Largest |x_i|, for checking that x/T stays finite. */
function maxAbs(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]!));
  return m;
}

/** Temperature: finite, > 0, and not so small that logits / T overflows f32. */
export function requireTemperature(op: string, t: unknown, ...logits: ArrayLike<number>[]): number {
  if (typeof t !== "number" || !Number.isFinite(t) || t <= 0) {
    throw new OptionError(`${op}: temperature must be a finite number > 0; got ${String(t)}`);
  }
  const t32 = Math.fround(t);
  for (const x of logits) {
    if (!(maxAbs(x) / t32 < F32_MAX / 2)) {
      throw new OptionError(`${op}: temperature ${t} is too small for logits as large as ${maxAbs(x)}: logits / temperature overflows float32`);
    }
  }
  return t;
}

/** Weight of the hard-label loss: a number in [0, 1]. */
export function requireAlpha(op: string, alpha: unknown): number {
  if (typeof alpha !== "number" || !(alpha >= 0 && alpha <= 1)) {
    throw new OptionError(`${op}: alpha must be a number in [0, 1] (the weight of the hard-label loss); got ${String(alpha)}`);
  }
  return alpha;
}

/** An option that must be one of a few strings. */
export function requireChoice<T extends string>(op: string, name: string, value: unknown, choices: readonly T[]): T {
  if (!choices.includes(value as T)) {
    throw new OptionError(`${op}: ${name} must be one of ${choices.map((c) => JSON.stringify(c)).join(", ")}; got ${JSON.stringify(value)}`);
  }
  return value as T;
}
