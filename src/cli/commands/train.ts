/** `distill-wasm train`: trains a model (a teacher, or a student from scratch) on labels and saves it. */
import { saveModel } from "../../io/model-file.js";
import { evaluate } from "../../metrics/evaluate.js";
import { adjustClassBias } from "../../nn/class-bias.js";
import { train } from "../../train/train.js";
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

export const TRAIN_USAGE = "usage: distill-wasm train --data SRC --arch 784-512-512-10 --out teacher.safetensors [options]";
export const TRAIN_SPEC: Record<string, FlagSpec> = {
  ...ENGINE_FLAGS,
  ...DATA_FLAGS,
  ...TRAINING_ROWS_FLAGS,
  ...MODEL_FLAGS,
  ...CLASS_BIAS_FLAGS,
  ...TRAIN_FLAGS,
  ...CHECKPOINT_FLAGS,
  out: { kind: "string", help: "where to save the trained model (.safetensors)" },
};

/** The rows of --data in memory, after --exclude-classes and --keep-labels, and the source's test set. */
async function loadRows(flags: Flags, seed: number) {
  const loaded = await loadSource(flags.data as string, flags["test-split"] as number | undefined, seed, csvOptions(flags));
  return { ...loaded, train: trainingRows(flags, loaded.train) };
}

export async function runTrain(ctx: Context, flags: Flags): Promise<number> {
  const out = flags.out as string | undefined;
  if (!out) throw new UsageError("--out is required: where to save the model, e.g. --out teacher.safetensors");
  const streamed = isShardSource(flags.data);
  if (streamed) checkStreamFlags(flags, "train");
  await checkOutputs(flags);
  await startEngine(flags);
  const seed = flags.seed as number;
  const data = streamed ? await loadShardSource(flags.data as string, flags) : await loadRows(flags, seed);
  const classBias = classBiasFlag(flags);
  const model = buildModel(flags, data.train, seed);
  const options = { ...trainOptions(flags), ...(await checkpointOptions(flags)) };
  if (options.resume) ctx.say(`resuming from ${flags.checkpoint} at step ${options.resume.steps}`);
  ctx.say(`train ${model.architecture} (${model.parameterCount.toLocaleString("en-US")} parameters) on ${data.description}`);
  const progress = new Progress(ctx, "train", options.epochs!, Math.ceil(data.train.length / options.batchSize!));
  const result = await train(model, data.train, { ...options, signal: ctx.signal, onBatch: progress.batch, onEpoch: progress.epoch });
  if (classBias) adjustClassBias(model, classBias);
  const fit = regressionMetrics(model, data.test);
  const labels = multiLabelMetrics(model, data.test);
  const evaluation = data.test && !fit && !labels ? evaluate(model, data.test) : undefined;
  await saveModel(model, out, {
    command: "train",
    data: data.description,
    epochs: String(result.history.length),
    steps: String(result.steps),
    stop_reason: result.stopReason,
    ...(evaluation ? { test_accuracy: String(evaluation.accuracy) } : {}),
    ...regressionMetadata(fit),
    ...multiLabelMetadata(labels),
    ...(classBias ? { class_bias: JSON.stringify(classBias) } : {}),
  });
  if (ctx.mode === "json") {
    ctx.json({
      command: "train",
      architecture: model.architecture,
      params: model.parameterCount,
      out,
      accuracy: evaluation?.accuracy ?? null,
      ...testErrors(evaluation),
      ...regressionJson(fit),
      ...multiLabelJson(labels),
      stopReason: result.stopReason,
      steps: result.steps,
      history: result.history,
    });
  } else {
    if (result.stopReason === "aborted") ctx.say(`stopped by ${ctx.stopped().by} after ${result.steps} steps; the model so far is saved`);
    ctx.say(
      fit
        ? `test ${regressionText(fit)}; saved ${out}`
        : labels
          ? `test ${multiLabelText(labels)}; saved ${out}`
          : `test accuracy ${percent(evaluation?.accuracy)}${errorsText(evaluation)}; saved ${out}`,
    );
  }
  model.dispose();
  return result.stopReason === "aborted" ? ctx.stopped().code : 0;
}
