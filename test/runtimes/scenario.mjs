// The cross-runtime scenario: one seeded knowledge-distillation run that every runtime
// (Node, Deno, Bun, Chromium, Firefox) executes through the package's public API, ending
// in a SHA-256 that must equal the committed value in expected-checksum.json.
//
// Plain JavaScript ESM with no imports, so that each runtime loads it as it is: a browser
// page, `deno run`, `bun run` and vitest alike. It receives the imported module namespace
// (`import * as api from "distill-wasm"`) and uses only what a user would.
//
// Everything numeric happens in the wasm kernels or in exact JavaScript arithmetic (integer
// bookkeeping, adding a small integer to a float32): no Math.sin / Math.exp / Math.random,
// whose results are not specified bit for bit and differ between engines.

/** Sizes and seeds of the scenario. Changing any of them changes the checksum. */
export const SCENARIO = Object.freeze({
  side: 8, // 8×8 images: 64 features, square, so `augment.shift` applies
  classes: 4,
  rows: 512,
  dataSeed: 20261128,
  teacher: { widths: [64, 48, 4], seed: 1, epochs: 6, batchSize: 32, trainSeed: 2 }, // 6 × 14 = 84 steps
  student: { widths: [64, 16, 4], seed: 3, dropout: 0.2 },
  distill: { epochs: 16, batchSize: 32, seed: 4 }, // 16 × 14 = 224 steps
  validation: 0.125, // 64 rows held out (seeded, stratified); 448 train → 14 batches of 32
});

/**
 * Labelled 8×8 images: class 0 a horizontal bar, 1 a vertical bar, 2 a wrapped diagonal,
 * 3 a wrapped anti-diagonal, at a position drawn from the wasm PRNG, plus N(0, 0.35²)
 * noise from the wasm PRNG (`rng_normal`). The bar adds exactly 1 to a float32.
 */
function makeData(api, engine) {
  const { side, classes, rows, dataSeed } = SCENARIO;
  const features = side * side;
  const k = engine.kernels;
  return engine.scoped(() => {
    const rng = engine.alloc(16);
    k.rng_seed(rng, dataSeed >>> 0, 0);
    const noise = engine.allocF32(rows * features);
    k.rng_normal(rng, noise, rows * features, 0, 0.35);
    const x = engine.readF32(noise, rows * features);
    const y = new Int32Array(rows);
    for (let r = 0; r < rows; r++) {
      const label = k.rng_below(rng, classes);
      const at = k.rng_below(rng, side);
      y[r] = label;
      for (let i = 0; i < side; i++) {
        const [row, col] =
          label === 0 ? [at, i] : label === 1 ? [i, at] : label === 2 ? [i, (i + at) % side] : [i, (side - 1 - i + at) % side];
        x[r * features + row * side + col] += 1;
      }
    }
    return api.Dataset.from(x, y, { features, classes });
  });
}

/** The numbers of an epoch record that the checksum covers (never its wall-clock `seconds`). */
function recordNumbers(record) {
  const parts = record.parts ?? {};
  return [
    record.loss, record.accuracy, record.valLoss ?? NaN, record.valAccuracy ?? NaN, record.lr, record.steps,
    ...Object.keys(parts).sort().map((key) => parts[key]),
  ];
}

function toHex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Runs the scenario on a fresh engine and returns
 * `{ checksum, build, steps, history, finalLoss, valAccuracy, finite }` (JSON-serialisable).
 * `checksum` is the hex SHA-256 (WebCrypto) of the student's parameterBlock() bytes followed
 * by the Float64 numbers of every teacher and student epoch record.
 *
 * @param {typeof import("../../src/index.js")} api the package's module namespace
 * @param {{ simd?: "baseline" | "relaxed" }} [options]
 */
export async function runScenario(api, options = {}) {
  const engine = await api.createEngine({ simd: options.simd ?? "baseline" });
  const data = makeData(api, engine);
  const { teacher: t, student: s, distill: d, validation } = SCENARIO;

  const teacher = api.mlp(t.widths, { seed: t.seed, engine });
  const teacherRun = await api.train(teacher, data, {
    epochs: t.epochs, batchSize: t.batchSize, seed: t.trainSeed, optimizer: "momentum", lr: 0.05, validation,
  });

  const student = api.mlp(s.widths, { seed: s.seed, dropout: s.dropout, engine });
  const studentRun = await api.distill({
    teacher, student, data, validation,
    epochs: d.epochs, batchSize: d.batchSize, seed: d.seed,
    temperature: { from: 5, to: 2 }, alpha: 0.3,
    optimizer: { type: "adam", lr: 0.01 }, schedule: { type: "cosine", minLr: 0.001 }, clipNorm: 5,
    augment: { shift: 1, noise: 0.05 },
  });

  const params = student.parameterBlock();
  const history = [...teacherRun.history, ...studentRun.history].flatMap(recordNumbers);
  const historyBytes = new Float64Array(history);
  const bytes = new Uint8Array(params.byteLength + historyBytes.byteLength);
  bytes.set(new Uint8Array(params.buffer, params.byteOffset, params.byteLength), 0);
  bytes.set(new Uint8Array(historyBytes.buffer), params.byteLength);
  const checksum = toHex(await crypto.subtle.digest("SHA-256", bytes));

  const last = studentRun.history[studentRun.history.length - 1];
  const finite = params.every(Number.isFinite) && history.every(Number.isFinite);
  teacher.dispose();
  student.dispose();
  return {
    checksum,
    build: engine.build,
    steps: { teacher: teacherRun.steps, student: studentRun.steps },
    history: { teacher: teacherRun.history.map((r) => r.loss), student: studentRun.history.map((r) => r.loss) },
    finalLoss: last.loss,
    valAccuracy: last.valAccuracy,
    finite,
  };
}

/** "Node 20.20.2", "Deno 2.9.6", "Bun 1.4.5" or the browser's user agent. */
export function describeRuntime() {
  const g = globalThis;
  if (typeof g.Deno === "object" && g.Deno?.version?.deno) return `Deno ${g.Deno.version.deno}`;
  if (typeof g.Bun === "object" && g.Bun?.version) return `Bun ${g.Bun.version}`;
  if (typeof g.process === "object" && g.process?.versions?.node && typeof g.window === "undefined") {
    return `Node ${g.process.versions.node}`;
  }
  return typeof g.navigator === "object" ? g.navigator.userAgent : "unknown runtime";
}

/**
 * What each runtime's test reports: the baseline run (whose checksum must equal the
 * committed one) and, where the engine has relaxed SIMD, two runs of the relaxed build
 * (fused multiply-add: its checksum may differ from the baseline's, but must not change
 * between two runs in one runtime).
 *
 * @param {typeof import("../../src/index.js")} api
 */
export async function runAll(api) {
  const runtime = describeRuntime();
  const features = api.detectFeatures();
  const started = performance.now();
  const baseline = await runScenario(api);
  const baselineMs = performance.now() - started;
  let relaxed;
  if (features.relaxedSimd) {
    relaxed = { first: await runScenario(api, { simd: "relaxed" }), second: await runScenario(api, { simd: "relaxed" }) };
  } else {
    relaxed = { skipped: `${runtime} has no WebAssembly relaxed SIMD (detectFeatures().relaxedSimd is false)` };
  }
  return { runtime, features, baseline, baselineMs, relaxed };
}
