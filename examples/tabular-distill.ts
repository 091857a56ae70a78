/**
 * Distilling gradient-boosted trees into a small MLP on two scikit-learn tables:
 * breast cancer (classification, 30 features) and diabetes (regression, 10 features).
 *
 *   /usr/bin/python3 examples/tabular/make_teacher.py     (needs scikit-learn)
 *   npm run example:tabular [-- DATA_DIR]
 *
 * Row i is a test row when i % 5 == 4 (make_teacher.py splits the same way and fits its
 * teachers on the other rows). For each seed, one MLP with a standardize layer fitted on
 * the training rows is trained from scratch on the labels, and the same MLP (same initial
 * weights, same budget) is distilled from the teacher's outputs on the training rows:
 * logits with T = 2 for classification, predictions by MSE for regression. Both regression
 * students start with their output bias at the mean training target.
 */
import { existsSync } from "node:fs";
import { Dataset, distill, evaluate, init, loadCsv, loadTeacherLogits, mlpLayers, Sequential, standardizer, train, type TrainOptions } from "distill-wasm";

const DATA = process.argv[2] ?? "/work/shared/data/tabular";
/** examples/dist/tabular/, where make_teacher.py writes (this file runs compiled in examples/dist/). */
const TEACHERS = new URL("./tabular/", import.meta.url);
const SEEDS = [1, 2, 3, 4, 5];
const TRAINING: TrainOptions = { epochs: 100, batchSize: 32, optimizer: "adam", lr: 0.005 };

/** Row indices of the training part (i % 5 != 4) and the test part (i % 5 == 4). */
function split(rows: number): { train: number[]; test: number[] } {
  const train: number[] = [];
  const test: number[] = [];
  for (let i = 0; i < rows; i++) (i % 5 === 4 ? test : train).push(i);
  return { train, test };
}

/** The teacher's outputs (rows, width) for the given rows, in that order. */
function rowsOf(values: Float32Array, width: number, rows: number[]): Float32Array {
  const out = new Float32Array(rows.length * width);
  rows.forEach((r, k) => out.set(values.subarray(r * width, (r + 1) * width), k * width));
  return out;
}

const meanStd = (xs: number[]) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const s = Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, xs.length - 1));
  return `${m.toFixed(4)} ± ${s.toFixed(4)}`;
};

/** A standardize layer fitted on the training rows, then the MLP of the given widths. */
const student = (trainSet: Dataset, widths: number[], seed: number) => new Sequential([standardizer(trainSet), ...mlpLayers(widths)], { seed });

async function classification(): Promise<void> {
  const data = await loadCsv(`${DATA}/breast_cancer.csv`, { labelColumn: "target" });
  const { train: trainRows, test: testRows } = split(data.length);
  const trainSet = data.subset(trainRows);
  const testSet = data.subset(testRows);
  const logits = await loadTeacherLogits(new URL("breast_cancer_teacher.npy", TEACHERS), { rows: data.length, classes: 2 });
  let teacherCorrect = 0;
  testRows.forEach((r) => (teacherCorrect += Number((logits[2 * r + 1]! > logits[2 * r]! ? 1 : 0) === data.y[r])));
  console.log(
    `breast cancer: ${trainSet.length} train / ${testSet.length} test rows; teacher (gradient boosting) test accuracy ${((100 * teacherCorrect) / testRows.length).toFixed(2)}%`,
  );
  const widths = [data.features, 8, 2];
  const scratch: number[] = [];
  const distilled: number[] = [];
  for (const seed of SEEDS) {
    const a = student(trainSet, widths, seed);
    await train(a, trainSet, { ...TRAINING, seed });
    scratch.push(evaluate(a, testSet).accuracy);
    const b = student(trainSet, widths, seed);
    await distill({ teacher: rowsOf(logits, 2, trainRows), student: b, data: trainSet, temperature: 2, alpha: 0.5, ...TRAINING, seed });
    distilled.push(evaluate(b, testSet).accuracy);
    console.log(`  seed ${seed}: from scratch ${(100 * scratch.at(-1)!).toFixed(2)}%, distilled ${(100 * distilled.at(-1)!).toFixed(2)}%`);
    a.dispose();
    b.dispose();
  }
  console.log(`  ${widths.join("-")} test accuracy over ${SEEDS.length} seeds: from scratch ${meanStd(scratch)}, distilled ${meanStd(distilled)}`);
}

async function regression(): Promise<void> {
  const data = await loadCsv(`${DATA}/diabetes.csv`, { labelColumn: "target", task: "regression" });
  const { train: trainRows, test: testRows } = split(data.length);
  const trainSet = data.subset(trainRows);
  const testSet = data.subset(testRows);
  const predictions = await loadTeacherLogits(new URL("diabetes_teacher.npy", TEACHERS), { rows: data.length, classes: 1 });
  const t = testSet.targets!;
  const mean = t.reduce((a, b) => a + b, 0) / t.length;
  let ssRes = 0;
  let ssTot = 0;
  testRows.forEach((r, k) => {
    ssRes += (predictions[r]! - t[k]!) ** 2;
    ssTot += (t[k]! - mean) ** 2;
  });
  console.log(
    `diabetes: ${trainSet.length} train / ${testSet.length} test rows; teacher (gradient boosting) test RMSE ${Math.sqrt(ssRes / t.length).toFixed(2)}, R² ${(1 - ssRes / ssTot).toFixed(4)}`,
  );
  const trainMean = trainSet.targets!.reduce((a, b) => a + b, 0) / trainSet.length;
  const widths = [data.features, 16, 1];
  const withBias = (m: Sequential) => {
    m.setParameter(`${m.specs.length - 1}.bias`, [trainMean]);
    return m;
  };
  const scratch: { rmse: number; r2: number }[] = [];
  const distilled: { rmse: number; r2: number }[] = [];
  for (const seed of SEEDS) {
    const a = withBias(student(trainSet, widths, seed));
    await train(a, trainSet, { ...TRAINING, seed });
    scratch.push(evaluate(a, testSet as typeof testSet & { targets: Float32Array }));
    const b = withBias(student(trainSet, widths, seed));
    await distill({ teacher: rowsOf(predictions, 1, trainRows), student: b, data: trainSet, alpha: 0.5, ...TRAINING, seed });
    distilled.push(evaluate(b, testSet as typeof testSet & { targets: Float32Array }));
    console.log(
      `  seed ${seed}: from scratch RMSE ${scratch.at(-1)!.rmse.toFixed(2)} R² ${scratch.at(-1)!.r2.toFixed(4)}, distilled RMSE ${distilled.at(-1)!.rmse.toFixed(2)} R² ${distilled.at(-1)!.r2.toFixed(4)}`,
    );
    a.dispose();
    b.dispose();
  }
  console.log(
    `  ${widths.join("-")} over ${SEEDS.length} seeds: from scratch RMSE ${meanStd(scratch.map((e) => e.rmse))}, R² ${meanStd(scratch.map((e) => e.r2))}`,
  );
  console.log(
    `  ${widths.join("-")} over ${SEEDS.length} seeds: distilled    RMSE ${meanStd(distilled.map((e) => e.rmse))}, R² ${meanStd(distilled.map((e) => e.r2))}`,
  );
}

if (!existsSync(`${DATA}/breast_cancer.csv`) || !existsSync(new URL("breast_cancer_teacher.npy", TEACHERS))) {
  console.error(`needs ${DATA}/breast_cancer.csv and diabetes.csv, and the teachers' outputs: run /usr/bin/python3 examples/tabular/make_teacher.py first`);
  process.exit(1);
}
await init();
await classification();
await regression();
