/**
 * The runtime layers of a layer list, linked and laid out as `Sequential` does it, for a
 * model that only runs forward: a ReLU right after a dense or conv layer runs inside that
 * layer's kernel call; each tensor starts on a 16-byte boundary, the trained ones in the
 * parameter block and the buffers (batchNorm's running statistics) in the buffer block.
 */
import { ActivationLayer } from "../nn/layers/activation.js";
import { createLayer, inferShapes, layerTensors, normaliseSpec, type LayerSpec } from "../nn/layers/index.js";
import { align4, type Layer } from "../nn/layers/layer.js";

export interface TensorPlace {
  /** "<layer index>.weight", ".bias", ".running_mean", ".running_var" */
  name: string;
  /** offset in floats within the parameter block, or the buffer block for a buffer */
  offset: number;
  length: number;
  buffer: boolean;
}

export interface Layout {
  layers: Layer[];
  /** the specs with their defaults filled in, as a model keeps them */
  specs: LayerSpec[];
  inputs: number;
  outputs: number;
  inputShape: number[];
  tensors: TensorPlace[];
  /** floats in the parameter block (at least 4) and in the buffer block (0 without buffers) */
  blockLength: number;
  bufferLength: number;
}

/** Checks the layers against the input shape (ShapeError / OptionError) and lays them out. */
export function layOut(given: readonly LayerSpec[], inputShape?: readonly number[]): Layout {
  const shaped = inferShapes(given, inputShape);
  const specs = given.map(normaliseSpec);
  const layers = specs.map((spec, index) =>
    createLayer(spec, { index, inShape: index === 0 ? [...shaped.inputShape] : shaped.shapes[index - 1]!, outShape: shaped.shapes[index]! }),
  );
  layers.forEach((l, i) => {
    const next = specs[i + 1];
    l.reluFollows = next?.type === "activation" && next.name === "relu";
    if (l instanceof ActivationLayer) l.previous = layers[i - 1];
  });
  const tensors: TensorPlace[] = [];
  let offset = 0;
  let bufferOffset = 0;
  for (const t of layerTensors(specs)) {
    const length = t.shape.reduce((a, b) => a * b, 1);
    const at = t.buffer ? bufferOffset : offset;
    tensors.push({ name: t.name, offset: at, length, buffer: t.buffer });
    layers[t.layer]!.placeTensor(t.name.slice(t.name.indexOf(".") + 1), at);
    if (t.buffer) bufferOffset = align4(bufferOffset + length);
    else offset = align4(offset + length);
  }
  return {
    layers,
    specs,
    inputs: shaped.inputs,
    outputs: shaped.widths[shaped.widths.length - 1]!,
    inputShape: shaped.inputShape,
    tensors,
    blockLength: Math.max(offset, 4),
    bufferLength: bufferOffset,
  };
}
