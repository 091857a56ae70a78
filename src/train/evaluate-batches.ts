/** Validation during training: loss and accuracy of a model on data already in wasm memory. */
import type { WasmData } from "../data/wasm-data.js";
import type { Sequential } from "../nn/sequential.js";

/**
 * Mean loss and accuracy of the model on wasm-resident data, in batches: cross-entropy
 * and accuracy for classification; for regression (data.t set) the mean squared error
 * over all target values (rows · targetWidth), for multi-label data the mean binary
 * cross-entropy over all labels (bce_logits), and accuracy NaN for both.
 */
export function evaluateInWasm(model: Sequential, data: WasmData, batch: number, scratchGrad: number): { loss: number; accuracy: number } {
  const k = model.engine.kernels;
  let lossSum = 0;
  let correct = 0;
  for (let first = 0; first < data.rows; first += batch) {
    const rows = Math.min(batch, data.rows - first);
    const logits = model.forward(data.x + first * data.features * 4, rows, false);
    if (data.t) {
      const n = rows * data.targetWidth;
      const t = data.t + first * data.targetWidth * 4;
      lossSum += (data.multiLabel ? k.bce_logits(0, logits, t, data.y + first * 4, rows, data.targetWidth) : k.mse(0, logits, t, n, 1 / n)) * rows;
      continue;
    }
    const labels = data.y + first * 4;
    lossSum += k.cross_entropy(scratchGrad, logits, labels, rows, model.outputs) * rows;
    correct += k.accuracy_count(logits, labels, rows, model.outputs);
  }
  return { loss: lossSum / data.rows, accuracy: data.t ? NaN : correct / data.rows };
}
