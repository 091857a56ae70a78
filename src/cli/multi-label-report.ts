/** How the commands report a multi-label model: subset and per-label accuracy, micro / macro F1 and BCE in text, JSON and model metadata. */
import type { Dataset } from "../data/dataset.js";
import type { Sequential } from "../nn/sequential.js";
import { evaluateMultiLabel, type MultiLabelEvaluation } from "../metrics/multi-label.js";
import { percent } from "./context.js";

/** The multi-label metrics of a model on a test set, when the test set is a multi-label dataset. */
export function multiLabelMetrics(model: Sequential, test: Dataset | undefined): MultiLabelEvaluation | undefined {
  return test?.multiLabel ? evaluateMultiLabel(model, test) : undefined;
}

/** "subset accuracy 81.20 %   per-label accuracy 95.10 %   micro F1 0.9312   macro F1 0.9270   BCE 0.1402" */
export function multiLabelText(m: MultiLabelEvaluation): string {
  return (
    `subset accuracy ${percent(m.subsetAccuracy)}   per-label accuracy ${percent(m.hammingAccuracy)}   ` +
    `micro F1 ${m.microF1.toFixed(4)}   macro F1 ${m.macroF1.toFixed(4)}   BCE ${m.bce.toFixed(4)}`
  );
}

/** The metrics as JSON fields (empty without them). */
export function multiLabelJson(m: MultiLabelEvaluation | undefined): Record<string, number | number[]> {
  return m
    ? {
        subsetAccuracy: m.subsetAccuracy,
        hammingAccuracy: m.hammingAccuracy,
        labelAccuracy: m.labelAccuracy,
        microF1: m.microF1,
        macroF1: m.macroF1,
        labelF1: m.labelF1,
        bce: m.bce,
      }
    : {};
}

/** The metrics as model-file metadata (empty without them). */
export function multiLabelMetadata(m: MultiLabelEvaluation | undefined): Record<string, string> {
  return m
    ? {
        test_subset_accuracy: String(m.subsetAccuracy),
        test_hamming_accuracy: String(m.hammingAccuracy),
        test_micro_f1: String(m.microF1),
        test_macro_f1: String(m.macroF1),
        test_bce: String(m.bce),
      }
    : {};
}
