/**
 * What an exporter walks: a live model's layers as inference runs them, each with the
 * shapes it was placed with and its tensors, dropout left out (the identity at inference).
 * The per-format tables (./onnx-write.ts, ./tfjs-layers.ts) are keyed by every layer type,
 * so a new layer kind is a type error there until each format says how to write it.
 */
import { ArgumentError } from "../errors.js";
import { inferShapes, type LayerSpec, type LayerType } from "../nn/layers/index.js";
import type { Sequential } from "../nn/sequential.js";
import type { ModelTask } from "../nn/task.js";

/** The spec type whose `type` can be T (Pool2dSpec for both "maxPool2d" and "avgPool2d"). */
export type SpecOf<T extends LayerType> = LayerSpec extends infer S ? (S extends { type: infer U } ? (T extends U ? S : never) : never) : never;

/** The constants of gelu's tanh form ½·x·(1 + tanh(c·(x + k·x³))), as assembly/activation.ts uses them (f32). */
export const GELU_CONSTANTS = { k: 0.044715, c: 0.7978845608028654, half: 0.5, one: 1 } as const;

export interface ExportLayer<S extends LayerSpec = LayerSpec> {
  /** the layer's index in `model.specs` (its tensors are "<index>.weight", …) */
  index: number;
  spec: S;
  /** one sample's shape in and out: [features] or [channels, height, width] */
  inShape: number[];
  outShape: number[];
  /** a copy of the layer's tensor "<index>.<suffix>" (row-major, PyTorch's layout) */
  tensor(suffix: string): Float32Array;
}

/**
 * The model's layers in order, without dropout, each with its shapes. Throws
 * ArgumentError for a disposed model or a layer type the exporters do not know, before
 * any tensor is read.
 */
export function exportLayers(model: Sequential, op: string, known: readonly string[]): ExportLayer[] {
  if (typeof (model as { ensureAlive?: unknown } | null)?.ensureAlive !== "function") {
    throw new ArgumentError(`${op}: model must be a Sequential`);
  }
  model.ensureAlive();
  for (const [i, spec] of model.specs.entries()) {
    if (!known.includes(spec.type)) {
      throw new ArgumentError(`${op}: layer ${i} is a ${JSON.stringify(spec.type)} layer, which ${op} cannot write; it writes ${known.join(", ")}`);
    }
  }
  const { inputShape, shapes } = inferShapes(model.specs, model.inputShape);
  const layers: ExportLayer[] = [];
  model.specs.forEach((spec, index) => {
    if (spec.type === "dropout") return;
    layers.push({
      index,
      spec,
      inShape: index === 0 ? [...inputShape] : [...shapes[index - 1]!],
      outShape: [...shapes[index]!],
      tensor: (suffix) => model.getParameter(`${index}.${suffix}`),
    });
  });
  return layers;
}

/**
 * The metadata every export records: the layer list and input shape, as a model file does,
 * and the task (src/nn/task.ts) when it is not classification.
 */
export function architectureFacts(model: Sequential): { architecture: string; inputShape: string; task?: ModelTask } {
  return {
    architecture: JSON.stringify(model.specs),
    inputShape: JSON.stringify(model.inputShape),
    ...(model.task !== "classification" ? { task: model.task } : {}),
  };
}
