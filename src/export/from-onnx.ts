/**
 * An ONNX model written by `toOnnx` as a new `Sequential` holding the same weights, so
 * that its logits are the same bits as the exported model's.
 *
 * The graph decides: it must be one chain of the nodes ./onnx-write.ts writes, from the
 * single float32 input (batch, features) or (batch, channels, height, width) to the single
 * output, in the default operator domain at an opset this version knows, every weight an
 * initializer stored in the file. Each node is read by its operator's reader
 * (./onnx-read.ts); anything else is a FormatError naming the node, the operator or the
 * attribute. The `architecture` metadata then only restores what the graph cannot say
 * (dropout layers, the identity at inference; batchNorm momentum; the init scheme; eps
 * and slopes to the last bit of a float64), and only when its layers are the graph's:
 * otherwise the graph alone is used.
 */
import { ArgumentError, DistillError, FormatError, NonFiniteError } from "../errors.js";
import { cleanSpec, inferShapes, type LayerSpec, type LayerType } from "../nn/layers/index.js";
import type { SpecOf } from "./layers.js";
import { Sequential, type SequentialOptions } from "../nn/sequential.js";
import { checkedElsewhere, checkOptions, type Schema } from "../options/schema.js";
import { Initializers, matchGelu, matchStandardize, ONNX_READERS, viewOf, type ReadLayer } from "./onnx-read.js";
import { decodeModel, FLOAT, type ModelProto, type NodeProto, type TensorProto, type ValueInfoProto } from "./onnx-proto.js";
import { ONNX_OPSETS } from "./to-onnx.js";
import { taskOfMetadata } from "../nn/task.js";

export type FromOnnxOptions = Pick<SequentialOptions, "seed" | "engine">;

const FROM_ONNX_SCHEMA: Schema = { seed: checkedElsewhere, engine: checkedElsewhere };

/** A new model holding the weights of ONNX bytes written by toOnnx (see the module comment). */
export function fromOnnx(bytes: Uint8Array, options: FromOnnxOptions = {}, name = "ONNX model"): Sequential {
  const checked = checkOptions("fromOnnx", FROM_ONNX_SCHEMA, options);
  if (!(bytes instanceof Uint8Array)) throw new ArgumentError(`fromOnnx: bytes must be a Uint8Array; got ${bytes === null ? "null" : typeof bytes}`);
  const proto = decodeModel(bytes, name);
  const fail = (problem: string) => new FormatError(`${name}: ${problem}`);
  checkOpset(proto, fail);
  const graph = proto.graph;
  if (!graph) throw fail("the model has no graph");
  const tensors = new Map<string, TensorProto>((graph.initializer ?? []).map((t) => [t.name, t]));
  const init = new Initializers(name, tensors);
  const { input, inputShape } = graphInput(graph.input ?? [], tensors, fail);
  const read = readChain((graph.node ?? []).map(normalNode), input, init, fail);
  const outputs = graph.output ?? [];
  if (outputs.length !== 1) throw fail(`the graph has ${outputs.length} outputs; one (the logits) is supported`);
  if (outputs[0]!.name !== read.output) {
    throw fail(`the graph's output ${JSON.stringify(outputs[0]!.name)} is not the end of the chain of layers (${JSON.stringify(read.output)})`);
  }
  const unused = init.unused();
  if (unused.length > 0) throw fail(`initializer ${JSON.stringify(unused[0])} is not used by any layer`);
  const plan = withMetadata(read.layers, metadataOf(proto), inputShape);
  let model: Sequential;
  try {
    model = new Sequential(plan.specs, { ...checked, inputShape, task: taskOfMetadata(Object.fromEntries(metadataOf(proto)), fail) });
  } catch (cause) {
    if (cause instanceof DistillError) throw fail(`the layers do not fit together: ${cause.message}`);
    throw cause;
  }
  try {
    read.layers.forEach((layer, j) => {
      for (const [suffix, values] of Object.entries(layer.tensors)) setTensor(model, `${plan.indices[j]}.${suffix}`, values, fail);
    });
  } catch (cause) {
    model.dispose();
    throw cause;
  }
  return model;
}

function checkOpset(proto: ModelProto, fail: (p: string) => FormatError): void {
  const imports = proto.opset_import ?? [];
  const other = imports.find((o) => o.domain && o.domain !== "ai.onnx");
  if (other) throw fail(`the model uses operators of domain ${JSON.stringify(other.domain)}; only the default ONNX domain is supported`);
  const version = Number(imports.find((o) => !o.domain || o.domain === "ai.onnx")?.version ?? 0);
  if (!(version >= ONNX_OPSETS.min && version <= ONNX_OPSETS.max)) {
    throw fail(`the model is written for opset ${version || "(none)"}; this version reads opsets ${ONNX_OPSETS.min}–${ONNX_OPSETS.max}`);
  }
}

/** The graph's one input (not an initializer): a float32 (batch, …shape) tensor of known sample shape. */
function graphInput(inputs: ValueInfoProto[], tensors: Map<string, TensorProto>, fail: (p: string) => FormatError): { input: string; inputShape: number[] } {
  const real = inputs.filter((i) => !tensors.has(i.name));
  if (real.length !== 1) throw fail(`the graph has ${real.length} inputs; one is supported`);
  const info = real[0]!;
  const type = info.type?.tensor_type;
  if (!type || type.elem_type !== FLOAT) throw fail(`input ${JSON.stringify(info.name)} is not a float32 tensor`);
  const dims = type.shape?.dim ?? [];
  const inputShape = dims.slice(1).map((d) => Number(d.dim_value ?? 0));
  if (dims.length < 2 || dims.length > 4 || inputShape.some((d) => !(d >= 1))) {
    throw fail(
      `input ${JSON.stringify(info.name)} must be (batch, features), (batch, channels, length) or (batch, channels, height, width) with known sizes after the batch`,
    );
  }
  return { input: info.name, inputShape };
}

const normalNode = (n: NodeProto): NodeProto => ({ ...n, input: n.input ?? [], output: n.output ?? [], attribute: n.attribute ?? [] });

/** Walks the nodes as one chain from `input`, reading each into a layer. */
function readChain(nodes: NodeProto[], input: string, init: Initializers, fail: (p: string) => FormatError): { layers: ReadLayer[]; output: string } {
  const layers: ReadLayer[] = [];
  let x = input;
  for (let i = 0; i < nodes.length;) {
    const node = nodes[i]!;
    if (node.domain) throw fail(`node ${i} (${node.op_type}) is in domain ${JSON.stringify(node.domain)}; only the default ONNX domain is supported`);
    if (node.input[0] !== x) {
      throw fail(
        `node ${i}${node.name ? ` ${JSON.stringify(node.name)}` : ""} (${node.op_type}) does not take the output of the layer before it (${JSON.stringify(x)}); only a chain of layers is supported`,
      );
    }
    const gelu = node.op_type === "Mul" ? matchGelu(nodes, i, x, init) : undefined;
    if (gelu) {
      layers.push({ spec: { type: "activation", name: "gelu" }, tensors: {} });
      x = gelu.output;
      i += gelu.count;
      continue;
    }
    const standardized = node.op_type === "Sub" ? matchStandardize(nodes, i, x, init) : undefined;
    if (standardized) {
      layers.push(standardized.layer);
      x = standardized.output;
      i += 2;
      continue;
    }
    const reader = Object.hasOwn(ONNX_READERS, node.op_type) ? ONNX_READERS[node.op_type] : undefined;
    if (!reader) {
      throw fail(
        `node ${i}${node.name ? ` ${JSON.stringify(node.name)}` : ""}: operator ${JSON.stringify(node.op_type)} is not supported; fromOnnx reads ${Object.keys(ONNX_READERS).join(", ")} and gelu written as Mul, Add and Tanh`,
      );
    }
    if (node.output.length < 1) throw fail(`node ${i} (${node.op_type}) has no output`);
    const layer = reader(viewOf(node, i, init));
    if (layer) layers.push(layer);
    x = node.output[0]!;
    i++;
  }
  if (layers.length === 0 && nodes.length === 0) throw fail("the graph has no nodes");
  return { layers, output: x };
}

function metadataOf(proto: ModelProto): Map<string, string> {
  return new Map((proto.metadata_props ?? []).map((p) => [p.key ?? "", p.value ?? ""]));
}

const f32 = (v: number | undefined, fallback: number) => Math.fround(v ?? fallback);
const poolKey = (spec: SpecOf<"maxPool2d" | "avgPool2d" | "maxPool1d" | "avgPool1d">) =>
  `${spec.type} ${spec.kernel} ${spec.stride ?? spec.kernel} ${spec.padding ?? 0}`;

/**
 * Per layer kind, the numbers inference uses, as a string, for comparing a spec read from
 * the graph with one from the metadata (floats as float32, as the file stores them). A kind
 * ./onnx-write.ts does not write is never read, and is keyed by its type alone.
 */
const INFERENCE_KEYS: { [T in LayerType]: (spec: SpecOf<T>) => string } = {
  dense: (spec) => `dense ${spec.inputs} ${spec.outputs}`,
  conv2d: (spec) => {
    const k = typeof spec.kernel === "number" ? [spec.kernel, spec.kernel] : spec.kernel;
    return `conv2d ${spec.inChannels} ${spec.outChannels} ${k.join("x")} ${spec.stride ?? 1} ${spec.padding ?? 0}`;
  },
  conv1d: (spec) => `conv1d ${spec.inChannels} ${spec.outChannels} ${spec.kernel} ${spec.stride ?? 1} ${spec.padding ?? 0}`,
  maxPool2d: poolKey,
  avgPool2d: poolKey,
  maxPool1d: poolKey,
  avgPool1d: poolKey,
  batchNorm: (spec) => `batchNorm ${spec.channels} ${f32(spec.eps, 1e-5)}`,
  activation: (spec) => `activation ${spec.name}${spec.name === "leaky_relu" ? ` ${f32(spec.slope, 0.01)}` : ""}`,
  flatten: () => "flatten",
  dropout: () => "dropout",
  standardize: (spec) => `standardize ${spec.features}`,
  // written to ONNX (./onnx-tokens.ts) but not read back: readChain refuses their Cast
  embedding: (spec) => spec.type,
  embeddingBag: (spec) => spec.type,
  layerNorm: (spec) => spec.type,
};

const inferenceKey = (spec: LayerSpec): string => (INFERENCE_KEYS[spec.type] as (spec: LayerSpec) => string)(spec);

/**
 * The specs to build and, for each layer read from the graph, its index among them: the
 * metadata's layer list when, without its dropout layers, it is the graph's layer for
 * layer; else the graph's layers.
 */
function withMetadata(layers: ReadLayer[], metadata: Map<string, string>, inputShape: number[]): { specs: LayerSpec[]; indices: number[] } {
  const fromGraph = { specs: layers.map((l) => l.spec), indices: layers.map((_, i) => i) };
  const text = metadata.get("architecture");
  if (text === undefined) return fromGraph;
  let specs: LayerSpec[];
  try {
    const raw: unknown = JSON.parse(text);
    if (!Array.isArray(raw)) return fromGraph;
    specs = raw.map((s: unknown) => cleanSpec(s));
    inferShapes(specs, inputShape);
  } catch {
    return fromGraph; // metadata that is no valid layer list for this input says nothing the graph does not
  }
  const indices = specs.flatMap((s, i) => (s.type === "dropout" ? [] : [i]));
  if (indices.length !== layers.length) return fromGraph;
  const same = indices.every((i, j) => inferenceKey(specs[i]!) === inferenceKey(layers[j]!.spec));
  return same ? { specs, indices } : fromGraph;
}

function setTensor(model: Sequential, tensorName: string, values: Float32Array, fail: (p: string) => FormatError): void {
  const bad = values.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw fail(`tensor ${tensorName} holds ${values[bad]} at index ${bad}; weights must be finite`);
  if (tensorName.endsWith(".running_var")) {
    const negative = values.findIndex((v) => v < 0);
    if (negative >= 0) throw fail(`tensor ${tensorName} holds ${values[negative]} at index ${negative}; a variance cannot be negative`);
  }
  try {
    model.setParameter(tensorName, values);
  } catch (cause) {
    if (cause instanceof DistillError && !(cause instanceof NonFiniteError)) throw fail(`tensor ${tensorName}: ${cause.message}`);
    throw cause;
  }
}
