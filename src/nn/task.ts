/**
 * What a model's outputs mean, its task, and how a model file records it. Shared by
 * Sequential, QuantizedModel, the model files, the exporters and distill-wasm/infer, so that
 * every one of them reads a file's task, and turns outputs into predictions, alike:
 *
 *   classification  one softmax over the outputs; predict() gives the class id per row
 *                   (the argmax, the first on ties) as an Int32Array (rows)
 *   regression      real-valued outputs; predict() gives them as they are, a Float32Array
 *                   (rows, outputs) equal to logits(); probabilities() is a TaskError
 *   multilabel      a sigmoid per output; predict() gives 0/1 per output as an Int32Array
 *                   (rows, outputs): 1 where σ(z) > 0.5, i.e. z > 0 (./multi-label.ts). The
 *                   threshold is that one and is not configurable, so files hold no threshold.
 *
 * A model file's `__metadata__` key `task` holds "regression" or "multilabel"; a classifier's
 * file has no such key (as every file written before the key existed), and "classification"
 * is read as well. Any other value is a FormatError: a reader must not guess what outputs mean.
 */
import { TaskError } from "../errors.js";

export type ModelTask = "classification" | "regression" | "multilabel";

export const MODEL_TASKS: readonly ModelTask[] = ["classification", "regression", "multilabel"];

/** The model-file metadata key that records the task. */
export const TASK_KEY = "task";

/** The metadata entries that record `task`: none for a classifier (the files' default). */
export function taskMetadata(task: ModelTask): Record<string, string> {
  return task === "classification" ? {} : { [TASK_KEY]: task };
}

/**
 * The task a file's metadata records (classification when it records none); `fail` makes the
 * error for a value that is not a task.
 */
export function taskOfMetadata(metadata: Readonly<Record<string, string>> | undefined, fail: (problem: string) => Error): ModelTask {
  const value = metadata?.[TASK_KEY];
  if (value === undefined) return "classification";
  if (!(MODEL_TASKS as readonly string[]).includes(value)) {
    throw fail(`the task metadata must be one of ${MODEL_TASKS.map((t) => JSON.stringify(t)).join(", ")}; got ${JSON.stringify(value)}`);
  }
  return value as ModelTask;
}

/** TaskError for probabilities() of a regression model, whose outputs are values, not class scores. */
export function requireScores(op: string, task: ModelTask): void {
  if (task === "regression") {
    throw new TaskError(`${op}: a regression model's outputs are values, not class scores; use predict() or logits() for them`);
  }
}
