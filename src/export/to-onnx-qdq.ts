/**
 * A quantized model (src/quantize/) as an ONNX QDQ graph: the int8 weights stay int8
 * initializers and DequantizeLinear nodes say how to read them, so onnxruntime may run the
 * layer in float or fuse it into integer kernels. Per dense layer i, x (batch, in) → (batch, out)
 * (a conv2d layer alike, x (batch, c, h, w), with Conv in place of Gemm and its weight
 * (out, in, kh, kw) dequantized per output channel along axis 0):
 *
 *   weights int8     W = DequantizeLinear("i.weight" int8 (out, in), "i.weight_scale" f32 (out),
 *                    "i.weight_zero_point" int8 (out) = 0, axis = 0): per output channel (opset ≥ 13)
 *   activations int8 x' = DequantizeLinear(QuantizeLinear(Clip(x, −127·s, 127·s), s, 0), s, 0)
 *                    with s = "i.input_scale" (f32 scalar) and zero point "i.input_zero_point" (int8 0)
 *   weights fp16     W as a float32 initializer (the values are exact halves: nothing is lost)
 *   then             Gemm(x', W, "i.bias", transB = 1), and the activation as the float export writes it
 *
 * Why the Clip: the library's quantize_i8 clamps to [−127, 127] (symmetric), ONNX's
 * QuantizeLinear saturates to [−128, 127]. The two differ only where x/s rounds below −127,
 * i.e. x/s < −127.5. Clipping x to fl(±127·s) first maps those to a quotient within a few
 * ulps of ±127, which rounds to ±127; values inside the range pass unchanged. So the codes
 * equal the library's for every finite x (both round half to even on the f32 quotient x/s).
 *
 * What can still differ: the library sums q_x·q_w exactly in int32 and multiplies once by
 * s_x·s_w[j]; the float graph sums (q_x·s_x)·(q_w·s_w[j]) in f32 (or onnxruntime's fused
 * integer kernels would sum exactly; onnxruntime-node's optimised graph keeps float Gemm here).
 * docs/api.md and test/export/export-qdq.test.ts state the bound.
 */
import { ArgumentError } from "../errors.js";
import { DISTILL_WASM_VERSION } from "../io/model-file.js";
import { taskMetadata } from "../nn/task.js";
import type { LayerSpec } from "../nn/layers/index.js";
import type { QuantizedConv, QuantizedDense, QuantizedNet, QuantizedPool } from "../quantize/net.js";
import { intAttribute, intsAttribute, type ModelProto, type TensorProto, type ValueInfoProto } from "./onnx-proto.js";
import { GraphBuilder, ONNX_WRITERS } from "./onnx-write.js";
import type { ExportLayer, SpecOf } from "./layers.js";

/** TensorProto.DataType.INT8 */
export const INT8 = 3;

function int8Tensor(name: string, dims: readonly number[], values: Int8Array): TensorProto {
  return { name, dims: [...dims], data_type: INT8, raw_data: new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength)) };
}

/** x fake-quantized to the layer's int8 input grid (Clip, QuantizeLinear, DequantizeLinear), or x itself for float activations. */
function quantizedInput(inputScale: number | undefined, i: number, x: string, g: GraphBuilder): string {
  if (inputScale === undefined) return x;
  const lo = g.scalar(`${i}.input_min`, Math.fround(-127 * inputScale));
  const hi = g.scalar(`${i}.input_max`, Math.fround(127 * inputScale));
  const scale = g.scalar(`${i}.input_scale`, inputScale);
  g.initializers.set(`${i}.input_zero_point`, int8Tensor(`${i}.input_zero_point`, [], new Int8Array(1)));
  const clipped = g.node("Clip", `${i}.input_clip`, [x, lo, hi], `${i}.input_clipped`);
  const q = g.node("QuantizeLinear", `${i}.input_quantize`, [clipped, scale, `${i}.input_zero_point`], `${i}.input_quantized`);
  return g.node("DequantizeLinear", `${i}.input_dequantize`, [q, scale, `${i}.input_zero_point`], `${i}.input_dequantized`);
}

/** The weight (dims: (out, in) or (out, in, kh, kw)): the int8 codes dequantized per output channel (axis 0), or the fp16 values as float32. */
function weightOf(l: QuantizedDense | QuantizedConv, i: number, dims: readonly number[], g: GraphBuilder): string {
  if (l.weight instanceof Float32Array) return g.initializer(`${i}.weight`, dims, l.weight);
  const channels = dims[0]!;
  g.initializers.set(`${i}.weight`, int8Tensor(`${i}.weight`, dims, l.weight));
  g.initializer(`${i}.weight_scale`, [channels], l.weightScale!);
  g.initializers.set(`${i}.weight_zero_point`, int8Tensor(`${i}.weight_zero_point`, [channels], new Int8Array(channels)));
  return g.node("DequantizeLinear", `${i}.weight_dequantize`, [`${i}.weight`, `${i}.weight_scale`, `${i}.weight_zero_point`], `${i}.weight_dequantized`, [
    intAttribute("axis", 0),
  ]);
}

/** One dense layer's nodes (see the module comment); returns the output's name. */
function dense(l: QuantizedDense, i: number, x: string, g: GraphBuilder): string {
  const weight = weightOf(l, i, [l.outputs, l.inputs], g);
  const input = quantizedInput(l.inputScale, i, x, g);
  const bias = g.initializer(`${i}.bias`, [l.outputs], l.bias);
  return g.node("Gemm", `${i}.gemm`, [input, weight, bias], `${i}.gemm`, [intAttribute("transB", 1)]);
}

/** One conv2d layer's nodes, x (batch, c, h, w) → (batch, out, oh, ow): the float export's Conv on the quantized input and weight. */
function conv(l: QuantizedConv, i: number, x: string, g: GraphBuilder): string {
  const [kh, kw] = l.kernel;
  const outChannels = l.outShape[0];
  const weight = weightOf(l, i, [outChannels, l.inShape[0], kh, kw], g);
  const input = quantizedInput(l.inputScale, i, x, g);
  const bias = g.initializer(`${i}.bias`, [outChannels], l.bias);
  const p = l.padding;
  return g.node("Conv", `${i}.conv`, [input, weight, bias], `${i}.conv`, [
    intsAttribute("kernel_shape", [kh, kw]),
    intsAttribute("strides", [l.stride, l.stride]),
    intsAttribute("pads", [p, p, p, p]),
    intsAttribute("dilations", [1, 1]),
    intAttribute("group", 1),
  ]);
}

/** Max or average pooling on the float values, as the float export writes it (average: padding counted). */
function pool(l: QuantizedPool, i: number, x: string, g: GraphBuilder): string {
  const p = l.padding;
  const attributes = [intsAttribute("kernel_shape", [l.kernel, l.kernel]), intsAttribute("strides", [l.stride, l.stride]), intsAttribute("pads", [p, p, p, p])];
  if (l.max) return g.node("MaxPool", `${i}.max_pool`, [x], `${i}.max_pool`, attributes);
  attributes.push(intAttribute("count_include_pad", 1));
  return g.node("AveragePool", `${i}.avg_pool`, [x], `${i}.avg_pool`, attributes);
}

/** The graph's nodes and initializers for the net; returns the name of the last tensor. */
function writeNet(net: QuantizedNet, x: string, g: GraphBuilder): string {
  net.layers.forEach((l, i) => {
    const spec = net.specs[i] as LayerSpec | undefined;
    if (l.type === "dense") x = dense(l, i, x, g);
    else if (l.type === "conv2d") x = conv(l, i, x, g);
    else if (l.type === "pool") x = pool(l, i, x, g);
    else if (l.type === "activation") {
      const layer = { index: i, spec: { type: "activation", name: l.name, slope: l.slope }, inShape: [], outShape: [], tensor: () => new Float32Array() };
      x = ONNX_WRITERS.activation!(layer as ExportLayer<SpecOf<"activation">>, x, g);
    } else if (spec?.type === "flatten") x = g.node("Flatten", `${i}.flatten`, [x], `${i}.flatten`, [intAttribute("axis", 1)]);
    else if (spec?.type !== "dropout" && spec?.type !== "batchNorm")
      // a batchNorm here was folded into the layer before it
      throw new ArgumentError(`toOnnx: layer ${i} of the quantized model is ${JSON.stringify(spec?.type)}, which toOnnx cannot write`);
  });
  return x;
}

/** The ModelProto of a quantized net (inputs, outputs and metadata as the float export's). */
export function quantizedModelProto(
  net: QuantizedNet,
  opset: number,
  irVersion: number,
  io: { input: ValueInfoProto[]; output: ValueInfoProto[] },
): ModelProto {
  const g = new GraphBuilder(opset);
  writeNet(net, "input", g);
  if (g.nodes.length === 0) g.node("Identity", "identity", ["input"], "logits");
  else g.nodes[g.nodes.length - 1]!.output = ["logits"];
  return {
    ir_version: irVersion,
    producer_name: "distill-wasm",
    producer_version: DISTILL_WASM_VERSION,
    doc_string: `${net.weights} weights, ${net.activations} activations: a quantized model exported by distill-wasm (QuantizeLinear/DequantizeLinear)`,
    opset_import: [{ domain: "", version: opset }],
    graph: { name: "distill_wasm", node: g.nodes, initializer: [...g.initializers.values()], input: io.input, output: io.output },
    metadata_props: [
      { key: "architecture", value: JSON.stringify(net.specs) },
      { key: "input_shape", value: JSON.stringify(net.inputShape) },
      { key: "quantization", value: JSON.stringify({ weights: net.weights, activations: net.activations }) },
      { key: "distill_wasm_version", value: DISTILL_WASM_VERSION },
      ...Object.entries(taskMetadata(net.task)).map(([key, value]) => ({ key, value })),
    ],
  };
}
