/**
 * A side-by-side report of a teacher, its distilled student and optionally a baseline
 * (the student's architecture trained without a teacher): size, cost, speed and accuracy.
 *
 * Speed is wall-clock time of `logits()` (what an application calls: the input checked and
 * copied in, the forward pass, the logits copied out), the same call for the float and the
 * quantized rows, at batch 1 and batch 128, measured with performance.now() after a warm-up; each of
 * `repeats` samples runs the pass enough times to last a few milliseconds, and the
 * report gives the median. Timings are a report, not a result: they vary between runs.
 */
import type { Dataset } from "../data/dataset.js";
import { checkedElsewhere, checkOptions } from "../options/schema.js";
import { ArgumentError, ShapeError } from "../errors.js";
import { inferShapes, layerFlops } from "../nn/layers/index.js";
import { isQuantizedModel, type QuantizedModel } from "../quantize/model.js";
import type { ActivationFormat, WeightFormat } from "../quantize/net.js";
import type { Sequential } from "../nn/sequential.js";
import { checkModelAndData } from "../data/fits-model.js";
import { evaluate, requireCount } from "./evaluate.js";

export type CompareName = "teacher" | "student" | "baseline" | "quantized";

export interface CompareOptions {
  teacher: Sequential;
  student: Sequential;
  baseline?: Sequential;
  /**
   * The student quantized (`quantize()`, an int8 or fp16 QuantizedModel): one more row, last,
   * with its stored size, its accuracy and its time per sample (QuantizedModel.logits(), which
   * also copies the rows in and the outputs out).
   */
  quantized?: QuantizedModel;
  /** Labelled data for the accuracies; its rows (tiled when fewer than 128) feed the timings. */
  data: Dataset;
  /** Timing samples per model and batch size; the median is reported (default 5). */
  repeats?: number;
}

export interface CompareRow {
  name: CompareName;
  /** "784-32-10"-style dense widths. */
  architecture: string;
  /** Trainable values. */
  params: number;
  /** Bytes of the parameters as float32 (as stored, for the quantized row). */
  bytes: number;
  /** The quantized row's formats. */
  quantization?: { weights: WeightFormat; activations: ActivationFormat };
  /** Floating-point operations of one forward pass, per sample. */
  flops: number;
  /** Median milliseconds per sample at batch 1 and at batch 128. */
  msPerSampleBatch1: number;
  msPerSampleBatch128: number;
  /** evaluate(model, data).accuracy */
  accuracy: number;
}

export interface CompareResult {
  rows: CompareRow[];
}

const BIG_BATCH = 128;
const WARMUP_MS = 10;
const MIN_WARMUP_CALLS = 2;
const SAMPLE_MS = 5;
const MAX_CALLS_PER_SAMPLE = 100_000;

/** One row per model given, in the order teacher, student, baseline. */
export function compare(given: CompareOptions): CompareResult {
  const op = "compare";
  if (typeof given !== "object" || given === null) {
    throw new ArgumentError(`${op}: options must be an object { teacher, student, baseline?, quantized?, data, repeats? }; got ${String(given)}`);
  }
  const options = checkOptions(
    op,
    {
      teacher: checkedElsewhere,
      student: checkedElsewhere,
      baseline: checkedElsewhere,
      quantized: checkedElsewhere,
      data: checkedElsewhere,
      repeats: checkedElsewhere,
    },
    given,
  );
  const repeats = requireCount(op, "repeats", options.repeats ?? 5);
  const models: [CompareName, Sequential][] = [
    ["teacher", options.teacher],
    ["student", options.student],
  ];
  if (options.baseline !== undefined) models.push(["baseline", options.baseline]);
  for (const [, model] of models) checkModelAndData(op, model, options.data);
  const quantized = options.quantized;
  if (quantized !== undefined) {
    if (!isQuantizedModel(quantized)) throw new ArgumentError(`${op}: quantized must be a QuantizedModel (from quantize())`);
    if (quantized.isDisposed) throw new ArgumentError(`${op}: the quantized model has been disposed`);
    if (quantized.inputs !== options.data.features || quantized.outputs < options.data.classes) {
      throw new ShapeError(
        `${op}: the quantized model takes ${quantized.inputs} inputs and gives ${quantized.outputs} outputs; the data has ${options.data.features} features and ${options.data.classes} classes`,
      );
    }
  }
  if ((options.data as Dataset | undefined)?.targets) {
    throw new ArgumentError(
      (options.data as Dataset).multiLabel
        ? `${op}: reports accuracy, which a multi-label dataset has none of; use evaluate() for its subset accuracy and F1`
        : `${op}: reports accuracy, which a regression dataset has none of; use evaluate() for its RMSE, MAE and R²`,
    );
  }
  return {
    rows: models
      .map(([name, model]) => {
        const [msPerSampleBatch1, msPerSampleBatch128] = timeModel(model, options.data, repeats);
        return {
          name,
          architecture: model.architecture,
          params: model.parameterCount,
          bytes: model.parameterBytes,
          flops: model.flopsPerSample,
          msPerSampleBatch1,
          msPerSampleBatch128,
          accuracy: evaluate(model, options.data).accuracy,
        };
      })
      .concat(quantized ? [quantizedRow(quantized, options.data, repeats)] : []),
  };
}

/** The quantized model's row: its layers' parameters and FLOPs as the float model counts them, its stored bytes, logits() timings. */
function quantizedRow(model: QuantizedModel, data: Dataset, repeats: number): CompareRow {
  const shaped = inferShapes(model.specs, model.inputShape);
  let flops = 0;
  let params = 0;
  model.specs.forEach((spec, i) => {
    flops += layerFlops(spec, i === 0 ? shaped.inputShape : shaped.shapes[i - 1]!, shaped.shapes[i]!);
    if (spec.type === "dense") params += spec.inputs * spec.outputs + spec.outputs;
  });
  const x = new Float32Array(BIG_BATCH * data.features);
  for (let r = 0; r < BIG_BATCH; r++) x.set(data.row(r % data.length), r * data.features);
  const one = x.subarray(0, data.features);
  const ids = model.predict(data.x);
  let right = 0;
  for (let i = 0; i < ids.length; i++) if (ids[i] === data.y[i]) right++;
  return {
    name: "quantized",
    architecture: [model.inputs, ...model.specs.filter((s) => s.type === "dense").map((s) => s.outputs)].join("-"),
    params,
    bytes: model.parameterBytes,
    quantization: { weights: model.weights, activations: model.activations },
    flops,
    msPerSampleBatch1: medianMs(() => model.logits(one), repeats),
    msPerSampleBatch128: medianMs(() => model.logits(x), repeats) / BIG_BATCH,
    accuracy: right / ids.length,
  };
}

/** [ms per sample at batch 1, at batch 128]: `logits()` of data rows (tiled), as the quantized row is timed. */
function timeModel(model: Sequential, data: Dataset, repeats: number): [number, number] {
  const x = new Float32Array(BIG_BATCH * data.features);
  for (let r = 0; r < BIG_BATCH; r++) x.set(data.row(r % data.length), r * data.features);
  return [1, BIG_BATCH].map((rows) => medianMs(() => model.logits(x.subarray(0, rows * data.features)), repeats) / rows) as [number, number];
}

/** Median milliseconds per call of `run` over `repeats` samples, after a warm-up. */
function medianMs(run: () => void, repeats: number): number {
  let calls = 0;
  const start = performance.now();
  while (calls < MIN_WARMUP_CALLS || performance.now() - start < WARMUP_MS) {
    run();
    calls++;
  }
  const perCall = (performance.now() - start) / calls;
  const callsPerSample = Math.min(MAX_CALLS_PER_SAMPLE, Math.max(1, Math.ceil(SAMPLE_MS / Math.max(perCall, 1e-6))));
  const samples: number[] = [];
  for (let s = 0; s < repeats; s++) {
    const t0 = performance.now();
    for (let i = 0; i < callsPerSample; i++) run();
    samples.push((performance.now() - t0) / callsPerSample);
  }
  samples.sort((a, b) => a - b);
  const mid = samples.length >> 1;
  return samples.length % 2 ? samples[mid]! : (samples[mid - 1]! + samples[mid]!) / 2;
}

// ---------------------------------------------------------------- the table

/**
 * The comparison as an aligned plain-text table, one line per model (numbers right-aligned):
 *
 *   model     architecture     params      size  FLOPs/sample  ms/sample (batch 1)  ms/sample (batch 128)  accuracy
 *   --------  --------------  -------  --------  ------------  -------------------  ---------------------  --------
 *   teacher   784-512-512-10  669,706   2.68 MB        1.34 M                0.610                 0.0307    98.12%
 *   student   784-32-10        25,450  101.8 KB        50.9 K               0.0244                0.00160    96.40%
 *
 * Sizes use 1 KB = 1000 bytes; times have 3 significant digits.
 */
/** The comparison as an aligned text table; `names` relabels the rows (e.g. { student: "distilled student" }). */
export function formatCompareTable(result: CompareResult, names: Partial<Record<CompareName, string>> = {}): string {
  const header = ["model", "architecture", "params", "size", "FLOPs/sample", "ms/sample (batch 1)", "ms/sample (batch 128)", "accuracy"];
  const leftAligned = 2; // the first two columns are text
  const body = result.rows.map((r) => [
    names[r.name] ?? r.name,
    r.architecture,
    groupThousands(r.params),
    formatBytes(r.bytes),
    formatCount(r.flops),
    formatMs(r.msPerSampleBatch1),
    formatMs(r.msPerSampleBatch128),
    `${(r.accuracy * 100).toFixed(2)}%`,
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((row) => row[c]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => (c < leftAligned ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
      .join("  ")
      .trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

/** 25450 → "25,450" (independent of the locale). */
function groupThousands(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** 101800 → "101.8 KB", 2678824 → "2.68 MB". */
function formatBytes(bytes: number): string {
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(2)} MB`;
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(1)} KB`;
  return `${bytes} B`;
}

/** 50890 → "50.9 K", 1339402 → "1.34 M": 3 significant digits with an SI suffix. */
function formatCount(n: number): string {
  if (n < 1000) return String(n);
  const scales = [
    [1e3, "K"],
    [1e6, "M"],
    [1e9, "G"],
  ] as const;
  for (const [i, [scale, suffix]] of scales.entries()) {
    // Move up a suffix when rounding would show 1000 (999,960 → "1.00 M", not "1000 K").
    if (Number((n / scale).toPrecision(3)) < 1000 || i === scales.length - 1) return `${formatSignificant(n / scale)} ${suffix}`;
  }
  return String(n);
}

function formatMs(ms: number): string {
  return Number.isFinite(ms) ? formatSignificant(ms) : "-";
}

/** 3 significant digits without exponent notation for values ≥ 1000. */
function formatSignificant(v: number): string {
  return v >= 999.5 ? String(Math.round(v)) : v.toPrecision(3);
}
