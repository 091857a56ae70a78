/**
 * Folding a batchNorm (at inference: y = γ·(z − μ) / √(σ² + ε) + β per channel, with the
 * running mean μ and variance σ²) into the dense or conv2d layer z = W·x + b before it:
 *
 *   a_c  = γ_c / √(σ²_c + ε)
 *   W'_c = a_c · W_c            (every weight of output channel c)
 *   b'_c = a_c · (b_c − μ_c) + β_c
 *
 * so that W'·x + b' is the batchNorm's output, with one layer's cost and one set of int8
 * weights (quantized after folding, per output channel, so each channel keeps its own scale).
 * Computed in float64 from the f32 tensors and rounded to f32 once.
 */

export interface BatchNormTensors {
  gamma: Float32Array;
  beta: Float32Array;
  mean: Float32Array;
  variance: Float32Array;
  eps: number;
}

/** The folded (weight, bias) of a layer with weight (channels, size) and bias (channels). */
export function foldBatchNorm(weight: Float32Array, bias: Float32Array, bn: BatchNormTensors): { weight: Float32Array; bias: Float32Array } {
  const channels = bias.length;
  const size = weight.length / channels;
  const w = new Float32Array(weight.length);
  const b = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const a = bn.gamma[c]! / Math.sqrt(bn.variance[c]! + bn.eps);
    for (let p = 0; p < size; p++) w[c * size + p] = a * weight[c * size + p]!;
    b[c] = a * (bias[c]! - bn.mean[c]!) + bn.beta[c]!;
  }
  return { weight: w, bias: b };
}
