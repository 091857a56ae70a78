/**
 * Hostile inputs to the file readers: each is refused with a typed error before the reader
 * does work proportional to the attack — a safetensors header nested thousands of levels
 * deep or megabytes long, a .npy header longer than NumPy reads, a gzip bomb, and error
 * messages that would quote megabytes of the input. Every hostile input is generated in
 * memory, and no test allocates more than some 20 MB: the gzip bomb is 1 GiB of zeros as
 * 1024 gzip members of 1 MiB, about 1 MB compressed, of which only the first MiB is ever
 * read, and the default gzip limit is reached by a stub decompressor that repeats one
 * buffer. loadCsv reads at most its maxBytes (csv:/dev/zero stops there), through the
 * bounded read in src/runtime/files.ts.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterEach, describe, expect, it, vi } from "vitest";
import { FormatError, OptionError, ShapeError } from "../../src/index.js";
import { decodeSafetensors, encodeNpy, parseNpy } from "../../src/io/index.js";
import { gunzipIfNeeded, loadIdx, MAX_GUNZIP_BYTES } from "../../src/data/idx.js";
import { loadCsv, MAX_CSV_BYTES, parseCsv } from "../../src/data/csv.js";
import { MAX_HEADER_BYTES as MAX_SAFETENSORS_HEADER, MAX_HEADER_DEPTH } from "../../src/io/safetensors.js";
import { MAX_HEADER_BYTES as MAX_NPY_HEADER } from "../../src/io/npy.js";

const MiB = 2 ** 20;
/** Longest message a hostile input may produce: the file name, the problem and 40-character quotes. */
const SHORT = 300;

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

/** The error `fn` throws (fails the test if it returns). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected an error, but the call returned");
}

/** A safetensors file: the 8-byte length, the header text, then `data` zero bytes. */
function safetensors(header: string, data = 0): Uint8Array {
  const text = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + text.length + data);
  new DataView(out.buffer).setUint32(0, text.length, true);
  out.set(text, 8);
  return out;
}

/** A .npy file of format `version` with this header text (no padding added) and `data` zero bytes. */
function npy(version: 1 | 2, header: string, data = 0): Uint8Array {
  const lengthSize = version === 1 ? 2 : 4;
  const out = new Uint8Array(8 + lengthSize + header.length + data);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[8 + lengthSize + i] = header.charCodeAt(i);
  return out;
}

/** A header dict of exactly `length` bytes: the dict, spaces, "\n" (as np.save pads it). */
function paddedDict(length: number, shape = "(2,)"): string {
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
  return dict + " ".repeat(length - dict.length - 1) + "\n";
}

// ---------------------------------------------------------------- safetensors

describe("safetensors header limits", () => {
  it(`refuses a header nested 5,000 levels deep (a 10 kB file) with a FormatError naming the depth, before JSON.parse`, () => {
    const file = safetensors(`{"a":${"[".repeat(5000)}${"]".repeat(5000)}}`);
    expect(file.length).toBeLessThan(10_100);
    const parse = vi.spyOn(JSON, "parse");
    const error = thrown(() => decodeSafetensors(file, "deep.safetensors"));
    expect(error).toBeInstanceOf(FormatError);
    expect(error.message).toMatch(/^deep\.safetensors: the header nests objects and arrays 5001 levels deep; .* at most 4/);
    expect(parse).not.toHaveBeenCalled();
  });

  it(`accepts nesting up to MAX_HEADER_DEPTH (${MAX_HEADER_DEPTH}: the format needs 3) and ignores brackets inside strings`, () => {
    expect(MAX_HEADER_DEPTH).toBe(4);
    // Depth 4: an unknown field of a tensor entry holding an array (unknown fields are ignored).
    const four = decodeSafetensors(safetensors('{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2],"extra":{"x":[1]}}}', 2));
    expect(four.tensors.get("a")?.shape).toEqual([2]);
    expectDepthError('{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2],"extra":{"x":[[1]]}}}', 5);
    // Brackets and escaped quotes inside strings are text, not nesting.
    const brackets = '[[[[{{{{\\"[[[[{{{{';
    const named = decodeSafetensors(safetensors(`{"${brackets}":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"__metadata__":{"k":"${brackets}"}}`, 1));
    expect(named.metadata.k).toBe('[[[[{{{{"[[[[{{{{');
    expect([...named.tensors.keys()]).toEqual(['[[[[{{{{"[[[[{{{{']);
  });

  function expectDepthError(header: string, depth: number): void {
    const error = thrown(() => decodeSafetensors(safetensors(header, 2)));
    expect(error).toBeInstanceOf(FormatError);
    expect(error.message).toMatch(new RegExp(`nests objects and arrays ${depth} levels deep`));
  }

  it(`refuses a header longer than MAX_HEADER_BYTES (${MAX_SAFETENSORS_HEADER / MiB} MiB) before decoding it`, () => {
    expect(MAX_SAFETENSORS_HEADER).toBe(4 * MiB);
    const prefix = '{"__metadata__":{"k":"';
    const suffix = '"}}';
    const header = (length: number) => prefix + "x".repeat(length - prefix.length - suffix.length) + suffix;
    // At the limit: read.
    expect(decodeSafetensors(safetensors(header(MAX_SAFETENSORS_HEADER))).metadata.k).toHaveLength(MAX_SAFETENSORS_HEADER - 25);
    // One byte more: refused without parsing.
    const parse = vi.spyOn(JSON, "parse");
    const error = thrown(() => decodeSafetensors(safetensors(header(MAX_SAFETENSORS_HEADER + 1)), "big.safetensors"));
    expect(error).toBeInstanceOf(FormatError);
    expect(error.message).toBe(
      `big.safetensors: header length ${MAX_SAFETENSORS_HEADER + 1} exceeds the limit of this reader, ${MAX_SAFETENSORS_HEADER} bytes (4 MiB); ` +
        "real model files need about 150 bytes per tensor",
    );
    expect(parse).not.toHaveBeenCalled();
  });

  it("quotes at most 40 characters of a name, a value or a shape from the file in an error message", () => {
    const name = "n".repeat(1_000_000);
    const cases: [string, number, RegExp][] = [
      [`{"${name}":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, 16, /tensor "n{40}"… \(1000000 characters\): data_offsets \[0, 8\] span 8 bytes/],
      [`{"a":{"dtype":"${"F".repeat(1_000_000)}","shape":[1],"data_offsets":[0,4]}}`, 4, /unknown dtype "F{39}… \(1000002 characters\)/],
      [
        `{"a":{"dtype":"F32","shape":[${Array(100_000).fill(1).join(",")}],"data_offsets":[0,8]}}`,
        8,
        /shape \[1, 1, 1, 1, 1, 1, 1, 1, … \(100000 dimensions\)\] of F32 needs 4/,
      ],
      [`{"__metadata__":{"${name}":1}}`, 0, /__metadata__\["n{40}"… \(1000000 characters\)\] must be a string/],
      [`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"${name}":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, 1, /overlaps tensor "a"/],
    ];
    for (const [header, data, message] of cases) {
      const error = thrown(() => decodeSafetensors(safetensors(header, data)));
      expect(error).toBeInstanceOf(FormatError);
      expect(error.message).toMatch(message);
      expect(error.message.length).toBeLessThan(SHORT);
    }
  });
});

// ---------------------------------------------------------------- npy

describe(".npy header limits", () => {
  it("reads a header of exactly NumPy's 10,000-byte limit and refuses a longer one before decoding it", () => {
    expect(MAX_NPY_HEADER).toBe(10_000);
    const atLimit = npy(1, paddedDict(10_000), 8);
    expect(parseNpy(atLimit).shape).toEqual([2]);
    for (const version of [1, 2] as const) {
      const error = thrown(() => parseNpy(npy(version, paddedDict(10_001), 8), "x.npy"));
      expect(error).toBeInstanceOf(FormatError);
      expect(error.message).toBe("x.npy: header length 10001 exceeds 10000 bytes, the limit NumPy also reads by default (max_header_size)");
    }
  });

  it("refuses a 100 MB header claimed by a short file, and a 1 MB header at once", () => {
    const claim = npy(2, paddedDict(100));
    new DataView(claim.buffer).setUint32(8, 100_000_000, true);
    expect(() => parseNpy(claim)).toThrow(/header length 100000000 runs past the end of the file/);
    const error = thrown(() => parseNpy(npy(2, paddedDict(MiB), 8)));
    expect(error).toBeInstanceOf(FormatError);
    expect(error.message).toMatch(/header length 1048576 exceeds 10000 bytes/);
  });

  it("encodeNpy refuses a shape whose header NumPy would not read", () => {
    const shape = Array<number>(4000).fill(1);
    expect(() => encodeNpy(new Float32Array(1), shape)).toThrow(ShapeError);
    expect(() => encodeNpy(new Float32Array(1), shape)).toThrow(/makes a header longer than the 10000 bytes NumPy reads/);
  });

  it("quotes at most 40 characters of a key, a dtype or a shape from the file in an error message", () => {
    const long = "k".repeat(4000);
    const cases: [string, RegExp][] = [
      [`{'${long}': 'a', '${long}': 'b'}`, /duplicate key "k{40}"… \(4000 characters\)/],
      [`{'descr': '<f4', '${long}': False, 'shape': (2,), }`, /the header dict has keys \{descr, k{40}… \(4000 characters\), shape\}/],
      [`{'descr': '${long}', 'fortran_order': False, 'shape': (2,), }`, /unsupported dtype "k{40}"… \(4000 characters\)/],
      [`{'descr': '<f4', 'fortran_order': '${long}', 'shape': (2,), }`, /fortran_order must be True or False; got "k{40}"… \(4000 characters\)/],
      [
        `{'descr': '<f4', 'fortran_order': False, 'shape': (${Array(3000).fill(1).join(",")}), }`,
        /shape \(1, 1, 1, 1, 1, 1, 1, 1, … \(3000 dimensions\)\) of f4 needs 4 data bytes, but the file has 8/,
      ],
    ];
    for (const [header, message] of cases) {
      const error = thrown(() => parseNpy(npy(1, header, 8)));
      expect(error).toBeInstanceOf(FormatError);
      expect(error.message).toMatch(message);
      expect(error.message.length).toBeLessThan(SHORT);
    }
  });
});

// ---------------------------------------------------------------- gzip

/** 1 GiB of zeros: 1024 gzip members of 1 MiB each (gunzip reads concatenated members), about 1 MB. */
function gzipBomb(): Uint8Array {
  const member = gzipSync(Buffer.alloc(MiB));
  const out = new Uint8Array(member.length * 1024);
  for (let i = 0; i < 1024; i++) out.set(member, i * member.length);
  return out;
}

/**
 * Replaces DecompressionStream with `make(format)`'s output, wrapped so that the bytes the
 * reader pulls out of it are counted; the wrapper errors past `stopAt` bytes so that a
 * reader that does not stop fails the test instead of filling memory.
 */
function countDecompressedBytes(stopAt: number, make: (format: CompressionFormat) => ReadableWritablePair<Uint8Array, BufferSource>) {
  const count = { pulled: 0 };
  class Counting {
    readonly writable: WritableStream<BufferSource>;
    readonly readable: ReadableStream<Uint8Array>;
    constructor(format: CompressionFormat) {
      const inner = make(format);
      this.writable = inner.writable;
      this.readable = inner.readable.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, controller) {
            count.pulled += chunk.length;
            if (count.pulled > stopAt) controller.error(new Error("the reader kept pulling past its limit"));
            else controller.enqueue(chunk);
          },
        }),
      );
    }
  }
  vi.stubGlobal("DecompressionStream", Counting);
  return count;
}

describe("gzip limits", () => {
  it("stops inflating a 1 MB gzip bomb (1 GiB of zeros) as soon as the output passes maxBytes", async () => {
    const bomb = gzipBomb();
    expect(bomb.length).toBeLessThan(1.1e6);
    const Real = DecompressionStream;
    const count = countDecompressedBytes(8 * MiB, (format) => new Real(format));
    const error = await gunzipIfNeeded(bomb, "bomb.gz", { maxBytes: MiB }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(FormatError);
    expect((error as Error).message).toBe("bomb.gz: decompresses to more than 1 MiB (1048576 bytes), the limit; pass a larger maxBytes if the file is genuine");
    expect(count.pulled).toBeGreaterThan(MiB);
    expect(count.pulled).toBeLessThan(MiB + 256 * 1024);
  });

  it(`refuses more than MAX_GUNZIP_BYTES (${MAX_GUNZIP_BYTES / MiB} MiB) by default`, async () => {
    expect(MAX_GUNZIP_BYTES).toBe(768 * MiB);
    // An endless decompressor that repeats one zero MiB: the default limit is reached without allocating it.
    const zeros = new Uint8Array(MiB);
    const count = countDecompressedBytes(MAX_GUNZIP_BYTES + 8 * MiB, () => ({
      writable: new WritableStream<BufferSource>(),
      readable: new ReadableStream<Uint8Array>({ pull: (c) => c.enqueue(zeros) }, { highWaterMark: 0 }),
    }));
    const error = await gunzipIfNeeded(new Uint8Array([0x1f, 0x8b, 8, 0]), "endless.gz").catch((e: Error) => e);
    expect(error).toBeInstanceOf(FormatError);
    expect((error as Error).message).toMatch(/^endless\.gz: decompresses to more than 768 MiB \(805306368 bytes\), the limit; pass a larger maxBytes/);
    expect(count.pulled).toBeGreaterThan(MAX_GUNZIP_BYTES);
    expect(count.pulled).toBeLessThanOrEqual(MAX_GUNZIP_BYTES + 4 * MiB);
  });

  it("accepts output of exactly maxBytes and validates the option", async () => {
    const raw = Buffer.alloc(MiB);
    for (let i = 0; i < MiB; i++) raw[i] = i % 251;
    const gz = new Uint8Array(gzipSync(raw));
    // (Buffer.equals: toEqual compares a MiB element by element, for seconds.)
    expect(Buffer.from(await gunzipIfNeeded(gz, "a.gz", { maxBytes: MiB })).equals(raw)).toBe(true);
    await expect(gunzipIfNeeded(gz, "a.gz", { maxBytes: MiB - 1 })).rejects.toThrow(/^a\.gz: decompresses to more than 1048575 bytes, the limit/);
    for (const bad of [0, -1, 1.5, Number.NaN, "1e6", 2 ** 53]) {
      await expect(gunzipIfNeeded(gz, "a.gz", { maxBytes: bad as number })).rejects.toThrow(OptionError);
    }
    await expect(gunzipIfNeeded(gz, "a.gz", { maxBytes: 0 })).rejects.toThrow(/gunzipIfNeeded: maxBytes must be an integer from 1 to 2\^53 − 1; got 0/);
  });

  it("loadIdx passes maxBytes to the decompression of each file", async () => {
    const idx = (type: number, dims: number[], values: number[]) => {
      const out = new Uint8Array(4 + 4 * dims.length + values.length);
      out.set([0, 0, type, dims.length]);
      dims.forEach((d, i) => new DataView(out.buffer).setUint32(4 + 4 * i, d));
      out.set(values, 4 + 4 * dims.length);
      return out;
    };
    const dir = mkdtempSync(join(tmpdir(), "distill-limits-"));
    writeFileSync(join(dir, "t10k-images-idx3-ubyte.gz"), gzipSync(idx(0x08, [100, 28, 28], Array(78_400).fill(7))));
    writeFileSync(join(dir, "t10k-labels-idx1-ubyte.gz"), gzipSync(idx(0x08, [100], Array(100).fill(3))));
    expect((await loadIdx(dir, { split: "test" })).length).toBe(100);
    expect((await loadIdx(dir, { split: "test", maxBytes: 78_416 })).length).toBe(100);
    await expect(loadIdx(dir, { split: "test", maxBytes: 78_415 })).rejects.toThrow(/t10k-images-idx3-ubyte\.gz: decompresses to more than 78415 bytes/);
    await expect(loadIdx(dir, { split: "test", maxBytes: -5 })).rejects.toThrow(/loadIdx: maxBytes must be an integer/);
  });
});

// ---------------------------------------------------------------- CSV

describe("CSV error messages", () => {
  it("quote at most 40 characters of a value, a label or a column name", () => {
    // 100,000 characters: enough to show the cut, and quick to parse.
    const digits = `1${"0".repeat(99_999)}`;
    const name = "c".repeat(100_000);
    const cases: [string, Record<string, unknown>, RegExp][] = [
      [`y,a\n1,${digits}\n`, {}, /line 2, column 2: 10{39}… \(100000 characters\) \("a"\) is outside the float32 range/],
      [`y,a\n1,-${digits}\n`, {}, /line 2, column 2: -10{38}… \(100001 characters\) \("a"\) is outside/],
      [`y,a\n1,${"x".repeat(100_000)}\n`, {}, /line 2, column 2: "x{40}"… \(100000 characters\) \("a"\) is not a number/],
      [`y,a\n${digits},1\n`, {}, /line 2, column 1: label 10{39}… \(100000 characters\) is not a class id/],
      [`y,${name}\n1,z\n`, {}, /line 2, column 2: "z" \("c{40}"… \(100000 characters\)\) is not a number/],
    ];
    for (const [text, options, message] of cases) {
      const error = thrown(() => parseCsv(text, options, "big.csv"));
      expect(error).toBeInstanceOf(FormatError);
      expect(error.message).toMatch(message);
      expect(error.message.length).toBeLessThan(SHORT);
    }
  });

  it("list at most a few column names, each cut to 40 characters, when a label column is not found", () => {
    const header = Array.from({ length: 100_000 }, (_, i) => `column${i}`).join(",");
    const row = Array(100_000).fill(1).join(",");
    const error = thrown(() => parseCsv(`${header}\n${row}\n`, { labelColumn: "y".repeat(10_000) }));
    expect(error).toBeInstanceOf(OptionError);
    expect(error.message).toMatch(/no column named "y{40}"… \(10000 characters\); the columns are "column0", "column1", .*, … \(100000 columns\)/);
    expect(error.message.length).toBeLessThan(SHORT);
  });

  it("loadCsv stops reading at its size limit while reading: /dev/zero (a size of 0, endless) and a file one byte too long", async () => {
    const zero = await loadCsv("/dev/zero", { maxBytes: 4 << 20 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(zero).toBeInstanceOf(FormatError);
    expect((zero as Error).message).toMatch(/\/dev\/zero is larger than 4194304 bytes, the limit for this kind of file; pass a larger maxBytes/);
    const dir = mkdtempSync(join(tmpdir(), "csv-limit-"));
    const file = join(dir, "x.csv");
    writeFileSync(file, "label,a\n1,2\n0,3\n"); // 16 bytes
    await expect(loadCsv(file, { maxBytes: 15 })).rejects.toThrow(/larger than 15 bytes/);
    expect((await loadCsv(file, { maxBytes: 16 })).length).toBe(2);
    expect(MAX_CSV_BYTES).toBe(256 * 2 ** 20);
  });
});
