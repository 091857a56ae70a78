/**
 * Datasets in .npy shards, read a block of rows at a time: shard i is x (rows_i, features)
 * f32, with optionally y (rows_i) integer labels, teacher (rows_i, classes) f32 logits, or
 * teacher-index (rows_i, k) integers + teacher-prob (rows_i, k) f32 top-k probabilities.
 * The files of a shard are matched by position in their lists (in a directory: by the name
 * after the prefix, `x-0007.npy` with `y-0007.npy`) and must agree on the row count.
 */
import { ArgumentError, FormatError, ShapeError } from "../../errors.js";
import { decodeNpyElements, MAX_HEADER_BYTES, parseNpyLayout, type NpyLayout } from "../../io/npy.js";
import { joinPath, listDirectory, openRandomAccess, type PathOrUrl } from "../../runtime/files.js";
import type { StreamBlock } from "./block.js";

/** The files of a sharded dataset, one list per part, shard i at index i of each. */
export interface ShardFiles {
  x: readonly PathOrUrl[];
  y?: readonly PathOrUrl[];
  /** Dense teacher logits (rows, classes). */
  teacher?: readonly PathOrUrl[];
  /** Top-k teacher outputs: class indices (rows, k) and their probabilities (rows, k). */
  teacherIndex?: readonly PathOrUrl[];
  teacherProb?: readonly PathOrUrl[];
}

type Part = keyof ShardFiles;
/** File-name prefixes of the parts in a shard directory (`teacher-index-` before `teacher-`: the longest match wins). */
const PREFIXES: [Part, string][] = [
  ["teacherIndex", "teacher-index-"],
  ["teacherProb", "teacher-prob-"],
  ["teacher", "teacher-"],
  ["x", "x-"],
  ["y", "y-"],
];

/** One .npy file of a shard: where its data starts and how it is laid out. */
interface NpyFile {
  path: PathOrUrl;
  layout: NpyLayout;
  /** Elements per row. */
  width: number;
}

export interface Shard {
  rows: number;
  x: NpyFile;
  y?: NpyFile;
  teacher?: NpyFile;
  teacherIndex?: NpyFile;
  teacherProb?: NpyFile;
}

/** The files of a shard directory, grouped by part and matched by the name after the prefix. */
export async function shardDirectory(dir: PathOrUrl): Promise<ShardFiles> {
  const names = (await listDirectory(dir, "shards")).filter((n) => n.endsWith(".npy"));
  const parts = new Map<Part, Map<string, PathOrUrl>>();
  for (const name of names) {
    const match = PREFIXES.find(([, prefix]) => name.startsWith(prefix));
    if (!match) continue;
    const [part, prefix] = match;
    if (!parts.has(part)) parts.set(part, new Map());
    parts.get(part)!.set(name.slice(prefix.length), joinPath(dir, name));
  }
  const x = parts.get("x");
  if (!x || x.size === 0) throw new ArgumentError(`shards: ${String(dir)} holds no x-*.npy files (x-0000.npy, y-0000.npy, …)`);
  const keys = [...x.keys()].sort();
  const files: ShardFiles = { x: keys.map((key) => x.get(key)!) };
  for (const [part] of PREFIXES) {
    const found = parts.get(part);
    if (part === "x" || !found) continue;
    const missing = keys.find((key) => !found.has(key));
    if (missing !== undefined || found.size !== keys.length) {
      throw new ArgumentError(`shards: ${String(dir)} has ${found.size} ${part} files for ${keys.length} x files; every x-NAME.npy needs its ${part} file`);
    }
    files[part] = keys.map((key) => found.get(key)!);
  }
  return files;
}

async function openNpy(path: PathOrUrl, what: string): Promise<NpyFile> {
  const file = await openRandomAccess(path, "shards");
  try {
    const prefix = await file.read(0, Math.min(file.size, MAX_HEADER_BYTES + 12));
    const layout = parseNpyLayout(prefix, file.size, `shards: ${String(path)}`);
    const isFloat = layout.dtype === "f4";
    const isInt = ["i1", "i2", "i4", "i8", "u1", "u2", "u4"].includes(layout.dtype);
    if ((what === "x" || what === "teacher" || what === "teacherProb") && !isFloat) {
      throw new FormatError(`shards: ${String(path)} (${what}) holds ${layout.dtype}; expected float32 (f4)`);
    }
    if ((what === "y" || what === "teacherIndex") && !isInt)
      throw new FormatError(`shards: ${String(path)} (${what}) holds ${layout.dtype}; expected integers`);
    const dims = what === "y" ? 1 : 2;
    if (layout.shape.length !== dims) {
      throw new ShapeError(`shards: ${String(path)} (${what}) has shape (${layout.shape.join(", ")}); expected ${dims === 1 ? "(rows)" : "(rows, width)"}`);
    }
    return { path, layout, width: dims === 1 ? 1 : layout.shape[1]! };
  } finally {
    await file.close();
  }
}

/** Reads every shard's headers and checks that the parts agree: rows per shard, widths across shards. */
export async function openShards(files: ShardFiles): Promise<Shard[]> {
  if (!files || !Array.isArray(files.x) || files.x.length === 0) throw new ArgumentError("shards: x must list at least one .npy file");
  const shards: Shard[] = [];
  for (let i = 0; i < files.x.length; i++) {
    const x = await openNpy(files.x[i]!, "x");
    const shard: Shard = { rows: x.layout.shape[0]!, x };
    for (const part of ["y", "teacher", "teacherIndex", "teacherProb"] as const) {
      const list = files[part];
      if (!list) continue;
      if (list.length !== files.x.length) throw new ArgumentError(`shards: ${list.length} ${part} files for ${files.x.length} x files`);
      const f = await openNpy(list[i]!, part);
      if (f.layout.shape[0] !== shard.rows) {
        throw new ShapeError(`shards: shard ${i} has ${shard.rows} rows in ${String(files.x[i])} but ${f.layout.shape[0]} in ${String(list[i])}`);
      }
      shard[part] = f;
    }
    if (shard.rows === 0) throw new ShapeError(`shards: ${String(files.x[i])} has no rows`);
    shards.push(shard);
  }
  for (const part of ["x", "teacher", "teacherIndex", "teacherProb"] as const) {
    const widths = new Set(shards.map((s) => s[part]?.width));
    if (widths.size > 1) throw new ShapeError(`shards: the ${part} files differ in width (${[...widths].join(", ")})`);
  }
  if ((files.teacherIndex === undefined) !== (files.teacherProb === undefined)) {
    throw new ArgumentError("shards: top-k teacher outputs need both teacherIndex and teacherProb files");
  }
  if (files.teacher && files.teacherIndex) throw new ArgumentError("shards: give dense teacher logits or top-k teacher outputs, not both");
  if (shards[0]!.teacherIndex && shards[0]!.teacherIndex.width !== shards[0]!.teacherProb!.width) {
    throw new ShapeError(`shards: teacher-index files have k = ${shards[0]!.teacherIndex.width} but teacher-prob files ${shards[0]!.teacherProb!.width}`);
  }
  return shards;
}

/**
 * Reads rows of shards into buffers it keeps: two sets, used in turn, one buffer per part in
 * each (grown to the largest block), so that a stream's blocks need no new memory after the
 * first two. A block it returns stays valid until two more reads have started: the feed
 * copies a block into wasm memory after starting the read of the next one, not later.
 */
export class ShardReader {
  private turn = 0;
  private readonly sets: Map<string, Uint8Array>[] = [new Map(), new Map()];

  /** Rows first … first + rows of a shard, every part it has; `where` names them in errors. */
  async read(shard: Shard, first: number, rows: number, where: string): Promise<StreamBlock> {
    const set = this.sets[this.turn]!;
    this.turn ^= 1;
    const buffer = (part: string, bytes: number) => {
      let b = set.get(part);
      if (!b || b.length < bytes) set.set(part, (b = new Uint8Array(bytes)));
      return b;
    };
    return readShardRows(shard, first, rows, where, buffer);
  }
}

/** Rows first … first + rows of one file of a shard, as float32 or int32 values; read into `into` when given. */
async function readRows(f: NpyFile, first: number, rows: number, as: "f32" | "i32", into?: Uint8Array): Promise<Float32Array | Int32Array> {
  const size = Number(f.layout.dtype[1]);
  const file = await openRandomAccess(f.path, "shards");
  let raw: Uint8Array;
  try {
    raw = await file.read(f.layout.dataStart + first * f.width * size, rows * f.width * size, into);
  } finally {
    await file.close();
  }
  const n = rows * f.width;
  const hostLittle = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  // The common case, f4 / i4 in the host's byte order: a view of the bytes just read, no copy.
  if (size === 4 && f.layout.littleEndian === hostLittle && (f.layout.dtype === "f4" || (as === "i32" && f.layout.dtype === "i4"))) {
    return as === "f32" ? new Float32Array(raw.buffer, raw.byteOffset, n) : new Int32Array(raw.buffer, raw.byteOffset, n);
  }
  const decoded = decodeNpyElements(f.layout, raw);
  const out = as === "f32" ? new Float32Array(n) : new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = Number(decoded[i]!);
    if (as === "i32" && !(v >= -(2 ** 31) && v < 2 ** 31))
      throw new FormatError(`shards: ${String(f.path)} holds ${v} at row ${first + Math.floor(i / f.width)}, outside int32`);
    out[i] = v;
  }
  return out;
}

/**
 * Rows first … first + rows of a shard, every part it has; `where` names them in errors.
 * `buffer(part, bytes)`, when given, gives the bytes each part is read into.
 */
export async function readShardRows(
  shard: Shard,
  first: number,
  rows: number,
  where: string,
  buffer?: (part: string, bytes: number) => Uint8Array,
): Promise<StreamBlock> {
  const part = (name: "x" | "y" | "teacher" | "teacherIndex" | "teacherProb", as: "f32" | "i32") => {
    const f = shard[name];
    if (!f) return undefined;
    const bytes = rows * f.width * Number(f.layout.dtype[1]);
    return readRows(f, first, rows, as, buffer?.(name, bytes));
  };
  const [x, y, teacher, topIndex, topProb] = await Promise.all([
    part("x", "f32"),
    part("y", "i32"),
    part("teacher", "f32"),
    part("teacherIndex", "i32"),
    part("teacherProb", "f32"),
  ]);
  const block: StreamBlock = { rows, where, x: x as Float32Array };
  if (y) block.y = y as Int32Array;
  if (teacher) block.teacher = teacher as Float32Array;
  if (topIndex) block.topIndex = topIndex as Int32Array;
  if (topProb) block.topProb = topProb as Float32Array;
  return block;
}
