/**
 * Each layer kind as ONNX nodes. A writer takes the name of the tensor flowing in, adds
 * its nodes and initializers to the graph, and returns the name of the tensor it gives.
 * Activations are (batch, features) or NCHW (batch, channels, height, width), as in the
 * model; weights keep PyTorch's layouts and names ("<i>.weight", "<i>.bias",
 * "<i>.running_mean", "<i>.running_var"), as torch.onnx writes an nn.Sequential:
 *
 *   dense       Gemm(x, W (out, in), b, transB = 1): y = x·Wᵀ + b
 *   conv2d      Conv(x, W (out, in, kh, kw), b, strides, pads, kernel_shape)
 *   conv1d      Conv(x, W (out, in, k), b, strides [s], pads [p, p], kernel_shape [k]) on (batch, channels, length)
 *   maxPool2d   MaxPool(kernel_shape, strides, pads): padding never wins a max, as in PyTorch
 *   avgPool2d   AveragePool(…, count_include_pad = 1): a window's padding counts as zeros
 *   maxPool1d, avgPool1d   the same operators with one spatial axis
 *   batchNorm   BatchNormalization(x, γ, β, running_mean, running_var, epsilon): the running
 *               statistics (inference); per feature on (batch, features), per channel on NCHW
 *   flatten     Flatten(axis = 1): NCHW rows are already flat in C·H·W order
 *   activation  Relu, LeakyRelu(alpha = slope), Tanh, Sigmoid; gelu is the tanh form
 *               ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) (assembly/activation.ts), so from
 *               opset 20 Gelu(approximate = "tanh"), before it that formula in Mul, Add and
 *               Tanh nodes (geluNodes; ./onnx-read.ts recognises them as one layer)
 *   dropout     nothing (the identity at inference)
 *   standardize Sub(x, "<i>.mean") then Div(·, "<i>.std"): the kernel's two f32 operations, same bits
 *   embedding, embeddingBag, layerNorm   ./onnx-tokens.ts: Cast of the float ids to int64 and
 *               Gather; the bag's mean as ReduceSum over the sequence divided by the count of
 *               non-padding ids; LayerNormalization from opset 17, its formula in nodes before
 */
import type { LayerSpec, LayerType } from "../nn/layers/index.js";
import { GELU_CONSTANTS, type ExportLayer, type SpecOf } from "./layers.js";
import { embeddingBagNodes, embeddingNodes, layerNormNodes } from "./onnx-tokens.js";
import {
  floatAttribute,
  floatTensor,
  int64Tensor,
  intAttribute,
  intsAttribute,
  stringAttribute,
  type AttributeProto,
  type NodeProto,
  type TensorProto,
} from "./onnx-proto.js";

/** The first opset with the Gelu operator. */
export const GELU_OPSET = 20;

/** Names of the shared scalar initializers holding GELU_CONSTANTS. */
export const GELU_CONSTANT_NAMES = { k: "gelu.k", c: "gelu.sqrt_2_over_pi", half: "gelu.half", one: "gelu.one" } as const;

/** The graph being written: nodes in order and initializers by name. */
export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers = new Map<string, TensorProto>();

  constructor(readonly opset: number) {}

  /** Adds a node with one output named `output`; returns that name. */
  node(opType: string, name: string, inputs: string[], output: string, attribute: AttributeProto[] = []): string {
    this.nodes.push({ name, op_type: opType, input: inputs, output: [output], ...(attribute.length ? { attribute } : {}) });
    return output;
  }

  /** Adds an initializer (once per name); returns its name. */
  initializer(name: string, dims: readonly number[], values: ArrayLike<number>): string {
    if (!this.initializers.has(name)) this.initializers.set(name, floatTensor(name, dims, values));
    return name;
  }

  /** A scalar float32 initializer. */
  scalar(name: string, value: number): string {
    return this.initializer(name, [], [value]);
  }

  /** A 1-D int64 initializer (axes, for instance), once per name; returns its name. */
  int64s(name: string, values: readonly number[]): string {
    if (!this.initializers.has(name)) this.initializers.set(name, int64Tensor(name, [values.length], values));
    return name;
  }
}

export type OnnxWriter<S extends LayerSpec> = (layer: ExportLayer<S>, x: string, g: GraphBuilder) => string;

/** The layer's own tensors as initializers with their PyTorch names. */
function parameters(layer: ExportLayer, g: GraphBuilder, shapes: Record<string, number[]>): string[] {
  return Object.entries(shapes).map(([suffix, dims]) => g.initializer(`${layer.index}.${suffix}`, dims, layer.tensor(suffix)));
}

const pads = (p: number) => [p, p, p, p];

const pool: OnnxWriter<SpecOf<"maxPool2d">> = (layer, x, g) => {
  const { kernel, stride = kernel, padding = 0 } = layer.spec;
  const attributes = [intsAttribute("kernel_shape", [kernel, kernel]), intsAttribute("strides", [stride, stride]), intsAttribute("pads", pads(padding))];
  if (layer.spec.type === "maxPool2d") return g.node("MaxPool", `${layer.index}.max_pool`, [x], `${layer.index}.max_pool`, attributes);
  attributes.push(intAttribute("count_include_pad", 1));
  return g.node("AveragePool", `${layer.index}.avg_pool`, [x], `${layer.index}.avg_pool`, attributes);
};

const pool1d: OnnxWriter<SpecOf<"maxPool1d">> = (layer, x, g) => {
  const { kernel, stride = kernel, padding = 0 } = layer.spec;
  const attributes = [intsAttribute("kernel_shape", [kernel]), intsAttribute("strides", [stride]), intsAttribute("pads", [padding, padding])];
  if (layer.spec.type === "maxPool1d") return g.node("MaxPool", `${layer.index}.max_pool`, [x], `${layer.index}.max_pool`, attributes);
  attributes.push(intAttribute("count_include_pad", 1));
  return g.node("AveragePool", `${layer.index}.avg_pool`, [x], `${layer.index}.avg_pool`, attributes);
};

/**
 * gelu before opset 20, in the kernel's order of operations:
 * x3 = (x·x)·x; u = (x + x3·k)·c; y = (x·½)·(tanh(u) + 1).
 */
function geluNodes(x: string, prefix: string, g: GraphBuilder): string {
  const k = g.scalar(GELU_CONSTANT_NAMES.k, GELU_CONSTANTS.k);
  const c = g.scalar(GELU_CONSTANT_NAMES.c, GELU_CONSTANTS.c);
  const half = g.scalar(GELU_CONSTANT_NAMES.half, GELU_CONSTANTS.half);
  const one = g.scalar(GELU_CONSTANT_NAMES.one, GELU_CONSTANTS.one);
  const n = (op: string, step: string, inputs: string[]) => g.node(op, `${prefix}/${step}`, inputs, `${prefix}/${step}`);
  const x2 = n("Mul", "x2", [x, x]);
  const x3 = n("Mul", "x3", [x2, x]);
  const kx3 = n("Mul", "k_x3", [x3, k]);
  const sum = n("Add", "sum", [x, kx3]);
  const u = n("Mul", "u", [sum, c]);
  const t = n("Tanh", "tanh", [u]);
  const t1 = n("Add", "tanh_plus_1", [t, one]);
  const hx = n("Mul", "half_x", [x, half]);
  return n("Mul", "gelu", [hx, t1]);
}

/** Every layer kind's writer, or null for a kind not written (toOnnx refuses it, naming the layer): the one table of ONNX export. */
export const ONNX_WRITERS: { [T in LayerType]: OnnxWriter<SpecOf<T>> | null } = {
  dense(layer, x, g) {
    const { inputs, outputs } = layer.spec;
    return g.node("Gemm", `${layer.index}.gemm`, [x, ...parameters(layer, g, { weight: [outputs, inputs], bias: [outputs] })], `${layer.index}.gemm`, [
      intAttribute("transB", 1),
    ]);
  },
  conv2d(layer, x, g) {
    const { inChannels, outChannels, stride = 1, padding = 0 } = layer.spec;
    const [kh, kw] = typeof layer.spec.kernel === "number" ? [layer.spec.kernel, layer.spec.kernel] : layer.spec.kernel;
    const weights = parameters(layer, g, { weight: [outChannels, inChannels, kh, kw], bias: [outChannels] });
    return g.node("Conv", `${layer.index}.conv`, [x, ...weights], `${layer.index}.conv`, [
      intsAttribute("kernel_shape", [kh, kw]),
      intsAttribute("strides", [stride, stride]),
      intsAttribute("pads", pads(padding)),
      intsAttribute("dilations", [1, 1]),
      intAttribute("group", 1),
    ]);
  },
  maxPool2d: pool,
  avgPool2d: pool,
  conv1d(layer, x, g) {
    const { inChannels, outChannels, kernel, stride = 1, padding = 0 } = layer.spec;
    const weights = parameters(layer, g, { weight: [outChannels, inChannels, kernel], bias: [outChannels] });
    return g.node("Conv", `${layer.index}.conv`, [x, ...weights], `${layer.index}.conv`, [
      intsAttribute("kernel_shape", [kernel]),
      intsAttribute("strides", [stride]),
      intsAttribute("pads", [padding, padding]),
      intsAttribute("dilations", [1]),
      intAttribute("group", 1),
    ]);
  },
  maxPool1d: pool1d,
  avgPool1d: pool1d,
  batchNorm(layer, x, g) {
    const c = layer.spec.channels;
    const tensors = parameters(layer, g, { weight: [c], bias: [c], running_mean: [c], running_var: [c] });
    return g.node("BatchNormalization", `${layer.index}.batch_norm`, [x, ...tensors], `${layer.index}.batch_norm`, [
      floatAttribute("epsilon", layer.spec.eps ?? 1e-5),
    ]);
  },
  flatten: (layer, x, g) => g.node("Flatten", `${layer.index}.flatten`, [x], `${layer.index}.flatten`, [intAttribute("axis", 1)]),
  activation(layer, x, g) {
    const name = `${layer.index}.${layer.spec.name}`;
    switch (layer.spec.name) {
      case "relu":
        return g.node("Relu", name, [x], name);
      case "tanh":
        return g.node("Tanh", name, [x], name);
      case "sigmoid":
        return g.node("Sigmoid", name, [x], name);
      case "leaky_relu":
        return g.node("LeakyRelu", name, [x], name, [floatAttribute("alpha", layer.spec.slope ?? 0.01)]);
      case "gelu":
        return g.opset >= GELU_OPSET ? g.node("Gelu", name, [x], name, [stringAttribute("approximate", "tanh")]) : geluNodes(x, name, g);
    }
  },
  dropout: (_layer, x) => x,
  standardize(layer, x, g) {
    const [mean, std] = parameters(layer, g, { mean: [layer.spec.features], std: [layer.spec.features] });
    const centred = g.node("Sub", `${layer.index}.sub_mean`, [x, mean!], `${layer.index}.sub_mean`);
    return g.node("Div", `${layer.index}.div_std`, [centred, std!], `${layer.index}.div_std`);
  },
  embedding: embeddingNodes,
  embeddingBag: embeddingBagNodes,
  layerNorm: layerNormNodes,
};
