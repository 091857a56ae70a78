/**
 * ONNX messages ⇄ bytes, through protobufjs and the ONNX schema (./onnx-schema.ts).
 *
 * Why protobufjs: it is the protobuf library of the JavaScript ecosystem that ONNX tools
 * already use (onnxruntime-web depends on it), it is maintained, has no native code and
 * runs unchanged in Node, Deno, Bun and browsers, and it reads a `.proto` schema at run time,
 * so the official onnx.proto is the one source of the field numbers and types: no code
 * generation step, no hand-written wire format. It is reached only through the
 * `distill-wasm/export` subpath, never from the package's main entry.
 *
 * Messages are plain objects with the schema's snake_case field names (`op_type`,
 * `raw_data`); int64 fields are numbers (every value here is far below 2^53).
 */
import protobuf from "protobufjs";
import type { Message, Type } from "protobufjs";
import { FormatError } from "../errors.js";
import { ONNX_PROTO } from "./onnx-schema.js";

/** TensorProto.DataType.FLOAT */
export const FLOAT = 1;
/** TensorProto.DataType.INT64 (the token ids Gather takes, and the axes of ReduceSum and Unsqueeze) */
export const INT64 = 7;
/** AttributeProto.AttributeType values used here */
export const ATTRIBUTE = { FLOAT: 1, INT: 2, STRING: 3, INTS: 7 } as const;

export interface AttributeProto {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  ints?: number[];
}

export interface TensorProto {
  name: string;
  dims: number[];
  data_type: number;
  raw_data?: Uint8Array;
  float_data?: number[];
  /** 1 = EXTERNAL (data in another file) */
  data_location?: number;
}

export interface NodeProto {
  name?: string;
  op_type: string;
  domain?: string;
  input: string[];
  output: string[];
  attribute?: AttributeProto[];
}

export interface DimensionProto {
  dim_value?: number;
  dim_param?: string;
}

export interface ValueInfoProto {
  name: string;
  type?: { tensor_type?: { elem_type?: number; shape?: { dim?: DimensionProto[] } } };
}

export interface GraphProto {
  name?: string;
  node?: NodeProto[];
  initializer?: TensorProto[];
  input?: ValueInfoProto[];
  output?: ValueInfoProto[];
  doc_string?: string;
}

export interface ModelProto {
  ir_version?: number;
  producer_name?: string;
  producer_version?: string;
  doc_string?: string;
  graph?: GraphProto;
  opset_import?: { domain?: string; version?: number }[];
  metadata_props?: { key?: string; value?: string }[];
}

let modelType: Type | undefined;

/** onnx.ModelProto, parsed from the schema on first use. */
function modelProto(): Type {
  modelType ??= protobuf.parse(ONNX_PROTO, { keepCase: true }).root.lookupType("onnx.ModelProto");
  return modelType;
}

export function encodeModel(model: ModelProto): Uint8Array {
  const type = modelProto();
  const bytes = type.encode(type.fromObject(model as unknown as Record<string, unknown>)).finish();
  // A plain Uint8Array (protobufjs returns a Buffer in Node), exactly as long as the message.
  return new Uint8Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** The message in `bytes`, or a FormatError naming `name` when they are not a ModelProto. */
export function decodeModel(bytes: Uint8Array, name: string): ModelProto {
  const type = modelProto();
  let message: Message;
  try {
    message = type.decode(bytes);
  } catch (cause) {
    throw new FormatError(`${name}: not an ONNX model (${(cause as Error).message ?? String(cause)})`);
  }
  return type.toObject(message, { longs: Number, enums: Number, bytes: Uint8Array, arrays: false, defaults: false }) as ModelProto;
}

// ---------------------------------------------------------------- tensors and attributes

/** A float32 tensor with its values as little-endian raw_data (ONNX's byte order on every host). */
export function floatTensor(name: string, dims: readonly number[], values: ArrayLike<number>): TensorProto {
  const raw = new Uint8Array(values.length * 4);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
  return { name, dims: [...dims], data_type: FLOAT, raw_data: raw };
}

/** An int64 tensor with its values as little-endian raw_data. */
export function int64Tensor(name: string, dims: readonly number[], values: readonly number[]): TensorProto {
  const raw = new Uint8Array(values.length * 8);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < values.length; i++) view.setBigInt64(i * 8, BigInt(values[i]!), true);
  return { name, dims: [...dims], data_type: INT64, raw_data: raw };
}

/** The values of a float32 tensor (raw_data or float_data), or a FormatError naming it. */
export function tensorValues(t: TensorProto, where: string): Float32Array {
  const what = `${where}: initializer ${JSON.stringify(t.name)}`;
  if (t.data_location === 1) throw new FormatError(`${what} keeps its data in an external file; only models with their weights inside are read`);
  if (t.data_type !== FLOAT) throw new FormatError(`${what} has data type ${t.data_type ?? "unset"}; only float32 (1) tensors are read`);
  const count = (t.dims ?? []).reduce((a, b) => a * b, 1);
  if (t.raw_data && t.raw_data.length > 0) {
    if (t.raw_data.length !== count * 4)
      throw new FormatError(`${what} holds ${t.raw_data.length} bytes; its shape [${(t.dims ?? []).join(", ")}] needs ${count * 4}`);
    const view = new DataView(t.raw_data.buffer, t.raw_data.byteOffset, t.raw_data.byteLength);
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
    return out;
  }
  const data = t.float_data ?? [];
  if (data.length !== count) throw new FormatError(`${what} holds ${data.length} values; its shape [${(t.dims ?? []).join(", ")}] needs ${count}`);
  return Float32Array.from(data);
}

export const intAttribute = (name: string, i: number): AttributeProto => ({ name, type: ATTRIBUTE.INT, i });
export const intsAttribute = (name: string, ints: readonly number[]): AttributeProto => ({ name, type: ATTRIBUTE.INTS, ints: [...ints] });
export const floatAttribute = (name: string, f: number): AttributeProto => ({ name, type: ATTRIBUTE.FLOAT, f });
export const stringAttribute = (name: string, s: string): AttributeProto => ({ name, type: ATTRIBUTE.STRING, s: new TextEncoder().encode(s) });
