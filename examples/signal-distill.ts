/**
 * Distilling a small 1-D CNN from a bigger one on multichannel motion-sensor signals: six
 * gestures as 3-axis accelerometer windows of 128 samples (examples/signals/gestures.ts says
 * how they are drawn and why they are hard to tell apart).
 *
 *   npm run example:signals
 *
 * 600 labelled windows (100 per gesture) train a teacher 1-D CNN (three conv1d stages,
 * batch norm, global average pooling; 12,518 parameters, 1.25 MFLOP per window); 4,800
 * unlabelled windows from the same generator are the transfer set, and 3,000 held-out
 * windows the test set. For each of three seeds, the same student (two conv1d stages, 934
 * parameters, 0.066 MFLOP per window: 19× fewer) with the same initial weights and budget
 * is trained two ways: from scratch
 * on the 600 labels, and distilled (T = 4, α = 0.3) on the 600 labelled windows plus the
 * transfer set, whose rows carry the teacher's soft targets only. Prints test accuracy per
 * seed and the mean.
 */
import {
  avgPool1d,
  batchNorm,
  conv1d,
  Dataset,
  dense,
  distill,
  evaluate,
  flatten,
  init,
  maxPool1d,
  relu,
  Sequential,
  train,
  type LayerSpec,
  type TrainOptions,
} from "distill-wasm";
import { CHANNELS, GESTURES, LENGTH, gestures } from "./signals/gestures.js";

const SEEDS = [1, 2, 3];
const INPUT = [CHANNELS, LENGTH];
const LABELLED = 600;
const TRANSFER = 4800;
const TEST = 3000;
const CLASSES = GESTURES.length;

const TEACHER: LayerSpec[] = [
  conv1d(3, 32, 7, { padding: 3 }),
  relu(),
  maxPool1d(2), // 64
  conv1d(32, 32, 5, { padding: 2 }),
  batchNorm(32),
  relu(),
  maxPool1d(2), // 32
  conv1d(32, 64, 3, { padding: 1 }),
  relu(),
  avgPool1d(32), // the global average over the length
  flatten(),
  dense(64, CLASSES),
];
const STUDENT: LayerSpec[] = [
  conv1d(3, 8, 7, { stride: 2, padding: 3 }), // 64
  relu(),
  maxPool1d(2), // 32
  conv1d(8, 16, 5, { padding: 2 }),
  relu(),
  avgPool1d(32),
  flatten(),
  dense(16, CLASSES),
];
const TEACHER_TRAINING: TrainOptions = { epochs: 30, batchSize: 32, optimizer: { type: "adam", lr: 0.003 } };
const STUDENT_TRAINING: TrainOptions = { epochs: 30, batchSize: 64, optimizer: { type: "adam", lr: 0.01 } };
const KD = { temperature: 4, alpha: 0.3 };

const percent = (v: number) => `${(100 * v).toFixed(2)}%`;
const meanStd = (xs: number[]) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const s = Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, xs.length - 1));
  return `${percent(m)} ± ${(100 * s).toFixed(2)}`;
};

await init();
const labelled = gestures(LABELLED, 101);
const transfer = gestures(TRANSFER, 202);
const test = gestures(TEST, 303);
const trainSet = Dataset.signals(labelled.x, labelled.y, { channels: CHANNELS, length: LENGTH, classes: CLASSES });
const testSet = Dataset.signals(test.x, test.y, { channels: CHANNELS, length: LENGTH, classes: CLASSES });
// The distillation set: the labelled windows, then the transfer windows without labels (−1).
const both = new Float32Array(trainSet.x.length + transfer.x.length);
both.set(trainSet.x);
both.set(transfer.x, trainSet.x.length);
const bothLabels = new Int32Array(LABELLED + TRANSFER).fill(-1);
bothLabels.set(trainSet.y);
const distillSet = Dataset.signals(both, bothLabels, { channels: CHANNELS, length: LENGTH, classes: CLASSES });

const started = performance.now();
const teacher = new Sequential(TEACHER, { seed: 7, inputShape: INPUT });
await train(teacher, trainSet, { ...TEACHER_TRAINING, seed: 7 });
const teacherAccuracy = evaluate(teacher, testSet).accuracy;
const probe = new Sequential(STUDENT, { seed: 1, inputShape: INPUT });
console.log(
  `${GESTURES.length} gestures, ${CHANNELS}×${LENGTH} windows: ${LABELLED} labelled, ${TRANSFER} unlabelled (transfer), ${TEST} test. ` +
    `Teacher ${teacher.parameterCount} parameters, ${(teacher.flopsPerSample / 1e6).toFixed(2)} MFLOP/window: test accuracy ${percent(teacherAccuracy)} ` +
    `(${((performance.now() - started) / 1000).toFixed(1)} s). Student ${probe.parameterCount} parameters, ${(probe.flopsPerSample / 1e6).toFixed(3)} MFLOP/window.`,
);
probe.dispose();

const scratch: number[] = [];
const distilled: number[] = [];
for (const seed of SEEDS) {
  const a = new Sequential(STUDENT, { seed, inputShape: INPUT });
  await train(a, trainSet, { ...STUDENT_TRAINING, seed });
  scratch.push(evaluate(a, testSet).accuracy);
  const b = new Sequential(STUDENT, { seed, inputShape: INPUT });
  await distill({ teacher, student: b, data: distillSet, ...KD, ...STUDENT_TRAINING, seed });
  distilled.push(evaluate(b, testSet).accuracy);
  console.log(`  seed ${seed}: from scratch ${percent(scratch.at(-1)!)}, distilled ${percent(distilled.at(-1)!)}`);
  a.dispose();
  b.dispose();
}
console.log(
  `student test accuracy over ${SEEDS.length} seeds: from scratch ${meanStd(scratch)}, distilled ${meanStd(distilled)} (teacher ${percent(teacherAccuracy)})`,
);
console.log(`total ${((performance.now() - started) / 1000).toFixed(1)} s`);
teacher.dispose();
