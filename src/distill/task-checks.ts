/** What distillation refuses on a regression or a multi-label dataset (soft losses, temperature, ensembles, mixed tasks). */
import type { Dataset } from "../data/dataset.js";
import { OptionError, TaskError } from "../errors.js";
import type { DistillOptions } from "./options.js";
import type { TeacherSource } from "./teacher.js";

/**
 * What regression distillation refuses: a soft loss other than "mse" (KL and soft
 * cross-entropy compare class distributions), a temperature (the teacher's outputs are
 * matched as they are) and an ensemble (members are combined as class probabilities).
 */
export function checkRegressionOptions(op: string, options: DistillOptions, softLoss: string): void {
  if (softLoss !== "mse") throw new OptionError(`${op}: a regression dataset takes softLoss "mse" (the default there); got ${JSON.stringify(softLoss)}`);
  if (options.temperature !== undefined)
    throw new OptionError(`${op}: a regression dataset has no temperature (the teacher's outputs are matched by MSE as they are); drop temperature`);
  const t = options.teacher;
  if (Array.isArray(t) && t.length > 0 && typeof t[0] === "object")
    throw new OptionError(`${op}: an ensemble teacher combines class probabilities; for regression, average its members' outputs and pass them as logits`);
}

/**
 * What multi-label distillation refuses: a soft loss other than "bce" (the others compare
 * softmax distributions or raw logits) and an ensemble (members are combined as softmax
 * probabilities); and the mixing of tasks: a multi-label teacher model on single-label data,
 * a single-label teacher model on multi-label data (TaskError).
 */
export function checkMultiLabelTeacher(
  op: string,
  options: DistillOptions,
  data: Pick<Dataset, "multiLabel" | "task">,
  teacher: TeacherSource,
  softLoss: string,
): void {
  for (const [i, m] of teacher.models.entries()) {
    const what = teacher.kind === "ensemble" ? `ensemble member ${i}` : "the teacher";
    if (m.multiLabel && !data.multiLabel) {
      throw new TaskError(
        `${op}: ${what} is multi-label (a sigmoid per output) but the data is a ${data.task} dataset; a multi-label teacher teaches on Dataset.multiLabel data`,
      );
    }
    if (!m.multiLabel && data.multiLabel) {
      throw new TaskError(
        `${op}: the data is multi-label but ${what} is not (its outputs are read as one softmax); train it on Dataset.multiLabel data, ` +
          "load a file that records task multilabel, or set teacher.multiLabel = true for a model trained elsewhere with a sigmoid per output",
      );
    }
  }
  if (!data.multiLabel) {
    if (softLoss === "bce") throw new OptionError(`${op}: softLoss "bce" is for multi-label data (a sigmoid per label); the data is a ${data.task} dataset`);
    return;
  }
  if (softLoss !== "bce") throw new OptionError(`${op}: a multi-label dataset takes softLoss "bce" (the default there); got ${JSON.stringify(softLoss)}`);
  if (teacher.kind === "ensemble") {
    throw new OptionError(
      `${op}: an ensemble teacher combines softmax probabilities; for multi-label data, average its members' logits and pass them as logits`,
    );
  }
}
