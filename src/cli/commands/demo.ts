/**
 * `distill-wasm demo`: the main job on the built-in data. On the `mnist` package's digits it
 * trains a 784-512-512-10 teacher, a 784-32-10 student from scratch and the same student
 * distilled from the teacher (same initial weights, same budget), prints the comparison
 * table and writes the three models, report.html and report.json to --out.
 */
import { loadMnistDigits } from "../../data/mnist.js";
import { distill } from "../../distill/distill.js";
import { saveModel } from "../../io/model-file.js";
import { joinPath, makeDirectory, writeTextFile } from "../../runtime/files.js";
import { compare, formatCompareTable } from "../../metrics/compare.js";
import { evaluate } from "../../metrics/evaluate.js";
import { mlp } from "../../nn/mlp.js";
import { describeMachine, renderReport, reportJson, type ReportData } from "../../report/index.js";
import type { TrainOptions, TrainResult } from "../../train/loop.js";
import { train } from "../../train/train.js";
import { requireAlpha, requireTemperature } from "../../validate.js";
import { ENGINE_FLAGS, startEngine } from "../engine.js";
import { checkOutputs } from "../outputs.js";
import type { Flags, FlagSpec } from "../args.js";
import type { Context } from "../context.js";
import { Progress } from "../progress.js";

export const DEMO_USAGE = "usage: distill-wasm demo [--epochs N] [--seed S] [--out DIR] [--json]";
export const DEMO_SPEC: Record<string, FlagSpec> = {
  ...ENGINE_FLAGS,
  epochs: { kind: "int", help: "teacher epochs (the students get twice as many)", default: 8, min: 1 },
  seed: { kind: "int", help: "seed of everything", default: 1, min: 0 },
  out: { kind: "string", help: "folder for the models and the report", default: "distill-demo" },
  temperature: { kind: "number", help: "distillation temperature", default: 4, min: 0 },
  alpha: { kind: "number", help: "weight of the hard-label loss", default: 0.1, min: 0, max: 1 },
  json: { kind: "boolean", help: "print one JSON document" },
};

const TEACHER = [784, 512, 512, 10];
const STUDENT = [784, 32, 10];

const NAMES = { teacher: "teacher.safetensors", scratch: "student-scratch.safetensors", distilled: "student-distilled.safetensors" };
const REPORTS = ["report.html", "report.json"];

export async function runDemo(ctx: Context, flags: Flags): Promise<number> {
  const seed = flags.seed as number;
  const epochs = flags.epochs as number;
  const out = flags.out as string;
  // T and α are first used by the third stage: checked now, not after two models trained.
  const temperature = requireTemperature("--temperature", flags.temperature);
  const alpha = requireAlpha("--alpha", flags.alpha);
  // The folder is made now, so that every file the run will write can be checked before it trains.
  await makeDirectory(out, "--out");
  await checkOutputs({ ...flags, data: "mnist" }, [...Object.values(NAMES), ...REPORTS].map((name) => ({ flag: "out", path: String(joinPath(out, name)) })));
  const engine = await startEngine(flags);
  const { train: data, test } = await loadMnistDigits({ train: 8000, test: 2000, seed });
  ctx.say(`distill-wasm demo: mnist package digits, ${data.length} train / ${test.length} test, seed ${seed}, ${engine.build} build`);

  const stage = async (label: string, epochsOf: number, batch: number, run: (o: TrainOptions) => Promise<TrainResult>) => {
    const progress = new Progress(ctx, label.padEnd(9), epochsOf, Math.ceil(data.length / batch));
    return run({
      epochs: epochsOf, batchSize: batch, seed, signal: ctx.signal, optimizer: { type: "sgd", momentum: 0.9, lr: 0.05 },
      onBatch: progress.batch, onEpoch: progress.epoch,
    });
  };
  const teacher = mlp(TEACHER, { seed });
  const scratch = mlp(STUDENT, { seed: seed + 1 });
  const student = mlp(STUDENT, { seed: seed + 1 });
  try {
    const histories: [string, TrainResult][] = [];
    histories.push(["teacher", await stage("teacher", epochs, 128, (o) => train(teacher, data, o))]);
    if (!ctx.signal.aborted) histories.push(["scratch", await stage("scratch", 2 * epochs, 64, (o) => train(scratch, data, o))]);
    if (!ctx.signal.aborted) {
      histories.push(["distilled", await stage("distilled", 2 * epochs, 64, (o) => distill({ ...o, teacher, student, data, temperature, alpha }))]);
    }
    const aborted = ctx.signal.aborted;
    await makeDirectory(out, "--out");
    const table = compare({ teacher, student, baseline: scratch, data: test });
    const names = NAMES;
    const accuracy = Object.fromEntries(table.rows.map((r) => [r.name, r.accuracy]));
    await saveModel(teacher, joinPath(out, names.teacher), { command: "demo", role: "teacher" });
    await saveModel(scratch, joinPath(out, names.scratch), { command: "demo", role: "student trained from scratch" });
    await saveModel(student, joinPath(out, names.distilled), {
      command: "demo", role: "student distilled", temperature: String(temperature), alpha: String(alpha),
    });
    const samples = Array.from({ length: 6 }, (_, i) => {
      const pixels = test.x.slice(i * 784, (i + 1) * 784);
      return { pixels, label: test.y[i]!, teacher: teacher.probabilities(pixels), student: student.probabilities(pixels) };
    });
    const models = { teacher, scratch, distilled: student };
    const display = { teacher: "teacher", scratch: "scratch student", distilled: "distilled student" };
    const report: ReportData = {
      title: `Distilling an MNIST MLP: ${teacher.architecture} → ${student.architecture}`,
      date: new Date(),
      machine: `${describeMachine()} · wasm ${engine.build}`,
      description:
        `The mnist package's digits, ${data.length} training and ${test.length} test; momentum SGD (lr 0.05); ` +
        `teacher ${epochs} epochs, students ${2 * epochs} epochs each from the same initial weights; T = ${temperature}, α = ${alpha}.`,
      models: histories.map(([key, result]) => {
        const model = models[key as keyof typeof models];
        return { name: display[key as keyof typeof display], history: result.history, evaluation: evaluate(model, test), architecture: model.architecture };
      }),
      compare: table,
      compareNames: { teacher: "teacher", student: "distilled student", baseline: "scratch student" },
      samples,
      sampleNames: { teacher: "teacher", student: "distilled student" },
    };
    await writeTextFile(joinPath(out, "report.html"), renderReport(report));
    await writeTextFile(joinPath(out, "report.json"), JSON.stringify(reportJson(report), null, 2));
    if (ctx.mode === "json") {
      ctx.json({
        command: "demo", out, aborted, temperature, alpha,
        accuracy: accuracy.student, params: student.parameterCount,
        models: table.rows, files: [...Object.values(names), ...REPORTS],
      });
    } else {
      ctx.say(`\n${formatCompareTable(table, { student: "distilled student", baseline: "scratch student" })}`);
      ctx.say(`\nwrote ${Object.values(names).join(", ")}, report.html and report.json to ${out}/`);
      if (aborted) ctx.say(`stopped early by ${ctx.stopped().by}: the models hold what was trained so far`);
    }
    return aborted ? ctx.stopped().code : 0;
  } finally {
    for (const m of [teacher, scratch, student]) m.dispose();
  }
}
