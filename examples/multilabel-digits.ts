/**
 * Multi-label distillation on real attributes of the built-in MNIST digits: each digit gets
 * four yes/no labels read off its class (even; ≥ 5; prime; drawn with a closed loop, as 0,
 * 4, 6, 8 and 9 usually are), so one image has several labels at once.
 *
 *   npm run example:multilabel [-- SEEDS]        (default 3 seeds: 1, 2, 3)
 *
 * Per seed: the `mnist` package's digits split 8,000 train / 2,000 test (seeded,
 * stratified); a teacher 784-256-4 trained on all 8,000 training labels; then the same
 * student 784-32-4 (same initial weights) twice with only 200 labelled training rows:
 * trained from scratch on those 200, and distilled from the teacher on the 200 labels plus
 * the other 7,800 training images as unlabelled rows (the teacher's softened sigmoids at
 * T = 2, α = 0.5). Prints test subset accuracy, per-label accuracy, micro / macro F1 and
 * BCE, then mean ± standard deviation over the seeds.
 */
import { Dataset, distill, evaluate, init, loadMnistDigits, mlp, train, type MultiLabelDataset, type MultiLabelEvaluation } from "distill-wasm";

/** digit → its four attributes: even, ≥ 5, prime, closed loop. */
export const ATTRIBUTES: readonly [string, (digit: number) => boolean][] = [
  ["even", (d) => d % 2 === 0],
  ["≥ 5", (d) => d >= 5],
  ["prime", (d) => [2, 3, 5, 7].includes(d)],
  ["closed loop", (d) => [0, 4, 6, 8, 9].includes(d)],
];

/** A digit dataset's rows with the attributes of their digits as labels (rows, 4). */
export function withAttributes(digits: Dataset): MultiLabelDataset {
  const labels = new Int32Array(digits.length * ATTRIBUTES.length);
  for (let r = 0; r < digits.length; r++) ATTRIBUTES.forEach(([, has], j) => (labels[r * ATTRIBUTES.length + j] = has(digits.y[r]!) ? 1 : 0));
  return Dataset.multiLabel(digits.x, labels, { features: digits.features, labels: ATTRIBUTES.length });
}

const LABELLED = 200;

type Run = Record<"teacher" | "scratch" | "distilled", MultiLabelEvaluation>;

async function runSeed(seed: number): Promise<Run> {
  const digits = await loadMnistDigits({ train: 8000, test: 2000, seed });
  const trainSet = withAttributes(digits.train);
  const test = withAttributes(digits.test);
  const teacher = mlp([784, 256, 4], { seed });
  await train(teacher, trainSet, { epochs: 8, batchSize: 64, optimizer: "adam", lr: 0.001, seed });
  const few = trainSet.keepLabels(LABELLED, { seed });
  const scratch = mlp([784, 32, 4], { seed: seed + 100 });
  await train(scratch, few.labelledRows(), { epochs: 40, batchSize: 32, optimizer: "adam", lr: 0.001, seed });
  const student = mlp([784, 32, 4], { seed: seed + 100 });
  await distill({ teacher, student, data: few, temperature: 2, alpha: 0.5, epochs: 8, batchSize: 64, optimizer: "adam", lr: 0.001, seed });
  const result = { teacher: evaluate(teacher, test), scratch: evaluate(scratch, test), distilled: evaluate(student, test) };
  for (const m of [teacher, scratch, student]) m.dispose();
  return result;
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
const meanSd = (xs: number[], f: (x: number) => string) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const s = Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, xs.length - 1));
  return `${f(m)} ± ${f(s)}`;
};

async function main(): Promise<void> {
  await init();
  const seeds = Array.from({ length: Number(process.argv[2] ?? 3) }, (_, i) => i + 1);
  const runs: Run[] = [];
  for (const seed of seeds) {
    const started = performance.now();
    const r = await runSeed(seed);
    runs.push(r);
    console.log(`seed ${seed} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
    for (const [name, e] of Object.entries(r)) {
      console.log(
        `  ${name.padEnd(9)} subset ${pct(e.subsetAccuracy)}  per-label ${pct(e.hammingAccuracy)}  micro F1 ${e.microF1.toFixed(4)}  macro F1 ${e.macroF1.toFixed(4)}  BCE ${e.bce.toFixed(4)}`,
      );
    }
  }
  console.log(`mean ± standard deviation over ${seeds.length} seeds (test set of 2,000 digits):`);
  for (const name of ["teacher", "scratch", "distilled"] as const) {
    const of = (f: (e: MultiLabelEvaluation) => number) => runs.map((r) => f(r[name]));
    console.log(
      `  ${name.padEnd(9)} subset ${meanSd(
        of((e) => e.subsetAccuracy),
        pct,
      )}  per-label ${meanSd(
        of((e) => e.hammingAccuracy),
        pct,
      )}  ` +
        `micro F1 ${meanSd(
          of((e) => e.microF1),
          (x) => x.toFixed(4),
        )}  macro F1 ${meanSd(
          of((e) => e.macroF1),
          (x) => x.toFixed(4),
        )}  BCE ${meanSd(
          of((e) => e.bce),
          (x) => x.toFixed(4),
        )}`,
    );
  }
}

await main();
