// The cross-runtime scenario: seeded knowledge-distillation runs (an MLP part, then a CNN part
// with attention transfer) that every runtime (Node, Deno, Bun, Chromium, Firefox) executes
// through the package's public API, ending in a SHA-256 that must equal the committed value
// in expected-checksum.json; then a part with 1-D CNNs on multichannel signals, hashed on its
// own (signals_sha256), and a part with token models (embedding, embeddingBag, layerNorm),
// hashed on its own too (tokens_sha256).
//
// Plain JavaScript ESM with no imports, so that each runtime loads it as it is: a browser
// page, `deno run`, `bun run` and vitest alike. It receives the imported module namespace
// (`import * as api from "distill-wasm"`) and uses only what a user would; given the
// namespace of `distill-wasm/infer` too, the baseline run also loads each distilled student
// through it and hashes its logits (a second checksum, beside the training one).
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
  // Second part, on the same images as [1, 8, 8]: a CNN teacher (conv, max pooling, batch
  // norm) trained with `train`, then a smaller CNN student (conv, average pooling) distilled
  // from it with KD + attention transfer between the two conv blocks' ReLU outputs (4×4 maps).
  cnn: {
    inputShape: [1, 8, 8],
    teacher: { seed: 5, epochs: 3, batchSize: 32, trainSeed: 6 }, // 3 × 14 = 42 steps
    student: { seed: 7 },
    distill: { epochs: 3, batchSize: 32, seed: 8 }, // 3 × 14 = 42 steps
    attention: { student: 4, teacher: 5, weight: 50 }, // student relu [4, 4, 4] ↔ teacher relu [8, 4, 4]
  },
  // Third part, checked by its own checksum (signals_sha256): multichannel 1-D signals [2, 32]
  // (makeSignals), a 1-D CNN teacher (conv1d, max pooling, batch norm, global average pooling)
  // trained with `train`, and a smaller 1-D CNN student (conv1d with stride, average pooling)
  // distilled from it with KD.
  signals: {
    channels: 2,
    length: 32,
    rows: 256,
    dataSeed: 20261206,
    teacher: { seed: 9, epochs: 8, batchSize: 32, trainSeed: 10 }, // 8 × 7 = 56 steps
    student: { seed: 11 },
    distill: { epochs: 8, batchSize: 32, seed: 12 }, // 8 × 7 = 56 steps
  },
  // Fourth part, checked by its own checksum (tokens_sha256): token rows of 12 ids (makeTokens),
  // a teacher with an embedding per position, layerNorm, flatten and an MLP head trained with
  // `train`, and a bag-of-embeddings student (mean without the padding id, layerNorm) distilled
  // from it with KD.
  tokens: {
    vocab: 40,
    seqLen: 12,
    rows: 256,
    dataSeed: 20261207,
    teacher: { seed: 13, epochs: 6, batchSize: 32, trainSeed: 14 }, // 6 × 7 = 42 steps
    student: { seed: 15 },
    distill: { epochs: 6, batchSize: 32, seed: 16 }, // 6 × 7 = 42 steps
  },
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
        const [row, col] = label === 0 ? [at, i] : label === 1 ? [i, at] : label === 2 ? [i, (i + at) % side] : [i, (side - 1 - i + at) % side];
        x[r * features + row * side + col] += 1;
      }
    }
    return api.Dataset.from(x, y, { features, classes });
  });
}

/**
 * Labelled signals of 2 channels × 32 samples: class 0 a square wave of period 8, 1 a square
 * wave of period 16, 2 a sawtooth of period 8, 3 a triangle of period 16, each with a phase
 * and an amplitude (1, 1.25 or 1.5) drawn from the wasm PRNG, the second channel lagging the
 * first by 2 samples, plus N(0, 0.5²) noise from `rng_normal`. The waves take values k/8
 * (exact), added to the float32 noise and rounded to float32.
 */
function makeSignals(api, engine) {
  const { channels, length, rows, dataSeed } = SCENARIO.signals;
  const k = engine.kernels;
  const features = channels * length;
  const wave = (label, t) =>
    label === 0 ? ((t >> 2) & 1 ? 1 : -1) : label === 1 ? ((t >> 3) & 1 ? 1 : -1) : label === 2 ? (t % 8) / 4 - 1 : Math.abs((t % 16) - 8) / 4 - 1;
  return engine.scoped(() => {
    const rng = engine.alloc(16);
    k.rng_seed(rng, dataSeed >>> 0, 0);
    const noise = engine.allocF32(rows * features);
    k.rng_normal(rng, noise, rows * features, 0, 0.5);
    const x = engine.readF32(noise, rows * features);
    const y = new Int32Array(rows);
    for (let r = 0; r < rows; r++) {
      const label = k.rng_below(rng, SCENARIO.classes);
      const phase = k.rng_below(rng, 16);
      const amplitude = 1 + k.rng_below(rng, 3) / 4;
      y[r] = label;
      for (let c = 0; c < channels; c++) {
        for (let t = 0; t < length; t++) x[(r * channels + c) * length + t] += amplitude * wave(label, t + phase + 2 * (channels - 1 - c));
      }
    }
    return api.Dataset.signals(x, y, { channels, length, classes: SCENARIO.classes });
  });
}

/** The numbers of an epoch record that the checksum covers (never its wall-clock `seconds`). */
function recordNumbers(record) {
  const parts = record.parts ?? {};
  return [
    record.loss,
    record.accuracy,
    record.valLoss ?? NaN,
    record.valAccuracy ?? NaN,
    record.lr,
    record.steps,
    ...Object.keys(parts)
      .sort()
      .map((key) => parts[key]),
  ];
}

/** conv2d(1,8,3) relu maxPool2d(2) conv2d(8,8,3) batchNorm(8) relu flatten dense(128, 4): layer 5 is the [8, 4, 4] ReLU. */
function cnnTeacherLayers(api) {
  return [
    api.conv2d(1, 8, 3, { padding: 1 }),
    api.relu(),
    api.maxPool2d(2),
    api.conv2d(8, 8, 3, { padding: 1 }),
    api.batchNorm(8),
    api.relu(),
    api.flatten(),
    api.dense(8 * 4 * 4, SCENARIO.classes),
  ];
}

/** conv2d(1,4,3) relu avgPool2d(2) conv2d(4,4,3) relu flatten dense(64, 4): layer 4 is the [4, 4, 4] ReLU. */
function cnnStudentLayers(api) {
  return [
    api.conv2d(1, 4, 3, { padding: 1 }),
    api.relu(),
    api.avgPool2d(2),
    api.conv2d(4, 4, 3, { padding: 1 }),
    api.relu(),
    api.flatten(),
    api.dense(4 * 4 * 4, SCENARIO.classes),
  ];
}

/** conv1d(2,8,5) relu maxPool1d(2) conv1d(8,8,3) batchNorm(8) relu avgPool1d(16) (the global average) flatten dense(8, 4). */
function signalTeacherLayers(api) {
  return [
    api.conv1d(2, 8, 5, { padding: 2 }),
    api.relu(),
    api.maxPool1d(2),
    api.conv1d(8, 8, 3, { padding: 1 }),
    api.batchNorm(8),
    api.relu(),
    api.avgPool1d(16),
    api.flatten(),
    api.dense(8, SCENARIO.classes),
  ];
}

/** conv1d(2,4,5) relu avgPool1d(2) conv1d(4,4,3, stride 2) relu flatten dense(32, 4). */
function signalStudentLayers(api) {
  return [
    api.conv1d(2, 4, 5, { padding: 2 }),
    api.relu(),
    api.avgPool1d(2),
    api.conv1d(4, 4, 3, { stride: 2, padding: 1 }),
    api.relu(),
    api.flatten(),
    api.dense(4 * 8, SCENARIO.classes),
  ];
}

/**
 * The student saved with `modelToSafetensors` and loaded with distill-wasm/infer's
 * `loadStudent`: its logits on every row of x (two chunks of 256) and on the first three
 * (dense layers on packed panels), and the model's own logits on the same rows.
 */
async function inferLogits(api, infer, model, x) {
  const student = await infer.loadStudent(api.modelToSafetensors(model));
  const first3 = x.subarray(0, 3 * model.inputs);
  const result = { infer: [student.logits(x), student.logits(first3)], library: [model.logits(x), model.logits(first3)] };
  student.dispose();
  return result;
}

/**
 * The MLP student quantized to int8 (`quantize`, int8 weights and activations, calibrated
 * on the first 256 rows), saved with `toSafetensors` and loaded through distill-wasm/infer:
 * its logits on every row and on the first three, and the int8 model's own on the same rows.
 * Integer products: the same bits in every runtime (and on the relaxed build).
 */
async function int8Logits(api, infer, model, x) {
  const int8 = api.quantize(model, x.subarray(0, 256 * model.inputs), { weights: "int8", activations: "int8" });
  const student = await infer.loadStudent(int8.toSafetensors());
  const first3 = x.subarray(0, 3 * model.inputs);
  const result = { infer: [student.logits(x), student.logits(first3)], library: [int8.logits(x), int8.logits(first3)] };
  student.dispose();
  int8.dispose();
  return result;
}

/**
 * The shared shape of the CNN, signals and tokens parts: `teacher` trained with `train`
 * (momentum SGD, lr 0.05), then `student` distilled from it (T = 4, α = 0.3, Adam at
 * `studentLr`, plus `extra` distill options); `part` is the scenario's { teacher, distill }.
 */
async function trainThenDistill(api, data, teacher, student, part, studentLr, extra = {}) {
  const { teacher: t, distill: d } = part;
  const { validation } = SCENARIO;
  const teacherRun = await api.train(teacher, data, {
    epochs: t.epochs,
    batchSize: t.batchSize,
    seed: t.trainSeed,
    optimizer: "momentum",
    lr: 0.05,
    validation,
  });
  const studentRun = await api.distill({
    teacher,
    student,
    data,
    validation,
    epochs: d.epochs,
    batchSize: d.batchSize,
    seed: d.seed,
    temperature: 4,
    alpha: 0.3,
    optimizer: { type: "adam", lr: studentLr },
    ...extra,
  });
  return { teacherRun, studentRun, params: student.parameterBlock() };
}

/** The CNN part: teacher trained with `train`, student distilled with KD + attention transfer and shift augmentation. */
async function runCnn(api, engine, data, infer) {
  const { cnn } = SCENARIO;
  const teacher = new api.Sequential(cnnTeacherLayers(api), { seed: cnn.teacher.seed, engine, inputShape: cnn.inputShape });
  const student = new api.Sequential(cnnStudentLayers(api), { seed: cnn.student.seed, engine, inputShape: cnn.inputShape });
  try {
    const run = await trainThenDistill(api, data, teacher, student, cnn, 0.01, { attention: [cnn.attention], augment: { shift: 1 } });
    return { ...run, logits: infer ? await inferLogits(api, infer, student, data.x) : undefined };
  } finally {
    teacher.dispose();
    student.dispose();
  }
}

/** The signals part: a 1-D CNN teacher trained with `train`, a smaller one distilled from it with KD. */
async function runSignals(api, engine, infer) {
  const { signals } = SCENARIO;
  const data = makeSignals(api, engine);
  const inputShape = [signals.channels, signals.length];
  const teacher = new api.Sequential(signalTeacherLayers(api), { seed: signals.teacher.seed, engine, inputShape });
  const student = new api.Sequential(signalStudentLayers(api), { seed: signals.student.seed, engine, inputShape });
  try {
    const run = await trainThenDistill(api, data, teacher, student, signals, 0.01);
    return { ...run, logits: infer ? await inferLogits(api, infer, student, data.x) : undefined };
  } finally {
    teacher.dispose();
    student.dispose();
  }
}

/**
 * Token rows of seqLen ids below vocab, padding id 0: each row has 3 to seqLen real tokens
 * (the rest padding); each token is, one time in three, a word of its class (ids 1 + 6·class
 * to 6 + 6·class) and otherwise a common word (ids 25 to 39), all drawn from the wasm PRNG
 * (`rng_below`): integers only. Then Dataset.tokens with those lengths.
 */
function makeTokens(api, engine) {
  const { vocab, seqLen, rows, dataSeed } = SCENARIO.tokens;
  const k = engine.kernels;
  return engine.scoped(() => {
    const rng = engine.alloc(16);
    k.rng_seed(rng, dataSeed >>> 0, 0);
    const ids = new Int32Array(rows * seqLen);
    const lengths = new Int32Array(rows);
    const y = new Int32Array(rows);
    for (let r = 0; r < rows; r++) {
      const label = k.rng_below(rng, SCENARIO.classes);
      y[r] = label;
      lengths[r] = 3 + k.rng_below(rng, seqLen - 2);
      for (let t = 0; t < lengths[r]; t++)
        ids[r * seqLen + t] = k.rng_below(rng, 3) === 0 ? 1 + 6 * label + k.rng_below(rng, 6) : 25 + k.rng_below(rng, vocab - 25);
    }
    return api.Dataset.tokens(ids, y, { seqLen, vocab, classes: SCENARIO.classes, lengths, padding: 0 });
  });
}

/** The token teacher: an embedding per position, layerNorm, then an MLP over the whole sequence. */
function tokenTeacherLayers(api) {
  const { vocab, seqLen } = SCENARIO.tokens;
  const tokens = { seqLen, paddingIdx: 0 };
  return [api.embedding(vocab, 8, tokens), api.layerNorm(8), api.flatten(), api.dense(seqLen * 8, 16), api.relu(), api.dense(16, SCENARIO.classes)];
}

/** The token student: the mean of the non-padding ids' embeddings, layerNorm, one dense layer. */
function tokenStudentLayers(api) {
  const { vocab, seqLen } = SCENARIO.tokens;
  return [api.embeddingBag(vocab, 8, { seqLen, paddingIdx: 0 }), api.layerNorm(8), api.dense(8, SCENARIO.classes)];
}

/** The tokens part: the token teacher trained with `train`, the bag-of-embeddings student distilled from it with KD. */
async function runTokens(api, engine, infer) {
  const { tokens } = SCENARIO;
  const data = makeTokens(api, engine);
  const teacher = new api.Sequential(tokenTeacherLayers(api), { seed: tokens.teacher.seed, engine });
  const student = new api.Sequential(tokenStudentLayers(api), { seed: tokens.student.seed, engine });
  try {
    const { teacherRun, studentRun, params } = await trainThenDistill(api, data, teacher, student, tokens, 0.02);
    const logits = infer ? await inferLogits(api, infer, teacher, data.x) : undefined;
    const studentLogits = infer ? await inferLogits(api, infer, student, data.x) : undefined;
    return {
      teacherRun,
      studentRun,
      params,
      logits: logits && { infer: [...logits.infer, ...studentLogits.infer], library: [...logits.library, ...studentLogits.library] },
    };
  } finally {
    teacher.dispose();
    student.dispose();
  }
}

function toHex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Hex SHA-256 (WebCrypto) of typed arrays' bytes, one after the other. */
async function sha256(chunks) {
  const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    bytes.set(new Uint8Array(c.buffer, c.byteOffset, c.byteLength), at);
    at += c.byteLength;
  }
  return toHex(await crypto.subtle.digest("SHA-256", bytes));
}

/**
 * Runs the scenario on a fresh engine and returns
 * `{ checksum, build, threads, threadsNote, steps, history, finalLoss, valAccuracy, cnn, finite }` (JSON-serialisable;
 * `steps`, `history`, `finalLoss` and `valAccuracy` are the MLP part's, `cnn` the CNN part's).
 * `checksum` is the hex SHA-256 (WebCrypto) of the MLP student's parameterBlock() bytes, the
 * Float64 numbers of every MLP teacher and student epoch record, then the CNN student's
 * parameterBlock() bytes and the Float64 numbers of every CNN teacher and student epoch record.
 *
 * With `threads`, every GEMM, convolution, pooling and large optimizer step the TypeScript
 * layer calls is split across that many threads (`parallelThreshold: 0`), which must not
 * change a bit.
 *
 * With `infer` (the namespace of distill-wasm/infer), the result also has `infer`:
 * `{ checksum, library }`, the hex SHA-256 of the logits of the MLP and then the CNN
 * student loaded through `loadStudent` (all 512 rows, then the first 3), and of the same
 * students' own `model.logits` on the same rows; the two must be equal. `infer.int8` holds
 * the same pair for the MLP student quantized to int8 (see int8Logits). The training
 * checksum does not cover them and is the same with or without `infer`.
 *
 * @param {typeof import("../../src/index.js")} api the package's module namespace
 * With `plan` (init's option: "measure", "default" or a GEMM plan object), the engine runs
 * that plan; every plan must give the same checksum (test/runtimes/plans.test.ts).
 *
 * @param {{ simd?: "baseline" | "relaxed", threads?: number, plan?: unknown, infer?: typeof import("../../src/infer/index.js") }} [options]
 */
export async function runScenario(api, options = {}) {
  const engine = await api.createEngine({
    simd: options.simd ?? "baseline",
    ...(options.threads ? { threads: options.threads, parallelThreshold: 0 } : {}),
    ...(options.plan ? { plan: options.plan } : {}),
  });
  const data = makeData(api, engine);
  const { teacher: t, student: s, distill: d, validation } = SCENARIO;

  const teacher = api.mlp(t.widths, { seed: t.seed, engine });
  const teacherRun = await api.train(teacher, data, {
    epochs: t.epochs,
    batchSize: t.batchSize,
    seed: t.trainSeed,
    optimizer: "momentum",
    lr: 0.05,
    validation,
  });

  const student = api.mlp(s.widths, { seed: s.seed, dropout: s.dropout, engine });
  const studentRun = await api.distill({
    teacher,
    student,
    data,
    validation,
    epochs: d.epochs,
    batchSize: d.batchSize,
    seed: d.seed,
    temperature: { from: 5, to: 2 },
    alpha: 0.3,
    optimizer: { type: "adam", lr: 0.01 },
    schedule: { type: "cosine", minLr: 0.001 },
    clipNorm: 5,
    augment: { shift: 1, noise: 0.05 },
  });

  const params = student.parameterBlock();
  const history = [...teacherRun.history, ...studentRun.history].flatMap(recordNumbers);
  const mlpLogits = options.infer ? await inferLogits(api, options.infer, student, data.x) : undefined;
  const mlpInt8 = options.infer ? await int8Logits(api, options.infer, student, data.x) : undefined;
  teacher.dispose();
  student.dispose();

  const cnn = await runCnn(api, engine, data, options.infer);
  const cnnHistory = [...cnn.teacherRun.history, ...cnn.studentRun.history].flatMap(recordNumbers);
  const signals = await runSignals(api, engine, options.infer);
  const signalHistory = [...signals.teacherRun.history, ...signals.studentRun.history].flatMap(recordNumbers);
  const tokens = await runTokens(api, engine, options.infer);
  const tokenHistory = [...tokens.teacherRun.history, ...tokens.studentRun.history].flatMap(recordNumbers);

  const checksum = await sha256([params, new Float64Array(history), cnn.params, new Float64Array(cnnHistory)]);
  const infer = mlpLogits && {
    checksum: await sha256([...mlpLogits.infer, ...cnn.logits.infer]),
    library: await sha256([...mlpLogits.library, ...cnn.logits.library]),
    int8: { checksum: await sha256(mlpInt8.infer), library: await sha256(mlpInt8.library) },
  };
  const { threads, threadsNote } = engine;
  engine.dispose();

  const last = studentRun.history[studentRun.history.length - 1];
  const cnnLast = cnn.studentRun.history[cnn.studentRun.history.length - 1];
  const finite = [params, history, cnn.params, cnnHistory, signals.params, signalHistory, tokens.params, tokenHistory].every((values) =>
    values.every(Number.isFinite),
  );
  const tokensLast = tokens.studentRun.history[tokens.studentRun.history.length - 1];
  const signalsLast = signals.studentRun.history[signals.studentRun.history.length - 1];
  return {
    checksum,
    build: engine.build,
    threads,
    threadsNote,
    steps: { teacher: teacherRun.steps, student: studentRun.steps },
    history: { teacher: teacherRun.history.map((r) => r.loss), student: studentRun.history.map((r) => r.loss) },
    finalLoss: last.loss,
    valAccuracy: last.valAccuracy,
    cnn: {
      steps: { teacher: cnn.teacherRun.steps, student: cnn.studentRun.steps },
      history: { teacher: cnn.teacherRun.history.map((r) => r.loss), student: cnn.studentRun.history.map((r) => r.loss) },
      finalLoss: cnnLast.loss,
      attention: cnnLast.parts?.attention,
      teacherValAccuracy: cnn.teacherRun.history[cnn.teacherRun.history.length - 1].valAccuracy,
      valAccuracy: cnnLast.valAccuracy,
    },
    signals: {
      checksum: await sha256([signals.params, new Float64Array(signalHistory)]),
      steps: { teacher: signals.teacherRun.steps, student: signals.studentRun.steps },
      finalLoss: signalsLast.loss,
      teacherValAccuracy: signals.teacherRun.history[signals.teacherRun.history.length - 1].valAccuracy,
      valAccuracy: signalsLast.valAccuracy,
      ...(signals.logits ? { infer: { checksum: await sha256(signals.logits.infer), library: await sha256(signals.logits.library) } } : {}),
    },
    tokens: {
      checksum: await sha256([tokens.params, new Float64Array(tokenHistory)]),
      steps: { teacher: tokens.teacherRun.steps, student: tokens.studentRun.steps },
      finalLoss: tokensLast.loss,
      teacherValAccuracy: tokens.teacherRun.history[tokens.teacherRun.history.length - 1].valAccuracy,
      valAccuracy: tokensLast.valAccuracy,
      ...(tokens.logits ? { infer: { checksum: await sha256(tokens.logits.infer), library: await sha256(tokens.logits.library) } } : {}),
    },
    finite,
    ...(infer ? { infer } : {}),
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
 * committed one), the same run with GEMMs split over two threads (the same checksum, where
 * SharedArrayBuffer is available; else `threads` is 1 and `threadsNote` says why) and, where the engine has relaxed SIMD, two runs of the relaxed build
 * (fused multiply-add: its checksum may differ from the baseline's, but must not change
 * between two runs in one runtime).
 *
 * With `infer` (the namespace of distill-wasm/infer), the baseline run also checks it (see runScenario).
 *
 * @param {typeof import("../../src/index.js")} api
 * @param {typeof import("../../src/infer/index.js")} [infer]
 */
export async function runAll(api, infer) {
  const runtime = describeRuntime();
  const features = api.detectFeatures();
  const started = performance.now();
  const baseline = await runScenario(api, { infer });
  const baselineMs = performance.now() - started;
  const threaded = await runScenario(api, { threads: 2 });
  let relaxed;
  if (features.relaxedSimd) {
    relaxed = { first: await runScenario(api, { simd: "relaxed" }), second: await runScenario(api, { simd: "relaxed" }) };
  } else {
    relaxed = { skipped: `${runtime} has no WebAssembly relaxed SIMD (detectFeatures().relaxedSimd is false)` };
  }
  return { runtime, features, baseline, baselineMs, threaded, relaxed };
}
