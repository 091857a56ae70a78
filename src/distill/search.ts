/**
 * `searchTemperature`: trains one student per (temperature, α) pair on the same budget
 * and ranks the pairs by validation accuracy.
 */
import type { Dataset } from "../data/dataset.js";
import { ArgumentError, DivergenceError, OptionError } from "../errors.js";
import type { Sequential } from "../nn/sequential.js";
import { checkDataForModel } from "../data/fits-model.js";
import { copyToWasm } from "../data/wasm-data.js";
import { evaluateInWasm } from "../train/evaluate-batches.js";
import { checkedElsewhere, type Schema } from "../options/schema.js";
import { checkTrainOptions } from "../train/options.js";
import { distill, DISTILL_SCHEMA, type DistillOptions } from "./distill.js";

export interface SearchOptions extends Omit<DistillOptions, "student" | "temperature" | "alpha" | "validation" | "earlyStopping" | "quantize"> {
  /** Makes a fresh, identically initialised student for each trial. */
  student: () => Sequential;
  /** Held-out data the pairs are ranked on (required). */
  validation: Dataset;
  temperatures: readonly number[];
  alphas: readonly number[];
}

export interface SearchTrial {
  temperature: number;
  alpha: number;
  valAccuracy: number;
  valLoss: number;
  /** Final training loss of the trial. */
  loss: number;
  /** Set when the trial collapsed (a DivergenceError): its message. Such a trial ranks last (accuracy NaN). */
  failed?: string;
}

export interface SearchResult {
  /** One row per pair, in the order tried (temperatures outer, alphas inner). */
  trials: SearchTrial[];
  /** The pair with the highest validation accuracy (the earliest tried on ties), among the trials that did not fail. */
  best: SearchTrial;
}

/**
 * Every option of `searchTemperature`: those of `distill` but the student, T, α and validation,
 * which it takes its own way, and `quantize` (a search compares float students).
 */
const SEARCH_SCHEMA: Schema = (() => {
  const { student: _s, temperature: _t, alpha: _a, validation: _v, earlyStopping: _e, quantize: _q, ...rest } = DISTILL_SCHEMA;
  return { ...rest, student: checkedElsewhere, validation: checkedElsewhere, temperatures: checkedElsewhere, alphas: checkedElsewhere };
})();

export async function searchTemperature(given: SearchOptions): Promise<SearchResult> {
  const op = "searchTemperature";
  if (typeof given?.student !== "function") throw new ArgumentError(`${op}: student must be a function that builds a fresh student model`);
  const options = checkTrainOptions(op, given, SEARCH_SCHEMA);
  if (!options.validation) throw new OptionError(`${op}: validation data is required to rank the pairs`);
  if ((options.validation as Dataset).multiLabel) {
    throw new OptionError(
      `${op}: ranks the pairs by validation accuracy, which multi-label data has none of; run distill with each pair and compare evaluate()'s F1`,
    );
  }
  for (const [name, list] of [
    ["temperatures", options.temperatures],
    ["alphas", options.alphas],
  ] as const) {
    if (!Array.isArray(list) || list.length === 0) throw new OptionError(`${op}: ${name} must be a non-empty array`);
  }
  const trials: SearchTrial[] = [];
  const { student: _make, validation: _held, temperatures: _ts, alphas: _as, ...distillOptions } = options;
  let checked = false;
  for (const temperature of options.temperatures) {
    for (const alpha of options.alphas) {
      const student = options.student();
      try {
        if (!checked) {
          checkDataForModel(op, options.validation, student, "validation");
          checked = true;
        }
        let result;
        try {
          result = await distill({ ...distillOptions, student, temperature, alpha });
        } catch (err) {
          if (!(err instanceof DivergenceError)) throw err;
          trials.push({ temperature, alpha, valAccuracy: NaN, valLoss: NaN, loss: NaN, failed: err.message });
          continue;
        }
        const engine = student.engine;
        const owned: number[] = [];
        try {
          const val = copyToWasm(engine, options.validation, owned);
          const batch = Math.min(options.batchSize ?? 64, options.validation.length);
          student.reserve(batch);
          const grad = engine.allocOwned(batch * student.outputs * 4);
          owned.push(grad);
          const v = evaluateInWasm(student, val, batch, grad);
          trials.push({ temperature, alpha, valAccuracy: v.accuracy, valLoss: v.loss, loss: result.history.at(-1)?.loss ?? NaN });
        } finally {
          for (const p of owned) engine.free(p);
        }
      } finally {
        student.dispose();
      }
    }
  }
  const healthy = trials.filter((t) => t.failed === undefined);
  if (healthy.length === 0) {
    throw new DivergenceError(`${op}: every trial collapsed; the first: ${trials[0]!.failed}`);
  }
  const best = healthy.reduce((b, t) => (t.valAccuracy > b.valAccuracy ? t : b));
  return { trials, best };
}
