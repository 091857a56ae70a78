/**
 * NumPy's .npy format (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
 *
 *   bytes 0–5    "\x93NUMPY"
 *   bytes 6–7    version: major (1, 2 or 3), minor (0)
 *   then         header length H: u16 little-endian (v1.0) or u32 (v2.0, v3.0)
 *   then         H bytes of header: a Python dict literal, ASCII (v3.0: UTF-8), e.g.
 *                  {'descr': '<f4', 'fortran_order': False, 'shape': (60000, 10), }
 *                padded with spaces and ending in "\n"
 *   then         product(shape) elements in C (row-major) order
 *
 * The header is parsed by a small strict grammar (never evaluated): a dict of exactly the
 * keys descr, fortran_order and shape, with string / True / False / tuple-of-int values,
 * as NumPy writes them. `descr` is a byte order (`<` little, `>` big, `|` not applicable:
 * one-byte types only) and one of b1 i1 i2 i4 i8 u1 u2 u4 u8 f2 f4 f8. Fortran-order
 * arrays, structured and other dtypes, and data shorter or longer than the shape says are
 * FormatErrors, detected before anything is allocated for the data.
 *
 * Headers longer than MAX_HEADER_BYTES = 10,000 bytes are refused before they are decoded,
 * as NumPy's own reader does by default (`_MAX_HEADER_SIZE` in numpy/lib/format.py, the
 * default of np.load's max_header_size): np.save writes about 128 bytes for any array of
 * a supported dtype, while decoding a hostile 100 MB header takes 20 s and gigabytes.
 */
import { ArgumentError, FormatError, ShapeError } from "../errors.js";
import { readBytes, type PathOrUrl } from "../runtime/files.js";
import { requireFinite } from "../validate.js";
import { clipInput, clipList, f16ToF32Bits, quoteInput } from "./safetensors.js";

export type NpyDtype = "b1" | "i1" | "i2" | "i4" | "i8" | "u1" | "u2" | "u4" | "u8" | "f2" | "f4" | "f8";
/** f2 is converted to Float32Array; b1 is a Uint8Array of 0 / 1. */
export type NpyData =
  Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array | Uint32Array | BigUint64Array;

export interface NpyArray {
  dtype: NpyDtype;
  /** [] for a scalar (one element). */
  shape: number[];
  /** product(shape) elements, row-major, in the host's byte order. */
  data: NpyData;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const DTYPES: readonly NpyDtype[] = ["b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8"];
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** Longest header read or written, in bytes: NumPy's default limit (see the module comment). */
export const MAX_HEADER_BYTES = 10_000;

// ---------------------------------------------------------------- parsing

/** Where an .npy file's data lies and how it is laid out (its header, checked against the file's size). */
export interface NpyLayout {
  dtype: NpyDtype;
  littleEndian: boolean;
  shape: number[];
  /** Byte offset of the first element. */
  dataStart: number;
  /** product(shape) elements. */
  count: number;
}

/**
 * The layout of an .npy file from its first bytes (`bytes`, at least the whole header) and
 * its size in bytes (`fileBytes`); `name` labels error messages (e.g. the file name).
 */
export function parseNpyLayout(bytes: Uint8Array, fileBytes: number, name = "npy data"): NpyLayout {
  const fail = (problem: string) => new FormatError(`${name}: ${problem}`);
  if (fileBytes < 10) throw fail(`truncated: ${fileBytes} bytes, but the .npy preamble alone has at least 10`);
  if (!MAGIC.every((b, i) => bytes[i] === b)) throw fail("bad magic string; a .npy file starts with \\x93NUMPY");
  const major = bytes[6]!;
  const minor = bytes[7]!;
  if (![1, 2, 3].includes(major) || minor !== 0) throw fail(`unsupported format version ${major}.${minor}; expected 1.0, 2.0 or 3.0`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lengthSize = major === 1 ? 2 : 4;
  if (fileBytes < 8 + lengthSize) throw fail(`truncated: ${fileBytes} bytes, but a version ${major}.0 preamble has ${8 + lengthSize}`);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = 8 + lengthSize + headerLength;
  if (dataStart > fileBytes) {
    throw fail(`header length ${headerLength} runs past the end of the file (${fileBytes} bytes; truncated?)`);
  }
  if (headerLength > MAX_HEADER_BYTES) {
    throw fail(`header length ${headerLength} exceeds ${MAX_HEADER_BYTES} bytes, the limit NumPy also reads by default (max_header_size)`);
  }
  const header = parseHeader(decodeHeader(bytes.subarray(8 + lengthSize, dataStart), major, fail), fail);
  const { dtype, littleEndian } = parseDescr(header.descr, fail);
  if (header.fortran_order) {
    throw fail("the array is in Fortran (column-major) order, which is not supported; save it with np.ascontiguousarray(a) first");
  }
  const size = Number(dtype[1]);
  const found = fileBytes - dataStart;
  const shape = header.shape;
  let count = 1;
  if (!shape.includes(0)) {
    for (const d of shape) {
      count *= d;
      if (count * size > found) break; // too large for the file (and maybe for any number): reported below
    }
  } else count = 0;
  if (count * size !== found) {
    const needed = count * size > found ? (Number.isSafeInteger(count * size) ? `${count * size}` : "more") : `${count * size}`;
    throw fail(
      `shape (${clipList(shape, "dimensions")}) of ${dtype} needs ${needed} data bytes, but the file has ${found}` +
        (count * size > found ? " (truncated?)" : " (trailing bytes)"),
    );
  }
  return { dtype, littleEndian, shape, dataStart, count };
}

/** Elements `first … first + count` of an array laid out as `layout`, decoded from their bytes (`raw`). */
export function decodeNpyElements(layout: NpyLayout, raw: Uint8Array): NpyData {
  return decodeData(layout.dtype, layout.littleEndian, raw, 0, raw.length / Number(layout.dtype[1]));
}

/** Parses .npy bytes; `name` labels error messages (e.g. the file name). */
export function parseNpy(bytes: Uint8Array, name = "npy data"): NpyArray {
  if (!(bytes instanceof Uint8Array)) {
    throw new ArgumentError(`parseNpy: bytes must be a Uint8Array; got ${bytes === null ? "null" : typeof bytes}`);
  }
  const { dtype, littleEndian, shape, dataStart, count } = parseNpyLayout(bytes, bytes.length, name);
  return { dtype, shape, data: decodeData(dtype, littleEndian, bytes, dataStart, count) };
}

function decodeHeader(raw: Uint8Array, major: number, fail: (p: string) => FormatError): string {
  if (major === 3) {
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(raw);
    } catch {
      throw fail("the header is not valid UTF-8");
    }
  }
  let text = "";
  for (let i = 0; i < raw.length; i++) {
    if (raw[i]! > 0x7f) throw fail(`byte ${i} of the header is not ASCII (0x${raw[i]!.toString(16)})`);
    text += String.fromCharCode(raw[i]!);
  }
  return text;
}

interface Header {
  descr: string;
  fortran_order: boolean;
  shape: number[];
}

/**
 * The header dict, by the grammar
 *   dict  = "{" [ entry { "," entry } [","] ] "}"      entry = str ":" value
 *   value = str | "True" | "False" | tuple              tuple = "(" [ int "," { int "," } [ int ] ] ")"
 * with Python's rules: a one-element tuple needs its comma, ints are decimal without
 * leading zeros. Spaces may surround every token; nothing but whitespace may follow.
 */
function parseHeader(text: string, fail: (p: string) => FormatError): Header {
  let i = 0;
  const at = () => (i < text.length ? `${JSON.stringify(text.slice(i, i + 12))} at character ${i}` : "the end of the header");
  const bad = (expected: string) => fail(`malformed header dict: expected ${expected}, found ${at()}`);
  const ws = () => {
    while (i < text.length && " \t\r\n".includes(text[i]!)) i++;
  };
  const take = (c: string) => {
    ws();
    if (text[i] === c) {
      i++;
      return true;
    }
    return false;
  };
  const str = (): string => {
    ws();
    const quote = text[i];
    if (quote !== "'" && quote !== '"') throw bad("a quoted string");
    const end = text.indexOf(quote, i + 1);
    if (end < 0) throw fail(`malformed header dict: unterminated string starting at character ${i}`);
    const s = text.slice(i + 1, end);
    if (s.includes("\\") || s.includes("\n")) throw fail(`malformed header dict: escapes and newlines in strings are not supported (at character ${i})`);
    i = end + 1;
    return s;
  };
  const int = (): number => {
    ws();
    const m = /^(?:0|[1-9][0-9]*)(?![0-9A-Za-z_.])/.exec(text.slice(i, i + 40));
    if (!m) throw text[i] === "-" ? fail(`malformed header dict: negative size at character ${i}`) : bad("a size (a decimal integer)");
    const v = Number(m[0]);
    if (!Number.isSafeInteger(v)) throw fail(`size ${m[0]} at character ${i} is too large`);
    i += m[0].length;
    return v;
  };
  const value = (): string | boolean | number[] => {
    ws();
    if (text.startsWith("True", i) || text.startsWith("False", i)) {
      const v = text.startsWith("True", i);
      i += v ? 4 : 5;
      if (/[0-9A-Za-z_]/.test(text[i] ?? "")) throw bad("True or False");
      return v;
    }
    if (text[i] === "(") {
      i++;
      const items: number[] = [];
      let comma = false;
      while (!take(")")) {
        items.push(int());
        comma = take(",");
        if (!comma) {
          if (!take(")")) throw bad('"," or ")" in the shape tuple');
          break;
        }
      }
      if (items.length === 1 && !comma) throw fail("malformed header dict: shape (n) is not a tuple; a one-element tuple is written (n,)");
      return items;
    }
    return str();
  };

  if (!take("{")) throw bad('"{"');
  const entries = new Map<string, string | boolean | number[]>();
  while (!take("}")) {
    const key = str();
    if (!take(":")) throw bad('":"');
    if (entries.has(key)) throw fail(`malformed header dict: duplicate key ${quoteInput(key)}`);
    entries.set(key, value());
    if (!take(",")) {
      if (!take("}")) throw bad('"," or "}"');
      break;
    }
  }
  ws();
  if (i !== text.length) throw fail(`unexpected text after the header dict: ${at()}`);
  const keys = [...entries.keys()].sort();
  if (keys.join(", ") !== "descr, fortran_order, shape") {
    throw fail(`the header dict has keys {${clipList(keys.map(clipInput), "keys")}}; expected exactly descr, fortran_order and shape`);
  }
  const descr = entries.get("descr");
  const fortran = entries.get("fortran_order");
  const shape = entries.get("shape");
  if (typeof descr !== "string") throw fail(`descr must be a string such as '<f4'; got ${describeValue(descr)}`);
  if (typeof fortran !== "boolean") throw fail(`fortran_order must be True or False; got ${describeValue(fortran)}`);
  if (!Array.isArray(shape)) throw fail(`shape must be a tuple of sizes; got ${describeValue(shape)}`);
  return { descr, fortran_order: fortran, shape };
}

/** A header value for an error message: a string quoted and cut to 40 characters, a tuple as (a, b, …). */
function describeValue(v: string | boolean | number[] | undefined): string {
  return typeof v === "string" ? quoteInput(v) : Array.isArray(v) ? `(${clipList(v, "dimensions")})` : String(v);
}

function parseDescr(descr: string, fail: (p: string) => FormatError): { dtype: NpyDtype; littleEndian: boolean } {
  const m = /^([<>|])([biuf][1248])$/.exec(descr);
  const dtype = m?.[2] as NpyDtype | undefined;
  if (!m || !dtype || !DTYPES.includes(dtype)) {
    throw fail(`unsupported dtype ${quoteInput(descr)}; expected a byte order (<, >, |) and one of ${DTYPES.join(", ")}`);
  }
  if (m[1] === "|" && dtype[1] !== "1") throw fail(`dtype ${quoteInput(descr)} has no byte order; use < or > for multi-byte types`);
  return { dtype, littleEndian: m[1] !== ">" };
}

function decodeData(dtype: NpyDtype, littleEndian: boolean, bytes: Uint8Array, start: number, count: number): NpyData {
  const size = Number(dtype[1]);
  const copy = () => {
    const out = new Uint8Array(count * size);
    out.set(bytes.subarray(start, start + count * size));
    return out.buffer;
  };
  if (dtype === "u1" || dtype === "b1") return new Uint8Array(copy());
  if (dtype === "i1") return new Int8Array(copy());
  const view = new DataView(bytes.buffer, bytes.byteOffset + start, count * size);
  if (dtype === "f2") {
    const out = new Float32Array(count);
    const bits = new Uint32Array(out.buffer);
    for (let k = 0; k < count; k++) bits[k] = f16ToF32Bits(view.getUint16(2 * k, littleEndian));
    return out;
  }
  const kinds = {
    i2: [Int16Array, (k: number) => view.getInt16(2 * k, littleEndian)],
    u2: [Uint16Array, (k: number) => view.getUint16(2 * k, littleEndian)],
    i4: [Int32Array, (k: number) => view.getInt32(4 * k, littleEndian)],
    u4: [Uint32Array, (k: number) => view.getUint32(4 * k, littleEndian)],
    f4: [Float32Array, (k: number) => view.getFloat32(4 * k, littleEndian)],
    f8: [Float64Array, (k: number) => view.getFloat64(8 * k, littleEndian)],
  } as const;
  if (dtype === "i8" || dtype === "u8") {
    if (littleEndian === LITTLE_ENDIAN_HOST) return dtype === "i8" ? new BigInt64Array(copy()) : new BigUint64Array(copy());
    return dtype === "i8"
      ? BigInt64Array.from({ length: count }, (_, k) => view.getBigInt64(8 * k, littleEndian))
      : BigUint64Array.from({ length: count }, (_, k) => view.getBigUint64(8 * k, littleEndian));
  }
  const [Ctor, get] = kinds[dtype];
  if (littleEndian === LITTLE_ENDIAN_HOST) return new Ctor(copy());
  const out = new Ctor(count);
  for (let k = 0; k < count; k++) out[k] = get(k);
  return out;
}

// ---------------------------------------------------------------- writing

const DESCR = new Map<Function, string>([
  [Float32Array, "<f4"],
  [Float64Array, "<f8"],
  [Int32Array, "<i4"],
  [Uint8Array, "|u1"],
]);

/**
 * A version 1.0 .npy file of `data` with the given shape (default: 1-D), laid out exactly as
 * `np.save` writes it (NumPy ≥ 1.24: spare spaces for growing the first axis, header
 * padded to a multiple of 64 bytes, little-endian data).
 */
export function encodeNpy(data: Float32Array | Float64Array | Int32Array | Uint8Array, shape: readonly number[] = [data?.length]): Uint8Array {
  const op = "encodeNpy";
  const descr = ArrayBuffer.isView(data) ? DESCR.get(data.constructor) : undefined;
  if (!descr) throw new ArgumentError(`${op}: data must be a Float32Array, Float64Array, Int32Array or Uint8Array`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new ShapeError(`${op}: shape must be an array of integers ≥ 0; got ${Array.isArray(shape) ? `[${clipList(shape, "dimensions")}]` : String(shape)}`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new ShapeError(`${op}: shape (${clipList(shape, "dimensions")}) holds ${count} values but data has ${data.length}`);
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${tuple}, }`;
  if (shape.length > 0) dict += " ".repeat(21 - String(shape[0]).length);
  const padding = 64 - ((10 + dict.length + 1) % 64);
  const headerLength = dict.length + padding + 1;
  if (headerLength > MAX_HEADER_BYTES) {
    throw new ShapeError(`${op}: shape (${clipList(shape, "dimensions")}) makes a header longer than the ${MAX_HEADER_BYTES} bytes NumPy reads`);
  }
  const out = new Uint8Array(10 + headerLength + data.byteLength);
  const view = new DataView(out.buffer);
  out.set(MAGIC);
  out[6] = 1;
  view.setUint16(8, headerLength, true);
  for (let k = 0; k < dict.length; k++) out[10 + k] = dict.charCodeAt(k);
  out.fill(0x20, 10 + dict.length, 10 + headerLength - 1);
  out[10 + headerLength - 1] = 0x0a;
  const start = 10 + headerLength;
  if (LITTLE_ENDIAN_HOST || data instanceof Uint8Array) out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), start);
  else {
    for (let k = 0; k < data.length; k++) {
      if (data instanceof Float32Array) view.setFloat32(start + 4 * k, data[k]!, true);
      else if (data instanceof Float64Array) view.setFloat64(start + 8 * k, data[k]!, true);
      else view.setInt32(start + 4 * k, data[k]!, true);
    }
  }
  return out;
}

// ---------------------------------------------------------------- teacher logits

export interface TeacherLogitsOptions {
  /** Expected number of rows (samples); a file with another count is a ShapeError. */
  rows?: number;
  /** Expected number of columns (classes). */
  classes?: number;
}

/**
 * Precomputed teacher logits from a .npy file (a path or URL, or its bytes): a 2-D
 * (rows, classes) array of f4 or f8 (or f2), returned as a row-major Float32Array, ready
 * to pass as `distill({ teacher })`. Values must be finite in float32 (NonFiniteError).
 */
export async function loadTeacherLogits(source: PathOrUrl | Uint8Array, options: TeacherLogitsOptions = {}): Promise<Float32Array> {
  const op = "loadTeacherLogits";
  const name = source instanceof Uint8Array ? "teacher logits" : source instanceof URL ? source.href : String(source);
  const bytes = source instanceof Uint8Array ? source : await readBytes(source, op);
  const a = parseNpy(bytes, name);
  if (a.dtype[0] !== "f") throw new FormatError(`${name}: teacher logits must be floats (f2, f4 or f8); got ${a.dtype}`);
  if (a.shape.length !== 2) throw new FormatError(`${name}: teacher logits must be 2-D (rows, classes); got shape (${clipList(a.shape, "dimensions")})`);
  const [rows, classes] = a.shape as [number, number];
  if (rows === 0 || classes === 0) throw new FormatError(`${name}: teacher logits of shape (${rows}, ${classes}) are empty`);
  for (const [key, expected, found] of [
    ["rows", options.rows, rows],
    ["classes", options.classes, classes],
  ] as const) {
    if (expected !== undefined && expected !== found) {
      throw new ShapeError(`${op}: ${name} holds logits of shape (${rows}, ${classes}), but ${key} = ${expected} was expected`);
    }
  }
  requireFinite(op, name, a.data as Float32Array | Float64Array, classes);
  return a.data instanceof Float32Array ? a.data : Float32Array.from(a.data as Float64Array);
}
