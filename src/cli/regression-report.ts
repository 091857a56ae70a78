/** How the commands report a regression model: RMSE, MAE and R² in text, JSON and model metadata. */
import type { Dataset } from "../data/dataset.js";
import type { Sequential } from "../nn/sequential.js";
import { evaluateRegression, type RegressionEvaluation } from "../metrics/regression.js";

/** The regression metrics of a model on a test set, when the test set is a regression dataset. */
export function regressionMetrics(model: Sequential, test: Dataset | undefined): RegressionEvaluation | undefined {
  return test?.task === "regression" ? evaluateRegression(model, test) : undefined;
}

/** "RMSE 0.512   MAE 0.398   R² 0.741" */
export function regressionText(r: RegressionEvaluation): string {
  return `RMSE ${r.rmse.toPrecision(4)}   MAE ${r.mae.toPrecision(4)}   R² ${r.r2.toFixed(4)}`;
}

/** The metrics as JSON fields (empty without them). */
export function regressionJson(r: RegressionEvaluation | undefined): { rmse?: number; mae?: number; r2?: number } {
  return r ? { rmse: r.rmse, mae: r.mae, r2: r.r2 } : {};
}

/** The metrics as model-file metadata (empty without them). */
export function regressionMetadata(r: RegressionEvaluation | undefined): Record<string, string> {
  return r ? { test_rmse: String(r.rmse), test_mae: String(r.mae), test_r2: String(r.r2) } : {};
}
