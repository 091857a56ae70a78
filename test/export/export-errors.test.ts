/**
 * distill-wasm/export on bad input: typed errors naming the problem, raised before any
 * work. toOnnx / toTfjs: a disposed model, a layer type they do not know, a layer the
 * format cannot express, bad or unknown options. fromOnnx: bytes that are no ONNX model,
 * and ONNX models of another shape than toOnnx writes (each names the node, operator or
 * attribute), and damaged bytes. Also the half-precision conversion against known values.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  ArgumentError,
  batchNorm,
  dense,
  DistillError,
  FormatError,
  gelu,
  init,
  maxPool2d,
  conv2d,
  flatten,
  mlp,
  OptionError,
  relu,
  Sequential,
} from "../../src/index.js";
import { f16BitsToNumber, f32ToF16Bits, fromOnnx, toOnnx, toTfjs } from "../../src/export/index.js";
import { decodeModel, encodeModel, floatTensor, intAttribute, stringAttribute, type ModelProto } from "../../src/export/onnx-proto.js";
import { TestRandom } from "../helpers/rand.js";

beforeAll(async () => {
  await init();
});

describe("toOnnx and toTfjs refuse before writing", () => {
  it("a disposed model: ArgumentError", () => {
    const model = mlp([4, 3], { seed: 1 });
    model.dispose();
    expect(() => toOnnx(model)).toThrow(ArgumentError);
    expect(() => toOnnx(model)).toThrow(/disposed/);
    expect(() => toTfjs(model)).toThrow(/disposed/);
  });

  it("something that is not a model: ArgumentError", () => {
    expect(() => toOnnx({} as Sequential)).toThrow(ArgumentError);
    expect(() => toTfjs(null as unknown as Sequential)).toThrow(/model must be a Sequential/);
  });

  it("a layer type the exporters do not know: ArgumentError naming the layer", () => {
    const model = mlp([4, 3], { seed: 1 });
    const unknown = Object.create(model, { specs: { value: [...model.specs, { type: "lstm" }] } }) as Sequential;
    expect(() => toOnnx(unknown)).toThrow(ArgumentError);
    expect(() => toOnnx(unknown)).toThrow(/layer 1 is a "lstm" layer, which toOnnx cannot write/);
    expect(() => toTfjs(unknown)).toThrow(/layer 1 is a "lstm" layer, which toTfjs cannot write/);
    model.dispose();
  });

  it("a max pooling whose padding TensorFlow.js cannot place: ArgumentError naming the layer (ONNX writes it)", () => {
    // kernel 2, stride 2, padding 1 on 6×6: our windows start at −1; TensorFlow's "same" pads nothing before.
    const model = new Sequential([conv2d(1, 2, 3, { padding: 1 }), maxPool2d(2, { padding: 1 }), flatten(), dense(2 * 4 * 4, 3)], {
      seed: 1,
      inputShape: [1, 6, 6],
    });
    expect(() => toTfjs(model)).toThrow(ArgumentError);
    expect(() => toTfjs(model)).toThrow(/layer 1 \(maxPool2d, kernel 2, stride 2, padding 1 on 6×6\) cannot be written as a TensorFlow.js layer/);
    expect(toOnnx(model).length).toBeGreaterThan(0);
    model.dispose();
  });

  it("bad options: OptionError naming the option, unknown keys with a suggestion", () => {
    const model = mlp([4, 3], { seed: 1 });
    for (const opset of [12, 22, 17.5, "17", null]) {
      expect(() => toOnnx(model, { opset: opset as number }), String(opset)).toThrow(OptionError);
      expect(() => toOnnx(model, { opset: opset as number }), String(opset)).toThrow(/toOnnx: opset must be an integer ≥ 13 ≤ 21/);
    }
    expect(() => toOnnx(model, { opst: 17 } as object)).toThrow(/unknown option "opst"; did you mean "opset"\?/);
    expect(() => toTfjs(model, { float16: "yes" as unknown as boolean })).toThrow(/toTfjs: float16 must be true or false/);
    expect(() => toTfjs(model, { float32: true } as object)).toThrow(OptionError);
    model.dispose();
  });

  it("options are checked before the model: a bad opset on a disposed model is an OptionError", () => {
    const model = mlp([4, 3], { seed: 1 });
    model.dispose();
    expect(() => toOnnx(model, { opset: 5 })).toThrow(OptionError);
  });
});

describe("fromOnnx refuses what toOnnx does not write: FormatError naming it", () => {
  let model: Sequential;
  let proto: () => ModelProto;
  beforeAll(() => {
    model = new Sequential([dense(4, 3), relu(), dense(3, 2)], { seed: 3 });
    const bytes = toOnnx(model);
    proto = () => decodeModel(bytes, "test");
  });
  const read = (p: ModelProto) => () => fromOnnx(encodeModel(p));

  it("bytes that are not a model", () => {
    expect(() => fromOnnx(new Uint8Array([0xff, 0xff, 0xff]))).toThrow(FormatError);
    expect(() => fromOnnx(new Uint8Array([0xff, 0xff, 0xff]))).toThrow(/ONNX model: not an ONNX model/);
    expect(() => fromOnnx(new Uint8Array(0))).toThrow(/opset|no graph/);
    const truncated = toOnnx(model).subarray(0, 100);
    expect(() => fromOnnx(truncated)).toThrow(FormatError);
    expect(() => fromOnnx("model.onnx" as unknown as Uint8Array)).toThrow(ArgumentError);
    expect(() => fromOnnx(toOnnx(model), { sed: 1 } as object)).toThrow(/unknown option "sed"; did you mean "seed"\?/);
  });

  it("an opset or domain this version does not read", () => {
    const p = proto();
    p.opset_import = [{ domain: "", version: 9 }];
    expect(read(p)).toThrow(/written for opset 9; this version reads opsets 13–21/);
    const q = proto();
    q.opset_import = [...q.opset_import!, { domain: "com.microsoft", version: 1 }];
    expect(read(q)).toThrow(/operators of domain "com.microsoft"/);
  });

  it("an operator no layer is: named with its node", () => {
    const p = proto();
    p.graph!.node!.push({ name: "softmax", op_type: "Softmax", input: ["logits"], output: ["probs"] });
    p.graph!.output![0]!.name = "probs";
    expect(read(p)).toThrow(FormatError);
    expect(read(p)).toThrow(/node 3 "softmax": operator "Softmax" is not supported; fromOnnx reads Gemm, Conv/);
  });

  it("attributes of another form: Gemm transB 0, Conv groups, Gelu in erf form, an unknown attribute", () => {
    const p = proto();
    p.graph!.node![0]!.attribute = [intAttribute("transB", 0)];
    expect(read(p)).toThrow(/node 0 "0.gemm" \(Gemm\): transB must be 1/);
    const q = proto();
    q.graph!.node![1]!.attribute = [intAttribute("axis", 1)];
    expect(read(q)).toThrow(/node 1 "1.relu" \(Relu\) has attribute "axis", which is not supported/);
    const geluModel = new Sequential([dense(4, 3), gelu(), dense(3, 2)], { seed: 3 });
    const g = decodeModel(toOnnx(geluModel, { opset: 20 }), "test");
    g.graph!.node![1]!.attribute = [stringAttribute("approximate", "none")];
    expect(read(g)).toThrow(/approximate "none" \(the erf form\) is not supported/);
    geluModel.dispose();
    const cnn = new Sequential([conv2d(2, 2, 1), flatten(), dense(8, 2)], { seed: 1, inputShape: [2, 2, 2] });
    const c = decodeModel(toOnnx(cnn), "test");
    c.graph!.node![0]!.attribute = [...c.graph!.node![0]!.attribute!.filter((a) => a.name !== "group"), intAttribute("group", 2)];
    expect(read(c)).toThrow(/\(Conv\): group must be 1/);
    cnn.dispose();
  });

  it("a graph that is not one chain, or whose ends are not the input and the logits", () => {
    const p = proto();
    p.graph!.node![2]!.input[0] = "input";
    expect(read(p)).toThrow(/node 2 "2.gemm" \(Gemm\) does not take the output of the layer before it/);
    const q = proto();
    q.graph!.output![0]!.name = "1.relu";
    expect(read(q)).toThrow(/output "1.relu" is not the end of the chain/);
    const r = proto();
    r.graph!.input = [...r.graph!.input!, { ...r.graph!.input![0]!, name: "mask" }];
    expect(read(r)).toThrow(/the graph has 2 inputs; one is supported/);
  });

  it("weights that are not float32 initializers in the file, an unused initializer, a negative variance", () => {
    const p = proto();
    p.graph!.initializer![0] = { ...p.graph!.initializer![0]!, data_type: 11 };
    expect(read(p)).toThrow(/initializer "0.weight" has data type 11; only float32 \(1\) tensors are read/);
    const q = proto();
    q.graph!.initializer![1] = { ...q.graph!.initializer![1]!, data_location: 1 };
    expect(read(q)).toThrow(/initializer "0.bias" keeps its data in an external file/);
    const r = proto();
    r.graph!.initializer!.push(floatTensor("spare", [2], [1, 2]));
    expect(read(r)).toThrow(/initializer "spare" is not used by any layer/);
    const s = proto();
    s.graph!.initializer![0] = floatTensor("0.weight", [3, 4], new Float32Array(12).fill(NaN));
    expect(read(s)).toThrow(/tensor 0.weight holds NaN at index 0; weights must be finite/);
    const t = proto();
    t.graph!.initializer![0] = floatTensor("0.weight", [3, 5], new Float32Array(15));
    expect(read(t)).toThrow(/the layers do not fit together/);
  });
});

describe("fromOnnx on damaged bytes", () => {
  it("800 seeded corruptions (1 to 3 random bytes) each give a model or a FormatError, never another error", () => {
    const model = new Sequential([conv2d(1, 2, 3, { padding: 1 }), batchNorm(2), relu(), maxPool2d(2), flatten(), dense(32, 4), gelu(), dense(4, 3)], {
      seed: 1,
      inputShape: [1, 8, 8],
    });
    const bytes = toOnnx(model);
    model.dispose();
    const rnd = new TestRandom(5);
    const outcomes = new Map<string, number>();
    for (let t = 0; t < 800; t++) {
      const damaged = bytes.slice();
      for (let k = 1 + Math.floor(rnd.next() * 3); k > 0; k--) damaged[Math.floor(rnd.next() * damaged.length)] = Math.floor(rnd.next() * 256);
      let outcome = "model";
      try {
        fromOnnx(damaged).dispose();
      } catch (e) {
        expect(e, String(e)).toBeInstanceOf(DistillError);
        outcome = (e as DistillError).name;
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    expect([...outcomes.keys()].sort()).toEqual(["FormatError", "model"]);
  });
});

describe("half precision", () => {
  it("rounds to nearest even, keeps subnormals, overflows to infinity", () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [65504, 0x7bff],
      [65520, 0x7c00],
      [1e6, 0x7c00],
      [-Infinity, 0xfc00],
      [2 ** -24, 0x0001],
      [2 ** -25, 0x0000],
      [3 * 2 ** -25, 0x0002],
      [2 ** -14, 0x0400],
      [0.1, 0x2e66],
      [1 + 2 ** -11, 0x3c00],
      [1 + 3 * 2 ** -11, 0x3c02],
    ];
    for (const [value, bits] of cases) expect(f32ToF16Bits(value), String(value)).toBe(bits);
    expect(f32ToF16Bits(NaN) & 0x7e00).toBe(0x7e00);
    for (let h = 0; h < 0x7c00; h += 7) expect(f32ToF16Bits(f16BitsToNumber(h))).toBe(h);
  });
});
