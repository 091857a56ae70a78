/**
 * distill-wasm/infer: a model saved by the full library and loaded with `loadStudent` gives
 * the full library's logits, probabilities and class ids bit for bit — MLPs with every
 * activation, batchNorm and dropout, and a CNN with conv, both poolings, batchNorm and
 * flatten, at 1, 2, 3 rows (dense layers on packed panels), 4, 5 and 257 rows (two chunks);
 * float16 files load as the full library loads them; files without architecture metadata
 * too; every bad input is a typed error before any wasm call.
 */
import { mkdtempSync } from "node:fs";
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
  avgPool2d,
  batchNorm,
  conv2d,
  dense,
  dropout,
  flatten,
  gelu,
  init,
  leakyRelu,
  maxPool2d,
  relu,
  sigmoid,
  tanh,
  type Engine,
  type LayerSpec,
} from "../../src/index.js";
import { decodeSafetensors, encodeSafetensors, modelFromSafetensors, modelToSafetensors, saveModel } from "../../src/io/index.js";
import * as infer from "../../src/infer/index.js";
import { loadStudent, type Student } from "../../src/infer/index.js";
import { expectSameBits } from "../helpers/compare.js";
import { TestRandom } from "../helpers/rand.js";

let engine: Engine;
beforeAll(async () => {
  engine = await init();
});

const ROWS = [1, 2, 3, 4, 5, 257];

/** Every parameter and buffer drawn anew (running variances positive), so that nothing is at its initial value. */
function randomise(model: Sequential, seed: number): Sequential {
  const rand = new TestRandom(seed);
  for (const p of [...model.namedParameters(), ...model.namedBuffers()]) {
    model.setParameter(p.name, p.name.endsWith("running_var") ? rand.uniform(p.length, 0.25, 2) : rand.uniform(p.length, -0.6, 0.6));
  }
  return model;
}

interface Case {
  name: string;
  layers: () => LayerSpec[];
  inputShape?: number[];
}

const CASES: Case[] = [
  { name: "MLP, ReLU (fused into the dense layers)", layers: () => [dense(20, 17), relu(), dense(17, 12), relu(), dense(12, 5)] },
  {
    name: "MLP, leaky ReLU, tanh, sigmoid, GELU",
    layers: () => [dense(20, 16), leakyRelu(0.1), dense(16, 18), tanh(), dense(18, 16), sigmoid(), dense(16, 9), gelu(), dense(9, 5)],
  },
  {
    name: "MLP, batchNorm and dropout, a ReLU last",
    layers: () => [dense(20, 16), batchNorm(16), relu(), dropout(0.3), dense(16, 33), relu(), dropout(0.1), dense(33, 7), relu()],
  },
  {
    name: "CNN: conv, max and average pooling, batchNorm, flatten",
    inputShape: [2, 10, 10],
    layers: () => [
      conv2d(2, 4, 3, { padding: 1 }),
      relu(),
      maxPool2d(2),
      conv2d(4, 6, 3),
      batchNorm(6),
      relu(),
      avgPool2d(2, { stride: 1, padding: 1 }),
      flatten(),
      dense(6 * 4 * 4, 10),
    ],
  },
  {
    name: "CNN: strided conv with tanh, no pooling",
    inputShape: [1, 9, 9],
    layers: () => [conv2d(1, 3, [3, 2], { stride: 2 }), tanh(), flatten(), dense(3 * 4 * 4, 4)],
  },
];

function build(c: Case, seed: number): Sequential {
  return randomise(new Sequential(c.layers(), { seed, engine, ...(c.inputShape ? { inputShape: c.inputShape } : {}) }), seed + 100);
}

/** The student and the model return the same bits for x: logits, probabilities at T = 1 and 2.5, class ids. */
function expectSameOutputs(student: Student, model: Sequential, x: Float32Array | Float64Array | number[], what: string): void {
  expectSameBits(student.logits(x), model.logits(x), `${what}: logits`);
  expectSameBits(student.probabilities(x), model.probabilities(x), `${what}: probabilities`);
  expectSameBits(student.probabilities(x, { temperature: 2.5 }), model.probabilities(x, { temperature: 2.5 }), `${what}: probabilities at T 2.5`);
  expect(Array.from(student.predict(x)), `${what}: predict`).toEqual(Array.from(model.predict(x)));
}

describe.each(CASES)("$name: loadStudent gives model.logits bit for bit", (c) => {
  it(`rows ${ROWS.join(", ")} (then 257, 1, 3 on a fresh student), float32 and float64 inputs`, async () => {
    const model = build(c, 7);
    const bytes = modelToSafetensors(model);
    const student = await loadStudent(bytes);
    expect(student.inputs).toBe(model.inputs);
    expect(student.outputs).toBe(model.outputs);
    expect(student.inputShape).toEqual(model.inputShape);
    expect(student.specs).toEqual(model.specs);
    const rand = new TestRandom(11);
    for (const rows of ROWS) expectSameOutputs(student, model, rand.uniform(rows * model.inputs, -2, 2), `${rows} rows`);
    const again = await loadStudent(bytes.slice().buffer);
    for (const rows of [257, 1, 3]) expectSameOutputs(again, model, rand.uniform(rows * model.inputs, -2, 2), `fresh, ${rows} rows`);
    const x64 = Float64Array.from(rand.uniform(3 * model.inputs, -2, 2), (v) => v + 1e-9);
    expectSameOutputs(student, model, x64, "Float64Array");
    expectSameOutputs(student, model, Array.from(x64), "number[]");
    model.dispose();
  });
});

describe("model files", () => {
  const dir = mkdtempSync(join(tmpdir(), "distill-infer-"));

  it("loads from a path, a file: URL and a file: URL string, and keeps the file's metadata", async () => {
    const model = build(CASES[0]!, 3);
    const path = join(dir, "student.safetensors");
    await saveModel(model, path, { classes: "a,b,c,d,e" });
    const x = new TestRandom(5).uniform(4 * model.inputs);
    for (const source of [path, pathToFileURL(path), pathToFileURL(path).href]) {
      const student = await loadStudent(source);
      expectSameBits(student.logits(x), model.logits(x), String(source));
      expect(student.metadata.classes).toBe("a,b,c,d,e");
      expect(JSON.parse(student.metadata.architecture!)).toEqual(model.specs);
    }
    model.dispose();
  });

  /** The model's tensors as random float16 values (running variances positive, some subnormal) in a safetensors file with its metadata. */
  function float16File(model: Sequential, seed: number): Uint8Array {
    const rand = new TestRandom(seed);
    const tensors = [...model.namedParameters(), ...model.namedBuffers()].sort((a, b) => (a.name < b.name ? -1 : 1));
    const header: Record<string, unknown> = {
      __metadata__: {
        format: "pt",
        architecture: JSON.stringify(model.specs),
        ...(model.inputShape.length === 3 ? { input_shape: JSON.stringify(model.inputShape) } : {}),
      },
    };
    let offset = 0;
    for (const t of tensors) {
      header[t.name] = { dtype: "F16", shape: t.shape, data_offsets: [offset, offset + 2 * t.length] };
      offset += 2 * t.length;
    }
    const json = new TextEncoder().encode(JSON.stringify(header));
    const out = new Uint8Array(8 + json.length + offset);
    const view = new DataView(out.buffer);
    view.setUint32(0, json.length, true);
    out.set(json, 8);
    let at = 8 + json.length;
    for (const t of tensors) {
      for (let i = 0; i < t.length; i++, at += 2) {
        const exponent = rand.next() < 0.05 ? 0 : 10 + Math.floor(rand.next() * 6); // 2^-5 … 2^0, or subnormal
        const sign = t.name.endsWith("running_var") || rand.next() < 0.5 ? 0 : 0x8000;
        view.setUint16(at, sign | (exponent << 10) | Math.floor(rand.next() * 1024), true);
      }
    }
    return out;
  }

  it.each([0, 3])("a float16 file (%#: MLP with batchNorm, CNN) gives what the full library gives on the same file", async (index) => {
    const c = CASES[index === 0 ? 2 : 3]!;
    const shape = build(c, 1);
    const bytes = float16File(shape, 21);
    shape.dispose();
    const model = modelFromSafetensors(bytes, { engine });
    const student = await loadStudent(bytes);
    const rand = new TestRandom(13);
    for (const rows of [1, 3, 6]) expectSameOutputs(student, model, rand.uniform(rows * model.inputs, -2, 2), `float16, ${rows} rows`);
    model.dispose();
  });

  it("a PyTorch state_dict without architecture metadata loads as the full library loads it, with the same activation option", async () => {
    const rand = new TestRandom(8);
    const state = [
      { name: "net.0.weight", shape: [6, 5], data: rand.uniform(30) },
      { name: "net.0.bias", shape: [6], data: rand.uniform(6) },
      { name: "net.2.weight", shape: [3, 6], data: rand.uniform(18) },
      { name: "net.2.bias", shape: [3], data: rand.uniform(3) },
    ];
    const { encodeSafetensors } = await import("../../src/io/index.js");
    const bytes = encodeSafetensors(state);
    const x = rand.uniform(2 * 5);
    for (const activation of ["relu", "tanh", "none"] as const) {
      const model = modelFromSafetensors(bytes, { engine, activation });
      const student = await loadStudent(bytes, { activation });
      expect(student.specs).toEqual(model.specs);
      expectSameBits(student.logits(x), model.logits(x), activation);
      model.dispose();
    }
  });
});

describe("errors: typed, named, before any wasm call", () => {
  let student: Student;
  beforeAll(async () => {
    const model = build(CASES[0]!, 4);
    student = await loadStudent(modelToSafetensors(model));
    model.dispose();
  });

  it("the error classes are the full library's", () => {
    expect(infer.FormatError).toBe(FormatError);
    expect(infer.ShapeError).toBe(ShapeError);
    expect(infer.NonFiniteError).toBe(NonFiniteError);
    expect(infer.ArgumentError).toBe(ArgumentError);
  });

  it("bad bytes, a bad header, an unsupported dtype: FormatError naming the problem", async () => {
    await expect(loadStudent(new Uint8Array([1, 2, 3]))).rejects.toThrow(FormatError);
    await expect(loadStudent(new Uint8Array(64).fill(7))).rejects.toThrow(/header length/);
    const header = JSON.stringify({
      __metadata__: { architecture: JSON.stringify([dense(2, 1)]) },
      "0.bias": { dtype: "F32", shape: [1], data_offsets: [0, 4] },
      "0.weight": { dtype: "I8", shape: [1, 2], data_offsets: [4, 6] },
    });
    const text = new TextEncoder().encode(header);
    const bytes = new Uint8Array(8 + text.length + 6);
    new DataView(bytes.buffer).setUint32(0, text.length, true);
    bytes.set(text, 8);
    await expect(loadStudent(bytes)).rejects.toThrow(FormatError);
    await expect(loadStudent(bytes)).rejects.toThrow(/"0\.weight" has dtype I8; parameters must be F32, F64, F16 or BF16/);
  });

  it("NaN or ±Infinity in any parameter or buffer (checked in wasm memory): the full library's FormatError, the first in the parameters' order", async () => {
    // The CNN case has conv weights (4-D), dense weights (2-D), biases and batchNorm buffers (1-D).
    const model = build(CASES[3]!, 5);
    const clean = decodeSafetensors(modelToSafetensors(model));
    model.dispose();
    const poisoned = (edits: [string, number, number][], reshape?: [string, number[]]) => {
      const tensors = [...clean.tensors].map(([name, t]) => {
        const data = Float32Array.from(t.data as Float32Array);
        for (const [target, index, value] of edits) if (target === name) data[index] = value;
        return { name, shape: reshape?.[0] === name ? reshape[1] : t.shape, data };
      });
      return encodeSafetensors(tensors, clean.metadata);
    };
    const messageOf = async (bytes: Uint8Array) => {
      let full = "";
      try {
        modelFromSafetensors(bytes, { engine }).dispose();
      } catch (err) {
        full = (err as Error).message;
        expect(err).toBeInstanceOf(FormatError);
      }
      await expect(loadStudent(bytes)).rejects.toThrow(FormatError);
      const fromStudent = await loadStudent(bytes).catch((err: Error) => err.message);
      expect(fromStudent).toBe(full);
      return full;
    };
    const names = [...clean.tensors.keys()];
    for (const [name, index, value] of [
      ["0.weight", 7, NaN], // conv weight, in its second output channel's rows
      ["0.bias", 3, Infinity],
      ["4.running_var", 5, Infinity],
      ["4.running_mean", 0, -Infinity],
      ["8.weight", 95, NaN], // the dense layer's last input of its first row
      ["8.bias", 9, -Infinity],
    ] as const) {
      expect(names).toContain(name);
      const message = await messageOf(poisoned([[name, index, value]]));
      expect(message).toMatch(new RegExp(`tensor "${name.replace(".", "\\.")}" holds ${String(value)} at index ${index}; parameters must be finite`));
    }
    // Two non-finite tensors: the first in the plan's order is named, by both.
    expect(
      await messageOf(
        poisoned([
          ["8.weight", 1, NaN],
          ["0.bias", 2, NaN],
        ]),
      ),
    ).toMatch(/"0\.bias" holds NaN at index 2/);
    // A non-finite value and a misshapen tensor: the shape is named, by both.
    expect(await messageOf(poisoned([["0.weight", 0, NaN]], ["8.bias", [2, 5]]))).toMatch(/"8\.bias" has shape \[2, 5\]/);
  });

  it("a source that is not bytes or a location, a missing file, an unknown option", async () => {
    await expect(loadStudent(42 as never)).rejects.toThrow(ArgumentError);
    await expect(loadStudent("")).rejects.toThrow(ArgumentError);
    await expect(loadStudent(join(tmpdir(), "no-such-student.safetensors"))).rejects.toThrow(/no file at/);
    await expect(loadStudent(new Uint8Array(0), { activaton: "relu" } as never)).rejects.toThrow(/unknown option "activaton"; did you mean "activation"/);
    await expect(loadStudent(new Uint8Array(0), { activation: "swish" } as never)).rejects.toThrow(OptionError);
  });

  it("wrong input width, a rows count that disagrees, not an array: ShapeError / ArgumentError", () => {
    expect(() => student.logits(new Float32Array(21))).toThrow(ShapeError);
    expect(() => student.predict(new Float32Array(0))).toThrow(/0 values, which is not a positive multiple of 20/);
    expect(() => student.predict(new Float32Array(40), 1)).toThrow(/x holds 2 row\(s\) of 20 values, but rows is 1/);
    expect(() => student.predict(new Float32Array(20), 0)).toThrow(ShapeError);
    expect(Array.from(student.predict(new Float32Array(40), 2))).toHaveLength(2);
    expect(() => student.logits("x" as never)).toThrow(ArgumentError);
  });

  it("NaN or Infinity in the input: NonFiniteError naming row and column; a bad temperature: OptionError", () => {
    const x = new Float32Array(40);
    x[25] = NaN;
    expect(() => student.predict(x)).toThrow(NonFiniteError);
    expect(() => student.logits(x)).toThrow(/contains NaN at row 1, column 5/);
    expect(() => student.probabilities([...new Array(19).fill(0), Infinity])).toThrow(NonFiniteError);
    expect(() => student.probabilities(new Float32Array(20), { temperature: 0 })).toThrow(OptionError);
  });

  it("use after dispose: ArgumentError", async () => {
    const model = build(CASES[0]!, 9);
    const s = await loadStudent(modelToSafetensors(model));
    model.dispose();
    s.dispose();
    expect(s.isDisposed).toBe(true);
    expect(() => s.predict(new Float32Array(20))).toThrow(ArgumentError);
    expect(() => s.logits(new Float32Array(20))).toThrow(/disposed/);
    expect(() => s.probabilities(new Float32Array(20))).toThrow(ArgumentError);
    s.dispose(); // twice is harmless
  });
});
