/**
 * The safetensors format (https://github.com/huggingface/safetensors):
 *
 *   bytes 0–7      N, the header length: unsigned 64-bit little-endian
 *   bytes 8…8+N    the header: UTF-8 JSON object
 *                    { "<name>": { "dtype": "F32", "shape": [out, in], "data_offsets": [begin, end] },
 *                      …,
 *                      "__metadata__": { "<key>": "<string value>", … } }   (optional)
 *   then           the data buffer; each tensor's bytes are [begin, end) relative to its
 *                  start, row-major, little-endian
 *
 * Decoding follows the reference implementation's rules, so a file accepted here is one
 * it accepts too: the tensors must tile the data buffer exactly — no overlaps, no gaps
 * between tensors and no trailing bytes after the last one — and every tensor's byte
 * range must equal product(shape) × dtype size. Every violation is a FormatError naming
 * the tensor, found before any tensor data is allocated, so a file never makes the
 * decoder allocate more than it holds (F16 / BF16 converted to f32 take twice their bytes).
 * Duplicate JSON keys are resolved as JSON.parse does (the last wins); the leftover
 * range of a dropped duplicate then shows up as a gap. Unknown fields of a tensor entry
 * are ignored.
 *
 * Limits, checked before the header is decoded, so that a hostile header costs neither
 * time nor memory (decoding a 99 MB header takes 11 s and 2 GB; 5,000 nested brackets
 * overflow JSON.parse's stack):
 *   MAX_HEADER_BYTES   4 MiB. A tensor takes 100–150 bytes of header: its PyTorch name,
 *                      dtype, shape and two offsets of up to 11 digits;
 *                      `"model.layers.31.self_attn.q_proj.weight":{"dtype":"BF16",
 *                      "shape":[4096,4096],"data_offsets":[12345678901,12345678901]},`
 *                      is 120 bytes. 4 MiB holds some 28,000 tensors at 150 bytes each:
 *                      ten times the ~2,500 of a whole single-file Stable Diffusion XL
 *                      checkpoint, and far more than a sharded model puts in one file.
 *                      The reference implementation allows 100 MB; a header between the
 *                      two is refused here. The slowest 4 MiB headers (70,000 empty
 *                      tensors, or 260,000 metadata keys) take about a second to decode.
 *   MAX_HEADER_DEPTH   4 levels of objects and arrays. The format needs 3 (the header
 *                      object, a tensor entry, its shape array); one more leaves room for
 *                      an unknown field holding an array.
 */
import { ArgumentError, FormatError } from "../errors.js";

/** Element types this module reads. F8 and sub-byte types are recognised but not supported. */
export type SafetensorsDtype = "BOOL" | "U8" | "I8" | "U16" | "I16" | "F16" | "BF16" | "U32" | "I32" | "F32" | "F64" | "U64" | "I64";

/** Float tensors decode to Float32Array (F64, F16, BF16 converted); integers keep their type; BOOL is Uint8Array. */
export type SafetensorsData = Float32Array | Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | BigUint64Array | BigInt64Array;

export interface SafetensorsTensor {
  /** The dtype stored in the file (the data may have been converted: see SafetensorsData). */
  dtype: SafetensorsDtype;
  shape: number[];
  /** product(shape) values, row-major. */
  data: SafetensorsData;
}

export interface SafetensorsFile {
  /** The tensors in the order of their data in the file. */
  tensors: Map<string, SafetensorsTensor>;
  /** `__metadata__` (an empty object when the file has none). */
  metadata: Record<string, string>;
}

/** A tensor to write: data holds product(shape) values, row-major. */
export interface TensorToEncode {
  name: string;
  shape: readonly number[];
  data: Float32Array | Float64Array | Int32Array | Uint8Array | Int8Array | Uint16Array;
  /** "F16" with a Uint16Array of half-precision bits; otherwise the dtype follows the array type. */
  dtype?: "F16";
}

const SIZES: Record<SafetensorsDtype, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  U16: 2,
  I16: 2,
  F16: 2,
  BF16: 2,
  U32: 4,
  I32: 4,
  F32: 4,
  F64: 8,
  U64: 8,
  I64: 8,
};
const UNSUPPORTED = ["F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "C64"];
/** Longest header this module decodes, in bytes (the reference implementation's limit is 100 MB; see the module comment). */
export const MAX_HEADER_BYTES = 4 * 2 ** 20;
/** Deepest nesting of objects and arrays a header may have (the format needs 3; see the module comment). */
export const MAX_HEADER_DEPTH = 4;
const METADATA_KEY = "__metadata__";
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// ---------------------------------------------------------------- decoding

/**
 * Parses safetensors bytes; `name` labels error messages (e.g. the file name). Each tensor's
 * data is a copy, unless `copy` is false: then a tensor stored as the array type it decodes
 * to (F32, I32, …, on a little-endian host, at an offset aligned for it) is a view into
 * `bytes`, valid while they are (a model loader that copies the weights on at once saves a
 * copy of the whole file).
 */
export function decodeSafetensors(bytes: Uint8Array, name = "safetensors data", { copy = true }: { copy?: boolean } = {}): SafetensorsFile {
  if (!(bytes instanceof Uint8Array)) {
    throw new ArgumentError(`decodeSafetensors: bytes must be a Uint8Array; got ${bytes === null ? "null" : typeof bytes}`);
  }
  const fail = (problem: string) => new FormatError(`${name}: ${problem}`);
  if (bytes.length < 8) throw fail(`truncated: ${bytes.length} bytes, but the header length alone takes 8`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32; // exact below 2^53, which is all that matters
  if (headerLength > bytes.length - 8) {
    throw fail(`header length ${headerLength} is larger than the file (${bytes.length - 8} bytes after the length field; truncated?)`);
  }
  if (headerLength > MAX_HEADER_BYTES) {
    throw fail(
      `header length ${headerLength} exceeds the limit of this reader, ${MAX_HEADER_BYTES} bytes (4 MiB); ` +
        "real model files need about 150 bytes per tensor",
    );
  }
  const header = parseHeader(bytes.subarray(8, 8 + headerLength), fail);
  const bufferStart = 8 + headerLength;
  const bufferLength = bytes.length - bufferStart;

  const entries: { name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number }[] = [];
  let metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(header)) {
    if (key === METADATA_KEY) metadata = parseMetadata(value, fail);
    else entries.push({ name: key, ...parseEntry(key, value, bufferLength, fail) });
  }

  // The tensors must tile [0, bufferLength) exactly.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  let previous = "";
  for (const e of entries) {
    if (e.begin < expected) {
      throw fail(`tensor ${quoteInput(e.name)} (bytes ${e.begin}–${e.end}) overlaps tensor ${quoteInput(previous)} (which ends at ${expected})`);
    }
    if (e.begin > expected) {
      throw fail(`gap in the data buffer: bytes ${expected}–${e.begin} before tensor ${quoteInput(e.name)} belong to no tensor`);
    }
    expected = e.end;
    previous = e.name;
  }
  if (expected !== bufferLength) {
    throw fail(`${bufferLength - expected} trailing bytes after the last tensor's data (the tensors cover ${expected} of ${bufferLength} data bytes)`);
  }

  const tensors = new Map<string, SafetensorsTensor>();
  for (const e of entries) {
    const data = decodeData(e.dtype, bytes, bufferStart + e.begin, bufferStart + e.end, copy);
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data });
  }
  return { tensors, metadata };
}

function parseHeader(raw: Uint8Array, fail: (p: string) => FormatError): Record<string, unknown> {
  const depth = nestingDepth(raw);
  if (depth > MAX_HEADER_DEPTH) {
    throw fail(`the header nests objects and arrays ${depth} levels deep; a safetensors header needs 3, and this reader accepts at most ${MAX_HEADER_DEPTH}`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(raw);
  } catch {
    throw fail("the header is not valid UTF-8");
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (cause) {
    throw fail(`the header is not valid JSON (${(cause as Error)?.message ?? String(cause)})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw fail(`the header must be a JSON object of tensors; got ${header === null ? "null" : Array.isArray(header) ? "an array" : typeof header}`);
  }
  return header as Record<string, unknown>;
}

/**
 * The deepest nesting of JSON objects and arrays in `raw` (UTF-8), by one linear scan that
 * counts brackets outside strings, so that JSON.parse never recurses deeper than this.
 * Works on bytes: quotes, backslashes and brackets are ASCII, never part of a multi-byte
 * character. On invalid JSON the count may be off, but never below what JSON.parse
 * reaches before it finds the error (up to there the scan reads strings as JSON does).
 */
function nestingDepth(raw: Uint8Array): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!;
    if (inString) {
      if (b === 0x5c)
        i++; // a backslash escapes the next byte (of \", \\, \u…)
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) inString = true;
    else if (b === 0x7b || b === 0x5b)
      deepest = Math.max(deepest, ++depth); // { [
    else if (b === 0x7d || b === 0x5d) depth--; // } ]
  }
  return deepest;
}

function parseMetadata(value: unknown, fail: (p: string) => FormatError): Record<string, string> {
  if (value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) throw fail(`${METADATA_KEY} must be an object of strings; got ${describeJson(value)}`);
  const entries = Object.entries(value as Record<string, unknown>);
  for (const [k, v] of entries) {
    if (typeof v !== "string") throw fail(`${METADATA_KEY}[${quoteInput(k)}] must be a string; got ${describeJson(v)}`);
  }
  return Object.fromEntries(entries) as Record<string, string>; // fromEntries: a "__proto__" key stays a plain key
}

function parseEntry(
  name: string,
  value: unknown,
  bufferLength: number,
  fail: (p: string) => FormatError,
): { dtype: SafetensorsDtype; shape: number[]; begin: number; end: number } {
  const where = `tensor ${quoteInput(name)}`;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw fail(`${where} must be an object { dtype, shape, data_offsets }; got ${describeJson(value)}`);
  }
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (typeof dtype !== "string" || !Object.hasOwn(SIZES, dtype)) {
    const known = typeof dtype === "string" && UNSUPPORTED.includes(dtype);
    throw fail(`${where} has ${known ? "unsupported" : "unknown"} dtype ${describeJson(dtype)}; expected one of ${Object.keys(SIZES).join(", ")}`);
  }
  const size = SIZES[dtype as SafetensorsDtype];
  if (!Array.isArray(shape)) throw fail(`${where}: shape must be an array of sizes; got ${describeJson(shape)}`);
  let count = 1;
  for (const [i, d] of shape.entries()) {
    if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0) {
      throw fail(`${where}: shape[${i}] = ${describeJson(d)} is not a size (an integer ≥ 0)`);
    }
  }
  if (!shape.includes(0)) {
    for (const d of shape as number[]) {
      count *= d;
      if (count * size > bufferLength) {
        throw fail(`${where}: shape [${clipList(shape, "dimensions")}] of ${dtype} needs more bytes than the data buffer holds (${bufferLength})`);
      }
    }
  } else count = 0;
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => typeof o === "number" && Number.isSafeInteger(o) && o >= 0)) {
    throw fail(`${where}: data_offsets must be [begin, end], two integers ≥ 0; got ${describeJson(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw fail(`${where}: data_offsets [${begin}, ${end}] end before they begin`);
  if (end > bufferLength) throw fail(`${where}: data_offsets [${begin}, ${end}] run past the end of the data buffer (${bufferLength} bytes; truncated?)`);
  if (end - begin !== count * size) {
    throw fail(
      `${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes, but shape [${clipList(shape, "dimensions")}] of ${dtype} needs ${count * size}`,
    );
  }
  return { dtype: dtype as SafetensorsDtype, shape: shape as number[], begin, end };
}

/** A JSON value for an error message, cut like clipInput. */
function describeJson(v: unknown): string {
  return clipInput(JSON.stringify(v) ?? String(v));
}

// ---------------------------------------------------------------- quoting input in messages
// Shared by the file readers (npy, CSV): an error message quotes at most a short prefix of
// anything read from a file or passed by the caller, so that a hostile input cannot make
// a message megabytes long.

/** Characters of an input an error message quotes; the rest is summarised by its length. */
const QUOTED_CHARS = 40;
/** Items of a list (a shape, column names) an error message shows. */
const LISTED_ITEMS = 8;

/** `text` as is, or its first 40 characters, "…" and its length: `1000000000… (1000000 characters)`. */
export function clipInput(text: string): string {
  return text.length <= QUOTED_CHARS ? text : `${text.slice(0, QUOTED_CHARS)}… (${text.length} characters)`;
}

/** `text` JSON-quoted, cut like clipInput: `"abc"`, or `"abcd…"… (1000000 characters)`. */
export function quoteInput(text: string): string {
  return text.length <= QUOTED_CHARS ? JSON.stringify(text) : `${JSON.stringify(text.slice(0, QUOTED_CHARS))}… (${text.length} characters)`;
}

/** The first 8 items joined by ", ", then "…" and the count: `1, 1, 1, 1, 1, 1, 1, 1, … (5000 dimensions)`. */
export function clipList(items: readonly unknown[], what: string): string {
  if (items.length <= LISTED_ITEMS) return items.join(", ");
  return `${items.slice(0, LISTED_ITEMS).join(", ")}, … (${items.length} ${what})`;
}

/** Copies bytes [start, end) into a new, aligned ArrayBuffer. */
function copyBytes(bytes: Uint8Array, start: number, end: number): ArrayBuffer {
  const out = new Uint8Array(end - start);
  out.set(bytes.subarray(start, end));
  return out.buffer;
}

/** Little-endian elements of [start, end) as a typed array (floats as f32). */
function decodeData(dtype: SafetensorsDtype, bytes: Uint8Array, start: number, end: number, copy: boolean): SafetensorsData {
  const size = SIZES[dtype];
  const n = (end - start) / size;
  const view = new DataView(bytes.buffer, bytes.byteOffset + start, end - start);
  switch (dtype) {
    case "BOOL":
    case "U8":
      return new Uint8Array(copyBytes(bytes, start, end));
    case "I8":
      return new Int8Array(copyBytes(bytes, start, end));
    case "F16":
    case "BF16": {
      const out = new Float32Array(n);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) {
        const h = view.getUint16(2 * i, true);
        bits[i] = dtype === "F16" ? f16ToF32Bits(h) : h << 16;
      }
      return out;
    }
    case "F64": {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(8 * i, true);
      return out;
    }
    default: {
      if (LITTLE_ENDIAN_HOST) {
        const Ctor = { U16: Uint16Array, I16: Int16Array, U32: Uint32Array, I32: Int32Array, F32: Float32Array, U64: BigUint64Array, I64: BigInt64Array }[
          dtype
        ];
        const at = bytes.byteOffset + start;
        if (!copy && at % Ctor.BYTES_PER_ELEMENT === 0) return new Ctor(bytes.buffer as ArrayBuffer, at, n);
        return new Ctor(copyBytes(bytes, start, end));
      }
      return decodeBigEndianHost(dtype, view, n);
    }
  }
}

function decodeBigEndianHost(dtype: "U16" | "I16" | "U32" | "I32" | "F32" | "U64" | "I64", view: DataView, n: number): SafetensorsData {
  if (dtype === "U64") return BigUint64Array.from({ length: n }, (_, i) => view.getBigUint64(8 * i, true));
  if (dtype === "I64") return BigInt64Array.from({ length: n }, (_, i) => view.getBigInt64(8 * i, true));
  const kinds = {
    U16: [Uint16Array, (i: number) => view.getUint16(2 * i, true)],
    I16: [Int16Array, (i: number) => view.getInt16(2 * i, true)],
    U32: [Uint32Array, (i: number) => view.getUint32(4 * i, true)],
    I32: [Int32Array, (i: number) => view.getInt32(4 * i, true)],
    F32: [Float32Array, (i: number) => view.getFloat32(4 * i, true)],
  } as const;
  const [Ctor, get] = kinds[dtype];
  const out = new Ctor(n);
  for (let i = 0; i < n; i++) out[i] = get(i);
  return out;
}

/**
 * IEEE half (1 sign, 5 exponent, 10 mantissa bits) → the bits of the equal float32.
 * Exact: every half value is a float32. Subnormal halves are renormalised.
 */
export function f16ToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exponent = (h >> 10) & 0x1f;
  let mantissa = h & 0x3ff;
  if (exponent === 0x1f) return (sign | 0x7f800000 | (mantissa << 13)) >>> 0; // ±Inf, NaN (payload kept)
  if (exponent !== 0) return (sign | ((exponent + 112) << 23) | (mantissa << 13)) >>> 0; // rebias 15 → 127
  if (mantissa === 0) return sign >>> 0; // ±0
  let shift = 0;
  while ((mantissa & 0x400) === 0) {
    mantissa <<= 1;
    shift++;
  }
  return (sign | ((113 - shift) << 23) | ((mantissa & 0x3ff) << 13)) >>> 0;
}

// ---------------------------------------------------------------- encoding

/** Byte-wise UTF-8 order (= code point order), as the reference implementation sorts names. */
function codePointOrder(a: string, b: string): number {
  const x = [...a].map((c) => c.codePointAt(0)!);
  const y = [...b].map((c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

function dtypeOf(data: unknown): "F32" | "F64" | "I32" | "U8" | "I8" | undefined {
  if (data instanceof Float32Array) return "F32";
  if (data instanceof Int8Array) return "I8";
  if (data instanceof Float64Array) return "F64";
  if (data instanceof Int32Array) return "I32";
  if (data instanceof Uint8Array) return "U8";
  return undefined;
}

/**
 * Writes tensors and string metadata as safetensors bytes: the header lists
 * `__metadata__` first (keys sorted), then the tensors sorted by name, whose data follow
 * in the same order, contiguous; the header is padded with spaces to a multiple of 8
 * bytes. The same input always gives the same bytes.
 */
export function encodeSafetensors(tensors: readonly TensorToEncode[], metadata: Record<string, string> = {}): Uint8Array {
  const op = "encodeSafetensors";
  if (!Array.isArray(tensors)) throw new ArgumentError(`${op}: tensors must be an array of { name, shape, data }`);
  if (typeof metadata !== "object" || metadata === null) throw new ArgumentError(`${op}: metadata must be an object of strings`);
  const seen = new Set<string>();
  const items = tensors.map((t, i) => {
    const name = t?.name;
    if (typeof name !== "string" || name === METADATA_KEY) {
      throw new ArgumentError(
        `${op}: tensors[${i}].name must be a string other than ${METADATA_KEY}; got ${typeof name === "string" ? quoteInput(name) : describeJson(name)}`,
      );
    }
    if (seen.has(name)) throw new ArgumentError(`${op}: two tensors are named ${quoteInput(name)}`);
    seen.add(name);
    const dtype = t.dtype === "F16" && t.data instanceof Uint16Array ? "F16" : t.data instanceof Uint16Array ? undefined : dtypeOf(t.data);
    if (!dtype)
      throw new ArgumentError(
        `${op}: ${clipInput(name)}: data must be a Float32Array, Float64Array, Int32Array, Uint8Array or Int8Array (or a Uint16Array with dtype "F16")`,
      );
    const shape: readonly number[] = t.shape;
    if (!Array.isArray(shape) || !shape.every((d: unknown) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      throw new ArgumentError(`${op}: ${clipInput(name)}: shape must be an array of integers ≥ 0; got ${describeJson(shape)}`);
    }
    const count = shape.reduce((a: number, b: number) => a * b, 1);
    if (count !== t.data.length) {
      throw new ArgumentError(`${op}: ${clipInput(name)}: shape [${clipList(shape, "dimensions")}] holds ${count} values but data has ${t.data.length}`);
    }
    return { name, dtype, shape: [...shape], data: t.data };
  });
  items.sort((a, b) => codePointOrder(a.name, b.name));

  const keys = Object.keys(metadata).sort(codePointOrder);
  for (const k of keys) {
    if (typeof metadata[k] !== "string") throw new ArgumentError(`${op}: metadata[${quoteInput(k)}] must be a string; got ${typeof metadata[k]}`);
  }
  // Built as text so that the key order is exactly this one (JS objects put integer-like keys first).
  const parts: string[] = [];
  if (keys.length > 0) {
    parts.push(`"${METADATA_KEY}":{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`).join(",")}}`);
  }
  let offset = 0;
  for (const t of items) {
    const end = offset + t.data.byteLength;
    parts.push(`${JSON.stringify(t.name)}:${JSON.stringify({ dtype: t.dtype, shape: t.shape, data_offsets: [offset, end] })}`);
    offset = end;
  }
  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLength % 2 ** 32, true);
  view.setUint32(4, Math.floor(headerLength / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const t of items) {
    if (LITTLE_ENDIAN_HOST) out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    else {
      for (let i = 0; i < t.data.length; i++) {
        const v = t.data[i]!;
        if (t.dtype === "F32") view.setFloat32(at + 4 * i, v, true);
        else if (t.dtype === "F64") view.setFloat64(at + 8 * i, v, true);
        else if (t.dtype === "I32") view.setInt32(at + 4 * i, v, true);
        else if (t.dtype === "F16") view.setUint16(at + 2 * i, v, true);
        else out[at + i] = v;
      }
    }
    at += t.data.byteLength;
  }
  return out;
}
