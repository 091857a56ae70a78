/**
 * Section 1, GEMM kernels: distill-wasm's gemm_nn / gemm_nt / gemm_tn against tfjs-wasm
 * and tfjs-cpu tf.matMul and a naive JavaScript triple loop, and against the machine's
 * wasm-SIMD peak (bench/lib/peak.ts).
 *
 * What is timed, per call:
 * - distill-wasm: one kernel call on operands already in wasm memory (C = op(A)·op(B),
 *   no bias, overwrite). The result stays in wasm memory.
 * - tfjs (wasm, cpu): `tf.matMul(a, b, transposeA, transposeB)` on tensors created once
 *   outside the timed region (nn: a (m,k), b (k,n); nt: b (n,k) with transposeB; tn:
 *   a (k,m) with transposeA), then `dataSync()` of the result (a copy out of the wasm heap
 *   for tfjs-wasm), then `dispose()`.
 * - naive JS: the loops of bench/lib/naive.ts on Float32Arrays.
 * Every implementation is first checked against the naive loop (max |C − C_js| / Σ|a·b|).
 */
import type * as TF from "@tensorflow/tfjs-core";
import type { KernelExports } from "distill-wasm";
import { abortDisagreement, msCell, ratioCell, type Context } from "../lib/context.js";
import { absF32, maxScaledError, NAIVE_GEMM, type GemmForm } from "../lib/naive.js";
import { measurePeak, PEAK_CHAINS, PEAK_FLOPS_PER_ITERATION, PEAK_ITERATIONS, PEAK_UNROLL } from "../lib/peak.js";
import { progress } from "../lib/progress.js";
import { uniformF32 } from "../lib/random.js";
import type { Timing } from "../lib/stats.js";
import { fmtNum, renderTable, type Column } from "../lib/table.js";
import { budgetFor, FAST, measure, once } from "../lib/timing.js";
import { TF_LIBS, useBackend, type TfBackend } from "../lib/tfjs.js";
import { printPlanTable, timeCandidates, withPeak, type PlanCase, type PlanRow } from "./kernel-plans.js";

export interface Shape {
  m: number;
  k: number;
  n: number;
}

/** m × k × n, as in a dense layer with batch m, k inputs and n outputs. */
export const SHAPES: readonly Shape[] = [
  { m: 128, k: 784, n: 800 }, // MNIST input layer, batch 128
  { m: 128, k: 800, n: 800 }, // hidden layer
  { m: 128, k: 800, n: 10 }, // output layer
  { m: 1, k: 784, n: 800 }, // input layer at batch 1 (inference)
  { m: 256, k: 256, n: 256 },
  { m: 512, k: 512, n: 512 },
];
/** --quick: one shape of each kind (large, narrow output, one row), small enough for naive JS. */
export const QUICK_SHAPES: readonly Shape[] = [
  { m: 128, k: 256, n: 256 },
  { m: 128, k: 800, n: 10 },
  { m: 1, k: 784, n: 800 },
];
const FORMS: readonly GemmForm[] = ["nn", "nt", "tn"];

/** Max |C − C_js| / Σ_p|a_ip·b_pj| allowed before anything is timed. */
export const GEMM_TOLERANCE = 1e-5;

export type KernelLib = "distill-wasm" | "tfjs-wasm" | "tfjs-cpu" | "naive JS";

export interface KernelRow extends Shape {
  form: GemmForm;
  library: KernelLib;
  timing: Timing;
  gflops: number;
  /** GFLOP/s as a fraction of the wasm-SIMD peak probe (wasm implementations only). */
  fractionOfPeak?: number;
  /** This row's median / distill-wasm's median (how many times faster distill-wasm is). */
  distillSpeedup: number;
  maxScaledError: number;
}

export interface PeakResult {
  chains: number;
  unroll: number;
  flopsPerCall: number;
  /** GFLOP/s from the median of each measurement: before, between and after the GEMM timings. */
  gflopsEach: number[];
  /** The highest of them: the peak the GEMMs are compared with. */
  gflops: number;
  timings: Timing[];
}

/** gemm_panels on B packed once into panels (what batch-1 inference runs), for the m < 4 shapes. */
export interface PanelRow {
  m: number;
  k: number;
  n: number;
  timing: Timing;
  gflops: number;
  fractionOfPeak: number;
  maxScaledError: number;
}

/** The engine's GEMM plan and the CPU it was measured on. */
export interface PlanInfo {
  /** engine.gemmPlan (what the distill-wasm rows ran) and engine.gemmPlanNote. */
  plan: unknown;
  note: string;
  /** The CPU's model name, and on Linux its vendor, family, model and stepping. */
  cpu: string;
  cpuId?: string;
}

export interface KernelResult {
  peak: PeakResult;
  rows: KernelRow[];
  panels: PanelRow[];
  plan: PlanInfo;
  /** Every candidate of the plan slot of each case (default = before plans, plan = after). */
  planCandidates: PlanRow[];
  tolerance: number;
  skipped: Record<string, string>;
}

const shapeText = ({ m, k, n }: Shape) => `${m}×${k}×${n}`;
const pct = (x: number | undefined) => (x === undefined ? "-" : `${(x * 100).toFixed(0)}%`);

/** Leading dimensions (lda, ldb, ldc) of tightly packed operands for each form. */
function leadingDims(form: GemmForm, { m, k, n }: Shape): [number, number, number] {
  if (form === "nn") return [k, n, n];
  if (form === "nt") return [k, k, n];
  return [m, n, n];
}

/** Shapes (rows, cols) of A and B as stored for each form. */
function operandShapes(form: GemmForm, { m, k, n }: Shape): [[number, number], [number, number]] {
  if (form === "nn")
    return [
      [m, k],
      [k, n],
    ];
  if (form === "nt")
    return [
      [m, k],
      [n, k],
    ];
  return [
    [k, m],
    [k, n],
  ];
}

interface Case extends Shape {
  form: GemmForm;
  a: Float32Array;
  b: Float32Array;
  /** naive JS result and Σ|a·b| */
  want: Float32Array;
  scale: Float32Array;
}

export async function runKernels(ctx: Context): Promise<KernelResult> {
  console.log("\n## 1. GEMM kernels\n");
  const planInfo: PlanInfo = {
    plan: ctx.engine.gemmPlan,
    note: ctx.engine.gemmPlanNote,
    cpu: ctx.machine.cpu,
    ...(ctx.machine.cpuId !== undefined ? { cpuId: ctx.machine.cpuId } : {}),
  };
  console.log(`CPU: ${planInfo.cpu}${planInfo.cpuId ? ` (${planInfo.cpuId})` : ""}; GEMM plan: ${planInfo.note}\n`);
  progress("peak probe\n");
  const before = await measurePeak("before the GEMMs");

  const cases: Case[] = [];
  let seed = 101;
  for (const shape of ctx.quick ? QUICK_SHAPES : SHAPES) {
    for (const form of FORMS) {
      const { m, k, n } = shape;
      const a = uniformF32(m * k, (seed += 2));
      const b = uniformF32(k * n, seed + 1);
      const want = new Float32Array(m * n);
      NAIVE_GEMM[form](want, a, b, m, n, k);
      const scale = new Float32Array(m * n);
      NAIVE_GEMM[form](scale, absF32(a), absF32(b), m, n, k);
      cases.push({ ...shape, form, a, b, want, scale });
    }
  }

  const rows: KernelRow[] = [];
  const timings = new Map<string, Timing>();
  const errors = new Map<string, number>();
  const keyOf = (c: Shape & { form: GemmForm }, lib: KernelLib) => `${lib} ${c.form} ${shapeText(c)}`;
  const skipped: Record<string, string> = {};
  const panelTimings: { c: Case; err: number; timing: Timing }[] = [];
  const planCases: PlanCase[] = [];
  let planRows: PlanRow[] = [];

  // distill-wasm: operands copied into wasm memory once; checked, then timed.
  const engine = ctx.engine;
  progress("distill-wasm kernels\n");
  const owned: number[] = [];
  const put = (values: Float32Array) => {
    const ptr = engine.allocOwned(values.length * 4);
    owned.push(ptr);
    engine.f32(ptr, values.length).set(values);
    return ptr;
  };
  try {
    const prepared = cases.map((c) => {
      const aPtr = put(c.a);
      const bPtr = put(c.b);
      const cPtr = put(new Float32Array(c.m * c.n));
      const [lda, ldb, ldc] = leadingDims(c.form, c);
      const kernel: KernelExports["gemm_nn"] = engine.kernels[`gemm_${c.form}`];
      const run = () => kernel(cPtr, aPtr, bPtr, 0, c.m, c.n, c.k, lda, ldb, ldc, 0);
      run();
      errors.set(keyOf(c, "distill-wasm"), maxScaledError(engine.readF32(cPtr, c.m * c.n), c.want, c.scale));
      return { c, run };
    });
    checkErrors(cases, errors, "distill-wasm");
    for (const { c, run } of prepared) {
      timings.set(keyOf(c, "distill-wasm"), await measure(`distill-wasm gemm_${c.form} ${shapeText(c)}`, run, FAST));
      planCases.push({ form: c.form, m: c.m, k: c.k, n: c.n, run });
    }
    // Few rows against B packed once (the nt case's B is a dense layer's weight (n, k)).
    for (const c of cases.filter((x) => x.m < 4 && x.form === "nt")) {
      const k = engine.kernels;
      const aPtr = put(c.a);
      const bPtr = put(c.b);
      const cPtr = put(new Float32Array(c.m * c.n));
      const panels = put(new Float32Array(k.panels_length(c.k, c.n)));
      k.pack_panels(panels, bPtr, c.k, 1, c.k, c.n);
      const run = () => k.gemm_panels(cPtr, aPtr, panels, 0, c.m, c.n, c.k, c.k, c.n, 0);
      run();
      const err = maxScaledError(engine.readF32(cPtr, c.m * c.n), c.want, c.scale);
      if (!(err <= GEMM_TOLERANCE)) abortDisagreement("distill-wasm gemm_panels differs from the naive JS loop", `${shapeText(c)}: ${err}`);
      panelTimings.push({ c, err, timing: await measure(`distill-wasm gemm_panels ${shapeText(c)}`, run, FAST) });
      planCases.push({ form: "panels", m: c.m, k: c.k, n: c.n, run });
    }
    progress("distill-wasm plan candidates\n");
    planRows = await timeCandidates(engine, planCases);
  } finally {
    for (const p of owned) engine.free(p);
  }

  // tfjs: one backend at a time; tensors created on it outside the timed region.
  const tf = ctx.tfjs.tf;
  for (const backend of ["wasm", "cpu"] as TfBackend[]) {
    const lib = TF_LIBS[backend] as KernelLib;
    if (!tf || !ctx.tfjs.available.includes(backend)) {
      skipped[lib] = ctx.tfjs.skipped[backend] ?? "not loaded";
      continue;
    }
    progress(`${lib} tf.matMul\n`);
    await useBackend(tf, backend);
    const prepared = cases.map((c) => {
      const [[ar, ac], [br, bc]] = operandShapes(c.form, c);
      const a = tf.tensor2d(c.a, [ar, ac]);
      const b = tf.tensor2d(c.b, [br, bc]);
      const ta = c.form === "tn";
      const tb = c.form === "nt";
      const run = () => {
        const out = tf.matMul(a, b, ta, tb);
        out.dataSync();
        out.dispose();
      };
      const out = tf.matMul(a, b, ta, tb);
      errors.set(keyOf(c, lib), maxScaledError(out.dataSync() as Float32Array, c.want, c.scale));
      out.dispose();
      return { c, run, tensors: [a, b] as TF.Tensor[] };
    });
    checkErrors(cases, errors, lib);
    const tensorsBefore = tf.memory().numTensors;
    for (const { c, run } of prepared) {
      const first = await once(run);
      timings.set(keyOf(c, lib), await measure(`${lib} matMul ${c.form} ${shapeText(c)}`, run, budgetFor(first)));
    }
    if (tf.memory().numTensors !== tensorsBefore) throw new Error(`${lib}: tensors leaked during the GEMM timing`);
    for (const p of prepared) for (const t of p.tensors) t.dispose();
  }

  progress("peak probe\n");
  const middle = await measurePeak("between the GEMMs");

  progress("naive JS\n");
  for (const c of cases) {
    const out = new Float32Array(c.m * c.n);
    const run = () => NAIVE_GEMM[c.form](out, c.a, c.b, c.m, c.n, c.k);
    errors.set(keyOf(c, "naive JS"), 0);
    const first = await once(run);
    timings.set(keyOf(c, "naive JS"), await measure(`naive JS ${c.form} ${shapeText(c)}`, run, budgetFor(first)));
  }

  progress("peak probe\n");
  const after = await measurePeak("after the GEMMs");
  const probes = [before, middle, after];
  const peakGflops = Math.max(...probes.map((p) => p.gflops));
  const peak: PeakResult = {
    chains: PEAK_CHAINS,
    unroll: PEAK_UNROLL,
    flopsPerCall: PEAK_ITERATIONS * PEAK_FLOPS_PER_ITERATION,
    gflopsEach: probes.map((p) => p.gflops),
    gflops: peakGflops,
    timings: probes.map((p) => p.timing),
  };

  const libs: KernelLib[] = ["distill-wasm", "tfjs-wasm", "tfjs-cpu", "naive JS"];
  for (const c of cases) {
    const base = timings.get(keyOf(c, "distill-wasm"))!;
    for (const lib of libs) {
      const timing = timings.get(keyOf(c, lib));
      if (!timing) continue;
      const gflops = (2 * c.m * c.n * c.k) / (timing.medianMs * 1e6);
      rows.push({
        form: c.form,
        m: c.m,
        k: c.k,
        n: c.n,
        library: lib,
        timing,
        gflops,
        ...(lib === "distill-wasm" || lib === "tfjs-wasm" ? { fractionOfPeak: gflops / peakGflops } : {}),
        distillSpeedup: timing.medianMs / base.medianMs,
        maxScaledError: errors.get(keyOf(c, lib))!,
      });
    }
  }

  const panels: PanelRow[] = panelTimings.map(({ c, err, timing }) => {
    const gflops = (2 * c.m * c.n * c.k) / (timing.medianMs * 1e6);
    return { m: c.m, k: c.k, n: c.n, timing, gflops, fractionOfPeak: gflops / peakGflops, maxScaledError: err };
  });
  printKernelTable(ctx, cases, rows, peak, skipped);
  withPeak(planRows, peakGflops);
  for (const p of panels) {
    const line =
      `gemm_panels ${shapeText(p)} (B packed once into 16-column panels, as batch-1 inference runs it): ` +
      `${fmtNum(p.gflops)} GFLOP/s, ${pct(p.fractionOfPeak)} of peak`;
    console.log(line);
    ctx.summary.push(line);
  }
  printPlanTable(planRows, planInfo.note);
  ctx.summary.push(`GEMM plan (${planInfo.cpuId ?? planInfo.cpu}): ${planInfo.note}`);
  return { peak, rows, panels, plan: planInfo, planCandidates: planRows, tolerance: GEMM_TOLERANCE, skipped };
}

function checkErrors(cases: readonly Case[], errors: Map<string, number>, lib: KernelLib): void {
  const lines: string[] = [];
  for (const c of cases) {
    const err = errors.get(`${lib} ${c.form} ${shapeText(c)}`)!;
    progress(`  check ${lib} ${c.form} ${shapeText(c)}: max scaled error ${err.toExponential(2)}\n`);
    if (!(err <= GEMM_TOLERANCE)) lines.push(`${c.form} ${shapeText(c)}: max |C − C_js| / Σ|a·b| = ${err.toExponential(2)}`);
  }
  if (lines.length > 0) abortDisagreement(`${lib} GEMM results differ from the naive JS loop beyond ${GEMM_TOLERANCE}`, lines.join("\n"));
}

function printKernelTable(ctx: Context, cases: readonly Case[], rows: readonly KernelRow[], peak: PeakResult, skipped: Record<string, string>): void {
  const find = (c: Case, lib: KernelLib) => rows.find((r) => r.form === c.form && r.m === c.m && r.k === c.k && r.n === c.n && r.library === lib);
  const columns: Column<Case>[] = [
    { header: "kernel", cell: (c) => `gemm_${c.form}`, align: "left" },
    { header: "m×k×n", cell: shapeText, align: "left" },
    { header: "distill-wasm", cell: (c) => msCell(find(c, "distill-wasm")?.timing) },
    { header: "GFLOP/s", cell: (c) => fmtNum(find(c, "distill-wasm")?.gflops) },
    { header: "% peak", cell: (c) => pct(find(c, "distill-wasm")?.fractionOfPeak) },
    { header: "tfjs-wasm", cell: (c) => msCell(find(c, "tfjs-wasm")?.timing) },
    { header: "GFLOP/s", cell: (c) => fmtNum(find(c, "tfjs-wasm")?.gflops) },
    { header: "% peak", cell: (c) => pct(find(c, "tfjs-wasm")?.fractionOfPeak) },
    { header: "÷", cell: (c) => ratioCell(find(c, "tfjs-wasm")?.distillSpeedup) },
    { header: "tfjs-cpu", cell: (c) => msCell(find(c, "tfjs-cpu")?.timing) },
    { header: "GFLOP/s", cell: (c) => fmtNum(find(c, "tfjs-cpu")?.gflops) },
    { header: "÷", cell: (c) => ratioCell(find(c, "tfjs-cpu")?.distillSpeedup) },
    { header: "naive JS", cell: (c) => msCell(find(c, "naive JS")?.timing) },
    { header: "GFLOP/s", cell: (c) => fmtNum(find(c, "naive JS")?.gflops) },
    { header: "÷", cell: (c) => ratioCell(find(c, "naive JS")?.distillSpeedup) },
  ];
  console.log(
    `wasm-SIMD peak probe (${peak.chains} independent f32x4 mul+add chains in registers): ` +
      `${peak.gflopsEach.map(fmtNum).join(", ")} GFLOP/s (medians before, between and after the GEMM timings); peak = ${fmtNum(peak.gflops)} GFLOP/s`,
  );
  console.log(
    "(Baseline SIMD has no FMA, so mul + add at full rate is the ceiling of any f32x4 GEMM; " +
      "values of 100% ± a few % mean the kernel runs at the probe's rate, within clock-speed noise.)\n",
  );
  console.log(renderTable(columns, cases));
  console.log();
  console.log("Times are medians in ms ±IQR/median. GFLOP/s = 2·m·n·k / median. % peak = GFLOP/s / peak probe.");
  console.log("÷ = that library's median / distill-wasm's median (how many times faster distill-wasm is).");
  console.log("distill-wasm: one kernel call on wasm-resident operands. tfjs: tf.matMul(a, b, transposeA, transposeB) on");
  console.log("resident tensors + dataSync() + dispose(). nt = A·Bᵀ (transposeB), tn = Aᵀ·B (transposeA).");
  const worst = Math.max(...rows.map((r) => r.maxScaledError));
  console.log(`All results agree with the naive JS loop to ${GEMM_TOLERANCE.toExponential(0)} of Σ|a·b| (worst: ${worst.toExponential(2)}).`);
  for (const [lib, reason] of Object.entries(skipped)) console.log(`SKIPPED ${lib}: ${reason}`);

  const big = cases.filter((c) => c.m >= 128 && c.n >= 256);
  const fr = big.map((c) => find(c, "distill-wasm")!.fractionOfPeak!);
  ctx.summary.push(
    `GEMM % of wasm-SIMD peak (${fmtNum(peak.gflops)} GFLOP/s), distill-wasm, shapes with m ≥ 128 and n ≥ 256: ` +
      `${pct(Math.min(...fr))}–${pct(Math.max(...fr))}; ` +
      cases
        .filter((c) => c.n < 256 || c.m < 128)
        .map((c) => `${c.form} ${shapeText(c)} ${pct(find(c, "distill-wasm")!.fractionOfPeak)}`)
        .join(", "),
  );
}
