/** `distill-wasm search`: one student per (temperature, α) pair, ranked on a validation split. */
import { searchTemperature } from "../../distill/search.js";
import { mlp } from "../../nn/mlp.js";
import type { ActivationName } from "../../nn/layers/index.js";
import { requireAlpha, requireTemperature } from "../../validate.js";
import { ENGINE_FLAGS, startEngine } from "../engine.js";
import { UsageError, type Flags, type FlagSpec } from "../args.js";
import { percent, type Context } from "../context.js";
import { csvOptions, loadSource } from "../data-source.js";
import { DATA_FLAGS, mlpOptions, MODEL_FLAGS, parseArch, TRAIN_FLAGS, trainingRows, TRAINING_ROWS_FLAGS, trainOptions } from "../options.js";
import { loadTeacher, TEACHER_FLAGS } from "./distill.js";

export const SEARCH_USAGE = "usage: distill-wasm search --data SRC --teacher t.safetensors --arch 784-32-10 --temperatures 1,2,4,8 --alphas 0.1,0.5,0.9";
const { validation: _validation, patience: _patience, ...SEARCH_TRAIN_FLAGS } = TRAIN_FLAGS;
export const SEARCH_SPEC: Record<string, FlagSpec> = {
  ...ENGINE_FLAGS,
  ...DATA_FLAGS,
  ...TRAINING_ROWS_FLAGS,
  ...MODEL_FLAGS,
  ...SEARCH_TRAIN_FLAGS,
  teacher: TEACHER_FLAGS.teacher!, // not --teacher-logits: the validation split reorders the rows
  temperatures: { kind: "list", help: "temperatures to try", default: "1,2,4,8" },
  alphas: { kind: "list", help: "α values to try", default: "0.1,0.5,0.9" },
  "search-validation": { kind: "number", help: "fraction of the training data the pairs are ranked on", default: 0.2, min: 0.01, max: 0.9 },
};

function numbers(name: string, value: unknown): number[] {
  const list = (typeof value === "string" ? value.split(",") : (value as string[])).map(Number);
  if (list.length === 0 || list.some((v) => !Number.isFinite(v))) throw new UsageError(`--${name} must be numbers separated by commas`);
  return list;
}

export async function runSearch(ctx: Context, flags: Flags): Promise<number> {
  await startEngine(flags);
  const seed = flags.seed as number;
  // With --test-split the test rows are held out first, so that the search never sees them.
  const data = await loadSource(flags.data as string, flags["test-split"] as number | undefined, seed, csvOptions(flags));
  const { train, validation } = trainingRows(flags, data.train).split(flags["search-validation"] as number, { seed, stratified: true });
  if (!flags.teacher) throw new UsageError("search needs --teacher model files");
  const { teacher, models } = await loadTeacher(flags);
  const widths = parseArch(flags.arch);
  // Checked here, not when their trial comes: a bad last value would otherwise end the
  // search after all the trials before it had trained (and as a failure, not a usage error).
  const temperatures = numbers("temperatures", flags.temperatures).map((t) => requireTemperature("--temperatures", t));
  const alphas = numbers("alphas", flags.alphas).map((a) => requireAlpha("--alphas", a));
  ctx.say(`search: ${temperatures.length} × ${alphas.length} students ${widths.join("-")} on ${train.length} rows, ranked on ${validation.length}`);
  const { validation: _v, ...budget } = trainOptions(flags);
  let done = 0;
  const result = await searchTemperature({
    ...budget,
    teacher,
    data: train,
    validation,
    temperatures,
    alphas,
    signal: ctx.signal,
    onBatch: ctx.markTrainingStarted,
    student: () => {
      if (done++ > 0 || ctx.mode !== "json") ctx.say(`  trial ${done}/${temperatures.length * alphas.length}`);
      return mlp(widths, mlpOptions(flags, seed));
    },
  });
  for (const m of models) m.dispose();
  if (ctx.mode === "json") {
    ctx.json({ command: "search", architecture: widths.join("-"), trials: result.trials, best: result.best, accuracy: result.best.valAccuracy });
    return 0;
  }
  ctx.say(`\nvalidation accuracy (rows: T, columns: α)\n${"T \\ α".padEnd(8)}${alphas.map((a) => String(a).padStart(9)).join("")}`);
  for (const t of temperatures) {
    const cells = alphas.map((a) => {
      const trial = result.trials.find((r) => r.temperature === t && r.alpha === a);
      return (trial?.failed !== undefined ? "failed" : percent(trial?.valAccuracy)).padStart(9);
    });
    ctx.say(`${String(t).padEnd(8)}${cells.join("")}`);
  }
  for (const f of result.trials.filter((r) => r.failed !== undefined)) ctx.say(`T = ${f.temperature}, α = ${f.alpha} failed: ${f.failed}`);
  ctx.say(`best: T = ${result.best.temperature}, α = ${result.best.alpha} (${percent(result.best.valAccuracy)})`);
  return 0;
}
