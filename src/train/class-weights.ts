/**
 * Class weights for the hard cross-entropy of `train` and `distill` (option `classWeights`):
 * a labelled row's loss and gradient are multiplied by its class's weight, and the batch
 * loss stays a mean over rows (assembly/loss.ts, the `_weighted` kernels).
 *
 *   number[]    one weight ≥ 0 per output (model.outputs), finite, not all 0
 *   "balanced"  w_c = n / (k · n_c) over the labelled rows: n rows, n_c of class c, k classes
 *               present (scikit-learn's compute_class_weight("balanced")); so Σ_rows w = n
 *               and the loss keeps its scale. A class without rows gets weight 1 (never used).
 */
import { isStream, type StreamDataset } from "../data/stream/stream-dataset.js";
import type { Dataset } from "../data/dataset.js";
import { OptionError } from "../errors.js";
import type { Rule } from "../options/schema.js";

export type ClassWeights = readonly number[] | "balanced";

/** The schema rule: "balanced" or an array of numbers (lengths and values are checked against the model by resolveClassWeights). */
export const classWeightsRule: Rule = (v, name) => {
  if (v === "balanced" || Array.isArray(v)) return v;
  throw new OptionError(`${name} must be "balanced" or an array of one weight per class; got ${typeof v === "string" ? JSON.stringify(v) : typeof v}`);
};

/** The weights as the kernels take them: (outputs) f32; undefined without the option. */
export function resolveClassWeights(op: string, option: ClassWeights | undefined, data: Dataset | StreamDataset, outputs: number): Float32Array | undefined {
  if (option === undefined) return undefined;
  if (data.targets)
    throw new OptionError(`${op}: classWeights weight class labels; a ${data.task === "multilabel" ? "multi-label" : data.task} dataset has none`);
  if (option === "balanced" && isStream(data)) {
    throw new OptionError(`${op}: classWeights "balanced" counts the labels of the data, which a StreamDataset does not hold; pass one weight per class`);
  }
  if (option === "balanced") return balancedWeights((data as Dataset).classCounts(), outputs);
  if (option.length !== outputs)
    throw new OptionError(`${op}: classWeights has ${option.length} weights but the model has ${outputs} outputs (one weight per class)`);
  const bad = option.findIndex((w) => typeof w !== "number" || !Number.isFinite(w) || w < 0 || w > 3.4028234663852886e38);
  if (bad >= 0) throw new OptionError(`${op}: classWeights[${bad}] = ${String(option[bad])} must be a finite number ≥ 0`);
  if (option.every((w) => w === 0)) throw new OptionError(`${op}: classWeights are all 0, which leaves no hard loss; omit some classes, not all`);
  return Float32Array.from(option);
}

/** n / (k · n_c) per class (see the file comment), computed in float64 and rounded once to f32. */
export function balancedWeights(counts: ArrayLike<number>, outputs: number): Float32Array {
  let n = 0;
  let k = 0;
  for (let c = 0; c < counts.length; c++) {
    n += counts[c]!;
    if (counts[c]! > 0) k++;
  }
  const w = new Float32Array(outputs).fill(1);
  for (let c = 0; c < counts.length && c < outputs; c++) if (counts[c]! > 0) w[c] = n / (k * counts[c]!);
  return w;
}
