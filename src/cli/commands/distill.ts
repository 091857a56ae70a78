/** `distill-wasm distill`: distils a student from saved teacher models or teacher logits, and saves it. */
import type { HintSpec } from "../../distill/hints.js";
import { distill, type DistillOptions } from "../../distill/distill.js";
import type { Teacher } from "../../distill/teacher.js";
import { loadModel, saveModel } from "../../io/model-file.js";
import { isStream } from "../../data/stream/stream-dataset.js";
import { loadTeacherLogits } from "../../io/npy.js";
import { evaluate } from "../../metrics/evaluate.js";
import { adjustClassBias } from "../../nn/class-bias.js";
import type { Sequential } from "../../nn/sequential.js";
import { ENGINE_FLAGS, startEngine } from "../engine.js";
import { UsageError, type Flags, type FlagSpec } from "../args.js";
import { errorsText, percent, testErrors, type Context } from "../context.js";
import { csvOptions, loadSource } from "../data-source.js";
import { checkOutputs } from "../outputs.js";
import { checkStreamFlags, isShardSource, loadShardSource } from "../stream-source.js";
import {
  buildModel,
  CHECKPOINT_FLAGS,
  classBiasFlag,
  trainingRows,
  checkpointOptions,
  CLASS_BIAS_FLAGS,
  DATA_FLAGS,
  MODEL_FLAGS,
  TRAIN_FLAGS,
  TRAINING_ROWS_FLAGS,
  trainOptions,
} from "../options.js";
import { Progress } from "../progress.js";
import { regressionJson, regressionMetadata, regressionMetrics, regressionText } from "../regression-report.js";
import { multiLabelJson, multiLabelMetadata, multiLabelMetrics, multiLabelText } from "../multi-label-report.js";

export const DISTILL_USAGE =
  "usage: distill-wasm distill --data SRC (--teacher t.safetensors[,u.safetensors…] | --teacher-logits l.npy)\n" +
  "                            --arch 784-32-10 --temperature 4 --alpha 0.1 --out student.safetensors [options]";

export const TEACHER_FLAGS: Record<string, FlagSpec> = {
  teacher: { kind: "list", help: "teacher model file(s); several make an ensemble" },
  "teacher-logits": { kind: "string", help: ".npy of teacher logits (n, classes) for the training rows, in order" },
};

export const TRANSFER_FLAGS: Record<string, FlagSpec> = {
  transfer: { kind: "string", help: "unlabelled rows the teacher labels (a transfer set): a source like --data, its labels ignored" },
};

export const DISTILL_SPEC: Record<string, FlagSpec> = {
  ...ENGINE_FLAGS,
  ...DATA_FLAGS,
  ...TRAINING_ROWS_FLAGS,
  ...TRANSFER_FLAGS,
  ...MODEL_FLAGS,
  ...CLASS_BIAS_FLAGS,
  ...TRAIN_FLAGS,
  ...CHECKPOINT_FLAGS,
  ...TEACHER_FLAGS,
  temperature: { kind: "number", help: "softening temperature T", default: 4, min: 0 },
  alpha: { kind: "number", help: "weight of the hard-label loss, in [0, 1]", default: 0.1, min: 0, max: 1 },
  "soft-loss": { kind: "string", help: "kl | mse | soft-ce (multilabel: bce, its only one)", default: "kl" },
  hints: { kind: "list", help: "FitNets hints STUDENT_LAYER:TEACHER_LAYER[:WEIGHT], e.g. 1:3" },
  attention: { kind: "list", help: "attention transfer between conv layers STUDENT_LAYER:TEACHER_LAYER[:BETA], e.g. 2:2:100" },
  "hint-epochs": { kind: "int", help: "epochs of a hint-only first stage", min: 0 },
  "fine-tune-epochs": { kind: "int", help: "epochs of plain training on labels afterwards", min: 1 },
  quantize: { kind: "string", help: "int8: quantization-aware distillation; --out gets the int8 student (int8 weights and activations)" },
  out: { kind: "string", help: "where to save the student (.safetensors)" },
};

/** "S:T[:W]" pairs of --hints and --attention. */
function parseHints(list: unknown, flag = "hints"): HintSpec[] | undefined {
  if (list === undefined) return undefined;
  return (list as string[]).map((text) => {
    const parts = text.split(":").map(Number);
    if (parts.length < 2 || parts.length > 3 || parts.some((v) => !Number.isFinite(v))) {
      throw new UsageError(`--${flag} entries are STUDENT_LAYER:TEACHER_LAYER[:WEIGHT], e.g. 1:3 or 1:3:0.5; got ${JSON.stringify(text)}`);
    }
    return { student: parts[0]!, teacher: parts[1]!, ...(parts[2] !== undefined ? { weight: parts[2] } : {}) };
  });
}

/** The teacher files or the logits file the flags name (exactly one of the two); UsageError otherwise. */
export function teacherSource(flags: Flags): { files: string[] } | { logits: string } {
  const files = flags.teacher as string[] | undefined;
  const logits = flags["teacher-logits"] as string | undefined;
  if ((files ? 1 : 0) + (logits !== undefined ? 1 : 0) !== 1) throw new UsageError("give exactly one of --teacher FILE[,FILE…] and --teacher-logits FILE.npy");
  // The list parser drops empty items, so "--teacher ," arrives as no files at all.
  if (files?.length === 0) throw new UsageError("--teacher needs one or more model file names separated by commas, e.g. --teacher t.safetensors");
  if (logits === "") throw new UsageError("--teacher-logits needs a file name, e.g. --teacher-logits logits.npy");
  return files ? { files } : { logits: logits! };
}

/**
 * Loads the teacher named by --teacher / --teacher-logits; returns it and the models to
 * dispose. Logits must have the shape (rows, classes) of the training rows, in order.
 */
export async function loadTeacher(
  flags: Flags,
  shape?: { rows: number; classes: number },
): Promise<{ teacher: Teacher; models: Sequential[]; description: string }> {
  const source = teacherSource(flags);
  if ("logits" in source) {
    if (flags["test-split"] !== undefined || flags["exclude-classes"] !== undefined) {
      throw new UsageError(
        "--teacher-logits hold one row per row of the data file, in order; they cannot follow --test-split (a seeded shuffle) or --exclude-classes: use a source with its own test set, or --teacher model files",
      );
    }
    return { teacher: await loadTeacherLogits(source.logits, shape ?? {}), models: [], description: `logits ${source.logits}` };
  }
  const files = source.files;
  const models = [];
  for (const file of files) models.push(await loadModel(file));
  const teacher = models.length === 1 ? models[0]! : models;
  return { teacher, models, description: models.map((m, i) => `${m.architecture} (${files[i]})`).join(" + ") };
}

/** The fraction of rows whose predicted class is the label (rows without a label left out). */
function accuracyOf(predicted: Int32Array, labels: Int32Array): number | undefined {
  let right = 0;
  let counted = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i]! < 0) continue;
    counted++;
    if (predicted[i] === labels[i]) right++;
  }
  return counted > 0 ? right / counted : undefined;
}

/** The rows of --data in memory, after --exclude-classes and --keep-labels (their dropped labels kept as unlabelled rows), and the source's test set. */
async function loadRows(flags: Flags, seed: number) {
  const loaded = await loadSource(flags.data as string, flags["test-split"] as number | undefined, seed, csvOptions(flags));
  return { ...loaded, train: trainingRows(flags, loaded.train, true) };
}

/**
 * The teacher of a shards source: its outputs in the shards (then --teacher is refused: one
 * of the two would be ignored), or the --teacher models, which see each streamed batch.
 */
async function streamTeacher(flags: Flags, inShards: "dense" | "top-k" | undefined): Promise<{ teacher?: Teacher; models: Sequential[]; description: string }> {
  if (inShards !== undefined) {
    const files = inShards === "dense" ? "teacher-NAME.npy" : "teacher-index-NAME.npy + teacher-prob-NAME.npy";
    if (flags.teacher !== undefined) throw new UsageError(`--teacher: the shards carry the teacher's outputs (${files}); drop --teacher, or those files`);
    return { models: [], description: inShards === "dense" ? "teacher logits in the shards" : "top-k teacher outputs in the shards" };
  }
  if (flags.teacher === undefined) {
    throw new UsageError(
      "distill over shards needs --teacher model files, or the teacher's outputs in the shard folder: teacher-NAME.npy (logits) or teacher-index-NAME.npy + teacher-prob-NAME.npy (top-k)",
    );
  }
  return loadTeacher(flags);
}

export async function runDistill(ctx: Context, flags: Flags): Promise<number> {
  const out = flags.out as string | undefined;
  if (!out) throw new UsageError("--out is required: where to save the student, e.g. --out student.safetensors");
  const streamed = isShardSource(flags.data);
  if (streamed) checkStreamFlags(flags, "distill");
  else teacherSource(flags);
  const quantize = flags.quantize as string | undefined;
  if (quantize !== undefined && quantize !== "int8")
    throw new UsageError(`--quantize takes int8 (int8 weights and activations); got ${JSON.stringify(quantize)}`);
  if (quantize !== undefined && flags["class-bias"] !== undefined)
    throw new UsageError("--class-bias adjusts a float student's output bias; it cannot follow --quantize");
  await checkOutputs(flags);
  await startEngine(flags);
  const seed = flags.seed as number;
  const data = streamed ? await loadShardSource(flags.data as string, flags) : await loadRows(flags, seed);
  const transfer = flags.transfer === undefined ? undefined : (await loadSource(flags.transfer as string, undefined, seed, csvOptions(flags))).train;
  const classBias = classBiasFlag(flags);
  const student = buildModel(flags, data.train, seed);
  const { teacher, models, description } = isStream(data.train)
    ? await streamTeacher(flags, data.train.teacher)
    : await loadTeacher(flags, { rows: data.train.length, classes: student.outputs });
  const options: DistillOptions = {
    ...trainOptions(flags),
    ...(await checkpointOptions(flags)),
    ...(teacher !== undefined ? { teacher } : {}),
    student,
    data: data.train,
    ...(transfer ? { transfer } : {}),
    alpha: flags.alpha as number,
    signal: ctx.signal,
  };
  if (quantize !== undefined) {
    if (data.train.targets) throw new UsageError("--quantize needs classification data (an int8 student predicts classes)");
    options.quantize = { weights: "int8", activations: "int8" };
  }
  // Regression matches the teacher's outputs by MSE as they are: no temperature, no other soft loss.
  // Multi-label: a temperature, and the sigmoid BCE soft loss (its only one) unless --soft-loss names another (refused).
  if (!data.train.targets || data.train.multiLabel) options.temperature = flags.temperature as number;
  if (!data.train.targets || (data.train.multiLabel && flags["soft-loss"] !== "kl")) options.softLoss = flags["soft-loss"] as DistillOptions["softLoss"];
  const hints = parseHints(flags.hints);
  if (hints) options.hints = hints;
  const attention = parseHints(flags.attention, "attention");
  if (attention) options.attention = attention;
  if (flags["hint-epochs"] !== undefined) options.hintEpochs = flags["hint-epochs"] as number;
  if (flags["fine-tune-epochs"] !== undefined) options.fineTune = { epochs: flags["fine-tune-epochs"] as number, signal: ctx.signal };
  if (options.resume) ctx.say(`resuming from ${flags.checkpoint} at step ${options.resume.steps}`);
  ctx.say(
    `distill ${student.architecture} (${student.parameterCount.toLocaleString("en-US")} parameters) from ${description}, ${data.train.targets && !data.train.multiLabel ? "MSE soft loss" : `T = ${options.temperature}`}, α = ${options.alpha}`,
  );
  const rows = data.train.length + (transfer?.length ?? 0);
  if (data.train.labelled < rows) ctx.say(`${data.train.labelled} of ${rows} training rows have a label; the others get the teacher's soft targets only`);
  const progress = new Progress(ctx, "distill", options.epochs!, Math.ceil(rows / options.batchSize!));
  const result = await distill({ ...options, onBatch: progress.batch, onEpoch: progress.epoch });
  if (classBias) adjustClassBias(student, classBias);
  const fit = regressionMetrics(student, data.test);
  const labels = multiLabelMetrics(student, data.test);
  const quantized = result.quantized;
  const evaluation = data.test && !fit && !labels && !quantized ? evaluate(student, data.test) : undefined;
  const quantizedAccuracy =
    quantized && data.test?.task === "classification" ? accuracyOf(quantized.predict(data.test.x) as Int32Array, data.test.y) : undefined;
  const metadata = {
    command: "distill",
    data: data.description,
    teacher: description,
    ...(options.temperature !== undefined ? { temperature: String(options.temperature) } : {}),
    alpha: String(options.alpha),
    soft_loss: options.softLoss ?? (data.train.multiLabel ? "bce" : data.train.targets ? "mse" : "kl"),
    epochs: String(result.history.length),
    stop_reason: result.stopReason,
    ...(evaluation ? { test_accuracy: String(evaluation.accuracy) } : {}),
    ...regressionMetadata(fit),
    ...multiLabelMetadata(labels),
    ...(classBias ? { class_bias: JSON.stringify(classBias) } : {}),
    ...(quantizedAccuracy !== undefined ? { test_accuracy: String(quantizedAccuracy) } : {}),
  };
  if (quantized) await quantized.save(out, metadata);
  else await saveModel(student, out, metadata);
  const accuracy = quantizedAccuracy ?? evaluation?.accuracy;
  if (ctx.mode === "json") {
    ctx.json({
      command: "distill",
      architecture: student.architecture,
      params: student.parameterCount,
      out,
      teacher: description,
      temperature: options.temperature ?? null,
      alpha: options.alpha,
      accuracy: accuracy ?? null,
      quantize: quantize ?? null,
      ...testErrors(evaluation),
      ...regressionJson(fit),
      ...multiLabelJson(labels),
      stopReason: result.stopReason,
      steps: result.steps,
      history: result.history,
    });
  } else {
    if (result.stopReason === "aborted") ctx.say(`stopped by ${ctx.stopped().by} after ${result.steps} steps; the student so far is saved`);
    ctx.say(
      fit
        ? `test ${regressionText(fit)}; saved ${out}`
        : labels
          ? `test ${multiLabelText(labels)}; saved ${out}`
          : `test accuracy ${percent(accuracy)}${errorsText(evaluation)}; saved ${quantized ? "the int8 student to " : ""}${out}`,
    );
  }
  quantized?.dispose();
  for (const m of [student, ...models]) m.dispose();
  return result.stopReason === "aborted" ? ctx.stopped().code : 0;
}
