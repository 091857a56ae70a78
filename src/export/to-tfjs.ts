/**
 * A model as a TensorFlow.js layers model: the `model.json` object (format "layers-model":
 * a Keras functional model as `modelTopology`, and a `weightsManifest` naming one weights
 * file, TFJS_WEIGHTS_FILE) and that file's bytes, every weight little-endian float32 or,
 * with `float16`, half precision (the manifest's `quantization: { dtype: "float16" }`,
 * which TensorFlow.js expands back to float32 when it loads the model). The layers are
 * those of ./tfjs-layers.ts after an input layer named "input" of shape
 * (batch, …inputShape), NCHW for images, like the model's input. A functional model, not a
 * Sequential one, because gelu there is a small graph of layers.
 *
 *   const { modelJson, weights } = toTfjs(student);
 *   const model = await tf.loadLayersModel(tf.io.fromMemory({
 *     modelTopology: modelJson.modelTopology, weightSpecs: modelJson.weightsManifest[0].weights, weightData: weights.buffer,
 *   }));
 */
import { isQuantizedModel, type QuantizedModel } from "../quantize/model.js";
import { ArgumentError } from "../errors.js";
import { DISTILL_WASM_VERSION } from "../io/model-file.js";
import type { Sequential } from "../nn/sequential.js";
import type { ModelTask } from "../nn/task.js";
import { boolean, checkOptions, type Schema } from "../options/schema.js";
import { f32ToF16Bits } from "../io/float16.js";
import { architectureFacts, exportLayers } from "./layers.js";
import { KerasGraph, TFJS_WRITERS, type KerasLayer, type KerasWeight } from "./tfjs-layers.js";

/** The weights file model.json names. */
export const TFJS_WEIGHTS_FILE = "model.weights.bin";

export interface TfjsOptions {
  /** Store the weights as half-precision floats: half the bytes, about 3 significant digits (default false). */
  float16?: boolean;
}

const TFJS_SCHEMA: Schema = { float16: boolean };

/** The options checked (OptionError naming the bad one), with their defaults. */
export function checkTfjsOptions(options?: TfjsOptions): Required<TfjsOptions> {
  const checked = checkOptions("toTfjs", TFJS_SCHEMA, options);
  return { float16: checked.float16 ?? false };
}

/** One entry of the weights manifest. */
export interface TfjsWeightSpec {
  name: string;
  shape: number[];
  dtype: "float32";
  quantization?: { dtype: "float16"; original_dtype: "float32" };
}

/** model.json of a TensorFlow.js layers model. */
export interface TfjsModelJson {
  format: "layers-model";
  generatedBy: string;
  convertedBy: null;
  modelTopology: {
    class_name: "Model";
    config: { name: string; layers: KerasLayer[]; input_layers: [[string, 0, 0]]; output_layers: [[string, 0, 0]] };
  };
  weightsManifest: [{ paths: [string]; weights: TfjsWeightSpec[] }];
  /**
   * what the layers cannot say: the library version, the layer list and the input shape
   * (JSON), and for a regression or multi-label model its task (src/nn/task.ts)
   */
  userDefinedMetadata: { distill_wasm: { version: string; architecture: string; input_shape: string; task?: ModelTask } };
}

export interface TfjsExport {
  modelJson: TfjsModelJson;
  /** the bytes of TFJS_WEIGHTS_FILE */
  weights: Uint8Array;
}

/** The weights one after the other, in manifest order: float32 or float16, little-endian. */
function packWeights(weights: KerasWeight[], float16: boolean): Uint8Array {
  const size = float16 ? 2 : 4;
  const bytes = new Uint8Array(weights.reduce((n, w) => n + w.values.length * size, 0));
  const view = new DataView(bytes.buffer);
  let at = 0;
  for (const w of weights) {
    for (const v of w.values) {
      if (float16) view.setUint16(at, f32ToF16Bits(v), true);
      else view.setFloat32(at, v, true);
      at += size;
    }
  }
  return bytes;
}

/** The model as a TensorFlow.js layers model (see the module comment). Options and layers are checked before any weight is read. */
export function toTfjs(model: Sequential | QuantizedModel, options?: TfjsOptions): TfjsExport {
  const { float16 } = checkTfjsOptions(options);
  if (isQuantizedModel(model)) {
    throw new ArgumentError(
      "toTfjs: a quantized model cannot be written as TF.js layers (they hold float weights only); export it with toOnnx, or export the float model it came from",
    );
  }
  const layers = exportLayers(
    model,
    "toTfjs",
    Object.keys(TFJS_WRITERS).filter((type) => TFJS_WRITERS[type as keyof typeof TFJS_WRITERS] !== null),
  );
  const g = new KerasGraph();
  let x = g.add("InputLayer", "input", [], { batch_input_shape: [null, ...model.inputShape], dtype: "float32", sparse: false });
  for (const layer of layers) x = (TFJS_WRITERS[layer.spec.type] as (l: typeof layer, x: string, g: KerasGraph) => string)(layer, x, g);
  // A model of dropout alone still needs a layer after its input.
  if (x === "input") x = g.add("Activation", "activation", [x], { activation: "linear" });
  const weights = g.readWeights();
  const facts = architectureFacts(model);
  return {
    modelJson: {
      format: "layers-model",
      generatedBy: `distill-wasm ${DISTILL_WASM_VERSION}`,
      convertedBy: null,
      modelTopology: {
        class_name: "Model",
        config: { name: "distill_wasm", layers: g.layers, input_layers: [["input", 0, 0]], output_layers: [[x, 0, 0]] },
      },
      weightsManifest: [
        {
          paths: [TFJS_WEIGHTS_FILE],
          weights: weights.map((w) => ({
            name: w.name,
            shape: w.shape,
            dtype: "float32" as const,
            ...(float16 ? { quantization: { dtype: "float16" as const, original_dtype: "float32" as const } } : {}),
          })),
        },
      ],
      userDefinedMetadata: {
        distill_wasm: {
          version: DISTILL_WASM_VERSION,
          architecture: facts.architecture,
          input_shape: facts.inputShape,
          ...(facts.task ? { task: facts.task } : {}),
        },
      },
    },
    weights: packWeights(weights, float16),
  };
}
