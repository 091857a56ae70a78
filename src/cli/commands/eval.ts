/**
 * `distill-wasm eval`: accuracy, top-5, NLL and calibration of a saved model on a data
 * source's test set; a quantized model file (from `quantize` or `distill --quantize int8`)
 * is evaluated as the int8 model it is.
 */
import { modelFromSafetensors } from "../../io/model-file.js";
import { decodeSafetensors } from "../../io/safetensors.js";
import { isQuantizedFile } from "../../quantize/file.js";
import { QuantizedModel, quantizedFromSafetensors } from "../../quantize/model.js";
import { readBytes } from "../../runtime/files.js";
import { evaluate, type Evaluation } from "../../metrics/evaluate.js";
import { ENGINE_FLAGS, startEngine } from "../engine.js";
import { UsageError, type Flags, type FlagSpec } from "../args.js";
import { percent, type Context } from "../context.js";
import { csvOptions, loadSource } from "../data-source.js";
import type { Dataset } from "../../data/dataset.js";
import { DATA_FLAGS } from "../options.js";
import { regressionJson, regressionMetrics, regressionText } from "../regression-report.js";
import { multiLabelJson, multiLabelMetrics, multiLabelText } from "../multi-label-report.js";

export const EVAL_USAGE = "usage: distill-wasm eval --data SRC --model m.safetensors [--json]";
export const EVAL_SPEC: Record<string, FlagSpec> = {
  ...ENGINE_FLAGS,
  ...DATA_FLAGS,
  model: { kind: "string", help: "the model file (.safetensors)" },
};

export async function runEval(ctx: Context, flags: Flags): Promise<number> {
  const file = flags.model as string | undefined;
  if (!file) throw new UsageError("--model is required, e.g. --model student.safetensors");
  await startEngine(flags);
  const data = await loadSource(flags.data as string, flags["test-split"] as number | undefined, flags.seed as number, csvOptions(flags));
  const set = data.test ?? data.train;
  const bytes = await readBytes(file, "eval");
  if (isQuantizedFile(decodeSafetensors(bytes, file, { copy: false }).metadata)) {
    return evalQuantized(ctx, file, quantizedFromSafetensors(bytes, {}, file), set, data.test !== undefined);
  }
  const model = modelFromSafetensors(bytes, {}, file);
  try {
    const fit = regressionMetrics(model, set);
    if (fit) {
      if (ctx.mode === "json") {
        ctx.json({ command: "eval", model: file, architecture: model.architecture, params: model.parameterCount, rows: fit.count, ...regressionJson(fit) });
      } else {
        ctx.say(`${file}: ${model.architecture}, ${model.parameterCount.toLocaleString("en-US")} parameters`);
        ctx.say(`${data.test ? "test set" : "all data (no test set)"}: ${fit.count} rows`);
        ctx.say(regressionText(fit));
      }
      return 0;
    }
    const labels = multiLabelMetrics(model, set);
    if (labels) {
      if (ctx.mode === "json") {
        ctx.json({
          command: "eval",
          model: file,
          architecture: model.architecture,
          params: model.parameterCount,
          rows: labels.count,
          ...multiLabelJson(labels),
        });
      } else {
        ctx.say(`${file}: ${model.architecture}, ${model.parameterCount.toLocaleString("en-US")} parameters, ${labels.labels} yes/no labels`);
        ctx.say(`${data.test ? "test set" : "all data (no test set)"}: ${labels.count} rows`);
        ctx.say(multiLabelText(labels));
      }
      return 0;
    }
    const about = { architecture: model.architecture, params: model.parameterCount };
    sayClassifier(ctx, file, about, `${model.architecture}, ${model.parameterCount.toLocaleString("en-US")} parameters`, evaluate(model, set), !!data.test);
  } finally {
    model.dispose();
  }
  return 0;
}

/** The int8 (or fp16) model of a quantized file, evaluated as a classifier (its task must be classification). */
function evalQuantized(ctx: Context, file: string, model: QuantizedModel, set: Dataset, isTest: boolean): number {
  try {
    const about = { quantized: { weights: model.weights, activations: model.activations }, parameterBytes: model.parameterBytes };
    const what = `${model.weights} weights, ${model.activations} activations, ${model.parameterBytes.toLocaleString("en-US")} bytes of parameters`;
    sayClassifier(ctx, file, about, `quantized model (${what})`, evaluate(model, set), isTest);
  } finally {
    model.dispose();
  }
  return 0;
}

/** A classifier's metrics as text or --json; `about` is what the JSON says of the model, `title` what the text says. */
function sayClassifier(ctx: Context, file: string, about: Record<string, unknown>, title: string, e: Evaluation, isTest: boolean): void {
  if (ctx.mode === "json") {
    ctx.json({ command: "eval", model: file, ...about, rows: e.count, accuracy: e.accuracy, topK: e.topK, nll: e.nll, ece: e.ece });
    return;
  }
  ctx.say(`${file}: ${title}`);
  ctx.say(`${isTest ? "test set" : "all data (no test set)"}: ${e.count} rows`);
  ctx.say(`accuracy ${percent(e.accuracy)}   top-${e.topK.k} ${percent(e.topK.accuracy)}   NLL ${e.nll.toFixed(4)}   ECE ${e.ece.toFixed(4)}`);
}
