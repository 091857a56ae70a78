/**
 * A quantized network, as plain data: what `quantize()` makes, what a quantized model file
 * holds, and what the int8 runner (./runner.ts) executes. No engine, no wasm.
 *
 * Dense and conv2d layers (int8 or fp16 weights), activations, max / average pooling, and
 * dropout, flatten and batchNorm as the identity (batchNorm is folded into the dense or
 * conv2d layer before it when the net is made: ./fold.ts). A dense or conv2d layer holds
 *   weight      (out, in) int8 — a conv's (out, in, kh, kw) — symmetric per output channel:
 *               w ≈ weight[j][p] · weightScale[j];
 *               with fp16 weights: f32 values that are exact half-precision numbers
 *   weightScale (out) f32 > 0: max |w_row| / 127 (1 for a row of zeros); undefined for fp16
 *   bias        (out) f32, kept in float
 *   inputScale  f32 > 0 with int8 activations: x ≈ quantize(x / inputScale), from calibration;
 *               undefined with float activations (the weights are dequantized once, float compute)
 */
import type { ActivationName, LayerSpec } from "../nn/layers/index.js";
import type { ModelTask } from "../nn/task.js";

export type WeightFormat = "int8" | "fp16";
export type ActivationFormat = "int8" | "float";

export interface QuantizedDense {
  type: "dense";
  inputs: number;
  outputs: number;
  weight: Int8Array | Float32Array;
  weightScale: Float32Array | undefined;
  bias: Float32Array;
  inputScale: number | undefined;
}

/** A convolution (NCHW, PyTorch's nn.Conv2d): the same tensors as a dense layer, weight (out, in, kh, kw). */
export interface QuantizedConv extends Omit<QuantizedDense, "type"> {
  type: "conv2d";
  /** one input sample [inChannels, h, w] and output sample [outChannels, oh, ow]; inputs / outputs are their sizes */
  inShape: [number, number, number];
  outShape: [number, number, number];
  kernel: [number, number];
  stride: number;
  padding: number;
}

/** Max or average pooling (float, on the dequantized values). */
export interface QuantizedPool {
  type: "pool";
  max: boolean;
  inShape: [number, number, number];
  outputs: number;
  kernel: number;
  stride: number;
  padding: number;
}

export interface QuantizedActivation {
  type: "activation";
  name: ActivationName;
  slope: number;
}

/** dropout, flatten and a folded batchNorm: nothing happens at inference. */
export interface QuantizedIdentity {
  type: "identity";
}

export type QuantizedLayer = QuantizedDense | QuantizedConv | QuantizedPool | QuantizedActivation | QuantizedIdentity;

/** The layers with (quantized) weights. */
export type QuantizedWeighted = QuantizedDense | QuantizedConv;

export function hasWeights(l: QuantizedLayer): l is QuantizedWeighted {
  return l.type === "dense" || l.type === "conv2d";
}

export interface QuantizedNet {
  /** The float model's layer list (defaults filled in), written as the file's `architecture`. */
  specs: LayerSpec[];
  inputShape: number[];
  inputs: number;
  outputs: number;
  layers: QuantizedLayer[];
  weights: WeightFormat;
  activations: ActivationFormat;
  /** what the outputs mean (src/nn/task.ts), the float model's; a file's `task` metadata */
  task: ModelTask;
}

/** Bytes of the stored parameters: int8 (or fp16) weights, f32 scales and biases (and input scales). */
export function netParameterBytes(net: QuantizedNet): number {
  let bytes = 0;
  for (const l of net.layers) {
    if (!hasWeights(l)) continue;
    bytes += l.weight.length * (l.weight instanceof Float32Array ? 2 : 1) + 4 * ((l.weightScale?.length ?? 0) + l.bias.length);
    if (l.inputScale !== undefined) bytes += 4;
  }
  return bytes;
}
