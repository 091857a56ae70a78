/**
 * A model as an ONNX ModelProto: float32, input "input" (batch, …inputShape) with a
 * dynamic batch dimension named "batch", output "logits" (batch, outputs), one node (or,
 * for gelu before opset 20, a few) per layer (./onnx-write.ts), weights as initializers
 * with PyTorch's names. `metadata_props` records the layer list (`architecture`), the
 * input shape (`input_shape`), `distill_wasm_version` and, for a regression or multi-label
 * model, `task` (src/nn/task.ts: what the output means), which `fromOnnx` reads back.
 * A QuantizedModel (int8 or fp16 student) is written as a QuantizeLinear/DequantizeLinear
 * graph with the same input, output and metadata, plus `quantization` (./to-onnx-qdq.ts).
 *
 * The default opset, 17, is the one onnxruntime (web and node) and the other common
 * consumers have run longest with every operator used here: it is torch.onnx's long-time
 * default, its IR version (8) loads in onnxruntime 1.12 and later, and only gelu needs
 * more than one node there (Gelu arrived in opset 20).
 */
import { OptionError } from "../errors.js";
import { DISTILL_WASM_VERSION } from "../io/model-file.js";
import type { Sequential } from "../nn/sequential.js";
import { checkOptions, number, type Schema } from "../options/schema.js";
import { architectureFacts, exportLayers } from "./layers.js";
import { encodeModel, FLOAT, type ModelProto, type ValueInfoProto } from "./onnx-proto.js";
import { GraphBuilder, ONNX_WRITERS } from "./onnx-write.js";
import { isQuantizedModel, quantizedNetOf, type QuantizedModel } from "../quantize/model.js";
import { ArgumentError } from "../errors.js";
import { quantizedModelProto } from "./to-onnx-qdq.js";
import { TASK_KEY } from "../nn/task.js";

/**
 * The opsets written and read, and the IR version each needs (the ONNX release that
 * introduced the opset: docs/Versioning.md of onnx/onnx). 13 is the first opset whose
 * operators used here have their current definitions; 21 the last one tested against
 * onnxruntime.
 */
export const ONNX_OPSETS = { min: 13, max: 21, default: 17 } as const;
const IR_VERSION: Record<number, number> = { 13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10 };

export interface OnnxOptions {
  /** ai.onnx opset version, 13–21 (default 17). */
  opset?: number;
}

const ONNX_SCHEMA: Schema = { opset: number({ integer: true, min: ONNX_OPSETS.min, max: ONNX_OPSETS.max }) };

/** The options checked (OptionError naming the bad one), with their defaults. */
export function checkOnnxOptions(options?: OnnxOptions): Required<OnnxOptions> {
  const checked = checkOptions("toOnnx", ONNX_SCHEMA, options);
  return { opset: checked.opset ?? ONNX_OPSETS.default };
}

/** The input and output names of every exported graph. */
export const ONNX_INPUT = "input";
export const ONNX_OUTPUT = "logits";

function valueInfo(name: string, dims: readonly (number | string)[]): ValueInfoProto {
  const dim = dims.map((d) => (typeof d === "number" ? { dim_value: d } : { dim_param: d }));
  return { name, type: { tensor_type: { elem_type: FLOAT, shape: { dim } } } };
}

/**
 * The model as ONNX bytes (see the module comment). Options and model are checked before anything is written.
 * A QuantizedModel becomes a QuantizeLinear/DequantizeLinear graph (./to-onnx-qdq.ts).
 */
export function toOnnx(model: Sequential | QuantizedModel, options?: OnnxOptions): Uint8Array {
  const { opset } = checkOnnxOptions(options);
  if (isQuantizedModel(model)) {
    const net = quantizedNetOf(model);
    if (!net) throw new ArgumentError("toOnnx: this quantized model has been disposed; load it again");
    const io = { input: [valueInfo(ONNX_INPUT, ["batch", ...net.inputShape])], output: [valueInfo(ONNX_OUTPUT, ["batch", net.outputs])] };
    return encodeModel(quantizedModelProto(net, opset, IR_VERSION[opset]!, io));
  }
  const layers = exportLayers(
    model,
    "toOnnx",
    Object.keys(ONNX_WRITERS).filter((type) => ONNX_WRITERS[type as keyof typeof ONNX_WRITERS] !== null),
  );
  const irVersion = IR_VERSION[opset];
  if (irVersion === undefined) throw new OptionError(`toOnnx: no IR version known for opset ${opset}`);
  const g = new GraphBuilder(opset);
  let x = ONNX_INPUT;
  for (const layer of layers) x = (ONNX_WRITERS[layer.spec.type] as (l: typeof layer, x: string, g: GraphBuilder) => string)(layer, x, g);
  // The last node's output is the graph's; a model of dropout alone still needs a node.
  if (g.nodes.length === 0) g.node("Identity", "identity", [x], ONNX_OUTPUT);
  else g.nodes[g.nodes.length - 1]!.output = [ONNX_OUTPUT];
  const facts = architectureFacts(model);
  const proto: ModelProto = {
    ir_version: irVersion,
    producer_name: "distill-wasm",
    producer_version: DISTILL_WASM_VERSION,
    doc_string: `${model.architecture}: a float32 model exported by distill-wasm`,
    opset_import: [{ domain: "", version: opset }],
    graph: {
      name: "distill_wasm",
      node: g.nodes,
      initializer: [...g.initializers.values()],
      input: [valueInfo(ONNX_INPUT, ["batch", ...model.inputShape])],
      output: [valueInfo(ONNX_OUTPUT, ["batch", model.outputs])],
    },
    metadata_props: [
      { key: "architecture", value: facts.architecture },
      { key: "input_shape", value: facts.inputShape },
      { key: "distill_wasm_version", value: DISTILL_WASM_VERSION },
      ...(facts.task ? [{ key: TASK_KEY, value: facts.task }] : []),
    ],
  };
  return encodeModel(proto);
}
