/**
 * distill-wasm/infer: load a trained student and predict, nothing else. It ships one small
 * wasm module of forward kernels (assembly/infer.ts) instead of the full library's builds,
 * and gives the full library's outputs bit for bit.
 *
 *   import { loadStudent } from "distill-wasm/infer";
 *   const student = await loadStudent("student.safetensors"); // bytes, a URL or a path
 *   const digit = student.predict(pixels)[0];                // pixels: 784 floats
 */
export { loadStudent, type LoadStudentOptions, type StudentSource } from "./load.js";
export { Student } from "./student.js";
export {
  DistillError,
  ShapeError,
  NonFiniteError,
  OptionError,
  TaskError,
  ArgumentError,
  FormatError,
  RuntimeSupportError,
  OutOfMemoryError,
  WasmLoadError,
  type ErrorCode,
} from "../errors.js";
export type { FloatArray } from "../validate.js";
export type { LayerSpec } from "../nn/layers/index.js";
export type { ModelTask } from "../nn/task.js";
