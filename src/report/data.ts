/**
 * What a training report shows (`ReportData`), its JSON form (`reportJson`), and helpers
 * that gather the parts from a run: `collectSamples` (test digits with the teacher's and
 * the student's probabilities) and `describeMachine` (the runtime, without platform imports,
 * so the module also loads in browsers).
 */
import type { Dataset } from "../data/dataset.js";
import { ArgumentError } from "../errors.js";
import type { CompareResult } from "../metrics/compare.js";
import type { Evaluation } from "../metrics/evaluate.js";
import type { SearchResult } from "../distill/search.js";
import type { Sequential } from "../nn/sequential.js";
import type { EpochRecord } from "../train/loop.js";

/** One trained model: its per-epoch history (TrainResult.history) and optionally its held-out evaluation. */
export interface ReportModel {
  /** Shown in legends and tables, e.g. "teacher", "scratch student", "distilled student". */
  name: string;
  history: readonly EpochRecord[];
  /** evaluate(model, test) */
  evaluation?: Evaluation;
  /** "784-32-10" (shown in the models table when given). */
  architecture?: string;
  /** A CSS colour for the model's curves (default: from the report's palette, by position). */
  color?: string;
}

/** A test digit with both models' probabilities (at T = 1). */
export interface ReportSample {
  /** 784 values in [0, 1] (28 × 28, row-major; any square size works). */
  pixels: ArrayLike<number>;
  label: number;
  teacher: ArrayLike<number>;
  student: ArrayLike<number>;
}

export interface ReportData {
  title: string;
  /** When the run happened (default: when the report is rendered). */
  date?: Date | string;
  /** The machine and runtime, e.g. "Node 20.20.2 · linux x64 · 8 × Intel Xeon …". */
  machine?: string;
  /** Free text shown under the title (e.g. the data set and the settings). */
  description?: string;
  /** Teacher, scratch student, distilled student, … in the order to show. */
  models: readonly ReportModel[];
  /** compare({ teacher, student, baseline, data }) */
  compare?: CompareResult;
  /** Display names of the compare rows (default: teacher, distilled student, scratch student). */
  compareNames?: Partial<Record<"teacher" | "student" | "baseline" | "quantized", string>>;
  /** searchTemperature(...): drawn as a T × α heat map of validation accuracy. */
  search?: SearchResult;
  /** A few test digits with the teacher's and the student's probabilities. */
  samples?: readonly ReportSample[];
  /** Names of the two models in the samples section (default "teacher", "student"). */
  sampleNames?: { teacher?: string; student?: string };
}

/** `reportJson(data)`: ReportData with typed arrays as arrays, dates as ISO strings, NaN / ±∞ as null. */
export interface ReportJson {
  format: "distill-wasm-report";
  version: 1;
  title: string;
  date: string;
  machine: string | null;
  description: string | null;
  models: unknown[];
  compare: unknown | null;
  search: unknown | null;
  samples: unknown[];
}

/** A JSON-safe copy: typed arrays → arrays, Date → ISO string, non-finite numbers → null, undefined dropped. */
export function toJsonValue(value: unknown): unknown {
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "bigint") return Number(value);
  if (value instanceof Date) return value.toISOString();
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return Array.from(value as unknown as ArrayLike<number>, toJsonValue);
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : toJsonValue(v)));
  if (typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as object)) {
      if (v !== undefined && typeof v !== "function") out[k] = toJsonValue(v);
    }
    return out;
  }
  return null;
}

export function reportDate(data: ReportData): Date {
  const d = data.date === undefined ? new Date() : new Date(data.date);
  return Number.isNaN(d.getTime()) ? new Date() : d;
}

/** The report as a JSON document (an object ready for JSON.stringify; no typed arrays). */
export function reportJson(data: ReportData): ReportJson {
  checkReportData("reportJson", data);
  return {
    format: "distill-wasm-report",
    version: 1,
    title: data.title,
    date: reportDate(data).toISOString(),
    machine: data.machine ?? null,
    description: data.description ?? null,
    models: data.models.map((m) => toJsonValue(m)) as unknown[],
    compare: data.compare ? toJsonValue(data.compare) : null,
    search: data.search ? toJsonValue(data.search) : null,
    samples: (data.samples ?? []).map((s) => ({
      label: s.label,
      pixels: toJsonValue(Array.from(s.pixels)),
      teacher: toJsonValue(Array.from(s.teacher)),
      student: toJsonValue(Array.from(s.student)),
    })),
  };
}

export function checkReportData(op: string, data: ReportData): void {
  if (!data || typeof data !== "object") throw new ArgumentError(`${op}: expects a ReportData object { title, models, ... }`);
  if (typeof data.title !== "string") throw new ArgumentError(`${op}: title must be a string`);
  if (!Array.isArray(data.models)) throw new ArgumentError(`${op}: models must be an array of { name, history }`);
  for (const [i, m] of data.models.entries()) {
    if (!m || typeof m.name !== "string" || !Array.isArray(m.history)) {
      throw new ArgumentError(`${op}: models[${i}] must be { name: string, history: EpochRecord[] }`);
    }
  }
  for (const [i, s] of (data.samples ?? []).entries()) {
    const side = Math.round(Math.sqrt(s?.pixels?.length ?? 0));
    if (!s || side < 1 || side * side !== s.pixels.length) {
      throw new ArgumentError(`${op}: samples[${i}].pixels must hold a square image (e.g. 784 = 28 × 28 values)`);
    }
    if (!s.teacher || !s.student || s.teacher.length !== s.student.length || s.teacher.length === 0) {
      throw new ArgumentError(`${op}: samples[${i}].teacher and .student must be probability arrays of the same length`);
    }
  }
}

export interface CollectSamplesOptions {
  /** Number of digits (default 8). */
  count?: number;
  /** Explicit rows of `data` to show (overrides the default choice). */
  rows?: readonly number[];
  /**
   * Default choice: up to half the digits are rows the student gets wrong (the interesting
   * ones), the rest one per class in label order; always the first such rows, so the
   * choice is deterministic.
   */
  mistakes?: boolean;
}

/** Test digits with the teacher's and the student's probabilities at T = 1, for `ReportData.samples`. */
export function collectSamples(teacher: Sequential, student: Sequential, data: Dataset, options: CollectSamplesOptions = {}): ReportSample[] {
  const count = options.count ?? 8;
  if (!(Number.isInteger(count) && count >= 0)) throw new ArgumentError(`collectSamples: count must be an integer ≥ 0; got ${count}`);
  let rows: number[];
  const classes = student.outputs;
  const studentProbs = student.probabilities(data.x);
  const predicted = (r: number) => argmax(studentProbs.subarray(r * classes, (r + 1) * classes));
  if (options.rows) {
    rows = [...options.rows];
  } else {
    rows = [];
    if (options.mistakes ?? true) {
      for (let r = 0; r < data.length && rows.length < Math.floor(count / 2); r++) if (predicted(r) !== data.y[r]) rows.push(r);
    }
    const seen = new Set(rows.map((r) => data.y[r]));
    for (let r = 0; r < data.length && rows.length < count; r++) {
      if (!seen.has(data.y[r]) && predicted(r) === data.y[r]) {
        seen.add(data.y[r]);
        rows.push(r);
      }
    }
    for (let r = 0; r < data.length && rows.length < count; r++) if (!rows.includes(r)) rows.push(r);
  }
  const x = new Float32Array(rows.length * data.features);
  rows.forEach((r, i) => x.set(data.row(r), i * data.features));
  const t = teacher.probabilities(x);
  const s = student.probabilities(x);
  return rows.map((r, i) => ({
    pixels: x.slice(i * data.features, (i + 1) * data.features),
    label: data.y[r]!,
    teacher: t.slice(i * classes, (i + 1) * classes),
    student: s.slice(i * classes, (i + 1) * classes),
  }));
}

export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/**
 * The runtime as one line, from what the global scope tells without imports:
 * "Node 20.20.2 · linux x64", "Deno 2.1.4 · linux x86_64", or the browser's user agent.
 */
export function describeMachine(): string {
  const g = globalThis as {
    process?: { versions?: Record<string, string | undefined>; platform?: string; arch?: string };
    Deno?: { version?: { deno?: string }; build?: { os?: string; arch?: string } };
    Bun?: { version?: string };
    navigator?: { userAgent?: string; hardwareConcurrency?: number };
  };
  const parts: string[] = [];
  if (g.Deno?.version?.deno) parts.push(`Deno ${g.Deno.version.deno}`, `${g.Deno.build?.os ?? "?"} ${g.Deno.build?.arch ?? "?"}`);
  else if (g.Bun?.version) parts.push(`Bun ${g.Bun.version}`, `${g.process?.platform ?? "?"} ${g.process?.arch ?? "?"}`);
  else if (g.process?.versions?.node) parts.push(`Node ${g.process.versions.node}`, `${g.process.platform ?? "?"} ${g.process.arch ?? "?"}`);
  else if (g.navigator?.userAgent) parts.push(g.navigator.userAgent);
  const threads = g.navigator?.hardwareConcurrency;
  if (threads) parts.push(`${threads} hardware threads`);
  return parts.join(" · ") || "unknown runtime";
}
