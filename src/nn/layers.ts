/**
 * Layer specifications: plain objects that say what a layer is. A `Sequential` turns a
 * list of them into a model with its parameters and buffers in wasm memory.
 */
import { OptionError, ShapeError } from "../errors.js";

export type ActivationName = "relu" | "leaky_relu" | "tanh" | "sigmoid" | "gelu";
export type InitName = "he" | "glorot";

/** A fully connected layer y = x·Wᵀ + b with W (outputs, inputs), like PyTorch's nn.Linear. */
export interface DenseSpec {
  type: "dense";
  inputs: number;
  outputs: number;
  /** "he" (normal, std √(2/inputs); default) or "glorot" (uniform ±√(6/(inputs+outputs))). Biases start at 0. */
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

export type LayerSpec = DenseSpec | ActivationSpec | DropoutSpec;

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

/**
 * Checks a layer list and returns the width flowing out of each layer
 * (widths[i] = width of layer i's output; the input width is that of the first dense layer).
 */
export function checkLayers(specs: readonly LayerSpec[]): { inputs: number; widths: number[] } {
  const op = "Sequential";
  if (!Array.isArray(specs) || specs.length === 0) throw new ShapeError(`${op}: needs at least one layer`);
  const first = specs.find((s) => s?.type === "dense");
  if (!first) throw new ShapeError(`${op}: needs at least one dense layer to fix the input width`);
  let width = (first as DenseSpec).inputs;
  const inputs = width;
  const widths: number[] = [];
  specs.forEach((spec, i) => {
    const where = `${op}: layer ${i}`;
    if (spec?.type === "dense") {
      for (const key of ["inputs", "outputs"] as const) {
        const v = spec[key];
        if (!Number.isSafeInteger(v) || v < 1) throw new ShapeError(`${where} (dense): ${key} must be a positive integer; got ${v}`);
      }
      if (spec.inputs !== width) {
        throw new ShapeError(`${where} (dense) takes ${spec.inputs} inputs but the layer before it gives ${width}; widths must chain`);
      }
      if (spec.init !== undefined && spec.init !== "he" && spec.init !== "glorot") {
        throw new OptionError(`${where} (dense): init must be "he" or "glorot"; got ${JSON.stringify(spec.init)}`);
      }
      width = spec.outputs;
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
    widths.push(width);
  });
  return { inputs, widths };
}
