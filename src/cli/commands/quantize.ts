/**
 * `distill-wasm quantize`: a saved float model → an int8 (or fp16) model file, by the
 * library's post-training `quantize` (src/quantize/). The activation scales come from
 * `--calibration-rows` training rows of the data source (a seeded sample: a file sorted by
 * class still calibrates on every class); the test set (all rows when the source has none)
 * then measures the float and the quantized model side by side. Every flag and the output
 * path are checked before the data is read; the output is written atomically.
 */
import type { Dataset } from "../../data/dataset.js";
import { checkDataForModel } from "../../data/fits-model.js";
import { TaskError } from "../../errors.js";
import { modelFromSafetensors } from "../../io/model-file.js";
import { quantize } from "../../quantize/quantize.js";
import type { QuantizedModel } from "../../quantize/model.js";
import { readBytes, writeBytesAtomic } from "../../runtime/files.js";
import { decodeSafetensors } from "../../io/safetensors.js";
import { isQuantizedFile } from "../../quantize/file.js";
import { ENGINE_FLAGS, startEngine } from "../engine.js";
import { UsageError, type Flags, type FlagSpec } from "../args.js";
import { percent, type Context } from "../context.js";
import { csvOptions, loadSource } from "../data-source.js";
import { DATA_FLAGS } from "../options.js";
import { checkOutputs } from "../outputs.js";

/** --calibration-rows when not given (all the training rows when there are fewer). */
export const DEFAULT_CALIBRATION_ROWS = 1000;

export const QUANTIZE_USAGE =
  "usage: distill-wasm quantize --model m.safetensors --data SRC --out m-int8.safetensors [--weights int8|fp16] [--activations int8|float] [--calibration-rows N] [--json]";
export const QUANTIZE_SPEC: Record<string, FlagSpec> = {
  ...ENGINE_FLAGS,
  ...DATA_FLAGS,
  model: { kind: "string", help: "the float model file to quantize (.safetensors)" },
  out: { kind: "string", help: "the quantized model file to write (.safetensors)" },
  weights: { kind: "string", help: "int8 (per-output-channel scales) | fp16 (half precision, float compute)", default: "int8" },
  activations: { kind: "string", help: "int8 (integer products; calibrated) | float (default with --weights fp16)" },
  "calibration-rows": { kind: "int", help: `training rows that set the int8 activation scales, a seeded sample (default ${DEFAULT_CALIBRATION_ROWS})`, min: 1 },
};

const WEIGHTS = ["int8", "fp16"] as const;
const ACTIVATIONS = ["int8", "float"] as const;

/** The measured quality of one model on the test rows: accuracy (classification) or RMSE (regression). */
interface Quality {
  accuracy?: number;
  rmse?: number;
}

export async function runQuantize(ctx: Context, flags: Flags): Promise<number> {
  const file = flags.model as string | undefined;
  const out = flags.out as string | undefined;
  if (!file) throw new UsageError("--model is required: the float model file to quantize, e.g. --model student.safetensors");
  if (!out) throw new UsageError("--out is required: the quantized model file to write, e.g. --out student-int8.safetensors");
  const weights = flags.weights as string;
  if (!(WEIGHTS as readonly string[]).includes(weights)) throw new UsageError(`--weights must be int8 or fp16; got ${JSON.stringify(weights)}`);
  const given = flags.activations as string | undefined;
  if (given !== undefined && !(ACTIVATIONS as readonly string[]).includes(given)) {
    throw new UsageError(`--activations must be int8 or float; got ${JSON.stringify(given)}`);
  }
  if (weights === "fp16" && given === "int8") throw new UsageError("--weights fp16 computes in float: --activations int8 needs --weights int8");
  const activations = given ?? (weights === "fp16" ? "float" : "int8");
  const calibrate = activations === "int8";
  if (!calibrate && flags["calibration-rows"] !== undefined) {
    throw new UsageError("--calibration-rows applies to --activations int8 only (float activations need no calibration)");
  }
  await checkOutputs(flags);
  await startEngine(flags);

  const bytesBefore = await readBytes(file, "--model");
  if (isQuantizedFile(decodeSafetensors(bytesBefore, file, { copy: false }).metadata)) {
    throw new UsageError(`--model ${file} is already quantized; give the float model it was made from`);
  }
  const model = modelFromSafetensors(bytesBefore, {}, file);
  let quantized: QuantizedModel | undefined;
  try {
    const data = await loadSource(flags.data as string, flags["test-split"] as number | undefined, flags.seed as number, csvOptions(flags));
    const test = data.test ?? data.train;
    checkDataForModel("quantize", data.train, model, "the training rows", true);
    checkDataForModel("quantize", test, model, data.test ? "the test set" : "the data", true);
    if (model.task === "regression" && !test.targets) {
      throw new TaskError(
        `quantize: ${file} is a regression model (its file records task "regression") but --data is a ${test.task} dataset; give --task regression`,
      );
    }
    const wanted = (flags["calibration-rows"] as number | undefined) ?? DEFAULT_CALIBRATION_ROWS;
    const sample = calibrate ? data.train.shuffled(flags.seed as number, { engine: model.engine }).slice(0, Math.min(wanted, data.train.length)) : undefined;
    quantized = quantize(model, sample, { weights: weights as (typeof WEIGHTS)[number], activations: activations as (typeof ACTIVATIONS)[number] });
    const bytesAfter = quantized.toSafetensors({ quantized_from: baseName(file), ...(sample ? { calibration_rows: sample.length } : {}) });
    await writeBytesAtomic(out, bytesAfter, "--out");
    const q = quantized;
    // Classification: the class ids (a multi-label model is measured by its outputs' RMSE against the 0/1 labels, as before).
    const floatIds = test.targets ? undefined : (model.predict(test.x) as Int32Array);
    const quantizedIds = test.targets ? undefined : (q.predict(test.x) as Int32Array);
    const before = quality(test, floatIds ?? model.logits(test.x));
    const after = quality(test, quantizedIds ?? q.logits(test.x));
    const agree = floatIds && quantizedIds ? sameClass(floatIds, quantizedIds) : undefined;
    const report = {
      command: "quantize",
      model: file,
      out,
      architecture: model.architecture,
      weights,
      activations,
      ...(sample ? { calibrationRows: sample.length } : {}),
      rows: test.length,
      fileBytes: { float: bytesBefore.length, quantized: bytesAfter.length },
      parameterBytes: { float: model.parameterBytes, quantized: q.parameterBytes },
      float: before,
      quantized: after,
      ...(agree === undefined ? {} : { agreement: agree }),
    };
    if (ctx.mode === "json") {
      ctx.json(report);
    } else {
      const calibration = sample ? `, activation scales from ${sample.length} training rows` : "";
      ctx.say(`${file}: ${model.architecture} → ${weights} weights, ${activations} activations${calibration}`);
      ctx.say(`wrote ${out}`);
      ctx.say(`size      ${kb(bytesBefore.length)} → ${kb(bytesAfter.length)} (${(bytesBefore.length / bytesAfter.length).toFixed(1)}× smaller)`);
      const where = data.test ? `test set, ${test.length} rows` : `all ${test.length} rows (no test set)`;
      if (before.accuracy !== undefined) {
        ctx.say(`accuracy  float ${percent(before.accuracy)} → quantized ${percent(after.accuracy)} (${where}); same class on ${percent(agree)} of the rows`);
      } else {
        ctx.say(`RMSE      float ${before.rmse!.toPrecision(4)} → quantized ${after.rmse!.toPrecision(4)} (${where})`);
      }
    }
  } finally {
    quantized?.dispose();
    model.dispose();
  }
  return 0;
}

/**
 * Accuracy over the labelled rows from class ids (classification), or RMSE over every target
 * from the outputs (regression): exact counts and float64 sums in JavaScript.
 */
function quality(set: Dataset, outputs: Int32Array | Float32Array): Quality {
  if (set.targets) {
    let sum = 0;
    for (let i = 0; i < outputs.length; i++) sum += (outputs[i]! - set.targets[i]!) ** 2;
    return { rmse: Math.sqrt(sum / outputs.length) };
  }
  let right = 0;
  let labelled = 0;
  for (let i = 0; i < outputs.length; i++) {
    const label = set.y[i]!;
    if (label < 0) continue; // MISSING_LABEL
    labelled++;
    if (outputs[i] === label) right++;
  }
  return { accuracy: labelled > 0 ? right / labelled : 0 };
}

/** Fraction of rows on which both models predict the same class. */
function sameClass(a: Int32Array, b: Int32Array): number {
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / Math.max(a.length, 1);
}

const baseName = (path: string) => path.split(/[\\/]/).pop() ?? path;
const kb = (bytes: number) => (bytes >= 1e6 ? `${(bytes / 1e6).toFixed(2)} MB` : `${(bytes / 1e3).toFixed(1)} KB`);
