/**
 * Property-based robustness of every file parser (fast-check): safetensors, model files,
 * .npy, IDX and CSV get random bytes or text, structured headers with random field values,
 * every truncation of valid files, and random mutations of valid files. Each case must
 * either parse or throw a DistillError subclass (never a RangeError, TypeError or
 * SyntaxError), finish within a second, and allocate no ArrayBuffer larger than twice the
 * input (and at most four times the input in total). Allocations are observed by
 * replacing the typed-array and ArrayBuffer constructors (and the copying prototype
 * methods) with counting wrappers while the parser runs. Model files must also leave the
 * wasm heap as they found it. Round trips of random tensors, arrays, tables and
 * architectures check the values too. Cases run with a fixed seed (FUZZ_SEED to change
 * it, FUZZ_SCALE to run more or fewer); the number of cases is printed at the end.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DistillError, Sequential, dense, dropout, gelu, init, leakyRelu, relu, sigmoid, tanh, type Engine, type LayerSpec } from "../../src/index.js";
import { parseIdx } from "../../src/data/idx.js";
import { parseCsv } from "../../src/data/csv.js";
import { decodeSafetensors, encodeNpy, encodeSafetensors, modelFromSafetensors, modelToSafetensors, parseNpy } from "../../src/io/index.js";

const SEED = Number(process.env.FUZZ_SEED ?? 20250611);
/** Multiplies every property's number of runs (FUZZ_SCALE; default 4, about 5 s). */
const SCALE = Number(process.env.FUZZ_SCALE ?? 4);
/** Per target: cases run, and how many of them parsed without error. */
const counts = new Map<string, { cases: number; parsed: number }>();
let slowest = 0;
let engine: Engine;

beforeAll(async () => {
  engine = await init();
});

afterAll(() => {
  const total = [...counts.values()].reduce((a, b) => a + b.cases, 0);
  const parts = [...counts].map(([name, n]) => `${name} ${n.cases} (${n.parsed} parsed)`).join(", ");
  console.log(`io fuzz: ${total} cases (${parts}); seed ${SEED}; slowest case ${slowest.toFixed(1)} ms`);
});

// ---------------------------------------------------------------- allocation tracking

const TYPED_ARRAYS = [
  "Int8Array",
  "Uint8Array",
  "Uint8ClampedArray",
  "Int16Array",
  "Uint16Array",
  "Int32Array",
  "Uint32Array",
  "Float32Array",
  "Float64Array",
  "BigInt64Array",
  "BigUint64Array",
] as const;
type Ctor = { new (...args: unknown[]): ArrayBufferView; BYTES_PER_ELEMENT: number };
const g = globalThis as unknown as Record<string, unknown>;
const OriginalArrayBuffer = ArrayBuffer;
const TypedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as Record<string, (...a: unknown[]) => ArrayBufferView>;

/**
 * Runs fn with counting constructors in place of the global typed-array and ArrayBuffer
 * constructors; returns the largest single and the total number of bytes allocated.
 */
function trackAllocations(fn: () => void): { largest: number; total: number } {
  let largest = 0;
  let total = 0;
  const note = (bytes: number) => {
    largest = Math.max(largest, bytes);
    total += bytes;
  };
  const saved = new Map<string, unknown>();
  const elements = (a: unknown) =>
    typeof a === "number"
      ? a
      : a instanceof OriginalArrayBuffer || (typeof SharedArrayBuffer === "function" && a instanceof SharedArrayBuffer)
        ? 0
        : typeof (a as { length?: unknown })?.length === "number"
          ? (a as { length: number }).length
          : 0;
  for (const name of TYPED_ARRAYS) {
    const C = g[name] as Ctor;
    saved.set(name, C);
    g[name] = new Proxy(C, {
      construct(target, args, newTarget) {
        note(elements(args[0]) * target.BYTES_PER_ELEMENT);
        return Reflect.construct(target, args, newTarget);
      },
    });
  }
  saved.set("ArrayBuffer", OriginalArrayBuffer);
  g.ArrayBuffer = new Proxy(OriginalArrayBuffer, {
    construct(target, args, newTarget) {
      note(typeof args[0] === "number" ? args[0] : 0);
      return Reflect.construct(target, args, newTarget);
    },
  });
  const bufferSlice = OriginalArrayBuffer.prototype.slice;
  OriginalArrayBuffer.prototype.slice = function (this: ArrayBuffer, begin?: number, end?: number) {
    const r = bufferSlice.call(this, begin, end);
    note(r.byteLength);
    return r;
  };
  const methods = ["slice", "map", "filter"].map((m) => [m, TypedArrayPrototype[m]!] as const);
  for (const [m, original] of methods) {
    TypedArrayPrototype[m] = function (this: ArrayBufferView, ...args: unknown[]) {
      const r = original.apply(this, args);
      note(r.byteLength);
      return r;
    };
  }
  try {
    fn();
  } finally {
    for (const [name, C] of saved) g[name] = C;
    OriginalArrayBuffer.prototype.slice = bufferSlice;
    for (const [m, original] of methods) TypedArrayPrototype[m] = original;
  }
  return { largest, total };
}

/**
 * One fuzz case: `parse` may succeed or throw a DistillError; anything else fails the
 * property, as does a slow case or an allocation out of proportion to `size` (bytes or
 * chars). Returns what parse returned, or the DistillError it threw.
 */
function check<T>(target: string, size: number, parse: () => T): { value: T } | { error: DistillError } {
  const count = counts.get(target) ?? { cases: 0, parsed: 0 };
  counts.set(target, count);
  count.cases++;
  let outcome: { value: T } | { error: DistillError } | undefined;
  let unexpected: unknown;
  const start = performance.now();
  const { largest, total } = trackAllocations(() => {
    try {
      outcome = { value: parse() };
      count.parsed++;
    } catch (e) {
      if (e instanceof DistillError) outcome = { error: e };
      else unexpected = e;
    }
  });
  const ms = performance.now() - start;
  slowest = Math.max(slowest, ms);
  if (unexpected) throw unexpected; // fast-check reports and shrinks it
  if (ms > 1000) throw new Error(`${target}: a case took ${ms.toFixed(0)} ms`);
  if (largest > 2 * size + 64) throw new Error(`${target}: allocated ${largest} bytes at once for ${size} bytes of input`);
  if (total > 4 * size + 1024) throw new Error(`${target}: allocated ${total} bytes in all for ${size} bytes of input`);
  return outcome!;
}

/** The value of a case that must parse (its DistillError otherwise fails the property). */
function parsed<T>(outcome: { value: T } | { error: DistillError }): T {
  if ("error" in outcome) throw outcome.error;
  return outcome.value;
}

// ---------------------------------------------------------------- shared arbitraries and helpers

const params = (numRuns: number) => ({ numRuns: Math.max(1, Math.round(numRuns * SCALE)), seed: SEED });
const mutations = (length: number, from = 0, to = length) =>
  fc.array(fc.tuple(fc.integer({ min: from, max: Math.max(from, to - 1) }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 });

function mutate(bytes: Uint8Array, changes: readonly (readonly [number, number])[]): Uint8Array {
  const out = bytes.slice();
  for (const [i, b] of changes) if (i < out.length) out[i] = b;
  return out;
}

/** Every prefix of `bytes` (all lengths 0 … length − 1). */
function everyTruncation(target: string, bytes: Uint8Array, parse: (b: Uint8Array) => unknown): void {
  for (let n = 0; n < bytes.length; n++) {
    const prefix = bytes.slice(0, n);
    check(target, n, () => parse(prefix));
  }
}

/** A safetensors file from a header value (object or text) and `data` zero bytes. */
function rawSafetensors(header: unknown, data: number): Uint8Array {
  const text = new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + text.length + data);
  new DataView(out.buffer).setUint32(0, text.length, true);
  out.set(text, 8);
  return out;
}

it("tracks allocations (the bound is not vacuous)", () => {
  const half = rawSafetensors({ h: { dtype: "F16", shape: [100], data_offsets: [0, 200] } }, 200);
  const { largest, total } = trackAllocations(() => decodeSafetensors(half));
  expect(largest).toBe(400); // 100 halves → 100 floats
  expect(total).toBeGreaterThanOrEqual(400);
  expect(trackAllocations(() => new Float64Array(3).slice()).total).toBe(48);
  expect(Float32Array.name).toBe("Float32Array"); // restored
});

// ---------------------------------------------------------------- safetensors

describe("safetensors", () => {
  const valid = encodeSafetensors(
    [
      { name: "0.weight", shape: [3, 4], data: Float32Array.from({ length: 12 }, (_, i) => i - 6) },
      { name: "0.bias", shape: [3], data: new Float32Array([1, 2, 3]) },
      { name: "n", shape: [2], data: new Int32Array([7, -7]) },
    ],
    { note: "fuzz" },
  );
  const headerEnd = 8 + new DataView(valid.buffer).getUint32(0, true);
  const decode = (b: Uint8Array) => decodeSafetensors(b);

  it("random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => void check("safetensors", b.length, () => decode(b))),
      params(1500),
    );
  });

  it("round trips of random tensors, names and metadata", () => {
    const tensor = fc
      .tuple(fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }), fc.constantFrom("F32", "F64", "I32", "U8"), fc.nat())
      .map(([shape, dtype, seed]) => {
        const n = shape.reduce((a, b) => a * b, 1);
        const values = Array.from({ length: n }, (_, i) => ((seed + i * 7919) % 511) - 255 + (dtype[0] === "F" ? 0.25 : 0));
        const data =
          dtype === "F32"
            ? Float32Array.from(values)
            : dtype === "F64"
              ? Float64Array.from(values)
              : dtype === "I32"
                ? Int32Array.from(values)
                : Uint8Array.from(values);
        return { shape, data };
      });
    const names = fc.uniqueArray(
      fc.string({ unit: "binary", maxLength: 8 }).filter((n) => n !== "__metadata__"),
      { maxLength: 5 },
    );
    const metadata = fc.dictionary(fc.string({ unit: "binary", maxLength: 6 }), fc.string({ unit: "binary", maxLength: 10 }), { maxKeys: 3 });
    fc.assert(
      fc.property(
        names.chain((ns) => fc.tuple(fc.constant(ns), fc.array(tensor, { minLength: ns.length, maxLength: ns.length }))),
        metadata,
        ([ns, ts], meta) => {
          const tensors = ns.map((name, i) => ({ name, ...ts[i]! }));
          const bytes = encodeSafetensors(tensors, meta);
          const file = parsed(check("safetensors", bytes.length, () => decodeSafetensors(bytes)));
          expect(file.metadata).toEqual({ ...meta });
          expect([...file.tensors.keys()].sort()).toEqual([...ns].sort());
          for (const t of tensors) {
            const got = file.tensors.get(t.name)!;
            expect(got.shape).toEqual(t.shape);
            expect(Array.from(got.data as Float32Array)).toEqual(Array.from(t.data, (v) => (t.data instanceof Float64Array ? Math.fround(v) : v)));
          }
        },
      ),
      params(1500),
    );
  });

  it("random bytes after a plausible header length", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(220), (body, n) => {
        const b = new Uint8Array(8 + body.length);
        new DataView(b.buffer).setUint32(0, n, true);
        b.set(body, 8);
        check("safetensors", b.length, () => decode(b));
      }),
      params(1500),
    );
  });

  it("structured headers with random field values", () => {
    const size = fc.oneof(fc.integer({ min: -2, max: 40 }), fc.constantFrom(2 ** 31, 2 ** 53, 1e300, 0.5), fc.jsonValue());
    const entry = fc.record(
      {
        dtype: fc.oneof(fc.constantFrom("F32", "F64", "F16", "BF16", "I32", "I64", "U8", "BOOL", "F8_E4M3", "f32", ""), fc.jsonValue()),
        shape: fc.oneof(fc.array(size, { maxLength: 4 }), fc.jsonValue()),
        data_offsets: fc.oneof(fc.tuple(size, size), fc.array(size, { maxLength: 3 }), fc.jsonValue()),
      },
      { requiredKeys: [] },
    );
    const header = fc.dictionary(
      fc.oneof(fc.string({ maxLength: 6 }), fc.constant("__metadata__")),
      fc.oneof(entry, fc.dictionary(fc.string({ maxLength: 4 }), fc.oneof(fc.string(), fc.jsonValue())), fc.jsonValue()),
      { maxKeys: 4 },
    );
    fc.assert(
      fc.property(header, fc.nat(64), (h, data) => {
        const b = rawSafetensors(h, data);
        check("safetensors", b.length, () => decode(b));
      }),
      params(3000),
    );
  });

  it("every truncation of a valid file", () => {
    everyTruncation("safetensors", valid, decode);
  });

  it("random byte mutations of a valid file, mostly in the header", () => {
    fc.assert(
      fc.property(fc.oneof(mutations(valid.length, 0, headerEnd), mutations(valid.length)), (changes) => {
        const b = mutate(valid, changes);
        check("safetensors", b.length, () => decode(b));
      }),
      params(3000),
    );
  });

  it("random character replacements in the header text", () => {
    const chars = fc.constantFrom(...'0123456789-.,:[]{}" eE_F'.split(""));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 8, max: headerEnd - 1 }), chars), { minLength: 1, maxLength: 4 }), (changes) => {
        const b = mutate(
          valid,
          changes.map(([i, c]) => [i, c.charCodeAt(0)] as const),
        );
        check("safetensors", b.length, () => decode(b));
      }),
      params(3000),
    );
  });
});

// ---------------------------------------------------------------- model files

describe("model files", () => {
  let withMetadata: Uint8Array;
  let weightsOnly: Uint8Array;
  beforeAll(() => {
    const model = new Sequential([dense(3, 4), gelu(), dense(4, 4), relu(), dense(4, 2)], { seed: 1 });
    withMetadata = modelToSafetensors(model, { epochs: 3 });
    weightsOnly = encodeSafetensors(model.namedParameters().map((p) => ({ name: p.name, shape: p.shape, data: model.getParameter(p.name) })));
    model.dispose();
  });

  /** Loads a model; on success checks its size against the file and frees it; the wasm heap must end as it began. */
  function load(bytes: Uint8Array): void {
    const before = engine.bytesInUse;
    check("model file", bytes.length, () => {
      const model = modelFromSafetensors(bytes);
      try {
        if (model.parameterCount * 4 > bytes.length) throw new Error(`a ${bytes.length}-byte file gave ${model.parameterCount} parameters`);
      } finally {
        model.dispose();
      }
    });
    expect(engine.bytesInUse).toBe(before);
  }

  it("every truncation and random mutations of model files, with and without architecture metadata", () => {
    for (const file of [withMetadata, weightsOnly]) {
      everyTruncation("model file", file, (b) => load(b));
      const headerEnd = 8 + new DataView(file.buffer).getUint32(0, true);
      fc.assert(
        fc.property(mutations(file.length, 0, headerEnd), (changes) => load(mutate(file, changes))),
        params(1500),
      );
    }
  });

  it("round trips of random architectures give bit-identical logits", () => {
    const act = fc.constantFrom<LayerSpec>(relu(), gelu(), tanh(), sigmoid(), leakyRelu(0.2), dropout(0.3));
    const architecture = fc.array(fc.tuple(fc.integer({ min: 1, max: 6 }), fc.array(act, { maxLength: 2 })), { minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), architecture, fc.nat(1000), (inputs, layers, seed) => {
        const specs: LayerSpec[] = [];
        let width = inputs;
        for (const [outputs, after] of layers) {
          specs.push(dense(width, outputs), ...after);
          width = outputs;
        }
        const model = new Sequential(specs, { seed });
        const x = Float32Array.from({ length: 3 * inputs }, (_, i) => Math.sin(i + seed));
        const bytes = modelToSafetensors(model);
        const copy = parsed(check("model file", bytes.length, () => modelFromSafetensors(bytes)));
        expect(copy.specs).toEqual(model.specs);
        expect(new Uint32Array(copy.logits(x).buffer)).toEqual(new Uint32Array(model.logits(x).buffer));
        copy.dispose();
        model.dispose();
      }),
      params(500),
    );
  });

  it("random digits in the architecture metadata (huge or mismatched widths)", () => {
    const text = new TextDecoder().decode(withMetadata);
    const digits = [...text.matchAll(/[0-9]/g)].map((m) => m.index!).filter((i) => i < 8 + new DataView(withMetadata.buffer).getUint32(0, true));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(...digits), fc.constantFrom(..."0123456789e.-".split(""))), { minLength: 1, maxLength: 3 }), (changes) => {
        load(
          mutate(
            withMetadata,
            changes.map(([i, c]) => [i, c.charCodeAt(0)] as const),
          ),
        );
      }),
      params(1500),
    );
  });
});

// ---------------------------------------------------------------- npy

describe("npy", () => {
  const files = [
    encodeNpy(
      Float32Array.from({ length: 12 }, (_, i) => i / 3),
      [3, 4],
    ),
    encodeNpy(new Uint8Array([1, 2, 3]), [3]),
  ];
  const parse = (b: Uint8Array) => parseNpy(b);
  const preamble = (version: number, header: string) => {
    const h = new TextEncoder().encode(header);
    const n = version === 1 ? 2 : 4;
    const b = new Uint8Array(8 + n + h.length);
    b.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
    if (version === 1) new DataView(b.buffer).setUint16(8, Math.min(h.length, 0xffff), true);
    else new DataView(b.buffer).setUint32(8, h.length, true);
    b.set(h, 8 + n);
    return b;
  };
  const withData = (head: Uint8Array, data: number) => {
    const b = new Uint8Array(head.length + data);
    b.set(head);
    return b;
  };

  it("round trips of random arrays and shapes", () => {
    const kinds = [Float32Array, Float64Array, Int32Array, Uint8Array] as const;
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 4 }), fc.constantFrom(0, 1, 2, 3), fc.double(), (shape, k, v) => {
        const n = shape.reduce((a, b) => a * b, 1);
        const data = new kinds[k]!(n);
        for (let i = 0; i < n; i++) data[i] = k < 2 ? v * i : i * 37;
        const bytes = encodeNpy(data, shape);
        const a = parsed(check("npy", bytes.length, () => parseNpy(bytes)));
        expect(a.shape).toEqual(shape);
        expect(a.data).toEqual(data);
      }),
      params(1500),
    );
  });

  it("random bytes, with and without the magic string", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (body, magic) => {
        const b = magic ? withData(preamble(1, ""), body.length) : body;
        if (magic) b.set(body, 10);
        check("npy", b.length, () => parse(b));
      }),
      params(1500),
    );
  });

  it("random header text from the dict alphabet", () => {
    const text = fc.string({ unit: fc.constantFrom(..."{}()[]'\":, 0123456789<>|=fiubcTrueFalsdescrortan_hp\n-L\\".split("")), maxLength: 80 });
    fc.assert(
      fc.property(text, fc.constantFrom(1, 2, 3), fc.nat(48), (h, version, data) => {
        const b = withData(preamble(version, h), data);
        check("npy", b.length, () => parse(b));
      }),
      params(3000),
    );
  });

  it("well-formed headers with random descr, order and shape", () => {
    const descr = fc.oneof(fc.constantFrom("<f4", ">f8", "|u1", "<i8", ">i2", "<f2", "|b1", "|f4", "<c8", "=f4", "<U3", "O"), fc.string({ maxLength: 4 }));
    const dim = fc.oneof(fc.integer({ min: 0, max: 12 }), fc.constantFrom(2 ** 31, 2 ** 32 + 1, 2 ** 53 - 1, 2 ** 60));
    const shape = fc.array(dim, { maxLength: 4 }).map((d) => (d.length === 1 ? `(${d[0]},)` : `(${d.join(", ")})`));
    fc.assert(
      fc.property(descr, fc.boolean(), shape, fc.nat(100), (d, fortran, s, data) => {
        const b = withData(preamble(1, `{'descr': '${d}', 'fortran_order': ${fortran ? "True" : "False"}, 'shape': ${s}, }`), data);
        check("npy", b.length, () => parse(b));
      }),
      params(3000),
    );
  });

  it("every truncation and random mutations of valid files", () => {
    for (const file of files) {
      everyTruncation("npy", file, parse);
      fc.assert(
        fc.property(fc.oneof(mutations(file.length, 0, 80), mutations(file.length)), (changes) => {
          const b = mutate(file, changes);
          check("npy", b.length, () => parse(b));
        }),
        params(1500),
      );
    }
  });
});

// ---------------------------------------------------------------- IDX

describe("IDX", () => {
  const images = new Uint8Array([0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 3, ...Array.from({ length: 18 }, (_, i) => i * 14)]);
  const floats = new Uint8Array(4 + 4 + 32);
  floats.set([0, 0, 0x0e, 1, 0, 0, 0, 4]);
  const parse = (b: Uint8Array) => parseIdx(b);

  it("random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => void check("IDX", b.length, () => parse(b))),
      params(1500),
    );
  });

  it("headers with random types, dimension counts and sizes", () => {
    const size = fc.oneof(fc.integer({ min: 0, max: 8 }), fc.constantFrom(0xffffffff, 0x80000000, 65536));
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 10 }),
        fc.array(size, { maxLength: 10 }),
        fc.nat(64),
        (type, ndims, dims, data) => {
          const b = new Uint8Array(4 + 4 * dims.length + data);
          b.set([0, 0, type, ndims]);
          dims.forEach((d, i) => new DataView(b.buffer).setUint32(4 + 4 * i, d));
          check("IDX", b.length, () => parse(b));
        },
      ),
      params(3000),
    );
  });

  it("every truncation and random mutations of valid files", () => {
    for (const file of [images, floats]) {
      everyTruncation("IDX", file, parse);
      fc.assert(
        fc.property(fc.oneof(mutations(file.length, 0, 16), mutations(file.length)), (changes) => {
          const b = mutate(file, changes);
          check("IDX", b.length, () => parse(b));
        }),
        params(1500),
      );
    }
  });
});

// ---------------------------------------------------------------- CSV

describe("CSV", () => {
  const valid = 'label,"x 1",x2\r\n1,0.5,-2\n0,1e-3,3\n\n2,".25",4\n';
  const options = fc.record({
    header: fc.constantFrom("auto" as const, true, false),
    labelColumn: fc.constantFrom<number | string>(0, 1, 2, "last", "label", "x2"),
    delimiter: fc.constantFrom(",", ";", "\t"),
  });
  const alphabet = fc.constantFrom(...'0123456789.,;\t"\n\r -+eEab'.split(""));
  const parse = (text: string, o: object = {}) => parseCsv(text, o);

  it("random tables: parsed exactly unless a value is not a finite float32", () => {
    const F32_MAX = 3.4028234663852886e38;
    const table = fc.integer({ min: 1, max: 4 }).chain((features) =>
      fc.array(
        fc.tuple(
          fc.integer({ min: 0, max: 9 }),
          fc.array(
            fc.oneof(
              { arbitrary: fc.double({ min: -1e6, max: 1e6, noNaN: true }), weight: 6 },
              { arbitrary: fc.integer({ min: -99, max: 99 }), weight: 3 },
              { arbitrary: fc.double(), weight: 1 }, // NaN, ±Infinity, beyond float32, subnormal, -0
            ),
            { minLength: features, maxLength: features },
          ),
        ),
        { minLength: 1, maxLength: 6 },
      ),
    );
    const layout = fc.record({
      crlf: fc.boolean(),
      quote: fc.boolean(),
      blank: fc.boolean(),
      spaces: fc.boolean(),
      delimiter: fc.constantFrom(",", ";", "\t"),
    });
    fc.assert(
      fc.property(table, layout, (rows, l) => {
        const field = (v: number) => {
          const text = Object.is(v, -0) ? "-0" : String(v); // String(-0) is "0"
          const t = l.spaces ? ` ${text} ` : text;
          return l.quote ? `"${t}"` : t;
        };
        const eol = l.crlf ? "\r\n" : "\n";
        const text = rows.map(([y, xs]) => [y, ...xs].map(field).join(l.delimiter)).join(l.blank ? eol + eol : eol);
        const ok = rows.every(([, xs]) => xs.every((v) => Math.abs(v) <= F32_MAX));
        const outcome = check("CSV", text.length, () => parseCsv(text, { header: false, delimiter: l.delimiter }));
        if (!ok) {
          expect("error" in outcome && outcome.error.message).toMatch(/outside the float32 range|is not a number/);
          return;
        }
        const d = parsed(outcome);
        expect(Array.from(d.y)).toEqual(rows.map(([y]) => y));
        expect(Array.from(d.x)).toEqual(rows.flatMap(([, xs]) => xs.map((v) => Math.fround(v))));
      }),
      params(2000),
    );
  });

  it("random text", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), options, (t, o) => void check("CSV", t.length, () => parse(t, o))),
      params(1500),
    );
  });

  it("random text from the CSV alphabet", () => {
    fc.assert(
      fc.property(fc.string({ unit: alphabet, maxLength: 120 }), options, (t, o) => void check("CSV", t.length, () => parse(t, o))),
      params(4000),
    );
  });

  it("every truncation and random character replacements of a valid file", () => {
    for (let n = 0; n < valid.length; n++) check("CSV", n, () => parse(valid.slice(0, n)));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(valid.length - 1), alphabet), { minLength: 1, maxLength: 5 }), options, (changes, o) => {
        const chars = [...valid];
        for (const [i, c] of changes) chars[i] = c;
        const t = chars.join("");
        check("CSV", t.length, () => parse(t, o));
      }),
      params(3000),
    );
  });
});
