/**
 * ONNX nodes back into layer specs: the inverse of ./onnx-write.ts, one reader per
 * operator. A reader gets a node whose first input is the tensor flowing through the
 * chain, checks every attribute against the one form the exporter writes (anything else,
 * such as a Gemm with transB = 0, a grouped or dilated Conv or a Gelu in erf form, is a
 * FormatError naming the node and the attribute), takes its weights from the initializers
 * and returns the layer with its tensors. The gelu formula written before opset 20 is nine
 * nodes, recognised as one layer by `matchGelu`.
 */
import { FormatError } from "../errors.js";
import type { ActivationSpec, LayerSpec } from "../nn/layers/index.js";
import { ATTRIBUTE, tensorValues, type AttributeProto, type NodeProto, type TensorProto } from "./onnx-proto.js";
import { GELU_CONSTANTS } from "./layers.js";

/** A layer read from the graph: its spec and its tensors by suffix ("weight", "running_var", …). */
export interface ReadLayer {
  spec: LayerSpec;
  tensors: Record<string, Float32Array>;
}

/** The graph's initializers, each used at most once (the gelu constants excepted), and the name used in messages. */
export class Initializers {
  private readonly used = new Set<string>();

  constructor(
    readonly where: string,
    private readonly tensors: Map<string, TensorProto>,
  ) {}

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  /** The number of dimensions of initializer `name` (0 when there is none: `take` then names the problem). */
  rank(name: string): number {
    return (this.tensors.get(name)?.dims ?? []).length;
  }

  /** The values of initializer `name`, which must have rank `rank` (its dims are returned too). */
  take(name: string, rank: number, node: string): { dims: number[]; values: Float32Array } {
    const t = this.tensors.get(name);
    if (!t)
      throw new FormatError(
        `${this.where}: ${node} reads ${JSON.stringify(name)}, which is not an initializer; only weights stored in the graph are supported`,
      );
    const dims = (t.dims ?? []).map(Number);
    if (dims.length !== rank || dims.some((d) => !(d >= 1))) {
      throw new FormatError(
        `${this.where}: ${node} needs a ${rank}-D initializer ${JSON.stringify(name)} of positive dimensions; it has shape [${dims.join(", ")}]`,
      );
    }
    if (this.used.has(name) && rank > 0)
      throw new FormatError(`${this.where}: initializer ${JSON.stringify(name)} is used by two layers; each layer must own its weights`);
    this.used.add(name);
    return { dims, values: tensorValues(t, this.where) };
  }

  /** The value of a scalar initializer (shape [] or [1]), or undefined if `name` is none. */
  scalar(name: string): number | undefined {
    const t = this.tensors.get(name);
    if (!t || (t.dims ?? []).reduce((a, b) => a * Number(b), 1) !== 1 || (t.dims ?? []).length > 1) return undefined;
    this.used.add(name);
    return tensorValues(t, this.where)[0];
  }

  /** Initializers no layer read. */
  unused(): string[] {
    return [...this.tensors.keys()].filter((name) => !this.used.has(name));
  }
}

/** The node's attributes by name, refusing any not in `allowed`. */
function attributes(node: NodeProto, label: string, where: string, allowed: readonly string[]): Map<string, AttributeProto> {
  const map = new Map<string, AttributeProto>();
  for (const a of node.attribute ?? []) {
    if (!allowed.includes(a.name)) throw new FormatError(`${where}: ${label} has attribute ${JSON.stringify(a.name)}, which is not supported`);
    map.set(a.name, a);
  }
  return map;
}

type Attrs = Map<string, AttributeProto>;

function int(attrs: Attrs, name: string, fallback: number): number {
  const a = attrs.get(name);
  return a === undefined ? fallback : Number(a.i ?? 0);
}

function ints(attrs: Attrs, name: string): number[] | undefined {
  const a = attrs.get(name);
  return a === undefined ? undefined : (a.ints ?? []).map(Number);
}

function float(attrs: Attrs, name: string, fallback: number): number {
  const a = attrs.get(name);
  return a === undefined ? fallback : Number(a.f ?? 0);
}

function text(attrs: Attrs, name: string): string | undefined {
  const a = attrs.get(name);
  return a === undefined ? undefined : new TextDecoder().decode(a.s ?? new Uint8Array());
}

/** A reader's view of one node: its label for messages and a check helper. */
interface NodeView {
  node: NodeProto;
  label: string;
  where: string;
  init: Initializers;
  /** Throws a FormatError "<where>: <label>: <problem>" unless ok. */
  require(ok: boolean, problem: string): void;
}

/** One value for both spatial axes: `values` must be [v, v] (or [v, v, v, v] for pads). */
function square(view: NodeView, what: string, values: number[] | undefined, fallback: number, count = 2): number {
  if (values === undefined) return fallback;
  view.require(
    values.length === count && values.every((v) => v === values[0]),
    `${what} must be ${count} equal values (square windows, the same on every side); got [${values.join(", ")}]`,
  );
  return values[0]!;
}

function noAutoPad(view: NodeView, attrs: Attrs): void {
  const autoPad = text(attrs, "auto_pad");
  view.require(autoPad === undefined || autoPad === "NOTSET", `auto_pad ${JSON.stringify(autoPad)} is not supported; give explicit pads`);
}

/** MaxPool / AveragePool: one spatial axis (kernel_shape [k]) reads as maxPool1d / avgPool1d, two as the 2-D layers. */
function pool(view: NodeView, max: boolean): ReadLayer {
  const oneAxis = view.node.attribute?.find((a) => a.name === "kernel_shape")?.ints?.length === 1;
  const type = max ? (oneAxis ? "maxPool1d" : "maxPool2d") : oneAxis ? "avgPool1d" : "avgPool2d";
  const axes = oneAxis ? 1 : 2;
  const extra = max ? ["storage_order"] : ["count_include_pad"];
  const attrs = attributes(view.node, view.label, view.where, ["auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "strides", ...extra]);
  noAutoPad(view, attrs);
  view.require(int(attrs, "ceil_mode", 0) === 0, "ceil_mode 1 is not supported");
  view.require(square(view, "dilations", ints(attrs, "dilations"), 1, axes) === 1, "dilations must be 1");
  view.require(int(attrs, "storage_order", 0) === 0, "storage_order must be 0");
  view.require(view.node.output.length === 1, "a second output (the indices) is not supported");
  const kernel = square(view, "kernel_shape", ints(attrs, "kernel_shape"), 0, axes);
  view.require(kernel >= 1, "kernel_shape is required");
  const stride = square(view, "strides", ints(attrs, "strides"), 1, axes);
  const padding = square(view, "pads", ints(attrs, "pads"), 0, 2 * axes);
  if (!max && padding > 0) {
    view.require(
      int(attrs, "count_include_pad", 0) === 1,
      "count_include_pad 0 with padding is not supported: distill-wasm's average pooling counts the padding",
    );
  }
  return { spec: { type, kernel, stride, padding }, tensors: {} };
}

/** A Conv whose weight is (out, in, k): a conv1d on (batch, channels, length). */
function conv1dLayer(view: NodeView, attrs: Attrs): ReadLayer {
  view.require(square(view, "dilations", ints(attrs, "dilations"), 1, 1) === 1, "dilations must be 1");
  const w = view.init.take(view.node.input[1]!, 3, view.label);
  const [outChannels, inChannels, kernel] = w.dims as [number, number, number];
  const shape = ints(attrs, "kernel_shape");
  view.require(shape === undefined || (shape.length === 1 && shape[0] === kernel), `kernel_shape [${shape?.join(", ")}] differs from the weight's [${kernel}]`);
  const b = view.init.take(view.node.input[2]!, 1, view.label);
  view.require(b.dims[0] === outChannels, `the bias has ${b.dims[0]} values for ${outChannels} output channels`);
  const stride = square(view, "strides", ints(attrs, "strides"), 1, 1);
  const padding = square(view, "pads", ints(attrs, "pads"), 0, 2);
  return { spec: { type: "conv1d", inChannels, outChannels, kernel, stride, padding }, tensors: { weight: w.values, bias: b.values } };
}

function elementwise(view: NodeView, spec: ActivationSpec, allowed: readonly string[] = []): ReadLayer {
  attributes(view.node, view.label, view.where, allowed);
  return { spec, tensors: {} };
}

export type OnnxReader = (view: NodeView) => ReadLayer | undefined;

/** Every operator fromOnnx reads, by op_type; undefined = no layer (Identity). */
export const ONNX_READERS: Record<string, OnnxReader> = {
  Gemm(view) {
    const attrs = attributes(view.node, view.label, view.where, ["alpha", "beta", "transA", "transB"]);
    view.require(float(attrs, "alpha", 1) === 1 && float(attrs, "beta", 1) === 1, "alpha and beta must be 1");
    view.require(int(attrs, "transA", 0) === 0, "transA must be 0");
    view.require(int(attrs, "transB", 0) === 1, "transB must be 1 (the weight stored (out, in), as nn.Linear's)");
    view.require(view.node.input.length === 3, "needs a bias input (C)");
    const w = view.init.take(view.node.input[1]!, 2, view.label);
    const [outputs, inputs] = w.dims as [number, number];
    const b = view.init.take(view.node.input[2]!, 1, view.label);
    view.require(b.dims[0] === outputs, `the bias has ${b.dims[0]} values for ${outputs} outputs`);
    return { spec: { type: "dense", inputs, outputs }, tensors: { weight: w.values, bias: b.values } };
  },
  Conv(view) {
    const attrs = attributes(view.node, view.label, view.where, ["auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"]);
    noAutoPad(view, attrs);
    view.require(int(attrs, "group", 1) === 1, "group must be 1");
    view.require(view.node.input.length === 3, "needs a bias input (B)");
    if (view.init.rank(view.node.input[1]!) === 3) return conv1dLayer(view, attrs);
    view.require(square(view, "dilations", ints(attrs, "dilations"), 1) === 1, "dilations must be 1");
    const w = view.init.take(view.node.input[1]!, 4, view.label);
    const [outChannels, inChannels, kh, kw] = w.dims as [number, number, number, number];
    const shape = ints(attrs, "kernel_shape");
    view.require(
      shape === undefined || (shape[0] === kh && shape[1] === kw && shape.length === 2),
      `kernel_shape [${shape?.join(", ")}] differs from the weight's [${kh}, ${kw}]`,
    );
    const b = view.init.take(view.node.input[2]!, 1, view.label);
    view.require(b.dims[0] === outChannels, `the bias has ${b.dims[0]} values for ${outChannels} output channels`);
    const stride = square(view, "strides", ints(attrs, "strides"), 1);
    const padding = square(view, "pads", ints(attrs, "pads"), 0, 4);
    return { spec: { type: "conv2d", inChannels, outChannels, kernel: [kh, kw], stride, padding }, tensors: { weight: w.values, bias: b.values } };
  },
  MaxPool: (view) => pool(view, true),
  AveragePool: (view) => pool(view, false),
  BatchNormalization(view) {
    const attrs = attributes(view.node, view.label, view.where, ["epsilon", "momentum", "training_mode"]);
    view.require(int(attrs, "training_mode", 0) === 0, "training_mode must be 0 (inference)");
    view.require(view.node.output.length === 1, "outputs beyond Y (training statistics) are not supported");
    view.require(view.node.input.length === 5, "needs scale, B, input_mean and input_var");
    const [gamma, beta, mean, variance] = view.node.input.slice(1).map((name) => view.init.take(name, 1, view.label));
    const channels = gamma!.dims[0]!;
    view.require(
      [beta, mean, variance].every((t) => t!.dims[0] === channels),
      "scale, B, input_mean and input_var must have the same length",
    );
    const eps = float(attrs, "epsilon", 1e-5);
    view.require(eps > 0 && Number.isFinite(eps), `epsilon must be positive; got ${eps}`);
    return {
      spec: { type: "batchNorm", channels, momentum: 0.1, eps },
      tensors: { weight: gamma!.values, bias: beta!.values, running_mean: mean!.values, running_var: variance!.values },
    };
  },
  Flatten(view) {
    const attrs = attributes(view.node, view.label, view.where, ["axis"]);
    view.require(int(attrs, "axis", 1) === 1, "axis must be 1 (keep the batch dimension)");
    return { spec: { type: "flatten" }, tensors: {} };
  },
  Relu: (view) => elementwise(view, { type: "activation", name: "relu" }),
  Tanh: (view) => elementwise(view, { type: "activation", name: "tanh" }),
  Sigmoid: (view) => elementwise(view, { type: "activation", name: "sigmoid" }),
  LeakyRelu(view) {
    const attrs = attributes(view.node, view.label, view.where, ["alpha"]);
    const slope = float(attrs, "alpha", 0.01);
    view.require(slope >= 0 && slope < 1, `alpha must be in [0, 1); got ${slope}`);
    return { spec: { type: "activation", name: "leaky_relu", slope }, tensors: {} };
  },
  Gelu(view) {
    const attrs = attributes(view.node, view.label, view.where, ["approximate"]);
    const approximate = text(attrs, "approximate") ?? "none";
    view.require(approximate === "tanh", `approximate ${JSON.stringify(approximate)} (the erf form) is not supported: distill-wasm's gelu is the tanh form`);
    return { spec: { type: "activation", name: "gelu" }, tensors: {} };
  },
  Identity(view) {
    attributes(view.node, view.label, view.where, []);
    return undefined;
  },
};

/** A view of `node` for its reader. */
export function viewOf(node: NodeProto, index: number, init: Initializers): NodeView {
  const label = `node ${index}${node.name ? ` ${JSON.stringify(node.name)}` : ""} (${node.op_type})`;
  return {
    node,
    label,
    where: init.where,
    init,
    require(ok, problem) {
      if (!ok) throw new FormatError(`${init.where}: ${label}: ${problem}`);
    },
  };
}

// ---------------------------------------------------------------- gelu before opset 20

/**
 * The nine nodes ./onnx-write.ts writes for gelu before opset 20, each as (op, inputs),
 * an input named by the step that gives it, "x" (the layer's input) or a constant of
 * GELU_CONSTANTS. Mul and Add inputs match in either order.
 */
const GELU_STEPS: readonly [string, string, string?][] = [
  ["Mul", "x", "x"], // 0: x²
  ["Mul", "0", "x"], // 1: x³
  ["Mul", "1", "k"], // 2: k·x³
  ["Add", "x", "2"], // 3: x + k·x³
  ["Mul", "3", "c"], // 4: u
  ["Tanh", "4"], // 5: tanh(u)
  ["Add", "5", "one"], // 6: tanh(u) + 1
  ["Mul", "x", "half"], // 7: ½·x
  ["Mul", "7", "6"], // 8: gelu
];

/**
 * If the nodes from `start` on are the gelu formula applied to `x`, their count and the
 * output name; otherwise undefined (the Mul is then read on its own, and refused).
 */
export function matchGelu(nodes: readonly NodeProto[], start: number, x: string, init: Initializers): { count: number; output: string } | undefined {
  if (start + GELU_STEPS.length > nodes.length) return undefined;
  const outputs: string[] = [];
  const constant = (name: string, key: keyof typeof GELU_CONSTANTS) => init.scalar(name) === Math.fround(GELU_CONSTANTS[key]);
  const fits = (input: string, ref: string): boolean => {
    if (ref === "x") return input === x;
    if (/^\d$/.test(ref)) return input === outputs[Number(ref)];
    return init.has(input) && constant(input, ref as keyof typeof GELU_CONSTANTS);
  };
  for (const [i, [op, a, b]] of GELU_STEPS.entries()) {
    const node = nodes[start + i]!;
    if (node.op_type !== op || (node.attribute ?? []).length > 0 || node.output.length !== 1 || (node.domain ?? "") !== "") return undefined;
    const [p, q] = node.input;
    const ok =
      b === undefined ? node.input.length === 1 && fits(p!, a) : node.input.length === 2 && ((fits(p!, a) && fits(q!, b)) || (fits(p!, b) && fits(q!, a)));
    if (!ok) return undefined;
    outputs.push(node.output[0]!);
  }
  return { count: GELU_STEPS.length, output: outputs[outputs.length - 1]! };
}

/**
 * A standardize layer as ./onnx-write.ts writes it: Sub(x, mean) then Div(that, std), mean
 * and std 1-D initializers of the same length (std > 0); undefined when the nodes at
 * `start` are not that pair.
 */
export function matchStandardize(nodes: readonly NodeProto[], start: number, x: string, init: Initializers): { layer: ReadLayer; output: string } | undefined {
  const sub = nodes[start];
  const div = nodes[start + 1];
  const plain = (n: NodeProto | undefined, op: string) =>
    n !== undefined && n.op_type === op && (n.attribute ?? []).length === 0 && n.input.length === 2 && n.output.length === 1 && (n.domain ?? "") === "";
  if (!plain(sub, "Sub") || !plain(div, "Div")) return undefined;
  if (sub!.input[0] !== x || div!.input[0] !== sub!.output[0] || !init.has(sub!.input[1]!) || !init.has(div!.input[1]!)) return undefined;
  const label = `node ${start} (Sub, Div: standardize)`;
  const mean = init.take(sub!.input[1]!, 1, label);
  const std = init.take(div!.input[1]!, 1, label);
  if (mean.dims[0] !== std.dims[0] || !std.values.every((v) => v > 0)) return undefined;
  const features = mean.dims[0]!;
  return { layer: { spec: { type: "standardize", features }, tensors: { mean: mean.values, std: std.values } }, output: div!.output[0]! };
}
