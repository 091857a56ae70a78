/** int8 students: post-training quantization, the int8 model, its files. */
export { quantize, type QuantizeOptions } from "./quantize.js";
export { QuantizedModel, quantizedFromSafetensors, loadQuantized, type QuantizedModelOptions } from "./model.js";
export type { ActivationFormat, WeightFormat } from "./net.js";
