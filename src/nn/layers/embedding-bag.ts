/**
 * A bag of embeddings, like PyTorch's nn.EmbeddingBag(vocab, dim, mode="mean",
 * padding_idx): each sample's seqLen token ids give the mean of their rows of `weight`
 * (vocab, dim), the padding id left out of both the sum and the count (a sample of
 * padding only gives zeros), so (rows, seqLen) ids give (rows, dim). Word order is lost:
 * it is the smallest text classifier's front end. Inputs are checked as the embedding's
 * (./embedding.ts); the padding row gets no gradient and starts at zeros.
 */
import { requireTokenIds } from "../../validate.js";
import { checkTokenSpec, noInputGradient, parseTokenOf, TokenTableLayer, tokenOfSpec, type TokenOptions } from "./embedding.js";
import type { LayerKind, ModelMemory } from "./layer.js";

export interface EmbeddingBagSpec {
  type: "embeddingBag";
  /** Rows of the table: token ids are integers in [0, vocab). */
  vocab: number;
  /** Values per token, and of the output. */
  dim: number;
  /** Token ids per sample: the model's input width. */
  seqLen: number;
  /** The padding token's id, left out of the mean; undefined for none. */
  paddingIdx?: number;
}

/** The mean embedding of each sample's seqLen ids (padding left out): (seqLen) → (dim). */
export function embeddingBag(vocab: number, dim: number, options: TokenOptions): EmbeddingBagSpec {
  return { type: "embeddingBag", vocab, dim, seqLen: options?.seqLen, ...(options?.paddingIdx !== undefined ? { paddingIdx: options.paddingIdx } : {}) };
}

export class EmbeddingBagLayer extends TokenTableLayer {
  forward(m: ModelMemory, input: number, rows: number): number {
    this.inPtr = input;
    m.kernels.embedding_bag_forward(this.out, input, m.paramsPtr + this.weight * 4, rows, this.seqLen, this.dim, this.paddingIdx);
    this.outPtr = this.out;
    return this.out;
  }

  backward(m: ModelMemory, g: number, rows: number, stop: boolean): number {
    if (!stop) throw noInputGradient(this.index, "embeddingBag");
    m.kernels.embedding_bag_backward(m.gradsPtr + this.weight * 4, g, this.inPtr, rows, this.seqLen, this.dim, this.vocab, this.paddingIdx);
    return 0;
  }
}

export const EMBEDDING_BAG: LayerKind<EmbeddingBagSpec> = {
  fields: ["vocab", "dim", "seqLen", "paddingIdx"],
  takesTokens: true,
  inputShape: (spec) => [spec.seqLen],
  outShape(spec, inShape, where) {
    checkTokenSpec(spec, inShape, `${where} (embeddingBag)`);
    return [spec.dim];
  },
  tensors: (spec) => [{ suffix: "weight", shape: [spec.vocab, spec.dim], buffer: false }],
  /** a sum of seqLen rows and a division per value */
  flops: (spec) => spec.seqLen * spec.dim + spec.dim,
  checkInput: (spec, x, op, name) => requireTokenIds(op, name, x, spec.vocab, spec.seqLen),
  token: (spec) => tokenOfSpec("bag", spec),
  /** bag<vocab>x<dim>[p<paddingIdx>], e.g. bag1000x16p0. */
  parseToken(token, inShape) {
    const t = parseTokenOf("bag", token, inShape);
    return t && embeddingBag(t.vocab, t.dim, t);
  },
  create: (spec, at) => new EmbeddingBagLayer(spec, at),
};
