/**
 * `distill-wasm demo`: the main job on the built-in data, in the regime where distillation
 * earns its keep. A 784-512-512-10 teacher learns from all of the `mnist` package's
 * training digits (it stands for the model you cannot ship); a 784-32-10 student then gets
 * only --labels of those digits with their labels, and the rest without. From scratch it
 * can learn from the labelled few alone; distilled, it also learns from the teacher's soft
 * targets on every unlabelled digit (a transfer set, as in Hinton et al. 2015). Both
 * students get the same number of steps from the same initial weights, for --seeds seeds
 * (each seed draws other labelled digits and other weights); the table gives each seed and
 * the mean and spread. The first seed's three models, report.html and report.json go to --out.
 */
import { loadMnistDigits } from "../../data/mnist.js";
import type { Dataset } from "../../data/dataset.js";
import { distill } from "../../distill/distill.js";
import { saveModel } from "../../io/model-file.js";
import { joinPath, makeDirectory, writeTextFile } from "../../runtime/files.js";
import { compare, formatCompareTable, type CompareResult } from "../../metrics/compare.js";
import { quantize } from "../../quantize/quantize.js";
import { evaluate } from "../../metrics/evaluate.js";
import { mlp } from "../../nn/mlp.js";
import type { Sequential } from "../../nn/sequential.js";
import { describeMachine, renderReport, reportJson, type ReportData } from "../../report/index.js";
import type { EpochRecord, TrainOptions, TrainResult } from "../../train/loop.js";
import { train } from "../../train/train.js";
import { requireAlpha, requireTemperature } from "../../validate.js";
import { ENGINE_FLAGS, startEngine } from "../engine.js";
import { checkOutputs } from "../outputs.js";
import { UsageError, type Flags, type FlagSpec } from "../args.js";
import type { Context } from "../context.js";
import { Progress } from "../progress.js";

export const DEMO_USAGE = "usage: distill-wasm demo [--labels N] [--seeds K] [--epochs N] [--seed S] [--out DIR] [--json]";
export const DEMO_SPEC: Record<string, FlagSpec> = {
  ...ENGINE_FLAGS,
  epochs: { kind: "int", help: "teacher epochs; each student gets as many steps as twice that many epochs over all training digits", default: 8, min: 1 },
  labels: { kind: "int", help: "training digits whose label the students may see (stratified)", default: 300, min: 10 },
  seeds: { kind: "int", help: "student runs, each with other labelled digits and other initial weights", default: 3, min: 1, max: 20 },
  seed: { kind: "int", help: "seed of the data order, the teacher and the first student run", default: 1, min: 0 },
  out: { kind: "string", help: "folder for the models and the report", default: "distill-demo" },
  temperature: { kind: "number", help: "distillation temperature", default: 4, min: 0 },
  alpha: { kind: "number", help: "weight of the hard-label loss on the labelled digits", default: 0.1, min: 0, max: 1 },
  json: { kind: "boolean", help: "print one JSON document" },
};

const TEACHER = [784, 512, 512, 10];
const STUDENT = [784, 32, 10];
const BATCH = 64;
/** Training digits that set the int8 student's activation scales (a seeded sample). */
const CALIBRATION_ROWS = 1000;

const NAMES = { teacher: "teacher.safetensors", scratch: "student-scratch.safetensors", distilled: "student-distilled.safetensors" };
const REPORTS = ["report.html", "report.json"];

/** One seed's students: test accuracy from scratch (labelled digits only) and distilled (labelled + unlabelled). */
interface SeedRun {
  seed: number;
  scratch: number;
  distilled: number;
}

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
/** Sample standard deviation (0 for one value). */
const spread = (v: number[]) => (v.length < 2 ? 0 : Math.sqrt(v.reduce((a, b) => a + (b - mean(v)) ** 2, 0) / (v.length - 1)));
const pct = (x: number) => `${(100 * x).toFixed(2)} %`;

/** The seeds table: each run, then the mean ± standard deviation and the gain. */
function seedsTable(runs: SeedRun[], labels: number, total: number): string {
  const lines = [`students 784-32-10 seeing ${labels} labelled digits (distilled: and ${total - labels} unlabelled ones), test accuracy:`];
  lines.push(`  ${"seed".padEnd(10)}${"scratch".padStart(16)}${"distilled".padStart(16)}${"gain".padStart(20)}`);
  for (const r of runs) {
    lines.push(
      `  ${String(r.seed).padEnd(10)}${pct(r.scratch).padStart(16)}${pct(r.distilled).padStart(16)}${`${(100 * (r.distilled - r.scratch)).toFixed(2)} pts`.padStart(20)}`,
    );
  }
  const s = runs.map((r) => r.scratch),
    d = runs.map((r) => r.distilled),
    g = runs.map((r) => r.distilled - r.scratch);
  const ms = (v: number[]) => `${(100 * mean(v)).toFixed(2)} ± ${(100 * spread(v)).toFixed(2)}`;
  lines.push(`  ${"mean ± sd".padEnd(10)}${`${ms(s)} %`.padStart(16)}${`${ms(d)} %`.padStart(16)}${`${ms(g)} pts`.padStart(20)}`);
  return lines.join("\n");
}

export async function runDemo(ctx: Context, flags: Flags): Promise<number> {
  const seed = flags.seed as number;
  const epochs = flags.epochs as number;
  const labels = flags.labels as number;
  const seeds = flags.seeds as number;
  const out = flags.out as string;
  // T and α are first used by the third stage: checked now, not after two models trained.
  const temperature = requireTemperature("--temperature", flags.temperature);
  const alpha = requireAlpha("--alpha", flags.alpha);
  // The folder is made now, so that every file the run will write can be checked before it trains.
  await makeDirectory(out, "--out");
  await checkOutputs(
    { ...flags, data: "mnist" },
    [...Object.values(NAMES), ...REPORTS].map((name) => ({ flag: "out", path: String(joinPath(out, name)) })),
  );
  const engine = await startEngine(flags);
  const { train: data, test } = await loadMnistDigits({ train: 8000, test: 2000, seed });
  if (labels >= data.length) throw new UsageError(`--labels ${labels}: must be below the ${data.length} training digits (the rest are the unlabelled ones)`);
  ctx.say(
    `distill-wasm demo: mnist package digits, ${data.length} train / ${test.length} test; the students see ${labels} labels; seed ${seed}, ${engine.build} build`,
  );
  // Every student takes the steps of 2·epochs epochs over all the training digits, whatever its data.
  const steps = 2 * epochs * Math.ceil(data.length / BATCH);
  const sgd = { optimizer: { type: "sgd" as const, momentum: 0.9, lr: 0.05 }, signal: ctx.signal };
  const stage = async (label: string, rows: number, options: TrainOptions, run: (o: TrainOptions) => Promise<TrainResult>) => {
    const perEpoch = Math.ceil(rows / (options.batchSize ?? BATCH));
    const total = options.epochs ?? Math.ceil((options.steps ?? 0) / perEpoch);
    const progress = new Progress(ctx, label.padEnd(13), total, perEpoch);
    // A student on a few hundred digits runs hundreds of short epochs: about 16 lines per stage.
    const every = Math.ceil(total / 16);
    const onEpoch = (r: EpochRecord) => {
      if (r.epoch % every === 0 || r.epoch === total) progress.epoch(r);
    };
    return run({ ...sgd, ...options, onBatch: progress.batch, onEpoch });
  };
  const teacher = mlp(TEACHER, { seed });
  const kept: Sequential[] = [];
  try {
    const histories: [string, TrainResult][] = [];
    histories.push(["teacher", await stage("teacher", data.length, { epochs, batchSize: 128, seed }, (o) => train(teacher, data, o))]);
    const runs: SeedRun[] = [];
    let first: { scratch: Sequential; distilled: Sequential } | undefined;
    for (let i = 0; i < seeds && !ctx.signal.aborted; i++) {
      const runSeed = seed + i;
      const partly: Dataset = data.keepLabels(labels, { seed: runSeed }); // the same digits, `labels` of them labelled
      const labelled = partly.labelledRows();
      const scratch = mlp(STUDENT, { seed: runSeed + 1000 });
      const distilled = mlp(STUDENT, { seed: runSeed + 1000 });
      kept.push(scratch, distilled);
      const budget = { steps, batchSize: BATCH, seed: runSeed };
      const s = await stage(`scratch ${runSeed}`, labelled.length, budget, (o) => train(scratch, labelled, o));
      if (ctx.signal.aborted) break;
      const d = await stage(`distilled ${runSeed}`, partly.length, budget, (o) =>
        distill({ ...o, teacher, student: distilled, data: partly, temperature, alpha }),
      );
      runs.push({ seed: runSeed, scratch: evaluate(scratch, test).accuracy, distilled: evaluate(distilled, test).accuracy });
      if (!first) {
        first = { scratch, distilled };
        histories.push(["scratch", s], ["distilled", d]);
      }
    }
    const aborted = ctx.signal.aborted;
    if (!first) {
      ctx.say(`stopped by ${ctx.stopped().by} before a student finished; nothing was written`);
      return ctx.stopped().code;
    }
    const { scratch, distilled: student } = first;
    // The distilled student as int8 (weights and activations), its activation scales from training digits: one more row.
    const int8 = quantize(student, data.shuffled(seed).slice(0, CALIBRATION_ROWS), { weights: "int8", activations: "int8" });
    let table: CompareResult;
    try {
      table = compare({ teacher, student, baseline: scratch, quantized: int8, data: test });
    } finally {
      int8.dispose();
    }
    await saveModel(teacher, joinPath(out, NAMES.teacher), { command: "demo", role: "teacher, trained on every labelled digit" });
    await saveModel(scratch, joinPath(out, NAMES.scratch), { command: "demo", role: `student trained from scratch on ${labels} labelled digits` });
    await saveModel(student, joinPath(out, NAMES.distilled), {
      command: "demo",
      role: `student distilled on ${labels} labelled and ${data.length - labels} unlabelled digits`,
      temperature: String(temperature),
      alpha: String(alpha),
    });
    const samples = Array.from({ length: 6 }, (_, i) => {
      const pixels = test.x.slice(i * 784, (i + 1) * 784);
      return { pixels, label: test.y[i]!, teacher: teacher.probabilities(pixels), student: student.probabilities(pixels) };
    });
    const models = { teacher, scratch, distilled: student };
    const display = { teacher: "teacher", scratch: "scratch student", distilled: "distilled student" };
    const summary = seedsTable(runs, labels, data.length);
    const report: ReportData = {
      title: `Distilling an MNIST MLP on a transfer set: ${teacher.architecture} → ${student.architecture}`,
      date: new Date(),
      machine: `${describeMachine()} · wasm ${engine.build}`,
      description:
        `The mnist package's digits, ${data.length} training and ${test.length} test. The teacher learns from every labelled digit ` +
        `(${epochs} epochs); each student sees ${labels} labels, and the distilled one also the other ${data.length - labels} digits ` +
        `without labels, with the teacher's soft targets (T = ${temperature}, α = ${alpha} on the labelled digits); ${steps} momentum-SGD ` +
        `steps each (lr 0.05) from the same initial weights. Seeds: ${runs.map((r) => `${r.seed}: ${pct(r.scratch)} → ${pct(r.distilled)}`).join("; ")}.`,
      models: histories.map(([key, result]) => {
        const model = models[key as keyof typeof models];
        return { name: display[key as keyof typeof display], history: result.history, evaluation: evaluate(model, test), architecture: model.architecture };
      }),
      compare: table,
      compareNames: { teacher: "teacher", student: "distilled student", baseline: "scratch student", quantized: "distilled student, int8" },
      samples,
      sampleNames: { teacher: "teacher", student: "distilled student" },
    };
    await writeTextFile(joinPath(out, "report.html"), renderReport(report));
    await writeTextFile(joinPath(out, "report.json"), JSON.stringify(reportJson(report), null, 2));
    const gains = runs.map((r) => r.distilled - r.scratch);
    if (ctx.mode === "json") {
      ctx.json({
        command: "demo",
        out,
        aborted,
        temperature,
        alpha,
        labels,
        unlabelled: data.length - labels,
        steps,
        accuracy: runs[0]!.distilled,
        params: student.parameterCount,
        seeds: runs,
        mean: { scratch: mean(runs.map((r) => r.scratch)), distilled: mean(runs.map((r) => r.distilled)), gain: mean(gains) },
        sd: { scratch: spread(runs.map((r) => r.scratch)), distilled: spread(runs.map((r) => r.distilled)), gain: spread(gains) },
        models: table.rows,
        files: [...Object.values(NAMES), ...REPORTS],
      });
    } else {
      ctx.say(`\n${summary}`);
      ctx.say(
        `\nseed ${runs[0]!.seed}'s models:\n${formatCompareTable(table, { student: "distilled student", baseline: "scratch student", quantized: "distilled student, int8" })}`,
      );
      ctx.say(`\nwrote ${Object.values(NAMES).join(", ")}, report.html and report.json to ${out}/`);
      if (aborted) ctx.say(`stopped early by ${ctx.stopped().by}: the models hold what was trained so far`);
    }
    return aborted ? ctx.stopped().code : 0;
  } finally {
    for (const m of [teacher, ...kept]) m.dispose();
  }
}
