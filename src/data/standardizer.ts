/**
 * `standardizer(trainData)`: a standardize layer fitted on the training rows, to put in
 * front of a model so that the model learns on standardised features and, once saved,
 * predicts from raw ones. mean and std are each feature's mean and population standard
 * deviation over the rows (scikit-learn's StandardScaler), computed in float64 in row
 * order; a constant feature gets std 1 (as StandardScaler does), so it maps to 0.
 */
import { ArgumentError } from "../errors.js";
import { standardize, type StandardizeSpec } from "../nn/layers/standardize.js";
import type { Dataset } from "./dataset.js";

/** The fitted spec: (features) mean and std, rounded to float32 as the model's buffers hold them. */
export function standardizer(data: Dataset): StandardizeSpec {
  if (!data || !((data as Dataset).x instanceof Float32Array)) throw new ArgumentError("standardizer: expects a Dataset (the training rows)");
  const f = data.features;
  const n = data.length;
  const sum = new Float64Array(f);
  for (let i = 0; i < n * f; i++) sum[i % f]! += data.x[i]!;
  const mean = Array.from(sum, (s) => s / n);
  const squares = new Float64Array(f);
  for (let i = 0; i < n * f; i++) {
    const d = data.x[i]! - mean[i % f]!;
    squares[i % f]! += d * d;
  }
  const std = Array.from(squares, (s) => {
    const sd = Math.fround(Math.sqrt(s / n));
    return sd > 0 && Number.isFinite(sd) ? sd : 1;
  });
  return standardize(f, { mean: mean.map(Math.fround), std });
}
