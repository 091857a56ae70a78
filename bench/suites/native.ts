/**
 * Section 6, distill-wasm against native PyTorch (CPU), on one and two threads:
 *
 * - the distillation step of section 2 (784-800-800-10 student, batch 128, T = 4, α = 0.1,
 *   loss α·CE + (1 − α)·T²·KL, momentum SGD lr 0.05 / 0.9) with cached teacher logits;
 * - the same step with the 784-1200-1200-10 teacher run forward in every step (what
 *   distill() does when the inputs are augmented);
 * - the teacher's supervised step (784-1200-1200-10, cross-entropy);
 * - inference of 784-800-800-10 at batch 1 and 128.
 *
 * distill-wasm: the baseline build and the relaxed-SIMD build (fused multiply-add), on one
 * thread and on two (`createEngine({ threads: 2 })`), driven as section 2's WasmStep (and
 * `model.forward` on a wasm-resident input + readF32 for inference).
 * PyTorch: bench/torch/step.py in a Python child process, once per BLAS library (Debian's
 * reference BLAS and OpenBLAS, when present) and thread count; its timed call is
 * zero_grad + forward + loss + backward + SGD step + loss.item(), or the forward under
 * inference_mode.
 *
 * Both sides draw the weights and the batch from the same seeded streams
 * (lib/native-params.ts, lib/mlp.ts makeBatch, and their Python twins); before any ratio is
 * printed, PyTorch's first two losses (and first logits) must match distill-wasm's.
 *
 * The ratio printed is distill-wasm's speed / PyTorch's at the same thread count. Beside
 * it, the lane-width bound: wasm SIMD has 4 f32 lanes, the native BLAS 8 (AVX2) or 16
 * (AVX-512), so equal work per lane and cycle gives 4 / lanes (0.5× against AVX2).
 */
import { createEngine, mlp, type Engine, type Sequential } from "distill-wasm";
import { abortDisagreement, msCell, ratioCell, type Context } from "../lib/context.js";
import { laneBound, nativeLanes } from "../lib/cpu.js";
import { forwardFlops, makeBatch, setParams, trainingFlops } from "../lib/mlp.js";
import { seededParams } from "../lib/native-params.js";
import { progress } from "../lib/progress.js";
import type { Timing } from "../lib/stats.js";
import { fmtNum, renderTable, type Column } from "../lib/table.js";
import { budgetFor, measure, once, timingOfSamples } from "../lib/timing.js";
import { blasLabel, openblasLanes, type BlasVariant, type TorchEnv, type TorchScenario, type TorchSpec } from "../lib/torch.js";
import { ALPHA, BATCH, LR, MOMENTUM, TEMPERATURE, WasmStep } from "./steps.js";

const THREADS = [1, 2];
/** First two losses, relative; first logits, relative to their largest magnitude. */
export const NATIVE_TOLERANCE = 1e-4;

function scenarios(student: number[], teacher: number[]): TorchScenario[] {
  return [
    { id: "distillation", kind: "distill", widths: student, seed: 11, batch: BATCH, batchSeed: 111 },
    {
      id: "distillation, teacher forward",
      kind: "distill-teacher",
      widths: student,
      seed: 11,
      teacherWidths: teacher,
      teacherSeed: 12,
      batch: BATCH,
      batchSeed: 111,
    },
    { id: "teacher", kind: "ce", widths: teacher, seed: 12, batch: BATCH, batchSeed: 112 },
    { id: "inference, batch 1", kind: "infer", widths: student, seed: 21, batch: 1, batchSeed: 121 },
    { id: "inference, batch 128", kind: "infer", widths: student, seed: 21, batch: 128, batchSeed: 248 },
  ];
}
const FULL = scenarios([784, 800, 800, 10], [784, 1200, 1200, 10]);
const QUICK = scenarios([784, 64, 64, 10], [784, 96, 96, 10]);

export interface NativeRow {
  scenario: string;
  /** "distill-wasm" or "PyTorch 1.13.1, OpenBLAS (Haswell kernels)" … */
  library: string;
  /** "baseline" / "relaxed" for distill-wasm; the BLAS asked for, for PyTorch. */
  variant: string;
  threads: number;
  timing: Timing;
  samplesPerSecond: number;
  gflops: number;
  /** PyTorch rows: distill-wasm baseline's speed / this row's, same threads (and relaxed's). */
  baselineRatio?: number;
  relaxedRatio?: number;
  /** PyTorch rows: 4 / f32 lanes of its BLAS. */
  laneBound?: number;
}

export interface NativeRun {
  requested: BlasVariant["requested"];
  libraryDir?: string;
  threads: number;
  label?: string;
  env?: TorchEnv;
  skipped?: string;
}

export interface NativeResult {
  scenarios: TorchScenario[];
  rows: NativeRow[];
  torchRuns: NativeRun[];
  /** The CPU's widest f32 vector unit, from its flags. */
  cpuVector?: { unit: string; lanes: number; laneBound: number };
  checks: { scenario: string; library: string; relErr: number }[];
  tolerance: number;
  notes: string[];
  skipped: Record<string, string>;
}

/** One call of a scenario on a distill-wasm engine: the timed function, the values checked against PyTorch, and cleanup. */
function wasmScenario(engine: Engine, sc: TorchScenario): { run: () => unknown; check: () => number[]; dispose: () => void } {
  const classes = sc.widths.at(-1)!;
  const batch = makeBatch(sc.batch, sc.widths[0]!, classes, sc.batchSeed);
  const build = (widths: number[], seed: number): Sequential => {
    const model = mlp(widths, { engine });
    setParams(model, seededParams(widths, seed));
    return model;
  };
  if (sc.kind === "infer") {
    const model = build(sc.widths, sc.seed);
    model.reserve(sc.batch);
    const x = engine.allocOwned(batch.x.length * 4);
    engine.f32(x, batch.x.length).set(batch.x);
    const run = () => engine.readF32(model.forward(x, sc.batch, false), sc.batch * classes);
    return {
      run,
      check: () => Array.from(run().subarray(0, Math.min(4, sc.batch) * classes)),
      dispose: () => {
        engine.free(x);
        model.dispose();
      },
    };
  }
  const step = new WasmStep(engine, build(sc.widths, sc.seed), batch, sc.kind === "ce" ? "ce" : "distill");
  const teacher = sc.kind === "distill-teacher" ? build(sc.teacherWidths!, sc.teacherSeed!) : undefined;
  teacher?.reserve(sc.batch);
  const n = sc.batch * classes;
  const run = teacher
    ? () => {
        engine.f32(step.t, n).set(engine.f32(teacher.forward(step.x, sc.batch, false), n));
        return step.step();
      }
    : step.step;
  return {
    run,
    check: () => [run() as number, run() as number],
    dispose: () => {
      step.dispose();
      teacher?.dispose();
    },
  };
}

const relErr = (got: readonly number[], want: readonly number[]): number => {
  const scale = Math.max(...want.map(Math.abs));
  return Math.max(...got.map((g, i) => Math.abs(g - want[i]!))) / (scale > 0 ? scale : 1);
};

export async function runNative(ctx: Context): Promise<NativeResult> {
  console.log("\n## 6. Native: distill-wasm against PyTorch (CPU), 1 and 2 threads\n");
  const scs = ctx.quick ? QUICK : FULL;
  const skipped: Record<string, string> = {};
  const notes: string[] = [];
  const rows: NativeRow[] = [];
  const checks: NativeResult["checks"] = [];
  const flopsOf = (sc: TorchScenario) =>
    sc.kind === "infer"
      ? forwardFlops(sc.widths, sc.batch)
      : trainingFlops(sc.widths, sc.batch) + (sc.kind === "distill-teacher" ? forwardFlops(sc.teacherWidths!, sc.batch) : 0);
  const record = (sc: TorchScenario, library: string, variant: string, threads: number, timing: Timing): NativeRow => {
    const row: NativeRow = {
      scenario: sc.id,
      library,
      variant,
      threads,
      timing,
      samplesPerSecond: (sc.batch * 1000) / timing.medianMs,
      gflops: flopsOf(sc) / (timing.medianMs * 1e6),
    };
    rows.push(row);
    return row;
  };

  // ---- distill-wasm: baseline and relaxed builds, one and two threads
  const wasmChecks = new Map<string, number[]>();
  const engines: { variant: "baseline" | "relaxed"; threads: number; engine: Engine; owned: boolean }[] = [];
  engines.push({ variant: ctx.engine.build === "relaxed" ? "relaxed" : "baseline", threads: 1, engine: ctx.engine, owned: false });
  if (ctx.relaxed && "engine" in ctx.relaxed) engines.push({ variant: "relaxed", threads: 1, engine: ctx.relaxed.engine, owned: false });
  else if (ctx.relaxed) skipped["distill-wasm relaxed"] = ctx.relaxed.skipped;
  for (const variant of engines.map((e) => e.variant)) {
    const engine = await createEngine({ simd: variant, threads: 2 });
    if (engine.threads === 2) engines.push({ variant, threads: 2, engine, owned: true });
    else {
      skipped[`distill-wasm ${variant}, 2 threads`] = engine.threadsNote ?? "threads unavailable";
      engine.dispose();
    }
  }
  try {
    for (const sc of scs) {
      for (const e of engines) {
        progress(`native: distill-wasm ${e.variant}, ${e.threads} thread${e.threads > 1 ? "s" : ""}, ${sc.id}\n`);
        const s = wasmScenario(e.engine, sc);
        try {
          const values = s.check();
          if (e.variant === "baseline" && e.threads === 1) wasmChecks.set(sc.id, values);
          const timing = await measure(`distill-wasm ${e.variant} ${e.threads}t ${sc.id}`, s.run, budgetFor(await once(s.run)));
          record(sc, "distill-wasm", e.variant, e.threads, timing);
        } finally {
          s.dispose();
        }
      }
    }
  } finally {
    for (const e of engines) if (e.owned) e.engine.dispose();
  }

  // ---- PyTorch: each BLAS, one and two threads
  const torchRuns: NativeRun[] = [];
  const native = ctx.platform.native;
  const cpuFlags = ctx.machine.cpuRecord?.simdFlags;
  const cpuVector = cpuFlags ? { ...nativeLanes(cpuFlags), laneBound: laneBound(nativeLanes(cpuFlags).lanes) } : undefined;
  if (!native) {
    skipped.PyTorch = "this runtime cannot start a Python process (a browser page)";
  } else {
    const { variants, notes: blasNotes } = native.torchVariants();
    notes.push(...blasNotes);
    for (const variant of variants) {
      for (const threads of THREADS) {
        progress(`native: PyTorch, ${variant.requested}, ${threads} thread${threads > 1 ? "s" : ""}\n`);
        const spec: TorchSpec = { threads, quick: ctx.quick, lr: LR, momentum: MOMENTUM, temperature: TEMPERATURE, alpha: ALPHA, scenarios: scs };
        const out = await native.runTorch(spec, variant);
        const run: NativeRun = { requested: variant.requested, ...(variant.libraryDir ? { libraryDir: variant.libraryDir } : {}), threads };
        torchRuns.push(run);
        if ("skipped" in out) {
          run.skipped = out.skipped;
          skipped[`PyTorch, ${variant.requested}, ${threads} thread${threads > 1 ? "s" : ""}`] = out.skipped;
          if (out.skipped.startsWith("cannot import torch") || out.skipped.startsWith("cannot run")) break;
          continue;
        }
        run.env = out.env;
        run.label = `PyTorch ${out.env.torch}, ${blasLabel(out.env)}`;
        const lanes = out.env.openblasCore !== null ? (openblasLanes(out.env.openblasCore) ?? cpuVector?.lanes) : 4;
        if (variant.requested === "OpenBLAS" && out.env.openblasCore === null) {
          notes.push(`asked for OpenBLAS from ${variant.libraryDir}, but the process mapped ${out.env.blas ?? "no BLAS"}: the row is named after what ran`);
        }
        const bad: string[] = [];
        for (const [i, sc] of scs.entries()) {
          const row = out.rows[i]!;
          const want = wasmChecks.get(sc.id)!;
          const got = row.losses ?? row.logits!;
          const err = got.length === want.length ? relErr(got, want) : Infinity;
          checks.push({ scenario: sc.id, library: `${run.label}, ${threads}t`, relErr: err });
          progress(
            `  check ${run.label} ${sc.id}: ${got.slice(0, 2).map((v) => v.toPrecision(7))} vs distill-wasm ${want.slice(0, 2).map((v) => v.toPrecision(7))}, rel. diff ${err.toExponential(1)}\n`,
          );
          if (!(err <= NATIVE_TOLERANCE))
            bad.push(
              `${sc.id}: ${run.label} gives ${got.slice(0, 4)}, distill-wasm ${want.slice(0, 4)} (relative ${err.toExponential(2)}, allowed ${NATIVE_TOLERANCE})`,
            );
          const r = record(sc, run.label, variant.requested, threads, timingOfSamples(row.samplesMs));
          progress(`  ${`${run.label} ${threads}t ${sc.id}`.padEnd(52)} ${fmtNum(r.timing.medianMs).padStart(7)} ms  (${r.timing.samples} samples)\n`);
          const wasm = (v: string) => rows.find((w) => w.library === "distill-wasm" && w.variant === v && w.threads === threads && w.scenario === sc.id);
          const base = wasm("baseline");
          const relaxed = wasm("relaxed");
          if (base) r.baselineRatio = r.timing.medianMs / base.timing.medianMs;
          if (relaxed) r.relaxedRatio = r.timing.medianMs / relaxed.timing.medianMs;
          if (lanes !== undefined) r.laneBound = laneBound(lanes);
        }
        if (bad.length > 0) abortDisagreement("PyTorch and distill-wasm disagree on the first steps", bad.join("\n"));
      }
    }
  }

  printTables(scs, rows, cpuVector, torchRuns);
  for (const n of notes) console.log(`NOTE: ${n}`);
  for (const [what, reason] of Object.entries(skipped)) console.log(`SKIPPED ${what}: ${reason}`);
  summarise(ctx, rows);
  return { scenarios: scs, rows, torchRuns, ...(cpuVector ? { cpuVector } : {}), checks, tolerance: NATIVE_TOLERANCE, notes, skipped };
}

function printTables(scs: readonly TorchScenario[], rows: readonly NativeRow[], cpuVector: NativeResult["cpuVector"], runs: readonly NativeRun[]): void {
  const columns: Column<NativeRow>[] = [
    { header: "implementation", cell: (r) => (r.library === "distill-wasm" ? `distill-wasm, ${r.variant} build` : r.library), align: "left" },
    { header: "threads", cell: (r) => String(r.threads) },
    { header: "median ms ±IQR", cell: (r) => msCell(r.timing) },
    { header: "samples/s", cell: (r) => fmtNum(r.samplesPerSecond) },
    { header: "GFLOP/s", cell: (r) => fmtNum(r.gflops) },
    { header: "distill-wasm ÷ PyTorch", cell: (r) => (r.baselineRatio !== undefined ? ratioCell(r.baselineRatio) : "") },
    { header: "relaxed ÷ PyTorch", cell: (r) => (r.relaxedRatio !== undefined ? ratioCell(r.relaxedRatio) : "") },
    { header: "lane bound", cell: (r) => (r.laneBound !== undefined ? ratioCell(r.laneBound) : "") },
  ];
  for (const sc of scs) {
    const arch = sc.kind === "distill-teacher" ? `${sc.widths.join("-")}, teacher ${sc.teacherWidths!.join("-")}` : sc.widths.join("-");
    console.log(`${sc.id}, ${arch}, batch ${sc.batch}\n`);
    console.log(
      renderTable(
        columns,
        rows.filter((r) => r.scenario === sc.id).sort((a, b) => a.threads - b.threads),
      ),
    );
    console.log();
  }
  console.log(
    "distill-wasm ÷ PyTorch = PyTorch median / distill-wasm (baseline build) median at the same thread count: distill-wasm's speed as a fraction of PyTorch's; " +
      "relaxed ÷ PyTorch the same for the relaxed-SIMD build. Lane bound = 4 / f32 lanes of the BLAS's kernels: the ratio that equal work per lane and cycle gives " +
      "(wasm SIMD has 4 f32 lanes; AVX2 8 ⇒ 0.5×, AVX-512 16 ⇒ 0.25×; Debian's reference BLAS is built for baseline x86-64, 4 lanes ⇒ 1×).",
  );
  if (cpuVector) console.log(`This CPU's widest vector unit: ${cpuVector.unit} (${cpuVector.lanes} f32 lanes, bound ${ratioCell(cpuVector.laneBound)}).`);
  const cores = [...new Set(runs.filter((r) => r.env?.openblasCore).map((r) => `${r.env!.openblasCore} (${r.env!.openblasConfig ?? "?"})`))];
  if (cores.length > 0) console.log(`OpenBLAS chose: ${cores.join("; ")}.`);
  const caps = [...new Set(runs.map((r) => r.env?.cpuCapability).filter(Boolean))];
  if (caps.length > 0) console.log(`PyTorch's own kernels (activations, softmax, optimizer): ${caps.join(", ")}.`);
  console.log();
}

function summarise(ctx: Context, rows: readonly NativeRow[]): void {
  const torchRows = rows.filter((r) => r.baselineRatio !== undefined && r.scenario === "distillation");
  if (torchRows.length === 0) return;
  const fastest = (threads: number) => torchRows.filter((r) => r.threads === threads).sort((a, b) => a.timing.medianMs - b.timing.medianMs)[0];
  const parts = THREADS.map((t) => fastest(t))
    .filter((r): r is NativeRow => r !== undefined)
    .map(
      (r) =>
        `${r.threads} thread${r.threads > 1 ? "s" : ""}: ${ratioCell(r.baselineRatio)} of ${r.library}` +
        (r.relaxedRatio !== undefined ? ` (relaxed build ${ratioCell(r.relaxedRatio)})` : "") +
        (r.laneBound !== undefined ? `, lane bound ${ratioCell(r.laneBound)}` : ""),
    );
  ctx.summary.push(`Distillation step against native PyTorch, distill-wasm's speed as a fraction of PyTorch's: ${parts.join("; ")}`);
}
