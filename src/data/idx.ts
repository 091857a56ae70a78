/**
 * The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/):
 *
 *   bytes 0–1   0x00 0x00
 *   byte  2     element type: 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64
 *   byte  3     number of dimensions d (1 … 8 here)
 *   then        d sizes, big-endian u32
 *   then        the elements, big-endian, row-major (last dimension fastest)
 *
 * Files are often gzipped (`.gz`); `gunzipIfNeeded` undoes that, and stops with a
 * FormatError as soon as the output passes a limit (`maxBytes`, default MAX_GUNZIP_BYTES =
 * 768 MiB), so that a gzip bomb (1 MB inflating to 1 GiB and more) never fills memory.
 * The default has room for every IDX dataset we know: MNIST and Fashion-MNIST train images
 * inflate to 47 MB, EMNIST ByClass / ByMerge train images (697,932 × 28 × 28) to 522 MiB.
 * Every inconsistency is a FormatError naming the file, detected before anything is
 * allocated for the data.
 */
import { checkOptions, knownKeys } from "../options/schema.js";
import { ArgumentError, FormatError, OptionError, ShapeError } from "../errors.js";
import { joinChunks, joinPath, readBytesIfExists, type PathOrUrl } from "../runtime/files.js";
import { requireChoice } from "../validate.js";
import { Dataset } from "./dataset.js";

export type IdxType = "u8" | "i8" | "i16" | "i32" | "f32" | "f64";
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

/** A parsed IDX file: `data` holds the product of `dims` elements, row-major. */
export interface IdxArray {
  type: IdxType;
  dims: number[];
  data: IdxData;
}

const TYPES: Record<number, { type: IdxType; size: number }> = {
  0x08: { type: "u8", size: 1 },
  0x09: { type: "i8", size: 1 },
  0x0b: { type: "i16", size: 2 },
  0x0c: { type: "i32", size: 4 },
  0x0d: { type: "f32", size: 4 },
  0x0e: { type: "f64", size: 8 },
};
const MAX_DIMS = 8;
/** Default limit of gunzipIfNeeded's output, in bytes: 768 MiB (see the module comment). */
export const MAX_GUNZIP_BYTES = 768 * 2 ** 20;

const hex = (b: number) => `0x${b.toString(16).padStart(2, "0")}`;

/** Parses IDX bytes (not gzipped); `name` labels error messages (e.g. the file name). */
export function parseIdx(bytes: Uint8Array, name = "IDX data"): IdxArray {
  if (!(bytes instanceof Uint8Array)) {
    throw new ArgumentError(`parseIdx: bytes must be a Uint8Array; got ${bytes === null ? "null" : typeof bytes}`);
  }
  const fail = (problem: string) => new FormatError(`${name}: ${problem}`);
  if (bytes.length < 4) throw fail(`truncated header: ${bytes.length} bytes, but the IDX header alone has at least 4`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const gzip = bytes[0] === 0x1f && bytes[1] === 0x8b ? " (these are gzip bytes: decompress them with gunzipIfNeeded first)" : "";
    throw fail(`bad magic number ${hex(bytes[0]!)} ${hex(bytes[1]!)}; an IDX file starts with 0x00 0x00${gzip}`);
  }
  const kind = TYPES[bytes[2]!];
  if (!kind) {
    throw fail(`unknown element type ${hex(bytes[2]!)}; expected 0x08 (u8), 0x09 (i8), 0x0b (i16), 0x0c (i32), 0x0d (f32) or 0x0e (f64)`);
  }
  const ndims = bytes[3]!;
  if (ndims < 1 || ndims > MAX_DIMS) throw fail(`${ndims} dimensions; expected 1 to ${MAX_DIMS}`);
  const header = 4 + 4 * ndims;
  if (bytes.length < header) {
    throw fail(`truncated header: ${ndims} dimensions need ${header} header bytes, but there are only ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let d = 0; d < ndims; d++) {
    dims.push(view.getUint32(4 + 4 * d));
    count *= dims[d]!;
  }
  const needed = count * kind.size;
  if (!Number.isSafeInteger(needed)) {
    throw fail(`dimensions [${dims.join(", ")}] hold more elements than any file can (the product overflows)`);
  }
  const found = bytes.length - header;
  if (found !== needed) {
    throw fail(
      `dimensions [${dims.join(", ")}] of ${kind.type} need ${needed} data bytes, but the file has ${found}` +
        (found < needed ? " (truncated?)" : " (trailing bytes)"),
    );
  }
  return { type: kind.type, dims, data: decode(kind.type, view, header, count) };
}

/** Reads `count` big-endian elements starting at byte `offset` into a new array. */
function decode(type: IdxType, view: DataView, offset: number, count: number): IdxData {
  switch (type) {
    case "u8":
      return new Uint8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + count));
    case "i8":
      return new Int8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + count));
    case "i16": {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(offset + 2 * i);
      return out;
    }
    case "i32": {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + 4 * i);
      return out;
    }
    case "f32": {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i);
      return out;
    }
    case "f64": {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i);
      return out;
    }
  }
}

export interface GunzipOptions {
  /**
   * The most bytes the decompressed data may have (default MAX_GUNZIP_BYTES, 768 MiB);
   * more is a FormatError, raised as soon as the output passes it.
   */
  maxBytes?: number;
}

/**
 * Decompresses gzip bytes (they start with 0x1f 0x8b) with the standard
 * `DecompressionStream`; returns any other bytes unchanged. Corrupt gzip, or output longer
 * than `maxBytes` → FormatError. The output is read as it comes and the stream cancelled
 * once it passes the limit, so memory stays near `maxBytes` whatever the input claims.
 */
export async function gunzipIfNeeded(bytes: Uint8Array, name = "data", options: GunzipOptions = {}): Promise<Uint8Array> {
  if (!(bytes instanceof Uint8Array)) {
    throw new ArgumentError(`gunzipIfNeeded: bytes must be a Uint8Array; got ${bytes === null ? "null" : typeof bytes}`);
  }
  const limit = requireMaxBytes("gunzipIfNeeded", options?.maxBytes);
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  const input = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream();
  const reader = input.pipeThrough(new DecompressionStream("gzip")).getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      total += r.value.length;
      if (total > limit) break;
      chunks.push(r.value);
    }
  } catch (cause) {
    throw new FormatError(`${name}: corrupt gzip data (${(cause as Error).message ?? String(cause)})`);
  }
  if (total > limit) {
    await reader.cancel().catch(() => undefined); // stops the decompression
    const size = limit % 2 ** 20 === 0 ? `${limit / 2 ** 20} MiB (${limit} bytes)` : `${limit} bytes`;
    throw new FormatError(`${name}: decompresses to more than ${size}, the limit; pass a larger maxBytes if the file is genuine`);
  }
  return joinChunks(chunks, total);
}

/** The maxBytes option: an integer from 1 to 2^53 − 1, default MAX_GUNZIP_BYTES. */
function requireMaxBytes(op: string, value: unknown): number {
  if (value === undefined) return MAX_GUNZIP_BYTES;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw new OptionError(
      `${op}: maxBytes must be an integer from 1 to 2^53 − 1; got ${typeof value === "string" ? JSON.stringify(value.slice(0, 40)) : String(value)}`,
    );
  }
  return value;
}

export interface IdxDatasetOptions {
  /** Divide u8 pixels by 255 into [0, 1] (default: true for u8 images; only u8 images can be normalized). */
  normalize?: boolean;
  /** Number of classes (default: 10, or the largest label + 1 if that is more). */
  classes?: number;
}

/**
 * A Dataset from parsed IDX images (n, …) and labels (n): features = the product of the
 * image dimensions after the first (rows · cols for MNIST).
 */
export function idxToDataset(images: IdxArray, labels: IdxArray, options: IdxDatasetOptions = {}): Dataset {
  const op = "idxToDataset";
  if (images.dims.length < 2) {
    throw new ShapeError(`${op}: images have dimensions [${images.dims.join(", ")}]; expected [n, rows, cols] or [n, features]`);
  }
  if (labels.dims.length !== 1) {
    throw new ShapeError(`${op}: labels have dimensions [${labels.dims.join(", ")}]; expected [n]`);
  }
  if (labels.type === "f32" || labels.type === "f64") {
    throw new ArgumentError(`${op}: labels are ${labels.type}; class labels must be an integer IDX type (u8, i8, i16, i32)`);
  }
  const n = images.dims[0]!;
  if (labels.dims[0] !== n) throw new ShapeError(`${op}: images hold ${n} items but labels hold ${labels.dims[0]}`);
  const normalize = options.normalize ?? images.type === "u8";
  if (normalize && images.type !== "u8") {
    throw new OptionError(`${op}: normalize divides u8 pixels by 255, but the images are ${images.type}; pass normalize: false`);
  }
  const x = new Float32Array(images.data.length);
  if (normalize) {
    const pixels = images.data as Uint8Array;
    for (let i = 0; i < x.length; i++) x[i] = pixels[i]! / 255;
  } else {
    x.set(images.data);
  }
  let maxLabel = 0;
  for (let i = 0; i < n; i++) maxLabel = Math.max(maxLabel, labels.data[i]!);
  // Labels beyond 9: let Dataset infer the count (and reject absurdly large ids).
  const classes = options.classes ?? (maxLabel < 10 ? 10 : undefined);
  const features = images.dims.slice(1).reduce((a, b) => a * b, 1);
  return new Dataset(x, Int32Array.from(labels.data), { features, classes });
}

export interface LoadIdxOptions extends IdxDatasetOptions {
  /** "train" reads train-images / train-labels, "test" reads t10k-images / t10k-labels. */
  split: "train" | "test";
  /** The most bytes a gzipped file may decompress to (default MAX_GUNZIP_BYTES, 768 MiB); see gunzipIfNeeded. */
  maxBytes?: number;
}

/**
 * Reads an MNIST-layout directory: `<prefix>-images-idx3-ubyte` and
 * `<prefix>-labels-idx1-ubyte` (prefix "train" or "t10k"), each with or without `.gz`
 * (the `.idx3-ubyte` spelling is accepted too). Missing files → ArgumentError.
 */
export async function loadIdx(dir: PathOrUrl, options: LoadIdxOptions): Promise<Dataset> {
  const op = "loadIdx";
  options = checkOptions(op, knownKeys("split", "normalize", "classes", "maxBytes"), options, ["split"]);
  const split = requireChoice(op, "split", options?.split, ["train", "test"] as const);
  const prefix = split === "train" ? "train" : "t10k";
  const maxBytes = requireMaxBytes(op, options.maxBytes);
  // Both files are read at once; a failure is reported for the images first whichever read
  // failed first, so the same mistake always gives the same message.
  const [imagesRead, labelsRead] = await Promise.allSettled([
    readIdxFile(op, dir, `${prefix}-images`, "idx3-ubyte", maxBytes),
    readIdxFile(op, dir, `${prefix}-labels`, "idx1-ubyte", maxBytes),
  ]);
  if (imagesRead.status === "rejected") throw imagesRead.reason;
  if (labelsRead.status === "rejected") throw labelsRead.reason;
  const images = imagesRead.value;
  const labels = labelsRead.value;
  return idxToDataset(images, labels, options);
}

async function readIdxFile(op: string, dir: PathOrUrl, stem: string, suffix: string, maxBytes: number): Promise<IdxArray> {
  const names = [`${stem}-${suffix}`, `${stem}-${suffix}.gz`, `${stem}.${suffix}`, `${stem}.${suffix}.gz`];
  for (const name of names) {
    const location = joinPath(dir, name);
    const bytes = await readBytesIfExists(location, op);
    if (bytes) {
      const where = location instanceof URL ? location.href : location;
      return parseIdx(await gunzipIfNeeded(bytes, where, { maxBytes }), where);
    }
  }
  const where = dir instanceof URL ? dir.href : dir;
  throw new ArgumentError(`${op}: none of ${names.join(", ")} exists in ${where}`);
}
