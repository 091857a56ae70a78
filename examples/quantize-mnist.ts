/**
 * int8 students on MNIST from the IDX files: float, post-training int8 and quantization-aware
 * distilled int8, for a 784-800-800-10 MLP and a small CNN.
 *
 *   npm run example:quantize -- DIR [--epochs TEACHER,STUDENT] [--train N] [--threads N] [--seed S] [--json FILE]
 *
 * DIR holds train-images-idx3-ubyte(.gz) and the other three MNIST files. One teacher (a
 * 784-800-800-10 MLP trained on the labels) teaches every student. For each student
 * architecture:
 *   float      distilled from the teacher (T = 4, α = 0.1), float weights;
 *   PTQ int8   that float student through quantize() (int8 weights and activations,
 *              activation scales from 1,000 training images);
 *   QAT int8   the same student distilled again from the same initialisation with
 *              distill({ quantize: { weights: "int8", activations: "int8" } }): fake
 *              quantization during training, the int8 model it returns.
 * Training runs on --threads threads (default 2); every model is then saved to bytes and
 * loaded on a single-thread engine, where the table's latencies are taken: one row (median
 * over 500 single-row calls) and 128 rows (median over the test set in 128-row calls). The
 * table also gives test accuracy (10,000 images) and the model file's size.
 */
import { writeFileSync } from "node:fs";
import {
  conv2d,
  createEngine,
  dense,
  distill,
  flatten,
  init,
  loadIdx,
  maxPool2d,
  mlp,
  modelFromSafetensors,
  modelToSafetensors,
  quantize,
  quantizedFromSafetensors,
  relu,
  Sequential,
  train,
  type Dataset,
  type Engine,
  type QuantizedModel,
} from "distill-wasm";

interface Row {
  student: string;
  model: string;
  accuracy: number;
  bytes: number;
  batch1Ms: number;
  batch128Ms: number;
  trainSeconds?: number;
}

function parseArgs(argv: string[]) {
  const dir = argv.find((a, i) => !a.startsWith("--") && !argv[i - 1]?.startsWith("--"));
  if (!dir) throw new Error("usage: npm run example:quantize -- DIR [--epochs TEACHER,STUDENT] [--train N] [--threads N] [--seed S] [--json FILE]");
  const flag = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const [teacherEpochs, studentEpochs] = (flag("epochs") ?? "2,2").split(",").map(Number) as [number, number];
  return {
    dir,
    teacherEpochs,
    studentEpochs,
    train: flag("train") ? Number(flag("train")) : undefined,
    threads: Number(flag("threads") ?? 2),
    /** the teacher's initial weights and every run's order; the students' weights use seed + 1 */
    seed: Number(flag("seed") ?? 1),
    json: flag("json"),
  };
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

/** Test accuracy, and the median milliseconds of a 1-row and a 128-row call, of a model file loaded on `engine` (one thread). */
function measure(engine: Engine, bytes: Uint8Array, quantized: boolean, test: Dataset) {
  const model = quantized ? quantizedFromSafetensors(bytes, { engine }) : modelFromSafetensors(bytes, { engine });
  const predict = (x: Float32Array) => model.predict(x);
  const logits = (x: Float32Array) => model.logits(x);
  const p = predict(test.x);
  let right = 0;
  for (let i = 0; i < p.length; i++) if (p[i] === test.y[i]) right++;
  const width = test.features;
  const one: number[] = [];
  for (let i = 0; i < 500; i++) {
    const x = test.x.subarray(i * width, (i + 1) * width);
    const t = performance.now();
    logits(x);
    one.push(performance.now() - t);
  }
  const batch: number[] = [];
  for (let first = 0; first + 128 <= test.length; first += 128) {
    const x = test.x.subarray(first * width, (first + 128) * width);
    const t = performance.now();
    logits(x);
    batch.push(performance.now() - t);
  }
  model.dispose();
  return { accuracy: right / test.length, batch1Ms: median(one), batch128Ms: median(batch), bytes: bytes.length };
}

const STUDENTS: { name: string; make: (engine: Engine, seed: number) => Sequential }[] = [
  { name: "784-800-800-10", make: (engine, seed) => mlp([784, 800, 800, 10], { seed, engine, init: "torch" }) },
  {
    name: "CNN conv8k5-pool2-conv16k3-pool2-10",
    make: (engine, seed) =>
      new Sequential([conv2d(1, 8, 5), relu(), maxPool2d(2), conv2d(8, 16, 3), relu(), maxPool2d(2), flatten(), dense(16 * 5 * 5, 10)], {
        seed,
        engine,
        inputShape: [1, 28, 28],
      }),
  },
];

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const engine = await init({ threads: args.threads });
  const timing = await createEngine(); // one thread: the latencies
  let trainSet: Dataset = await loadIdx(args.dir, { split: "train" });
  if (args.train !== undefined) trainSet = trainSet.subset(Array.from({ length: Math.min(args.train, trainSet.length) }, (_, i) => i));
  const test: Dataset = await loadIdx(args.dir, { split: "test" });
  console.log(`${args.dir}: ${trainSet.length} train / ${test.length} test images; ${engine.threads} thread(s)`);
  const options = { batchSize: 64, optimizer: "adam" as const, lr: 0.001, seed: args.seed, schedule: { type: "cosine" as const } };

  let t = performance.now();
  const teacher = mlp([784, 800, 800, 10], { seed: args.seed, engine, init: "torch" });
  await train(teacher, trainSet, { ...options, epochs: args.teacherEpochs });
  console.log(`teacher 784-800-800-10: ${args.teacherEpochs} epochs in ${((performance.now() - t) / 1000).toFixed(0)} s`);
  const calibration = trainSet.x.subarray(0, 1000 * 784);

  const rows: Row[] = [];
  rows.push({ student: "teacher 784-800-800-10", model: "float", ...measure(timing, modelToSafetensors(teacher), false, test) });
  for (const s of STUDENTS) {
    const distillOptions = { ...options, teacher, data: trainSet, epochs: args.studentEpochs, temperature: 4, alpha: 0.1 };
    const float = s.make(engine, args.seed + 1);
    t = performance.now();
    await distill({ ...distillOptions, student: float });
    const floatSeconds = (performance.now() - t) / 1000;
    rows.push({ student: s.name, model: "float", ...measure(timing, modelToSafetensors(float), false, test), trainSeconds: floatSeconds });
    const ptq = quantize(float, calibration, { weights: "int8", activations: "int8" });
    rows.push({ student: s.name, model: "PTQ int8", ...measure(timing, ptq.toSafetensors(), true, test) });

    const qatStudent = s.make(engine, args.seed + 1);
    t = performance.now();
    const result = await distill({ ...distillOptions, student: qatStudent, quantize: { weights: "int8", activations: "int8" } });
    const qatSeconds = (performance.now() - t) / 1000;
    const qat = result.quantized as QuantizedModel;
    rows.push({ student: s.name, model: "QAT int8", ...measure(timing, qat.toSafetensors(), true, test), trainSeconds: qatSeconds });
    for (const m of [ptq, qat]) m.dispose();
    for (const m of [float, qatStudent]) m.dispose();
    console.log(rows.slice(-3).map(format).join("\n"));
  }
  console.log("\n| student | model | test accuracy | file | batch-1 | batch-128 | training |\n|---|---|---|---|---|---|---|");
  console.log(rows.map(format).join("\n"));
  if (args.json) writeFileSync(args.json, JSON.stringify({ args, rows }, null, 2));
  teacher.dispose();
}

function format(r: Row): string {
  const kb = (r.bytes / 1024).toFixed(0);
  return `| ${r.student} | ${r.model} | ${(100 * r.accuracy).toFixed(2)} % | ${kb} KiB | ${r.batch1Ms.toFixed(3)} ms | ${r.batch128Ms.toFixed(2)} ms | ${r.trainSeconds !== undefined ? `${r.trainSeconds.toFixed(0)} s` : ""} |`;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
