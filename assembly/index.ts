// The kernel ABI: this export list is everything the TypeScript layer may call.
// Conventions (see "Kernel ABI" in docs/architecture.md): outputs first, then inputs, then
// dimensions and scalars; pointers are byte offsets into linear memory; shapes are
// given in each kernel's doc comment. Every fast kernel has a plain `_ref` twin that
// the tests compare against bit for bit.
//
// assembly/abi-gen.mjs generates the TypeScript side (src/runtime/abi.generated.ts) from
// this list and the signatures it names; its header says what this file may hold.

export {
  heap_alloc, heap_free, heap_used, heap_top,
  arena_alloc, arena_mark, arena_release, arena_reset, arena_used, scratch_base, scratch_use,
} from "./memory";

export {
  gemm_nn, gemm_nn_ref, gemm_nt, gemm_nt_ref, gemm_tn, gemm_tn_ref,
  panels_length, pack_panels, gemm_panels, gemm_panels_ref,
} from "./gemm";

export { gemm_plan_set, gemm_plan_get } from "./gemm-plan";

export {
  relu_forward, relu_forward_ref, relu_backward, relu_backward_ref,
  leaky_relu_forward, leaky_relu_forward_ref, leaky_relu_backward, leaky_relu_backward_ref,
  tanh_forward, tanh_forward_ref, tanh_backward, tanh_backward_ref,
  sigmoid_forward, sigmoid_forward_ref, sigmoid_backward, sigmoid_backward_ref,
  gelu_forward, gelu_forward_ref, gelu_backward, gelu_backward_ref,
  dropout_forward, dropout_forward_ref, dropout_backward,
  exp_forward, exp_forward_ref,
} from "./activation";

export {
  softmax_forward, softmax_forward_ref, softmax_backward, softmax_backward_ref,
  log_softmax_forward, log_softmax_forward_ref, log_softmax_backward, log_softmax_backward_ref,
  probabilities_to_logits,
  sparse_teacher_logits,
} from "./softmax";

export {
  cross_entropy, cross_entropy_ref, kl_div, kl_div_ref, distill_loss, distill_loss_ref, mse, mse_ref,
  cross_entropy_weighted, cross_entropy_weighted_ref, distill_loss_weighted, distill_loss_weighted_ref,
} from "./loss";

export { bce_logits, bce_logits_ref, distill_bce, distill_bce_ref } from "./bce";

export {
  bias_grad, bias_grad_ref, argmax, accuracy_count, count_labelled, sum_squares, sum_squares_ref, scale_inplace, clip_grad_norm,
  axpby, axpby_ref,
} from "./reduce";

export { sgd_step, sgd_step_ref, adam_step, adam_step_ref, max_norm_rows, max_norm_rows_ref } from "./optim";

export { count_nonzero, count_nonzero_ref, rows_equal, rows_equal_ref } from "./health";

export { first_non_finite, first_non_finite_ref } from "./finite";

export {
  rng_seed, rng_next_u32, rng_below, rng_uniform, rng_normal, rng_permutation, rng_dropout_mask,
} from "./random";

export { gather_rows, fill_missing_rows, augment_shift, augment_noise, copy_bytes, zero_bytes, transpose } from "./data";

export { math_cos, math_pow } from "./scalar";

export {
  im2col, im2col_ref, col2im, col2im_ref,
  conv2d_forward, conv2d_forward_ref, conv2d_backward, conv2d_backward_ref,
  conv2d_backward_filter, conv2d_backward_data,
} from "./conv";

export {
  maxpool2d_forward, maxpool2d_forward_ref, maxpool2d_backward, maxpool2d_backward_ref,
  avgpool2d_forward, avgpool2d_forward_ref, avgpool2d_backward, avgpool2d_backward_ref,
} from "./pool";

export {
  conv1d_forward, conv1d_forward_ref, conv1d_backward, conv1d_backward_ref,
} from "./conv1d";

export {
  maxpool1d_forward, maxpool1d_forward_ref, maxpool1d_backward, maxpool1d_backward_ref,
  avgpool1d_forward, avgpool1d_forward_ref, avgpool1d_backward, avgpool1d_backward_ref,
} from "./pool1d";

export {
  batchnorm_forward_train, batchnorm_forward_train_ref, batchnorm_forward_eval, batchnorm_forward_eval_ref,
  batchnorm_backward, batchnorm_backward_ref,
} from "./batchnorm";

export {
  standardize_forward, standardize_forward_ref, standardize_backward, standardize_backward_ref,
} from "./standardize";

export { attention_map, attention_map_ref, attention_transfer, attention_transfer_ref } from "./attention";

export {
  gemm_i8_nt, gemm_i8_nt_ref, dequantize_i32, dequantize_i32_ref, dequantize_i32_rows, dequantize_i32_rows_ref,
  quantize_i8, quantize_i8_ref, im2row_i8,
} from "./int8";

export {
  panels_i16_length, pack_panels_i16, gemm_i8_panels, gemm_i8_panels_ref, gemm_i8_conv, gemm_i8_conv_ref,
} from "./int8-panels";

export { maxpool2x2_i32, maxpool2x2_i32_ref } from "./int8-pool";

export {
  embedding_forward, embedding_forward_ref, embedding_backward, embedding_backward_ref,
  embedding_bag_forward, embedding_bag_forward_ref, embedding_bag_backward, embedding_bag_backward_ref,
} from "./embedding";

export { layernorm_forward, layernorm_forward_ref, layernorm_backward, layernorm_backward_ref } from "./layernorm";

export {
  fake_quant_tensor_forward, fake_quant_tensor_forward_ref, fake_quant_tensor_backward, fake_quant_tensor_backward_ref,
  fake_quant_channels_forward, fake_quant_channels_forward_ref, fake_quant_channels_backward, fake_quant_channels_backward_ref,
  channel_scales, channel_scales_ref, observe_range, observe_range_ref,
} from "./fakequant";
