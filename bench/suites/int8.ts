/**
 * `npm run bench:int8` (and `npm run bench`, after the float inference section): int8 inference of three students
 * against their float32 selves and onnxruntime-web, one thread, baseline SIMD build, at
 * batch 1 and 128:
 *
 *   mlp-large  784-800-800-10 ReLU MLP        mlp-small  784-32-10 (the demo's size)
 *   cnn        conv 8 5×5, ReLU, max pool 2, conv 16 3×3, ReLU, max pool 2, dense 10 on 1×28×28
 *              (the CNN of examples/quantize-mnist.ts)
 *
 * Each model is drawn with seed 1 and quantized with `quantize` (int8 per-channel weights,
 * int8 activations calibrated on 256 rows of uniform [0, 1) inputs); the time does not depend
 * on the values. Timed calls: distill-wasm `logits(Float32Array)` of the int8 and the float32
 * model (validation, copy in, forward, copy out), and onnxruntime-web's `session.run` on a new
 * ort.Tensor (wasm execution provider, `numThreads = 1`, its default SIMD build) of
 * `toOnnx(model)` (float32) and of `toOnnx(quantized)` (the int8 QDQ graph distill-wasm/export
 * writes). Before timing, every output is checked against distill-wasm's logits of the same
 * precision (int8 within INT8_TOLERANCE of the largest logit: the QDQ graph may round a hidden
 * code the other way, one quantization step of the last layer; float32 within 1e-4).
 *
 * Timing: the four implementations in turn, round after round (lib/interleaved.ts), so that a
 * shared machine's changing load falls on all of them alike; the process's CPU time per call
 * is recorded beside the wall-clock time where the runtime reports it (Node, Deno, Bun), and
 * the targets' ratios are of CPU time there.
 *
 * % peak: int8 rows against the integer probe (bench/lib/int-peak.ts: i32x4.dot_i16x8_s + add,
 * 16 operations per dot), float rows against the f32x4 probe (bench/lib/peak.ts), both as the
 * model's `flopsPerSample` × rows per call.
 *
 * Targets (INT8_TARGETS, batch 1): int8 ≥ 2× onnxruntime-web float32 and ≥ 1.5× its int8 QDQ
 * graph; and the int8 student at least as fast as its float32 self.
 */
import { conv2d, dense, flatten, maxPool2d, mlp, quantize, relu, Sequential } from "distill-wasm";
import { abortDisagreement, msCell, ratioCell, type Context } from "../lib/context.js";
import { measureIntPeak } from "../lib/int-peak.js";
import { interleaved } from "../lib/interleaved.js";
import { createSession } from "../lib/ort.js";
import { measurePeak } from "../lib/peak.js";
import { progress } from "../lib/progress.js";
import type { Timing } from "../lib/stats.js";
import { fmtNum, renderTable } from "../lib/table.js";

/** max |y − y_int8| / max |y_int8| allowed for another int8 implementation (one last-layer step, with margin). */
export const INT8_TOLERANCE = 0.05;
/** max |y − y_float| / max |y_float| allowed for a float implementation. */
const FLOAT_TOLERANCE = 1e-4;
/** The targets at batch 1: distill-wasm int8 ÷ onnxruntime-web float32 and ÷ its int8 QDQ graph. */
export const INT8_TARGETS = { versusOrtFloat: 2, versusOrtInt8: 1.5 };
/** Timing rounds of about 4 ms per implementation: more at batch 1, whose calls of microseconds a shared machine's preemption spreads most. */
const ROUNDS = { 1: 100, 128: 25 } as Record<number, number>;
const BATCHES = [1, 128];

type Library = "distill-wasm int8" | "distill-wasm float32" | "onnxruntime-web float32" | "onnxruntime-web int8 (QDQ)";
const isInt8 = (library: Library) => library.includes("int8");

export interface Int8SuiteRow {
  model: string;
  batch: number;
  library: Library;
  timing: Timing;
  cpuTiming?: Timing;
  samplesPerSecond: number;
  /** model.flopsPerSample × batch / wall median, in G per second (integer operations for int8 rows). */
  gops: number;
  /** gops / the peak probe of the row's precision (integer or f32x4). */
  fractionOfPeak: number;
  /** this row's median / distill-wasm int8's, of CPU time where reported, else wall-clock: > 1 means int8 is faster */
  versusInt8: number;
  /** the same ratio of wall-clock time */
  versusInt8Wall: number;
  /** max |y − y_ref| / max |y_ref| against distill-wasm's logits of the same precision */
  outputRelErr: number;
}

export interface Int8SuiteModel {
  name: string;
  /** Parameter bytes of the float32 and of the int8 model. */
  bytes: { float: number; int8: number };
  /** max |y_int8 − y_float| / max |y_float| of distill-wasm's two models at batch 128: the quantization error. */
  quantizationRelErr: number;
}

export interface Int8SuiteResult {
  rows: Int8SuiteRow[];
  models: Int8SuiteModel[];
  /** The integer probe's GOP/s and the f32x4 probe's GFLOP/s of this run. */
  intPeakGops: number;
  peakGflops: number;
  targets: typeof INT8_TARGETS;
  skipped: Record<string, string>;
}

function models(engine: Context["engine"], quick: boolean): { name: string; inputs: number; model: Sequential }[] {
  const cnn = new Sequential([conv2d(1, 8, 5), relu(), maxPool2d(2), conv2d(8, 16, 3), relu(), maxPool2d(2), flatten(), dense(16 * 5 * 5, 10)], {
    inputShape: [1, 28, 28],
    seed: 1,
    engine,
  });
  return [
    { name: quick ? "784-64-64-10" : "784-800-800-10", inputs: 784, model: mlp(quick ? [784, 64, 64, 10] : [784, 800, 800, 10], { seed: 1, engine }) },
    { name: "784-32-10", inputs: 784, model: mlp([784, 32, 10], { seed: 1, engine }) },
    { name: "cnn 1×28×28", inputs: 784, model: cnn },
  ];
}

const relErr = (got: Float32Array, want: Float32Array): number => {
  let err = got.length === want.length ? 0 : Infinity;
  let scale = 0;
  for (let i = 0; i < want.length && err !== Infinity; i++) {
    err = Math.max(err, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  return err / scale;
};

/** Uniform [0, 1) inputs from a fixed integer hash (the same rows in every run). */
const inputs = (n: number, salt: number) => Float32Array.from({ length: n }, (_, i) => (((i + salt) * 2654435761) % 1000) / 1000);

export async function runInt8(ctx: Context): Promise<Int8SuiteResult> {
  console.log("\n### int8 inference beside float32 and onnxruntime-web, one thread\n");
  progress("integer and f32x4 peak probes\n");
  const intPeakGops = (await measureIntPeak("int8 ceiling")).gops;
  const peakGflops = (await measurePeak("float ceiling")).gflops;
  const ort = ctx.ort.ort;
  const exporter = await import("distill-wasm/export");
  const rows: Int8SuiteRow[] = [];
  const summaries: Int8SuiteModel[] = [];
  const skipped: Record<string, string> = {};
  if (!ort) skipped["onnxruntime-web"] = ctx.ort.skipped ?? "not loaded";
  for (const { name, inputs: width, model } of models(ctx.engine, ctx.quick)) {
    const q = quantize(model, inputs(256 * width, 0), { weights: "int8", activations: "int8" });
    const sessions: Partial<Record<Library, Awaited<ReturnType<typeof createSession>>>> = {};
    if (ort) {
      sessions["onnxruntime-web float32"] = await createSession(ort, exporter.toOnnx(model));
      try {
        sessions["onnxruntime-web int8 (QDQ)"] = await createSession(ort, exporter.toOnnx(q));
      } catch (e) {
        skipped[`onnxruntime-web int8, ${name}`] = `toOnnx(quantized) failed: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`;
      }
    }
    try {
      for (const batch of BATCHES) {
        progress(`int8 inference, ${name}, batch ${batch}\n`);
        const x = inputs(batch * width, 7 + batch);
        const shape = [batch, ...model.inputShape];
        const impls: { library: Library; run: () => Float32Array | Promise<Float32Array>; async?: boolean }[] = [
          { library: "distill-wasm int8", run: () => q.logits(x) },
          { library: "distill-wasm float32", run: () => model.logits(x) },
        ];
        for (const [library, s] of Object.entries(sessions) as [Library, NonNullable<(typeof sessions)[Library]>][]) {
          impls.push({
            library,
            run: async () => (await s.run({ [exporter.ONNX_INPUT]: new ort!.Tensor("float32", x, shape) }))[exporter.ONNX_OUTPUT]!.data as Float32Array,
            async: true,
          });
        }
        const want = { int8: q.logits(x), float32: model.logits(x) };
        if (batch === BATCHES.at(-1)) {
          summaries.push({ name, bytes: { float: model.parameterBytes, int8: q.parameterBytes }, quantizationRelErr: relErr(want.int8, want.float32) });
        }
        const errs: number[] = [];
        const bad: string[] = [];
        for (const impl of impls) {
          const err = relErr(await impl.run(), isInt8(impl.library) ? want.int8 : want.float32);
          const allowed = isInt8(impl.library) ? INT8_TOLERANCE : FLOAT_TOLERANCE;
          if (!(err <= allowed)) bad.push(`${impl.library}: ${err.toExponential(2)} (allowed ${allowed})`);
          errs.push(err);
        }
        if (bad.length > 0) abortDisagreement(`int8 inference, ${name}, batch ${batch}: outputs differ from distill-wasm's`, bad.join("\n"));
        const timings = await interleaved(impls, ctx.quick ? 3 : ROUNDS[batch]!, `${name} b${batch}`);
        const baseWall = timings[0]!.wall.medianMs;
        const baseCpu = timings[0]!.cpu?.medianMs;
        const ops = model.flopsPerSample * batch;
        impls.forEach((impl, i) => {
          const t = timings[i]!;
          const gops = ops / (t.wall.medianMs * 1e6);
          const row: Int8SuiteRow = {
            model: name,
            batch,
            library: impl.library,
            timing: t.wall,
            ...(t.cpu ? { cpuTiming: t.cpu } : {}),
            samplesPerSecond: (batch * 1000) / t.wall.medianMs,
            gops,
            fractionOfPeak: gops / (isInt8(impl.library) ? intPeakGops : peakGflops),
            versusInt8: t.cpu && baseCpu !== undefined ? t.cpu.medianMs / baseCpu : t.wall.medianMs / baseWall,
            versusInt8Wall: t.wall.medianMs / baseWall,
            outputRelErr: errs[i]!,
          };
          rows.push(row);
          ctx.chart.push({ group: `int8 ${name}, batch ${batch}`, library: impl.library, samplesPerSecond: row.samplesPerSecond });
        });
      }
    } finally {
      for (const s of Object.values(sessions)) await s.release();
      q.dispose();
      model.dispose();
    }
  }
  print(rows, summaries, intPeakGops, peakGflops);
  summarise(ctx, rows);
  for (const [lib, reason] of Object.entries(skipped)) console.log(`SKIPPED ${lib}: ${reason}`);
  return { rows, models: summaries, intPeakGops, peakGflops, targets: INT8_TARGETS, skipped };
}

function print(rows: readonly Int8SuiteRow[], summaries: readonly Int8SuiteModel[], intPeakGops: number, peakGflops: number): void {
  console.log(
    renderTable<Int8SuiteRow>(
      [
        { header: "model", cell: (r) => r.model, align: "left" },
        { header: "batch", cell: (r) => String(r.batch) },
        { header: "library", cell: (r) => r.library, align: "left" },
        { header: "median µs ±IQR", cell: (r) => msCell({ medianMs: r.timing.medianMs * 1000, relIqr: r.timing.relIqr }) },
        { header: "CPU µs ±IQR", cell: (r) => (r.cpuTiming ? msCell({ medianMs: r.cpuTiming.medianMs * 1000, relIqr: r.cpuTiming.relIqr }) : "-") },
        { header: "samples/s", cell: (r) => fmtNum(r.samplesPerSecond) },
        { header: "% peak", cell: (r) => `${Math.round(r.fractionOfPeak * 100)}% ${isInt8(r.library) ? "int" : "f32"}` },
        { header: "÷ int8", cell: (r) => ratioCell(r.versusInt8Wall) },
        { header: "CPU ÷ int8", cell: (r) => (r.cpuTiming ? ratioCell(r.versusInt8) : "-") },
        { header: "max rel. diff", cell: (r) => (r.library.startsWith("distill-wasm") ? "(reference)" : r.outputRelErr.toExponential(1)) },
      ],
      rows,
    ),
  );
  console.log(
    "\n÷ int8 = this row's median / distill-wasm int8's (above 1, int8 is faster); CPU ÷ int8 the same of the process's CPU time per call " +
      "(process.cpuUsage, where the runtime has it), which other jobs on a shared machine do not inflate. " +
      `% peak: int8 rows / the integer probe (${fmtNum(intPeakGops)} GOP/s, i32x4.dot_i16x8_s + add), float rows / the f32x4 probe (${fmtNum(peakGflops)} GFLOP/s), ` +
      `of model.flopsPerSample × batch per call. max rel. diff against distill-wasm's logits of the same precision (int8 allowed ${INT8_TOLERANCE}: ` +
      `one last-layer quantization step; float ${FLOAT_TOLERANCE}). Timed: logits(Float32Array) and session.run(new ort.Tensor(x)).\n`,
  );
  for (const m of summaries) {
    console.log(
      `${m.name}: parameters ${fmtNum(m.bytes.float / 1024)} KB float32 → ${fmtNum(m.bytes.int8 / 1024)} KB int8; ` +
        `quantization error (max |y_int8 − y_float| / max |y_float|, batch 128) ${m.quantizationRelErr.toExponential(1)}`,
    );
  }
  console.log();
}

function summarise(ctx: Context, rows: readonly Int8SuiteRow[]): void {
  const verdict = (r: number | undefined, target: number) =>
    r === undefined ? "skipped" : `${fmtNum(r)}× (target ≥ ${target}×: ${r >= target ? "met" : "missed"})`;
  for (const model of new Set(rows.map((r) => r.model))) {
    const at = (library: Library) => rows.find((r) => r.model === model && r.batch === 1 && r.library === library);
    const int8 = at("distill-wasm int8")!;
    ctx.summary.push(
      `int8 ${model} batch 1: ${fmtNum((int8.cpuTiming ?? int8.timing).medianMs * 1000)} µs ${int8.cpuTiming ? "CPU" : "wall"} ` +
        `(${Math.round(int8.fractionOfPeak * 100)}% of the integer probe); ` +
        `÷ onnxruntime-web float32 ${verdict(at("onnxruntime-web float32")?.versusInt8, INT8_TARGETS.versusOrtFloat)}, ` +
        `÷ onnxruntime-web int8 QDQ ${verdict(at("onnxruntime-web int8 (QDQ)")?.versusInt8, INT8_TARGETS.versusOrtInt8)}, ` +
        `÷ distill-wasm float32 ${verdict(at("distill-wasm float32")?.versusInt8, 1)}`,
    );
  }
}
