/**
 * Section 3, inference of the 784-800-800-10 ReLU MLP at batch 1 and 128.
 *
 * What one timed call is:
 * - distill-wasm logits(): `model.logits(x)` with x a Float32Array: validation of x, copy
 *   into wasm memory, forward, copy of the logits out into a new Float32Array.
 * - distill-wasm forward: `model.forward(ptr, rows, false)` on an input already in wasm
 *   memory, plus `engine.readF32` of the logits.
 * - tfjs-wasm / tfjs-cpu: tf.fused.matMul with bias and ReLU per layer (what tfjs-layers'
 *   Dense runs) on an input tensor created once, then dataSync() of the logits, in tf.tidy.
 *   "tfjs-wasm, unfused" does tf.matMul + tf.add + tf.relu instead.
 * - onnxruntime-web: `session.run({ x: new ort.Tensor("float32", x, [rows, 784]) })` on an
 *   ONNX model of Gemm + Relu nodes built in bench/lib/onnx.ts (wasm EP, one thread); the
 *   input is copied into its wasm heap and the logits out on every run.
 * - naive JS: bench/lib/naive-mlp.ts forward.
 * All outputs are first compared with the naive JS forward.
 *
 * The compute ceiling: the wasm-SIMD peak probe (bench/lib/peak.ts) is timed once, and
 * the forward's FLOPs at that rate give the samples/s no f32x4 implementation can pass
 * on one thread (at batch 1 it must also stream every weight once per sample). Where a
 * row runs more than CEILING_SLACK above the probe (Firefox compiles the probe's chains
 * to slower code than GEMM loops), the probe is no ceiling and none is stated.
 */
import { mlp } from "distill-wasm";
import { abortDisagreement, msCell, ratioCell, speedPhrase, type Context } from "../lib/context.js";
import { forwardFlops, makeBatch, paramsOf } from "../lib/mlp.js";
import { NaiveMlp } from "../lib/naive-mlp.js";
import { mlpOnnxModel } from "../lib/onnx.js";
import { measurePeak } from "../lib/peak.js";
import { createSession } from "../lib/ort.js";
import { progress } from "../lib/progress.js";
import type { Timing } from "../lib/stats.js";
import { fmtNum, renderTable, type Column } from "../lib/table.js";
import { budgetFor, measure, once } from "../lib/timing.js";
import { TfMlp, useBackend, type TfBackend } from "../lib/tfjs.js";

const FULL_WIDTHS = [784, 800, 800, 10];
/** --quick: narrow hidden layers, so that naive JS and tfjs-cpu take milliseconds. */
const QUICK_WIDTHS = [784, 64, 64, 10];
const BATCHES = [1, 128];
/** A row this much above the probe's rate means the probe is no ceiling in this runtime (clock noise is a few %). */
const CEILING_SLACK = 1.1;
/** max |y − y_naive| / max |y_naive| allowed before anything is timed. */
export const OUTPUT_TOLERANCE = 1e-4;

export interface InferenceRow {
  batch: number;
  library: string;
  timed: string;
  timing: Timing;
  samplesPerSecond: number;
  gflops: number;
  /** This row's median / distill-wasm logits() median. */
  distillSpeedup: number;
  /** max |y − y_naive| / max |y_naive| */
  outputRelErr: number;
  /** GFLOP/s as a fraction of the peak probe. */
  fractionOfPeak: number;
}

export interface InferenceResult {
  widths: number[];
  rows: InferenceRow[];
  /** The peak probe's GFLOP/s, measured before the inference timings. */
  peakGflops: number;
  /**
   * Samples/s per batch size if every forward FLOP ran at the peak probe's rate; absent
   * for a batch size where a row ran more than CEILING_SLACK above it.
   */
  ceilingSamplesPerSecond: Record<string, number>;
  tolerance: number;
  skipped: Record<string, string>;
}

interface Impl {
  library: string;
  timed: string;
  run: () => Float32Array | Promise<Float32Array>;
  async?: boolean;
  /** Runs before timing (e.g. switching the tfjs backend). */
  prepare?: () => Promise<void>;
  dispose?: () => void;
}

export async function runInference(ctx: Context): Promise<InferenceResult> {
  const WIDTHS = ctx.quick ? QUICK_WIDTHS : FULL_WIDTHS;
  console.log(`\n## 3. Inference, ${WIDTHS.join("-")} ReLU MLP\n`);
  const engine = ctx.engine;
  const model = mlp(WIDTHS, { engine, seed: 21 });
  const params = paramsOf(model);
  model.reserve(Math.max(...BATCHES));
  const rows: InferenceRow[] = [];
  const skipped: Record<string, string> = {};
  progress("peak probe\n");
  const peakGflops = (await measurePeak("inference ceiling")).gflops;
  const ceilingSamplesPerSecond: Record<string, number> = {};
  const tf = ctx.tfjs.tf;
  const ort = ctx.ort.ort;
  const session = ort ? await createSession(ort, mlpOnnxModel(params)) : undefined;
  if (!ort) skipped["onnxruntime-web"] = ctx.ort.skipped ?? "not loaded";
  const tfModels = new Map<TfBackend, TfMlp>();
  for (const backend of ["wasm", "cpu"] as TfBackend[]) {
    if (!tf || !ctx.tfjs.available.includes(backend)) {
      skipped[`tfjs-${backend}`] = ctx.tfjs.skipped[backend] ?? "not loaded";
      continue;
    }
    await useBackend(tf, backend);
    tfModels.set(backend, new TfMlp(tf, params));
  }

  try {
    for (const batch of BATCHES) {
      progress(`inference, batch ${batch}\n`);
      const x = makeBatch(batch, WIDTHS[0]!, WIDTHS.at(-1)!, 31 + batch).x;
      const outLen = batch * WIDTHS.at(-1)!;
      const naive = new NaiveMlp(params, batch);
      const want = naive.forward(x, batch).slice();

      const xPtr = engine.allocOwned(x.length * 4);
      engine.f32(xPtr, x.length).set(x);
      const impls: Impl[] = [
        { library: "distill-wasm logits()", timed: "model.logits(Float32Array)", run: () => model.logits(x) },
        {
          library: "distill-wasm forward",
          timed: "model.forward(wasm-resident x) + readF32",
          run: () => engine.readF32(model.forward(xPtr, batch, false), outLen),
        },
      ];
      for (const [backend, m] of tfModels) {
        await useBackend(tf!, backend);
        const xt = tf!.tensor2d(x, [batch, WIDTHS[0]!]);
        const prepare = () => useBackend(tf!, backend);
        impls.push({
          library: `tfjs-${backend}`,
          timed: "fused.matMul(+bias, relu) ×3 + dataSync, resident input",
          run: () => tf!.tidy(() => m.forwardFused(xt).dataSync() as Float32Array),
          prepare,
          dispose: () => xt.dispose(),
        });
        if (backend === "wasm") {
          impls.push({
            library: "tfjs-wasm, unfused",
            timed: "matMul + add + relu ×3 + dataSync, resident input",
            run: () => tf!.tidy(() => m.forward(xt).dataSync() as Float32Array),
            prepare,
          });
        }
      }
      if (ort && session) {
        impls.push({
          library: "onnxruntime-web",
          timed: "session.run(new ort.Tensor(x)) (copies in and out)",
          run: async () => (await session.run({ x: new ort.Tensor("float32", x, [batch, WIDTHS[0]!]) })).logits!.data as Float32Array,
          async: true,
        });
      }
      impls.push({ library: "naive JS", timed: "Float32Array loops", run: () => naive.forward(x, batch) });

      // Agreement first.
      const errs = new Map<string, number>();
      const bad: string[] = [];
      let scale = 0;
      for (const v of want) scale = Math.max(scale, Math.abs(v));
      for (const impl of impls) {
        await impl.prepare?.();
        const got = await impl.run();
        let err = got.length === want.length ? 0 : Infinity;
        for (let i = 0; i < want.length && err !== Infinity; i++) err = Math.max(err, Math.abs(got[i]! - want[i]!));
        const rel = err / scale;
        errs.set(impl.library, rel);
        progress(`  check ${impl.library}: max |y − y_naive| / max |y_naive| = ${rel.toExponential(2)}\n`);
        if (!(rel <= OUTPUT_TOLERANCE)) bad.push(`${impl.library}: ${rel.toExponential(2)} (allowed ${OUTPUT_TOLERANCE})`);
      }
      if (bad.length > 0) abortDisagreement(`inference at batch ${batch}: outputs differ from the naive JS forward`, bad.join("\n"));

      const timed: [Impl, Timing][] = [];
      for (const impl of impls) {
        await impl.prepare?.();
        const tensors = tf?.memory().numTensors;
        const timing = await measure(`${impl.library} b${batch}`, impl.run, budgetFor(await once(impl.run)), { async: impl.async ?? false });
        if (tf && tf.memory().numTensors !== tensors) throw new Error(`${impl.library}: tensors leaked during inference timing`);
        timed.push([impl, timing]);
      }
      for (const impl of impls) impl.dispose?.();
      engine.free(xPtr);

      const flops = forwardFlops(WIDTHS, batch);
      const base = timed[0]![1].medianMs;
      const bRows = timed.map(([impl, timing]): InferenceRow => ({
        batch,
        library: impl.library,
        timed: impl.timed,
        timing,
        samplesPerSecond: (batch * 1000) / timing.medianMs,
        gflops: flops / (timing.medianMs * 1e6),
        distillSpeedup: timing.medianMs / base,
        outputRelErr: errs.get(impl.library)!,
        fractionOfPeak: flops / (timing.medianMs * 1e6) / peakGflops,
      }));
      const probeIsCeiling = bRows.every((r) => r.fractionOfPeak <= CEILING_SLACK);
      const ceiling = probeIsCeiling ? (peakGflops * 1e9) / (flops / batch) : undefined;
      if (ceiling !== undefined) ceilingSamplesPerSecond[String(batch)] = ceiling;
      rows.push(...bRows);
      for (const r of bRows) {
        if (r.library !== "tfjs-wasm, unfused")
          ctx.chart.push({ group: `inference, batch ${batch}`, library: r.library, samplesPerSecond: r.samplesPerSecond });
      }
      printBatch(WIDTHS, batch, bRows, peakGflops, ceiling);

      const best = bRows
        .filter((r) => r.library.startsWith("tfjs-wasm") || r.library === "onnxruntime-web")
        .sort((a, b) => a.timing.medianMs - b.timing.medianMs)[0];
      const dw = bRows[0]!;
      const fwd = bRows[1]!;
      ctx.summary.push(
        `Inference batch ${batch}: distill-wasm logits() ${fmtNum(dw.timing.medianMs * 1000)} µs (forward on wasm-resident input ${fmtNum(fwd.timing.medianMs * 1000)} µs)` +
          (best
            ? ` vs the fastest of tfjs-wasm and onnxruntime-web (${best.library}, ${fmtNum(best.timing.medianMs * 1000)} µs) → ` +
              `${speedPhrase(best.timing.medianMs / dw.timing.medianMs)} (forward: ${speedPhrase(best.timing.medianMs / fwd.timing.medianMs).replace("distill-wasm ", "")}); ` +
              (ceiling !== undefined
                ? `the compute ceiling (${fmtNum(ceiling)} samples/s) is ${fmtNum(ceiling / best.samplesPerSecond)}× ${best.library}`
                : `no compute ceiling (rows ran above the peak probe's ${fmtNum(peakGflops)} GFLOP/s here)`)
            : " (tfjs-wasm and onnxruntime-web skipped)"),
      );
    }
  } finally {
    for (const m of tfModels.values()) m.dispose();
    await session?.release();
    model.dispose();
  }
  for (const [lib, reason] of Object.entries(skipped)) console.log(`SKIPPED ${lib}: ${reason}`);
  return { widths: WIDTHS, rows, peakGflops, ceilingSamplesPerSecond, tolerance: OUTPUT_TOLERANCE, skipped };
}

function printBatch(WIDTHS: readonly number[], batch: number, rows: readonly InferenceRow[], peakGflops: number, ceiling: number | undefined): void {
  const columns: Column<InferenceRow>[] = [
    { header: "library", cell: (r) => r.library, align: "left" },
    { header: "median µs ±IQR", cell: (r) => msCell({ medianMs: r.timing.medianMs * 1000, relIqr: r.timing.relIqr }) },
    { header: "samples/s", cell: (r) => fmtNum(r.samplesPerSecond) },
    { header: "GFLOP/s", cell: (r) => fmtNum(r.gflops) },
    { header: "% peak", cell: (r) => `${Math.round(r.fractionOfPeak * 100)}%` },
    { header: "distill-wasm ÷", cell: (r) => ratioCell(r.distillSpeedup) },
    { header: "max rel. diff", cell: (r) => (r.library === "naive JS" ? "(reference)" : r.outputRelErr.toExponential(1)) },
    { header: "timed call", cell: (r) => r.timed, align: "left" },
  ];
  console.log(`Batch ${batch}`);
  console.log();
  console.log(renderTable(columns, rows));
  console.log();
  console.log(
    `GFLOP/s = ${(forwardFlops(WIDTHS, batch) / 1e6).toFixed(1)} MFLOP (2·batch·Σ in·out) / median. distill-wasm ÷ = median / distill-wasm logits() median. ` +
      `max rel. diff = max |y − y_naive| / max |y_naive| (allowed ${OUTPUT_TOLERANCE}). ` +
      `% peak = GFLOP/s / the wasm-SIMD peak probe (${fmtNum(peakGflops)} GFLOP/s); ` +
      (ceiling !== undefined
        ? `at that rate the forward would run ${fmtNum(ceiling)} samples/s (the compute ceiling).\n`
        : `rows ran more than ${Math.round((CEILING_SLACK - 1) * 100)}% above it, so here it is no ceiling.\n`),
  );
}
