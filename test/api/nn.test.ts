/**
 * The model layer (src/nn): layer specs, mlp(), Sequential.
 *
 * Construction: layer lists, PyTorch nn.Sequential parameter names and shapes, the flat
 * block layout, size facts (parameterCount, parameterBytes, flopsPerSample, architecture),
 * He / Glorot initialisation statistics and seeding.
 *
 * Forward: logits against a float64 reference MLP built from the parameters read back
 * with getParameter (test/helpers/mlp64.ts), for every activation and for batches below,
 * at and above the 256-row inference chunk, with a tolerance that is a running bound of
 * float32 rounding (Σ|w·h| per unit, propagated through the layers); probabilities,
 * predict and logits agreeing; inference exactly independent of batching; dropout off at
 * inference; the fused dense+ReLU GEMM equal to the unfused computation.
 *
 * Backward: the gradient block (and the input gradient, and injected extra gradients)
 * against central finite differences in float64 of the float64 reference loss; the
 * tolerance is c·u·S per element, S the absolute-value backward pass of the same
 * computation (u = 2⁻²⁴, c a count of rounding steps). Dropout masks: determinism,
 * statistics, scaling, and gradients with the mask held fixed.
 *
 * Memory: repeated inference and create / dispose cycles leave the heap flat; use after
 * dispose throws. Errors: typed errors whose messages name what is wrong.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ArgumentError,
  DistillError,
  NonFiniteError,
  OptionError,
  Sequential,
  ShapeError,
  activation,
  batchNorm,
  createEngine,
  dense,
  dropout,
  gelu,
  init,
  leakyRelu,
  mlp,
  mlpLayers,
  relu,
  sigmoid,
  tanh,
  type ActivationName,
  type Engine,
  type InitName,
  type LayerSpec,
} from "../../src/index.js";
import { expectClose, expectSameBits } from "../helpers/compare.js";
import { crossEntropy64, softmax64 } from "../helpers/reference.js";
import { TestRandom } from "../helpers/rand.js";
import { U, forward64, gradientScales, layersOf, parameterArrays, type GradientBound } from "../helpers/mlp64.js";
import { numericGradient } from "../helpers/gradcheck.js";

const ACTIVATIONS: readonly ActivationName[] = ["relu", "leaky_relu", "tanh", "sigmoid", "gelu"];
/** Rows of one inference chunk in src/nn/sequential.ts: batches above it run in several passes. */
const INFERENCE_CHUNK = 256;
/** Absolute slack for the float64 finite differences themselves (their error is ~1e-11 here). */
const FD_ATOL = 1e-9;
/** The forward bounds are first order: allow twice the bound for the neglected higher-order terms. */
const FORWARD_TOL = { rtol: 2, atol: 1e-30 };

let engine: Engine;

beforeAll(async () => {
  engine = await init();
});

// ---------------------------------------------------------------- helpers

function inputs(rows: number, width: number, seed: number, spread = 2): Float32Array {
  return new TestRandom(seed).uniform(rows * width, -spread, spread);
}

function labelsFor(rows: number, classes: number, seed: number): Int32Array {
  return new TestRandom(seed).ints(rows, classes);
}

/** Index of the first largest value of each row. */
function argmaxRows(x: ArrayLike<number>, rows: number, cols: number): Int32Array {
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let j = 1; j < cols; j++) if (x[r * cols + j]! > x[r * cols + best]!) best = j;
    out[r] = best;
  }
  return out;
}

/** Copies every parameter of `from` into `to`, mapping names through `rename` (default identity). */
function copyParameters(from: Sequential, to: Sequential, rename: (name: string) => string = (n) => n): void {
  for (const p of from.namedParameters()) to.setParameter(rename(p.name), from.getParameter(p.name));
}

/** The error thrown by fn (undefined if it returns). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

function expectError(fn: () => unknown, type: new (...args: never[]) => Error, message: RegExp, what: string): void {
  const e = thrown(fn);
  expect(e, `${what}: should throw ${type.name}`).toBeInstanceOf(type);
  expect((e as Error).message, `${what}: message`).toMatch(message);
}

function mean(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]!;
  return s / x.length;
}

function std(x: ArrayLike<number>): number {
  const m = mean(x);
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (x[i]! - m) ** 2;
  return Math.sqrt(s / (x.length - 1));
}

/** ∂f/∂v_i by central differences in float64, perturbing `values` in place (restored after). */
function finiteDifferences(values: Float64Array, f: () => number): Float64Array {
  const original = values.slice();
  const g = numericGradient((x) => {
    values.set(x);
    return f();
  }, original);
  values.set(original);
  return g;
}

interface Step {
  logits: Float32Array;
  /** Contents of layerOutput(i) after the training forward pass. */
  layerOutputs: Float32Array[];
  /** Gradient block read at each named parameter's offset. */
  grads: Map<string, Float32Array>;
  inputGrad?: Float32Array;
  returned: number;
}

/** Keeps every dense layer's pre-activation output readable (results are bit-identical). */
function observeAll(model: Sequential): void {
  for (let i = 0; i < model.layerCount; i++) model.keepPreActivation(i);
}

/**
 * One training pass in wasm: x and labels copied in, forward(training), cross-entropy
 * gradient from the kernel, backward (with optional injected gradients), everything read back.
 */
function trainStep(
  model: Sequential,
  x: Float32Array,
  labels: Int32Array,
  options: { inject?: ReadonlyMap<number, Float32Array>; inputGradient?: boolean } = {},
): Step {
  const e = model.engine;
  const rows = labels.length;
  model.reserve(rows);
  observeAll(model);
  return e.scoped(() => {
    const xp = e.putF32(x);
    const lp = e.putI32(labels);
    const out = model.forward(xp, rows, true);
    const logits = e.readF32(out, rows * model.outputs);
    const layerOutputs = model.specs.map((_, i) => e.readF32(model.layerOutput(i), rows * model.layerWidth(i)));
    const grad = e.allocF32(rows * model.outputs);
    e.kernels.cross_entropy(grad, out, lp, rows, model.outputs);
    const inject = new Map<number, number>();
    for (const [i, g] of options.inject ?? []) inject.set(i, e.putF32(g));
    const returned = model.backward(grad, rows, { inject, inputGradient: options.inputGradient });
    const grads = new Map(model.namedParameters().map((p) => [p.name, e.readF32(model.gradsPtr + p.offset * 4, p.length)] as const));
    const inputGrad = options.inputGradient && returned ? e.readF32(returned, rows * model.inputs) : undefined;
    return { logits, layerOutputs, grads, inputGrad, returned };
  });
}

/** Gives every bias small non-zero values (so that no pre-activation sits exactly on a ReLU kink). */
function randomBiases(model: Sequential, seed: number): void {
  const rnd = new TestRandom(seed);
  for (const p of model.namedParameters()) if (p.name.endsWith("bias")) model.setParameter(p.name, rnd.uniform(p.length, 0.05, 0.3));
}

/** The dropout mask of a training pass, recovered from a dropout layer's input and output. */
function recoverMask(before: Float32Array, after: Float32Array, p: number): Float64Array {
  const keep = Math.fround(1 / (1 - Math.fround(p)));
  // Where the input is 0 the mask cannot be seen, and does not matter (0·m = 0, and the
  // gradient into a zero ReLU output is 0 anyway).
  return Float64Array.from(before, (v, i) => (v !== 0 && after[i] === 0 ? 0 : keep));
}

/**
 * Runs a training pass of `model` and checks every parameter gradient (and optionally
 * the input gradient) against finite differences of the float64 reference loss
 *   L = mean cross-entropy(logits) + Σ_i Σ g_i·h_i   (h_i the output of layer i, g_i injected),
 * with dropout masks held at those the pass drew.
 */
function checkGradients(
  model: Sequential,
  x: Float32Array,
  labels: Int32Array,
  what: string,
  options: { inject?: ReadonlyMap<number, Float32Array>; inputGradient?: boolean } = {},
): Step {
  const step = trainStep(model, x, labels, options);
  const rows = labels.length;
  const classes = model.outputs;
  const layers = layersOf(model);
  const masks = new Map<number, Float64Array>();
  layers.forEach((l, i) => {
    if (l.type === "dropout" && l.p > 0) masks.set(i, recoverMask(step.layerOutputs[i - 1]!, step.layerOutputs[i]!, l.p));
  });
  const inject = new Map([...(options.inject ?? [])].map(([i, g]) => [i, Float64Array.from(g)] as const));
  const lossAt = (xx: ArrayLike<number>): number => {
    const f = forward64(layers, xx, rows, { masks });
    let loss = crossEntropy64(f.output, labels, rows, classes).loss;
    for (const [i, g] of inject) {
      const h = f.outputs[i]!;
      for (let q = 0; q < g.length; q++) loss += g[q]! * h[q]!;
    }
    return loss;
  };

  const fwd = forward64(layers, x, rows, { masks, bounds: true });
  // Finite differences across a ReLU kink would be meaningless: the data must keep clear of it.
  layers.forEach((l, i) => {
    if (l.type === "activation" && (l.name === "relu" || l.name === "leaky_relu")) {
      const z = fwd.inputs[i]!;
      let nearest = Infinity;
      for (let q = 0; q < z.length; q++) nearest = Math.min(nearest, Math.abs(z[q]!));
      expect(nearest, `${what}: test data puts a pre-activation of layer ${i} within 1e-3 of the kink; pick other seeds`).toBeGreaterThan(1e-3);
    }
  });
  expectClose(step.logits, fwd.output, FORWARD_TOL, `${what}: training-pass logits vs float64 reference`, fwd.bound);

  // |∂L/∂logits| = |p − onehot|/rows ≤ (p + onehot)/rows; the logits' own errors move p
  // by at most 2·p·max_j E_j (softmax Jacobian), which ∂L/∂logits inherits.
  const p = softmax64(fwd.output, rows, classes);
  const dOut = new Float64Array(rows * classes);
  const dOutError = new Float64Array(rows * classes);
  for (let r = 0; r < rows; r++) {
    let worst = 0;
    for (let j = 0; j < classes; j++) worst = Math.max(worst, fwd.bound[r * classes + j]!);
    for (let j = 0; j < classes; j++) {
      const pj = p[r * classes + j]!;
      dOut[r * classes + j] = (pj + (j === labels[r] ? 1 : 0)) / rows;
      dOutError[r * classes + j] = (2 * pj * worst) / rows;
    }
  }
  const scales = gradientScales(layers, fwd, rows, dOut, dOutError, { inject, masks });
  const widest = Math.max(model.inputs, ...model.specs.map((_, i) => model.layerWidth(i)));
  // Rounding steps along any path: the row sums of the weight gradients, the widest
  // matrix product, a few per layer and the softmax / cross-entropy kernel; doubled.
  // The inherited (first-order) error is doubled too.
  const c = 2 * (rows + widest + 2 * layers.length + 16);
  const bound = (b: GradientBound) => b.scale.map((s, q) => c * U * s + 2 * b.inherited[q]!);
  const tol = { rtol: 1, atol: FD_ATOL };

  for (const { name, values } of parameterArrays(layers)) {
    const fd = finiteDifferences(values, () => lossAt(x));
    const index = Number(name.split(".")[0]);
    const b = name.endsWith("weight") ? scales.weight.get(index)! : scales.bias.get(index)!;
    expectClose(step.grads.get(name)!, fd, tol, `${what}: ∂L/∂${name}`, bound(b));
  }
  if (options.inputGradient) {
    expect(step.inputGrad, `${what}: backward with inputGradient returned no pointer`).toBeDefined();
    const xx = Float64Array.from(x);
    const fd = finiteDifferences(xx, () => lossAt(xx));
    expectClose(step.inputGrad!, fd, tol, `${what}: ∂L/∂x`, bound(scales.input));
  }
  return step;
}

// ================================================================ construction

describe("construction", () => {
  it("mlp([784, 512, 10]) is dense → relu → dense with nn.Sequential parameter names and shapes", () => {
    const model = mlp([784, 512, 10]);
    try {
      expect(model.specs).toEqual([
        { type: "dense", inputs: 784, outputs: 512, init: "torch" },
        { type: "activation", name: "relu" },
        { type: "dense", inputs: 512, outputs: 10, init: "torch" },
      ]);
      expect(model.layerCount).toBe(3);
      expect([0, 1, 2].map((i) => model.layerWidth(i))).toEqual([512, 512, 10]);
      expect(model.inputs).toBe(784);
      expect(model.outputs).toBe(10);
      const named = model.namedParameters();
      expect(named.map((p) => [p.name, p.shape, p.length])).toEqual([
        ["0.weight", [512, 784], 512 * 784],
        ["0.bias", [512], 512],
        ["2.weight", [10, 512], 10 * 512],
        ["2.bias", [10], 10],
      ]);
      for (const p of named) expect(model.getParameter(p.name).length, `getParameter(${p.name}).length`).toBe(p.length);
      expect(model.architecture).toBe("784-512-10");
    } finally {
      model.dispose();
    }
  });

  it("namedParameters tile the flat block: 16-byte aligned, in order, non-overlapping, inside blockLength", () => {
    const model = mlp([13, 7, 5, 3]);
    try {
      const named = model.namedParameters();
      let end = 0;
      for (const p of named) {
        expect(p.offset % 4, `${p.name}: offset ${p.offset} floats is not 16-byte aligned`).toBe(0);
        expect(p.offset, `${p.name}: overlaps the tensor before it`).toBeGreaterThanOrEqual(end);
        expect(p.offset - end, `${p.name}: more padding than alignment needs`).toBeLessThan(4);
        end = p.offset + p.length;
      }
      expect(model.blockLength).toBeGreaterThanOrEqual(end);
      expect(model.blockLength % 4).toBe(0);
      const block = model.parameterBlock();
      expect(block.length).toBe(model.blockLength);
      for (const p of named) {
        expectSameBits(block.subarray(p.offset, p.offset + p.length), model.getParameter(p.name), `parameterBlock at ${p.name}`);
      }
      // namedParameters hands out copies: editing them cannot corrupt the model.
      named[0]!.offset = 999;
      named[0]!.shape[0] = -1;
      expect(model.namedParameters()[0]).toMatchObject({ offset: 0, shape: [7, 13] });
    } finally {
      model.dispose();
    }
  });

  it('getParameter and setParameter accept the "layers.<i>.<name>" alias', () => {
    const model = mlp([6, 5, 4], { seed: 3 });
    try {
      expectSameBits(model.getParameter("layers.0.weight"), model.getParameter("0.weight"), "layers.0.weight vs 0.weight");
      expectSameBits(model.getParameter("layers.2.bias"), model.getParameter("2.bias"), "layers.2.bias vs 2.bias");
      const values = new TestRandom(1).uniform(4);
      model.setParameter("layers.2.bias", values);
      expectSameBits(model.getParameter("2.bias"), values, "2.bias after setParameter(layers.2.bias)");
    } finally {
      model.dispose();
    }
  });

  it("getParameter returns a copy, and setParameter stores float32-rounded values", () => {
    const model = mlp([3, 2], { seed: 1 });
    try {
      const w = model.getParameter("0.weight");
      const saved = w.slice();
      w.fill(42);
      expectSameBits(model.getParameter("0.weight"), saved, "0.weight after editing the returned copy");
      const values = [0.1, -1 / 3, 1e-3, 2 ** 20 + 0.3, -0.7, 5];
      model.setParameter("0.weight", values);
      expectSameBits(model.getParameter("0.weight"), Float32Array.from(values), "0.weight after setParameter(number[])");
      model.setParameter("0.bias", new Float64Array([Math.PI, -Math.E]));
      expectSameBits(model.getParameter("0.bias"), new Float32Array([Math.PI, -Math.E]), "0.bias after setParameter(Float64Array)");
    } finally {
      model.dispose();
    }
  });

  it("size facts: 784-32-10 has 25,450 parameters, 101,800 bytes and 2·in·out + out per dense + 1 per activation flops", () => {
    const model = mlp([784, 32, 10]);
    try {
      expect(model.parameterCount).toBe(784 * 32 + 32 + 32 * 10 + 10);
      expect(model.parameterCount).toBe(25_450);
      expect(model.parameterBytes).toBe(101_800);
      expect(model.flopsPerSample).toBe(2 * 784 * 32 + 32 + 32 + 2 * 32 * 10 + 10);
      expect(model.architecture).toBe("784-32-10");
    } finally {
      model.dispose();
    }
    const deep = new Sequential([dense(10, 20), tanh(), dropout(0.5), dense(20, 30), gelu(), dense(30, 4)]);
    try {
      expect(deep.parameterCount).toBe(10 * 20 + 20 + 20 * 30 + 30 + 30 * 4 + 4);
      expect(deep.parameterBytes).toBe(4 * deep.parameterCount);
      // dropout costs nothing; each activation one flop per value
      expect(deep.flopsPerSample).toBe(2 * 10 * 20 + 20 + 20 + (2 * 20 * 30 + 30) + 30 + (2 * 30 * 4 + 4));
      expect(deep.architecture).toBe("10-20-30-4");
    } finally {
      deep.dispose();
    }
  });

  it("dropout in mlp shifts layer indices: mlp([4, 8, 3], { dropout: 0.5 }) is dense 0, relu 1, dropout 2, dense 3", () => {
    expect(mlpLayers([4, 8, 3], { dropout: 0.5 })).toEqual([
      { type: "dense", inputs: 4, outputs: 8, init: "torch" },
      { type: "activation", name: "relu" },
      { type: "dropout", p: 0.5 },
      { type: "dense", inputs: 8, outputs: 3, init: "torch" },
    ]);
    const model = mlp([4, 8, 3], { dropout: 0.5 });
    try {
      expect(model.namedParameters().map((p) => p.name)).toEqual(["0.weight", "0.bias", "3.weight", "3.bias"]);
      expect(model.layerCount).toBe(4);
      expect([0, 1, 2, 3].map((i) => model.layerWidth(i))).toEqual([8, 8, 8, 3]);
      expect(model.architecture).toBe("4-8-3");
    } finally {
      model.dispose();
    }
    // Two hidden layers: dropout after each hidden activation, none after the logits.
    expect(mlpLayers([5, 6, 7, 2], { dropout: 0.25, activation: "gelu" }).map((s) => s.type)).toEqual([
      "dense",
      "activation",
      "dropout",
      "dense",
      "activation",
      "dropout",
      "dense",
    ]);
    expect(mlpLayers([5, 2], { dropout: 0.25 }).map((s) => s.type)).toEqual(["dense"]);
  });

  it("mlp uses PyTorch's initialisation for every activation unless init is given", () => {
    const initOf = (act: ActivationName, init?: InitName) =>
      mlpLayers([4, 8, 3], { activation: act, ...(init ? { init } : {}) })
        .filter((s) => s.type === "dense")
        .map((s) => (s as { init?: string }).init);
    for (const act of ACTIVATIONS) expect(initOf(act), act).toEqual(["torch", "torch"]);
    expect(initOf("tanh", "he")).toEqual(["he", "he"]);
    expect(initOf("relu", "glorot")).toEqual(["glorot", "glorot"]);
    for (const act of ACTIVATIONS) {
      expect(mlpLayers([4, 8, 3], { activation: act })[1], `hidden activation for ${act}`).toEqual({ type: "activation", name: act });
    }
  });

  it("a custom Sequential stack with every activation: names by layer index, widths, architecture", () => {
    const model = new Sequential([
      dense(6, 8),
      leakyRelu(0.2),
      dense(8, 7),
      tanh(),
      dense(7, 5),
      sigmoid(),
      dense(5, 4),
      gelu(),
      dense(4, 3),
      relu(),
      dense(3, 2),
    ]);
    try {
      expect(model.namedParameters().map((p) => `${p.name}:${p.shape.join("x")}`)).toEqual([
        "0.weight:8x6",
        "0.bias:8",
        "2.weight:7x8",
        "2.bias:7",
        "4.weight:5x7",
        "4.bias:5",
        "6.weight:4x5",
        "6.bias:4",
        "8.weight:3x4",
        "8.bias:3",
        "10.weight:2x3",
        "10.bias:2",
      ]);
      expect(model.specs[1]).toEqual({ type: "activation", name: "leaky_relu", slope: 0.2 });
      expect(model.layerCount).toBe(11);
      expect(model.specs.map((_, i) => model.layerWidth(i))).toEqual([8, 8, 7, 7, 5, 5, 4, 4, 3, 3, 2]);
      expect(model.architecture).toBe("6-8-7-5-4-3-2");
      expect(model.inputs).toBe(6);
      expect(model.outputs).toBe(2);
    } finally {
      model.dispose();
    }
  });

  it("the model keeps its own copy of the layer specs", () => {
    const specs: LayerSpec[] = [dense(4, 6), activation("leaky_relu", { slope: 0.1 }), dense(6, 2)];
    const model = new Sequential(specs, { seed: 2 });
    try {
      const before = model.logits(inputs(3, 4, 5));
      (specs[1] as { slope?: number }).slope = 0.9;
      (specs[0] as { outputs: number }).outputs = 99;
      expect(model.specs[1]).toEqual({ type: "activation", name: "leaky_relu", slope: 0.1 });
      expectSameBits(model.logits(inputs(3, 4, 5)), before, "logits after editing the caller's spec objects");
    } finally {
      model.dispose();
    }
  });
});

// ================================================================ initialisation

describe("initialisation", () => {
  let big: Sequential;
  beforeAll(() => {
    big = mlp([784, 512, 10], { seed: 12345, init: "he" });
  });
  afterAll(() => big.dispose());

  it("He: the 512×784 weights are N(0, 2/784): mean, std and the ±1σ fraction within 6 standard errors", () => {
    const w = big.getParameter("0.weight");
    const n = w.length;
    const sigma = Math.sqrt(2 / 784);
    // Standard errors of a normal sample: mean σ/√n, sample std ≈ σ/√(2n), fraction p(1−p)/n.
    expect(Math.abs(mean(w)), "mean").toBeLessThan((6 * sigma) / Math.sqrt(n));
    expect(Math.abs(std(w) / sigma - 1), `std ${std(w)} vs √(2/784) = ${sigma}`).toBeLessThan(6 / Math.sqrt(2 * n));
    // A normal puts 68.27% within ±σ; a uniform of the same std would put 57.7% there.
    let inside = 0;
    for (const v of w) if (Math.abs(v) < sigma) inside++;
    const pIn = 0.682689492;
    expect(Math.abs(inside / n - pIn), `fraction within ±σ: ${inside / n}`).toBeLessThan(6 * Math.sqrt((pIn * (1 - pIn)) / n));
    // Fourth moment: E w⁴ = 3σ⁴ for a normal (uniform: 1.8σ⁴); Var(w⁴) = 96σ⁸.
    let m4 = 0;
    for (const v of w) m4 += v ** 4;
    m4 /= n;
    expect(Math.abs(m4 / sigma ** 4 - 3), "kurtosis").toBeLessThan(6 * Math.sqrt(96 / n));
  });

  it("He: the 10×512 output weights have std √(2/512)", () => {
    const w = big.getParameter("2.weight");
    const sigma = Math.sqrt(2 / 512);
    expect(Math.abs(std(w) / sigma - 1), `std ${std(w)} vs ${sigma}`).toBeLessThan(6 / Math.sqrt(2 * w.length));
    expect(Math.abs(mean(w))).toBeLessThan((6 * sigma) / Math.sqrt(w.length));
  });

  it("He and Glorot biases start at exactly +0", () => {
    for (const name of ["0.bias", "2.bias"]) {
      const b = big.getParameter(name);
      expect(
        b.every((v) => Object.is(v, 0)),
        `${name} has a value that is not +0`,
      ).toBe(true);
    }
    for (const act of ACTIVATIONS) {
      const m = mlp([9, 7, 5, 3], { activation: act, seed: 4, init: act === "tanh" || act === "sigmoid" ? "glorot" : "he" });
      try {
        for (const p of m.namedParameters().filter((q) => q.name.endsWith("bias"))) {
          expect(
            m.getParameter(p.name).every((v) => Object.is(v, 0)),
            `${act}: ${p.name} is not all +0`,
          ).toBe(true);
        }
      } finally {
        m.dispose();
      }
    }
  });

  for (const act of ["tanh", "sigmoid"] as const) {
    it(`Glorot (${act}): every |w| ≤ √(6/(in+out)), filling the range uniformly`, () => {
      const widths = [100, 60, 40, 10];
      const model = mlp(widths, { activation: act, seed: 77, init: "glorot" });
      try {
        for (let l = 0; l + 1 < widths.length; l++) {
          const fanIn = widths[l]!;
          const fanOut = widths[l + 1]!;
          const limit = Math.sqrt(6 / (fanIn + fanOut));
          const w = model.getParameter(`${2 * l}.weight`);
          let worst = 0;
          for (const v of w) worst = Math.max(worst, Math.abs(v));
          // The kernel draws in [−limit, limit) with limit rounded to float32.
          expect(worst, `${2 * l}.weight: max |w| ${worst} exceeds √(6/(${fanIn}+${fanOut})) = ${limit}`).toBeLessThanOrEqual(Math.fround(limit));
          // n uniform draws: P(max |w| < (1 − 6/n)·limit) = (1 − 6/n)^n ≈ e⁻⁶.
          expect(worst, `${2 * l}.weight: max |w| ${worst} does not reach the Glorot limit ${limit}`).toBeGreaterThan((1 - 6 / w.length) * limit);
          // Uniform(±a): std a/√3, relative standard error of the sample std ≈ √(0.2/n).
          expect(Math.abs(std(w) / (limit / Math.sqrt(3)) - 1), `${2 * l}.weight std`).toBeLessThan(6 * Math.sqrt(0.2 / w.length));
        }
      } finally {
        model.dispose();
      }
    });
  }

  it("init is honoured per dense layer when given explicitly", () => {
    const model = new Sequential([dense(300, 200, { init: "glorot" }), relu(), dense(200, 100, { init: "he" })], { seed: 5 });
    try {
      const limit = Math.sqrt(6 / 500);
      const w0 = model.getParameter("0.weight");
      expect(
        w0.every((v) => Math.abs(v) <= Math.fround(limit)),
        "glorot layer outside its limit",
      ).toBe(true);
      expect(Math.abs(std(w0) / (limit / Math.sqrt(3)) - 1)).toBeLessThan(6 * Math.sqrt(0.2 / w0.length));
      const w2 = model.getParameter("2.weight");
      const sigma = Math.sqrt(2 / 200);
      expect(Math.abs(std(w2) / sigma - 1), "he layer std").toBeLessThan(6 / Math.sqrt(2 * w2.length));
      // A normal exceeds 3σ for 0.27% of values (about 54 of these 20,000); a Glorot layer never would.
      expect(
        w2.some((v) => Math.abs(v) > 3 * sigma),
        "he layer never exceeds 3σ: not normal",
      ).toBe(true);
    } finally {
      model.dispose();
    }
  });

  it("the same seed gives identical parameter blocks; another seed different ones; default seed is 0", () => {
    const a = mlp([30, 20, 10], { seed: 42 });
    const b = mlp([30, 20, 10], { seed: 42 });
    const c = mlp([30, 20, 10], { seed: 43 });
    const d = mlp([30, 20, 10]);
    const e = mlp([30, 20, 10], { seed: 0 });
    const hi = mlp([30, 20, 10], { seed: 2 ** 32 + 42 });
    try {
      expectSameBits(b.parameterBlock(), a.parameterBlock(), "seed 42 twice");
      expectSameBits(d.parameterBlock(), e.parameterBlock(), "default seed vs seed 0");
      for (const [other, label] of [
        [c, "seed 43"],
        [hi, "seed 2^32 + 42 (high word)"],
      ] as const) {
        const x = a.getParameter("0.weight");
        const y = other.getParameter("0.weight");
        let same = 0;
        for (let i = 0; i < x.length; i++) if (x[i] === y[i]) same++;
        expect(same, `${label}: ${same} of ${x.length} weights equal those of seed 42`).toBeLessThan(x.length / 100);
      }
    } finally {
      for (const m of [a, b, c, d, e, hi]) m.dispose();
    }
  });
});

// ================================================================ forward

describe("forward vs the float64 reference", () => {
  for (const act of ACTIVATIONS) {
    for (const rows of [1, 3, 17, 300]) {
      it(`${act}: logits of mlp([23, 37, 19, 10]) for ${rows} row(s) agree to float32 rounding`, () => {
        const model = mlp([23, 37, 19, 10], { activation: act, seed: 100 + rows });
        try {
          const x = inputs(rows, 23, 200 + rows);
          const ref = forward64(layersOf(model), x, rows, { bounds: true });
          expectClose(model.logits(x), ref.output, FORWARD_TOL, `${act}, ${rows} rows`, ref.bound);
        } finally {
          model.dispose();
        }
      });
    }
  }

  it("relu: mlp([784, 512, 10]) on 300 rows (K above the 256 GEMM block, rows above the inference chunk)", () => {
    const model = mlp([784, 512, 10], { seed: 9 });
    try {
      const rows = 300;
      const x = new TestRandom(31).uniform(rows * 784, 0, 1);
      const ref = forward64(layersOf(model), x, rows, { bounds: true });
      expectClose(model.logits(x), ref.output, FORWARD_TOL, "784-512-10, 300 rows", ref.bound);
    } finally {
      model.dispose();
    }
  });

  it("a custom stack with every activation (leaky slope 0.2) agrees for 1, 3, 17 and 300 rows", () => {
    const model = new Sequential(
      [dense(6, 8), leakyRelu(0.2), dense(8, 7), tanh(), dense(7, 5), sigmoid(), dense(5, 4), gelu(), dense(4, 3), relu(), dense(3, 2)],
      { seed: 8 },
    );
    try {
      for (const rows of [1, 3, 17, 300]) {
        const x = inputs(rows, 6, 300 + rows, 3);
        const ref = forward64(layersOf(model), x, rows, { bounds: true });
        expectClose(model.logits(x), ref.output, FORWARD_TOL, `custom stack, ${rows} rows`, ref.bound);
      }
    } finally {
      model.dispose();
    }
  });

  it("non-zero biases and hand-set weights are used as y = x·Wᵀ + b", () => {
    const model = new Sequential([dense(2, 3), dense(3, 2)]);
    try {
      model.setParameter("0.weight", [1, 2, 3, 4, 5, 6]); // rows (outputs) of W
      model.setParameter("0.bias", [0.5, -1, 2]);
      model.setParameter("1.weight", [1, 0, -1, 0.5, 0.25, 0]);
      model.setParameter("1.bias", [10, -10]);
      // h = [1·1 + 2·2 + 0.5, 3·1 + 4·2 − 1, 5·1 + 6·2 + 2] = [5.5, 10, 19]
      // y = [5.5 − 19 + 10, 2.75 + 2.5 − 10] = [−3.5, −4.75]
      expect(Array.from(model.logits([1, 2]))).toEqual([-3.5, -4.75]);
    } finally {
      model.dispose();
    }
  });

  for (const act of ACTIVATIONS) {
    it(`${act}: layerOutput(i) holds layer i's output of the last pass (dense: x·Wᵀ + b)`, () => {
      const model = mlp([23, 37, 19, 10], { activation: act, seed: 61 });
      try {
        const rows = 17;
        const x = inputs(rows, 23, 62);
        observeAll(model);
        model.logits(x);
        const ref = forward64(layersOf(model), x, rows, { bounds: true });
        for (let i = 0; i < model.layerCount; i++) {
          const got = engine.readF32(model.layerOutput(i), rows * model.layerWidth(i));
          const kind = model.specs[i]!.type === "dense" ? "dense" : model.specs[i]!.type === "activation" ? act : "dropout";
          expectClose(got, ref.outputs[i]!, FORWARD_TOL, `layerOutput(${i}) (${kind})`, ref.bounds[i]!);
        }
      } finally {
        model.dispose();
      }
    });
  }
});

describe("logits, probabilities and predict", () => {
  let model: Sequential;
  const rows = 300;
  let x: Float32Array;
  let logits: Float32Array;
  beforeAll(() => {
    model = mlp([23, 37, 19, 10], { activation: "gelu", seed: 21 });
    x = inputs(rows, 23, 22, 3);
    logits = model.logits(x);
  });
  afterAll(() => model.dispose());

  /** Per-element scale of softmax rounding: p·(|z/T| + |max z/T| + cols + 8) (argument, exp, sum, divide). */
  function softmaxScale(z: Float32Array, p: Float64Array, cols: number, t: number): Float64Array {
    const s = new Float64Array(p.length);
    for (let r = 0; r < p.length / cols; r++) {
      let m = -Infinity;
      for (let j = 0; j < cols; j++) m = Math.max(m, z[r * cols + j]! / t);
      for (let j = 0; j < cols; j++) s[r * cols + j] = p[r * cols + j]! * (Math.abs(z[r * cols + j]! / t) + Math.abs(m) + cols + 8);
    }
    return s;
  }

  for (const t of [1, 0.5, 3]) {
    it(`probabilities (T = ${t}) are softmax(logits / T) of the model's own logits; rows sum to 1`, () => {
      const p = model.probabilities(x, t === 1 ? {} : { temperature: t });
      const ref = softmax64(logits, rows, 10, t);
      const scale = softmaxScale(logits, ref, 10, t);
      expectClose(p, ref, { rtol: 4 * U, atol: 1e-37 }, `probabilities T=${t}`, scale);
      for (let r = 0; r < rows; r++) {
        let sum = 0;
        let bound = 10 * U;
        for (let j = 0; j < 10; j++) {
          sum += p[r * 10 + j]!;
          bound += 4 * U * scale[r * 10 + j]!;
        }
        expect(Math.abs(sum - 1), `row ${r}: probabilities sum to ${sum}`).toBeLessThanOrEqual(bound);
      }
    });
  }

  it("a higher temperature flattens every row (the largest probability never grows)", () => {
    const p1 = model.probabilities(x);
    const p4 = model.probabilities(x, { temperature: 4 });
    const top1 = argmaxRows(p1, rows, 10);
    let flatter = 0;
    for (let r = 0; r < rows; r++) {
      const a = p1[r * 10 + top1[r]!]!;
      const b = p4[r * 10 + top1[r]!]!;
      expect(b, `row ${r}: top probability ${a} at T=1 became ${b} at T=4`).toBeLessThanOrEqual(a + 1e-6);
      if (b < a) flatter++;
    }
    expect(flatter).toBeGreaterThan(rows * 0.9);
  });

  it("predict is the argmax of logits (and of probabilities where the top two logits are apart)", () => {
    const ids = model.predict(x);
    expect(ids).toBeInstanceOf(Int32Array);
    expect(Array.from(ids)).toEqual(Array.from(argmaxRows(logits, rows, 10)));
    const p = model.probabilities(x);
    const fromP = argmaxRows(p, rows, 10);
    for (let r = 0; r < rows; r++) {
      const row = Array.from(logits.subarray(r * 10, r * 10 + 10)).sort((a, b) => b - a);
      if (row[0]! - row[1]! > 1e-4) expect(fromP[r], `row ${r}: argmax of probabilities`).toBe(ids[r]);
    }
    const counts = new Set(ids);
    expect(counts.size, "predictions all in one class: the test data does not discriminate").toBeGreaterThan(2);
  });

  it("number[], Float64Array and Float32Array inputs give the same logits bit for bit", () => {
    expectSameBits(model.logits(Array.from(x)), logits, "logits(number[])");
    expectSameBits(model.logits(Float64Array.from(x)), logits, "logits(Float64Array)");
    expect(Array.from(model.predict(Array.from(x)))).toEqual(Array.from(model.predict(x)));
  });

  it("forward(x, rows, false) on a wasm batch gives the same bits as logits", () => {
    model.reserve(rows);
    const out = engine.scoped(() => engine.readF32(model.forward(engine.putF32(x), rows, false), rows * 10));
    expectSameBits(out, logits, "forward(inference) vs logits");
  });
});

describe("inference is exactly independent of batching", () => {
  for (const act of ACTIVATIONS) {
    it(`${act}: logits of 300 rows at once === row by row === in chunks of 7, bit for bit`, () => {
      const model = mlp([23, 37, 19, 10], { activation: act, seed: 50 });
      try {
        const rows = 300;
        const x = inputs(rows, 23, 51);
        const all = model.logits(x);
        const byRow = new Float32Array(all.length);
        for (let r = 0; r < rows; r++) byRow.set(model.logits(x.subarray(r * 23, (r + 1) * 23)), r * 10);
        expectSameBits(byRow, all, `${act}: row by row vs all at once`);
        const byChunk = new Float32Array(all.length);
        for (let r = 0; r < rows; r += 7) {
          const n = Math.min(7, rows - r);
          byChunk.set(model.logits(x.subarray(r * 23, (r + n) * 23)), r * 10);
        }
        expectSameBits(byChunk, all, `${act}: chunks of 7 vs all at once`);
        const ids = model.predict(x);
        for (let r = 0; r < rows; r += 37) {
          expect(model.predict(x.subarray(r * 23, (r + 1) * 23))[0], `${act}: predict row ${r} alone`).toBe(ids[r]);
        }
      } finally {
        model.dispose();
      }
    });
  }

  it("K above the GEMM depth block (784 inputs): 300 rows at once === row by row", () => {
    const model = mlp([784, 64, 10], { seed: 52 });
    try {
      const rows = 300;
      const x = new TestRandom(53).uniform(rows * 784, 0, 1);
      const all = model.logits(x);
      const byRow = new Float32Array(all.length);
      for (let r = 0; r < rows; r++) byRow.set(model.logits(x.subarray(r * 784, (r + 1) * 784)), r * 10);
      expectSameBits(byRow, all, "784-64-10 row by row vs all at once");
      // ... and the model's batch capacity after a large reserve does not change the chunking result
      model.reserve(1000);
      expectSameBits(model.logits(x), all, "after reserve(1000)");
    } finally {
      model.dispose();
    }
  });

  it(`more rows than one inference chunk (${INFERENCE_CHUNK}): the rows after the chunk boundary are right`, () => {
    const model = mlp([12, 9, 4], { activation: "tanh", seed: 54 });
    try {
      const rows = 2 * INFERENCE_CHUNK + 3;
      const x = inputs(rows, 12, 55);
      const ref = forward64(layersOf(model), x, rows, { bounds: true });
      expectClose(model.logits(x), ref.output, FORWARD_TOL, `${rows} rows`, ref.bound);
      const p = model.probabilities(x);
      expectClose(
        p.subarray((rows - 3) * 4),
        softmax64(model.logits(x.subarray((rows - 3) * 12)), 3, 4),
        { rtol: 64 * U, atol: 1e-9 },
        "probabilities of the last 3 rows",
      );
      expect(Array.from(model.predict(x))).toEqual(Array.from(argmaxRows(model.logits(x), rows, 4)));
    } finally {
      model.dispose();
    }
  });
});

describe("dropout at inference and the fused dense+ReLU", () => {
  it("dropout is the identity at inference: same logits with and without a dropout layer", () => {
    const withDropout = mlp([20, 30, 25, 6], { dropout: 0.5, seed: 1 });
    const without = mlp([20, 30, 25, 6], { seed: 999 });
    try {
      // with dropout: 0 dense, 1 relu, 2 dropout, 3 dense, 4 relu, 5 dropout, 6 dense; without: 0, 1, 2, 3, 4
      const rename: Record<string, string> = { "0": "0", "3": "2", "6": "4" };
      copyParameters(withDropout, without, (n) => `${rename[n.split(".")[0]!]}.${n.split(".")[1]}`);
      const x = inputs(40, 20, 2);
      expectSameBits(withDropout.logits(x), without.logits(x), "logits with vs without dropout layers");
      expectSameBits(withDropout.probabilities(x), without.probabilities(x), "probabilities with vs without dropout layers");
      // and the dropout layer's output at inference is its input
      withDropout.logits(x);
      expectSameBits(
        engine.readF32(withDropout.layerOutput(2), 40 * 30),
        engine.readF32(withDropout.layerOutput(1), 40 * 30),
        "dropout layer output vs its input at inference",
      );
      // Training does drop: the training pass differs.
      const labels = labelsFor(40, 6, 3);
      const train = trainStep(withDropout, x, labels).logits;
      const inference = withDropout.logits(x);
      const differing = train.filter((v, i) => v !== inference[i]).length;
      expect(differing, "training-pass logits equal inference logits: dropout never applied").toBeGreaterThan(0);
    } finally {
      withDropout.dispose();
      without.dispose();
    }
  });

  it("fused [dense, relu, dense, relu, dense] === unfused [dense, leakyRelu(0), …] with the same parameters", () => {
    const fused = new Sequential([dense(23, 37), relu(), dense(37, 19), relu(), dense(19, 10)], { seed: 70 });
    const unfused = new Sequential([dense(23, 37), leakyRelu(0), dense(37, 19), leakyRelu(0), dense(19, 10)], { seed: 71 });
    try {
      copyParameters(fused, unfused);
      const rows = 300;
      const x = inputs(rows, 23, 72);
      expectSameBits(unfused.logits(x), fused.logits(x), "inference logits (300 rows)");
      // hidden activations equal as values (+0 from max(z, 0) vs −0 from z·0 is allowed)
      const hidden = (m: Sequential, i: number) => Array.from(engine.readF32(m.layerOutput(i), (rows - INFERENCE_CHUNK) * m.layerWidth(i)));
      for (const i of [1, 3]) {
        const a = hidden(fused, i);
        const b = hidden(unfused, i);
        expect(
          a.every((v, q) => v === b[q]),
          `relu layer ${i}: hidden values differ`,
        ).toBe(true);
      }
      // A training pass: the same output bits, and the same gradients (as values).
      const labels = labelsFor(32, 10, 73);
      const xb = x.subarray(0, 32 * 23);
      const a = trainStep(fused, xb, labels, { inputGradient: true });
      const b = trainStep(unfused, xb, labels, { inputGradient: true });
      expectSameBits(a.logits, b.logits, "training logits");
      for (const [name, g] of a.grads) {
        const h = b.grads.get(name)!;
        const bad = g.findIndex((v, q) => v !== h[q]);
        expect(bad, `gradient ${name}[${bad}]: fused ${g[bad]} vs unfused ${h[bad]}`).toBe(-1);
      }
      const bad = a.inputGrad!.findIndex((v, q) => v !== b.inputGrad![q]);
      expect(bad, `input gradient [${bad}] differs`).toBe(-1);
    } finally {
      fused.dispose();
      unfused.dispose();
    }
  });

  it("a dense layer with a fused ReLU refuses layerOutput until keepPreActivation, then gives x·Wᵀ + b", () => {
    const fused = new Sequential([dense(3, 4), relu(), dense(4, 2)], { seed: 1 });
    const unfused = new Sequential([dense(3, 4), leakyRelu(0), dense(4, 2)], { seed: 1 });
    try {
      copyParameters(fused, unfused);
      const x = [1, -2, 0.5, -1, 1, 2];
      const fusedLogits = fused.logits(x);
      unfused.logits(x);
      // With the ReLU fused into the GEMM the pre-activation never exists: a clear error, not post-ReLU values.
      expect(() => fused.layerOutput(0)).toThrow(ArgumentError);
      expect(() => fused.layerOutput(0)).toThrow(/keepPreActivation\(0\)/);
      fused.keepPreActivation(0);
      expectSameBits(fused.logits(x), fusedLogits, "logits with and without the fused ReLU");
      const f = Array.from(engine.readF32(fused.layerOutput(0), 8));
      const u = Array.from(engine.readF32(unfused.layerOutput(0), 8));
      expect(
        u.some((v) => v < 0),
        "test data gives no negative pre-activation",
      ).toBe(true);
      expect(f, `layerOutput(0) of [dense, relu, dense]: ${JSON.stringify(f)} vs [dense, leakyRelu(0), dense]: ${JSON.stringify(u)}`).toEqual(u);
    } finally {
      fused.dispose();
      unfused.dispose();
    }
  });
});

// ================================================================ backward

describe("backward vs finite differences", () => {
  for (const act of ACTIVATIONS) {
    it(`${act}: every parameter gradient of a 5-4-3 net, batch of 6`, () => {
      const model = mlp([5, 4, 3], { activation: act, seed: 10 });
      try {
        const step = checkGradients(model, inputs(6, 5, 11), labelsFor(6, 3, 12), `${act} 5-4-3`);
        expect(step.returned, "backward without inputGradient returns 0").toBe(0);
      } finally {
        model.dispose();
      }
    });

    it(`${act}: two hidden layers (5-6-4-3) with the input gradient (inputGradient: true)`, () => {
      const model = mlp([5, 6, 4, 3], { activation: act, seed: 21 });
      try {
        randomBiases(model, 19); // trained biases are not 0
        const step = checkGradients(model, inputs(4, 5, 21), labelsFor(4, 3, 22), `${act} 5-6-4-3`, { inputGradient: true });
        expect(step.returned, "input gradient pointer").toBeGreaterThan(0);
      } finally {
        model.dispose();
      }
    });

    it(`${act}: inject g at the last hidden layer = gradient of loss + Σ g·h`, () => {
      const model = mlp([5, 4, 3], { activation: act, seed: 30 });
      try {
        const rows = 5;
        const g = new TestRandom(31).uniform(rows * 4, -0.5, 0.5);
        const plain = trainStep(model, inputs(rows, 5, 32), labelsFor(rows, 3, 33));
        const step = checkGradients(model, inputs(rows, 5, 32), labelsFor(rows, 3, 33), `${act} inject at layer 1`, {
          inject: new Map([[1, g]]),
          inputGradient: true,
        });
        // the injection changed the first layer's gradient and left the last layer's alone
        expectSameBits(step.grads.get("2.weight")!, plain.grads.get("2.weight")!, "2.weight gradient with vs without injection");
        expect(
          step.grads.get("0.weight")!.some((v, i) => v !== plain.grads.get("0.weight")![i]),
          "injection had no effect",
        ).toBe(true);
      } finally {
        model.dispose();
      }
    });

    it(`${act}: injecting at every layer at once = gradient of loss + Σ_i Σ g_i·h_i`, () => {
      const model = mlp([5, 4, 3], { activation: act, seed: 40 });
      try {
        const rows = 3;
        const rnd = new TestRandom(41);
        const inject = new Map([
          [0, rnd.uniform(rows * 4, -0.3, 0.3)],
          [1, rnd.uniform(rows * 4, -0.3, 0.3)],
          [2, rnd.uniform(rows * 3, -0.3, 0.3)],
        ]);
        checkGradients(model, inputs(rows, 5, 42), labelsFor(rows, 3, 43), `${act} inject at 0, 1, 2`, { inject, inputGradient: true });
      } finally {
        model.dispose();
      }
    });
  }

  it("a custom stack with every activation (leaky slope 0.2): parameter and input gradients", () => {
    const model = new Sequential(
      [dense(6, 8), leakyRelu(0.2), dense(8, 7), tanh(), dense(7, 5), sigmoid(), dense(5, 4), gelu(), dense(4, 3), relu(), dense(3, 2)],
      { seed: 3 },
    );
    try {
      checkGradients(model, inputs(5, 6, 81, 1.5), labelsFor(5, 2, 82), "custom stack", { inputGradient: true });
    } finally {
      model.dispose();
    }
  });

  it("the gradient block is overwritten, not accumulated, by each backward", () => {
    const model = mlp([5, 4, 3], { activation: "tanh", seed: 90 });
    try {
      const x = inputs(4, 5, 91);
      const labels = labelsFor(4, 3, 92);
      const first = trainStep(model, x, labels);
      const second = trainStep(model, x, labels);
      for (const [name, g] of first.grads) expectSameBits(second.grads.get(name)!, g, `${name} after a second backward`);
    } finally {
      model.dispose();
    }
  });

  it("a batch smaller than the reserved capacity uses only its rows", () => {
    const model = mlp([5, 4, 3], { activation: "gelu", seed: 93 });
    try {
      model.reserve(64);
      checkGradients(model, inputs(3, 5, 94), labelsFor(3, 3, 95), "3 rows in a 64-row reservation", { inputGradient: true });
      expect(model.batchCapacity).toBe(64);
    } finally {
      model.dispose();
    }
  });
});

// ================================================================ dropout in training

describe("dropout in training", () => {
  it("masks are deterministic for a seed: identical models give identical training passes; other seeds differ", () => {
    const make = (seed: number) => mlp([10, 64, 64, 5], { dropout: 0.3, seed });
    const a = make(7);
    const b = make(7);
    const c = make(8);
    try {
      copyParameters(a, c); // same weights: only the dropout stream differs
      const x = inputs(20, 10, 1);
      const labels = labelsFor(20, 5, 2);
      const sa = trainStep(a, x, labels);
      const sb = trainStep(b, x, labels);
      const sc = trainStep(c, x, labels);
      for (const i of [2, 5]) expectSameBits(sb.layerOutputs[i]!, sa.layerOutputs[i]!, `dropout layer ${i}, same seed`);
      expectSameBits(sb.logits, sa.logits, "training logits, same seed");
      for (const [name, g] of sa.grads) expectSameBits(sb.grads.get(name)!, g, `${name} gradient, same seed`);
      const m7 = recoverMask(sa.layerOutputs[1]!, sa.layerOutputs[2]!, 0.3);
      const m8 = recoverMask(sc.layerOutputs[1]!, sc.layerOutputs[2]!, 0.3);
      expect(
        m7.some((v, i) => v !== m8[i]),
        "seed 8 drew the same dropout mask as seed 7",
      ).toBe(true);
      // The stream advances: the next training pass of the same model draws a new mask.
      const again = trainStep(a, x, labels);
      const next = recoverMask(again.layerOutputs[1]!, again.layerOutputs[2]!, 0.3);
      expect(
        next.some((v, i) => v !== m7[i]),
        "second training pass reused the first pass's mask",
      ).toBe(true);
    } finally {
      a.dispose();
      b.dispose();
      c.dispose();
    }
  });

  for (const p of [0.3, 0.5, 0.8]) {
    it(`p = ${p}: about p of the values are zeroed, the rest scaled by exactly 1/(1 − p)`, () => {
      const model = mlp([16, 256, 4], { activation: "tanh", dropout: p, seed: 11 });
      try {
        const rows = 100;
        const step = trainStep(model, inputs(rows, 16, 12), labelsFor(rows, 4, 13));
        const before = step.layerOutputs[1]!;
        const after = step.layerOutputs[2]!;
        const keep = Math.fround(1 / (1 - Math.fround(p)));
        let seen = 0;
        let zeroed = 0;
        for (let i = 0; i < before.length; i++) {
          if (before[i] === 0) continue;
          seen++;
          if (after[i] === 0) zeroed++;
          else if (after[i] !== Math.fround(before[i]! * keep)) {
            expect.fail(`value ${i}: ${before[i]} became ${after[i]}, expected 0 or ${before[i]}·${keep} = ${Math.fround(before[i]! * keep)}`);
          }
        }
        expect(seen).toBeGreaterThan(rows * 256 * 0.99);
        // Binomial(seen, p): 6 standard deviations.
        const bound = 6 * Math.sqrt((p * (1 - p)) / seen);
        expect(Math.abs(zeroed / seen - p), `zeroed fraction ${zeroed / seen} vs p = ${p}`).toBeLessThan(bound);
        // Independent across rows: no two rows share a mask pattern (256 units each).
        const patterns = new Set<string>();
        for (let r = 0; r < rows; r++) patterns.add(Array.from(after.subarray(r * 256, (r + 1) * 256), (v) => (v === 0 ? "0" : "1")).join(""));
        expect(patterns.size, "rows share dropout masks").toBe(rows);
        // Independent across units: each unit is dropped in some rows and kept in others.
        let constant = 0;
        for (let j = 0; j < 256; j++) {
          let z = 0;
          for (let r = 0; r < rows; r++) if (after[r * 256 + j] === 0) z++;
          if (z === 0 || z === rows) constant++;
        }
        expect(constant, "units always dropped or always kept").toBeLessThanOrEqual(p === 0.8 ? 2 : 0);
      } finally {
        model.dispose();
      }
    });
  }

  it("p = 0 is the identity in training too", () => {
    const model = new Sequential([dense(6, 9), tanh(), dropout(0), dense(9, 3)], { seed: 4 });
    try {
      const step = trainStep(model, inputs(5, 6, 5), labelsFor(5, 3, 6));
      expectSameBits(step.layerOutputs[2]!, step.layerOutputs[1]!, "dropout(0) output vs input");
    } finally {
      model.dispose();
    }
  });

  for (const act of ["relu", "tanh", "gelu"] as const) {
    it(`${act}: backward through dropout (two dropout layers) matches finite differences with the mask held fixed`, () => {
      const model = mlp([5, 6, 6, 3], { activation: act, dropout: 0.5, seed: 15 });
      try {
        // A row whose inputs to a ReLU are all 0 (ReLU or dropout) would put the
        // pre-activation exactly on the kink at b = 0: non-zero biases keep it off.
        randomBiases(model, 14);
        const rows = 4;
        const step = checkGradients(model, inputs(rows, 5, 16), labelsFor(rows, 3, 17), `${act} with dropout`, { inputGradient: true });
        for (const i of [2, 5]) {
          const m = recoverMask(step.layerOutputs[i - 1]!, step.layerOutputs[i]!, 0.5);
          expect(m.some((v) => v === 0) && m.some((v) => v !== 0), `dropout layer ${i}: mask is all dropped or all kept`).toBe(true);
        }
      } finally {
        model.dispose();
      }
    });
  }
});

// ================================================================ memory

describe("memory", () => {
  it("1,000 calls each of predict, logits and probabilities leave heapBytes and memory size unchanged", async () => {
    const e = await createEngine();
    const model = mlp([20, 16, 4], { engine: e, seed: 1 });
    const x = inputs(5, 20, 2);
    model.predict(x); // first use reserves the activation buffers
    const heap = e.heapBytes;
    const size = e.kernels.memory.buffer.byteLength;
    for (let i = 0; i < 1000; i++) model.predict(x);
    expect(e.heapBytes, "heapBytes after 1,000 predict").toBe(heap);
    for (let i = 0; i < 1000; i++) model.logits(x);
    expect(e.heapBytes, "heapBytes after 1,000 logits").toBe(heap);
    for (let i = 0; i < 1000; i++) model.probabilities(x, { temperature: 2 });
    expect(e.heapBytes, "heapBytes after 1,000 probabilities").toBe(heap);
    expect(e.bytesInUse, "arena temporaries left behind").toBe(0);
    expect(e.kernels.memory.buffer.byteLength, "linear memory grew").toBe(size);
    model.dispose();
  });

  it("dispose frees everything (heapBytes back to before construction), later calls throw a DistillError", async () => {
    const e = await createEngine();
    e.scoped(() => e.alloc(16)); // the heap (GEMM scratch) and the arena's block stack initialise on first use
    const before = e.heapBytes;
    const model = mlp([30, 20, 5], { engine: e, dropout: 0.2, seed: 3 });
    const x = inputs(300, 30, 4);
    model.logits(x);
    model.predict(x);
    trainStep(model, x.subarray(0, 40 * 30), labelsFor(40, 5, 5), { inputGradient: true });
    model.reserve(1000);
    expect(e.heapBytes).toBeGreaterThan(before);
    model.dispose();
    expect(model.isDisposed).toBe(true);
    expect(e.heapBytes, "heapBytes after dispose").toBe(before);
    model.dispose(); // a second dispose is harmless
    expect(e.heapBytes, "heapBytes after a second dispose").toBe(before);
    const calls: [string, () => unknown][] = [
      ["logits", () => model.logits(x)],
      ["predict", () => model.predict(x)],
      ["probabilities", () => model.probabilities(x)],
      ["getParameter", () => model.getParameter("0.weight")],
      ["setParameter", () => model.setParameter("0.bias", new Float32Array(20))],
      ["parameterBlock", () => model.parameterBlock()],
      ["reserve", () => model.reserve(10)],
    ];
    for (const [name, call] of calls) {
      const err = thrown(call);
      expect(err, `${name} after dispose`).toBeInstanceOf(DistillError);
      expect((err as Error).message, `${name} after dispose: message`).toMatch(/disposed/);
    }
    expect(e.heapBytes, "heapBytes after the failed calls").toBe(before);
  });

  it("a snapshot restores the parameters and the batchNorm running statistics, and gives its memory back", async () => {
    const e = await createEngine();
    const model = new Sequential([dense(6, 5), batchNorm(5), relu(), dense(5, 3)], { engine: e, seed: 3 });
    model.reserve(8);
    const input = e.allocOwned(8 * 6 * 4);
    e.f32(input, 8 * 6).set(Array.from({ length: 8 * 6 }, (_, i) => Math.sin(i * 1.7)));
    const before = e.heapBytes;
    const snapshot = model.snapshot();
    expect(e.heapBytes).toBeGreaterThanOrEqual(before + (model.blockLength + model.bufferLength) * 4);
    const saved = model.parameterBlock(); // parameters, then running_mean and running_var
    model.forward(input, 8, true); // a training pass moves the running statistics
    model.setParameter("0.weight", new Float32Array(30).fill(0.5));
    const changed = model.parameterBlock();
    expect(changed.subarray(model.blockLength)).not.toEqual(saved.subarray(model.blockLength));
    expect(changed.subarray(0, model.blockLength)).not.toEqual(saved.subarray(0, model.blockLength));
    snapshot.restore();
    expectSameBits(model.parameterBlock(), saved);
    snapshot.dispose();
    snapshot.dispose(); // twice is harmless
    expect(e.heapBytes).toBe(before);
    e.free(input);
    model.dispose();
  });

  it("pointer-level methods (forward, backward, snapshots) also throw after dispose", async () => {
    // A separate engine: a method that does not throw would read or write freed memory.
    const e = await createEngine();
    const model = mlp([8, 6, 3], { engine: e, seed: 6 });
    model.reserve(4);
    const x = e.allocOwned(4 * 8 * 4);
    const grad = e.allocOwned(4 * 3 * 4);
    const snapshot = model.snapshot();
    e.kernels.zero_bytes(x, 4 * 8 * 4);
    e.kernels.zero_bytes(grad, 4 * 3 * 4);
    model.dispose();
    const calls: [string, () => unknown][] = [
      ["snapshot", () => model.snapshot()],
      ["snapshot.save", () => snapshot.save()],
      ["snapshot.restore", () => snapshot.restore()],
      ["forward", () => model.forward(x, 4, false)],
      ["backward", () => model.backward(grad, 4)],
    ];
    const silent = calls.filter(([, call]) => !(thrown(call) instanceof DistillError)).map(([name]) => name);
    expect(silent, `after dispose() ("Any later use throws"), these returned instead of throwing: ${silent.join(", ")}`).toEqual([]);
  });

  it("200 create / use / dispose cycles leave heapBytes and the memory size flat after the first", async () => {
    const e = await createEngine();
    const x = inputs(40, 48, 7);
    const labels = labelsFor(16, 10, 8);
    let heap = -1;
    let size = -1;
    e.scoped(() => e.alloc(16)); // the heap (GEMM scratch) and the arena's block stack initialise on first use
    const start = e.heapBytes;
    for (let cycle = 0; cycle < 200; cycle++) {
      const model = mlp([48, 32, 10], { engine: e, dropout: cycle % 2 ? 0.25 : 0, seed: cycle });
      model.logits(x);
      model.predict(x);
      model.probabilities(x);
      trainStep(model, x.subarray(0, 16 * 48), labels, { inputGradient: true });
      model.dispose();
      if (cycle === 0) {
        heap = e.heapBytes;
        size = e.kernels.memory.buffer.byteLength;
        expect(heap, "heapBytes after the first cycle").toBe(start);
      } else {
        expect(e.heapBytes, `heapBytes after cycle ${cycle}`).toBe(heap);
        expect(e.kernels.memory.buffer.byteLength, `memory size after cycle ${cycle}`).toBe(size);
      }
    }
  });

  it("reserve only grows: a smaller reservation keeps the buffers, a larger one replaces them without leaking", async () => {
    const e = await createEngine();
    const model = mlp([10, 8, 3], { engine: e, seed: 9 });
    model.reserve(100);
    const heap = e.heapBytes;
    model.reserve(50);
    expect(model.batchCapacity).toBe(100);
    expect(e.heapBytes, "reserve(50) after reserve(100)").toBe(heap);
    model.reserve(200);
    expect(model.batchCapacity).toBe(200);
    const grown = e.heapBytes;
    // activations (10 in + 8 + 8 + 3 out + dense input grads 10 + 8) per row, 4 bytes each: 100 more rows
    expect(grown - heap, "bytes added by 100 more rows").toBeGreaterThanOrEqual(100 * 4 * (10 + 8 + 8 + 3 + 10 + 8));
    model.dispose();
  });
});

// ================================================================ errors

describe("errors", () => {
  it("widths that do not chain: ShapeError naming the layer index and both widths", () => {
    expectError(() => new Sequential([dense(4, 8), relu(), dense(7, 3)]), ShapeError, /layer 2 .*takes 7 inputs .*gives 8/, "dense 7 after width 8");
    expectError(() => new Sequential([dense(4, 8), dense(8, 5), tanh(), dropout(0.1), dense(6, 2)]), ShapeError, /layer 4/, "layer 4");
  });

  it("bad layer lists: empty, no dense layer, non-positive or fractional widths, unknown layer type", () => {
    expectError(() => new Sequential([]), ShapeError, /at least one layer/, "empty");
    expectError(() => new Sequential([relu()]), ShapeError, /dense/, "no dense layer");
    expectError(() => new Sequential([dense(0, 3)]), ShapeError, /layer 0 .*inputs must be a positive integer; got 0/, "0 inputs");
    expectError(() => new Sequential([dense(4, 2.5), dense(2.5, 1)]), ShapeError, /outputs .*2\.5/, "2.5 outputs");
    expectError(() => new Sequential([dense(4, 3), { type: "conv" } as unknown as LayerSpec]), OptionError, /layer 1: unknown layer type "conv"/, "conv");
    expectError(() => mlp([5]), ShapeError, /at least an input and an output width/, "mlp([5])");
    expectError(() => mlp([5, 0, 3]), ShapeError, /positive integer/, "mlp([5, 0, 3])");
  });

  it("unknown activation or init: OptionError listing the choices", () => {
    const swish = "swish" as ActivationName;
    expectError(
      () => new Sequential([dense(4, 8), activation(swish), dense(8, 2)]),
      OptionError,
      /layer 1: unknown activation "swish"; use one of relu, leaky_relu, tanh, sigmoid, gelu/,
      "Sequential swish",
    );
    expectError(() => mlp([4, 8, 2], { activation: swish }), OptionError, /unknown activation "swish"/, "mlp swish");
    const lecun = "lecun" as InitName;
    expectError(() => new Sequential([dense(4, 8, { init: lecun })]), OptionError, /init must be "he", "glorot" or "torch"; got "lecun"/, "dense lecun");
    expectError(() => mlp([4, 8, 2], { init: lecun }), OptionError, /init must be "he", "glorot" or "torch"/, "mlp lecun");
  });

  it("leaky_relu slope outside [0, 1): OptionError", () => {
    for (const slope of [-0.1, 1, 2, NaN]) {
      expectError(() => new Sequential([dense(4, 8), leakyRelu(slope), dense(8, 2)]), OptionError, /slope must be in \[0, 1\)/, `slope ${slope}`);
    }
  });

  it("dropout p outside [0, 1): OptionError from Sequential", () => {
    for (const p of [-0.1, 1, 1.5, NaN, Infinity]) {
      expectError(
        () => new Sequential([dense(4, 8), relu(), dropout(p), dense(8, 2)]),
        OptionError,
        /layer 2 \(dropout\): p must be in \[0, 1\)/,
        `dropout(${p})`,
      );
    }
  });

  it("dropout p outside [0, 1): OptionError from mlp({ dropout })", () => {
    for (const p of [-0.5, 1, 1.5, NaN]) {
      let model: Sequential | undefined;
      const err = thrown(() => {
        model = mlp([4, 8, 3], { dropout: p });
      });
      const got = model ? `a model with layers ${model.specs.map((s) => s.type).join(", ")}` : String(err);
      model?.dispose();
      expect(err, `mlp([4, 8, 3], { dropout: ${p} }) should throw OptionError; got ${got}`).toBeInstanceOf(OptionError);
    }
  });

  describe("input checks of logits / probabilities / predict", () => {
    let model: Sequential;
    beforeAll(() => {
      model = mlp([4, 6, 3], { seed: 1 });
      model.logits(new Float32Array(4));
    });
    afterAll(() => model.dispose());

    const methods = ["logits", "probabilities", "predict"] as const;

    it("x length not a positive multiple of the input width: ShapeError naming both", () => {
      for (const m of methods) {
        expectError(() => model[m](new Float32Array(7)), ShapeError, /x has 7 values, which is not a positive multiple of 4/, `${m}(7 values)`);
        expectError(() => model[m]([]), ShapeError, /x has 0 values/, `${m}([])`);
      }
    });

    it("NaN, ±Infinity or values beyond float32 range: NonFiniteError naming row and column", () => {
      const heap = engine.heapBytes;
      for (const m of methods) {
        const x = new Float32Array(12);
        x[5] = NaN;
        expectError(() => model[m](x), NonFiniteError, /x contains NaN at row 1, column 1/, `${m}(NaN)`);
        expectError(() => model[m]([0, 0, 0, 0, 0, 0, 0, -Infinity]), NonFiniteError, /-Infinity at row 1, column 3/, `${m}(-Infinity)`);
        expectError(() => model[m](new Float64Array([0, 1e39, 0, 0])), NonFiniteError, /1e\+39 at row 0, column 1/, `${m}(1e39)`);
      }
      expect(engine.heapBytes, "failed calls allocated").toBe(heap);
    });

    it("x that is not an array: ArgumentError", () => {
      for (const m of methods) {
        expectError(() => model[m]("1,2,3,4" as unknown as number[]), ArgumentError, /x must be a Float32Array, Float64Array or number\[\]/, `${m}(string)`);
      }
    });

    it("temperature ≤ 0 or not finite: OptionError", () => {
      for (const t of [0, -1, NaN, Infinity]) {
        expectError(() => model.probabilities(new Float32Array(4), { temperature: t }), OptionError, /temperature must be a finite number > 0/, `T = ${t}`);
      }
    });
  });

  it("setParameter: wrong length is a ShapeError with the shape; NaN a NonFiniteError; nothing written", () => {
    const model = mlp([4, 6, 3], { seed: 2 });
    try {
      const saved = model.parameterBlock();
      expectError(() => model.setParameter("0.weight", new Float32Array(23)), ShapeError, /0\.weight has shape \[6, 4\] \(24 values\); got 23/, "23 values");
      expectError(() => model.setParameter("2.bias", [1, 2, 3, 4]), ShapeError, /\[3\] \(3 values\); got 4/, "bias 4 values");
      expectError(() => model.setParameter("2.bias", [1, NaN, 3]), NonFiniteError, /NaN at index 1/, "bias NaN");
      expectSameBits(model.parameterBlock(), saved, "parameter block after rejected setParameter calls");
    } finally {
      model.dispose();
    }
  });

  it("unknown parameter name: ArgumentError listing the parameter names", () => {
    const model = mlp([4, 6, 3], { seed: 2 });
    try {
      for (const name of ["1.weight", "3.bias", "weight", "layers.1.bias", "0.Weight"]) {
        expectError(
          () => model.getParameter(name),
          ArgumentError,
          new RegExp(`no parameter named "${name.replace(/\./g, "\\.")}"; the parameters are 0\\.weight, 0\\.bias, 2\\.weight, 2\\.bias`),
          `getParameter(${name})`,
        );
        expectError(() => model.setParameter(name, [0]), ArgumentError, /the parameters are 0\.weight, 0\.bias, 2\.weight, 2\.bias/, `setParameter(${name})`);
      }
    } finally {
      model.dispose();
    }
  });

  it("layerOutput / layerWidth with a bad index: ArgumentError giving the valid range", () => {
    const model = mlp([4, 6, 3], { seed: 2 });
    try {
      model.logits(new Float32Array(4));
      for (const i of [-1, 3, 1.5, NaN]) {
        expectError(() => model.layerOutput(i), ArgumentError, /layer index .* is out of range: the model has layers 0\.\.2/, `layerOutput(${i})`);
        expectError(() => model.layerWidth(i), ArgumentError, /layers 0\.\.2/, `layerWidth(${i})`);
      }
    } finally {
      model.dispose();
    }
  });
});
