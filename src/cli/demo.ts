/**
 * `distill-wasm demo`: trains a teacher MLP on generated data, then a small student twice —
 * from scratch on the labels, and by distillation from the teacher — printing the loss as
 * it falls and the test accuracy of each. Everything numeric runs in wasm from one seed,
 * so the printed numbers are the same in every runtime.
 */
import type { Engine } from "../engine.js";
import { createEngine } from "../init.js";
import { ToyMlp } from "./toy-mlp.js";

export interface DemoOptions {
  epochs: number;
  seed: number;
  log: (line: string) => void;
}

// Generated data: each class is a mixture of BLOBS Gaussian blobs in FEATURES dimensions,
// so the classes are not linearly separable and hidden layers help.
const CLASSES = 10;
const FEATURES = 20;
const BLOBS = 3;
const TRAIN = 6000;
const TEST = 2000;
const NOISE = 0.9;
const BATCH = 64;

interface Split {
  x: number; // (rows, FEATURES)
  y: number; // (rows) i32
  rows: number;
}

/** Samples `rows` points: label and blob uniform, x = blob centre + N(0, NOISE²). */
function sample(engine: Engine, rng: number, centres: Float32Array, rows: number): Split {
  const k = engine.kernels;
  const x = engine.allocF32(rows * FEATURES);
  const y = engine.alloc(rows * 4);
  k.rng_normal(rng, x, rows * FEATURES, 0, NOISE);
  const xs = engine.f32(x, rows * FEATURES);
  const ys = engine.i32(y, rows);
  for (let r = 0; r < rows; r++) {
    const label = k.rng_below(rng, CLASSES);
    const blob = k.rng_below(rng, BLOBS);
    ys[r] = label;
    const centre = centres.subarray((label * BLOBS + blob) * FEATURES, (label * BLOBS + blob + 1) * FEATURES);
    for (let j = 0; j < FEATURES; j++) xs[r * FEATURES + j] = xs[r * FEATURES + j]! + centre[j]!;
  }
  return { x, y, rows };
}

interface Trainer {
  name: string;
  model: ToyMlp;
  /** Computes the loss on the batch (logits already forward), writing ∂loss/∂logits; returns the loss. */
  loss: (logits: number, xb: number, yb: number, rows: number) => number;
}

function train(engine: Engine, t: Trainer, data: Split, test: Split, rng: number, opts: DemoOptions): number {
  const k = engine.kernels;
  const perm = engine.alloc(data.rows * 4);
  const xb = engine.allocF32(BATCH * FEATURES);
  const yb = engine.alloc(BATCH * 4);
  const sizes = t.model.sizes.join("-");
  opts.log(`\n${t.name}: MLP ${sizes} (${t.model.parameterCount.toLocaleString("en-US")} parameters), momentum SGD, batch ${BATCH}`);
  const started = performance.now();
  for (let epoch = 1; epoch <= opts.epochs; epoch++) {
    k.rng_permutation(rng, perm, data.rows);
    let lossSum = 0;
    for (let start = 0; start < data.rows; start += BATCH) {
      const rows = Math.min(BATCH, data.rows - start);
      // Gather the batch rows (copies only; no arithmetic happens in JS).
      const order = engine.i32(perm, data.rows);
      const x = engine.f32(data.x, data.rows * FEATURES);
      const y = engine.i32(data.y, data.rows);
      const bx = engine.f32(xb, BATCH * FEATURES);
      const by = engine.i32(yb, BATCH);
      for (let r = 0; r < rows; r++) {
        const src = order[start + r]!;
        bx.set(x.subarray(src * FEATURES, (src + 1) * FEATURES), r * FEATURES);
        by[r] = y[src]!;
      }
      const logits = t.model.forward(xb, rows);
      lossSum += t.loss(logits, xb, yb, rows) * rows;
      t.model.backward(xb, rows);
      t.model.step(0.05, 0.9);
    }
    const accuracy = t.model.correct(test.x, test.y, test.rows) / test.rows;
    opts.log(`  epoch ${String(epoch).padStart(2)}  loss ${(lossSum / data.rows).toFixed(4)}  test accuracy ${(100 * accuracy).toFixed(1)}%`);
  }
  const accuracy = t.model.correct(test.x, test.y, test.rows) / test.rows;
  opts.log(`  ${((performance.now() - started) / 1000).toFixed(2)} s`);
  return accuracy;
}

export async function runDemo(opts: DemoOptions): Promise<{ teacher: number; scratch: number; distilled: number }> {
  const engine = await createEngine();
  const k = engine.kernels;
  const rng = engine.alloc(16);
  k.rng_seed(rng, opts.seed >>> 0, Math.floor(opts.seed / 2 ** 32) >>> 0);
  opts.log(
    `distill-wasm demo (toy data): ${CLASSES} classes, each a mixture of ${BLOBS} Gaussian blobs in ${FEATURES} dimensions; ` +
      `${TRAIN} training / ${TEST} test samples; seed ${opts.seed}; wasm build: ${engine.build}`,
  );
  const centresPtr = engine.allocF32(CLASSES * BLOBS * FEATURES);
  k.rng_normal(rng, centresPtr, CLASSES * BLOBS * FEATURES, 0, 1);
  const centres = engine.f32(centresPtr, CLASSES * BLOBS * FEATURES).slice();
  const data = sample(engine, rng, centres, TRAIN);
  const test = sample(engine, rng, centres, TEST);

  const crossEntropy = (model: ToyMlp) => (logits: number, _xb: number, yb: number, rows: number) =>
    k.cross_entropy(model.logitGradient, logits, yb, rows, CLASSES);

  const teacher = new ToyMlp(engine, [FEATURES, 256, 256, CLASSES], BATCH, rng);
  const teacherAcc = train(engine, { name: "teacher", model: teacher, loss: crossEntropy(teacher) }, data, test, rng, opts);

  const scratch = new ToyMlp(engine, [FEATURES, 12, CLASSES], BATCH, rng);
  const scratchAcc = train(engine, { name: "student from scratch (labels only)", model: scratch, loss: crossEntropy(scratch) }, data, test, rng, opts);

  const [temperature, alpha] = [4, 0.1];
  const student = new ToyMlp(engine, [FEATURES, 12, CLASSES], BATCH, rng);
  const lossParts = engine.alloc(24);
  const distilled: Trainer = {
    name: `student distilled from the teacher (T = ${temperature}, α = ${alpha})`,
    model: student,
    loss: (logits, xb, yb, rows) => {
      const teacherLogits = teacher.forward(xb, rows);
      return k.distill_loss(lossParts, student.logitGradient, logits, teacherLogits, yb, rows, CLASSES, temperature, alpha);
    },
  };
  const distilledAcc = train(engine, distilled, data, test, rng, opts);

  opts.log("\nmodel                 parameters  test accuracy");
  const row = (name: string, model: ToyMlp, acc: number) =>
    opts.log(`${name.padEnd(22)}${model.parameterCount.toLocaleString("en-US").padStart(10)}  ${(100 * acc).toFixed(1).padStart(12)}%`);
  row("teacher", teacher, teacherAcc);
  row("student, scratch", scratch, scratchAcc);
  row("student, distilled", student, distilledAcc);
  return { teacher: teacherAcc, scratch: scratchAcc, distilled: distilledAcc };
}
