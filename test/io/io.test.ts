/**
 * File formats: safetensors (round trips, dtype conversions, every corruption case), model
 * files (bit-identical logits after a round trip, metadata, inferred PyTorch
 * architectures, validation), atomic saving, .npy (round trips, hand-written headers,
 * corruption cases, teacher logits), CSV and .npy datasets (variants and errors that name
 * the line and column).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import {
  ArgumentError,
  FormatError,
  NonFiniteError,
  OptionError,
  Sequential,
  ShapeError,
  dense,
  embeddingBag,
  layerNorm,
  dropout,
  gelu,
  init,
  leakyRelu,
  mlp,
  relu,
  sigmoid,
  tanh,
  train,
  type Engine,
} from "../../src/index.js";
import {
  DISTILL_WASM_VERSION,
  decodeSafetensors,
  encodeNpy,
  encodeSafetensors,
  f16ToF32Bits,
  loadModel,
  loadTeacherLogits,
  modelFromSafetensors,
  modelToSafetensors,
  parseNpy,
  saveModel,
} from "../../src/io/index.js";
import { loadCsv, loadNpyDataset, parseCsv } from "../../src/data/csv.js";
import { writeBytesAtomic } from "../../src/runtime/files.js";
import { expectSameBits } from "../helpers/compare.js";
import { TestRandom } from "../helpers/rand.js";
import { blobs } from "../helpers/tiny-data.js";

let engine: Engine;
beforeAll(async () => {
  engine = await init();
});

const tempDir = () => mkdtempSync(join(tmpdir(), "distill-io-"));
const latin = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** A safetensors file from a header (object or raw text) and a data buffer of `data` bytes (or these bytes). */
function rawSafetensors(header: unknown, data: number | Uint8Array = 0): Uint8Array {
  const text = new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  const body = typeof data === "number" ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + text.length + body.length);
  new DataView(out.buffer).setUint32(0, text.length, true);
  out.set(text, 8);
  out.set(body, 8 + text.length);
  return out;
}

function f32Entry(shape: number[], begin: number) {
  const n = shape.reduce((a, b) => a * b, 1);
  return { dtype: "F32", shape, data_offsets: [begin, begin + 4 * n] };
}

function expectFormatError(fn: () => unknown, message: RegExp): void {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error, `expected a FormatError matching ${message}`).toBeInstanceOf(FormatError);
  expect((error as Error).message).toMatch(message);
}

// ================================================================ safetensors

describe("safetensors", () => {
  it("round-trips tensors of every written dtype and string metadata", () => {
    const w = Float32Array.from({ length: 12 }, (_, i) => i / 7 - 0.5);
    const bytes = encodeSafetensors(
      [
        { name: "w", shape: [3, 4], data: w },
        { name: "d", shape: [2], data: new Float64Array([1 / 3, -2]) },
        { name: "i", shape: [1, 3], data: new Int32Array([-1, 0, 2 ** 31 - 1]) },
        { name: "u", shape: [2], data: new Uint8Array([0, 255]) },
        { name: "empty", shape: [0, 5], data: new Float32Array(0) },
        { name: "scalar", shape: [], data: new Float32Array([7]) },
      ],
      { note: "hello", "ünï": "☃" },
    );
    const { tensors, metadata } = decodeSafetensors(bytes);
    expect(metadata).toEqual({ note: "hello", "ünï": "☃" });
    expect(tensors.get("w")).toEqual({ dtype: "F32", shape: [3, 4], data: w });
    expect(tensors.get("d")).toEqual({ dtype: "F64", shape: [2], data: new Float32Array([1 / 3, -2]) });
    expect(tensors.get("i")).toEqual({ dtype: "I32", shape: [1, 3], data: new Int32Array([-1, 0, 2 ** 31 - 1]) });
    expect(tensors.get("u")).toEqual({ dtype: "U8", shape: [2], data: new Uint8Array([0, 255]) });
    expect(tensors.get("empty")).toEqual({ dtype: "F32", shape: [0, 5], data: new Float32Array(0) });
    expect(tensors.get("scalar")?.data).toEqual(new Float32Array([7]));
  });

  it("writes a space-padded header of a multiple of 8 bytes, tensors sorted by name, data contiguous", () => {
    const t = (name: string, n: number) => ({ name, shape: [n], data: new Float32Array(n).fill(n) });
    const bytes = encodeSafetensors([t("b", 1), t("a.10", 2), t("a.2", 3)], { z: "1", a: "2" });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    const json =
      '{"__metadata__":{"a":"2","z":"1"},' +
      '"a.10":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
      '"a.2":{"dtype":"F32","shape":[3],"data_offsets":[8,20]},' +
      '"b":{"dtype":"F32","shape":[1],"data_offsets":[20,24]}}';
    expect(n).toBe(Math.ceil(json.length / 8) * 8);
    expect(header).toBe(json.padEnd(n, " "));
    expect(bytes.length).toBe(8 + n + 24);
    // Same input, same bytes; input order does not matter.
    expect(encodeSafetensors([t("a.2", 3), t("b", 1), t("a.10", 2)], { a: "2", z: "1" })).toEqual(bytes);
    expect([...decodeSafetensors(bytes).tensors.keys()]).toEqual(["a.10", "a.2", "b"]);
  });

  it("omits __metadata__ when there is none and reads files whose header has none", () => {
    const bytes = encodeSafetensors([{ name: "x", shape: [1], data: new Float32Array([1]) }]);
    expect(new TextDecoder().decode(bytes)).not.toContain("__metadata__");
    expect(decodeSafetensors(bytes).metadata).toEqual({});
    expect(decodeSafetensors(rawSafetensors({ __metadata__: null })).metadata).toEqual({});
  });

  it("reads a header that is not padded, at any byte offset of any buffer", () => {
    const file = rawSafetensors({ x: f32Entry([2], 0) }, new Uint8Array(new Float32Array([1.5, -2]).buffer));
    const shifted = new Uint8Array(file.length + 3);
    shifted.set(file, 3);
    expect(decodeSafetensors(shifted.subarray(3)).tensors.get("x")?.data).toEqual(new Float32Array([1.5, -2]));
  });

  it("converts every F16 value to f32 exactly, by bit manipulation", () => {
    const out = new Float32Array(1);
    const bits = new Uint32Array(out.buffer);
    for (let h = 0; h < 0x10000; h++) {
      const sign = h & 0x8000 ? -1 : 1;
      const e = (h >> 10) & 0x1f;
      const m = h & 0x3ff;
      const expected = e === 0 ? sign * m * 2 ** -24 : e === 31 ? (m ? NaN : sign * Infinity) : sign * (1 + m / 1024) * 2 ** (e - 15);
      bits[0] = f16ToF32Bits(h);
      if (Number.isNaN(expected)) expect(Number.isNaN(out[0])).toBe(true);
      else if (out[0] !== expected || 1 / out[0]! !== 1 / expected) expect.fail(`half 0x${h.toString(16)}: ${out[0]} ≠ ${expected}`);
    }
  });

  it("decodes F16, BF16, F64 to f32 and the integer types to their typed arrays", () => {
    const data = new Uint8Array(64);
    const v = new DataView(data.buffer);
    [0x3c00, 0xc000, 0x0001, 0x7c00].forEach((h, i) => v.setUint16(2 * i, h, true)); // F16 at 0..8
    [0x3f80, 0xc0a0].forEach((h, i) => v.setUint16(8 + 2 * i, h, true)); // BF16 at 8..12 (1, -5)
    v.setFloat64(16, 0.1, true); // F64 at 16..24
    v.setBigInt64(24, -5n, true); // I64 at 24..32
    v.setBigUint64(32, 2n ** 63n, true); // U64 at 32..40
    v.setInt16(40, -300, true); // I16 at 40..42
    v.setUint16(42, 60000, true); // U16 at 42..44
    v.setUint32(44, 4e9, true); // U32 at 44..48
    data.set([0xff, 1, 0], 48); // I8 at 48, BOOL at 49..51
    const { tensors } = decodeSafetensors(
      rawSafetensors(
        {
          h: { dtype: "F16", shape: [4], data_offsets: [0, 8] },
          b: { dtype: "BF16", shape: [2], data_offsets: [8, 12] },
          pad: { dtype: "U8", shape: [4], data_offsets: [12, 16] },
          d: { dtype: "F64", shape: [1], data_offsets: [16, 24] },
          l: { dtype: "I64", shape: [1], data_offsets: [24, 32] },
          ul: { dtype: "U64", shape: [1], data_offsets: [32, 40] },
          s: { dtype: "I16", shape: [1], data_offsets: [40, 42] },
          us: { dtype: "U16", shape: [1], data_offsets: [42, 44] },
          ui: { dtype: "U32", shape: [1], data_offsets: [44, 48] },
          c: { dtype: "I8", shape: [1], data_offsets: [48, 49] },
          ok: { dtype: "BOOL", shape: [2], data_offsets: [49, 51] },
          rest: { dtype: "U8", shape: [13], data_offsets: [51, 64] },
        },
        data,
      ),
    );
    expect(tensors.get("h")?.data).toEqual(new Float32Array([1, -2, 2 ** -24, Infinity]));
    expect(tensors.get("b")?.data).toEqual(new Float32Array([1, -5]));
    expect(tensors.get("d")?.data).toEqual(new Float32Array([0.1]));
    expect(tensors.get("l")?.data).toEqual(new BigInt64Array([-5n]));
    expect(tensors.get("ul")?.data).toEqual(new BigUint64Array([2n ** 63n]));
    expect(tensors.get("s")?.data).toEqual(new Int16Array([-300]));
    expect(tensors.get("us")?.data).toEqual(new Uint16Array([60000]));
    expect(tensors.get("ui")?.data).toEqual(new Uint32Array([4e9]));
    expect(tensors.get("c")?.data).toEqual(new Int8Array([-1]));
    expect(tensors.get("ok")).toEqual({ dtype: "BOOL", shape: [2], data: new Uint8Array([1, 0]) });
  });

  const valid = () =>
    encodeSafetensors(
      [
        { name: "a", shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) },
        { name: "b", shape: [3], data: new Float32Array([5, 6, 7]) },
      ],
      { k: "v" },
    );

  it.each([
    ["a file shorter than the length field", () => new Uint8Array(5), /truncated: 5 bytes/],
    [
      "a header length larger than the file",
      () => {
        const f = valid();
        new DataView(f.buffer).setUint32(0, f.length, true);
        return f;
      },
      /header length \d+ is larger than the file/,
    ],
    [
      "a header length with the high 32 bits set",
      () => {
        const f = valid();
        new DataView(f.buffer).setUint32(4, 1, true);
        return f;
      },
      /header length 42949\d+ is larger than the file/,
    ],
    ["a header that is not UTF-8", () => rawSafetensors("{}").map((b, i) => (i === 8 ? 0xff : b)), /not valid UTF-8/],
    ["a header that is not JSON", () => rawSafetensors('{"a": '), /not valid JSON/],
    ["a header that is an array", () => rawSafetensors("[]"), /must be a JSON object of tensors; got an array/],
    ["a header that is null", () => rawSafetensors("null"), /must be a JSON object of tensors; got null/],
    ["a header that is a number", () => rawSafetensors("8"), /must be a JSON object of tensors; got number/],
    ["a tensor entry that is not an object", () => rawSafetensors({ a: 1 }), /tensor "a" must be an object \{ dtype, shape, data_offsets \}/],
    ["an unknown dtype", () => rawSafetensors({ a: { dtype: "F128", shape: [1], data_offsets: [0, 16] } }, 16), /tensor "a" has unknown dtype "F128"/],
    [
      "an unsupported dtype",
      () => rawSafetensors({ a: { dtype: "F8_E4M3", shape: [1], data_offsets: [0, 1] } }, 1),
      /tensor "a" has unsupported dtype "F8_E4M3"/,
    ],
    ["a missing dtype", () => rawSafetensors({ a: { shape: [1], data_offsets: [0, 4] } }, 4), /unknown dtype undefined/],
    ["a shape that is not an array", () => rawSafetensors({ a: { dtype: "F32", shape: 3, data_offsets: [0, 12] } }, 12), /shape must be an array/],
    ["a negative size", () => rawSafetensors({ a: { dtype: "F32", shape: [-1], data_offsets: [0, 0] } }), /shape\[0\] = -1 is not a size/],
    ["a fractional size", () => rawSafetensors({ a: { dtype: "F32", shape: [1.5], data_offsets: [0, 6] } }, 6), /shape\[0\] = 1.5 is not a size/],
    ["a size given as a string", () => rawSafetensors({ a: { dtype: "F32", shape: ["2"], data_offsets: [0, 8] } }, 8), /shape\[0\] = "2" is not a size/],
    [
      "a size beyond 2^53",
      () => rawSafetensors('{"a":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,4]}}', 4),
      /shape\[0\] = 18446744073709552000 is not a size/,
    ],
    [
      "sizes whose product overflows",
      () => rawSafetensors({ a: { dtype: "F32", shape: [2 ** 26, 2 ** 26, 2 ** 26], data_offsets: [0, 4] } }, 4),
      /needs more bytes than the data buffer holds \(4\)/,
    ],
    [
      "a huge declared size",
      () => rawSafetensors({ a: { dtype: "F64", shape: [1e15], data_offsets: [0, 8e15] } }, 8),
      /needs more bytes than the data buffer holds/,
    ],
    ["data_offsets of the wrong form", () => rawSafetensors({ a: { dtype: "F32", shape: [1], data_offsets: [0] } }, 4), /data_offsets must be \[begin, end\]/],
    ["negative data_offsets", () => rawSafetensors({ a: { dtype: "F32", shape: [0], data_offsets: [-4, 0] } }, 4), /data_offsets must be \[begin, end\]/],
    ["data_offsets that end before they begin", () => rawSafetensors({ a: { dtype: "F32", shape: [0], data_offsets: [4, 0] } }, 4), /end before they begin/],
    [
      "data_offsets that do not match the shape",
      () => rawSafetensors({ a: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, 16),
      /span 8 bytes, but shape \[3\] of F32 needs 12/,
    ],
    [
      "data_offsets past the end",
      () => rawSafetensors({ a: { dtype: "F32", shape: [3], data_offsets: [4, 16] } }, 12),
      /data_offsets \[4, 16\] run past the end of the data buffer \(12 bytes/,
    ],
    [
      "overlapping tensors",
      () => rawSafetensors({ a: f32Entry([2], 0), b: f32Entry([2], 4) }, 12),
      /tensor "b" \(bytes 4–12\) overlaps tensor "a" \(which ends at 8\)/,
    ],
    [
      "a zero-size tensor inside another",
      () => rawSafetensors({ a: f32Entry([2], 0), z: { dtype: "F32", shape: [0], data_offsets: [4, 4] } }, 8),
      /tensor "z" .* overlaps tensor "a"/,
    ],
    ["a gap between tensors", () => rawSafetensors({ a: f32Entry([1], 0), b: f32Entry([1], 8) }, 12), /gap in the data buffer: bytes 4–8 before tensor "b"/],
    ["a gap before the first tensor", () => rawSafetensors({ a: f32Entry([1], 4) }, 8), /gap in the data buffer: bytes 0–4/],
    ["trailing bytes", () => rawSafetensors({ a: f32Entry([1], 0) }, 6), /2 trailing bytes after the last tensor's data/],
    ["data but no tensors", () => rawSafetensors({}, 3), /3 trailing bytes/],
    ["metadata that is not an object", () => rawSafetensors({ __metadata__: ["x"] }), /__metadata__ must be an object of strings; got \["x"\]/],
    ["a metadata value that is not a string", () => rawSafetensors({ __metadata__: { epochs: 3 } }), /__metadata__\["epochs"\] must be a string; got 3/],
    ["a file truncated inside the data", () => valid().subarray(0, valid().length - 1), /run past the end of the data buffer .*truncated/],
    ["a file truncated inside the header", () => valid().subarray(0, 20), /header length \d+ is larger than the file/],
  ])("rejects %s", (_, make, message) => {
    expectFormatError(() => decodeSafetensors(make(), "weights.safetensors"), message);
    expectFormatError(() => decodeSafetensors(make()), /^weights.safetensors|^safetensors data: /);
  });

  it("names the file in every message", () => {
    expectFormatError(() => decodeSafetensors(new Uint8Array(3), "m.safetensors"), /^m\.safetensors: truncated/);
  });

  it("keeps a __proto__ metadata key a plain key", () => {
    const { metadata } = decodeSafetensors(rawSafetensors('{"__metadata__":{"__proto__":"x"}}'));
    expect(Object.getPrototypeOf(metadata)).toBe(Object.prototype);
    expect(Object.keys(metadata)).toEqual(["__proto__"]);
  });

  it("refuses bad arguments with ArgumentError", () => {
    expect(() => decodeSafetensors([1, 2] as unknown as Uint8Array)).toThrow(ArgumentError);
    const x = { name: "x", shape: [2], data: new Float32Array(2) };
    expect(() => encodeSafetensors([x, x])).toThrow(/two tensors are named "x"/);
    expect(() => encodeSafetensors([{ ...x, shape: [3] }])).toThrow(/shape \[3\] holds 3 values but data has 2/);
    expect(() => encodeSafetensors([{ ...x, name: "__metadata__" }])).toThrow(ArgumentError);
    expect(() => encodeSafetensors([{ ...x, data: [1, 2] as unknown as Float32Array }])).toThrow(/data must be a Float32Array/);
    expect(() => encodeSafetensors([x], { n: 3 as unknown as string })).toThrow(/metadata\["n"\] must be a string/);
  });
});

// ================================================================ model files

/** A small stack with every layer kind, trained a few steps so that no weight is at its initial value. */
async function trainedModel(seed = 3): Promise<Sequential> {
  const data = blobs({ rows: 64, features: 5, classes: 3, seed });
  const model = new Sequential(
    [
      dense(5, 8),
      relu(),
      dense(8, 8),
      leakyRelu(0.05),
      dropout(0.1),
      dense(8, 6, { init: "glorot" }),
      tanh(),
      dense(6, 6),
      gelu(),
      dense(6, 6),
      sigmoid(),
      dense(6, 3),
    ],
    { seed },
  );
  await train(model, data, { epochs: 2, batchSize: 16, seed });
  return model;
}

const probe = (rows: number, features: number, seed = 9) => new TestRandom(seed).normal(rows * features, 2);

describe("model files", () => {
  it("round-trips a model: the same layers, parameter names and bit-identical logits", async () => {
    const model = await trainedModel();
    const copy = modelFromSafetensors(modelToSafetensors(model));
    expect(copy.specs).toEqual(model.specs);
    expect(copy.namedParameters()).toEqual(model.namedParameters());
    const x = probe(300, 5);
    expectSameBits(copy.logits(x), model.logits(x), "logits after a round trip");
    expectSameBits(copy.parameterBlock(), model.parameterBlock(), "parameter block");
    model.dispose();
    copy.dispose();
  });

  it("writes exactly namedParameters() as F32 tensors with PyTorch names and shapes", () => {
    const model = mlp([4, 6, 3], { seed: 1 });
    const { tensors } = decodeSafetensors(modelToSafetensors(model));
    expect([...tensors.keys()].sort()).toEqual(
      model
        .namedParameters()
        .map((p) => p.name)
        .sort(),
    );
    for (const p of model.namedParameters()) {
      expect(tensors.get(p.name)).toEqual({ dtype: "F32", shape: p.shape, data: model.getParameter(p.name) });
    }
    expect(tensors.get("0.weight")?.shape).toEqual([6, 4]);
    expect(tensors.get("2.bias")?.shape).toEqual([3]);
    model.dispose();
  });

  it("writes format, version, architecture and the extra facts as string metadata", () => {
    const model = mlp([4, 6, 3], { seed: 1, activation: "gelu", dropout: 0.2 });
    const { metadata } = decodeSafetensors(modelToSafetensors(model, { epochs: 20, temperature: 4, distilled: true, teacher: "784-512-10" }));
    expect(metadata).toEqual({
      format: "pt",
      distill_wasm_version: DISTILL_WASM_VERSION,
      architecture: JSON.stringify(model.specs),
      epochs: "20",
      temperature: "4",
      distilled: "true",
      teacher: "784-512-10",
    });
    expect(JSON.parse(metadata.architecture!)).toEqual([
      { type: "dense", inputs: 4, outputs: 6, init: "torch" },
      { type: "activation", name: "gelu" },
      { type: "dropout", p: 0.2 },
      { type: "dense", inputs: 6, outputs: 3, init: "torch" },
    ]);
    expect(() => modelToSafetensors(model, { format: "x" })).toThrow(OptionError);
    expect(() => modelToSafetensors(model, { architecture: "x" })).toThrow(/written by the library/);
    expect(() => modelToSafetensors(model, { list: [1] as unknown as string })).toThrow(/must be a string, number or boolean/);
    model.dispose();
  });

  it("records the task: regression and multilabel are written, a classifier's file stays as before; reading refuses an unknown task", async () => {
    const x = new TestRandom(21).normal(3 * 4, 1);
    for (const task of ["classification", "regression", "multilabel"] as const) {
      const model = mlp([4, 5, 2], { seed: 21, task });
      const bytes = modelToSafetensors(model, { note: "n" });
      const { metadata } = decodeSafetensors(bytes);
      expect(metadata.task).toBe(task === "classification" ? undefined : task);
      const loaded = modelFromSafetensors(bytes);
      expect(loaded.task).toBe(task);
      expectSameBits(loaded.logits(x), model.logits(x), `${task} logits`);
      expect(loaded.predict(x)).toEqual(model.predict(x));
      // The options still override the file (a file from elsewhere may be marked by its reader).
      expect(modelFromSafetensors(bytes, { task: "regression" }).task).toBe("regression");
      expect(modelFromSafetensors(bytes, { multiLabel: true }).task).toBe("multilabel");
      loaded.dispose();
      model.dispose();
    }
    // A classifier's file is byte for byte what it was before files recorded the task.
    const classifier = mlp([4, 5, 2], { seed: 22 });
    const legacy = decodeSafetensors(modelToSafetensors(classifier));
    expect(Object.keys(legacy.metadata).sort()).toEqual(["architecture", "distill_wasm_version", "format"]);
    const tensors = [...legacy.tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data as Float32Array }));
    const rewrite = (task: string) => encodeSafetensors(tensors, { ...legacy.metadata, task });
    expect(modelFromSafetensors(rewrite("classification")).task).toBe("classification");
    expect(() => modelFromSafetensors(rewrite("ranking"), {}, "ranker.safetensors")).toThrow(FormatError);
    expect(() => modelFromSafetensors(rewrite("ranking"), {}, "ranker.safetensors")).toThrow(
      /ranker\.safetensors: the task metadata must be one of "classification", "regression", "multilabel"; got "ranking"/,
    );
    expect(() => modelToSafetensors(classifier, { task: "regression" })).toThrow(/"task" is written by the library/);
    expect(() => modelFromSafetensors(modelToSafetensors(classifier), { task: "ranking" } as never)).toThrow(OptionError);
    classifier.dispose();
  });

  it("keeps DISTILL_WASM_VERSION equal to package.json's version", () => {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
    expect(DISTILL_WASM_VERSION).toBe(pkg.version);
  });

  it("passes the seed and engine options to the new model", () => {
    const model = mlp([3, 2], { seed: 4 });
    const copy = modelFromSafetensors(modelToSafetensors(model), { seed: 11, engine });
    expect(copy.engine).toBe(engine);
    expect(copy.getParameter("0.weight")).toEqual(model.getParameter("0.weight"));
    model.dispose();
    copy.dispose();
  });

  // ------------------------------------------------ files without metadata (PyTorch state_dicts)

  const weights = (shapes: Record<string, number[]>, seed = 1) =>
    Object.entries(shapes).map(([name, shape]) => ({
      name,
      shape,
      data: new TestRandom(seed++).normal(shape.reduce((a, b) => a * b, 1)),
    }));
  const stateDict = (shapes: Record<string, number[]>) => encodeSafetensors(weights(shapes));
  const mlpShapes = { "0.weight": [6, 4], "0.bias": [6], "2.weight": [5, 6], "2.bias": [5], "4.weight": [3, 5], "4.bias": [3] };

  it("infers Linear layers with ReLU between them from PyTorch names", () => {
    const model = modelFromSafetensors(stateDict(mlpShapes));
    expect(model.specs).toEqual([dense(4, 6), relu(), dense(6, 5), relu(), dense(5, 3)]);
    for (const t of weights(mlpShapes)) expect(model.getParameter(t.name)).toEqual(t.data);
    model.dispose();
  });

  it("uses the activation option, and dropout for further parameter-free layers", () => {
    const tanhModel = modelFromSafetensors(stateDict(mlpShapes), { activation: "tanh" });
    expect(tanhModel.specs).toEqual([dense(4, 6), tanh(), dense(6, 5), tanh(), dense(5, 3)]);
    const linear = modelFromSafetensors(stateDict(mlpShapes), { activation: "none" });
    expect(linear.specs).toEqual([dense(4, 6), dropout(0), dense(6, 5), dropout(0), dense(5, 3)]);
    // Flatten at 0; Linear, ReLU, Dropout, Linear; then two consecutive Linear layers.
    const gaps = modelFromSafetensors(stateDict({ "1.weight": [6, 4], "1.bias": [6], "4.weight": [5, 6], "4.bias": [5], "5.weight": [2, 5], "5.bias": [2] }));
    expect(gaps.specs).toEqual([dropout(0), dense(4, 6), relu(), dropout(0), dense(6, 5), dense(5, 2)]);
    expect(gaps.namedParameters().map((p) => p.name)).toEqual(["1.weight", "1.bias", "4.weight", "4.bias", "5.weight", "5.bias"]);
    for (const m of [tanhModel, linear, gaps]) m.dispose();
    expect(() => modelFromSafetensors(stateDict(mlpShapes), { activation: "swish" as "relu" })).toThrow(OptionError);
  });

  it("accepts one common prefix (a Sequential held as an attribute)", () => {
    const model = modelFromSafetensors(stateDict({ "net.0.weight": [3, 2], "net.0.bias": [3], "net.2.weight": [2, 3], "net.2.bias": [2] }));
    expect(model.specs).toEqual([dense(2, 3), relu(), dense(3, 2)]);
    expect(model.getParameter("2.bias")).toEqual(weights({ "net.0.weight": [3, 2], "net.0.bias": [3], "net.2.weight": [2, 3], "net.2.bias": [2] })[3]!.data);
    model.dispose();
  });

  it("reads F16, BF16 and F64 weights", () => {
    const half = new Uint8Array(2 * 6 + 2 * 3);
    const v = new DataView(half.buffer);
    [0x3c00, 0x3800, 0xbc00, 0, 0x4000, 0x3400].forEach((h, i) => v.setUint16(2 * i, h, true)); // 1, .5, -1, 0, 2, .25
    [0x3f80, 0, 0xbf80].forEach((h, i) => v.setUint16(12 + 2 * i, h, true)); // BF16 1, 0, -1
    const model = modelFromSafetensors(
      rawSafetensors(
        {
          "0.weight": { dtype: "F16", shape: [3, 2], data_offsets: [0, 12] },
          "0.bias": { dtype: "BF16", shape: [3], data_offsets: [12, 18] },
        },
        half,
      ),
    );
    expect(model.getParameter("0.weight")).toEqual(new Float32Array([1, 0.5, -1, 0, 2, 0.25]));
    expect(model.getParameter("0.bias")).toEqual(new Float32Array([1, 0, -1]));
    model.dispose();
  });

  it.each([
    [
      "a missing tensor",
      () => encodeSafetensors(weights(mlpShapes).filter((t) => t.name !== "2.bias")),
      /missing tensor "2.bias": Linear layers without a bias/,
    ],
    ["a weight without its layer's weight", () => stateDict({ "0.bias": [3] }), /missing tensor "0.weight" \(the file has "0.bias"\)/],
    [
      "widths that do not chain",
      () => stateDict({ ...mlpShapes, "2.weight": [5, 7] }),
      /tensor "2.weight" has shape \[5, 7\]: it takes 7 inputs, but the layer before gives 6/,
    ],
    ["a 1-D weight (not a Linear layer)", () => stateDict({ "0.weight": [4], "0.bias": [4] }), /tensor "0.weight" has shape \[4\]; a Linear weight is 2-D/],
    ["an empty weight", () => stateDict({ "0.weight": [0, 4], "0.bias": [0] }), /empty shape \[0, 4\]/],
    ["a name that is not nn.Sequential's", () => stateDict({ ...mlpShapes, "bn.running_mean": [3] }), /tensor "bn.running_mean" is not named "<index>.weight"/],
    ["mixed prefixes", () => stateDict({ "a.0.weight": [3, 2], "a.0.bias": [3], "b.2.weight": [2, 3], "b.2.bias": [2] }), /different prefixes/],
    [
      "too many parameter-free layers",
      () => stateDict({ "0.weight": [3, 2], "0.bias": [3], "99.weight": [2, 3], "99.bias": [2] }),
      /layers 1–98 would hold no parameters/,
    ],
    ["no tensors", () => encodeSafetensors([]), /holds no tensors/],
    ["a bias of the wrong shape", () => stateDict({ ...mlpShapes, "4.bias": [4] }), /tensor "4.bias" has shape \[4\]; the architecture needs \[3\]/],
    [
      "an integer weight",
      () =>
        rawSafetensors({ "0.weight": { dtype: "I32", shape: [1, 1], data_offsets: [0, 4] }, "0.bias": { dtype: "I32", shape: [1], data_offsets: [4, 8] } }, 8),
      /tensor "0.weight" has dtype I32/,
    ],
    [
      "a NaN weight",
      () =>
        encodeSafetensors([
          { name: "0.weight", shape: [1, 2], data: new Float32Array([1, NaN]) },
          { name: "0.bias", shape: [1], data: new Float32Array(1) },
        ]),
      /tensor "0.weight" holds NaN at index 1/,
    ],
    [
      "an F64 weight beyond float32",
      () =>
        encodeSafetensors([
          { name: "0.weight", shape: [1, 1], data: new Float64Array([1e300]) },
          { name: "0.bias", shape: [1], data: new Float32Array(1) },
        ]),
      /holds Infinity at index 0/,
    ],
  ])("refuses a PyTorch file with %s", (_, make, message) => {
    expectFormatError(() => modelFromSafetensors(make(), {}, "torch.safetensors"), message);
  });

  describe("with architecture metadata", () => {
    const withMetadata = (architecture: string, tensors = weights({ "0.weight": [3, 2], "0.bias": [3], "2.weight": [2, 3], "2.bias": [2] })) =>
      encodeSafetensors(tensors, { format: "pt", architecture });
    const good = JSON.stringify([dense(2, 3), tanh(), dense(3, 2)]);

    it("builds the stated layers, ignoring unknown fields", () => {
      const spec = JSON.stringify([{ ...dense(2, 3), extra: 1 }, { type: "activation", name: "tanh", junk: [] }, dense(3, 2)]);
      const model = modelFromSafetensors(withMetadata(spec), { activation: "relu" });
      expect(model.specs).toEqual([dense(2, 3), tanh(), dense(3, 2)]);
      model.dispose();
    });

    it.each([
      ["invalid JSON", "[{", /architecture metadata is not valid JSON/],
      ["JSON that is not an array", '{"type":"dense"}', /must be a JSON array of layers/],
      [
        "an unknown layer type",
        JSON.stringify([dense(2, 3), { type: "conv" }, dense(3, 2)]),
        /invalid architecture metadata: Sequential: layer 1: unknown layer type "conv"/,
      ],
      ["an unknown activation", JSON.stringify([dense(2, 3), { type: "activation", name: "swish" }, dense(3, 2)]), /unknown activation "swish"/],
      ["widths that do not chain", JSON.stringify([dense(2, 3), relu(), dense(4, 2)]), /invalid architecture metadata: .*takes 4 inputs/],
      ["sizes that are not integers", JSON.stringify([dense(2, 3), relu(), { type: "dense", inputs: "3", outputs: 2 }]), /inputs must be a positive integer/],
      [
        "a huge layer the file does not hold",
        JSON.stringify([dense(2, 3), relu(), dense(3, 2), relu(), dense(2, 1e9)]),
        /missing tensor "4.weight" of shape \[1000000000, 2\]/,
      ],
      [
        "a layer whose tensor has another shape",
        JSON.stringify([dense(2, 3), relu(), dense(3, 3)]),
        /tensor "2.weight" has shape \[2, 3\]; the architecture needs \[3, 3\]/,
      ],
      ["fewer layers than tensors", JSON.stringify([dense(2, 3)]), /unexpected tensor "2.bias"|unexpected tensor "2.weight"/],
    ])("refuses %s", (_, architecture, message) => {
      expectFormatError(() => modelFromSafetensors(withMetadata(architecture)), message);
    });

    it("reads the good case", () => {
      modelFromSafetensors(withMetadata(good)).dispose();
    });

    const bagTensors = (rows: number) => weights({ "0.weight": [rows, 2], "1.weight": [2, 2], "1.bias": [2] });
    it("reads token layers: the input shape follows from the embedding", () => {
      const model = modelFromSafetensors(withMetadata(JSON.stringify([embeddingBag(5, 2, { seqLen: 3, paddingIdx: 0 }), dense(2, 2)]), bagTensors(5)));
      expect(model.inputShape).toEqual([3]);
      expect(model.specs).toEqual([embeddingBag(5, 2, { seqLen: 3, paddingIdx: 0 }), dense(2, 2)]);
      model.dispose();
    });

    it.each([
      [
        "a table of another vocabulary",
        JSON.stringify([embeddingBag(5, 2, { seqLen: 3 }), dense(2, 2)]),
        4,
        /tensor "0.weight" has shape \[4, 2\]; the architecture needs \[5, 2\]/,
      ],
      [
        "a padding id outside the vocabulary",
        JSON.stringify([embeddingBag(5, 2, { seqLen: 3, paddingIdx: 5 }), dense(2, 2)]),
        5,
        /paddingIdx must be a token id/,
      ],
      ["a token layer after another", JSON.stringify([layerNorm(3), embeddingBag(5, 2, { seqLen: 3 })]), 5, /reads token ids, so it must be the first layer/],
    ])("refuses %s", (_, architecture, rows, message) => {
      expectFormatError(() => modelFromSafetensors(withMetadata(architecture, bagTensors(rows))), message);
    });
  });

  // ------------------------------------------------ saving

  it("saves atomically, overwrites, leaves no temporary file, and loads from paths and file: URLs", async () => {
    const dir = tempDir();
    const path = join(dir, "model.safetensors");
    const first = mlp([3, 4, 2], { seed: 1 });
    const second = mlp([3, 5, 2], { seed: 2 });
    await saveModel(first, path, { run: "first" });
    expect(readdirSync(dir)).toEqual(["model.safetensors"]);
    expect(new Uint8Array(readFileSync(path))).toEqual(modelToSafetensors(first, { run: "first" }));
    await saveModel(second, path);
    expect(readdirSync(dir)).toEqual(["model.safetensors"]);
    const loaded = await loadModel(path);
    const viaUrl = await loadModel(pathToFileURL(path));
    const x = probe(10, 3);
    expectSameBits(loaded.logits(x), second.logits(x));
    expectSameBits(viaUrl.logits(x), second.logits(x));
    for (const m of [first, second, loaded, viaUrl]) m.dispose();
  });

  it("leaves the old file and no temporary file when writing fails", async () => {
    const dir = tempDir();
    mkdirSync(join(dir, "taken"));
    writeFileSync(join(dir, "taken", "x"), "keep");
    const model = mlp([2, 2]);
    // Renaming a file over a non-empty directory fails after the temporary file was written.
    await expect(saveModel(model, join(dir, "taken"))).rejects.toThrow(ArgumentError);
    expect(readdirSync(dir)).toEqual(["taken"]);
    await expect(saveModel(model, join(dir, "missing", "m.safetensors"))).rejects.toThrow(/saveModel: cannot write .*missing/);
    await expect(writeBytesAtomic("", new Uint8Array(1))).rejects.toThrow(ArgumentError);
    await expect(loadModel(join(dir, "nothing.safetensors"))).rejects.toThrow(/loadModel: no file at/);
    writeFileSync(join(dir, "bad.safetensors"), "not a model");
    await expect(loadModel(join(dir, "bad.safetensors"))).rejects.toThrow(/bad\.safetensors: header length/);
    model.dispose();
  });
});

// ================================================================ npy

/** A .npy file with a hand-written header (v1.0 unless given) and data bytes. */
function rawNpy(header: string, data: Uint8Array | number = 0, version = 1): Uint8Array {
  const body = typeof data === "number" ? new Uint8Array(data) : data;
  const h = new TextEncoder().encode(header);
  const lengthSize = version === 1 ? 2 : 4;
  const out = new Uint8Array(8 + lengthSize + h.length + body.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const v = new DataView(out.buffer);
  if (version === 1) v.setUint16(8, h.length, true);
  else v.setUint32(8, h.length, true);
  out.set(h, 8 + lengthSize);
  out.set(body, 8 + lengthSize + h.length);
  return out;
}

describe("npy", () => {
  it("round-trips f4, f8, i4 and u1 arrays of any shape", () => {
    const cases: [Float32Array | Float64Array | Int32Array | Uint8Array, number[]][] = [
      [new Float32Array([1.5, -2, 3, 4, 5, 6]), [2, 3]],
      [new Float64Array([1 / 3, 2]), [2]],
      [new Int32Array([-7, 8, 9, 10]), [2, 1, 2]],
      [new Uint8Array([0, 255]), [1, 2]],
      [new Float32Array([3.25]), []],
      [new Float32Array(0), [0]],
      [new Float32Array(0), [2, 0, 3]],
    ];
    for (const [data, shape] of cases) {
      const bytes = encodeNpy(data, shape);
      const headerLength = new DataView(bytes.buffer).getUint16(8, true);
      expect((10 + headerLength) % 64).toBe(0);
      expect(bytes[10 + headerLength - 1]).toBe(0x0a);
      const a = parseNpy(bytes);
      expect(a.shape).toEqual(shape);
      expect(a.data).toEqual(data);
      expect(a.dtype).toBe({ Float32Array: "f4", Float64Array: "f8", Int32Array: "i4", Uint8Array: "u1" }[data.constructor.name]);
    }
    expect(parseNpy(encodeNpy(new Float32Array([1, 2, 3]))).shape).toEqual([3]);
  });

  it("writes NumPy's header text", () => {
    // NumPy 1.24 writes this (printed by np.save); the interop tests compare whole files.
    const bytes = encodeNpy(new Float32Array(6), [2, 3]);
    const dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    expect(new DataView(bytes.buffer).getUint16(8, true)).toBe(118);
    expect(new TextDecoder().decode(bytes.subarray(10, 128))).toBe(`${dict.padEnd(117, " ")}\n`);
    expect(new TextDecoder().decode(encodeNpy(new Int32Array(1), [1]).subarray(10, 70))).toContain("'shape': (1,), }");
  });

  it("reads hand-written headers: both quote styles, no trailing comma, spaces, big-endian and half data", () => {
    const be = new Uint8Array(8);
    new DataView(be.buffer).setFloat32(0, 1.5);
    new DataView(be.buffer).setFloat32(4, -2);
    expect(parseNpy(rawNpy(`{"shape":(2,),"fortran_order":False,"descr":">f4"}`, be))).toEqual({ dtype: "f4", shape: [2], data: new Float32Array([1.5, -2]) });
    const half = new Uint8Array([0x00, 0x3c, 0x00, 0xc0]);
    expect(parseNpy(rawNpy(`{ 'descr' : '<f2' , 'fortran_order' : False , 'shape' : ( 1 , 2 , ) }  \n`, half)).data).toEqual(new Float32Array([1, -2]));
    expect(parseNpy(rawNpy(`{'descr': '>i2', 'fortran_order': False, 'shape': (1,), }`, new Uint8Array([0xff, 0xfe]))).data).toEqual(new Int16Array([-2]));
    expect(parseNpy(rawNpy(`{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }`, new Uint8Array([1, 0]))).data).toEqual(new Uint8Array([1, 0]));
    expect(parseNpy(rawNpy(`{'descr': '<u8', 'fortran_order': False, 'shape': (), }`, new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0x80]))).data).toEqual(
      new BigUint64Array([2n ** 63n + 1n]),
    );
    expect(parseNpy(rawNpy(`{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }`, new Uint8Array([5, 0, 0, 0]), 2)).data).toEqual(new Int32Array([5]));
    expect(parseNpy(rawNpy(`{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }`, new Uint8Array([5, 0, 0, 0]), 3)).data).toEqual(new Int32Array([5]));
  });

  const f4Header = (shape: string) => `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
  it.each([
    ["a short file", () => new Uint8Array(9), /truncated: 9 bytes/],
    ["bad magic", () => latin("\x93NUMPZ\x01\x00\x00\x00"), /bad magic string/],
    ["version 4.0", () => rawNpy(f4Header("(1,)"), 4).map((b, i) => (i === 6 ? 4 : b)), /unsupported format version 4.0/],
    ["version 1.1", () => rawNpy(f4Header("(1,)"), 4).map((b, i) => (i === 7 ? 1 : b)), /unsupported format version 1.1/],
    ["a truncated v2 preamble", () => rawNpy(f4Header("(1,)"), 0, 2).subarray(0, 11), /truncated: 11 bytes, but a version 2.0 preamble has 12/],
    ["a header length past the end", () => rawNpy(f4Header("(1,)"), 4).subarray(0, 30), /header length \d+ runs past the end of the file/],
    ["Fortran order", () => rawNpy(`{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }`, 16), /Fortran \(column-major\) order, which is not supported/],
    [
      "a structured dtype",
      () => rawNpy(`{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }`, 4),
      /malformed header dict: expected a quoted string/,
    ],
    ["a complex dtype", () => rawNpy(`{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }`, 8), /unsupported dtype "<c8"/],
    ["a multi-byte type without byte order", () => rawNpy(`{'descr': '|f4', 'fortran_order': False, 'shape': (1,), }`, 4), /has no byte order/],
    ["a missing key", () => rawNpy(`{'descr': '<f4', 'shape': (1,), }`, 4), /has keys \{descr, shape\}; expected exactly/],
    ["an extra key", () => rawNpy(`{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 'y'}`, 4), /has keys \{descr, fortran_order, shape, x\}/],
    ["a duplicate key", () => rawNpy(`{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}`, 4), /duplicate key "descr"/],
    ["a one-element shape without its comma", () => rawNpy(f4Header("(3)"), 12), /shape \(n\) is not a tuple/],
    ["a negative size", () => rawNpy(f4Header("(-1,)"), 0), /negative size/],
    ["a size with a suffix", () => rawNpy(f4Header("(3L,)"), 12), /expected a size/],
    ["a size with leading zeros", () => rawNpy(f4Header("(03,)"), 12), /expected a size/],
    ["a shape given as a list", () => rawNpy(f4Header("[3]"), 12), /expected a quoted string/],
    ["fortran_order as a string", () => rawNpy(`{'descr': '<f4', 'fortran_order': 'no', 'shape': (1,)}`, 4), /fortran_order must be True or False/],
    ["descr as a tuple", () => rawNpy(`{'descr': (4,), 'fortran_order': False, 'shape': (1,)}`, 4), /descr must be a string/],
    ["code instead of a dict", () => rawNpy(`__import__('os').system('echo')`, 0), /malformed header dict: expected "\{"/],
    ["text after the dict", () => rawNpy(`${f4Header("(1,)")} x`, 4), /unexpected text after the header dict/],
    ["an unterminated string", () => rawNpy(`{'descr: '<f4'`, 0), /malformed header dict/],
    ["an unterminated dict", () => rawNpy(`{'descr': '<f4', 'fortran_order': False, 'shape': (1,)`, 4), /expected "," or "\}"/],
    ["a non-ASCII byte in a v1 header", () => rawNpy(f4Header("(1,)").replace("f4'", "f4é'"), 4), /not ASCII/],
    [
      "a non-UTF-8 v3 header",
      () => {
        const f = rawNpy(f4Header("(1,)"), 4, 3);
        f[14] = 0xff;
        return f;
      },
      /not valid UTF-8/,
    ],
    [
      "truncated data",
      () => encodeNpy(new Float32Array(4), [2, 2]).subarray(0, 140),
      /shape \(2, 2\) of f4 needs 16 data bytes, but the file has 12 \(truncated\?\)/,
    ],
    ["trailing bytes", () => rawNpy(f4Header("(1,)"), 6), /needs 4 data bytes, but the file has 6 \(trailing bytes\)/],
    ["a huge declared size", () => rawNpy(f4Header("(9007199254740991, 9007199254740991)"), 4), /needs more data bytes, but the file has 4/],
    ["a size beyond 2^53", () => rawNpy(f4Header("(18446744073709551616,)"), 4), /size 18446744073709551616 at character \d+ is too large/],
  ])("rejects %s", (_, make, message) => {
    expectFormatError(() => parseNpy(make(), "a.npy"), message);
  });

  it("loads teacher logits from bytes and paths, f4 or f8, checking the shape", async () => {
    const logits = new Float32Array([1, 2, 3, 4, 5, 6]);
    expect(await loadTeacherLogits(encodeNpy(logits, [3, 2]))).toEqual(logits);
    expect(await loadTeacherLogits(encodeNpy(Float64Array.from(logits), [3, 2]), { rows: 3, classes: 2 })).toEqual(logits);
    const dir = tempDir();
    writeFileSync(join(dir, "t.npy"), encodeNpy(logits, [2, 3]));
    expect(await loadTeacherLogits(join(dir, "t.npy"), { classes: 3 })).toEqual(logits);
    await expect(loadTeacherLogits(join(dir, "t.npy"), { rows: 3 })).rejects.toThrow(ShapeError);
    await expect(loadTeacherLogits(join(dir, "t.npy"), { classes: 2 })).rejects.toThrow(/t\.npy holds logits of shape \(2, 3\), but classes = 2 was expected/);
    await expect(loadTeacherLogits(encodeNpy(logits))).rejects.toThrow(/must be 2-D \(rows, classes\); got shape \(6\)/);
    await expect(loadTeacherLogits(encodeNpy(new Int32Array(4), [2, 2]))).rejects.toThrow(/must be floats \(f2, f4 or f8\); got i4/);
    await expect(loadTeacherLogits(encodeNpy(new Float32Array(0), [0, 3]))).rejects.toThrow(/are empty/);
    await expect(loadTeacherLogits(encodeNpy(new Float32Array([1, NaN]), [1, 2]))).rejects.toThrow(NonFiniteError);
    await expect(loadTeacherLogits(encodeNpy(new Float64Array([1, 1e300]), [1, 2]))).rejects.toThrow(/contains 1e\+300 at row 0, column 1/);
  });

  it("refuses bad arguments", () => {
    expect(() => parseNpy("x" as unknown as Uint8Array)).toThrow(ArgumentError);
    expect(() => encodeNpy([1, 2] as unknown as Float32Array, [2])).toThrow(ArgumentError);
    expect(() => encodeNpy(new Float32Array(4), [3])).toThrow(/shape \(3\) holds 3 values but data has 4/);
    expect(() => encodeNpy(new Float32Array(4), [-4])).toThrow(ShapeError);
  });
});

// ================================================================ CSV and npy datasets

describe("CSV", () => {
  it("reads a header, the label in the first column and numeric features", () => {
    const d = parseCsv("label,a,b\n1,0.5,-2\n0,1e-3,+3.\n2,.25,4\n");
    expect(d.features).toBe(2);
    expect(d.classes).toBe(3);
    expect([...d.y]).toEqual([1, 0, 2]);
    expect(d.x).toEqual(new Float32Array([0.5, -2, 1e-3, 3, 0.25, 4]));
  });

  it("handles the label column by index, 'last' and name; header true / false / auto", () => {
    const text = "x1,x2,y\n1,2,0\n3,4,1\n";
    for (const labelColumn of ["last", 2, "y"] as const) {
      const d = parseCsv(text, { labelColumn });
      expect([...d.y]).toEqual([0, 1]);
      expect(d.x).toEqual(new Float32Array([1, 2, 3, 4]));
    }
    const noHeader = parseCsv("1,2,0\n3,4,1", { labelColumn: "last" });
    expect(noHeader.length).toBe(2);
    expect(parseCsv("1,2,0\n3,4,1", { header: true, labelColumn: 2 }).length).toBe(1);
    expect(() => parseCsv("a,2,0\n3,4,1", { header: false })).toThrow(/line 1, column 1: label "a" is not a number|line 1, column 1: "a" is not a number/);
    expect(parseCsv("5,6\n", { header: false, classes: 7 }).classes).toBe(7);
  });

  it("accepts CRLF, blank lines, no final newline, a BOM, quotes, spaces, other delimiters and integral floats as labels", () => {
    const text = '\ufeff"label";"a;b";"c ""q"""\r\n\r\n  \r\n 1 ; "2.5" ;3\r\n\n"0"; -1;  4e1 \r\n2.0;0;0';
    const d = parseCsv(text, { delimiter: ";" });
    expect([...d.y]).toEqual([1, 0, 2]);
    expect(d.x).toEqual(new Float32Array([2.5, 3, -1, 40, 0, 0]));
    expect(parseCsv("y\tx\n1\t2\n", { delimiter: "\t" }).x).toEqual(new Float32Array([2]));
    expect(parseCsv('"1"\t"2" \t 3\n', { delimiter: "\t", header: false }).x).toEqual(new Float32Array([2, 3]));
    expect(parseCsv('1 "2" 3', { delimiter: " ", header: false }).x).toEqual(new Float32Array([2, 3]));
    expect(parseCsv('y,"multi\nline"\n1,2\n', { labelColumn: "y" }).length).toBe(1);
  });

  it.each([
    ["a non-numeric value", "y,a,b\n1,2,3\n0,x,3\n", {}, /line 3, column 2: "x" \("a"\) is not a number/],
    ["an empty value", "y,a,b\n1,,3\n", {}, /line 2, column 2: empty value \("a"\)/],
    ["NaN", "1,NaN\n", { header: false }, /line 1, column 2: "NaN" is not a number/],
    ["a value beyond float32", "1,1e39\n", {}, /line 1, column 2: 1e39 is outside the float32 range/],
    ["a short row", "y,a,b\n1,2,3\n0,3\n", {}, /line 3, column 3: this record has 2 fields, but the first has 3/],
    ["a long row", "1,2\n0,3,4\n", {}, /line 2, column 3: this record has 3 fields, but the first has 2/],
    ["a negative label", "y,a\n-1,2\n", {}, /line 2, column 1: label -1 is not a class id/],
    ["a fractional label", "1,2\n0.5,2\n", {}, /line 2, column 1: label 0.5 is not a class id/],
    ["a label beyond classes", "1,2\n3,2\n", { classes: 3 }, /line 2, column 1: label 3 is not a class id: expected an integer in \[0, 3\)/],
    ["an unterminated quote", 'y,a\n1,"2\n', {}, /line 2, column 2: unterminated quoted field/],
    ["a quote inside a field", 'y,a\n1,2"3\n', {}, /line 2, column 2: a quote inside an unquoted field/],
    ["text after a closing quote", 'y,a\n1,"2"3\n', {}, /line 2, column 2: unexpected "3" after a closing quote/],
    ["line numbers after a quoted line break", 'y,"a\nb"\n1,2\n1,x\n', {}, /line 4, column 2: "x" \("a\\nb"\)/],
    ["a single column", "1\n2\n", {}, /has 1 column; a dataset needs a label and at least one feature/],
    ["no data rows", "y,a\n\n", {}, /no data rows/],
    ["empty text", "", {}, /no data rows/],
  ])("reports %s with its line and column", (_, text, options, message) => {
    expectFormatError(() => parseCsv(text, options, "data.csv"), message);
  });

  it("refuses bad options with OptionError", () => {
    expect(() => parseCsv("y,a\n1,2", { labelColumn: "z" })).toThrow(/no column named "z"; the columns are "y", "a"/);
    expect(() => parseCsv("y,y\n1,2", { labelColumn: "y" })).toThrow(/names two columns "y"/);
    expect(() => parseCsv("1,2", { labelColumn: "y", header: false })).toThrow(OptionError);
    expect(() => parseCsv("1,2", { labelColumn: "y" })).toThrow(/has no header/);
    expect(() => parseCsv("1,2", { labelColumn: 2 })).toThrow(/labelColumn 2 is not a column index/);
    expect(() => parseCsv("1,2", { delimiter: '"' })).toThrow(OptionError);
    expect(() => parseCsv("1,2", { header: "yes" as "auto" })).toThrow(OptionError);
  });

  it("loads files, refusing invalid UTF-8", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "d.csv"), "y,a\n1,2\n0,3\n");
    expect((await loadCsv(join(dir, "d.csv"))).length).toBe(2);
    writeFileSync(join(dir, "bad.csv"), Buffer.from([0x31, 0x2c, 0xff, 0x0a]));
    await expect(loadCsv(join(dir, "bad.csv"))).rejects.toThrow(/bad\.csv: not valid UTF-8/);
    writeFileSync(join(dir, "ragged.csv"), "y,a\n1\n");
    await expect(loadCsv(join(dir, "ragged.csv"))).rejects.toThrow(/ragged\.csv: line 2, column 2/);
  });
});

describe("npy datasets", () => {
  it("reads x (n, ...) of f4 / f8 / u1 and y of an integer type, keeping u1 values", async () => {
    const x = encodeNpy(new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]), [2, 2, 2]);
    const y = rawNpy(`{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }`, new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]));
    const d = await loadNpyDataset(x, y);
    expect(d.features).toBe(4);
    expect([...d.y]).toEqual([1, 3]);
    expect(d.classes).toBe(4);
    const pixels = await loadNpyDataset(encodeNpy(new Uint8Array([0, 255, 128, 7]), [2, 2]), encodeNpy(new Int32Array([0, 1])), { classes: 10 });
    expect(pixels.x).toEqual(new Float32Array([0, 255, 128, 7]));
    expect(pixels.classes).toBe(10);
    const dir = tempDir();
    writeFileSync(join(dir, "x.npy"), encodeNpy(new Float64Array([0.5, 1.5]), [2, 1]));
    writeFileSync(join(dir, "y.npy"), encodeNpy(new Uint8Array([1, 0])));
    expect((await loadNpyDataset(join(dir, "x.npy"), join(dir, "y.npy"))).x).toEqual(new Float32Array([0.5, 1.5]));
    expect(existsSync(join(dir, "x.npy"))).toBe(true);
  });

  it.each([
    ["integer features", encodeNpy(new Int32Array(4), [2, 2]), encodeNpy(new Int32Array(2)), /x: features must be f2, f4, f8 or u1; got i4/],
    ["1-D features", encodeNpy(new Float32Array(2)), encodeNpy(new Int32Array(2)), /x: features must be at least 2-D/],
    ["float labels", encodeNpy(new Float32Array(2), [2, 1]), encodeNpy(new Float32Array(2)), /y: labels must be integers/],
    ["2-D labels", encodeNpy(new Float32Array(2), [2, 1]), encodeNpy(new Int32Array(2), [2, 1]), /y: labels must be 1-D/],
    ["counts that differ", encodeNpy(new Float32Array(3), [3, 1]), encodeNpy(new Int32Array(2)), /x holds 3 rows but y holds 2 labels/],
    ["negative labels", encodeNpy(new Float32Array(2), [2, 1]), encodeNpy(new Int32Array([0, -1])), /y: label -1 at index 1 is not a class id/],
    ["no rows", encodeNpy(new Float32Array(0), [0, 2]), encodeNpy(new Int32Array(0)), /x: no rows/],
  ])("refuses %s", async (_, x, y, message) => {
    await expect(loadNpyDataset(x, y)).rejects.toThrow(message);
    await expect(loadNpyDataset(x, y)).rejects.toThrow(FormatError);
  });
});

describe("model files hold sound models only", () => {
  it("a model with a non-finite weight is not written (NonFiniteError naming the tensor)", () => {
    const m = mlp([4, 6, 3], { seed: 1 });
    const w = m.getParameter("2.weight");
    // setParameter refuses non-finite values, so write through the parameter block as a runaway update would.
    const p = m.namedParameters().find((q) => q.name === "2.weight")!;
    m.engine.f32(m.paramsPtr + p.offset * 4, w.length)[5] = Infinity;
    expect(() => modelToSafetensors(m)).toThrow(NonFiniteError);
    expect(() => modelToSafetensors(m)).toThrow(/tensor "2\.weight" holds Infinity at index 5/);
    m.dispose();
  });

  it("a batch-norm running variance below zero is refused on load (it would make every prediction the same class)", async () => {
    const { batchNorm } = await import("../../src/index.js");
    const m = new Sequential([dense(4, 6), batchNorm(6), relu(), dense(6, 3)], { seed: 2 });
    const bytes = modelToSafetensors(m);
    const file = decodeSafetensors(bytes);
    const tensors = [...file.tensors].map(([name, t]) => ({
      name,
      shape: t.shape,
      data: name === "1.running_var" ? Float32Array.from(t.data as Float32Array, (v, i) => (i === 2 ? -1 : v)) : (t.data as Float32Array),
    }));
    const bad = encodeSafetensors(tensors, file.metadata);
    expect(() => modelFromSafetensors(bad)).toThrow(FormatError);
    expect(() => modelFromSafetensors(bad)).toThrow(/tensor "1\.running_var" holds -1 at index 2; a variance cannot be negative/);
    m.dispose();
  });
});
