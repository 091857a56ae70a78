/**
 * The kernel ABI as seen from TypeScript: one signature per export of assembly/index.ts.
 * Pointers are byte offsets into the module's linear memory (numbers; a returned pointer
 * arrives as a signed i32 and must be read with `>>> 0`). Shapes and semantics are in
 * the doc comments of the AssemblyScript kernels. `*_ref` are the plain reference twins.
 */

type Ptr = number;
type Dims = [m: number, n: number, k: number, lda: number, ldb: number, ldc: number, flags: number];
type Gemm = (c: Ptr, a: Ptr, b: Ptr, bias: Ptr, ...dims: Dims) => void;
type GemmPanels = (
  c: Ptr, a: Ptr, panels: Ptr, bias: Ptr, m: number, n: number, k: number, lda: number, ldc: number, flags: number,
) => void;
type Unary = (y: Ptr, x: Ptr, n: number) => void;
type UnaryBackward = (dx: Ptr, dy: Ptr, saved: Ptr, n: number) => void;
type Leaky = (y: Ptr, x: Ptr, n: number, slope: number) => void;
type RowOp = (y: Ptr, x: Ptr, rows: number, cols: number, temperature: number) => void;
type RowBackward = (dx: Ptr, dy: Ptr, y: Ptr, rows: number, cols: number, temperature: number) => void;
type CrossEntropy = (grad: Ptr, logits: Ptr, labels: Ptr, rows: number, cols: number) => number;
type KlDiv = (grad: Ptr, student: Ptr, teacher: Ptr, rows: number, cols: number, temperature: number) => number;
type DistillLoss = (
  out: Ptr, grad: Ptr, student: Ptr, teacher: Ptr, labels: Ptr, rows: number, cols: number,
  temperature: number, alpha: number, flags?: number,
) => number;
type Mse = (grad: Ptr, pred: Ptr, target: Ptr, n: number, scale: number) => number;
type BiasGrad = (db: Ptr, dy: Ptr, rows: number, cols: number, accumulate: number) => void;
type Sgd = (
  param: Ptr, grad: Ptr, velocity: Ptr, n: number, lr: number, momentum: number, weightDecay: number, nesterov: number,
) => void;
type Adam = (
  param: Ptr, grad: Ptr, m: Ptr, v: Ptr, n: number, lr: number, beta1: number, beta2: number, eps: number,
  weightDecay: number, step: number, decoupled: number,
) => void;
type Dropout = (y: Ptr, x: Ptr, mask: Ptr, n: number) => void;

export interface KernelExports {
  memory: WebAssembly.Memory;
  // memory.ts
  heap_alloc(bytes: number): Ptr;
  heap_free(ptr: Ptr): void;
  heap_used(): number;
  heap_top(): number;
  arena_alloc(bytes: number): Ptr;
  arena_mark(): number;
  arena_release(mark: number): void;
  arena_reset(): void;
  arena_used(): number;
  scratch_base(): Ptr;
  scratch_use(ptr: Ptr): void;
  // gemm.ts
  gemm_nn: Gemm; gemm_nn_ref: Gemm;
  gemm_nt: Gemm; gemm_nt_ref: Gemm;
  gemm_tn: Gemm; gemm_tn_ref: Gemm;
  panels_length(k: number, n: number): number;
  pack_panels(dst: Ptr, b: Ptr, ldb: number, transB: number, k: number, n: number): void;
  gemm_panels: GemmPanels; gemm_panels_ref: GemmPanels;
  // activation.ts
  relu_forward: Unary; relu_forward_ref: Unary;
  relu_backward: UnaryBackward; relu_backward_ref: UnaryBackward;
  leaky_relu_forward: Leaky; leaky_relu_forward_ref: Leaky;
  leaky_relu_backward: (dx: Ptr, dy: Ptr, x: Ptr, n: number, slope: number) => void;
  leaky_relu_backward_ref: (dx: Ptr, dy: Ptr, x: Ptr, n: number, slope: number) => void;
  tanh_forward: Unary; tanh_forward_ref: Unary;
  tanh_backward: UnaryBackward; tanh_backward_ref: UnaryBackward;
  sigmoid_forward: Unary; sigmoid_forward_ref: Unary;
  sigmoid_backward: UnaryBackward; sigmoid_backward_ref: UnaryBackward;
  gelu_forward: Unary; gelu_forward_ref: Unary;
  gelu_backward: UnaryBackward; gelu_backward_ref: UnaryBackward;
  dropout_forward: Dropout; dropout_forward_ref: Dropout; dropout_backward: Dropout;
  exp_forward: Unary; exp_forward_ref: Unary;
  // softmax.ts
  softmax_forward: RowOp; softmax_forward_ref: RowOp;
  softmax_backward: RowBackward; softmax_backward_ref: RowBackward;
  log_softmax_forward: RowOp; log_softmax_forward_ref: RowOp;
  log_softmax_backward: RowBackward; log_softmax_backward_ref: RowBackward;
  probabilities_to_logits(y: Ptr, p: Ptr, n: number, temperature: number): void;
  // loss.ts
  cross_entropy: CrossEntropy; cross_entropy_ref: CrossEntropy;
  kl_div: KlDiv; kl_div_ref: KlDiv;
  distill_loss: DistillLoss; distill_loss_ref: DistillLoss;
  mse: Mse; mse_ref: Mse;
  // reduce.ts
  bias_grad: BiasGrad; bias_grad_ref: BiasGrad;
  argmax(out: Ptr, x: Ptr, rows: number, cols: number): void;
  accuracy_count(x: Ptr, labels: Ptr, rows: number, cols: number): number;
  sum_squares(x: Ptr, n: number): number; sum_squares_ref(x: Ptr, n: number): number;
  scale_inplace(x: Ptr, n: number, s: number): void;
  clip_grad_norm(list: Ptr, count: number, maxNorm: number): number;
  axpby(y: Ptr, x: Ptr, n: number, alpha: number, beta: number): void;
  axpby_ref(y: Ptr, x: Ptr, n: number, alpha: number, beta: number): void;
  // optim.ts
  sgd_step: Sgd; sgd_step_ref: Sgd;
  adam_step: Adam; adam_step_ref: Adam;
  max_norm_rows(w: Ptr, rows: number, cols: number, maxNorm: number): number;
  max_norm_rows_ref(w: Ptr, rows: number, cols: number, maxNorm: number): number;
  // health.ts
  count_nonzero(x: Ptr, n: number): number;
  count_nonzero_ref(x: Ptr, n: number): number;
  rows_equal(x: Ptr, rows: number, cols: number): number;
  rows_equal_ref(x: Ptr, rows: number, cols: number): number;
  // random.ts
  rng_seed(state: Ptr, lo: number, hi: number): void;
  rng_next_u32(state: Ptr): number;
  rng_below(state: Ptr, bound: number): number;
  rng_uniform(state: Ptr, out: Ptr, n: number, low: number, high: number): void;
  rng_normal(state: Ptr, out: Ptr, n: number, mean: number, std: number): void;
  rng_permutation(state: Ptr, out: Ptr, n: number): void;
  rng_dropout_mask(state: Ptr, mask: Ptr, n: number, p: number): void;
  // data.ts
  gather_rows(dst: Ptr, src: Ptr, indices: Ptr, first: number, count: number, rowBytes: number): void;
  augment_shift(dst: Ptr, src: Ptr, rows: number, side: number, maxShift: number, rng: Ptr): void;
  augment_noise(x: Ptr, noise: Ptr, n: number, std: number, rng: Ptr): void;
  copy_bytes(dst: Ptr, src: Ptr, bytes: number): void;
  zero_bytes(dst: Ptr, bytes: number): void;
  transpose(dst: Ptr, src: Ptr, rows: number, cols: number): void;
  // scalar.ts
  math_cos(x: number): number;
  math_pow(x: number, y: number): number;
  // conv.ts (NCHW; shapes and summation orders in the AssemblyScript doc comments)
  im2col(col: Ptr, x: Ptr, cin: number, h: number, wd: number, kh: number, kw: number, stride: number, pad: number): void;
  im2col_ref(col: Ptr, x: Ptr, cin: number, h: number, wd: number, kh: number, kw: number, stride: number, pad: number): void;
  col2im(dx: Ptr, col: Ptr, cin: number, h: number, wd: number, kh: number, kw: number, stride: number, pad: number): void;
  col2im_ref(dx: Ptr, col: Ptr, cin: number, h: number, wd: number, kh: number, kw: number, stride: number, pad: number): void;
  conv2d_forward(
    y: Ptr, x: Ptr, w: Ptr, bias: Ptr, work: Ptr, batch: number, cin: number, h: number, wd: number,
    cout: number, kh: number, kw: number, stride: number, pad: number, flags: number,
  ): void;
  conv2d_forward_ref(
    y: Ptr, x: Ptr, w: Ptr, bias: Ptr, work: Ptr, batch: number, cin: number, h: number, wd: number,
    cout: number, kh: number, kw: number, stride: number, pad: number, flags: number,
  ): void;
  conv2d_backward(
    dx: Ptr, dw: Ptr, db: Ptr, dy: Ptr, x: Ptr, w: Ptr, work: Ptr, batch: number, cin: number, h: number, wd: number,
    cout: number, kh: number, kw: number, stride: number, pad: number,
  ): void;
  conv2d_backward_ref(
    dx: Ptr, dw: Ptr, db: Ptr, dy: Ptr, x: Ptr, w: Ptr, work: Ptr, batch: number, cin: number, h: number, wd: number,
    cout: number, kh: number, kw: number, stride: number, pad: number,
  ): void;
  conv2d_backward_filter(
    dw: Ptr, db: Ptr, dy: Ptr, x: Ptr, work: Ptr, batch: number, cin: number, h: number, wd: number,
    cout: number, kh: number, kw: number, stride: number, pad: number, o0: number, o1: number, k0: number, k1: number,
  ): void;
  conv2d_backward_data(
    dx: Ptr, dy: Ptr, w: Ptr, work: Ptr, batch: number, cin: number, h: number, wd: number,
    cout: number, kh: number, kw: number, stride: number, pad: number,
  ): void;
  // pool.ts (NCHW, square windows)
  maxpool2d_forward(
    y: Ptr, argmax: Ptr, x: Ptr, batch: number, c: number, h: number, w: number, k: number, stride: number, pad: number,
  ): void;
  maxpool2d_forward_ref(
    y: Ptr, argmax: Ptr, x: Ptr, batch: number, c: number, h: number, w: number, k: number, stride: number, pad: number,
  ): void;
  maxpool2d_backward(
    dx: Ptr, dy: Ptr, argmax: Ptr, batch: number, c: number, h: number, w: number, k: number, stride: number, pad: number,
  ): void;
  maxpool2d_backward_ref(
    dx: Ptr, dy: Ptr, argmax: Ptr, batch: number, c: number, h: number, w: number, k: number, stride: number, pad: number,
  ): void;
  avgpool2d_forward(y: Ptr, x: Ptr, batch: number, c: number, h: number, w: number, k: number, stride: number, pad: number): void;
  avgpool2d_forward_ref(y: Ptr, x: Ptr, batch: number, c: number, h: number, w: number, k: number, stride: number, pad: number): void;
  avgpool2d_backward(dx: Ptr, dy: Ptr, batch: number, c: number, h: number, w: number, k: number, stride: number, pad: number): void;
  avgpool2d_backward_ref(dx: Ptr, dy: Ptr, batch: number, c: number, h: number, w: number, k: number, stride: number, pad: number): void;
  // batchnorm.ts ((batch, c, spatial); gamma / beta / running stats may be 0)
  batchnorm_forward_train(
    y: Ptr, meanOut: Ptr, invstdOut: Ptr, runningMean: Ptr, runningVar: Ptr, x: Ptr, gamma: Ptr, beta: Ptr,
    batch: number, c: number, spatial: number, momentum: number, eps: number,
  ): void;
  batchnorm_forward_train_ref(
    y: Ptr, meanOut: Ptr, invstdOut: Ptr, runningMean: Ptr, runningVar: Ptr, x: Ptr, gamma: Ptr, beta: Ptr,
    batch: number, c: number, spatial: number, momentum: number, eps: number,
  ): void;
  batchnorm_forward_eval(
    y: Ptr, x: Ptr, gamma: Ptr, beta: Ptr, runningMean: Ptr, runningVar: Ptr, batch: number, c: number, spatial: number, eps: number,
  ): void;
  batchnorm_forward_eval_ref(
    y: Ptr, x: Ptr, gamma: Ptr, beta: Ptr, runningMean: Ptr, runningVar: Ptr, batch: number, c: number, spatial: number, eps: number,
  ): void;
  batchnorm_backward(
    dx: Ptr, dgamma: Ptr, dbeta: Ptr, dy: Ptr, x: Ptr, gamma: Ptr, mean: Ptr, invstd: Ptr, batch: number, c: number, spatial: number,
  ): void;
  batchnorm_backward_ref(
    dx: Ptr, dgamma: Ptr, dbeta: Ptr, dy: Ptr, x: Ptr, gamma: Ptr, mean: Ptr, invstd: Ptr, batch: number, c: number, spatial: number,
  ): void;
  // attention.ts (attention transfer; a is (rows, channels, spatial), q is (rows, spatial))
  attention_map(q: Ptr, a: Ptr, rows: number, channels: number, spatial: number, p: number): void;
  attention_map_ref(q: Ptr, a: Ptr, rows: number, channels: number, spatial: number, p: number): void;
  attention_transfer(
    grad: Ptr, work: Ptr, a: Ptr, qt: Ptr, rows: number, channels: number, spatial: number, p: number, beta: number,
  ): number;
  attention_transfer_ref(
    grad: Ptr, work: Ptr, a: Ptr, qt: Ptr, rows: number, channels: number, spatial: number, p: number, beta: number,
  ): number;
}

/** GEMM flag bits (assembly/gemm.ts). */
export const GEMM_ACCUMULATE = 1;
export const GEMM_RELU = 2;
/** distill_loss flag (assembly/loss.ts): soft cross-entropy instead of KL as the soft term. */
export const DISTILL_SOFT_CROSS_ENTROPY = 1;

/** Names of all exported kernels, checked against the module at load time. */
export const KERNEL_NAMES = [
  "heap_alloc", "heap_free", "heap_used", "heap_top",
  "arena_alloc", "arena_mark", "arena_release", "arena_reset", "arena_used", "scratch_base", "scratch_use",
  "gemm_nn", "gemm_nn_ref", "gemm_nt", "gemm_nt_ref", "gemm_tn", "gemm_tn_ref",
  "panels_length", "pack_panels", "gemm_panels", "gemm_panels_ref",
  "relu_forward", "relu_forward_ref", "relu_backward", "relu_backward_ref",
  "leaky_relu_forward", "leaky_relu_forward_ref", "leaky_relu_backward", "leaky_relu_backward_ref",
  "tanh_forward", "tanh_forward_ref", "tanh_backward", "tanh_backward_ref",
  "sigmoid_forward", "sigmoid_forward_ref", "sigmoid_backward", "sigmoid_backward_ref",
  "gelu_forward", "gelu_forward_ref", "gelu_backward", "gelu_backward_ref",
  "dropout_forward", "dropout_forward_ref", "dropout_backward", "exp_forward", "exp_forward_ref",
  "softmax_forward", "softmax_forward_ref", "softmax_backward", "softmax_backward_ref",
  "log_softmax_forward", "log_softmax_forward_ref", "log_softmax_backward", "log_softmax_backward_ref",
  "cross_entropy", "cross_entropy_ref", "kl_div", "kl_div_ref", "distill_loss", "distill_loss_ref",
  "mse", "mse_ref",
  "bias_grad", "bias_grad_ref", "argmax", "accuracy_count", "sum_squares", "sum_squares_ref",
  "scale_inplace", "clip_grad_norm", "axpby", "axpby_ref", "probabilities_to_logits",
  "sgd_step", "sgd_step_ref", "adam_step", "adam_step_ref", "max_norm_rows", "max_norm_rows_ref",
  "count_nonzero", "count_nonzero_ref", "rows_equal", "rows_equal_ref",
  "rng_seed", "rng_next_u32", "rng_below", "rng_uniform", "rng_normal", "rng_permutation", "rng_dropout_mask",
  "gather_rows", "augment_shift", "augment_noise", "copy_bytes", "zero_bytes", "transpose", "math_cos", "math_pow",
  "im2col", "im2col_ref", "col2im", "col2im_ref",
  "conv2d_forward", "conv2d_forward_ref", "conv2d_backward", "conv2d_backward_ref",
  "conv2d_backward_filter", "conv2d_backward_data",
  "maxpool2d_forward", "maxpool2d_forward_ref", "maxpool2d_backward", "maxpool2d_backward_ref",
  "avgpool2d_forward", "avgpool2d_forward_ref", "avgpool2d_backward", "avgpool2d_backward_ref",
  "batchnorm_forward_train", "batchnorm_forward_train_ref", "batchnorm_forward_eval", "batchnorm_forward_eval_ref",
  "batchnorm_backward", "batchnorm_backward_ref",
  "attention_map", "attention_map_ref", "attention_transfer", "attention_transfer_ref",
] as const satisfies readonly (keyof KernelExports)[];
