/**
 * Which layer lists can be quantized, and their quantized shape: dense layers get int8
 * weights; activations, dropout and flatten pass through. Anything else (conv2d, pooling,
 * batchNorm) is refused, naming the layer, by `quantize()` (OptionError) and by the model
 * file reader (FormatError) alike.
 */
import { inferShapes, normaliseSpec, type ActivationName, type LayerSpec } from "../nn/layers/index.js";

export interface QuantizableLayers {
  specs: LayerSpec[];
  inputShape: number[];
  inputs: number;
  outputs: number;
  /** one entry per spec: the dense layer's (inputs, outputs), or how a parameter-free layer runs */
  shapes: ({ type: "dense"; inputs: number; outputs: number } | { type: "activation"; name: ActivationName; slope: number } | { type: "identity" })[];
}

/** The layers, or the first unsupported one's index and type. Shapes must already be valid (checked by the caller). */
export function quantizableLayers(given: readonly LayerSpec[], inputShape?: readonly number[]): QuantizableLayers | { unsupported: number; type: string } {
  const shaped = inferShapes(given, inputShape);
  const specs = given.map(normaliseSpec);
  const shapes: QuantizableLayers["shapes"] = [];
  for (let i = 0; i < specs.length; i++) {
    const s = specs[i]!;
    if (s.type === "dense") shapes.push({ type: "dense", inputs: s.inputs, outputs: s.outputs });
    else if (s.type === "activation") shapes.push({ type: "activation", name: s.name, slope: s.slope ?? 0.01 });
    else if (s.type === "dropout" || s.type === "flatten") shapes.push({ type: "identity" });
    else return { unsupported: i, type: s.type };
  }
  return {
    specs,
    inputShape: shaped.inputShape,
    inputs: shaped.inputs,
    outputs: shaped.widths[shaped.widths.length - 1]!,
    shapes,
  };
}

export const UNSUPPORTED_HINT =
  "only dense layers, activations, dropout and flatten can be quantized (MLPs); conv2d, conv1d, pooling, batchNorm, layerNorm and the token embeddings stay float";
