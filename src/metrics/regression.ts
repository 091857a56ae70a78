/**
 * Held-out metrics of a regression model: root mean squared error, mean absolute error
 * and the coefficient of determination R². The model runs in wasm in batches (inference
 * mode); its f32 outputs are compared with the f32 targets in float64 in JavaScript, so
 * the sums are exact to double rounding and the same in every runtime.
 */
import type { Dataset } from "../data/dataset.js";
import { ArgumentError, TaskError } from "../errors.js";
import type { Sequential } from "../nn/sequential.js";
import { copyToWasm } from "../data/wasm-data.js";
import { checkedElsewhere, checkOptions } from "../options/schema.js";
import { checkModelAndData } from "../data/fits-model.js";

export interface RegressionEvaluation {
  /** √(mean over rows · outputs of (prediction − target)²). */
  rmse: number;
  /** Mean over rows · outputs of |prediction − target|. */
  mae: number;
  /**
   * Per output 1 − SS_res / SS_tot (SS_tot about the output's mean target), averaged over the
   * outputs (scikit-learn's r2_score): 1 is perfect, 0 is no better than the mean. An output
   * whose targets are all equal counts 1 when predicted exactly, else 0 (as scikit-learn does).
   */
  r2: number;
  /** R² of each output. */
  r2PerOutput: number[];
  /** Rows evaluated. */
  count: number;
  /** Values per row (model.outputs). */
  outputs: number;
}

/** Evaluates a regression model on a dataset whose every row has its targets (Dataset.regression). */
export function evaluateRegression(model: Sequential, data: Dataset, given: { batchSize?: number } = {}): RegressionEvaluation {
  const op = "evaluate";
  const options = checkOptions(op, { batchSize: checkedElsewhere }, given);
  checkModelAndData(op, model, data);
  if (data.multiLabel) throw new TaskError(`${op}: regression metrics need a regression dataset; this one is multi-label (use evaluate())`);
  if (!data.targets) throw new ArgumentError(`${op}: regression metrics need a regression dataset (Dataset.regression(x, targets, { features, outputs }))`);
  const batchSize = options.batchSize ?? 256;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new ArgumentError(`${op}: batchSize must be a positive integer; got ${String(batchSize)}`);
  const outputs = model.outputs;
  const n = data.length;
  const targets = data.targets;
  // First pass (JavaScript, float64): each output's mean target.
  const mean = new Float64Array(outputs);
  for (let i = 0; i < n * outputs; i++) mean[i % outputs]! += targets[i]!;
  for (let c = 0; c < outputs; c++) mean[c]! /= n;
  const ssRes = new Float64Array(outputs);
  const ssTot = new Float64Array(outputs);
  let absSum = 0;
  const engine = model.engine;
  const owned: number[] = [];
  try {
    const wasm = copyToWasm(engine, data, owned);
    const batch = Math.min(batchSize, n);
    model.reserve(batch);
    for (let first = 0; first < n; first += batch) {
      const rows = Math.min(batch, n - first);
      const out = engine.f32(model.forward(wasm.x + first * data.features * 4, rows, false), rows * outputs);
      for (let i = 0; i < rows * outputs; i++) {
        const c = i % outputs;
        const t = targets[first * outputs + i]!;
        const d = out[i]! - t;
        ssRes[c]! += d * d;
        ssTot[c]! += (t - mean[c]!) * (t - mean[c]!);
        absSum += Math.abs(d);
      }
    }
  } finally {
    for (const p of owned) engine.free(p);
  }
  let res = 0;
  let r2Sum = 0;
  const r2PerOutput: number[] = [];
  for (let c = 0; c < outputs; c++) {
    res += ssRes[c]!;
    const r = ssTot[c]! > 0 ? 1 - ssRes[c]! / ssTot[c]! : ssRes[c] === 0 ? 1 : 0;
    r2PerOutput.push(r);
    r2Sum += r;
  }
  return { rmse: Math.sqrt(res / (n * outputs)), mae: absSum / (n * outputs), r2: r2Sum / outputs, r2PerOutput, count: n, outputs };
}
