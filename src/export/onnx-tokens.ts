/**
 * The token layers as ONNX nodes (entries of ONNX_WRITERS, ./onnx-write.ts). The model's
 * input stays float32, (batch, seqLen) token ids as the library takes them (exact integers
 * below 2^24), so a token model is fed the same array in every runtime; the ids are cast to
 * int64 for Gather inside the graph. Weights keep PyTorch's names ("<i>.weight" (vocab, dim)
 * for nn.Embedding / nn.EmbeddingBag, "<i>.weight" and "<i>.bias" (dim) for nn.LayerNorm):
 *
 *   embedding     Cast(ids, INT64) → Gather(weight, ids): (batch, seqLen, dim)
 *   embeddingBag  the embedding's rows, then their mean over the sequence as
 *                 assembly/embedding.ts computes it: the padding id left out of the sum and
 *                 of the count, a row of padding only giving zeros —
 *                   keep  = Cast(Not(Equal(ids, paddingIdx)), FLOAT)       (batch, seqLen)
 *                   sum   = ReduceSum(rows · Unsqueeze(keep, 2), axis 1)    (batch, dim)
 *                   count = Max(ReduceSum(keep, axis 1, keepdims), 1)       (batch, 1)
 *                   y     = sum / count
 *                 without a padding id: ReduceSum(rows, axis 1) / seqLen
 *   layerNorm     LayerNormalization(x, weight, bias, axis −1, epsilon) from opset 17 (its
 *                 first opset); before it the kernel's formula in nodes: mean = ReduceMean(x),
 *                 d = x − mean, rstd = 1 / √(ReduceMean(d·d) + eps), y = (d·rstd)·weight + bias
 *
 * ReduceSum's summation order is the runtime's, not the kernel's t = 0, 1, … order, so the
 * bag's outputs agree with the library's to float32 rounding, not bit for bit. fromOnnx
 * does not read these nodes back (it refuses the model, naming the first Cast).
 */
import type { ExportLayer, SpecOf } from "./layers.js";
import { FLOAT, INT64, floatAttribute, intAttribute, intsAttribute } from "./onnx-proto.js";
import type { GraphBuilder } from "./onnx-write.js";

/** The first opset with the LayerNormalization operator. */
export const LAYER_NORM_OPSET = 17;

/** Cast(ids, INT64) → Gather(weight, ids): the rows of the table, (batch, seqLen, dim). */
function gatherRows(layer: ExportLayer<SpecOf<"embedding"> | SpecOf<"embeddingBag">>, x: string, g: GraphBuilder): string {
  const { vocab, dim } = layer.spec;
  const i = layer.index;
  const weight = g.initializer(`${i}.weight`, [vocab, dim], layer.tensor("weight"));
  const ids = g.node("Cast", `${i}.ids`, [x], `${i}.ids`, [intAttribute("to", INT64)]);
  return g.node("Gather", `${i}.gather`, [weight, ids], `${i}.gather`, [intAttribute("axis", 0)]);
}

export function embeddingNodes(layer: ExportLayer<SpecOf<"embedding">>, x: string, g: GraphBuilder): string {
  return gatherRows(layer, x, g);
}

export function embeddingBagNodes(layer: ExportLayer<SpecOf<"embeddingBag">>, x: string, g: GraphBuilder): string {
  const { seqLen, paddingIdx } = layer.spec;
  const i = layer.index;
  const rows = gatherRows(layer, x, g);
  const sequence = g.int64s(`${i}.sequence_axis`, [1]);
  const n = (op: string, step: string, inputs: string[], attributes = [intAttribute("keepdims", 0)]) =>
    g.node(op, `${i}.${step}`, inputs, `${i}.${step}`, op.startsWith("Reduce") ? attributes : []);
  if (paddingIdx === undefined) {
    const sum = n("ReduceSum", "sum", [rows, sequence]);
    return n("Div", "mean", [sum, g.scalar(`${i}.seq_len`, seqLen)]);
  }
  const padding = g.node("Equal", `${i}.is_padding`, [x, g.scalar(`${i}.padding_idx`, paddingIdx)], `${i}.is_padding`);
  const kept = g.node("Not", `${i}.is_token`, [padding], `${i}.is_token`);
  const keep = g.node("Cast", `${i}.keep`, [kept], `${i}.keep`, [intAttribute("to", FLOAT)]);
  const keep3 = n("Unsqueeze", "keep_column", [keep, g.int64s(`${i}.feature_axis`, [2])]);
  const masked = n("Mul", "masked", [rows, keep3]);
  const sum = n("ReduceSum", "sum", [masked, sequence]);
  const count = n("ReduceSum", "count", [keep, sequence], [intAttribute("keepdims", 1)]);
  const atLeastOne = n("Max", "count_at_least_1", [count, g.scalar(`${i}.one`, 1)]);
  return n("Div", "mean", [sum, atLeastOne]);
}

export function layerNormNodes(layer: ExportLayer<SpecOf<"layerNorm">>, x: string, g: GraphBuilder): string {
  const { dim, eps = 1e-5 } = layer.spec;
  const i = layer.index;
  const weight = g.initializer(`${i}.weight`, [dim], layer.tensor("weight"));
  const bias = g.initializer(`${i}.bias`, [dim], layer.tensor("bias"));
  if (g.opset >= LAYER_NORM_OPSET) {
    return g.node("LayerNormalization", `${i}.layer_norm`, [x, weight, bias], `${i}.layer_norm`, [intAttribute("axis", -1), floatAttribute("epsilon", eps)]);
  }
  const n = (op: string, step: string, inputs: string[]) =>
    g.node(op, `${i}.${step}`, inputs, `${i}.${step}`, op === "ReduceMean" ? [intsAttribute("axes", [-1]), intAttribute("keepdims", 1)] : []);
  const mean = n("ReduceMean", "mean", [x]);
  const d = n("Sub", "centred", [x, mean]);
  const variance = n("ReduceMean", "variance", [n("Mul", "squares", [d, d])]);
  const std = n("Sqrt", "std", [n("Add", "variance_eps", [variance, g.scalar(`${i}.epsilon`, eps)])]);
  const rstd = n("Div", "rstd", [g.scalar(`${i}.one`, 1), std]);
  const normalised = n("Mul", "normalised", [d, rstd]);
  return n("Add", "layer_norm", [n("Mul", "scaled", [normalised, weight]), bias]);
}
