/**
 * Layer specifications — plain objects that say what a layer is — and the one table of
 * layer kinds that turns them into shapes, tensors, `--arch` tokens and runtime layers.
 * A `Sequential` turns a list of specs into a model with its parameters and buffers in
 * wasm memory.
 */
import { OptionError, ShapeError } from "../../errors.js";
import { ACTIVATION, type ActivationSpec } from "./activation.js";
import { BATCH_NORM, type BatchNormSpec } from "./batchnorm.js";
import { CONV1D, type Conv1dSpec } from "./conv1d.js";
import { CONV2D, type Conv2dSpec } from "./conv2d.js";
import { DENSE, type DenseSpec } from "./dense.js";
import { DROPOUT, type DropoutSpec } from "./dropout.js";
import { EMBEDDING, type EmbeddingSpec } from "./embedding.js";
import { EMBEDDING_BAG, type EmbeddingBagSpec } from "./embedding-bag.js";
import { FLATTEN, type FlattenSpec } from "./flatten.js";
import { LAYER_NORM, type LayerNormSpec } from "./layernorm.js";
import { sizeOf, type Layer, type LayerKind, type Placement, type Shape } from "./layer.js";
import { POOL1D, type Pool1dSpec } from "./pool1d.js";
import { POOL2D, type Pool2dSpec } from "./pool2d.js";
import { STANDARDIZE, type StandardizeSpec } from "./standardize.js";

export { activation, relu, leakyRelu, tanh, sigmoid, gelu, ACTIVATIONS, type ActivationName, type ActivationSpec } from "./activation.js";
export { batchNorm, type BatchNormSpec } from "./batchnorm.js";
export { conv1d, type Conv1dSpec } from "./conv1d.js";
export { conv2d, kernelOf, type Conv2dSpec } from "./conv2d.js";
export { dense, type DenseSpec } from "./dense.js";
export { dropout, type DropoutSpec } from "./dropout.js";
export { flatten, type FlattenSpec } from "./flatten.js";
export { maxPool1d, avgPool1d, type Pool1dSpec } from "./pool1d.js";
export { embedding, type EmbeddingSpec, type TokenOptions } from "./embedding.js";
export { embeddingBag, type EmbeddingBagSpec } from "./embedding-bag.js";
export { layerNorm, type LayerNormSpec } from "./layernorm.js";
export { maxPool2d, avgPool2d, type Pool2dSpec } from "./pool2d.js";
export { standardize, type StandardizeSpec } from "./standardize.js";
export { INIT_NAMES, type InitName, type Shape } from "./layer.js";

export type LayerSpec =
  | DenseSpec
  | ActivationSpec
  | DropoutSpec
  | Conv2dSpec
  | Pool2dSpec
  | Conv1dSpec
  | Pool1dSpec
  | BatchNormSpec
  | FlattenSpec
  | StandardizeSpec
  | EmbeddingSpec
  | EmbeddingBagSpec
  | LayerNormSpec;
export type LayerType = LayerSpec["type"];

/** The spec type whose `type` can be T (Pool2dSpec for both "maxPool2d" and "avgPool2d"). */
type SpecOf<T extends LayerType> = LayerSpec extends infer S ? (S extends { type: infer U } ? (T extends U ? S : never) : never) : never;

/** The one table of layer kinds: adding a layer is a module and a line here. */
const KINDS: { [T in LayerType]: LayerKind<SpecOf<T>> } = {
  dense: DENSE,
  conv2d: CONV2D,
  maxPool2d: POOL2D,
  avgPool2d: POOL2D,
  conv1d: CONV1D,
  maxPool1d: POOL1D,
  avgPool1d: POOL1D,
  batchNorm: BATCH_NORM,
  activation: ACTIVATION,
  dropout: DROPOUT,
  flatten: FLATTEN,
  standardize: STANDARDIZE,
  embedding: EMBEDDING,
  embeddingBag: EMBEDDING_BAG,
  layerNorm: LAYER_NORM,
};

/** The kind of a spec, or an OptionError naming the unknown type. */
export function kindOf(spec: LayerSpec, where = "Sequential"): LayerKind<LayerSpec> {
  const type = (spec as { type?: unknown } | null)?.type;
  if (typeof type !== "string" || !Object.hasOwn(KINDS, type)) {
    throw new OptionError(`${where}: unknown layer type ${JSON.stringify(type)}; the layer types are ${Object.keys(KINDS).join(", ")}`);
  }
  return KINDS[type as LayerType] as LayerKind<LayerSpec>;
}

/** The spec with only its kind's fields (what a model file may set) and its defaults filled in. */
export function cleanSpec(spec: unknown, where?: string): LayerSpec {
  const o = spec as Record<string, unknown>;
  const kind = kindOf(o as unknown as LayerSpec, where);
  const clean: Record<string, unknown> = { type: o.type };
  for (const key of kind.fields) if (o[key] !== undefined) clean[key] = o[key];
  return clean as unknown as LayerSpec;
}

/** The spec as a model keeps it (e.g. a conv kernel n → [n, n]). */
export function normaliseSpec(spec: LayerSpec): LayerSpec {
  const kind = kindOf(spec);
  return kind.normalise ? kind.normalise(spec) : { ...spec };
}

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
  return specs.flatMap((spec, i) =>
    (kindOf(spec).tensors?.(spec) ?? []).map((t) => ({ name: `${i}.${t.suffix}`, layer: i, shape: t.shape, buffer: t.buffer })),
  );
}

const positiveInt = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 1;

/**
 * Checks a layer list and infers every layer's output shape. `inputShape` is
 * [channels, height, width] for image inputs, [channels, length] for signals or
 * [features]; without it the input is
 * [inputs of the first dense layer] (which needs a dense layer before any conv / pool).
 * Returns the flat input width, each layer's flat output width and each layer's output shape.
 */
export function inferShapes(specs: readonly LayerSpec[], inputShape?: Shape): { inputs: number; inputShape: number[]; widths: number[]; shapes: number[][] } {
  const op = "Sequential";
  if (!Array.isArray(specs) || specs.length === 0) throw new ShapeError(`${op}: needs at least one layer`);
  specs.forEach((s, i) => kindOf(s, `${op}: layer ${i}`));
  const tokens = specs.findIndex((s, i) => i > 0 && kindOf(s).takesTokens);
  if (tokens > 0) {
    throw new ShapeError(`${op}: layer ${tokens} (${specs[tokens]!.type}) reads token ids, so it must be the first layer; it is layer ${tokens}`);
  }
  let shape: number[];
  if (inputShape !== undefined) {
    if (!Array.isArray(inputShape) || inputShape.length < 1 || inputShape.length > 3 || !inputShape.every(positiveInt)) {
      throw new ShapeError(
        `${op}: inputShape must be [features], [channels, length] or [channels, height, width] of positive integers; got ${JSON.stringify(inputShape)}`,
      );
    }
    shape = [...inputShape];
  } else if (kindOf(specs[0]!).inputShape) {
    shape = kindOf(specs[0]!).inputShape!(specs[0]!);
  } else {
    const firstIndex = specs.findIndex((s) => s.type === "dense");
    if (firstIndex < 0) throw new ShapeError(`${op}: needs at least one dense layer to fix the input width, or an inputShape option`);
    const spatial = specs.findIndex((s) => kindOf(s).takesImages);
    if (spatial >= 0 && spatial < firstIndex) {
      throw new ShapeError(
        `${op}: layer ${spatial} (${specs[spatial]!.type}) takes images; pass inputShape: [channels, height, width] (or [channels, length] for signals) in the options`,
      );
    }
    shape = [(specs[firstIndex] as DenseSpec).inputs];
  }
  const inShape = [...shape];
  const shapes = specs.map((spec, i) => (shape = kindOf(spec).outShape(spec, shape, `${op}: layer ${i}`)));
  return { inputs: sizeOf(inShape), inputShape: inShape, widths: shapes.map(sizeOf), shapes };
}

/**
 * Checks a layer list and returns the width flowing out of each layer
 * (widths[i] = width of layer i's output; the input width is that of the first dense layer).
 */
export function checkLayers(specs: readonly LayerSpec[], inputShape?: Shape): { inputs: number; widths: number[] } {
  const { inputs, widths } = inferShapes(specs, inputShape);
  return { inputs, widths };
}

/**
 * Checks a model's raw input rows (x: rows × inputs values) against its first layer
 * before any wasm call: token ids must be integers in [0, vocab) (TokenError). Any other
 * first layer takes any finite values, which the callers check themselves.
 */
export function checkModelInput(specs: readonly LayerSpec[], x: ArrayLike<number>, op: string, name: string): void {
  const first = specs[0];
  if (first) kindOf(first).checkInput?.(first, x, op, name);
}

/** true when the first layer reads token ids (an embedding), whose inputs must stay ids. */
export function takesTokens(specs: readonly LayerSpec[]): boolean {
  return specs.length > 0 && kindOf(specs[0]!).takesTokens === true;
}

/** Builds the runtime layer of a spec placed at `at`. */
export function createLayer(spec: LayerSpec, at: Placement): Layer {
  return kindOf(spec).create(spec, at);
}

/** Floating-point operations of one sample's forward pass through layer `spec`. */
export function layerFlops(spec: LayerSpec, inShape: Shape, outShape: Shape): number {
  return kindOf(spec).flops(spec, inShape, outShape);
}

/** The layer's part of an architecture summary ("conv8", "maxpool2", "bn", "flatten", a dense width), or undefined. */
export function layerToken(spec: LayerSpec): string | undefined {
  return kindOf(spec).token?.(spec);
}

/**
 * An `--arch` token parsed by the first kind that knows it, given the shape flowing into
 * it; the spec is then checked by its kind (`outShape`) like any other.
 */
export function parseLayerToken(token: string, inShape: Shape): LayerSpec | undefined {
  for (const kind of new Set(Object.values(KINDS)) as Set<LayerKind<LayerSpec>>) {
    const spec = kind.parseToken?.(token, inShape);
    if (spec) return spec;
  }
  return undefined;
}
