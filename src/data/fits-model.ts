/** Whether a dataset fits a model, checked where both meet (training, evaluation, distillation, the class bias). */
import { ShapeError } from "../errors.js";
import type { Sequential } from "../nn/sequential.js";
import type { Dataset } from "./dataset.js";

/** Checks that a dataset fits a model: same input width, labels within the outputs. */
export function checkDataForModel(op: string, data: Dataset, model: Sequential, name = "data"): void {
  if (data.features !== model.inputs) {
    throw new ShapeError(`${op}: ${name} has ${data.features} features per sample but the model takes ${model.inputs} inputs`);
  }
  if (data.classes > model.outputs) {
    throw new ShapeError(`${op}: ${name} has labels up to ${data.classes - 1} but the model has only ${model.outputs} outputs`);
  }
}
