/**
 * Section 5, threads: the same work on one thread and on every core of the machine
 * (`init({ threads })`, GEMMs split by output across workers on shared wasm memory).
 *
 * Before timing, each scenario runs once on both engines from the same weights and the
 * results must be bit-identical (parameters after a training step, logits of inference);
 * otherwise the suite stops. Then each is timed with tinybench on both engines.
 *
 * Scenarios: the teacher's supervised step (784-1200-1200-10, batch 128, momentum SGD),
 * the distillation step (784-800-800-10, batch 128, T = 4, cached teacher logits) — both
 * section 2's WasmStep —, a supervised step of a small MNIST CNN (convolutions split by images
 * and by weight-gradient columns), inference of 784-800-800-10 at batch 1 and 128, and GEMM
 * 128×800×800 in the three forms.
 * The comparison libraries are single-threaded here (their thread count is fixed per
 * process), so this section compares distill-wasm with itself.
 */
import { conv2d, createEngine, dense, flatten, maxPool2d, mlp, relu, Sequential, type Engine } from "distill-wasm";
import { abortDisagreement, msCell, ratioCell, type Context } from "../lib/context.js";
import { forwardFlops, makeBatch, paramsOf, setParams, trainingFlops } from "../lib/mlp.js";
import type { Timing } from "../lib/stats.js";
import { progress } from "../lib/progress.js";
import { fmtNum, renderTable, type Column } from "../lib/table.js";
import { budgetFor, measure, once } from "../lib/timing.js";
import { BATCH, WasmStep } from "./steps.js";

export interface ThreadsRow {
  scenario: string;
  /** Samples per call (0 for GEMM rows). */
  samples: number;
  flops: number;
  single: Timing;
  threaded: Timing;
  /** single median / threaded median */
  speedup: number;
  sameBits: true;
}

export interface ThreadsResult {
  threads: number;
  rows: ThreadsRow[];
  skipped?: string;
}

/** A small MNIST CNN (same seed, so the same weights, on every engine). */
const mnistCnn = (engine: Engine): Sequential =>
  new Sequential(
    [conv2d(1, 16, 3, { padding: 1 }), relu(), maxPool2d(2), conv2d(16, 32, 3, { padding: 1 }), relu(), maxPool2d(2), flatten(), dense(32 * 7 * 7, 10)],
    { inputShape: [1, 28, 28], seed: 44, engine },
  );

/**
 * Multiply-adds of mnistCnn's training step per sample, ×2 for FLOPs: each layer's forward,
 * weight gradient and input gradient (none for the first layer) are one product each
 * (conv: cout·oh·ow·cin·kh·kw; dense: in·out).
 */
const CNN_TRAINING_FLOPS_PER_SAMPLE =
  2 *
  (2 * (16 * 28 * 28 * 1 * 9) + // conv 1: forward, weight gradient
    3 * (32 * 14 * 14 * 16 * 9) + // conv 2: forward, weight and input gradients
    3 * (32 * 7 * 7 * 10)); // dense

function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** Runs `make(engine)` on both engines, checks the outputs agree bit for bit, then times both. */
async function compare(
  name: string,
  engines: [Engine, Engine],
  make: (engine: Engine) => { run: () => unknown; output: () => Float32Array; dispose: () => void },
): Promise<{ single: Timing; threaded: Timing }> {
  const [a, b] = engines.map((e) => make(e)) as [ReturnType<typeof make>, ReturnType<typeof make>];
  try {
    a.run();
    b.run();
    if (!sameBits(a.output(), b.output())) {
      abortDisagreement(`${name}: one thread and ${engines[1].threads} threads`, "the outputs differ in their bits");
    }
    const single = await measure(`${name}, 1 thread`, a.run, budgetFor(await once(a.run)));
    const threaded = await measure(`${name}, ${engines[1].threads} threads`, b.run, budgetFor(await once(b.run)));
    return { single, threaded };
  } finally {
    a.dispose();
    b.dispose();
  }
}

export async function runThreads(ctx: Context): Promise<ThreadsResult> {
  const threads = Math.max(2, ctx.machine.cores);
  console.log(`\n## 5. Threads: one thread vs ${threads} (init({ threads: ${threads} }))\n`);
  const single = ctx.engine;
  const threaded = await createEngine({ simd: ctx.simd, threads });
  if (threaded.threads === 1) {
    const skipped = threaded.threadsNote ?? "threads unavailable";
    console.log(`SKIPPED: ${skipped}`);
    return { threads: 1, rows: [], skipped };
  }
  const engines: [Engine, Engine] = [single, threaded];
  const rows: ThreadsRow[] = [];
  const add = (scenario: string, samples: number, flops: number, t: { single: Timing; threaded: Timing }) => {
    rows.push({ scenario, samples, flops, ...t, speedup: t.single.medianMs / t.threaded.medianMs, sameBits: true });
  };

  try {
    for (const [scenario, widths, distill, seed] of [
      ["teacher step 784-1200-1200-10", [784, 1200, 1200, 10], false, 41],
      ["distillation step 784-800-800-10", [784, 800, 800, 10], true, 42],
    ] as const) {
      progress(`${scenario}, threads\n`);
      const batch = makeBatch(BATCH, widths[0], 10, seed);
      const init = mlp([...widths], { engine: single, seed });
      const params = paramsOf(init);
      init.dispose();
      add(
        `${scenario}, batch ${BATCH}`,
        BATCH,
        trainingFlops(widths, BATCH),
        await compare(scenario, engines, (engine) => {
          const step = WasmStep.mlp(engine, [...widths], params, batch, distill ? "distill" : "ce");
          return { run: step.step, output: () => step.model.parameterBlock(), dispose: () => step.dispose() };
        }),
      );
    }

    {
      const scenario = "CNN step 1×28×28: conv 16, pool, conv 32, pool, dense 10";
      progress(`${scenario}, threads\n`);
      const batch = makeBatch(BATCH, 784, 10, 43);
      add(
        `${scenario}, batch ${BATCH}`,
        BATCH,
        CNN_TRAINING_FLOPS_PER_SAMPLE * BATCH,
        await compare("CNN step", engines, (engine) => {
          const step = new WasmStep(engine, mnistCnn(engine), batch, "ce");
          return { run: step.step, output: () => step.model.parameterBlock(), dispose: () => step.dispose() };
        }),
      );
    }

    const widths = [784, 800, 800, 10];
    const init = mlp(widths, { engine: single, seed: 21 });
    const params = paramsOf(init);
    init.dispose();
    for (const rowsPerCall of [1, 128]) {
      const x = makeBatch(rowsPerCall, 784, 10, 31 + rowsPerCall).x;
      add(
        `inference, batch ${rowsPerCall}`,
        rowsPerCall,
        forwardFlops(widths, rowsPerCall),
        await compare(`inference b${rowsPerCall}`, engines, (engine) => {
          const model = mlp(widths, { engine });
          setParams(model, params);
          model.reserve(rowsPerCall);
          const xPtr = engine.allocOwned(x.length * 4);
          engine.f32(xPtr, x.length).set(x);
          let out = 0;
          return {
            run: () => (out = model.forward(xPtr, rowsPerCall, false)),
            output: () => engine.readF32(out, rowsPerCall * 10),
            dispose: () => {
              engine.free(xPtr);
              model.dispose();
            },
          };
        }),
      );
    }

    const [m, k, n] = [128, 800, 800];
    for (const form of ["nn", "nt", "tn"] as const) {
      const data = makeBatch(m + n, k, 2, 7).x; // m·k values of A, then n·k of B
      add(
        `gemm_${form} ${m}×${k}×${n}`,
        0,
        2 * m * k * n,
        await compare(`gemm_${form} ${m}×${k}×${n}`, engines, (engine) => {
          const a = engine.allocOwned(m * k * 4);
          const b = engine.allocOwned(k * n * 4);
          const c = engine.allocOwned(m * n * 4);
          engine.f32(a, m * k).set(data.subarray(0, m * k));
          engine.f32(b, k * n).set(data.subarray(m * k, m * k + k * n));
          const [lda, ldb] = form === "nn" ? [k, n] : form === "nt" ? [k, k] : [m, n];
          const gemm = engine.kernels[`gemm_${form}`];
          return {
            run: () => gemm(c, a, b, 0, m, n, k, lda, ldb, n, 0),
            output: () => engine.readF32(c, m * n),
            dispose: () => [a, b, c].forEach((p) => engine.free(p)),
          };
        }),
      );
    }
  } finally {
    threaded.dispose();
  }

  const columns: Column<ThreadsRow>[] = [
    { header: "scenario", cell: (r) => r.scenario, align: "left" },
    { header: "1 thread", cell: (r) => msCell(r.single) },
    { header: `${threads} threads`, cell: (r) => msCell(r.threaded) },
    { header: "speed-up", cell: (r) => ratioCell(r.speedup) },
    {
      header: `samples/s (${threads} threads)`,
      cell: (r) => (r.samples ? fmtNum((r.samples * 1000) / r.threaded.medianMs) : "-"),
    },
    { header: "GFLOP/s (1 → n)", cell: (r) => `${fmtNum(r.flops / r.single.medianMs / 1e6)} → ${fmtNum(r.flops / r.threaded.medianMs / 1e6)}` },
    { header: "same bits", cell: () => "yes" },
  ];
  console.log(renderTable(columns, rows));
  console.log(`\nms: median ±IQR/median. Every row was first run on both engines from the same inputs and compared bit for bit.`);
  const teacher = rows[0]!;
  ctx.summary.push(
    `Threads (${threads}): teacher step ${fmtNum(teacher.single.medianMs)} → ${fmtNum(teacher.threaded.medianMs)} ms ` +
      `(${ratioCell(teacher.speedup)}), ` +
      rows
        .slice(1)
        .map((r) => `${r.scenario} ${ratioCell(r.speedup)}`)
        .join(", ") +
      "; all bit-identical to one thread",
  );
  for (const r of rows) {
    if (r.samples)
      ctx.chart.push({ group: r.scenario, library: `distill-wasm, ${threads} threads`, samplesPerSecond: (r.samples * 1000) / r.threaded.medianMs });
  }
  return { threads, rows };
}
