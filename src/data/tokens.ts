/**
 * Token-id rows for a model whose first layer is an embedding. A token dataset is an
 * ordinary Dataset whose features are a sample's seqLen token ids, stored as float32: every
 * integer up to 2^24 is exact there, so the vocabulary may hold up to 2^24 tokens and
 * splits, shuffles, batches, transfer sets and the wasm copy of the data all work as for
 * any other features. The ids are checked here (integers in [0, vocab)), and again against
 * each model's vocabulary where data meets a model, before any wasm call: the embedding
 * kernels use them as row indices.
 *
 * Samples shorter than seqLen give their `lengths`: the positions from a sample's length
 * on are set to the `padding` id (whatever the input held there), which the embedding's
 * paddingIdx leaves out of the gradient and the bag out of its mean.
 */
import { checkOptions, knownKeys } from "../options/schema.js";
import { ArgumentError, OptionError, ShapeError, TokenError } from "../errors.js";
import { MAX_VOCAB, requireDim, requireTokenIds } from "../validate.js";

export { MAX_VOCAB };

export interface TokenDatasetOptions {
  /** Token ids per sample (the model's input width). */
  seqLen: number;
  /** Vocabulary size: ids are integers in [0, vocab), vocab ≤ 2^24. */
  vocab: number;
  /** Number of classes; default: the largest label + 1 (required without labels). */
  classes?: number;
  /** Each sample's number of real tokens, in [0, seqLen]; the rest of its row becomes `padding`. */
  lengths?: ArrayLike<number>;
  /** The padding token's id, in [0, vocab); required with `lengths`. */
  padding?: number;
}

/** The (rows, seqLen) ids as float32 rows, padded after each sample's length, after checking every id. */
export function tokenRows(op: string, ids: unknown, given: TokenDatasetOptions): { x: Float32Array; seqLen: number; classes?: number } {
  const options = checkOptions(op, knownKeys("seqLen", "vocab", "classes", "lengths", "padding"), given, ["seqLen", "vocab"]) as TokenDatasetOptions;
  const seqLen = requireDim(op, "seqLen", options.seqLen);
  const vocab = requireDim(op, "vocab", options.vocab);
  if (vocab > MAX_VOCAB) throw new OptionError(`${op}: vocab must be at most 2^24 = ${MAX_VOCAB} (ids are stored as exact float32); got ${vocab}`);
  if (!(ids instanceof Int32Array || ids instanceof Uint16Array || ids instanceof Uint32Array || ids instanceof Uint8Array || Array.isArray(ids))) {
    throw new ArgumentError(`${op}: ids must be an Int32Array (or another integer typed array, or number[]) of token ids; got ${describe(ids)}`);
  }
  const values = ids as ArrayLike<number>;
  if (values.length === 0 || values.length % seqLen !== 0) {
    throw new ShapeError(`${op}: ids has ${values.length} values, not a positive multiple of seqLen ${seqLen} (a flat (rows, seqLen) matrix)`);
  }
  const rows = values.length / seqLen;
  const { lengths, padding } = options;
  if (padding !== undefined && !(Number.isInteger(padding) && padding >= 0 && padding < vocab)) {
    throw new TokenError(`${op}: padding must be a token id, an integer in [0, ${vocab}); got ${String(padding)}`);
  }
  const x = new Float32Array(values.length);
  if (lengths === undefined) {
    requireTokenIds(op, "ids", values, vocab, seqLen);
    x.set(values);
    return { x, seqLen, classes: options.classes };
  }
  if (padding === undefined) throw new OptionError(`${op}: lengths needs padding, the token id that fills each row after its length`);
  if (!(ArrayBuffer.isView(lengths) || Array.isArray(lengths)) || lengths.length !== rows) {
    throw new ShapeError(`${op}: lengths must hold one length per row (${rows} rows of ${seqLen} ids); got ${describe(lengths)}`);
  }
  for (let r = 0; r < rows; r++) {
    const n = lengths[r]!;
    if (!(Number.isInteger(n) && n >= 0 && n <= seqLen))
      throw new TokenError(`${op}: lengths[${r}] = ${String(n)} must be an integer in [0, ${seqLen}] (seqLen)`);
    // only the real tokens are checked: what the rest of the row held is replaced by padding
    for (let t = 0; t < seqLen; t++) x[r * seqLen + t] = t < n ? values[r * seqLen + t]! : padding;
    requireTokenIds(op, "ids", x.subarray(r * seqLen, r * seqLen + n), vocab, seqLen, r);
  }
  return { x, seqLen, classes: options.classes };
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (ArrayBuffer.isView(v) || Array.isArray(v))
    return `${(v as { constructor: { name: string } }).constructor.name} of ${(v as ArrayLike<number>).length} values`;
  return typeof v;
}
