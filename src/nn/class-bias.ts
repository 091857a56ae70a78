/**
 * Per-class adjustment of the output layer's bias: a student distilled on a transfer set
 * without some class has too low a bias for it (Hinton et al. 2015, section 3: raising the
 * bias of the 3s by 3.5 took the no-3s student from 206 to 109 errors). `adjustClassBias`
 * adds given offsets; `fitClassBias` finds them by grid search on labelled data.
 */
import type { Dataset } from "../data/dataset.js";
import { ArgumentError, OptionError } from "../errors.js";
import { checkDataForModel } from "../data/fits-model.js";
import type { Sequential } from "./sequential.js";

/** Offsets to add to output biases, by class: { 3: 3.5 }. */
export type ClassBias = Record<number, number>;

/** The name of the output layer's bias (the last dense layer's). */
function outputBiasName(op: string, model: Sequential): string {
  let last = -1;
  model.specs.forEach((s, i) => {
    if (s.type === "dense") last = i;
  });
  if (last < 0) throw new ArgumentError(`${op}: the model has no dense output layer`);
  return `${last}.bias`;
}

function checkOffsets(op: string, model: Sequential, offsets: ClassBias): [number, number][] {
  if (!offsets || typeof offsets !== "object") throw new ArgumentError(`${op}: offsets must be an object { class: offset }`);
  return Object.entries(offsets).map(([key, value]) => {
    const c = Number(key);
    if (!Number.isInteger(c) || c < 0 || c >= model.outputs) throw new OptionError(`${op}: class ${key} is not an output in [0, ${model.outputs})`);
    if (typeof value !== "number" || !Number.isFinite(value))
      throw new OptionError(`${op}: the offset of class ${key} must be a finite number; got ${String(value)}`);
    return [c, value];
  });
}

/** Adds offsets[c] to the output bias of each class c (in place). */
export function adjustClassBias(model: Sequential, offsets: ClassBias): void {
  const op = "adjustClassBias";
  model.ensureAlive();
  const entries = checkOffsets(op, model, offsets);
  const name = outputBiasName(op, model);
  const bias = model.getParameter(name);
  for (const [c, v] of entries) bias[c] = bias[c]! + v;
  model.setParameter(name, bias);
}

/**
 * For each class in `classes`, in turn, the offset that gives the highest accuracy on
 * `data` with the offsets found so far applied, found exactly: accuracy changes only
 * where the class's logit plus the offset crosses a row's best other logit, so the
 * candidates are 0 and the midpoints between consecutive crossing points (and one past
 * each end); on ties the offset nearest 0 wins. Returns the offsets; the model is left
 * unchanged (apply them with `adjustClassBias`).
 */
export function fitClassBias(model: Sequential, data: Dataset, classes: readonly number[]): ClassBias {
  const op = "fitClassBias";
  model.ensureAlive();
  checkDataForModel(op, data, model);
  if (!Array.isArray(classes) || classes.length === 0) throw new ArgumentError(`${op}: classes must be a non-empty array of outputs`);
  checkOffsets(op, model, Object.fromEntries(classes.map((c) => [c, 0])));
  // Offsets only shift logits, so one forward pass serves every candidate.
  const logits = model.logits(data.x);
  const k = model.outputs;
  const offsets = new Float64Array(k);
  const found: ClassBias = {};
  for (const c of classes) {
    offsets[c] = 0;
    // need[r]: the offset above which row r predicts c; otherCorrect[r]: the best other class is the label.
    const need = new Float64Array(data.length);
    const positive: number[] = [];
    const negative: number[] = [];
    for (let r = 0; r < data.length; r++) {
      let other = -1;
      for (let j = 0; j < k; j++) if (j !== c && (other < 0 || logits[r * k + j]! + offsets[j]! > logits[r * k + other]! + offsets[other]!)) other = j;
      need[r] = logits[r * k + other]! + offsets[other]! - logits[r * k + c]!;
      if (data.y[r] === c) positive.push(need[r]!);
      else if (data.y[r] === other) negative.push(need[r]!);
    }
    // accuracy(o) = #{positive need < o} + #{negative need ≥ o} (+ rows right or wrong whatever o is).
    const points = Float64Array.from(new Set([...positive, ...negative])).sort();
    const candidates = [0, points[0]! - 1, points[points.length - 1]! + 1];
    for (let i = 0; i + 1 < points.length; i++) candidates.push((points[i]! + points[i + 1]!) / 2);
    const pos = Float64Array.from(positive).sort();
    const neg = Float64Array.from(negative).sort();
    const countBelow = (sorted: Float64Array, o: number) => {
      let lo = 0;
      let hi = sorted.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (sorted[mid]! < o) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
    let best = 0;
    let bestScore = -1;
    for (const o of candidates) {
      const score = countBelow(pos, o) + (neg.length - countBelow(neg, o));
      if (score > bestScore || (score === bestScore && Math.abs(o) < Math.abs(best))) {
        bestScore = score;
        best = o;
      }
    }
    offsets[c] = best;
    found[c] = best;
  }
  return found;
}
