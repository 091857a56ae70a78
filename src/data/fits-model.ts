/** Whether a dataset fits a model, checked where both meet (training, evaluation, distillation, the class bias). */
import { ArgumentError, LabelError, ShapeError } from "../errors.js";
import { checkModelInput, takesTokens } from "../nn/layers/index.js";
import type { Sequential } from "../nn/sequential.js";
import type { Dataset } from "./dataset.js";
import { isStream, type StreamDataset } from "./stream/stream-dataset.js";

/**
 * Checks that a dataset fits a model: same input width, inputs the first layer can read
 * (token ids within an embedding's vocabulary), labels within the outputs, and a
 * label on every row unless `missingLabels` (distillation's data, whose teacher labels them).
 */
export function checkDataForModel(
  op: string,
  data: Dataset | StreamDataset,
  model: Pick<Sequential, "inputs" | "outputs" | "specs">,
  name = "data",
  missingLabels = false,
): void {
  if (data.features !== model.inputs) {
    throw new ShapeError(`${op}: ${name} has ${data.features} features per sample but the model takes ${model.inputs} inputs`);
  }
  if (data.targets && data.targetWidth !== model.outputs) {
    throw new ShapeError(`${op}: ${name} has ${data.targetWidth} targets per row but the model has ${model.outputs} outputs; they must match`);
  }
  if (!data.targets && data.classes > model.outputs) {
    throw new ShapeError(`${op}: ${name} has labels up to ${data.classes - 1} but the model has only ${model.outputs} outputs`);
  }
  if (isStream(data) && takesTokens(model.specs)) {
    throw new ArgumentError(
      `${op}: a token model trains on an in-memory Dataset (Dataset.tokens), whose ids are checked before training; a StreamDataset is not`,
    );
  }
  if (!isStream(data)) checkModelInput(model.specs, data.x, op, name);
  if (!missingLabels) {
    const missing = data.length - data.labelled;
    if (missing > 0) {
      throw new LabelError(
        `${op}: ${name} has ${missing} of ${data.length} rows without a label (MISSING_LABEL); ${op} needs a label on every row ` +
          "(distill trains on unlabelled rows from the teacher's outputs)",
      );
    }
  }
}

/** A live model and a Dataset that fits it (see checkDataForModel). */
export function checkModelAndData(op: string, model: unknown, data: unknown, missingLabels = false): asserts model is Sequential {
  if (!model || typeof (model as Sequential).forward !== "function") throw new ArgumentError(`${op}: model must be a Sequential (e.g. from mlp())`);
  (model as Sequential).ensureAlive();
  if (!data || !((data as Dataset).x instanceof Float32Array || isStream(data))) {
    throw new ArgumentError(`${op}: data must be a Dataset (Dataset.from(x, y, { features })) or a StreamDataset`);
  }
  checkDataForModel(op, data as Dataset, model as Sequential, "data", missingLabels);
}
