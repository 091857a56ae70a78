/**
 * A minimal ONNX writer: enough of the protobuf wire format and of onnx.proto (ModelProto,
 * GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto) to express a ReLU
 * MLP as Gemm + Relu nodes with its weights as initializers, so onnxruntime-web can run
 * the benchmarked model without a Python exporter.
 *
 * Wire format: each field is a key varint (field number << 3 | wire type) followed by a
 * varint (wire type 0) or a length-delimited payload (wire type 2: strings, bytes,
 * embedded messages). Field numbers are those of onnx/onnx.proto (IR version 8).
 */
import type { MlpParams } from "./mlp.js";

// ---------------------------------------------------------------- protobuf

type Bytes = number[];

function varint(value: number | bigint): Bytes {
  let v = BigInt(value);
  if (v < 0n) v += 1n << 64n; // negative int64: two's complement, 10 bytes
  const out: Bytes = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    out.push(byte);
  } while (v !== 0n);
  return out;
}

const key = (field: number, wire: 0 | 2): Bytes => varint((field << 3) | wire);
/** A varint field (int32, int64, enum). */
const int = (field: number, value: number): Bytes => [...key(field, 0), ...varint(value)];
/** A length-delimited field: bytes or an embedded message. */
function bytes(field: number, payload: Bytes | Uint8Array): Bytes {
  const out = [...key(field, 2), ...varint(payload.length)];
  for (let i = 0; i < payload.length; i++) out.push(payload[i]!);
  return out;
}
const str = (field: number, s: string): Bytes => bytes(field, new TextEncoder().encode(s));

// ---------------------------------------------------------------- onnx.proto

/** TensorProto.DataType.FLOAT; AttributeProto.AttributeType.INT */
const FLOAT = 1;
const ATTR_INT = 2;

/** AttributeProto { name = 1, i = 3, type = 20 } */
const intAttribute = (name: string, value: number): Bytes => [...str(1, name), ...int(3, value), ...int(20, ATTR_INT)];

/** NodeProto { input = 1, output = 2, name = 3, op_type = 4, attribute = 5 } */
function node(opType: string, name: string, inputs: string[], outputs: string[], attributes: Bytes[] = []): Bytes {
  return [
    ...inputs.flatMap((i) => str(1, i)),
    ...outputs.flatMap((o) => str(2, o)),
    ...str(3, name),
    ...str(4, opType),
    ...attributes.flatMap((a) => bytes(5, a)),
  ];
}

/** TensorProto { dims = 1, data_type = 2, name = 8, raw_data = 9 (little-endian float32) } */
function floatTensor(name: string, dims: number[], values: Float32Array): Bytes {
  const raw = new Uint8Array(values.length * 4);
  const view = new DataView(raw.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return [...dims.flatMap((d) => int(1, d)), ...int(2, FLOAT), ...str(8, name), ...bytes(9, raw)];
}

/**
 * ValueInfoProto { name = 1, type = 2: TypeProto { tensor_type = 1: { elem_type = 1,
 * shape = 2: TensorShapeProto { dim = 1: { dim_value = 1 | dim_param = 2 } } } } }
 */
function floatValueInfo(name: string, dims: (number | string)[]): Bytes {
  const shape = dims.flatMap((d) => bytes(1, typeof d === "number" ? int(1, d) : str(2, d)));
  const tensorType = [...int(1, FLOAT), ...bytes(2, shape)];
  return [...str(1, name), ...bytes(2, bytes(1, tensorType))];
}

/**
 * The MLP as an ONNX model: input "x" (batch, inputs), output "logits" (batch, classes);
 * layer i is Gemm(h, W_i, b_i, transB = 1) (W in PyTorch's (out, in) layout, as
 * torch.onnx exports nn.Linear) followed by Relu except after the last layer.
 *
 * ModelProto { ir_version = 1, producer_name = 2, graph = 7, opset_import = 8 };
 * GraphProto { node = 1, name = 2, initializer = 5, input = 11, output = 12 };
 * OperatorSetIdProto { domain = 1, version = 2 }.
 */
export function mlpOnnxModel(params: MlpParams, opset = 13): Uint8Array {
  const nodes: Bytes[] = [];
  const initializers: Bytes[] = [];
  let h = "x";
  params.forEach((p, i) => {
    const w = `layer${i}.weight`;
    const b = `layer${i}.bias`;
    initializers.push(floatTensor(w, [p.outputs, p.inputs], p.weight), floatTensor(b, [p.outputs], p.bias));
    const last = i === params.length - 1;
    const z = last ? "logits" : `z${i}`;
    nodes.push(node("Gemm", `gemm${i}`, [h, w, b], [z], [intAttribute("transB", 1)]));
    if (!last) {
      nodes.push(node("Relu", `relu${i}`, [z], [`h${i}`]));
      h = `h${i}`;
    }
  });
  const graph = [
    ...nodes.flatMap((n) => bytes(1, n)),
    ...str(2, "mlp"),
    ...initializers.flatMap((t) => bytes(5, t)),
    ...bytes(11, floatValueInfo("x", ["batch", params[0]!.inputs])),
    ...bytes(12, floatValueInfo("logits", ["batch", params[params.length - 1]!.outputs])),
  ];
  return new Uint8Array([...int(1, 8), ...str(2, "distill-wasm bench"), ...bytes(7, graph), ...bytes(8, [...str(1, ""), ...int(2, opset)])]);
}
