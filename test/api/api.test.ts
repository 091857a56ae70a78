/**
 * The public TypeScript surface: loading the module every supported way, and input
 * validation that turns every bad argument into a typed error before any wasm call.
 */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it, vi } from "vitest";
import * as api from "../../src/index.js";
import {
  ArgumentError,
  crossEntropy,
  distillationLoss,
  init,
  klDivergence,
  LabelError,
  logSoftmax,
  matmul,
  mseLoss,
  NonFiniteError,
  OptionError,
  RuntimeSupportError,
  ShapeError,
  softmax,
  WasmLoadError,
  type Engine,
} from "../../src/index.js";
import { relaxedAvailable, wasmBytes } from "../helpers/engines.js";

describe("loading the module", () => {
  it("functional ops before init() throw NotInitializedError", async () => {
    vi.resetModules();
    const fresh = (await import("../../src/index.js")) as typeof api;
    expect(() => fresh.softmax([1, 2], 2)).toThrow(fresh.NotInitializedError);
    expect(() => fresh.getEngine()).toThrow(/call `await init\(\)`/);
  });

  it("init() uses the embedded baseline SIMD build by default", async () => {
    const engine = await init();
    expect(engine.build).toBe("release");
    expect(api.getEngine()).toBe(engine);
  });

  it("accepts the module as bytes, as a WebAssembly.Module and as a file: URL", async () => {
    const bytes = wasmBytes("release");
    const module = new WebAssembly.Module(bytes as BufferSource);
    const url = new URL("../../build/distill.release.wasm", import.meta.url);
    for (const wasm of [bytes, module, url, url.href]) {
      const engine = await api.createEngine({ wasm });
      expect(engine.build).toBe("custom");
      expect(Array.from(softmax([0, 0], 2, { engine }))).toEqual([0.5, 0.5]);
    }
  });

  it("rejects bytes that are not wasm, and wasm that is not this module, with WasmLoadError", async () => {
    await expect(api.createEngine({ wasm: new Uint8Array([1, 2, 3]) })).rejects.toThrow(WasmLoadError);
    const emptyModule = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
    await expect(api.createEngine({ wasm: emptyModule })).rejects.toThrow(/not a distill-wasm kernel module/);
    await expect(api.createEngine({ wasm: new URL("file:///nonexistent/distill.wasm") })).rejects.toThrow(WasmLoadError);
  });

  it("validates the simd option", async () => {
    await expect(api.createEngine({ simd: "fast" as never })).rejects.toThrow(OptionError);
  });

  it.runIf(relaxedAvailable)("simd: 'relaxed' loads the FMA build where the engine supports it", async () => {
    const engine = await api.createEngine({ simd: "relaxed" });
    expect(engine.build).toBe("relaxed");
    const c = matmul([1, 2, 3, 4], [5, 6, 7, 8], 2, 2, 2, { engine });
    expect(Array.from(c)).toEqual([19, 22, 43, 50]);
  });

  it.skipIf(relaxedAvailable)("simd: 'relaxed' fails clearly, 'prefer-relaxed' falls back, where unsupported", async () => {
    await expect(api.createEngine({ simd: "relaxed" })).rejects.toThrow(RuntimeSupportError);
    expect((await api.createEngine({ simd: "prefer-relaxed" })).build).toBe("release");
  });

  it("engines are independent: separate memories", async () => {
    const a = await api.createEngine();
    const b = await api.createEngine();
    expect(a.kernels.memory).not.toBe(b.kernels.memory);
    const p = a.putF32([1, 2, 3]);
    expect(b.bytesInUse).toBe(0);
    a.kernels.arena_release(p);
  });

  it("reports the engine's WebAssembly features", () => {
    const f = api.detectFeatures();
    expect(f).toMatchObject({ webAssembly: true, simd: true });
    expect(typeof f.relaxedSimd).toBe("boolean");
  });
});

describe("functional ops: results", () => {
  beforeAll(async () => {
    await init();
  });

  it("softmax / logSoftmax accept Float32Array, Float64Array and number[] alike", () => {
    const x = [1, 2, 3, -1, 0, 4];
    const expected = softmax(Float32Array.from(x), 3, { temperature: 2 });
    expect(softmax(Float64Array.from(x), 3, { temperature: 2 })).toEqual(expected);
    expect(softmax(x, 3, { temperature: 2 })).toEqual(expected);
    const logp = logSoftmax(x, 3, { temperature: 2 });
    for (let i = 0; i < x.length; i++) expect(Math.exp(logp[i]!)).toBeCloseTo(expected[i]!, 6);
  });

  it("matmul supports A·B, A·Bᵀ and Aᵀ·B with bias and ReLU", () => {
    // A = [[1, 2, 3], [4, 5, 6]] (2×3), B = [[1, 0], [0, 1], [1, -1]] (3×2)
    const a = [1, 2, 3, 4, 5, 6];
    const b = [1, 0, 0, 1, 1, -1];
    expect(Array.from(matmul(a, b, 2, 3, 2))).toEqual([4, -1, 10, -1]);
    expect(Array.from(matmul(a, b, 2, 3, 2, { bias: [0.5, 1.5], relu: true }))).toEqual([4.5, 0.5, 10.5, 0.5]);
    const bt = [1, 0, 1, 0, 1, -1]; // Bᵀ (2×3)
    expect(Array.from(matmul(a, bt, 2, 3, 2, { transposeB: true }))).toEqual([4, -1, 10, -1]);
    const at = [1, 4, 2, 5, 3, 6]; // Aᵀ (3×2)
    expect(Array.from(matmul(at, b, 2, 3, 2, { transposeA: true }))).toEqual([4, -1, 10, -1]);
  });

  it("losses return the documented fields", () => {
    const s = [1, 2, 3, 3, 2, 1];
    const t = [0, 1, 4, 2, 2, 2];
    expect(crossEntropy(s, [2, 0], 3).grad).toHaveLength(6);
    expect(klDivergence(s, t, 3, { temperature: 2 }).loss).toBeGreaterThan(0);
    const d = distillationLoss(s, t, [2, 0], 3, { temperature: 2, alpha: 0.25 });
    expect(Object.keys(d).sort()).toEqual(["grad", "hard", "loss", "soft"]);
    expect(d.loss).toBeCloseTo(0.25 * d.hard + 0.75 * d.soft, 12);
    expect(mseLoss([1, 2], [0, 0]).loss).toBeCloseTo(2.5, 12);
    expect(mseLoss([1, 2], [0, 0], { reduction: "sum" }).loss).toBeCloseTo(5, 12);
  });
});

describe("functional ops: bad input gets a typed error that names the problem", () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await init();
  });

  const cases: [string, () => unknown, new (...args: never[]) => Error, RegExp][] = [
    ["logits length not a multiple of classes", () => softmax([1, 2, 3], 2), ShapeError, /logits has 3 values.*multiple of 2/],
    ["empty logits", () => softmax([], 2), ShapeError, /logits has 0 values/],
    ["classes not a positive integer", () => softmax([1, 2], 0), ShapeError, /classes must be a positive integer; got 0/],
    ["fractional classes", () => softmax([1, 2], 1.5), ShapeError, /classes must be a positive integer/],
    ["NaN logit", () => softmax([1, NaN], 2), NonFiniteError, /logits contains NaN at row 0, column 1/],
    ["Infinite logit", () => logSoftmax([1, 2, Infinity, 0], 2), NonFiniteError, /row 1, column 0/],
    ["beyond float32 range", () => softmax([1e39, 0], 2), NonFiniteError, /1e\+39/],
    ["string instead of array", () => softmax("1,2" as never, 2), ArgumentError, /logits must be a Float32Array/],
    ["temperature 0", () => softmax([1, 2], 2, { temperature: 0 }), OptionError, /temperature must be a finite number > 0; got 0/],
    ["negative temperature", () => klDivergence([1, 2], [1, 2], 2, { temperature: -1 }), OptionError, /temperature/],
    ["NaN temperature", () => softmax([1, 2], 2, { temperature: NaN }), OptionError, /got NaN/],
    ["temperature too small for the logits", () => softmax([1e30, 0], 2, { temperature: 1e-10 }), OptionError, /overflows float32/],
    ["label out of range", () => crossEntropy([1, 2, 3, 4], [0, 2], 2), LabelError, /labels\[1\] = 2 is not a class id.*\[0, 2\)/],
    ["negative label", () => crossEntropy([1, 2], [-1], 2), LabelError, /labels\[0\] = -1/],
    ["fractional label", () => crossEntropy([1, 2], [0.5], 2), LabelError, /labels\[0\] = 0.5/],
    ["wrong number of labels", () => crossEntropy([1, 2, 3, 4], [0], 2), ShapeError, /labels has 1 entries; expected one per row \(2\)/],
    ["teacher/student length mismatch", () => klDivergence([1, 2, 3, 4], [1, 2], 2), ShapeError, /teacherLogits has 2 values; expected 4/],
    ["alpha above 1", () => distillationLoss([1, 2], [1, 2], [0], 2, { alpha: 1.5 }), OptionError, /alpha must be a number in \[0, 1\].*got 1.5/],
    ["alpha missing", () => distillationLoss([1, 2], [1, 2], [0], 2, {} as never), OptionError, /alpha/],
    ["NaN in teacher", () => distillationLoss([1, 2], [NaN, 2], [0], 2, { alpha: 0.5 }), NonFiniteError, /teacherLogits contains NaN/],
    ["mse length mismatch", () => mseLoss([1, 2], [1]), ShapeError, /target has 1 values; expected 2/],
    ["mse empty", () => mseLoss([], []), ShapeError, /positive integer/],
    ["mse unknown reduction", () => mseLoss([1], [1], { reduction: "max" as never }), OptionError, /reduction must be one of/],
    ["matmul wrong A size", () => matmul([1, 2, 3], [1, 2], 2, 2, 1), ShapeError, /a has 3 values; expected 4 = \(m=2\) × \(k=2\)/],
    ["matmul wrong bias size", () => matmul([1], [1, 2], 1, 1, 2, { bias: [1] }), ShapeError, /bias has 1 values; expected 2/],
    ["matmul both transposed", () => matmul([1], [1], 1, 1, 1, { transposeA: true, transposeB: true }), OptionError, /together are not supported/],
  ];

  for (const [what, call, type, message] of cases) {
    it(what, () => {
      const before = engine.bytesInUse;
      expect(call).toThrow(type);
      expect(call).toThrow(message);
      expect(engine.bytesInUse, "no arena memory leaked").toBe(before);
    });
  }

  it("every error carries a stable code", () => {
    try {
      crossEntropy([1, 2], [5], 2);
      expect.fail("should have thrown");
    } catch (err) {
      expect(err).toBeInstanceOf(api.DistillError);
      expect((err as api.DistillError).code).toBe("LABEL_OUT_OF_RANGE");
      expect((err as Error).name).toBe("LabelError");
    }
  });

  it("successful calls leave no arena memory behind", () => {
    const before = engine.bytesInUse;
    softmax([1, 2, 3, 4], 2);
    distillationLoss([1, 2], [2, 1], [0], 2, { alpha: 0.5, temperature: 3 });
    matmul([1, 2], [3, 4], 1, 2, 1);
    expect(engine.bytesInUse).toBe(before);
  });

  it("package metadata exposes the ESM entry and its types", () => {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
    expect(pkg.name).toBe("distill-wasm");
    expect(pkg.type).toBe("module");
    expect(pkg.exports["."].types).toBe("./dist/index.d.ts");
  });
});
