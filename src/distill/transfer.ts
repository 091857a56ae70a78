/** A transfer set (Hinton et al. 2015): unlabelled rows the teacher labels, appended to the labelled data. */
import { Dataset } from "../data/dataset.js";
import { isStream, type StreamDataset } from "../data/stream/stream-dataset.js";
import { ArgumentError, OptionError } from "../errors.js";
import type { Sequential } from "../nn/sequential.js";

/** data followed by the transfer rows as unlabelled rows (either may be absent, not both). */
export function withTransfer(
  op: string,
  student: Sequential,
  data: Dataset | StreamDataset | undefined,
  transfer: Dataset | undefined,
): Dataset | StreamDataset {
  if (data === undefined && transfer === undefined) throw new ArgumentError(`${op}: needs data (labelled rows), transfer (unlabelled rows) or both`);
  if (transfer === undefined) return data!;
  if (isStream(data)) throw new OptionError(`${op}: a StreamDataset cannot take transfer rows; put them in the stream (without labels)`);
  if (!(transfer instanceof Dataset)) throw new ArgumentError(`${op}: transfer must be a Dataset (Dataset.unlabelled(x, { features, classes }))`);
  if (data !== undefined && !(data instanceof Dataset)) throw new ArgumentError(`${op}: data must be a Dataset (Dataset.from(x, y, { features }))`);
  const classes = data?.classes ?? student?.outputs;
  if (data !== undefined && transfer.features !== data.features) {
    throw new ArgumentError(`${op}: transfer has ${transfer.features} features per row but data has ${data.features}`);
  }
  const task = data ? data.task : transfer.task;
  const width = data?.targetWidth ?? transfer.targetWidth;
  const unlabelled =
    task === "multilabel"
      ? Dataset.multiLabel(transfer.x, null, { features: transfer.features, labels: width })
      : task === "regression"
        ? Dataset.regression(transfer.x, null, { features: transfer.features, outputs: width })
        : Dataset.unlabelled(transfer.x, { features: transfer.features, classes: classes ?? transfer.classes });
  return data === undefined ? unlabelled : data.concat(unlabelled);
}
