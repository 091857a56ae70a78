/**
 * The token layers as Keras layers of a TensorFlow.js layers model (entries of TFJS_WRITERS,
 * ./tfjs-layers.ts). The input stays float32 (batch, seqLen) ids; TensorFlow.js's Embedding
 * casts them to int32 itself.
 *
 *   embedding     Embedding(vocab, dim, input_length seqLen): "<name>/embeddings" is the
 *                 weight (vocab, dim) as it is
 *   embeddingBag  without a padding id: Embedding, then GlobalAveragePooling1D over the
 *                 sequence (sum / seqLen). With one, the masked mean as attention weights:
 *                 a second Embedding (vocab, 1) scores each id 0, the padding id −10⁴;
 *                 Reshape to (seqLen) and Activation("softmax") give 1 / count on every
 *                 other id and exactly 0 on padding (e^−10⁴ underflows); Dot over the
 *                 sequence axis with the embedded rows gives Σ row / count. Its table holds
 *                 the weight with the padding row zeroed, so a row of padding only (uniform
 *                 softmax) gives zeros, as the kernel does. −10⁴ is exact in float16 too.
 *   layerNorm     LayerNormalization(axis −1, epsilon) with gamma = weight, beta = bias
 *
 * The bag's mean is Σ row·(1/count) here and (Σ row)/count in assembly/embedding.ts: equal
 * to float32 rounding, not bit for bit.
 */
import type { ExportLayer, SpecOf } from "./layers.js";
import type { KerasGraph } from "./tfjs-layers.js";

/** The score of the padding id before the softmax: e^(−10⁴ − 0) is 0 in float32, and −10⁴ is a float16 number. */
export const PADDING_SCORE = -1e4;

function embed(name: string, vocab: number, dim: number, seqLen: number, x: string, g: KerasGraph, table: () => Float32Array): string {
  g.add("Embedding", name, [x], { input_dim: vocab, output_dim: dim, input_length: seqLen, mask_zero: false });
  g.weights(() => [{ name: `${name}/embeddings`, shape: [vocab, dim], values: table() }]);
  return name;
}

export function tfjsEmbedding(layer: ExportLayer<SpecOf<"embedding">>, x: string, g: KerasGraph): string {
  const { vocab, dim, seqLen } = layer.spec;
  return embed(`embedding_${layer.index}`, vocab, dim, seqLen, x, g, () => layer.tensor("weight"));
}

export function tfjsEmbeddingBag(layer: ExportLayer<SpecOf<"embeddingBag">>, x: string, g: KerasGraph): string {
  const { vocab, dim, seqLen, paddingIdx } = layer.spec;
  const i = layer.index;
  if (paddingIdx === undefined) {
    const rows = embed(`embedding_${i}`, vocab, dim, seqLen, x, g, () => layer.tensor("weight"));
    return g.add("GlobalAveragePooling1D", `global_average_pooling1d_${i}`, [rows], { data_format: "channels_last" });
  }
  const rows = embed(`embedding_${i}`, vocab, dim, seqLen, x, g, () => {
    const table = layer.tensor("weight");
    table.fill(0, paddingIdx * dim, (paddingIdx + 1) * dim);
    return table;
  });
  const scores = embed(`embedding_${i}_score`, vocab, 1, seqLen, x, g, () => {
    const score = new Float32Array(vocab);
    score[paddingIdx] = PADDING_SCORE;
    return score;
  });
  const flat = g.add("Reshape", `reshape_${i}_score`, [scores], { target_shape: [seqLen] });
  const weights = g.add("Activation", `activation_${i}_mean_weights`, [flat], { activation: "softmax" });
  return g.add("Dot", `dot_${i}_mean`, [weights, rows], { axes: [1, 1], normalize: false });
}

export function tfjsLayerNorm(layer: ExportLayer<SpecOf<"layerNorm">>, x: string, g: KerasGraph): string {
  const { dim, eps = 1e-5 } = layer.spec;
  const name = g.add("LayerNormalization", `layer_normalization_${layer.index}`, [x], { axis: -1, epsilon: eps, center: true, scale: true });
  g.weights(() => [
    { name: `${name}/gamma`, shape: [dim], values: layer.tensor("weight") },
    { name: `${name}/beta`, shape: [dim], values: layer.tensor("bias") },
  ]);
  return name;
}
