/**
 * Per-class adjustment of the output layer's bias: a student distilled on a transfer set
 * without some class has too low a bias for it (Hinton et al. 2015, section 3: raising the
 * bias of the 3s by 3.5 took the no-3s student from 206 to 109 errors). `adjustClassBias`
 * adds given offsets; `fitClassBias` finds them by grid search on labelled data.
 */
import type { Dataset } from "../data/dataset.js";
import { ArgumentError, OptionError } from "../errors.js";
import { checkDataForModel } from "../train/loop.js";
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
    if (typeof value !== "number" || !Number.isFinite(value)) throw new OptionError(`${op}: the offset of class ${key} must be a finite number; got ${String(value)}`);
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

export interface FitClassBiasOptions {
  /** Offsets tried: from 0 up to `max` (default 10) in `step`s (default 0.25). */
  max?: number;
  step?: number;
}

/**
 * For each class in `classes`, in turn, the offset in [0, max] (on a grid of `step`) that
 * gives the highest accuracy on `data` with the offsets found so far applied (the
 * smallest such offset on ties). Returns the offsets; the model is left unchanged.
 */
export function fitClassBias(model: Sequential, data: Dataset, classes: readonly number[], options: FitClassBiasOptions = {}): ClassBias {
  const op = "fitClassBias";
  model.ensureAlive();
  checkDataForModel(op, data, model);
  const max = options.max ?? 10;
  const step = options.step ?? 0.25;
  if (!(max > 0 && Number.isFinite(max))) throw new OptionError(`${op}: max must be a finite number > 0; got ${max}`);
  if (!(step > 0 && step <= max)) throw new OptionError(`${op}: step must be in (0, max]; got ${step}`);
  checkOffsets(op, model, Object.fromEntries(classes.map((c) => [c, 0])));
  // Offsets only shift logits, so one forward pass serves every trial.
  const logits = model.logits(data.x);
  const k = model.outputs;
  const offsets = new Float64Array(k);
  const accuracy = () => {
    let correct = 0;
    for (let r = 0; r < data.length; r++) {
      let best = 0;
      for (let j = 1; j < k; j++) if (logits[r * k + j]! + offsets[j]! > logits[r * k + best]! + offsets[best]!) best = j;
      if (best === data.y[r]) correct++;
    }
    return correct;
  };
  const found: ClassBias = {};
  for (const c of classes) {
    let bestOffset = 0;
    let bestCorrect = -1;
    for (let i = 0; i * step <= max + 1e-9; i++) {
      offsets[c] = i * step;
      const correct = accuracy();
      if (correct > bestCorrect) {
        bestCorrect = correct;
        bestOffset = i * step;
      }
    }
    offsets[c] = bestOffset;
    found[c] = bestOffset;
  }
  return found;
}
