// The inference ABI: what `distill-wasm/infer` loads to run a trained model's forward pass.
// The forward kernels of every layer kind at inference (dense: gemm_nt, and gemm_panels on
// weights packed by pack_panels for fewer than 4 rows; conv2d and conv1d; max / average pooling
// in 2-D and 1-D; batchNorm with running statistics; standardize; token embeddings (plain and mean bag);
// layerNorm; the activations), softmax and argmax for the outputs,
// the int8 kernels of a quantized model (quantize_i8, gemm_i8_nt, dequantize_i32; gemm_i8_panels
// on weights packed by pack_panels_i16 for fewer than 4 rows; im2row_i8, gemm_i8_conv on packed
// weights, maxpool2x2_i32 and dequantize_i32_rows for its convolutions) and the
// heap the loader allocates from. No training kernels, no `_ref` twins, no threads.
//
// Every name here is also in assembly/index.ts, exported from the same function of the same
// file (assembly/abi-gen.mjs refuses anything else), so that this module computes what the
// full build computes, to the bit. abi-gen writes src/infer/abi.generated.ts from this list.

export { heap_alloc, heap_free, heap_used } from "./memory";

export { gemm_nt, panels_length, pack_panels, gemm_panels } from "./gemm";

export { relu_forward, leaky_relu_forward, tanh_forward, sigmoid_forward, gelu_forward } from "./activation";

export { softmax_forward } from "./softmax";

export { argmax } from "./reduce";

export { conv2d_forward } from "./conv";

export { maxpool2d_forward, avgpool2d_forward } from "./pool";

export { conv1d_forward } from "./conv1d";

export { maxpool1d_forward, avgpool1d_forward } from "./pool1d";

export { batchnorm_forward_eval } from "./batchnorm";

export { standardize_forward } from "./standardize";

export { embedding_forward, embedding_bag_forward } from "./embedding";

export { layernorm_forward } from "./layernorm";

export { quantize_i8, gemm_i8_nt, dequantize_i32, dequantize_i32_rows, im2row_i8 } from "./int8";

export { panels_i16_length, pack_panels_i16, gemm_i8_panels, gemm_i8_conv } from "./int8-panels";

export { maxpool2x2_i32 } from "./int8-pool";
