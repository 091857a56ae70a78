/**
 * The MNIST experiments of Hinton, Vinyals & Dean (2015), "Distilling the Knowledge in a
 * Neural Network", section 3, on the full IDX files:
 *
 *   npm run example:hinton -- DIR [--threads N] [--epochs TEACHER,STUDENT] [--distill-lr LR] [--json FILE]
 *
 * DIR holds train-images-idx3-ubyte(.gz) and the other three MNIST (or Fashion-MNIST)
 * files. Four models, as in the paper:
 *   1. a 784-1200-1200-10 teacher with dropout 0.5 on the hidden units and inputs jittered by
 *      up to two pixels (the paper also drops 20 % of the inputs and bounds each unit's
 *      weights; at this budget that teacher is weaker: 120 errors after 50 epochs);
 *   2. a 784-800-800-10 student trained from scratch on the labels (no regularisation);
 *   3. the same student distilled from the teacher at T = 20 on the same images, and once
 *      more on images jittered like the teacher's (the teacher labels every shifted image);
 *   4. the student distilled on a transfer set with no 3s at all, before and after raising
 *      the output bias of class 3 (by the paper's 3.5, and by the offset that maximises
 *      accuracy on the training images, fitted without looking at the test set).
 * Every model starts from PyTorch's initialisation (init: "torch") and trains with momentum
 * SGD under a cosine schedule; each student gets the same budget. The paper trained far
 * longer; the default budget (60 teacher epochs, 35 per student) fits in 40 minutes on two
 * cores (docs/hinton-mnist.md). The table prints test errors beside the paper's.
 */
import { writeFileSync } from "node:fs";
import {
  adjustClassBias,
  distill,
  DivergenceError,
  evaluate,
  fitClassBias,
  init,
  loadIdx,
  mlp,
  train,
  type Dataset,
  type Evaluation,
  type Sequential,
  type TrainOptions,
} from "distill-wasm";

interface Row {
  model: string;
  epochs: number;
  seconds: number;
  errors: number;
  errorsOn3: number;
  paper: string;
  /** The DivergenceError's message, when this model's training collapsed (its errors are then NaN). */
  collapsed?: string;
}

/** A training stage's wall time, and the collapse that ended it, if one did. */
interface Timed {
  seconds: number;
  collapsed?: string;
}

function parseArgs(argv: string[]) {
  const dir = argv.find((a) => !a.startsWith("--"));
  if (!dir) throw new Error("usage: npm run example:hinton -- DIR [--threads N] [--epochs TEACHER,STUDENT] [--distill-lr LR] [--json FILE]");
  const flag = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const [teacherEpochs, studentEpochs] = (flag("epochs") ?? "60,35").split(",").map(Number) as [number, number];
  const distillLr = Number(flag("distill-lr") ?? 0.05);
  return { dir, threads: Number(flag("threads") ?? 2), teacherEpochs, studentEpochs, distillLr, json: flag("json") };
}

/** Test errors in all and on the true 3s, from the confusion matrix. */
function errorsOf(e: Evaluation): { errors: number; errorsOn3: number } {
  const k = e.classes;
  let errors = 0;
  let errorsOn3 = 0;
  for (let c = 0; c < k; c++) {
    for (let j = 0; j < k; j++) {
      if (j === c) continue;
      errors += e.confusion[c * k + j]!;
      if (c === 3) errorsOn3 += e.confusion[c * k + j]!;
    }
  }
  return { errors, errorsOn3 };
}

/** Runs a training stage; a collapse (DivergenceError) is reported in the table instead of ending the example. */
async function timed(what: string, run: () => Promise<unknown>): Promise<Timed> {
  const start = performance.now();
  process.stdout.write(`${what} … `);
  let collapsed: string | undefined;
  try {
    await run();
  } catch (err) {
    if (!(err instanceof DivergenceError)) throw err;
    collapsed = err.message;
  }
  const seconds = (performance.now() - start) / 1000;
  console.log(`${seconds.toFixed(0)} s${collapsed ? " (collapsed)" : ""}`);
  return { seconds, ...(collapsed ? { collapsed } : {}) };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const engine = await init({ threads: args.threads });
  const trainSet: Dataset = await loadIdx(args.dir, { split: "train" });
  const test: Dataset = await loadIdx(args.dir, { split: "test" });
  console.log(`${args.dir}: ${trainSet.length} train / ${test.length} test images; ${engine.threads} thread(s)`);
  const rows: Row[] = [];
  const record = (model: string, epochs: number, t: Timed, m: Sequential, paper: string) => {
    if (t.collapsed) rows.push({ model, epochs, seconds: t.seconds, errors: NaN, errorsOn3: NaN, paper, collapsed: t.collapsed });
    else rows.push({ model, epochs, seconds: t.seconds, ...errorsOf(evaluate(m, test)), paper });
  };
  const sgd = (lr: number, epochs: number): TrainOptions => ({
    epochs,
    batchSize: 128,
    optimizer: { type: "sgd", momentum: 0.9, lr },
    schedule: { type: "cosine" },
    seed: 1,
  });

  const teacher = mlp([784, 1200, 1200, 10], { init: "torch", dropout: 0.5, seed: 1 });
  let s = await timed(`teacher 784-1200-1200-10, ${args.teacherEpochs} epochs`, () =>
    train(teacher, trainSet, { ...sgd(0.1, args.teacherEpochs), augment: { shift: 2 } }),
  );
  record("teacher 784-1200-1200-10 (dropout 0.5, 2-pixel jitter)", args.teacherEpochs, s, teacher, "67");

  const student = () => mlp([784, 800, 800, 10], { init: "torch", seed: 2 });
  const scratch = student();
  s = await timed(`student from scratch, ${args.studentEpochs} epochs`, () => train(scratch, trainSet, sgd(0.1, args.studentEpochs)));
  record("student 784-800-800-10 from scratch", args.studentEpochs, s, scratch, "146");

  const kd = { teacher, temperature: 20, alpha: 0 };
  const distilled = student();
  s = await timed(`student distilled at T = 20, ${args.studentEpochs} epochs`, () =>
    distill({ ...kd, student: distilled, data: trainSet, ...sgd(args.distillLr, args.studentEpochs) }),
  );
  record("student distilled, T = 20", args.studentEpochs, s, distilled, "74");

  const jittered = student();
  s = await timed(`student distilled at T = 20 on jittered images, ${args.studentEpochs} epochs`, () =>
    distill({ ...kd, student: jittered, data: trainSet, augment: { shift: 2 }, ...sgd(args.distillLr, args.studentEpochs) }),
  );
  record("student distilled, T = 20, on 2-pixel-jittered images", args.studentEpochs, s, jittered, "—");

  const noThrees = student();
  const transfer = trainSet.withoutClasses([3]);
  s = await timed(`student distilled on the ${transfer.length} images that are not 3s`, () =>
    distill({ ...kd, student: noThrees, data: transfer, ...sgd(args.distillLr, args.studentEpochs) }),
  );
  record("distilled with no 3s in the transfer set", args.studentEpochs, s, noThrees, "206 (133 on 3s)");
  if (!s.collapsed) {
    adjustClassBias(noThrees, { 3: 3.5 });
    record("  … bias of class 3 raised by 3.5", args.studentEpochs, s, noThrees, "109 (14 on 3s)");
    adjustClassBias(noThrees, { 3: -3.5 });
    const fitted = fitClassBias(noThrees, trainSet, [3])[3]!;
    adjustClassBias(noThrees, { 3: fitted });
    record(`  … raised by ${fitted.toFixed(2)} (fitted on the training images)`, args.studentEpochs, s, noThrees, "—");
  }

  console.log(`\n${"model".padEnd(62)}${"epochs".padStart(7)}${"time".padStart(8)}${"errors".padStart(8)}${"on 3s".padStart(7)}   paper`);
  for (const r of rows) {
    const errors = r.collapsed ? "collapsed".padStart(15) : `${String(r.errors).padStart(8)}${String(r.errorsOn3).padStart(7)}`;
    console.log(`${r.model.padEnd(62)}${String(r.epochs).padStart(7)}${`${r.seconds.toFixed(0)} s`.padStart(8)}${errors}   ${r.paper}`);
  }
  for (const r of rows.filter((x) => x.collapsed)) console.log(`\n${r.model}: ${r.collapsed}`);
  if (args.json) writeFileSync(args.json, `${JSON.stringify({ data: args.dir, threads: engine.threads, rows }, null, 2)}\n`);
  for (const m of [teacher, scratch, distilled, jittered, noThrees]) m.dispose();
  engine.dispose();
}

await main();
