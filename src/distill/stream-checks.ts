/** What distillation refuses for a StreamDataset, and whether the stream carries the teacher's outputs. */
import type { Dataset } from "../data/dataset.js";
import { isStream, type StreamDataset } from "../data/stream/stream-dataset.js";
import { ArgumentError, OptionError } from "../errors.js";
import type { DistillOptions } from "./options.js";

/**
 * data (after the transfer rows) and the options → true when data is a StreamDataset that
 * carries the teacher's outputs (then `teacher` must be absent); throws for what a stream
 * cannot do. `regression`: the data's hard loss is the MSE.
 */
export function checkStreamDistillation(op: string, options: DistillOptions, data: Dataset | StreamDataset, regression: boolean): boolean {
  const teacherInData = isStream(data) && data.teacher !== undefined;
  if (teacherInData && options.teacher !== undefined) throw new OptionError(`${op}: the StreamDataset carries the teacher's outputs; drop teacher`);
  if (isStream(data) && !teacherInData && options.teacher === undefined)
    throw new ArgumentError(`${op}: needs a teacher (the StreamDataset carries no teacher outputs)`);
  if (isStream(data) && (options.fineTune || regression))
    throw new OptionError(`${op}: a StreamDataset trains the main stage only (no fineTune, classification)`);
  return teacherInData;
}
