/**
 * JS-heap allocation of training steps: train and distill in each of their per-step
 * variants (model teacher running inside the step, hints, attention transfer, AbortSignal).
 *
 *   npm run bench:allocation      (node --expose-gc --max-semi-space-size=128; then the
 *                                  two-thread cases, --threads, in a second process)
 *   … allocation.js --only "train (momentum SGD)" [--only …] --json
 *                                  chosen cases (by name), one JSON line each: what
 *                                  test/engine/allocation.test.ts runs in `npm test`
 *
 * The young generation is large enough that no garbage collection runs while measuring
 * (checked: a run whose heap shrinks does not count), so heap growth is what was allocated.
 *
 * Warm-up: each run is measured after LEAD_EPOCHS epochs, with a full collection halfway
 * (it drops code that embeds objects of earlier runs, which V8 then recompiles). By then
 * V8 has optimised the step functions and compiles nothing more while measuring (compiled
 * code lands on the same heap). Before that the interpreter boxes every floating-point
 * value it touches: a one-off cost per run, not per step. The least growth of REPEATS runs
 * counts, as a late compilation can only add.
 *
 * Per step versus per epoch: the heap is read at epoch boundaries (in onEpoch), so a window
 * also holds what each epoch allocates once (its history record, the clock reads for its
 * `seconds`, distill's `parts`). Every case therefore runs with S and with 2S steps per
 * epoch, the same number of epochs before and in the window (so that the history array,
 * which grows per epoch, grows the same way):
 *
 *   per step  = (growth with 2S steps per epoch − growth with S) / (window epochs · S)
 *   per epoch = growth with S / window epochs − S · per step
 *
 * With an AbortSignal the loop reads the clock about every 5 ms and yields to the event
 * loop about every 50 ms; what that allocates depends on time, so it shows up per step.
 */
import {
  conv2d,
  createEngine,
  Dataset,
  dense,
  distill,
  flatten,
  init,
  maxPool2d,
  mlp,
  relu,
  Sequential,
  train,
  type Engine,
  type EpochRecord,
  type TrainOptions,
} from "distill-wasm";

const STEPS_PER_EPOCH = 128; // batches of 32
const BATCH = 32;
const FEATURES = 64; // also 1×8×8 images for the conv case
const CLASSES = 10;
/** Epochs of a run before its measuring window opens (at least 4,096 steps), and in the window. */
const LEAD_EPOCHS = 32;
const WINDOW_EPOCHS = 16;

interface Data {
  set: Dataset;
  /** The same rows with CLASSES real-valued targets each (a regression dataset). */
  regression: Dataset;
  logits: Float32Array;
  /** Epochs before the measuring window, and in all. */
  warmup: number;
  epochs: number;
}

function data(rows: number): Data {
  const warmup = LEAD_EPOCHS;
  const x = new Float32Array(rows * FEATURES).map((_, i) => ((i * 7919) % 256) / 255);
  const y = new Int32Array(rows).map((_, i) => i % CLASSES);
  const logits = new Float32Array(rows * CLASSES).map((_, i) => ((i * 31) % 17) / 4 - 2);
  const targets = new Float32Array(rows * CLASSES).map((_, i) => ((i * 13) % 11) / 5 - 1);
  return {
    set: Dataset.from(x, y, { features: FEATURES, classes: CLASSES }),
    regression: Dataset.regression(x, targets, { features: FEATURES, outputs: CLASSES }),
    logits,
    warmup,
    epochs: warmup + WINDOW_EPOCHS,
  };
}

/** One case: trains `student` on d.set for d.epochs epochs with the given onEpoch. */
type Run = (student: Sequential, d: Data, onEpoch: (record: EpochRecord) => void) => Promise<unknown>;

interface Case {
  name: string;
  student: () => Sequential;
  run: Run;
}

const common = (d: Data, onEpoch: (r: EpochRecord) => void): TrainOptions => ({ epochs: d.epochs, batchSize: BATCH, onEpoch });
const studentMlp = () => mlp([FEATURES, 128, 128, CLASSES], { seed: 1, dropout: 0.1 });
const teacherMlp = () => mlp([FEATURES, 256, 256, CLASSES], { seed: 2 });
/** 1×8×8 → conv 3×3 (pad 1) → ReLU → 2×2 max-pool → dense; layer 1 is the ReLU'd conv map. */
const cnn = (channels: number, seed: number, engine?: Engine) =>
  new Sequential([conv2d(1, channels, 3, { padding: 1 }), relu(), maxPool2d(2), flatten(), dense(channels * 16, CLASSES)], {
    seed,
    inputShape: [1, 8, 8],
    ...(engine ? { engine } : {}),
  });

/**
 * --threads: two threads, every GEMM, convolution and pooling split (parallelThreshold 0)
 * and, with 85k parameters, the optimizer step too. Run in a process of their own (the npm script runs both): once
 * one process has trained on two engines, the kernel calls of the shared training code
 * see two different functions each, V8 stops inlining them, and the numbers they return
 * are boxed, whatever the engines are (48 B per step here when both kinds ran in one process).
 * The CNN case runs first: run after the MLP cases in the same process, its steps showed
 * 16 B each (0 B alone or first), which looks like the same effect.
 */
const threaded = await createEngine({ threads: 2, parallelThreshold: 0 });
const wideThreaded = () => mlp([FEATURES, 256, 256, CLASSES], { seed: 1, dropout: 0.1, engine: threaded });

const CASES: Case[] = [
  { name: "train (momentum SGD)", student: studentMlp, run: (m, d, on) => train(m, d.set, common(d, on)) },
  { name: "train (Adam)", student: studentMlp, run: (m, d, on) => train(m, d.set, { ...common(d, on), optimizer: "adam" }) },
  {
    name: "train (AbortSignal given)",
    student: studentMlp,
    run: (m, d, on) => train(m, d.set, { ...common(d, on), signal: new AbortController().signal }),
  },
  { name: "distill (cached logits)", student: studentMlp, run: (m, d, on) => distill({ teacher: d.logits, student: m, data: d.set, ...common(d, on) }) },
  { name: "train (regression, MSE)", student: studentMlp, run: (m, d, on) => train(m, d.regression, common(d, on)) },
  { name: "train (class weights)", student: studentMlp, run: (m, d, on) => train(m, d.set, { ...common(d, on), classWeights: "balanced" }) },
  {
    name: "distill (regression, cached outputs)",
    student: studentMlp,
    run: (m, d, on) => distill({ teacher: d.logits, student: m, data: d.regression, ...common(d, on) }),
  },
  {
    // With augmentation the teacher runs forward on every augmented batch, inside the step.
    name: "distill (model teacher)",
    student: studentMlp,
    run: async (m, d, on) => {
      const teacher = teacherMlp();
      try {
        return await distill({ teacher, student: m, data: d.set, ...common(d, on), augment: { noise: 0.01 } });
      } finally {
        teacher.dispose();
      }
    },
  },
  {
    name: "distill (model teacher, hints)",
    student: studentMlp,
    run: async (m, d, on) => {
      const teacher = teacherMlp();
      try {
        return await distill({ teacher, student: m, data: d.set, ...common(d, on), hints: [{ student: 1, teacher: 1 }] });
      } finally {
        teacher.dispose();
      }
    },
  },
  {
    name: "distill (CNN, attention)",
    student: () => cnn(4, 1),
    run: async (m, d, on) => {
      const teacher = cnn(8, 2);
      try {
        return await distill({ teacher, student: m, data: d.set, ...common(d, on), attention: [{ student: 1, teacher: 1 }] });
      } finally {
        teacher.dispose();
      }
    },
  },
  { name: "train (2 threads, CNN)", student: () => cnn(8, 1, threaded), run: (m, d, on) => train(m, d.set, common(d, on)) },
  { name: "train (2 threads, 64-256-256-10)", student: wideThreaded, run: (m, d, on) => train(m, d.set, common(d, on)) },
  {
    name: "distill (2 threads, cached)",
    student: wideThreaded,
    run: (m, d, on) => distill({ teacher: d.logits, student: m, data: d.set, ...common(d, on) }),
  },
];

const gc = (globalThis as { gc?: () => void }).gc;
/** Runs per measurement; the smallest growth counts (V8 compiling something late only ever adds). */
const REPEATS = 3;

/** Heap growth over the window epochs of one run, or undefined if a collection ran during it. */
async function windowGrowth(c: Case, d: Data): Promise<number | undefined> {
  const student = c.student();
  const heap: number[] = [];
  try {
    await c.run(student, d, (record) => {
      // A full collection deoptimises code that embeds objects of earlier runs, and V8 then
      // recompiles: do one halfway through the lead so that this happens before measuring.
      if (record.epoch === d.warmup / 2) gc!();
      if (record.epoch === d.warmup) gc!(); // a clean baseline; no collection should run after it
      if (record.epoch >= d.warmup) heap.push(process.memoryUsage().heapUsed);
    });
  } finally {
    student.dispose();
  }
  const shrank = heap.some((h, i) => i > 0 && h < heap[i - 1]!);
  return shrank ? undefined : heap[heap.length - 1]! - heap[0]!;
}

/** The smallest window growth of REPEATS runs (a run in which a collection ran does not count). */
async function growth(c: Case, d: Data): Promise<number> {
  let least = Infinity;
  for (let attempt = 0; attempt < 2 * REPEATS && (attempt < REPEATS || least === Infinity); attempt++) {
    least = Math.min(least, (await windowGrowth(c, d)) ?? Infinity);
  }
  if (least === Infinity) throw new Error(`${c.name}: a garbage collection ran inside every measuring window; raise --max-semi-space-size`);
  return least;
}

await init();
if (!gc) throw new Error("run with node --expose-gc (npm run bench:allocation)");
const short = data(STEPS_PER_EPOCH * BATCH);
const long = data(2 * STEPS_PER_EPOCH * BATCH);
const steps = WINDOW_EPOCHS * STEPS_PER_EPOCH;
const cell = (n: number, width: number, digits = 1) => n.toFixed(digits).padStart(width);
const bytes = (n: number, width: number) => `${n.toLocaleString("en-US")} B`.padStart(width);
const only = process.argv.flatMap((a, i) => (process.argv[i - 1] === "--only" ? [a] : []));
const json = process.argv.includes("--json");
const say = (line: string) => {
  if (!json) console.log(line);
};
say(
  `JS heap (heapUsed) allocated by training steps: batch ${BATCH}, MLP ${FEATURES}-128-128-${CLASSES} with dropout (CNN case: 1x8x8 images), Node ${process.version}.\n` +
    `Growth over ${WINDOW_EPOCHS} epochs of ${STEPS_PER_EPOCH} and of ${2 * STEPS_PER_EPOCH} steps ` +
    `(${steps.toLocaleString("en-US")} and ${(2 * steps).toLocaleString("en-US")} steps), each after ${LEAD_EPOCHS} unmeasured epochs; least of ${REPEATS} runs.\n`,
);
say(
  `${"case".padEnd(32)} ${"B per step".padStart(10)} ${"B per epoch".padStart(11)} ${"growth, 128 steps/epoch".padStart(24)} ${"256 steps/epoch".padStart(16)}`,
);
const threadsOnly = process.argv.includes("--threads");
const chosen = only.length > 0 ? CASES.filter((x) => only.includes(x.name)) : CASES.filter((x) => x.name.includes("2 threads") === threadsOnly);
if (chosen.length !== Math.max(only.length, chosen.length)) throw new Error(`--only names no case: ${only.join(", ")}`);
for (const c of chosen) {
  const a = await growth(c, short);
  const b = await growth(c, long);
  const perStep = (b - a) / steps;
  const perEpoch = a / WINDOW_EPOCHS - STEPS_PER_EPOCH * perStep;
  if (json) console.log(JSON.stringify({ case: c.name, bytesPerStep: perStep, bytesPerEpoch: perEpoch, growth: [a, b] }));
  else console.log(`${c.name.padEnd(32)} ${cell(perStep, 10)} ${cell(perEpoch, 11, 0)} ${bytes(a, 24)} ${bytes(b, 16)}`);
}
threaded.dispose();
