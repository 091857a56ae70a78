/** File formats: safetensors (model weights), .npy (arrays, teacher logits), model files. */
export {
  decodeSafetensors,
  encodeSafetensors,
  f16ToF32Bits,
  type SafetensorsDtype,
  type SafetensorsData,
  type SafetensorsTensor,
  type SafetensorsFile,
  type TensorToEncode,
} from "./safetensors.js";
export { parseNpy, encodeNpy, loadTeacherLogits, type NpyArray, type NpyData, type NpyDtype, type TeacherLogitsOptions } from "./npy.js";
export {
  modelToSafetensors,
  modelFromSafetensors,
  saveModel,
  loadModel,
  DISTILL_WASM_VERSION,
  type ModelFileOptions,
  type ModelMetadata,
} from "./model-file.js";
