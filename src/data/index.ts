/** Datasets: the Dataset container, IDX (MNIST-format) files, and the built-in MNIST digits. */
export {
  Dataset,
  seededPermutation,
  MAX_CLASSES,
  MISSING_LABEL,
  type DatasetOptions,
  type RegressionOptions,
  type RegressionDataset,
  type MultiLabelOptions,
  type MultiLabelDataset,
  type SplitOptions,
  type SignalOptions,
  type Batch,
} from "./dataset.js";
export {
  parseIdx,
  gunzipIfNeeded,
  idxToDataset,
  loadIdx,
  type IdxArray,
  type IdxType,
  type IdxData,
  type IdxDatasetOptions,
  type LoadIdxOptions,
} from "./idx.js";
export { MAX_VOCAB, type TokenDatasetOptions } from "./tokens.js";
export { loadMnistDigits, mnistFromDigitArrays, MNIST_PIXELS, type MnistDigitsOptions } from "./mnist.js";
