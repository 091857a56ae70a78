/**
 * `npm run bench:int8`: int8 inference of three students against their float32 selves and
 * onnxruntime-web, one thread, baseline SIMD build, at batch 1 and 128:
 *
 *   mlp-large  784-800-800-10 ReLU MLP        mlp-small  784-32-10 (the demo's size)
 *   cnn        conv 8 5×5, ReLU, max pool 2, conv 16 3×3, ReLU, max pool 2, dense 10 on 1×28×28
 *              (the CNN of examples/quantize-mnist.ts)
 *
 * Each model is drawn with seed 1 and quantized with `quantize` (int8 per-channel weights,
 * int8 activations calibrated on 256 rows of uniform [0, 1) inputs); the time does not depend
 * on the values. Timed calls: distill-wasm `logits(Float32Array)` of the int8 and the float32
 * model (validation, copy in, forward, copy out), and onnxruntime-web's `session.run` on a new
 * ort.Tensor (wasm execution provider, one thread) of `toOnnx(model)` (float32) and of
 * `toOnnx(quantized)` (the int8 QDQ graph; distill-wasm/export writes it for dense layers only,
 * so the CNN has no int8 onnxruntime row, and the skip says so). Before timing, every output is
 * checked against distill-wasm's logits of the same precision (int8 within INT8_TOLERANCE of
 * the largest logit, float32 within 1e-4). The implementations run in turn, round after round
 * (lib/interleaved.ts), and the ratios are of the process's CPU time where the runtime reports
 * it (a shared machine's load inflates wall-clock time, not CPU time).
 *
 * Targets (INT8_TARGETS, batch 1): int8 ≥ 2× onnxruntime-web float32 and ≥ 1.5× its int8 QDQ
 * graph; and the int8 CNN at least as fast as the float32 CNN.
 */
import { conv2d, dense, flatten, maxPool2d, mlp, quantize, relu, Sequential } from "distill-wasm";
import { msCell, ratioCell, type Context } from "../lib/context.js";
import { interleaved } from "../lib/interleaved.js";
import { createSession } from "../lib/ort.js";
import { progress } from "../lib/progress.js";
import type { Timing } from "../lib/stats.js";
import { fmtNum, renderTable } from "../lib/table.js";
import { INT8_TARGETS, INT8_TOLERANCE } from "./inference-int8.js";

const FLOAT_TOLERANCE = 1e-4;
/** Timing rounds of about 4 ms per implementation: more at batch 1, whose calls of microseconds a shared machine's preemption spreads most. */
const ROUNDS = { 1: 100, 128: 25 } as Record<number, number>;
const BATCHES = [1, 128];

type Library = "distill-wasm int8" | "distill-wasm float32" | "onnxruntime-web float32" | "onnxruntime-web int8 (QDQ)";

export interface Int8SuiteRow {
  model: string;
  batch: number;
  library: Library;
  timing: Timing;
  cpuTiming?: Timing;
  /** this row's median (CPU time where reported) / distill-wasm int8's: > 1 means int8 is faster */
  versusInt8: number;
  /** max |y − y_ref| / max |y_ref| against distill-wasm's logits of the same precision */
  outputRelErr: number;
}

export interface Int8SuiteResult {
  rows: Int8SuiteRow[];
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
  const ort = ctx.ort.ort;
  const exporter = await import("distill-wasm/export");
  const rows: Int8SuiteRow[] = [];
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
        const errs: number[] = [];
        for (const impl of impls) {
          const int8 = impl.library.includes("int8");
          const err = relErr(await impl.run(), int8 ? want.int8 : want.float32);
          if (!(err <= (int8 ? INT8_TOLERANCE : FLOAT_TOLERANCE)))
            throw new Error(`${impl.library}, ${name}, batch ${batch}: outputs differ (${err.toExponential(2)})`);
          errs.push(err);
        }
        const timings = await interleaved(impls, ctx.quick ? 3 : ROUNDS[batch]!, `${name} b${batch}`);
        const base = timings[0]!.cpu?.medianMs ?? timings[0]!.wall.medianMs;
        impls.forEach((impl, i) => {
          const t = timings[i]!;
          rows.push({
            model: name,
            batch,
            library: impl.library,
            timing: t.wall,
            ...(t.cpu ? { cpuTiming: t.cpu } : {}),
            versusInt8: (t.cpu?.medianMs ?? t.wall.medianMs) / base,
            outputRelErr: errs[i]!,
          });
        });
      }
    } finally {
      for (const s of Object.values(sessions)) await s.release();
      q.dispose();
    }
  }
  print(rows);
  summarise(ctx, rows);
  for (const [lib, reason] of Object.entries(skipped)) console.log(`SKIPPED ${lib}: ${reason}`);
  return { rows, targets: INT8_TARGETS, skipped };
}

function print(rows: readonly Int8SuiteRow[]): void {
  console.log(
    renderTable<Int8SuiteRow>(
      [
        { header: "model", cell: (r) => r.model, align: "left" },
        { header: "batch", cell: (r) => String(r.batch) },
        { header: "library", cell: (r) => r.library, align: "left" },
        { header: "median µs ±IQR", cell: (r) => msCell({ medianMs: r.timing.medianMs * 1000, relIqr: r.timing.relIqr }) },
        { header: "CPU µs ±IQR", cell: (r) => (r.cpuTiming ? msCell({ medianMs: r.cpuTiming.medianMs * 1000, relIqr: r.cpuTiming.relIqr }) : "-") },
        { header: "÷ distill-wasm int8", cell: (r) => ratioCell(r.versusInt8) },
        { header: "max rel. diff", cell: (r) => (r.library.startsWith("distill-wasm") ? "(reference)" : r.outputRelErr.toExponential(1)) },
      ],
      rows,
    ),
  );
  console.log(
    "\n÷ distill-wasm int8 = this row's median / distill-wasm int8's, of CPU time where the runtime reports it (process.cpuUsage), else wall-clock time: " +
      "above 1, int8 is faster. Timed: logits(Float32Array) and session.run(new ort.Tensor(x)).\n",
  );
}

function summarise(ctx: Context, rows: readonly Int8SuiteRow[]): void {
  const ratio = (model: string, library: Library) => rows.find((r) => r.model === model && r.batch === 1 && r.library === library)?.versusInt8;
  const verdict = (r: number | undefined, target: number) =>
    r === undefined ? "skipped" : `${fmtNum(r)}× (target ≥ ${target}×: ${r >= target ? "met" : "missed"})`;
  for (const model of new Set(rows.map((r) => r.model))) {
    ctx.summary.push(
      `int8 ${model} batch 1: ÷ onnxruntime-web float32 ${verdict(ratio(model, "onnxruntime-web float32"), INT8_TARGETS.versusOrtFloat)}, ` +
        `÷ onnxruntime-web int8 QDQ ${verdict(ratio(model, "onnxruntime-web int8 (QDQ)"), INT8_TARGETS.versusOrtInt8)}, ` +
        `÷ distill-wasm float32 ${verdict(ratio(model, "distill-wasm float32"), 1)}`,
    );
  }
}
