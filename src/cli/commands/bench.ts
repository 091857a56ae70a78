/**
 * `distill-wasm bench`: a quick measurement of this machine and runtime with the library
 * alone (no comparison libraries needed): GEMM throughput and the samples per second of a
 * distillation step and of inference, with the GEMM plan the engine chose for this CPU
 * (engine.gemmPlan; `--json` prints the plan object). `npm run bench` in a checkout runs the full suite
 * against TensorFlow.js and onnxruntime-web.
 */
import { distill } from "../../distill/distill.js";
import { Dataset } from "../../data/dataset.js";
import { getEngine } from "../../init.js";
import { mlp } from "../../nn/mlp.js";
import { ENGINE_FLAGS, startEngine } from "../engine.js";
import type { Flags, FlagSpec } from "../args.js";
import type { Context } from "../context.js";

export const BENCH_USAGE = "usage: distill-wasm bench [--threads N|auto] [--json]";
export const BENCH_SPEC: Record<string, FlagSpec> = {
  ...ENGINE_FLAGS,
  json: { kind: "boolean", help: "print one JSON document" },
};

/** Median wall time in ms of `fn` over `repeats` runs after one warm-up. */
function median(fn: () => void, repeats: number): number {
  fn();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

function gemmRows(): { name: string; ms: number; gflops: number }[] {
  const e = getEngine();
  const k = e.kernels;
  return e.scoped(() =>
    [
      { form: "nt", m: 128, kk: 784, n: 800 },
      { form: "tn", m: 800, kk: 128, n: 784 },
      { form: "nn", m: 256, kk: 256, n: 256 },
    ].map(({ form, m, kk, n }) => {
      const a = e.allocF32(m * kk);
      const b = e.allocF32(kk * n);
      const c = e.allocF32(m * n);
      const rng = e.alloc(16);
      k.rng_seed(rng, 1, 2);
      k.rng_uniform(rng, a, m * kk, -1, 1);
      k.rng_uniform(rng, b, kk * n, -1, 1);
      const lda = form === "tn" ? m : kk;
      const ldb = form === "nt" ? kk : n;
      const gemm = k[`gemm_${form}` as "gemm_nn"];
      const ms = median(() => gemm(c, a, b, 0, m, n, kk, lda, ldb, n, 0), 20);
      return { name: `gemm_${form} ${m}×${kk}×${n}`, ms, gflops: (2 * m * n * kk) / (ms * 1e6) };
    }),
  );
}

export async function runBench(ctx: Context, flags: Flags): Promise<number> {
  await startEngine(flags);
  const rows = gemmRows();
  // The distillation step of a 784-800-800-10 student, batch 128, teacher logits precomputed.
  const n = 1024;
  const x = new Float32Array(n * 784).map((_, i) => ((i * 7919) % 256) / 255);
  const y = new Int32Array(n).map((_, i) => i % 10);
  const logits = new Float32Array(n * 10).map((_, i) => ((i * 31) % 17) / 4 - 2);
  const data = Dataset.from(x, y, { features: 784, classes: 10 });
  const student = mlp([784, 800, 800, 10], { seed: 1 });
  const steps = 24;
  await distill({ teacher: logits, student, data, steps: 2, batchSize: 128 }); // warm-up
  let t = performance.now();
  await distill({ teacher: logits, student, data, steps, batchSize: 128 });
  const stepSamples = (steps * 128) / ((performance.now() - t) / 1000);
  const batch = x.subarray(0, 128 * 784);
  const single = x.subarray(0, 784);
  const infer128 = median(() => void student.logits(batch), 10);
  const infer1 = median(() => void student.logits(single), 50);
  student.dispose();
  const result = {
    command: "bench",
    build: getEngine().build,
    threads: getEngine().threads,
    gemmPlan: getEngine().gemmPlan,
    gemmPlanNote: getEngine().gemmPlanNote,
    gemm: rows,
    distillStep: { model: "784-800-800-10", batch: 128, samplesPerSecond: stepSamples },
    inference: { model: "784-800-800-10", batch1SamplesPerSecond: 1000 / infer1, batch128SamplesPerSecond: (128 * 1000) / infer128 },
  };
  if (ctx.mode === "json") {
    ctx.json(result);
    return 0;
  }
  const threads = result.threads === 1 ? "single thread" : `${result.threads} threads`;
  ctx.say(`distill-wasm bench (${threads}, ${result.build} build)`);
  ctx.say(`  GEMM plan: ${result.gemmPlanNote}`);
  for (const r of rows) ctx.say(`  ${r.name.padEnd(24)} ${r.ms.toFixed(3).padStart(8)} ms  ${r.gflops.toFixed(1).padStart(6)} GFLOP/s`);
  ctx.say(`  distillation step 784-800-800-10, batch 128   ${stepSamples.toFixed(0).padStart(7)} samples/s`);
  ctx.say(`  inference 784-800-800-10, batch 1             ${result.inference.batch1SamplesPerSecond.toFixed(0).padStart(7)} samples/s`);
  ctx.say(`  inference 784-800-800-10, batch 128           ${result.inference.batch128SamplesPerSecond.toFixed(0).padStart(7)} samples/s`);
  return 0;
}
