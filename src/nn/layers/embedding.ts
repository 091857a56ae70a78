/**
 * A token embedding, like PyTorch's nn.Embedding(vocab, dim, padding_idx): each of a
 * sample's seqLen token ids picks its row of `weight` (vocab, dim), so (rows, seqLen) ids
 * give (rows, seqLen, dim) vectors. Token ids reach the model as its input values (float32,
 * exact for integers below 2^24; Dataset.tokens builds such rows), so the layer comes
 * first, and every input is checked to hold integers in [0, vocab) before any wasm call.
 * The padding row (paddingIdx) gets no gradient, as in PyTorch; it starts at zeros. The
 * layer has no input gradient (ids are not differentiable).
 */
import { ArgumentError, OptionError, ShapeError } from "../../errors.js";
import { MAX_VOCAB, requireTokenIds } from "../../validate.js";
import { checkInteger, Layer, showShape, type LayerKind, type ModelMemory, type Placement, type Shape } from "./layer.js";

export { MAX_VOCAB };

export interface EmbeddingSpec {
  type: "embedding";
  /** Rows of the table: token ids are integers in [0, vocab). */
  vocab: number;
  /** Values per token. */
  dim: number;
  /** Token ids per sample: the model's input width. */
  seqLen: number;
  /** A token id whose row gets no gradient (PyTorch's padding_idx), or undefined for none. */
  paddingIdx?: number;
}

export interface TokenOptions {
  /** Token ids per sample (required). */
  seqLen: number;
  /** The padding token's id, if any. */
  paddingIdx?: number;
}

/** An embedding of `vocab` tokens into `dim` values, for samples of seqLen ids: (seqLen) → (seqLen, dim). */
export function embedding(vocab: number, dim: number, options: TokenOptions): EmbeddingSpec {
  return { type: "embedding", vocab, dim, seqLen: options?.seqLen, ...(options?.paddingIdx !== undefined ? { paddingIdx: options.paddingIdx } : {}) };
}

/** The fields shared by `embedding` and `embeddingBag`. */
export interface TokenSpec {
  type: string;
  vocab: number;
  dim: number;
  seqLen: number;
  paddingIdx?: number;
}

/** Checks a token layer's numbers and that it receives its seqLen ids. */
export function checkTokenSpec(spec: TokenSpec, inShape: Shape, at: string): void {
  checkInteger(at, "vocab", spec.vocab, 1);
  if (spec.vocab > MAX_VOCAB) throw new ShapeError(`${at}: vocab must be at most 2^24 = ${MAX_VOCAB} (token ids travel as exact float32); got ${spec.vocab}`);
  checkInteger(at, "dim", spec.dim, 1);
  checkInteger(at, "seqLen", spec.seqLen, 1);
  const p = spec.paddingIdx;
  if (p !== undefined && !(Number.isInteger(p) && p >= 0 && p < spec.vocab)) {
    throw new OptionError(`${at}: paddingIdx must be a token id, an integer in [0, ${spec.vocab}); got ${String(p)}`);
  }
  if (inShape.length !== 1 || inShape[0] !== spec.seqLen) {
    throw new ShapeError(
      `${at} reads ${spec.seqLen} token ids per sample but its input is ${showShape(inShape)}; set inputShape: [${spec.seqLen}] or leave it out`,
    );
  }
}

/** The parts of a token layer's `--arch` token: <prefix><vocab>x<dim>[p<paddingIdx>]. */
export function tokenOfSpec(prefix: string, spec: TokenSpec): string {
  return `${prefix}${spec.vocab}x${spec.dim}${spec.paddingIdx !== undefined ? `p${spec.paddingIdx}` : ""}`;
}

/** Parses <prefix><vocab>x<dim>[p<paddingIdx>] given the ids flowing in, or undefined. */
export function parseTokenOf(prefix: string, token: string, inShape: Shape): { vocab: number; dim: number; seqLen: number; paddingIdx?: number } | undefined {
  const m = new RegExp(`^${prefix}(\\d+)x(\\d+)(?:p(\\d+))?$`).exec(token);
  if (!m || inShape.length !== 1) return undefined;
  return { vocab: Number(m[1]), dim: Number(m[2]), seqLen: inShape[0]!, ...(m[3] !== undefined ? { paddingIdx: Number(m[3]) } : {}) };
}

/** The error for an input gradient through a token layer. */
export function noInputGradient(index: number, type: string): ArgumentError {
  return new ArgumentError(`layer ${index} (${type}) reads token ids, which have no gradient; the model's input gradient does not exist`);
}

/**
 * What the embedding and the bag of embeddings share: the table (vocab, dim) at `weight`,
 * seqLen ids per sample, the padding id (−1 for none), and the initialisation, N(0, 1)
 * weights with the padding row zeroed, as PyTorch initialises nn.Embedding and nn.EmbeddingBag.
 */
export abstract class TokenTableLayer extends Layer {
  override readonly trainable = true;
  protected readonly vocab: number;
  protected readonly dim: number;
  protected readonly seqLen: number;
  /** −1 for none */
  protected readonly paddingIdx: number;

  constructor(
    readonly spec: TokenSpec,
    at: Placement,
  ) {
    super(at);
    this.vocab = spec.vocab;
    this.dim = spec.dim;
    this.seqLen = spec.seqLen;
    this.paddingIdx = spec.paddingIdx ?? -1;
  }

  override initialise(m: ModelMemory): void {
    const w = m.paramsPtr + this.weight * 4;
    m.kernels.rng_normal(m.rngPtr, w, this.vocab * this.dim, 0, 1);
    if (this.paddingIdx >= 0) m.engine.f32(w + this.paddingIdx * this.dim * 4, this.dim).fill(0);
  }
}

export class EmbeddingLayer extends TokenTableLayer {
  forward(m: ModelMemory, input: number, rows: number): number {
    this.inPtr = input;
    m.kernels.embedding_forward(this.out, input, m.paramsPtr + this.weight * 4, rows, this.seqLen, this.dim);
    this.outPtr = this.out;
    return this.out;
  }

  backward(m: ModelMemory, g: number, rows: number, stop: boolean): number {
    if (!stop) throw noInputGradient(this.index, "embedding");
    m.kernels.embedding_backward(m.gradsPtr + this.weight * 4, g, this.inPtr, rows, this.seqLen, this.dim, this.vocab, this.paddingIdx);
    return 0;
  }
}

export const EMBEDDING: LayerKind<EmbeddingSpec> = {
  fields: ["vocab", "dim", "seqLen", "paddingIdx"],
  takesTokens: true,
  inputShape: (spec) => [spec.seqLen],
  outShape(spec, inShape, where) {
    checkTokenSpec(spec, inShape, `${where} (embedding)`);
    return [spec.seqLen, spec.dim];
  },
  tensors: (spec) => [{ suffix: "weight", shape: [spec.vocab, spec.dim], buffer: false }],
  flops: () => 0,
  checkInput: (spec, x, op, name) => requireTokenIds(op, name, x, spec.vocab, spec.seqLen),
  token: (spec) => tokenOfSpec("emb", spec),
  /** emb<vocab>x<dim>[p<paddingIdx>], e.g. emb1000x32p0: the ids flowing in are the sequence. */
  parseToken(token, inShape) {
    const t = parseTokenOf("emb", token, inShape);
    return t && embedding(t.vocab, t.dim, t);
  },
  create: (spec, at) => new EmbeddingLayer(spec, at),
};
