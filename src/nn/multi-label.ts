/**
 * What makes a model multi-label (several independent yes/no labels, one sigmoid per
 * output) rather than a classifier (one softmax over its outputs): the flag, its record in
 * a model file (`task` = "multilabel" in the metadata), and its decision rule. Shared by
 * Sequential, the model files and distill-wasm/infer.
 */

/** The model-file metadata key that records a multi-label model, and its value. */
export const TASK_KEY = "task";
export const MULTILABEL_TASK = "multilabel";

/** Whether a model file's metadata records a multi-label model. */
export function isMultiLabelMetadata(metadata: Readonly<Record<string, string>> | undefined): boolean {
  return metadata?.[TASK_KEY] === MULTILABEL_TASK;
}

/**
 * Labels (rows, labels) of 0 and 1 from logits: 1 where σ(z) > 0.5, i.e. z > 0 (compared
 * exactly on the logit, so the rule never depends on how σ rounds near 0.5).
 */
export function thresholdLogits(logits: Float32Array): Int32Array {
  const out = new Int32Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i]! > 0 ? 1 : 0;
  return out;
}
