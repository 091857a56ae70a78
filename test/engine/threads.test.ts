/**
 * Multi-threaded engines: every GEMM, convolution, pooling and optimizer step split over 2 or
 * 3 threads must give the single-thread kernel's bits (shapes below, at and above the 4×8 tile and the 64/256 blocks, split by
 * rows and by columns, with padded leading dimensions, bias, ReLU and accumulation), and
 * so must whole training and distillation runs. Also: option validation, the one-thread
 * fallback without SharedArrayBuffer, dispose, and recovery after a failed share.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  conv2d,
  createEngine,
  dense,
  distill,
  flatten,
  GEMM_ACCUMULATE,
  GEMM_RELU,
  maxPool2d,
  mlp,
  relu,
  train,
  Dataset,
  OptionError,
  Sequential,
  type Engine,
} from "../../src/index.js";
import { expectSameBits } from "../helpers/compare.js";
import { relaxedAvailable } from "../helpers/engines.js";
import { TestRandom } from "../helpers/rand.js";

type Form = "nn" | "nt" | "tn";

interface Shape {
  form: Form;
  m: number;
  n: number;
  k: number;
  pad?: number;
  flags?: number;
  bias?: boolean;
}

/** Runs one GEMM on `engine` with seeded inputs; returns all of C (its padding included). */
function gemm(engine: Engine, s: Shape, seed: number): Float32Array {
  const rnd = new TestRandom(seed);
  const pad = s.pad ?? 0;
  const [aRows, aCols] = s.form === "tn" ? [s.k, s.m] : [s.m, s.k];
  const [bRows, bCols] = s.form === "nt" ? [s.n, s.k] : [s.k, s.n];
  const lda = aCols + pad;
  const ldb = bCols + pad;
  const ldc = s.n + pad;
  return engine.scoped(() => {
    const a = engine.putF32(rnd.uniform(aRows * lda));
    const b = engine.putF32(rnd.uniform(bRows * ldb));
    const c = engine.putF32(rnd.uniform(s.m * ldc));
    const bias = s.bias ? engine.putF32(rnd.uniform(s.n)) : 0;
    engine.kernels[`gemm_${s.form}`](c, a, b, bias, s.m, s.n, s.k, lda, ldb, ldc, s.flags ?? 0);
    return engine.readF32(c, s.m * ldc);
  });
}

const SHAPES: Omit<Shape, "form">[] = [
  { m: 1, n: 1, k: 1 },
  { m: 3, n: 5, k: 7 },
  { m: 4, n: 8, k: 16 },
  { m: 5, n: 9, k: 17 },
  { m: 1, n: 800, k: 784 },
  { m: 3, n: 33, k: 300 }, // fewer rows than a tile: cut by columns
  { m: 128, n: 10, k: 800 },
  { m: 129, n: 7, k: 65 }, // narrow: cut by rows
  { m: 64, n: 64, k: 64 },
  { m: 257, n: 257, k: 257 },
  { m: 65, n: 513, k: 17 },
  { m: 37, n: 41, k: 300, pad: 3 },
  { m: 130, n: 9, k: 520, pad: 5 },
  { m: 33, n: 17, k: 300, flags: GEMM_RELU, bias: true, pad: 1 },
  { m: 40, n: 72, k: 33, flags: GEMM_ACCUMULATE, bias: true },
  { m: 17, n: 90, k: 129, flags: GEMM_RELU | GEMM_ACCUMULATE, bias: true, pad: 2 },
];

/**
 * [batch, cin, h, wd, cout, kh, kw, stride, pad]: 3×3 with padding, strided, 1×1 direct, one
 * image (the input half is not split), K below one 8-column block, uneven splits. With a
 * threshold of 0 every one of them is split.
 */
const CONV_GEOMETRIES = [
  [5, 3, 9, 9, 4, 3, 3, 1, 1],
  [4, 2, 11, 7, 3, 3, 2, 2, 0],
  [3, 6, 5, 5, 5, 1, 1, 1, 0],
  [1, 4, 8, 8, 6, 3, 3, 1, 1],
  [7, 1, 6, 6, 2, 2, 2, 1, 0],
  [2, 9, 4, 6, 17, 3, 3, 1, 2],
  [3, 1, 10, 10, 16, 3, 3, 1, 1], // K = 9 and 16 output channels: dw cut by output channels
] as const;

/** One conv2d_forward (bias, ReLU) and conv2d_backward on each engine from seeded inputs: y, dx, dw, db must agree bit for bit. */
function expectSameConv(single: Engine, threaded: Engine, geometry: (typeof CONV_GEOMETRIES)[number], seed: number): void {
  const [batch, cin, h, wd, cout, kh, kw, stride, pad] = geometry;
  const oh = Math.floor((h + 2 * pad - kh) / stride) + 1;
  const ow = Math.floor((wd + 2 * pad - kw) / stride) + 1;
  const K = cin * kh * kw;
  const sizes = [batch * cout * oh * ow, batch * cin * h * wd, cout * K, cout];
  const outputs = [single, threaded].map((engine) => {
    const rnd = new TestRandom(seed);
    const k = engine.kernels;
    return engine.scoped(() => {
      const x = engine.putF32(rnd.uniform(batch * cin * h * wd));
      const w = engine.putF32(rnd.uniform(cout * K));
      const bias = engine.putF32(rnd.uniform(cout));
      const dy = engine.putF32(rnd.uniform(batch * cout * oh * ow));
      const work = engine.allocF32(K * oh * ow);
      const [y, dx, dw, db] = sizes.map((n) => engine.allocF32(n)) as [number, number, number, number];
      k.conv2d_forward(y, x, w, bias, work, batch, cin, h, wd, cout, kh, kw, stride, pad, GEMM_RELU);
      k.conv2d_backward(dx, dw, db, dy, x, w, work, batch, cin, h, wd, cout, kh, kw, stride, pad);
      return [y, dx, dw, db].map((ptr, i) => engine.readF32(ptr, sizes[i]!));
    });
  });
  ["y", "dx", "dw", "db"].forEach((name, i) => {
    expectSameBits(outputs[1]![i]!, outputs[0]![i]!, `conv ${batch}×${cin}×${h}×${wd} → ${cout}, ${kh}×${kw}/${stride} pad ${pad}: ${name}`);
  });
}

describe.each([2, 3])("GEMM on %i threads", (threads) => {
  let single: Engine;
  let threaded: Engine;
  beforeAll(async () => {
    single = await createEngine();
    threaded = await createEngine({ threads, parallelThreshold: 0 }); // split every product
  });
  afterAll(() => threaded.dispose());

  it("reports its thread count", () => {
    expect(threaded.threads).toBe(threads);
    expect(threaded.threadsNote).toBeUndefined();
  });

  for (const form of ["nn", "nt", "tn"] as const) {
    it(`${form}: bit-identical to one thread for every shape, split and flag`, () => {
      let seed = 1;
      for (const shape of SHAPES) {
        const s = { form, ...shape };
        const what = `${form} m=${s.m} n=${s.n} k=${s.k} pad=${s.pad ?? 0} flags=${s.flags ?? 0}`;
        expectSameBits(gemm(threaded, s, seed), gemm(single, s, seed), what);
        seed++;
      }
    });
  }

  it("gemm_panels: bit-identical to one thread, split by whole panels", () => {
    let seed = 500;
    for (const [m, n, k] of [
      [1, 800, 784],
      [3, 17, 9],
      [2, 100, 33],
      [1, 10, 800],
      [1, 16, 5],
    ] as const) {
      const outputs = [single, threaded].map((engine) => {
        const rnd = new TestRandom(seed);
        const kk = engine.kernels;
        return engine.scoped(() => {
          const a = engine.putF32(rnd.uniform(m * k));
          const w = engine.putF32(rnd.uniform(n * k));
          const bias = engine.putF32(rnd.uniform(n));
          const panels = engine.allocF32(kk.panels_length(k, n));
          kk.pack_panels(panels, w, k, 1, k, n);
          const c = engine.allocF32(m * n);
          kk.gemm_panels(c, a, panels, bias, m, n, k, k, n, GEMM_RELU);
          return engine.readF32(c, m * n);
        });
      });
      expectSameBits(outputs[1]!, outputs[0]!, `panels m=${m} n=${n} k=${k}`);
      seed++;
    }
  });

  it("sgd_step and adam_step: bit-identical to one thread, split into blocks of parameters", () => {
    const n = 100_003; // above the split threshold, not a multiple of 16
    for (const variant of [0, 1]) {
      const outputs = [single, threaded].map((engine) => {
        const rnd = new TestRandom(40 + variant);
        const k = engine.kernels;
        return engine.scoped(() => {
          const param = engine.putF32(rnd.uniform(n));
          const grad = engine.putF32(rnd.uniform(n));
          const s1 = engine.putF32(rnd.uniform(n));
          const s2 = engine.putF32(rnd.uniform(n).map(Math.abs));
          for (let step = 1; step <= 3; step++) {
            k.sgd_step(param, grad, s1, n, 0.05, 0.9, variant ? 1e-4 : 0, variant);
            k.adam_step(param, grad, s1, s2, n, 0.001, 0.9, 0.999, 1e-8, variant ? 0.01 : 0, step, variant);
          }
          return [engine.readF32(param, n), engine.readF32(s1, n), engine.readF32(s2, n)];
        });
      });
      outputs[0]!.forEach((want, i) => expectSameBits(outputs[1]![i]!, want, `optimizer variant ${variant}, array ${i}`));
    }
  });

  it("conv2d forward and backward: bit-identical to one thread, split by images and by weight columns", () => {
    let seed = 700;
    for (const geometry of CONV_GEOMETRIES) expectSameConv(single, threaded, geometry, seed++);
  });

  it("max and average pooling, forward and backward: bit-identical to one thread, split by images", () => {
    // [batch, c, h, w, k, stride, pad]
    const geometries = [
      [5, 3, 8, 8, 2, 2, 0],
      [3, 2, 9, 7, 3, 2, 1],
      [2, 4, 6, 6, 3, 1, 1],
      [1, 2, 4, 4, 2, 2, 0],
      [7, 1, 5, 5, 2, 1, 0],
    ] as const;
    let seed = 800;
    for (const [batch, c, h, wd, k, stride, pad] of geometries) {
      const oh = Math.floor((h + 2 * pad - k) / stride) + 1;
      const ow = Math.floor((wd + 2 * pad - k) / stride) + 1;
      const [inputs, outputs] = [batch * c * h * wd, batch * c * oh * ow];
      const results = [single, threaded].map((engine) => {
        const rnd = new TestRandom(seed);
        const kk = engine.kernels;
        return engine.scoped(() => {
          const x = engine.putF32(rnd.uniform(inputs));
          const dy = engine.putF32(rnd.uniform(outputs));
          const y = engine.allocF32(outputs),
            argmax = engine.allocF32(outputs),
            dx = engine.allocF32(inputs);
          const ya = engine.allocF32(outputs),
            dxa = engine.allocF32(inputs);
          kk.maxpool2d_forward(y, argmax, x, batch, c, h, wd, k, stride, pad);
          kk.maxpool2d_backward(dx, dy, argmax, batch, c, h, wd, k, stride, pad);
          kk.avgpool2d_forward(ya, x, batch, c, h, wd, k, stride, pad);
          kk.avgpool2d_backward(dxa, dy, batch, c, h, wd, k, stride, pad);
          return [
            engine.readF32(y, outputs),
            engine.readF32(argmax, outputs),
            engine.readF32(dx, inputs),
            engine.readF32(ya, outputs),
            engine.readF32(dxa, inputs),
          ];
        });
      });
      ["max y", "argmax", "max dx", "avg y", "avg dx"].forEach((name, i) => {
        expectSameBits(results[1]![i]!, results[0]![i]!, `pool ${batch}×${c}×${h}×${wd}, ${k}/${stride} pad ${pad}: ${name}`);
      });
      seed++;
    }
  });

  it("keeps working after memory grows (workers see the new pages)", () => {
    const big = threaded.allocOwned(96 * 1024 * 1024);
    try {
      const s: Shape = { form: "nt", m: 96, n: 200, k: 300, bias: true };
      expectSameBits(gemm(threaded, s, 77), gemm(single, s, 77), "after growth");
    } finally {
      threaded.free(big);
    }
  });
});

/** Labelled points for a short training run. */
function blobs(rows: number, features: number, classes: number, seed: number): Dataset {
  const rnd = new TestRandom(seed);
  const x = rnd.uniform(rows * features);
  const y = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    y[r] = r % classes;
    x[r * features + y[r]!] = x[r * features + y[r]!]! + 2;
  }
  return Dataset.from(x, y, { features, classes });
}

/** `run` on a fresh one-thread engine and on a fresh two-thread engine (default threshold). */
async function onOneAndTwoThreads<T>(run: (engine: Engine) => Promise<T>): Promise<[T, T]> {
  const single = await createEngine();
  const threaded = await createEngine({ threads: 2 });
  try {
    return [await run(single), await run(threaded)];
  } finally {
    threaded.dispose();
  }
}

describe("training on threads", () => {
  it("train and distill give the same weights and history on 1 and 2 threads (default threshold)", async () => {
    const data = blobs(512, 96, 10, 3);
    const runOn = async (engine: Engine) => {
      const teacher = mlp([96, 256, 256, 10], { seed: 1, engine });
      const teacherRun = await train(teacher, data, { epochs: 2, batchSize: 128, seed: 2, optimizer: "momentum", lr: 0.05 });
      const student = mlp([96, 64, 10], { seed: 3, engine, dropout: 0.1 });
      const studentRun = await distill({
        teacher,
        student,
        data,
        epochs: 2,
        batchSize: 128,
        seed: 4,
        temperature: 4,
        alpha: 0.2,
        optimizer: "adam",
      });
      const out = {
        teacher: teacher.parameterBlock(),
        student: student.parameterBlock(),
        losses: [...teacherRun.history, ...studentRun.history].map((r) => r.loss),
      };
      teacher.dispose();
      student.dispose();
      return out;
    };
    const [a, b] = await onOneAndTwoThreads(runOn);
    expectSameBits(b.teacher, a.teacher, "teacher parameters");
    expectSameBits(b.student, a.student, "student parameters");
    expect(b.losses).toEqual(a.losses);
  });
});

describe("convolution workspace on threads", () => {
  it("each extra block gets one image's im2col buffer (cin·kh·kw·oh·ow floats), taken once and reused", async () => {
    const engine = await createEngine({ threads: 3, parallelThreshold: 0 });
    try {
      const k = engine.kernels;
      // 6 images of 1×10×10, 12 output channels, 3×3 pad 1: K = 9 is short, so backward cuts
      // dw into three blocks of 4 output channels and every block unrolls whole images (K·P
      // floats); the batch splits into three blocks of 2 images.
      const [batch, cin, h, wd, cout] = [6, 1, 10, 10, 12];
      const [K, P] = [cin * 9, h * wd];
      const rnd = new TestRandom(77);
      const x = engine.putF32(rnd.uniform(batch * cin * h * wd));
      const w = engine.putF32(rnd.uniform(cout * K));
      const dy = engine.putF32(rnd.uniform(batch * cout * P));
      const work = engine.allocF32(K * P);
      const [y, dx, dw, db] = [batch * cout * P, batch * cin * h * wd, cout * K, cout].map((n) => engine.allocF32(n));
      const before = k.heap_used();
      k.conv2d_backward(dx!, dw!, db!, dy, x, w, work, batch, cin, h, wd, cout, 3, 3, 1, 1);
      const block = 16 + Math.ceil((K * P * 4) / 16) * 16; // header + payload, 16-byte aligned
      expect(k.heap_used() - before).toBe((engine.threads - 1) * block);
      k.conv2d_forward(y!, x, w, 0, work, batch, cin, h, wd, cout, 3, 3, 1, 1, 0);
      k.conv2d_backward(dx!, dw!, db!, dy, x, w, work, batch, cin, h, wd, cout, 3, 3, 1, 1);
      expect(k.heap_used() - before).toBe((engine.threads - 1) * block);
    } finally {
      engine.dispose();
    }
  });
});

describe("convolutional training on threads", () => {
  it("a CNN trains to the same weights and losses on 1 and 2 threads (default threshold)", async () => {
    const data = blobs(256, 16 * 16, 10, 31); // 1×16×16 images; every conv product is large enough to split
    const runOn = async (engine: Engine) => {
      const model = new Sequential([conv2d(1, 8, 3, { padding: 1 }), relu(), maxPool2d(2), conv2d(8, 16, 3), relu(), flatten(), dense(16 * 6 * 6, 10)], {
        inputShape: [1, 16, 16],
        seed: 5,
        engine,
      });
      const run = await train(model, data, { epochs: 2, batchSize: 64, seed: 6, optimizer: "adam", lr: 0.01 });
      const out = { params: model.parameterBlock(), losses: run.history.map((r) => r.loss) };
      model.dispose();
      return out;
    };
    const [a, b] = await onOneAndTwoThreads(runOn);
    expectSameBits(b.params, a.params, "CNN parameters");
    expect(b.losses).toEqual(a.losses);
  });
});

describe.runIf(relaxedAvailable)("relaxed SIMD on threads", () => {
  it("splits the relaxed build's products and convolutions without changing them either", async () => {
    const single = await createEngine({ simd: "relaxed" });
    const threaded = await createEngine({ simd: "relaxed", threads: 2, parallelThreshold: 0 });
    try {
      expect(threaded.build).toBe("relaxed");
      let seed = 900;
      for (const form of ["nn", "nt", "tn"] as const) {
        for (const shape of [
          { m: 64, n: 96, k: 70 },
          { m: 129, n: 10, k: 33, bias: true, flags: GEMM_RELU },
        ]) {
          const s = { form, ...shape };
          expectSameBits(gemm(threaded, s, seed), gemm(single, s, seed), `relaxed ${form} ${s.m}×${s.n}×${s.k}`);
          seed++;
        }
      }
      for (const geometry of CONV_GEOMETRIES) expectSameConv(single, threaded, geometry, seed++);
    } finally {
      threaded.dispose();
    }
  });
});

describe("threads: options, fallback and failures", () => {
  it("rejects bad thread counts and thresholds with OptionError", async () => {
    for (const threads of [0, -1, 1.5, 65, Number.NaN, "many"]) {
      await expect(createEngine({ threads: threads as number })).rejects.toThrow(OptionError);
    }
    await expect(createEngine({ threads: 2, parallelThreshold: -1 })).rejects.toThrow(/parallelThreshold/);
    await expect(createEngine({ threads: 2, wasm: new Uint8Array(8) })).rejects.toThrow(/threads > 1 needs the embedded builds/);
  });

  it('"auto" uses every core', async () => {
    const engine = await createEngine({ threads: "auto" });
    try {
      const os = await import("node:os");
      expect(engine.threads).toBe(Math.min(64, os.availableParallelism()));
    } finally {
      engine.dispose();
    }
  });

  it("falls back to one thread, with a warning that says why, where SharedArrayBuffer is missing", async () => {
    const saved = globalThis.SharedArrayBuffer;
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      // @ts-expect-error: simulating an engine without SharedArrayBuffer
      delete globalThis.SharedArrayBuffer;
      const engine = await createEngine({ threads: 2 });
      expect(engine.threads).toBe(1);
      expect(engine.threadsNote).toMatch(/SharedArrayBuffer/);
      expect(warn).toHaveBeenCalledWith(expect.stringMatching(/running on one thread instead of 2: .*SharedArrayBuffer/));
      const s: Shape = { form: "nn", m: 64, n: 64, k: 64 };
      expectSameBits(gemm(engine, s, 5), gemm(await createEngine(), s, 5), "fallback engine");
    } finally {
      globalThis.SharedArrayBuffer = saved;
      warn.mockRestore();
    }
  });

  it("in Node, starts worker_threads even when a library has set worker_threads' Worker as a global", async () => {
    const g = globalThis as { Worker?: unknown };
    const saved = g.Worker;
    g.Worker = (await import("node:worker_threads")).Worker; // what tfjs-backend-wasm does in Node
    try {
      const engine = await createEngine({ threads: 2 });
      expect(engine.threads).toBe(2);
      engine.dispose();
    } finally {
      if (saved === undefined) delete g.Worker;
      else g.Worker = saved;
    }
  });

  it("after dispose, a product large enough to share throws instead of waiting forever", async () => {
    const engine = await createEngine({ threads: 2, parallelThreshold: 1000 });
    engine.dispose();
    expect(() => gemm(engine, { form: "nn", m: 20, n: 20, k: 20 }, 1)).toThrow(/stopped by dispose/);
    expect(gemm(engine, { form: "nn", m: 5, n: 5, k: 5 }, 1)).toHaveLength(25); // below the threshold: this thread
  });

  it("a share that traps is reported as an error and the pool stays usable", async () => {
    const engine = await createEngine({ threads: 2, parallelThreshold: 0 });
    try {
      const outside = engine.kernels.memory.buffer.byteLength + 4096;
      // B points past the end of memory: both shares trap; the call must throw, not hang.
      engine.scoped(() => {
        const a = engine.allocF32(8 * 8);
        const c = engine.allocF32(8 * 64);
        expect(() => engine.kernels.gemm_nn(c, a, outside, 0, 8, 64, 8, 8, 64, 64, 0)).toThrow();
      });
      const s: Shape = { form: "nt", m: 64, n: 96, k: 50 };
      expectSameBits(gemm(engine, s, 9), gemm(await createEngine(), s, 9), "after a failed call");
    } finally {
      engine.dispose();
    }
  });
});
