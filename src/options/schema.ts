/**
 * Options checked against a table: one schema per public function lists every key it
 * takes with a rule for its value. A rule checks the value (OptionError naming the option
 * and what was expected) and returns it, normalised where a user may write it shorter
 * (schedule: "cosine"). Unknown keys are refused with the closest known name, so a
 * misspelt option (`epoch`, `temprature`) is an error in JavaScript too, not a silent default.
 */
import { OptionError } from "../errors.js";

/** Checks one option's value (`name` is its full path, e.g. "optimizer.lr") and returns it, normalised. */
export type Rule = (value: unknown, name: string) => unknown;
export type Schema = Readonly<Record<string, Rule>>;

/** The largest finite float32: numbers that reach kernels as f32 must not round to Infinity. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/** A short, one-line rendering of a value for messages. */
export function show(value: unknown): string {
  let text: string;
  if (typeof value === "function") text = "a function";
  else if (typeof value === "string") text = JSON.stringify(value);
  else if (typeof value === "number" || typeof value === "boolean" || value === undefined || value === null) text = String(value);
  else if (Array.isArray(value)) text = `an array of ${value.length}`;
  else text = `an object`;
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

const fail = (name: string, expected: string, value: unknown): never => {
  throw new OptionError(`${name} must be ${expected}; got ${show(value)}`);
};

/**
 * A number: `integer`, bounds (`min` / `max` inclusive, `above` / `below` exclusive) and,
 * with `float32`, finite as a float32 too.
 */
export function number(o: { integer?: boolean; min?: number; max?: number; above?: number; below?: number; float32?: boolean } = {}): Rule {
  const parts: string[] = [o.integer ? "an integer" : "a finite number"];
  if (o.min !== undefined) parts.push(`≥ ${o.min}`);
  if (o.above !== undefined) parts.push(`> ${o.above}`);
  if (o.max !== undefined) parts.push(`≤ ${o.max}`);
  if (o.below !== undefined) parts.push(`< ${o.below}`);
  const expected = `${parts.join(" ")}${o.float32 ? " (and a finite float32)" : ""}`;
  return (v, name) => {
    const ok =
      typeof v === "number" &&
      Number.isFinite(v) &&
      (!o.integer || Number.isSafeInteger(v)) &&
      (o.min === undefined || v >= o.min) &&
      (o.max === undefined || v <= o.max) &&
      (o.above === undefined || v > o.above) &&
      (o.below === undefined || v < o.below) &&
      (!o.float32 || Math.abs(v) <= FLOAT32_MAX);
    return ok ? v : fail(name, expected, v);
  };
}

/** An integer ≥ 1 (epochs, batch sizes, step counts). */
export const positiveInteger: Rule = (v, name) => (typeof v === "number" && Number.isSafeInteger(v) && v >= 1 ? v : fail(name, "a positive integer", v));

export const boolean: Rule = (v, name) => (typeof v === "boolean" ? v : fail(name, "true or false", v));
export const func: Rule = (v, name) => (typeof v === "function" ? v : fail(name, "a function", v));
/** Checked where it is used (a model, a dataset, a teacher): the schema only knows the key. */
export const checkedElsewhere: Rule = (v) => v;

/** A schema that names the keys a function takes and leaves their values to its own checks: unknown keys are still refused. */
export function knownKeys(...keys: string[]): Schema {
  return Object.fromEntries(keys.map((key) => [key, checkedElsewhere]));
}

export function oneOf(values: readonly (string | number | boolean)[]): Rule {
  return (v, name) => (values.includes(v as string) ? v : fail(name, `one of ${values.map((x) => JSON.stringify(x)).join(", ")}`, v));
}

/** A nested options object checked against its own schema (unknown keys refused). */
export function shape(schema: Schema, required: readonly string[] = []): Rule {
  return (v, name) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) fail(name, `an object { ${Object.keys(schema).join(", ")} }`, v);
    return checkOptions(name, schema, v as Record<string, unknown>, required);
  };
}

/** Edit distance with transpositions (optimal string alignment), for "did you mean": "shfit" is 1 from "shift". */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The known key closest to `key` (case-insensitive, within a third of its length), if any. */
function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = distance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = k;
    }
  }
  return bestDistance <= Math.max(1, Math.floor(key.length / 3)) ? best : undefined;
}

/**
 * Checks `options` (an object, or undefined for {}) against `schema`: unknown keys and
 * missing required keys are OptionErrors; every present value goes through its rule.
 * Returns a shallow copy holding the normalised values (undefined values dropped).
 */
export function checkOptions<T extends object>(op: string, schema: Schema, options: T | undefined, required: readonly string[] = []): T {
  if (options === undefined) options = {} as T;
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new OptionError(`${op}: options must be an object { ${Object.keys(schema).join(", ")} }; got ${show(options)}`);
  }
  const known = Object.keys(schema);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    const rule = schema[key];
    if (!rule) {
      const guess = closest(key, known);
      throw new OptionError(
        `${op}: unknown option ${JSON.stringify(key)}${guess ? `; did you mean ${JSON.stringify(guess)}?` : ""} (the options are ${known.join(", ")})`,
      );
    }
    // Top level "train: lr"; nested (op is already "train: optimizer") "train: optimizer.lr".
    if (value !== undefined) out[key] = rule(value, op.includes(": ") ? `${op}.${key}` : `${op}: ${key}`);
  }
  for (const key of required) {
    if (out[key] === undefined) throw new OptionError(`${op}: ${key} is required`);
  }
  return out as T;
}
