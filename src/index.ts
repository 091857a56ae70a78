/**
 * distill-wasm: knowledge distillation with WebAssembly SIMD kernels.
 *
 *   import { init, distillationLoss } from "distill-wasm";
 *   await init();
 *   const { loss, grad } = distillationLoss(student, teacher, labels, 10, { temperature: 4, alpha: 0.1 });
 */
export { init, createEngine, getEngine, type InitOptions } from "./init.js";
export { Engine, type EngineBuild, type EnginePlan } from "./engine.js";
export type { GemmPlan } from "./runtime/gemm-plan/plan.js";
export { SLOTS as GEMM_PLAN_SLOTS, shapeClassOf as gemmShapeClass, type Slot as GemmPlanSlot } from "./runtime/gemm-plan/candidates.js";
export type { PlanOption } from "./runtime/gemm-plan/choose.js";
export { detectFeatures, type WasmFeatures } from "./runtime/features.js";
export type { WasmSource } from "./runtime/source.js";
export type { KernelExports } from "./runtime/abi.js";
export { GEMM_ACCUMULATE, GEMM_RELU, DISTILL_SOFT_CROSS_ENTROPY } from "./runtime/abi.js";
export { softmax, logSoftmax, type SoftmaxOptions } from "./ops/softmax.js";
export {
  crossEntropy,
  klDivergence,
  distillationLoss,
  mseLoss,
  type LossResult,
  type DistillationLossResult,
  type DistillationOptions,
  type MseOptions,
  type TemperatureOption,
  type EngineOption,
} from "./ops/losses.js";
export { matmul, type MatmulOptions } from "./ops/matmul.js";
export {
  Dataset,
  MISSING_LABEL,
  seededPermutation,
  parseIdx,
  gunzipIfNeeded,
  idxToDataset,
  loadIdx,
  loadMnistDigits,
  mnistFromDigitArrays,
  type DatasetOptions,
  type RegressionOptions,
  type RegressionDataset,
  type MultiLabelOptions,
  type MultiLabelDataset,
  type SplitOptions,
  type SignalOptions,
  type Batch,
  type IdxArray,
  type IdxType,
  type IdxData,
  type IdxDatasetOptions,
  type LoadIdxOptions,
  MAX_VOCAB,
  type TokenDatasetOptions,
  type MnistDigitsOptions,
} from "./data/index.js";
export {
  dense,
  activation,
  relu,
  leakyRelu,
  tanh,
  sigmoid,
  gelu,
  dropout,
  conv2d,
  maxPool2d,
  avgPool2d,
  conv1d,
  maxPool1d,
  avgPool1d,
  batchNorm,
  flatten,
  standardize,
  embedding,
  embeddingBag,
  layerNorm,
  inferShapes,
  type LayerSpec,
  type DenseSpec,
  type ActivationSpec,
  INIT_NAMES,
  type DropoutSpec,
  type ActivationName,
  type InitName,
  type Conv2dSpec,
  type Pool2dSpec,
  type Conv1dSpec,
  type Pool1dSpec,
  type BatchNormSpec,
  type FlattenSpec,
  type StandardizeSpec,
  type EmbeddingSpec,
  type EmbeddingBagSpec,
  type LayerNormSpec,
  type TokenOptions,
  type Shape,
} from "./nn/layers/index.js";
export { standardizer } from "./data/standardizer.js";
export { StreamDataset, type StreamBatch, type StreamOptions, type ShardOptions, type BatchStreamOptions } from "./data/stream/stream-dataset.js";
export type { ShardFiles } from "./data/stream/npy-shards.js";
export { balancedWeights, type ClassWeights } from "./train/class-weights.js";
export { Sequential, type SequentialOptions, type NamedParameter } from "./nn/sequential.js";
export type { ModelTask } from "./nn/task.js";
export { mlp, mlpLayers, type MlpOptions } from "./nn/mlp.js";
export { adjustClassBias, fitClassBias, type ClassBias } from "./nn/class-bias.js";
export type { OptimizerSpec, SgdSpec, AdamSpec } from "./train/optimizer.js";
export type { ScheduleSpec } from "./train/schedule.js";
export type { TrainOptions, TrainResult, EpochRecord, BatchInfo, EarlyStopping, StopReason } from "./train/loop.js";
export type { Checkpoint, CheckpointOptions } from "./train/checkpoint.js";
export type { OptimizerState } from "./train/optimizer.js";
export { train } from "./train/train.js";
export { distill, type DistillOptions, type DistillResult, type EpochValue } from "./distill/distill.js";
export type { Augment } from "./train/augment.js";
export type { Teacher, TeacherFunction, WeightedTeacher } from "./distill/teacher.js";
export type { HintSpec } from "./distill/hints.js";
export type { AttentionSpec } from "./distill/attention.js";
export { searchTemperature, type SearchOptions, type SearchResult, type SearchTrial } from "./distill/search.js";
export {
  evaluate,
  evaluateRegression,
  evaluateMultiLabel,
  agreement,
  compare,
  formatCompareTable,
  type RegressionEvaluation,
  type MultiLabelEvaluation,
  type EvaluateOptions,
  type Evaluation,
  type ReliabilityBin,
  type AgreementOptions,
  type Agreement,
  type CompareOptions,
  type CompareResult,
  type CompareRow,
  type CompareName,
} from "./metrics/index.js";
export {
  renderReport,
  reportJson,
  collectSamples,
  describeMachine,
  digitDataUrl,
  encodeGrayscalePng,
  type ReportData,
  type ReportModel,
  type ReportSample,
  type ReportJson,
  type RenderOptions,
  type CollectSamplesOptions,
} from "./report/index.js";
export {
  encodeSafetensors,
  decodeSafetensors,
  parseNpy,
  encodeNpy,
  loadTeacherLogits,
  modelToSafetensors,
  modelFromSafetensors,
  saveModel,
  loadModel,
  DISTILL_WASM_VERSION,
  type SafetensorsDtype,
  type SafetensorsData,
  type SafetensorsTensor,
  type SafetensorsFile,
  type TensorToEncode,
  type NpyArray,
  type NpyData,
  type NpyDtype,
  type TeacherLogitsOptions,
  type ModelFileOptions,
  type ModelMetadata,
} from "./io/index.js";
export { parseCsv, loadCsv, npyToDataset, loadNpyDataset, type CsvOptions, type NpyDatasetOptions } from "./data/csv.js";
export {
  quantize,
  QuantizedModel,
  quantizedFromSafetensors,
  loadQuantized,
  type QuantizeOptions,
  type QuantizedModelOptions,
  type ActivationFormat,
  type WeightFormat,
} from "./quantize/index.js";
export { encodeCheckpoint, decodeCheckpoint, checkpointToFile, readCheckpoint } from "./train/checkpoint-file.js";
export * from "./errors.js";
export type { FloatArray, LabelArray } from "./validate.js";
