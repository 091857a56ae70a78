/**
 * Each layer kind as Keras layers of a TensorFlow.js layers model. A writer takes the name
 * of the layer whose output flows in, adds its layers to the graph, and returns the name
 * of the layer that gives its output. Tensors stay NCHW, as in the model: image layers are
 * `channels_first` (TensorFlow.js runs them on any backend by transposing to NHWC and back
 * around the kernel call), so the input and every activation keep our layout, and the same
 * x gives the same logits.
 *
 *   dense       Dense(units, linear); kernel (in, out) = the weight (out, in) transposed
 *   conv2d      [ZeroPadding2D(p)] + Conv2D(valid, channels_first); kernel (kh, kw, in, out)
 *               from (out, in, kh, kw)
 *   avgPool2d   [ZeroPadding2D(p)] + AveragePooling2D(valid): padding counted as zeros,
 *               as count_include_pad
 *   maxPool2d   MaxPooling2D(valid); with padding p only where TensorFlow's "same" padding
 *               puts the same windows in the same places (its padding never wins a max, as
 *               ours); otherwise an ArgumentError naming the layer
 *   conv1d, maxPool1d, avgPool1d
 *               the 2-D layers on a (channels, 1, length) view: Reshape, [ZeroPadding2D
 *               (0, p)], Conv2D with a 1×k kernel (1, k, in, out) / AveragePooling2D /
 *               MaxPooling2D with 1×k windows, Reshape back to (channels, length)
 *               (TensorFlow.js's Conv1D and pooling 1-D layers are channels_last only and it
 *               has no ZeroPadding1D)
 *   batchNorm   BatchNormalization with gamma, beta, moving_mean, moving_variance and
 *               epsilon: on (batch, features) over axis 1; on images between Permute layers
 *               to NHWC and back (signals: to NLC and back), normalising the last axis (TensorFlow.js 4.22's cpu
 *               batch norm broadcasts its statistics along the last axis only, so axis 1 of
 *               an NCHW tensor gives wrong results there)
 *   embedding, embeddingBag, layerNorm   ./tfjs-tokens.ts: Embedding; the bag's mean with
 *               its padding left out as softmax weights of a second Embedding's scores and a
 *               Dot; LayerNormalization
 *   flatten     Flatten(channels_last): a plain reshape of NCHW into C·H·W order (its
 *               channels_first form would reorder to H·W·C)
 *   activation  Activation(relu | tanh | sigmoid), LeakyReLU(alpha = slope); gelu, the tanh
 *               form ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), as Multiply, Rescaling, Add and
 *               Activation(tanh) layers: TensorFlow.js has that function as its "gelu_new"
 *               activation but cannot load it from model.json (it renames the identifier
 *               to "geluNew" while reading the file)
 *   dropout     nothing (the identity at inference)
 *
 * Layer names end with the layer's index in the model ("dense_0", "conv2d_3"), and
 * weights are named "<layer name>/<weight>", as TensorFlow.js looks them up.
 */
import { ArgumentError } from "../errors.js";
import type { LayerSpec, LayerType } from "../nn/layers/index.js";
import { GELU_CONSTANTS, type ExportLayer, type SpecOf } from "./layers.js";
import { tfjsEmbedding, tfjsEmbeddingBag, tfjsLayerNorm } from "./tfjs-tokens.js";

/** A layer of a Keras functional model's config. */
export interface KerasLayer {
  class_name: string;
  name: string;
  config: Record<string, unknown>;
  /** [[name of the layer giving input i, 0, 0, {}] for each input] (none for the input layer) */
  inbound_nodes: [string, number, number, Record<string, never>][][];
}

export interface KerasWeight {
  name: string;
  shape: number[];
  values: Float32Array;
}

/** The layers being written, in order, and their weights, read only when asked (after every layer was checked). */
export class KerasGraph {
  readonly layers: KerasLayer[] = [];
  private readonly weightReaders: (() => KerasWeight[])[] = [];

  /** Adds a layer taking the outputs of `inputs` (layer names); returns its name. */
  add(className: string, name: string, inputs: string[], config: Record<string, unknown> = {}): string {
    this.layers.push({ class_name: className, name, config: { name, ...config }, inbound_nodes: inputs.length ? [inputs.map((i) => [i, 0, 0, {}])] : [] });
    return name;
  }

  /** Registers a layer's weights. */
  weights(read: () => KerasWeight[]): void {
    this.weightReaders.push(read);
  }

  readWeights(): KerasWeight[] {
    return this.weightReaders.flatMap((read) => read());
  }
}

export type TfjsWriter<S extends LayerSpec> = (layer: ExportLayer<S>, x: string, g: KerasGraph) => string;

const CHANNELS_FIRST = "channels_first";

/** (out, in) → (in, out). */
function transpose2d(w: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = w[r * cols + c]!;
  return t;
}

/** (out, in, kh, kw) → (kh, kw, in, out). */
function convKernel(w: Float32Array, out: number, inp: number, kh: number, kw: number): Float32Array {
  const k = new Float32Array(w.length);
  for (let o = 0; o < out; o++) {
    for (let i = 0; i < inp; i++) {
      for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) k[((y * kw + x) * inp + i) * out + o] = w[((o * inp + i) * kh + y) * kw + x]!;
    }
  }
  return k;
}

function zeroPadding(index: number, p: number, x: string, g: KerasGraph): string {
  return p > 0
    ? g.add("ZeroPadding2D", `zero_padding2d_${index}`, [x], {
        padding: [
          [p, p],
          [p, p],
        ],
        data_format: CHANNELS_FIRST,
      })
    : x;
}

/**
 * Whether TensorFlow's "same" padding (out = ⌈n / stride⌉ windows, the first ⌊total / 2⌋
 * padding before) gives our windows: as many, starting at −padding.
 */
function sameFits(n: number, k: number, stride: number, pad: number): boolean {
  const ours = Math.floor((n + 2 * pad - k) / stride) + 1;
  const theirs = Math.ceil(n / stride);
  const total = Math.max((theirs - 1) * stride + k - n, 0);
  return ours === theirs && Math.floor(total / 2) === pad;
}

const pool: TfjsWriter<SpecOf<"maxPool2d">> = (layer, x, g) => {
  const { kernel, stride = kernel, padding = 0 } = layer.spec;
  const config = { pool_size: [kernel, kernel], strides: [stride, stride], padding: "valid", data_format: CHANNELS_FIRST };
  if (layer.spec.type === "avgPool2d") return g.add("AveragePooling2D", `average_pooling2d_${layer.index}`, [zeroPadding(layer.index, padding, x, g)], config);
  const [, h, w] = layer.inShape as [number, number, number];
  if (padding > 0) {
    if (!sameFits(h, kernel, stride, padding) || !sameFits(w, kernel, stride, padding)) {
      throw new ArgumentError(
        `toTfjs: layer ${layer.index} (maxPool2d, kernel ${kernel}, stride ${stride}, padding ${padding} on ${h}×${w}) cannot be written as a TensorFlow.js layer: ` +
          `its padding must not win a max, and TensorFlow's "same" padding places other windows here; use padding 0, or a kernel, stride and size that "same" padding matches (e.g. kernel 3, stride 1, padding 1)`,
      );
    }
    config.padding = "same";
  }
  return g.add("MaxPooling2D", `max_pooling2d_${layer.index}`, [x], config);
};

/** (channels, length) ↔ (channels, 1, length) around a 1-D layer written as a 2-D one. */
function asRow(name: string, index: number, x: string, g: KerasGraph, layer: ExportLayer): string {
  const [c, len] = layer.inShape as [number, number];
  return g.add("Reshape", `reshape_${index}_${name}`, [x], { target_shape: [c, 1, len] });
}

function fromRow(index: number, x: string, g: KerasGraph, layer: ExportLayer): string {
  return g.add("Reshape", `reshape_${index}_back`, [x], { target_shape: layer.outShape });
}

function rowPadding(index: number, p: number, x: string, g: KerasGraph): string {
  return p > 0
    ? g.add("ZeroPadding2D", `zero_padding2d_${index}`, [x], {
        padding: [
          [0, 0],
          [p, p],
        ],
        data_format: CHANNELS_FIRST,
      })
    : x;
}

const pool1d: TfjsWriter<SpecOf<"maxPool1d">> = (layer, x, g) => {
  const { kernel, stride = kernel, padding = 0 } = layer.spec;
  const row = asRow("row", layer.index, x, g, layer);
  const config = { pool_size: [1, kernel], strides: [1, stride], padding: "valid", data_format: CHANNELS_FIRST };
  if (layer.spec.type === "avgPool1d") {
    return fromRow(layer.index, g.add("AveragePooling2D", `average_pooling2d_${layer.index}`, [rowPadding(layer.index, padding, row, g)], config), g, layer);
  }
  const len = layer.inShape[1]!;
  if (padding > 0) {
    if (!sameFits(len, kernel, stride, padding)) {
      throw new ArgumentError(
        `toTfjs: layer ${layer.index} (maxPool1d, kernel ${kernel}, stride ${stride}, padding ${padding} on length ${len}) cannot be written as a TensorFlow.js layer: ` +
          `its padding must not win a max, and TensorFlow's "same" padding places other windows here; use padding 0, or a kernel, stride and length that "same" padding matches (e.g. kernel 3, stride 1, padding 1)`,
      );
    }
    config.padding = "same";
  }
  return fromRow(layer.index, g.add("MaxPooling2D", `max_pooling2d_${layer.index}`, [row], config), g, layer);
};

/** y = ½·x·(tanh(√(2/π)·(x + 0.044715·x³)) + 1), in the kernel's order of operations (./onnx-write.ts). */
function geluLayers(index: number, x: string, g: KerasGraph): string {
  const name = (step: string) => `gelu_${index}_${step}`;
  const scale = (step: string, input: string, s: number, offset = 0) => g.add("Rescaling", name(step), [input], { scale: s, offset });
  // x·x as x times a copy of x (·1, exact): a layer given one tensor twice has it disposed too early by TensorFlow.js's predict
  const x2 = g.add("Multiply", name("x2"), [x, scale("x_copy", x, 1)]);
  const x3 = g.add("Multiply", name("x3"), [x2, x]);
  const kx3 = scale("k_x3", x3, GELU_CONSTANTS.k);
  const sum = g.add("Add", name("sum"), [x, kx3]);
  const u = scale("u", sum, GELU_CONSTANTS.c);
  const t = g.add("Activation", name("tanh"), [u], { activation: "tanh" });
  const t1 = scale("tanh_plus_1", t, 1, 1);
  const hx = scale("half_x", x, GELU_CONSTANTS.half);
  return g.add("Multiply", `gelu_${index}`, [hx, t1]);
}

const ACTIVATION_NAMES = { relu: "relu", tanh: "tanh", sigmoid: "sigmoid" } as const;

/** Every layer kind's writer, or null for a kind not written (toTfjs refuses it, naming the layer): the one table of TensorFlow.js export. */
export const TFJS_WRITERS: { [T in LayerType]: TfjsWriter<SpecOf<T>> | null } = {
  dense(layer, x, g) {
    const { inputs, outputs } = layer.spec;
    const name = g.add("Dense", `dense_${layer.index}`, [x], { units: outputs, activation: "linear", use_bias: true });
    g.weights(() => [
      { name: `${name}/kernel`, shape: [inputs, outputs], values: transpose2d(layer.tensor("weight"), outputs, inputs) },
      { name: `${name}/bias`, shape: [outputs], values: layer.tensor("bias") },
    ]);
    return name;
  },
  conv2d(layer, x, g) {
    const { inChannels, outChannels, stride = 1, padding = 0 } = layer.spec;
    const [kh, kw] = typeof layer.spec.kernel === "number" ? [layer.spec.kernel, layer.spec.kernel] : layer.spec.kernel;
    const name = g.add("Conv2D", `conv2d_${layer.index}`, [zeroPadding(layer.index, padding, x, g)], {
      filters: outChannels,
      kernel_size: [kh, kw],
      strides: [stride, stride],
      padding: "valid",
      data_format: CHANNELS_FIRST,
      dilation_rate: [1, 1],
      activation: "linear",
      use_bias: true,
    });
    g.weights(() => [
      { name: `${name}/kernel`, shape: [kh, kw, inChannels, outChannels], values: convKernel(layer.tensor("weight"), outChannels, inChannels, kh, kw) },
      { name: `${name}/bias`, shape: [outChannels], values: layer.tensor("bias") },
    ]);
    return name;
  },
  maxPool2d: pool,
  avgPool2d: pool,
  conv1d(layer, x, g) {
    const { inChannels, outChannels, kernel, stride = 1, padding = 0 } = layer.spec;
    const row = rowPadding(layer.index, padding, asRow("row", layer.index, x, g, layer), g);
    const name = g.add("Conv2D", `conv2d_${layer.index}`, [row], {
      filters: outChannels,
      kernel_size: [1, kernel],
      strides: [1, stride],
      padding: "valid",
      data_format: CHANNELS_FIRST,
      dilation_rate: [1, 1],
      activation: "linear",
      use_bias: true,
    });
    g.weights(() => [
      { name: `${name}/kernel`, shape: [1, kernel, inChannels, outChannels], values: convKernel(layer.tensor("weight"), outChannels, inChannels, 1, kernel) },
      { name: `${name}/bias`, shape: [outChannels], values: layer.tensor("bias") },
    ]);
    return fromRow(layer.index, name, g, layer);
  },
  maxPool1d: pool1d,
  avgPool1d: pool1d,
  batchNorm(layer, x, g) {
    const c = layer.spec.channels;
    const image = layer.inShape.length === 3;
    const signal = layer.inShape.length === 2;
    const input = image
      ? g.add("Permute", `permute_${layer.index}_nhwc`, [x], { dims: [2, 3, 1] })
      : signal
        ? g.add("Permute", `permute_${layer.index}_nlc`, [x], { dims: [2, 1] })
        : x;
    const name = g.add("BatchNormalization", `batch_normalization_${layer.index}`, [input], {
      axis: image ? 3 : signal ? 2 : 1,
      momentum: 1 - (layer.spec.momentum ?? 0.1),
      epsilon: layer.spec.eps ?? 1e-5,
      center: true,
      scale: true,
    });
    const weight = (suffix: string, keras: string) => ({ name: `${name}/${keras}`, shape: [c], values: layer.tensor(suffix) });
    g.weights(() => [weight("weight", "gamma"), weight("bias", "beta"), weight("running_mean", "moving_mean"), weight("running_var", "moving_variance")]);
    if (signal) return g.add("Permute", `permute_${layer.index}_ncl`, [name], { dims: [2, 1] });
    return image ? g.add("Permute", `permute_${layer.index}_nchw`, [name], { dims: [3, 1, 2] }) : name;
  },
  flatten: (layer, x, g) => g.add("Flatten", `flatten_${layer.index}`, [x], { data_format: "channels_last" }),
  activation(layer, x, g) {
    const spec = layer.spec;
    if (spec.name === "leaky_relu") return g.add("LeakyReLU", `leaky_re_lu_${layer.index}`, [x], { alpha: spec.slope ?? 0.01 });
    if (spec.name === "gelu") return geluLayers(layer.index, x, g);
    return g.add("Activation", `activation_${layer.index}`, [x], { activation: ACTIVATION_NAMES[spec.name] });
  },
  dropout: (_layer, x) => x,
  /** (x − mean) / √(std² + 0): a BatchNormalization without γ and β, its moving variance std² and epsilon 0. */
  standardize(layer, x, g) {
    const name = g.add("BatchNormalization", `standardize_${layer.index}`, [x], { axis: 1, momentum: 0.99, epsilon: 0, center: false, scale: false });
    const std = layer.tensor("std");
    g.weights(() => [
      { name: `${name}/moving_mean`, shape: [layer.spec.features], values: layer.tensor("mean") },
      { name: `${name}/moving_variance`, shape: [layer.spec.features], values: std.map((s) => s * s) },
    ]);
    return name;
  },
  embedding: tfjsEmbedding,
  embeddingBag: tfjsEmbeddingBag,
  layerNorm: tfjsLayerNorm,
};
