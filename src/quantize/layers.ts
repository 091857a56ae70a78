/**
 * Which layer lists can be quantized, and their quantized shape: dense and conv2d layers get
 * int8 weights; activations, pooling, dropout and flatten pass through; a batchNorm right
 * after a dense or conv2d layer is folded into it (./fold.ts) and becomes the identity.
 * Anything else (standardize, a batchNorm after anything else) is refused, naming the layer,
 * by `quantize()` (OptionError) and by the model file reader (FormatError) alike.
 */
import { inferShapes, kernelOf, normaliseSpec, type ActivationName, type LayerSpec } from "../nn/layers/index.js";

type Image = [number, number, number];

export type QuantizableShape =
  | { type: "dense"; inputs: number; outputs: number }
  | { type: "conv2d"; inputs: number; outputs: number; inShape: Image; outShape: Image; kernel: [number, number]; stride: number; padding: number }
  | { type: "pool"; max: boolean; inShape: Image; outputs: number; kernel: number; stride: number; padding: number }
  | { type: "activation"; name: ActivationName; slope: number }
  | { type: "identity" }
  /** folded into the dense or conv2d layer `into` (the one before it) */
  | { type: "folded"; into: number; eps: number };

export interface QuantizableLayers {
  specs: LayerSpec[];
  inputShape: number[];
  inputs: number;
  outputs: number;
  /** one entry per spec: how it runs in the quantized net */
  shapes: QuantizableShape[];
}

/** The layers, or the first unsupported one's index and type. Shapes must already be valid (checked by the caller). */
export function quantizableLayers(given: readonly LayerSpec[], inputShape?: readonly number[]): QuantizableLayers | { unsupported: number; type: string } {
  const shaped = inferShapes(given, inputShape);
  const specs = given.map(normaliseSpec);
  const shapes: QuantizableShape[] = [];
  const shapeIn = (i: number) => (i === 0 ? shaped.inputShape : shaped.shapes[i - 1]!);
  for (let i = 0; i < specs.length; i++) {
    const s = specs[i]!;
    if (s.type === "dense") shapes.push({ type: "dense", inputs: s.inputs, outputs: s.outputs });
    else if (s.type === "conv2d") {
      const inShape = shapeIn(i) as Image;
      const outShape = shaped.shapes[i] as Image;
      shapes.push({
        type: "conv2d",
        inputs: inShape[0] * inShape[1] * inShape[2],
        outputs: outShape[0] * outShape[1] * outShape[2],
        inShape: [...inShape],
        outShape: [...outShape],
        kernel: kernelOf(s),
        stride: s.stride ?? 1,
        padding: s.padding ?? 0,
      });
    } else if (s.type === "maxPool2d" || s.type === "avgPool2d") {
      shapes.push({
        type: "pool",
        max: s.type === "maxPool2d",
        inShape: [...(shapeIn(i) as Image)],
        outputs: shaped.widths[i]!,
        kernel: s.kernel,
        stride: s.stride ?? s.kernel,
        padding: s.padding ?? 0,
      });
    } else if (s.type === "batchNorm" && i > 0 && (specs[i - 1]!.type === "dense" || specs[i - 1]!.type === "conv2d")) {
      shapes.push({ type: "folded", into: i - 1, eps: s.eps ?? 1e-5 });
    } else if (s.type === "activation") shapes.push({ type: "activation", name: s.name, slope: s.slope ?? 0.01 });
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
  "dense and conv2d layers, activations, pooling, dropout, flatten and a batchNorm right after a dense or conv2d layer (folded into it) can be quantized; standardize, conv1d, 1-D pooling, layerNorm and the token embeddings cannot";
