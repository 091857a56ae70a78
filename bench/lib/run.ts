/**
 * Runs a selection of suites in one process and writes their results: JSON under
 * bench/results/ and, when the training-step and inference suites both ran, the
 * samples/s bar chart (SVG).
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { runConv } from "../suites/conv.js";
import { runInference } from "../suites/inference.js";
import { runKernels } from "../suites/kernels.js";
import { runSteps } from "../suites/steps.js";
import { createContext } from "./context.js";
import { RESULTS_DIR, writeResults } from "./results.js";
import { barChartSvg } from "./svg.js";

export type SuiteName = "kernels" | "steps" | "inference" | "conv";
const ALL: readonly SuiteName[] = ["kernels", "steps", "inference", "conv"];

export async function runSuites(argv: readonly string[], suites: readonly SuiteName[] = ALL): Promise<void> {
  const started = performance.now();
  const needsOrt = suites.includes("inference");
  const ctx = await createContext(argv, { ort: needsOrt });
  const results: Record<string, unknown> = {};
  if (suites.includes("kernels")) results.kernels = await runKernels(ctx);
  if (suites.includes("steps")) results.steps = await runSteps(ctx);
  if (suites.includes("inference")) results.inference = await runInference(ctx);
  if (suites.includes("conv")) results.conv = await runConv(ctx);

  const seconds = (performance.now() - started) / 1000;
  console.log("\n## Summary\n");
  for (const line of ctx.summary) console.log(`- ${line}`);
  console.log(`\nTotal time ${seconds.toFixed(0)} s.`);

  const all = suites.length === ALL.length;
  const build = ctx.simd === "baseline" ? undefined : ctx.engine.build;
  const variant = [all ? undefined : suites.join("+"), build].filter(Boolean).join("-") || undefined;
  const skipped: Record<string, string> = {};
  for (const [b, reason] of Object.entries(ctx.tfjs.skipped)) skipped[`tfjs-${b}`] = reason;
  if (ctx.ort.skipped && needsOrt) skipped["onnxruntime-web"] = ctx.ort.skipped;
  const file = writeResults(
    ctx.machine,
    {
      suite: all ? "all" : suites.join("+"),
      wasmBuild: ctx.engine.build,
      simd: ctx.simd,
      threads: 1,
      versions: ctx.versions,
      tfjsWasm: ctx.tfjs.wasmInfo,
      skipped,
      seconds,
      summary: ctx.summary,
      chart: ctx.chart,
      ...results,
    },
    variant,
  );
  console.log(`wrote ${path.relative(process.cwd(), file)}`);

  if (suites.includes("steps") && suites.includes("inference")) {
    const name = ctx.machine.runtime === "node" && ctx.simd === "baseline"
      ? "samples-per-second.svg"
      : `samples-per-second-${[ctx.machine.runtime, build].filter(Boolean).join("-")}.svg`;
    const svgFile = path.join(RESULTS_DIR, name);
    const title = `Samples per second, single thread — ${ctx.machine.cpu}, ${ctx.machine.runtime} ${ctx.machine.runtimeVersion}, ${ctx.machine.date.slice(0, 10)}`;
    writeFileSync(svgFile, barChartSvg(title, ctx.chart));
    console.log(`wrote ${path.relative(process.cwd(), svgFile)}`);
  }
}
