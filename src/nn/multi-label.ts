/**
 * The decision rule of a multi-label model (several independent yes/no labels, one sigmoid
 * per output, task "multilabel": ./task.ts) rather than a classifier (one softmax over its
 * outputs). Shared by Sequential, QuantizedModel and distill-wasm/infer.
 */

/**
 * Labels (rows, labels) of 0 and 1 from logits: 1 where σ(z) > 0.5, i.e. z > 0 (compared
 * exactly on the logit, so the rule never depends on how σ rounds near 0.5).
 */
export function thresholdLogits(logits: Float32Array): Int32Array {
  const out = new Int32Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i]! > 0 ? 1 : 0;
  return out;
}
