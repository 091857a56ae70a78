/**
 * distill-wasm/export: a trained model for other runtimes. Separate from the main entry
 * because it needs protobufjs (ONNX is protobuf): `import "distill-wasm"` never loads it.
 *
 *   import { init, loadModel } from "distill-wasm";
 *   import { toOnnx, fromOnnx, toTfjs } from "distill-wasm/export";
 *   await init();
 *   const onnx = toOnnx(await loadModel("student.safetensors"));   // for onnxruntime (web, node)
 *   const again = fromOnnx(onnx);                                   // the same logits, bit for bit
 */
export { toOnnx, checkOnnxOptions, ONNX_OPSETS, ONNX_INPUT, ONNX_OUTPUT, type OnnxOptions } from "./to-onnx.js";
export { fromOnnx, type FromOnnxOptions } from "./from-onnx.js";
export { toTfjs, checkTfjsOptions, TFJS_WEIGHTS_FILE, type TfjsOptions, type TfjsExport, type TfjsModelJson, type TfjsWeightSpec } from "./to-tfjs.js";
export { f32ToF16Bits, f16BitsToNumber, roundToF16 } from "../io/float16.js";
