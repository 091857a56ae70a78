/**
 * Held-out metrics of a multi-label model (several independent yes/no labels per row, a
 * sigmoid per output): subset accuracy, per-label (Hamming) accuracy, micro and macro F1 at
 * the threshold σ(z) > 0.5 (z > 0, compared exactly), and the mean binary cross-entropy.
 * The model runs in wasm in batches (inference mode); its f32 logits are compared with the
 * labels in JavaScript: counts are exact integers, the BCE is summed in float64 from
 * max(z, 0) − z·y + log1p(e^{−|z|}) (Math.exp / Math.log1p, whose last bits may differ
 * between JavaScript engines; the counts and F1 never do).
 */
import type { Dataset } from "../data/dataset.js";
import { ArgumentError, TaskError } from "../errors.js";
import type { Sequential } from "../nn/sequential.js";
import { copyToWasm } from "../data/wasm-data.js";
import { checkedElsewhere, checkOptions } from "../options/schema.js";
import { checkModelAndData } from "../data/fits-model.js";

export interface MultiLabelEvaluation {
  /** Rows whose every label is predicted right (exact-match ratio). */
  subsetAccuracy: number;
  /** Labels predicted right, over rows · labels (1 − Hamming loss). */
  hammingAccuracy: number;
  /** Each label's accuracy over the rows. */
  labelAccuracy: number[];
  /** F1 of all (row, label) decisions pooled: 2·TP / (2·TP + FP + FN); 1 when there is no positive at all. */
  microF1: number;
  /** Mean over labels of each label's F1 (a label with no positive, predicted or true, counts 1). */
  macroF1: number;
  /** Each label's F1. */
  labelF1: number[];
  /** Mean binary cross-entropy with logits over rows · labels (PyTorch's BCEWithLogitsLoss, "mean"). */
  bce: number;
  /** Rows evaluated. */
  count: number;
  /** Labels per row (model.outputs). */
  labels: number;
}

/** Evaluates a multi-label model on a multi-label dataset whose every row has its labels (Dataset.multiLabel). */
export function evaluateMultiLabel(model: Sequential, data: Dataset, given: { batchSize?: number } = {}): MultiLabelEvaluation {
  const op = "evaluate";
  const options = checkOptions(op, { batchSize: checkedElsewhere }, given);
  checkModelAndData(op, model, data);
  if (!data.multiLabel) throw new TaskError(`${op}: multi-label metrics need a multi-label dataset (Dataset.multiLabel(x, labels, { features, labels }))`);
  if (!model.multiLabel) {
    throw new TaskError(
      `${op}: the data is multi-label but the model is not (its outputs are read as one softmax); train it on Dataset.multiLabel data, ` +
        "or set model.multiLabel = true for a model with a sigmoid per output",
    );
  }
  const batchSize = options.batchSize ?? 256;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new ArgumentError(`${op}: batchSize must be a positive integer; got ${String(batchSize)}`);
  const labels = model.outputs;
  const n = data.length;
  const y = data.targets!;
  const tp = new Float64Array(labels);
  const fp = new Float64Array(labels);
  const fn = new Float64Array(labels);
  const right = new Float64Array(labels);
  let exact = 0;
  let bce = 0;
  const engine = model.engine;
  const owned: number[] = [];
  try {
    const wasm = copyToWasm(engine, data, owned);
    const batch = Math.min(batchSize, n);
    model.reserve(batch);
    for (let first = 0; first < n; first += batch) {
      const rows = Math.min(batch, n - first);
      const out = engine.f32(model.forward(wasm.x + first * data.features * 4, rows, false), rows * labels);
      for (let r = 0; r < rows; r++) {
        let all = true;
        for (let j = 0; j < labels; j++) {
          const z = out[r * labels + j]!;
          const truth = y[(first + r) * labels + j] === 1;
          const said = z > 0;
          bce += Math.max(z, 0) - (truth ? z : 0) + Math.log1p(Math.exp(-Math.abs(z)));
          if (said === truth) right[j]!++;
          else all = false;
          if (said && truth) tp[j]!++;
          else if (said) fp[j]!++;
          else if (truth) fn[j]!++;
        }
        if (all) exact++;
      }
    }
  } finally {
    for (const p of owned) engine.free(p);
  }
  const f1 = (t: number, p: number, m: number) => (t + p + m === 0 ? 1 : (2 * t) / (2 * t + p + m));
  const labelF1 = Array.from(tp, (t, j) => f1(t, fp[j]!, fn[j]!));
  const sum = (a: Float64Array) => a.reduce((s, v) => s + v, 0);
  return {
    subsetAccuracy: exact / n,
    hammingAccuracy: sum(right) / (n * labels),
    labelAccuracy: Array.from(right, (c) => c / n),
    microF1: f1(sum(tp), sum(fp), sum(fn)),
    macroF1: labelF1.reduce((s, v) => s + v, 0) / labels,
    labelF1,
    bce: bce / (n * labels),
    count: n,
    labels,
  };
}
