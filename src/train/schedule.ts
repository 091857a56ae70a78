/**
 * Learning-rate schedules. Values come from exact JS arithmetic (+ − × ÷) and the wasm
 * module's own cos / pow, never JS Math.cos / Math.pow (which differ between engines), so
 * a schedule gives the same learning rates in every runtime.
 */
import type { Engine } from "../engine.js";
import { OptionError } from "../errors.js";

const CONSTANT: ScheduleSpec = { type: "constant" };

export type ScheduleSpec =
  | { type: "constant" }
  /** lr·gamma^⌊epoch / every⌋ (epochs count from 0). */
  | { type: "step"; every: number; gamma?: number }
  /** minLr + (lr − minLr)·½(1 + cos(π·step / totalSteps)), over the whole run. */
  | { type: "cosine"; minLr?: number };

export interface ScheduleOptions {
  schedule?: ScheduleSpec;
  /** Linear warm-up from lr/warmupSteps to lr over the first steps (default 0). */
  warmupSteps?: number;
}

export function checkSchedule(options: ScheduleOptions): void {
  const s = options.schedule ?? CONSTANT;
  if (s.type === "step") {
    if (!(Number.isInteger(s.every) && s.every >= 1)) throw new OptionError(`schedule: step "every" must be an integer ≥ 1 (epochs); got ${s.every}`);
    if (s.gamma !== undefined && !(s.gamma > 0 && s.gamma <= 1)) throw new OptionError(`schedule: gamma must be in (0, 1]; got ${s.gamma}`);
  } else if (s.type === "cosine") {
    if (s.minLr !== undefined && !(s.minLr >= 0)) throw new OptionError(`schedule: minLr must be ≥ 0; got ${s.minLr}`);
  } else if (s.type !== "constant") {
    throw new OptionError(`schedule: type must be "constant", "step" or "cosine"; got ${JSON.stringify((s as { type?: unknown }).type)}`);
  }
  const w = options.warmupSteps ?? 0;
  if (!(Number.isInteger(w) && w >= 0)) throw new OptionError(`warmupSteps must be an integer ≥ 0; got ${w}`);
}

/**
 * Writes the learning rate at a (0-based) step of a run of totalSteps steps to out.lr (a
 * field rather than a return value, which V8 boxes when the call is not inlined).
 */
export function learningRate(
  out: { lr: number },
  engine: Engine,
  base: number,
  options: ScheduleOptions,
  step: number,
  epoch: number,
  totalSteps: number,
): void {
  const s = options.schedule ?? CONSTANT;
  let lr = base;
  if (s.type === "step") {
    lr = base * engine.kernels.math_pow(s.gamma ?? 0.1, Math.floor(epoch / s.every));
  } else if (s.type === "cosine") {
    const min = s.minLr ?? 0;
    const progress = totalSteps > 0 ? step / totalSteps : 0;
    lr = min + (base - min) * 0.5 * (1 + engine.kernels.math_cos(Math.PI * progress));
  }
  const warmup = options.warmupSteps ?? 0;
  if (step < warmup) lr = (lr * (step + 1)) / warmup;
  out.lr = lr;
}
