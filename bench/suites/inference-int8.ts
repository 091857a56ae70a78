/**
 * Section 3's int8 rows: the same ReLU MLP as the float rows, quantized with distill-wasm's
 * `quantize` (int8 per-channel weights, int8 activations calibrated on 256 rows of the
 * benchmark's input distribution), beside onnxruntime-web running the float ONNX model and
 * the int8 QDQ model our exporter writes for it (`toOnnx(quantizedModel)` from
 * distill-wasm/export): wasm execution provider, numThreads 1, its default SIMD build.
 *
 * Timing: the four implementations in turn, round after round (see `interleaved`), so that a
 * shared machine's changing load falls on all of them alike; where the runtime reports the
 * process's CPU time (Node, Deno, Bun) it is recorded too, and the summary's ratios use it.
 *
 * What one timed call is:
 * - distill-wasm float32 / int8 logits(): `model.logits(x)` with x a Float32Array (validation,
 *   copy in, forward, copy out), on the baseline SIMD build, one thread.
 * - onnxruntime-web float32 / int8 QDQ: `session.run` on a new ort.Tensor (copies in and out).
 * Agreement first: each int8 row's logits against distill-wasm's int8 logits, within
 * INT8_TOLERANCE of max |y| (the QDQ graph may round a hidden code the other way: one
 * quantization step of the last layer, test/export/export-qdq.test.ts), and each float row
 * against distill-wasm's float logits within OUTPUT_TOLERANCE.
 *
 * % peak: the float rows against the f32x4 peak probe (bench/lib/peak.ts), the int8 rows
 * against the integer probe (bench/lib/int-peak.ts: i32x4.dot_i16x8_s + add), both as
 * 2·rows·Σ in·out operations per call.
 */
import { quantize, type Sequential } from "distill-wasm";
import { abortDisagreement, msCell, ratioCell, type Context } from "../lib/context.js";
import { measureIntPeak } from "../lib/int-peak.js";
import { forwardFlops, makeBatch } from "../lib/mlp.js";
import { mlpOnnxModel } from "../lib/onnx.js";
import { createSession, type Ort } from "../lib/ort.js";
import type { MlpParams } from "../lib/mlp.js";
import { progress } from "../lib/progress.js";
import type { Timing } from "../lib/stats.js";
import { fmtNum, renderTable, type Column } from "../lib/table.js";
import { interleaved, type Timed } from "../lib/interleaved.js";

/** max |y − y_int8| / max |y_int8| allowed for another int8 implementation (one last-layer step, with margin). */
export const INT8_TOLERANCE = 0.05;
/** max |y − y_float| / max |y_float| allowed for a float implementation (as section 3's float rows). */
const FLOAT_TOLERANCE = 1e-4;
/** The targets this section reports against, at batch 1: distill-wasm int8 ÷ onnxruntime-web float and ÷ int8. */
export const INT8_TARGETS = { versusOrtFloat: 2, versusOrtInt8: 1.5 };

export interface Int8Row {
  batch: number;
  library: string;
  precision: "float32" | "int8";
  timed: string;
  timing: Timing;
  samplesPerSecond: number;
  /** 2·rows·Σ in·out / median, in G per second (FLOP for float rows, integer operations for int8). */
  gops: number;
  /** gops / the peak probe of the row's precision. */
  fractionOfPeak: number;
  /** this row's median / distill-wasm int8 logits() median */
  int8Speedup: number;
  /** The process's CPU time per call (Node, Deno, Bun), and this row's / distill-wasm int8's. */
  cpuTiming?: Timing;
  int8CpuSpeedup?: number;
  /** max |y − y_ref| / max |y_ref| against distill-wasm's logits of the same precision */
  outputRelErr: number;
  /** max |y − y_float| / max |y_float|: the quantization error (int8 rows) */
  quantizationRelErr?: number;
}

export interface Int8Result {
  rows: Int8Row[];
  /** The integer probe's GOP/s and the float probe's GFLOP/s of this run. */
  intPeakGops: number;
  peakGflops: number;
  /** Per batch: distill-wasm int8 ÷ onnxruntime-web float32 and ÷ int8 (their median / ours). */
  speedups: Record<string, { versusOrtFloat?: number; versusOrtInt8?: number; measure: "cpu" | "wall" }>;
  targets: typeof INT8_TARGETS;
  /** Parameter bytes of the float and the int8 model. */
  bytes: { float: number; int8: number };
  skipped: Record<string, string>;
}

/** Timing rounds: in each, every implementation runs for about SAMPLE_MS (at least one call). */
const ROUNDS = 25;

interface Impl extends Timed {
  precision: "float32" | "int8";
  timed: string;
  run: () => Float32Array | Promise<Float32Array>;
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

export async function runInt8Inference(
  ctx: Context,
  model: Sequential,
  params: MlpParams,
  widths: readonly number[],
  batches: readonly number[],
  peakGflops: number,
): Promise<Int8Result> {
  console.log(`\n### int8 beside float32, ${widths.join("-")}, one thread\n`);
  progress("integer peak probe\n");
  const intPeakGops = (await measureIntPeak("int8 ceiling")).gops;
  const calibration = makeBatch(256, widths[0]!, widths.at(-1)!, 7).x;
  const q = quantize(model, calibration, { weights: "int8", activations: "int8" });
  const skipped: Record<string, string> = {};
  const ort: Ort | undefined = ctx.ort.ort;
  let floatSession: Awaited<ReturnType<typeof createSession>> | undefined;
  let int8Session: Awaited<ReturnType<typeof createSession>> | undefined;
  let inputName = "input";
  if (ort) {
    floatSession = await createSession(ort, mlpOnnxModel(params));
    try {
      const exporter = await import("distill-wasm/export");
      inputName = exporter.ONNX_INPUT;
      int8Session = await createSession(ort, exporter.toOnnx(q));
    } catch (e) {
      skipped["onnxruntime-web int8"] = `the QDQ model could not be written or loaded (${e instanceof Error ? e.message.split("\n")[0] : String(e)})`;
    }
  } else {
    skipped["onnxruntime-web"] = ctx.ort.skipped ?? "not loaded";
  }
  const rows: Int8Row[] = [];
  const speedups: Int8Result["speedups"] = {};
  try {
    for (const batch of batches) {
      progress(`int8 inference, batch ${batch}\n`);
      const x = makeBatch(batch, widths[0]!, widths.at(-1)!, 31 + batch).x;
      const impls: Impl[] = [
        { library: "distill-wasm int8 logits()", precision: "int8", timed: "quantized.logits(Float32Array)", run: () => q.logits(x) },
        { library: "distill-wasm float32 logits()", precision: "float32", timed: "model.logits(Float32Array)", run: () => model.logits(x) },
      ];
      if (ort && int8Session) {
        const s = int8Session;
        impls.push({
          library: "onnxruntime-web int8 (QDQ)",
          precision: "int8",
          timed: "session.run(new ort.Tensor(x)), toOnnx(quantized)",
          run: async () => (await s.run({ [inputName]: new ort.Tensor("float32", x, [batch, widths[0]!]) })).logits!.data as Float32Array,
          async: true,
        });
      }
      if (ort && floatSession) {
        const s = floatSession;
        impls.push({
          library: "onnxruntime-web float32",
          precision: "float32",
          timed: "session.run(new ort.Tensor(x)), Gemm + Relu",
          run: async () => (await s.run({ x: new ort.Tensor("float32", x, [batch, widths[0]!]) })).logits!.data as Float32Array,
          async: true,
        });
      }

      const wantInt8 = q.logits(x);
      const wantFloat = model.logits(x);
      const errs = new Map<string, number>();
      const bad: string[] = [];
      for (const impl of impls) {
        const got = await impl.run();
        const err = relErr(got, impl.precision === "int8" ? wantInt8 : wantFloat);
        errs.set(impl.library, err);
        const allowed = impl.precision === "int8" ? INT8_TOLERANCE : FLOAT_TOLERANCE;
        progress(`  check ${impl.library}: max |y − y_ref| / max |y_ref| = ${err.toExponential(2)}\n`);
        if (!(err <= allowed)) bad.push(`${impl.library}: ${err.toExponential(2)} (allowed ${allowed})`);
      }
      if (bad.length > 0) abortDisagreement(`int8 inference at batch ${batch}: outputs differ from distill-wasm's`, bad.join("\n"));
      const quantizationErr = relErr(wantInt8, wantFloat);

      const timings = await interleaved(impls, ctx.quick ? 3 : ROUNDS, `b${batch}`);
      const timed = impls.map((impl, i): [Impl, Timing, Timing | undefined] => [impl, timings[i]!.wall, timings[i]!.cpu]);
      const ops = forwardFlops(widths, batch);
      const base = timed[0]![1].medianMs;
      const baseCpu = timed[0]![2]?.medianMs;
      const bRows = timed.map(([impl, timing, cpu]): Int8Row => {
        const gops = ops / (timing.medianMs * 1e6);
        return {
          batch,
          library: impl.library,
          precision: impl.precision,
          timed: impl.timed,
          timing,
          samplesPerSecond: (batch * 1000) / timing.medianMs,
          gops,
          fractionOfPeak: gops / (impl.precision === "int8" ? intPeakGops : peakGflops),
          int8Speedup: timing.medianMs / base,
          ...(cpu && baseCpu ? { cpuTiming: cpu, int8CpuSpeedup: cpu.medianMs / baseCpu } : {}),
          outputRelErr: errs.get(impl.library)!,
          ...(impl.library === "distill-wasm int8 logits()" ? { quantizationRelErr: quantizationErr } : {}),
        };
      });
      rows.push(...bRows);
      const find = (library: string) => bRows.find((r) => r.library === library);
      const ortFloat = find("onnxruntime-web float32");
      const ortInt8 = find("onnxruntime-web int8 (QDQ)");
      // Ratios of CPU time where the runtime reports it (a shared machine's load leaves it alone), else of wall-clock time.
      const ratio = (r: Int8Row) => r.int8CpuSpeedup ?? r.int8Speedup;
      speedups[String(batch)] = {
        ...(ortFloat ? { versusOrtFloat: ratio(ortFloat) } : {}),
        ...(ortInt8 ? { versusOrtInt8: ratio(ortInt8) } : {}),
        measure: bRows[0]!.int8CpuSpeedup !== undefined ? "cpu" : "wall",
      };
      for (const r of bRows) ctx.chart.push({ group: `int8 inference, batch ${batch}`, library: r.library, samplesPerSecond: r.samplesPerSecond });
      printBatch(widths, batch, bRows, intPeakGops, peakGflops);
      const s = speedups[String(batch)]!;
      const verdict = (r: number | undefined, target: number) =>
        r === undefined ? "skipped" : `${fmtNum(r)}× (target ≥ ${target}×: ${r >= target ? "met" : "missed"})`;
      ctx.summary.push(
        `int8 inference batch ${batch}: distill-wasm int8 logits() ${fmtNum(base * 1000)} µs` +
          (baseCpu !== undefined ? ` (CPU ${fmtNum(baseCpu * 1000)} µs; ratios of CPU time) ` : " ") +
          `(${Math.round(bRows[0]!.fractionOfPeak * 100)}% of the integer peak probe); ` +
          `÷ onnxruntime-web float32 ${verdict(s.versusOrtFloat, INT8_TARGETS.versusOrtFloat)}, ` +
          `÷ onnxruntime-web int8 QDQ ${verdict(s.versusOrtInt8, INT8_TARGETS.versusOrtInt8)}`,
      );
    }
  } finally {
    await floatSession?.release();
    await int8Session?.release();
  }
  const bytes = { float: model.parameterBytes, int8: q.parameterBytes };
  q.dispose();
  for (const [lib, reason] of Object.entries(skipped)) console.log(`SKIPPED ${lib}: ${reason}`);
  return { rows, intPeakGops, peakGflops, speedups, targets: INT8_TARGETS, bytes, skipped };
}

function printBatch(widths: readonly number[], batch: number, rows: readonly Int8Row[], intPeakGops: number, peakGflops: number): void {
  const columns: Column<Int8Row>[] = [
    { header: "library", cell: (r) => r.library, align: "left" },
    { header: "median µs ±IQR", cell: (r) => msCell({ medianMs: r.timing.medianMs * 1000, relIqr: r.timing.relIqr }) },
    { header: "CPU µs ±IQR", cell: (r) => (r.cpuTiming ? msCell({ medianMs: r.cpuTiming.medianMs * 1000, relIqr: r.cpuTiming.relIqr }) : "-") },
    { header: "samples/s", cell: (r) => fmtNum(r.samplesPerSecond) },
    { header: "GOP/s", cell: (r) => fmtNum(r.gops) },
    { header: "% peak", cell: (r) => `${Math.round(r.fractionOfPeak * 100)}% ${r.precision === "int8" ? "int" : "f32"}` },
    { header: "÷ distill-wasm int8", cell: (r) => ratioCell(r.int8Speedup) },
    { header: "CPU ÷ distill-wasm int8", cell: (r) => ratioCell(r.int8CpuSpeedup) },
    {
      header: "max rel. diff",
      cell: (r) =>
        r.library === "distill-wasm int8 logits()" || r.library === "distill-wasm float32 logits()" ? "(reference)" : r.outputRelErr.toExponential(1),
    },
    { header: "timed call", cell: (r) => r.timed, align: "left" },
  ];
  console.log(`Batch ${batch}, int8 and float32`);
  console.log();
  console.log(renderTable(columns, rows));
  console.log();
  console.log(
    `GOP/s = ${(forwardFlops(widths, batch) / 1e6).toFixed(1)} M operations (2·batch·Σ in·out) / median. ÷ distill-wasm int8 = median / distill-wasm int8 logits() median; ` +
      `CPU: the process's CPU time per call (process.cpuUsage, where the runtime has it), which other jobs on a shared machine do not inflate. ` +
      `max rel. diff against distill-wasm's logits of the same precision (int8 allowed ${INT8_TOLERANCE}: one last-layer quantization step; float ${FLOAT_TOLERANCE}). ` +
      `% peak: int8 rows / the integer probe (${fmtNum(intPeakGops)} GOP/s, i32x4.dot_i16x8_s + add), float rows / the f32x4 probe (${fmtNum(peakGflops)} GFLOP/s). ` +
      `int8 vs float32 logits of distill-wasm: max rel. diff ${rows[0]!.quantizationRelErr?.toExponential(1) ?? "-"} (quantization error).\n`,
  );
}
