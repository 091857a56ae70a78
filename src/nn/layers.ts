/**
 * Layer specifications: plain objects that say what a layer is. A `Sequential` turns a
 * list of them into a model with its parameters and buffers in wasm memory.
 */
import { OptionError, ShapeError } from "../errors.js";

export type ActivationName = "relu" | "leaky_relu" | "tanh" | "sigmoid" | "gelu";
export type InitName = "he" | "glorot" | "torch";
export const INIT_NAMES: readonly InitName[] = ["he", "glorot", "torch"];

/** A fully connected layer y = x·Wᵀ + b with W (outputs, inputs), like PyTorch's nn.Linear. */
export interface DenseSpec {
  type: "dense";
  inputs: number;
  outputs: number;
  /** "torch" (default; nn.Linear's: weights and biases uniform ±1/√inputs), "he" (normal, std √(2/inputs)) or "glorot" (uniform ±√(6/(inputs+outputs))), both with biases 0. */
  init?: InitName;
}

export interface ActivationSpec {
  type: "activation";
  name: ActivationName;
  /** Negative slope of leaky_relu (default 0.01). */
  slope?: number;
}

/** Inverted dropout: in training, zeroes each value with probability p and scales the rest by 1/(1 − p). */
export interface DropoutSpec {
  type: "dropout";
  p: number;
}

/**
 * A 2-D convolution over NCHW inputs, like PyTorch's nn.Conv2d (dilation 1, groups 1, zero
 * padding, with a bias): weight (outChannels, inChannels, kh, kw), bias (outChannels).
 */
export interface Conv2dSpec {
  type: "conv2d";
  inChannels: number;
  outChannels: number;
  /** [kh, kw] (a number n in a hand-written spec means [n, n]). */
  kernel: [number, number] | number;
  stride?: number;
  padding?: number;
  /** "torch" (default; nn.Conv2d's: weights and biases uniform ±1/√fan_in, fan_in = inChannels·kh·kw), "he" (normal, std √(2/fan_in)) or "glorot" (uniform over fan_in + fan_out), both with biases 0. */
  init?: InitName;
}

/** Max or average pooling over square windows (PyTorch's nn.MaxPool2d / nn.AvgPool2d, count_include_pad). */
export interface Pool2dSpec {
  type: "maxPool2d" | "avgPool2d";
  kernel: number;
  /** default: kernel */
  stride?: number;
  /** default 0; at most kernel / 2 */
  padding?: number;
}

/**
 * Batch normalisation per channel (after a conv: over batch·H·W, PyTorch's BatchNorm2d;
 * after a dense layer: per feature over the batch, BatchNorm1d). Parameters `weight` (γ,
 * starts at 1) and `bias` (β, starts at 0); buffers `running_mean` (0) and `running_var` (1).
 */
export interface BatchNormSpec {
  type: "batchNorm";
  channels: number;
  /** Weight of the new batch statistic in the running averages (default 0.1, as PyTorch). */
  momentum?: number;
  /** default 1e-5 */
  eps?: number;
}

/** (channels, height, width) → (channels·height·width), like nn.Flatten. */
export interface FlattenSpec {
  type: "flatten";
}

export type LayerSpec = DenseSpec | ActivationSpec | DropoutSpec | Conv2dSpec | Pool2dSpec | BatchNormSpec | FlattenSpec;

export const ACTIVATIONS: readonly ActivationName[] = ["relu", "leaky_relu", "tanh", "sigmoid", "gelu"];

export function dense(inputs: number, outputs: number, options: { init?: InitName } = {}): DenseSpec {
  return { type: "dense", inputs, outputs, ...options };
}

export function activation(name: ActivationName, options: { slope?: number } = {}): ActivationSpec {
  return { type: "activation", name, ...options };
}

export const relu = (): ActivationSpec => activation("relu");
export const leakyRelu = (slope = 0.01): ActivationSpec => activation("leaky_relu", { slope });
export const tanh = (): ActivationSpec => activation("tanh");
export const sigmoid = (): ActivationSpec => activation("sigmoid");
export const gelu = (): ActivationSpec => activation("gelu");

export function dropout(p: number): DropoutSpec {
  return { type: "dropout", p };
}

export function conv2d(
  inChannels: number, outChannels: number, kernel: number | readonly [number, number],
  options: { stride?: number; padding?: number; init?: InitName } = {},
): Conv2dSpec {
  const k: [number, number] = typeof kernel === "number" ? [kernel, kernel] : [kernel[0], kernel[1]];
  const { stride = 1, padding = 0, init } = options;
  return { type: "conv2d", inChannels, outChannels, kernel: k, stride, padding, ...(init !== undefined ? { init } : {}) };
}

export function maxPool2d(kernel: number, options: { stride?: number; padding?: number } = {}): Pool2dSpec {
  return { type: "maxPool2d", kernel, stride: options.stride ?? kernel, padding: options.padding ?? 0 };
}

export function avgPool2d(kernel: number, options: { stride?: number; padding?: number } = {}): Pool2dSpec {
  return { type: "avgPool2d", kernel, stride: options.stride ?? kernel, padding: options.padding ?? 0 };
}

export function batchNorm(channels: number, options: { momentum?: number; eps?: number } = {}): BatchNormSpec {
  return { type: "batchNorm", channels, momentum: options.momentum ?? 0.1, eps: options.eps ?? 1e-5 };
}

export function flatten(): FlattenSpec {
  return { type: "flatten" };
}

/** A tensor shape without the batch dimension: [features] or [channels, height, width]. */
export type Shape = readonly number[];

/** [kh, kw] of a conv spec. */
export function kernelOf(spec: Conv2dSpec): [number, number] {
  return typeof spec.kernel === "number" ? [spec.kernel, spec.kernel] : [spec.kernel[0], spec.kernel[1]];
}

const size = (shape: Shape) => shape.reduce((a, b) => a * b, 1);
const showShape = (shape: Shape) => `[${shape.join(", ")}]`;

export interface LayerTensor {
  /** "<layer index>.weight", ".bias", ".running_mean", ".running_var" */
  name: string;
  layer: number;
  shape: number[];
  /** true for a non-trained buffer (batchNorm running statistics) */
  buffer: boolean;
}

/** The tensors of a layer list, in state_dict order, with PyTorch's names and shapes. */
export function layerTensors(specs: readonly LayerSpec[]): LayerTensor[] {
  const out: LayerTensor[] = [];
  specs.forEach((s, i) => {
    if (s.type === "dense") {
      out.push({ name: `${i}.weight`, layer: i, shape: [s.outputs, s.inputs], buffer: false });
      out.push({ name: `${i}.bias`, layer: i, shape: [s.outputs], buffer: false });
    } else if (s.type === "conv2d") {
      const [kh, kw] = kernelOf(s);
      out.push({ name: `${i}.weight`, layer: i, shape: [s.outChannels, s.inChannels, kh, kw], buffer: false });
      out.push({ name: `${i}.bias`, layer: i, shape: [s.outChannels], buffer: false });
    } else if (s.type === "batchNorm") {
      out.push({ name: `${i}.weight`, layer: i, shape: [s.channels], buffer: false });
      out.push({ name: `${i}.bias`, layer: i, shape: [s.channels], buffer: false });
      out.push({ name: `${i}.running_mean`, layer: i, shape: [s.channels], buffer: true });
      out.push({ name: `${i}.running_var`, layer: i, shape: [s.channels], buffer: true });
    }
  });
  return out;
}

const positiveInt = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 1;

/**
 * Checks a layer list and infers every layer's output shape. `inputShape` is
 * [channels, height, width] for image inputs or [features]; without it the input is
 * [inputs of the first dense layer] (which needs a dense layer before any conv / pool).
 * Returns the flat input width, each layer's flat output width and each layer's output shape.
 */
export function inferShapes(
  specs: readonly LayerSpec[], inputShape?: Shape,
): { inputs: number; inputShape: number[]; widths: number[]; shapes: number[][] } {
  const op = "Sequential";
  if (!Array.isArray(specs) || specs.length === 0) throw new ShapeError(`${op}: needs at least one layer`);
  let shape: number[];
  if (inputShape !== undefined) {
    if (!Array.isArray(inputShape) || (inputShape.length !== 1 && inputShape.length !== 3) || !inputShape.every(positiveInt)) {
      throw new ShapeError(`${op}: inputShape must be [features] or [channels, height, width] of positive integers; got ${JSON.stringify(inputShape)}`);
    }
    shape = [...inputShape];
  } else {
    const firstIndex = specs.findIndex((s) => s?.type === "dense");
    if (firstIndex < 0) throw new ShapeError(`${op}: needs at least one dense layer to fix the input width, or an inputShape option`);
    const spatial = specs.findIndex((s) => s?.type === "conv2d" || s?.type === "maxPool2d" || s?.type === "avgPool2d");
    if (spatial >= 0 && spatial < firstIndex) {
      throw new ShapeError(`${op}: layer ${spatial} (${specs[spatial]!.type}) takes images; pass inputShape: [channels, height, width] in the options`);
    }
    shape = [(specs[firstIndex] as DenseSpec).inputs];
  }
  const inShape = [...shape];
  const widths: number[] = [];
  const shapes: number[][] = [];
  specs.forEach((spec, i) => {
    const where = `${op}: layer ${i}`;
    const needImage = (what: string) => {
      if (shape.length !== 3) {
        throw new ShapeError(`${where} (${what}) takes (channels, height, width) images but the layer before it gives ${showShape(shape)}; set inputShape: [channels, height, width] and keep convolutions and pooling before flatten()`);
      }
    };
    const checkInt = (what: string, key: string, v: unknown, min: number) => {
      if (!Number.isSafeInteger(v) || (v as number) < min) {
        throw new ShapeError(`${where} (${what}): ${key} must be an integer ≥ ${min}; got ${v}`);
      }
    };
    if (spec?.type === "dense") {
      for (const key of ["inputs", "outputs"] as const) {
        const v = spec[key];
        if (!Number.isSafeInteger(v) || v < 1) throw new ShapeError(`${where} (dense): ${key} must be a positive integer; got ${v}`);
      }
      if (shape.length !== 1) {
        throw new ShapeError(`${where} (dense) takes ${spec.inputs} features but the layer before it gives a ${showShape(shape)} image; add flatten() before it`);
      }
      if (spec.inputs !== shape[0]) {
        throw new ShapeError(`${where} (dense) takes ${spec.inputs} inputs but the layer before it gives ${shape[0]}; widths must chain`);
      }
      if (spec.init !== undefined && !INIT_NAMES.includes(spec.init)) {
        throw new OptionError(`${where} (dense): init must be "he", "glorot" or "torch"; got ${JSON.stringify(spec.init)}`);
      }
      shape = [spec.outputs];
    } else if (spec?.type === "conv2d") {
      checkInt("conv2d", "inChannels", spec.inChannels, 1);
      checkInt("conv2d", "outChannels", spec.outChannels, 1);
      const k = typeof spec.kernel === "number" ? [spec.kernel, spec.kernel] : spec.kernel;
      if (!Array.isArray(k) || k.length !== 2) throw new ShapeError(`${where} (conv2d): kernel must be a number or [kh, kw]; got ${JSON.stringify(spec.kernel)}`);
      checkInt("conv2d", "kernel height", k[0], 1);
      checkInt("conv2d", "kernel width", k[1], 1);
      const stride = spec.stride ?? 1, pad = spec.padding ?? 0;
      checkInt("conv2d", "stride", stride, 1);
      checkInt("conv2d", "padding", pad, 0);
      if (spec.init !== undefined && !INIT_NAMES.includes(spec.init)) {
        throw new OptionError(`${where} (conv2d): init must be "he", "glorot" or "torch"; got ${JSON.stringify(spec.init)}`);
      }
      needImage("conv2d");
      const [c, h, w] = shape as [number, number, number];
      if (c !== spec.inChannels) {
        throw new ShapeError(`${where} (conv2d) takes ${spec.inChannels} input channels but the layer before it gives ${c} (shape ${showShape(shape)})`);
      }
      if (h + 2 * pad < k[0]! || w + 2 * pad < k[1]!) {
        throw new ShapeError(`${where} (conv2d): kernel ${k[0]}×${k[1]} is larger than the padded input ${h + 2 * pad}×${w + 2 * pad} (input ${showShape(shape)}, padding ${pad})`);
      }
      shape = [spec.outChannels, Math.floor((h + 2 * pad - k[0]!) / stride) + 1, Math.floor((w + 2 * pad - k[1]!) / stride) + 1];
    } else if (spec?.type === "maxPool2d" || spec?.type === "avgPool2d") {
      checkInt(spec.type, "kernel", spec.kernel, 1);
      const stride = spec.stride ?? spec.kernel, pad = spec.padding ?? 0;
      checkInt(spec.type, "stride", stride, 1);
      checkInt(spec.type, "padding", pad, 0);
      if (2 * pad > spec.kernel) throw new ShapeError(`${where} (${spec.type}): padding ${pad} must be at most half the kernel ${spec.kernel}`);
      needImage(spec.type);
      const [c, h, w] = shape as [number, number, number];
      if (h + 2 * pad < spec.kernel || w + 2 * pad < spec.kernel) {
        throw new ShapeError(`${where} (${spec.type}): window ${spec.kernel}×${spec.kernel} is larger than the padded input ${h + 2 * pad}×${w + 2 * pad} (input ${showShape(shape)})`);
      }
      shape = [c, Math.floor((h + 2 * pad - spec.kernel) / stride) + 1, Math.floor((w + 2 * pad - spec.kernel) / stride) + 1];
    } else if (spec?.type === "batchNorm") {
      checkInt("batchNorm", "channels", spec.channels, 1);
      const momentum = spec.momentum ?? 0.1, eps = spec.eps ?? 1e-5;
      if (!(momentum >= 0 && momentum <= 1)) throw new OptionError(`${where} (batchNorm): momentum must be in [0, 1]; got ${momentum}`);
      if (!(eps > 0 && Number.isFinite(eps))) throw new OptionError(`${where} (batchNorm): eps must be positive; got ${eps}`);
      if (spec.channels !== shape[0]) {
        throw new ShapeError(`${where} (batchNorm) has ${spec.channels} channels but the layer before it gives ${shape[0]} (shape ${showShape(shape)})`);
      }
    } else if (spec?.type === "flatten") {
      shape = [size(shape)];
    } else if (spec?.type === "activation") {
      if (!ACTIVATIONS.includes(spec.name)) {
        throw new OptionError(`${where}: unknown activation ${JSON.stringify(spec.name)}; use one of ${ACTIVATIONS.join(", ")}`);
      }
      if (spec.slope !== undefined && !(spec.slope >= 0 && spec.slope < 1)) {
        throw new OptionError(`${where} (leaky_relu): slope must be in [0, 1); got ${spec.slope}`);
      }
    } else if (spec?.type === "dropout") {
      if (!(spec.p >= 0 && spec.p < 1)) throw new OptionError(`${where} (dropout): p must be in [0, 1); got ${spec.p}`);
    } else {
      throw new OptionError(`${where}: unknown layer type ${JSON.stringify((spec as { type?: unknown })?.type)}`);
    }
    shapes.push([...shape]);
    widths.push(size(shape));
  });
  return { inputs: size(inShape), inputShape: inShape, widths, shapes };
}

/**
 * Checks a layer list and returns the width flowing out of each layer
 * (widths[i] = width of layer i's output; the input width is that of the first dense layer).
 */
export function checkLayers(specs: readonly LayerSpec[], inputShape?: Shape): { inputs: number; widths: number[] } {
  const { inputs, widths } = inferShapes(specs, inputShape);
  return { inputs, widths };
}
