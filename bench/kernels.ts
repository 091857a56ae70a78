/**
 * Kernel benchmark: the wasm SIMD GEMM kernels against a naive JavaScript triple loop.
 *
 *   npm run bench:kernels                       (baseline SIMD build)
 *   npx tsc -p bench && node bench/dist/kernels.js --simd=relaxed
 *     (Node 20 needs --experimental-wasm-relaxed-simd for the relaxed build; its results
 *     go to bench/results/<runtime>-relaxed-<YYYY-MM-DD>.json)
 *
 * For each form (nn, nt, tn; see assembly/gemm.ts) and shape m×k×n, both sides are first
 * checked to agree numerically, then timed with tinybench. Prints a table and writes
 * bench/results/<runtime>-<YYYY-MM-DD>.json.
 */
import { init, type Engine, type InitOptions, type KernelExports } from "distill-wasm";
import { Bench, type Task } from "tinybench";
import { machineInfo, machineLabel } from "./lib/machine.js";
import { absF32, maxScaledError, NAIVE_GEMM, type GemmForm } from "./lib/naive.js";
import { uniformF32 } from "./lib/random.js";
import { writeResults } from "./lib/results.js";
import { timingOf, type Timing } from "./lib/stats.js";
import { fmtNum, renderTable, type Column } from "./lib/table.js";

interface Shape {
  m: number;
  k: number;
  n: number;
}

// Shapes (m × k × n), as in a dense layer with batch m, k inputs and n outputs.
const SHAPES: readonly Shape[] = [
  { m: 128, k: 784, n: 800 }, // MNIST input layer: batch 128, 784 → 800
  { m: 128, k: 800, n: 800 }, // hidden layer: batch 128, 800 → 800
  { m: 256, k: 256, n: 256 }, // square, fits the packing blocks exactly (KC = NC = 256)
];
const FORMS: readonly GemmForm[] = ["nn", "nt", "tn"];

/** Max |wasm − JS| / Σ_p|a_ip·b_pj| allowed before the benchmark refuses to time anything. */
const TOLERANCE = 1e-5;

// Time budgets: the wasm kernels take milliseconds, the naive loops up to a few hundred.
const WASM_BENCH = { time: 800, iterations: 25, warmupTime: 200, warmupIterations: 5 };
const NAIVE_BENCH = { time: 0, iterations: 5, warmupTime: 0, warmupIterations: 1 };

interface Case extends Shape {
  form: GemmForm;
  /** Runs the wasm kernel once on the case's buffers. */
  wasm: () => void;
  /** Runs the naive JS loop once. */
  naive: () => void;
  maxScaledError: number;
}

interface Row extends Shape {
  suite: "gemm";
  form: GemmForm;
  impl: "wasm" | "js";
  kernel: string;
  timing: Timing;
  gflops: number;
  /** For wasm rows: naive JS median / wasm median. */
  speedupVsJs?: number;
  maxScaledError: number;
}

function parseSimd(argv: readonly string[]): NonNullable<InitOptions["simd"]> {
  const arg = argv.find((a) => a.startsWith("--simd="));
  const value = arg?.slice("--simd=".length) ?? "baseline";
  if (value !== "baseline" && value !== "relaxed" && value !== "prefer-relaxed") {
    throw new Error(`--simd must be baseline, relaxed or prefer-relaxed; got ${value}`);
  }
  return value;
}

const shapeText = ({ m, k, n }: Shape) => `${m}×${k}×${n}`;

/** Leading dimensions (lda, ldb, ldc) of tightly packed operands for each form. */
function leadingDims(form: GemmForm, { m, k, n }: Shape): [number, number, number] {
  if (form === "nn") return [k, n, n]; // A (m,k), B (k,n)
  if (form === "nt") return [k, k, n]; // A (m,k), B (n,k)
  return [m, n, n]; // tn: A (k,m), B (k,n)
}

/**
 * Allocates the operands once (outside anything timed), runs both implementations once
 * and compares them. A and B hold m·k and k·n values in every form; only their layout differs.
 */
function makeCase(engine: Engine, form: GemmForm, shape: Shape, seed: number): Case {
  const { m, k, n } = shape;
  const a = uniformF32(m * k, seed);
  const b = uniformF32(k * n, seed + 1);
  const cJs = new Float32Array(m * n);
  const aPtr = engine.putF32(a);
  const bPtr = engine.putF32(b);
  const cPtr = engine.allocF32(m * n);
  const [lda, ldb, ldc] = leadingDims(form, shape);
  const kernel: KernelExports["gemm_nn"] = engine.kernels[`gemm_${form}`];
  const naiveGemm = NAIVE_GEMM[form];
  const wasm = () => kernel(cPtr, aPtr, bPtr, 0, m, n, k, lda, ldb, ldc, 0);
  const naive = () => naiveGemm(cJs, a, b, m, n, k);

  wasm();
  naive();
  const scale = new Float32Array(m * n);
  naiveGemm(scale, absF32(a), absF32(b), m, n, k);
  const err = maxScaledError(engine.readF32(cPtr, m * n), cJs, scale);
  return { form, ...shape, wasm, naive, maxScaledError: err };
}

function addTask(bench: Bench, name: string, fn: () => void): void {
  bench.add(name, fn, { async: false });
}

function reportProgress(bench: Bench): void {
  bench.addEventListener("cycle", (evt) => {
    const task = evt.task as Task | undefined;
    if (task?.result.state === "completed") {
      process.stderr.write(`  ${task.name.padEnd(28)} ${fmtNum(task.result.latency.p50)} ms\n`);
    }
  });
}

async function main(): Promise<void> {
  const simd = parseSimd(process.argv.slice(2));
  const machine = machineInfo();
  const engine = await init({ simd });
  const label = machineLabel(machine);
  console.log(`distill-wasm kernel benchmark — ${label}`);
  console.log(`wasm build: ${engine.build} (init({ simd: "${simd}" }))`);

  // Build and check every case before timing anything.
  const cases: Case[] = [];
  let seed = 1;
  for (const shape of SHAPES) {
    for (const form of FORMS) cases.push(makeCase(engine, form, shape, (seed += 2)));
  }
  const bad = cases.filter((c) => !(c.maxScaledError <= TOLERANCE));
  for (const c of cases) {
    process.stderr.write(`check gemm_${c.form} ${shapeText(c)}: max scaled error ${c.maxScaledError.toExponential(2)}\n`);
  }
  if (bad.length > 0) {
    const list = bad.map((c) => `gemm_${c.form} ${shapeText(c)} (${c.maxScaledError.toExponential(2)})`).join(", ");
    console.error(`\nFAILED: wasm and naive JS GEMM disagree beyond ${TOLERANCE}: ${list}. Nothing was timed.`);
    process.exit(1);
  }

  const wasmBench = new Bench({ name: "wasm", retainSamples: true, throws: true, ...WASM_BENCH });
  const jsBench = new Bench({ name: "naive js", retainSamples: true, throws: true, ...NAIVE_BENCH });
  const wasmName = (c: Case) => `wasm gemm_${c.form} ${shapeText(c)}`;
  const jsName = (c: Case) => `js ${c.form} ${shapeText(c)}`;
  for (const c of cases) {
    addTask(wasmBench, wasmName(c), c.wasm);
    addTask(jsBench, jsName(c), c.naive);
  }
  reportProgress(wasmBench);
  reportProgress(jsBench);
  process.stderr.write("timing wasm kernels\n");
  await wasmBench.run();
  process.stderr.write("timing naive JS\n");
  await jsBench.run();

  const rows: Row[] = [];
  for (const c of cases) {
    const flops = 2 * c.m * c.n * c.k;
    const wasmTiming = timingOf(wasmBench.getTask(wasmName(c))!);
    const jsTiming = timingOf(jsBench.getTask(jsName(c))!);
    const common = { suite: "gemm" as const, form: c.form, m: c.m, k: c.k, n: c.n, maxScaledError: c.maxScaledError };
    rows.push({
      ...common, impl: "wasm", kernel: `gemm_${c.form}`, timing: wasmTiming,
      gflops: flops / (wasmTiming.medianMs * 1e6), speedupVsJs: jsTiming.medianMs / wasmTiming.medianMs,
    });
    rows.push({ ...common, impl: "js", kernel: `naive js ${c.form}`, timing: jsTiming, gflops: flops / (jsTiming.medianMs * 1e6) });
  }

  const columns: Column<Row>[] = [
    { header: "kernel", cell: (r) => r.kernel, align: "left" },
    { header: "m×k×n", cell: shapeText, align: "left" },
    { header: "median ms", cell: (r) => fmtNum(r.timing.medianMs) },
    { header: "IQR/med", cell: (r) => `${(r.timing.relIqr * 100).toFixed(1)}%` },
    { header: "GFLOP/s", cell: (r) => fmtNum(r.gflops) },
    { header: "samples", cell: (r) => String(r.timing.samples) },
    { header: "wasm speedup", cell: (r) => (r.speedupVsJs === undefined ? "" : `${r.speedupVsJs.toFixed(1)}×`) },
  ];
  console.log();
  console.log(renderTable(columns, rows));
  console.log();
  console.log("IQR/med = (p75 − p25) / median; GFLOP/s = 2·m·n·k / median; wasm speedup = naive JS median / wasm median.");
  console.log(`All results agree with the naive JS loop to ${TOLERANCE.toExponential(0)} of Σ|a·b| (worst: ${Math.max(...cases.map((c) => c.maxScaledError)).toExponential(2)}).`);

  const file = writeResults(
    machine,
    {
      suite: "kernels",
      wasmBuild: engine.build,
      simd,
      tolerance: TOLERANCE,
      benchOptions: { wasm: WASM_BENCH, naiveJs: NAIVE_BENCH },
      rows,
    },
    simd === "baseline" ? undefined : engine.build,
  );
  console.log(`wrote ${file}`);
}

await main();
