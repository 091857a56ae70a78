/**
 * Token models through the public API: Dataset.tokens (ids stored exactly, padding after
 * each length, typed errors), the embedding / embeddingBag / layerNorm specs (shapes,
 * errors), token ids checked against the model's vocabulary before any wasm call, a model's
 * forward pass against float64 and its backward pass against finite differences, training
 * (deterministic, the padding row untouched), distillation, model files, PyTorch state_dicts
 * (test/fixtures/tokens/, written by test/fixtures/make_token_fixtures.py) and the
 * exporters' tensors.
 */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import {
  ArgumentError,
  Dataset,
  OptionError,
  Sequential,
  ShapeError,
  TokenError,
  dense,
  distill,
  embedding,
  embeddingBag,
  evaluate,
  flatten,
  init,
  layerNorm,
  relu,
  train,
  type LayerSpec,
} from "../../src/index.js";
import { decodeSafetensors, modelFromSafetensors, modelToSafetensors } from "../../src/io/index.js";
import { toOnnx, toTfjs } from "../../src/export/index.js";
import { decodeModel } from "../../src/export/onnx-proto.js";
import { loadStudent } from "../../src/infer/index.js";
import { expectClose, expectSameBits } from "../helpers/compare.js";
import { dot64, numericGradient } from "../helpers/gradcheck.js";
import { embeddingBag64, layerNorm64 } from "../helpers/reference.js";
import { TestRandom } from "../helpers/rand.js";

beforeAll(async () => {
  await init();
});

const SEQ = 6,
  VOCAB = 11,
  DIM = 4,
  CLASSES = 3;

/** The teacher-like stack of the PyTorch fixture: embedding → layerNorm → flatten → dense → relu → dense. */
const teacherLayers = (hidden = 8): LayerSpec[] => [
  embedding(VOCAB, DIM, { seqLen: SEQ, paddingIdx: 0 }),
  layerNorm(DIM),
  flatten(),
  dense(SEQ * DIM, hidden),
  relu(),
  dense(hidden, CLASSES),
];
const studentLayers = (dim = 5): LayerSpec[] => [embeddingBag(VOCAB, dim, { seqLen: SEQ, paddingIdx: 0 }), dense(dim, CLASSES)];

/** rows × SEQ ids in [1, VOCAB), each row padded with 0 after a random length ≥ 1. */
function randomIds(rnd: TestRandom, rows: number): { ids: Int32Array; lengths: Int32Array } {
  const ids = new Int32Array(rows * SEQ);
  const lengths = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    lengths[r] = 1 + Math.floor(rnd.next() * SEQ);
    for (let t = 0; t < SEQ; t++) ids[r * SEQ + t] = 1 + Math.floor(rnd.next() * (VOCAB - 1));
  }
  return { ids, lengths };
}

/** The model's float64 forward pass from its own float32 weights (specs as teacherLayers / studentLayers). */
function forward64(model: Sequential, x: ArrayLike<number>, rows: number, params?: ReadonlyMap<string, ArrayLike<number>>): Float64Array {
  params ??= new Map(model.namedParameters().map((p) => [p.name, Float64Array.from(model.getParameter(p.name))]));
  let h: Float64Array = Float64Array.from(x);
  const ps = params;
  let width = model.inputs;
  model.specs.forEach((spec, i) => {
    const w = ps.get(`${i}.weight`),
      b = ps.get(`${i}.bias`);
    if (spec.type === "embedding") {
      const out = new Float64Array(rows * spec.seqLen * spec.dim);
      for (let k = 0; k < rows * spec.seqLen; k++) for (let j = 0; j < spec.dim; j++) out[k * spec.dim + j] = w![h[k]! * spec.dim + j]!;
      h = out;
      width = spec.seqLen * spec.dim;
    } else if (spec.type === "embeddingBag") {
      h = embeddingBag64(h, w!, new Float64Array(rows * spec.dim), rows, spec.seqLen, spec.vocab, spec.dim, spec.paddingIdx ?? -1).y;
      width = spec.dim;
    } else if (spec.type === "layerNorm") {
      h = layerNorm64(h, w!, b!, new Float64Array(h.length), h.length / spec.dim, spec.dim, spec.eps ?? 1e-5).y;
    } else if (spec.type === "dense") {
      const out = new Float64Array(rows * spec.outputs);
      for (let r = 0; r < rows; r++) {
        for (let o = 0; o < spec.outputs; o++) {
          let s = b![o]!;
          for (let k = 0; k < spec.inputs; k++) s += h[r * spec.inputs + k]! * w![o * spec.inputs + k]!;
          out[r * spec.outputs + o] = s;
        }
      }
      h = out;
      width = spec.outputs;
    } else if (spec.type === "activation") {
      h = h.map((v) => Math.max(v, 0));
    }
  });
  expect(width).toBe(model.outputs);
  return h;
}

describe("Dataset.tokens", () => {
  it("stores the ids exactly as float32 features and pads each row after its length", () => {
    const ids = Int32Array.from([5, 9, 2, 7, 16777215, 3, 1, 1]);
    const d = Dataset.tokens(ids, [0, 1], { seqLen: 4, vocab: 2 ** 24, lengths: [3, 2], padding: 0 });
    expect(d.features).toBe(4);
    expect(d.classes).toBe(2);
    expect(Array.from(d.x)).toEqual([5, 9, 2, 0, 16777215, 3, 0, 0]);
    const unlabelled = Dataset.tokens([1, 2, 3, 4], null, { seqLen: 2, vocab: 5, classes: 3 });
    expect(unlabelled.labelled).toBe(0);
    expect(unlabelled.classes).toBe(3);
  });

  it("refuses bad ids, lengths and options with typed errors naming the problem", () => {
    const ok = { seqLen: 3, vocab: 5 };
    expect(() => Dataset.tokens([1, 2, 5], [0], ok)).toThrow(/ids holds 5 at row 0, position 2; token ids must be integers in \[0, 5\)/);
    expect(() => Dataset.tokens([1, 2, 5], [0], ok)).toThrow(TokenError);
    expect(() => Dataset.tokens([1, -1, 2], [0], ok)).toThrow(TokenError);
    expect(() => Dataset.tokens([1, 1.5, 2], [0], ok)).toThrow(TokenError);
    expect(() => Dataset.tokens([1, 2, 3, 4], [0], ok)).toThrow(ShapeError);
    expect(() => Dataset.tokens([1, 2, 3], [0], { ...ok, lengths: [4], padding: 0 })).toThrow(/lengths\[0\] = 4 must be an integer in \[0, 3\]/);
    expect(() => Dataset.tokens([1, 2, 3], [0], { ...ok, lengths: [2] })).toThrow(/lengths needs padding/);
    expect(() => Dataset.tokens([1, 2, 3], [0], { ...ok, lengths: [2], padding: 5 })).toThrow(TokenError);
    expect(() => Dataset.tokens([1, 2, 3], [0], { ...ok, lengths: [2, 1], padding: 0 })).toThrow(ShapeError);
    expect(() => Dataset.tokens([1, 2, 3], [0], { ...ok, vocab: 2 ** 24 + 1 })).toThrow(OptionError);
    expect(() => Dataset.tokens([1, 2, 3], [0], { ...ok, seqlen: 3 } as never)).toThrow(/did you mean "seqLen"/);
    expect(() => Dataset.tokens(new Float32Array([1, 2, 3]) as never, [0], ok)).toThrow(ArgumentError);
    expect(() => Dataset.tokens([1, 2, 3], null, ok)).toThrow(/need classes/);
    // ids past a row's length are replaced by padding, so they are not checked
    expect(Array.from(Dataset.tokens([1, 99, 99], [0], { ...ok, lengths: [1], padding: 4 }).x)).toEqual([1, 4, 4]);
  });
});

describe("token layer specs", () => {
  it("take their input shape from the embedding and chain shapes", () => {
    const model = new Sequential(teacherLayers());
    expect(model.inputShape).toEqual([SEQ]);
    expect(model.layerShape(0)).toEqual([SEQ, DIM]);
    expect(model.layerShape(1)).toEqual([SEQ, DIM]);
    expect(model.layerShape(2)).toEqual([SEQ * DIM]);
    expect(model.architecture).toBe("6-emb11x4p0-ln-flatten-8-3");
    expect(new Sequential(studentLayers()).architecture).toBe("6-bag11x5p0-3");
    expect(model.namedParameters().map((p) => [p.name, p.shape])).toEqual([
      ["0.weight", [VOCAB, DIM]],
      ["1.weight", [DIM]],
      ["1.bias", [DIM]],
      ["3.weight", [8, SEQ * DIM]],
      ["3.bias", [8]],
      ["5.weight", [CLASSES, 8]],
      ["5.bias", [CLASSES]],
    ]);
    const w = model.getParameter("0.weight");
    expect(Array.from(w.subarray(0, DIM))).toEqual([0, 0, 0, 0]); // the padding row starts at zeros
    expect(Array.from(model.getParameter("1.weight"))).toEqual([1, 1, 1, 1]);
    model.dispose();
  });

  it("refuse bad numbers and placements with ShapeError / OptionError naming the layer", () => {
    expect(() => new Sequential([dense(6, 3), embedding(VOCAB, DIM, { seqLen: 3 })])).toThrow(
      /layer 1 \(embedding\) reads token ids, so it must be the first layer/,
    );
    expect(() => new Sequential([embedding(VOCAB, DIM, { seqLen: SEQ }), flatten(), dense(24, 2)], { inputShape: [5] })).toThrow(
      /layer 0 \(embedding\) reads 6 token ids per sample but its input is \[5\]/,
    );
    expect(() => new Sequential([embedding(VOCAB, DIM, { seqLen: SEQ, paddingIdx: VOCAB }), flatten(), dense(24, 2)])).toThrow(OptionError);
    expect(() => new Sequential([embeddingBag(0, DIM, { seqLen: SEQ }), dense(DIM, 2)])).toThrow(ShapeError);
    expect(() => new Sequential([embeddingBag(2 ** 24 + 1, 1, { seqLen: 1 }), dense(1, 2)])).toThrow(/at most 2\^24/);
    expect(() => new Sequential([embedding(VOCAB, DIM, { seqLen: SEQ }), layerNorm(5), flatten(), dense(24, 2)])).toThrow(
      /layer 1 \(layerNorm\) normalises a last dimension of 5 but the layer before it gives \[6, 4\]/,
    );
    expect(() => new Sequential([embedding(VOCAB, DIM, { seqLen: SEQ }), dense(24, 2)])).toThrow(/add flatten\(\) before it/);
    expect(() => new Sequential([dense(3, 4), layerNorm(4, { eps: 0 })])).toThrow(/eps must be positive/);
  });
});

describe("token ids are checked before any wasm call", () => {
  it("logits, predict, train, evaluate and distill refuse ids outside the model's vocabulary", async () => {
    const model = new Sequential(studentLayers());
    const bad = new Float32Array(2 * SEQ).fill(1);
    bad[SEQ + 2] = VOCAB;
    expect(() => model.logits(bad)).toThrow(/logits: x holds 11 at row 1, position 2/);
    expect(() => model.predict(Float32Array.from(bad, (v) => v + 0.5))).toThrow(TokenError);
    const data = Dataset.tokens(Int32Array.from(bad), [0, 1], { seqLen: SEQ, vocab: 12 });
    await expect(train(model, data, { epochs: 1 })).rejects.toThrow(TokenError);
    expect(() => evaluate(model, data)).toThrow(TokenError);
    const good = Dataset.tokens(new Int32Array(2 * SEQ).fill(3), [0, 1], { seqLen: SEQ, vocab: VOCAB });
    const smallTeacher = new Sequential([embeddingBag(3, 2, { seqLen: SEQ }), dense(2, CLASSES)]);
    await expect(distill({ student: model, teacher: smallTeacher, data: good, epochs: 1 })).rejects.toThrow(/distill: data holds 3 at row 0, position 0/);
    await expect(train(model, good, { epochs: 1, batchSize: 2, augment: { noise: 0.1 } })).rejects.toThrow(/reads token ids, which must stay ids/);
    expect(() => model.backward(0, 1, { inputGradient: true })).toThrow(ArgumentError);
    model.dispose();
    smallTeacher.dispose();
  });
});

describe("a token model's passes", () => {
  it("forward matches float64 within float32 rounding, for both stacks", () => {
    const rnd = new TestRandom(31);
    const { ids, lengths } = randomIds(rnd, 9);
    const x = Dataset.tokens(ids, new Int32Array(9), { seqLen: SEQ, vocab: VOCAB, lengths, padding: 0 }).x;
    for (const layers of [teacherLayers(), studentLayers()]) {
      const model = new Sequential(layers, { seed: 4 });
      const logits = model.logits(x);
      const ref = forward64(model, x, 9);
      expectClose(logits, ref, { rtol: 1e-5, atol: 1e-5 }, `logits of ${model.architecture}`);
      // fewer than 4 rows go through the packed-panel path: the same bits
      expectSameBits(model.logits(x.subarray(0, 2 * SEQ)), logits.subarray(0, 2 * CLASSES), "two rows");
      model.dispose();
    }
  });

  it("backward matches central finite differences of Σ dy ⊙ logits in float64, for every parameter", () => {
    const rnd = new TestRandom(32);
    const rows = 5;
    const { ids, lengths } = randomIds(rnd, rows);
    const x = Dataset.tokens(ids, new Int32Array(rows), { seqLen: SEQ, vocab: VOCAB, lengths, padding: 0 }).x;
    for (const layers of [teacherLayers(6), studentLayers(3)]) {
      const model = new Sequential(layers, { seed: 9 });
      for (const p of model.namedParameters()) if (p.name.endsWith("bias")) model.setParameter(p.name, rnd.uniform(p.length, 0.05, 0.3));
      const dy = rnd.normal(rows * CLASSES);
      const e = model.engine;
      model.reserve(rows);
      const grads = e.scoped(() => {
        model.forward(e.putF32(x), rows, true);
        model.backward(e.putF32(dy), rows);
        return new Map(model.namedParameters().map((p) => [p.name, e.readF32(model.gradsPtr + p.offset * 4, p.length)] as const));
      });
      const params: Map<string, Float64Array> = new Map(model.namedParameters().map((p) => [p.name, Float64Array.from(model.getParameter(p.name))]));
      for (const [name, g] of grads) {
        const numeric = numericGradient((v) => dot64(forward64(model, x, rows, new Map([...params, [name, v]])), dy), params.get(name)!);
        if (name === "0.weight") for (let j = 0; j < g.length / VOCAB; j++) numeric[j] = 0; // the padding row: no gradient, as in PyTorch
        expectClose(g, numeric, { rtol: 2e-4, atol: 2e-5 }, `${model.architecture} ${name}`);
      }
      model.dispose();
    }
  });
});

describe("training token models", () => {
  const rnd = new TestRandom(33);
  const rows = 96;
  const { ids, lengths } = randomIds(rnd, rows);
  // the label: which of tokens 1–3 occurs most often among a row's real tokens (ties to the lowest)
  const labels = Int32Array.from({ length: rows }, (_, r) => {
    const counts = [0, 0, 0];
    for (let t = 0; t < lengths[r]!; t++) if (ids[r * SEQ + t]! <= 3) counts[ids[r * SEQ + t]! - 1]!++;
    return counts.indexOf(Math.max(...counts));
  });
  const data = Dataset.tokens(ids, labels, { seqLen: SEQ, vocab: VOCAB, classes: CLASSES, lengths, padding: 0 });

  it("train is deterministic, learns, and leaves the padding row at zeros", async () => {
    const runs = [];
    for (let i = 0; i < 2; i++) {
      const model = new Sequential(teacherLayers(), { seed: 1 });
      const before = evaluate(model, data).accuracy;
      await train(model, data, { epochs: 30, batchSize: 16, optimizer: { type: "adam", lr: 0.01 }, seed: 2 });
      runs.push({ block: model.parameterBlock(), before, after: evaluate(model, data).accuracy, pad: model.getParameter("0.weight").subarray(0, DIM) });
      model.dispose();
    }
    expectSameBits(runs[0]!.block, runs[1]!.block, "two runs");
    expect(runs[0]!.after).toBeGreaterThan(runs[0]!.before);
    expect(Array.from(runs[0]!.pad)).toEqual([0, 0, 0, 0]);
  });

  it("distils a bag-of-embeddings student from a token teacher", async () => {
    const teacher = new Sequential(teacherLayers(), { seed: 1 });
    await train(teacher, data, { epochs: 30, batchSize: 16, optimizer: { type: "adam", lr: 0.01 }, seed: 2 });
    const student = new Sequential(studentLayers(), { seed: 3 });
    const result = await distill({ student, teacher, data, epochs: 20, batchSize: 16, temperature: 2, optimizer: { type: "adam", lr: 0.02 }, seed: 4 });
    expect(result.history.length).toBe(20);
    expect(evaluate(student, data).accuracy).toBeGreaterThan(1 / CLASSES);
    teacher.dispose();
    student.dispose();
  });
});

describe("files and PyTorch", () => {
  interface ModelFixture {
    file: string;
    rows: number;
    stateDict: [string, number[]][];
    ids: number[];
    logits: number[];
  }
  const fixtures = JSON.parse(readFileSync(new URL("../fixtures/token-fixtures.json", import.meta.url), "utf8")) as { models: ModelFixture[] };

  for (const [i, layers] of [teacherLayers(), studentLayers()].entries()) {
    const f = fixtures.models[i]!;
    it(`a torch state_dict of ${i === 0 ? "Embedding → LayerNorm → Flatten → Linear → ReLU → Linear" : "EmbeddingBag(mean) → Linear"} loads by name and gives torch's logits`, () => {
      const model = new Sequential(layers);
      expect(model.namedParameters().map((p) => [p.name, p.shape])).toEqual(f.stateDict);
      const file = decodeSafetensors(readFileSync(new URL(`../fixtures/${f.file}`, import.meta.url)));
      for (const [name, t] of file.tensors) model.setParameter(name, t.data as Float32Array);
      const x = Float32Array.from(f.ids);
      const logits = model.logits(x);
      const ref = forward64(model, x, f.rows);
      // each side within float32 rounding of the float64 evaluation of the same weights
      expectClose(logits, ref, { rtol: 1e-5, atol: 1e-5 }, "ours vs float64");
      expectClose(f.logits, ref, { rtol: 1e-5, atol: 1e-5 }, "torch vs float64");
      // our file keeps torch's names and shapes, and loads back to the same bits
      const bytes = modelToSafetensors(model);
      expect(new Map([...decodeSafetensors(bytes).tensors].map(([name, t]) => [name, t.shape]))).toEqual(new Map(f.stateDict));
      const again = modelFromSafetensors(bytes);
      expect(again.specs).toEqual(model.specs);
      expectSameBits(again.logits(x), logits, "saved and loaded");
      again.dispose();
      model.dispose();
    });
  }

  it("distill-wasm/infer runs a saved token model to the same bits, and checks its ids", async () => {
    const rnd = new TestRandom(34);
    for (const layers of [teacherLayers(), studentLayers()]) {
      const model = new Sequential(layers, { seed: 5 });
      for (const p of model.namedParameters()) model.setParameter(p.name, rnd.uniform(p.length, -0.6, 0.6));
      const student = await loadStudent(modelToSafetensors(model));
      expect(student.inputShape).toEqual([SEQ]);
      for (const rows of [1, 2, 3, 5, 257]) {
        const { ids, lengths } = randomIds(rnd, rows);
        const x = Dataset.tokens(ids, new Int32Array(rows), { seqLen: SEQ, vocab: VOCAB, lengths, padding: 0 }).x;
        expectSameBits(student.logits(x), model.logits(x), `${model.architecture}, ${rows} rows`);
      }
      expect(() => student.logits(new Float32Array(SEQ).fill(VOCAB))).toThrow(TokenError);
      student.dispose();
      model.dispose();
    }
  });

  it("the exporters write token layers with their PyTorch tensors (numbers: test/export/export-tokens.test.ts)", () => {
    const model = new Sequential(teacherLayers());
    const onnx = decodeModel(toOnnx(model), "model").graph!;
    const table = onnx.initializer!.find((t) => t.name === "0.weight")!;
    expect(table.dims!.map(Number)).toEqual([VOCAB, DIM]);
    const raw = table.raw_data!;
    expect(Array.from(new Float32Array(raw.slice().buffer))).toEqual(Array.from(model.getParameter("0.weight")));
    const tfjs = toTfjs(model);
    expect(tfjs.modelJson.weightsManifest[0].weights[0]).toEqual({ name: "embedding_0/embeddings", shape: [VOCAB, DIM], dtype: "float32" });
    model.dispose();
  });
});
