/** A distillation setting given per epoch (temperature, α) as the function of the epoch the loss reads. */
import { OptionError } from "../errors.js";
import type { EpochValue } from "./options.js";

/**
 * `v` (a number, { from, to } or a function of the 1-based epoch) → a function of the
 * 0-based epoch, over `epochs` epochs. Every value is checked by `check` (`expected` names
 * the rule in the OptionError): constants and ends at once, a function's values when read.
 */
export function epochValue(name: string, v: EpochValue, epochs: number, check: (x: number) => boolean, expected: string): (epoch: number) => number {
  const validated = (x: number, epoch: number) => {
    if (typeof x !== "number" || !check(x))
      throw new OptionError(`distill: ${name} must be ${expected}; got ${x}${epoch >= 0 ? ` at epoch ${epoch + 1}` : ""}`);
    return x;
  };
  if (typeof v === "number") {
    validated(v, -1);
    return () => v;
  }
  if (typeof v === "function") return (epoch) => validated(v(epoch + 1), epoch);
  if (v && typeof v === "object") {
    validated(v.from, -1);
    validated(v.to, -1);
    if (!Number.isFinite(epochs)) throw new OptionError(`distill: a { from, to } ${name} schedule needs a number of epochs`);
    return (epoch) => (epochs > 1 ? v.from + ((v.to - v.from) * epoch) / (epochs - 1) : v.from);
  }
  throw new OptionError(`distill: ${name} must be a number, { from, to } or a function of the epoch`);
}
