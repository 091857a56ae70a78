/**
 * distill-wasm: knowledge distillation with WebAssembly SIMD kernels.
 *
 *   import { init, distillationLoss } from "distill-wasm";
 *   await init();
 *   const { loss, grad } = distillationLoss(student, teacher, labels, 10, { temperature: 4, alpha: 0.1 });
 */
export { init, createEngine, getEngine, type InitOptions } from "./init.js";
export { Engine, type EngineBuild } from "./engine.js";
export { detectFeatures, type WasmFeatures } from "./runtime/features.js";
export type { WasmSource } from "./runtime/source.js";
export type { KernelExports } from "./runtime/abi.js";
export { GEMM_ACCUMULATE, GEMM_RELU } from "./runtime/abi.js";
export { softmax, logSoftmax, type SoftmaxOptions } from "./ops/softmax.js";
export {
  crossEntropy, klDivergence, distillationLoss, mseLoss,
  type LossResult, type DistillationLossResult, type DistillationOptions, type MseOptions,
  type TemperatureOption, type EngineOption,
} from "./ops/losses.js";
export { matmul, type MatmulOptions } from "./ops/matmul.js";
export * from "./errors.js";
export type { FloatArray, LabelArray } from "./validate.js";
