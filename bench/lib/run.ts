/**
 * Runs a selection of suites in one process (or page) and saves their results through the
 * platform: the JSON file and, when the training-step and inference suites both ran, the
 * samples/s bar chart (SVG).
 *
 * Options read from argv: --simd=baseline|relaxed|prefer-relaxed, --quick, and
 * --suites=kernels,steps,inference,int8,threads,conv,native,epochs,stream (overrides the entry point's
 * selection); the epochs suite also reads --mnist=DIR and --full-epochs.
 */
import { runConv } from "../suites/conv.js";
import { runEpochs } from "../suites/epochs.js";
import { runInference } from "../suites/inference.js";
import { runInt8 } from "../suites/int8.js";
import { runKernels } from "../suites/kernels.js";
import { runNative } from "../suites/native.js";
import { runSteps } from "../suites/steps.js";
import { runStream } from "../suites/stream.js";
import { runThreads } from "../suites/threads.js";
import { createContext, type Context } from "./context.js";
import type { Platform, SuiteLoad } from "./platform.js";
import { resultsFileName, resultsJson } from "./results.js";
import { barChartSvg } from "./svg.js";

/** Every suite, in the order a full run takes them. */
const SUITES = {
  kernels: runKernels,
  steps: runSteps,
  inference: runInference,
  int8: runInt8,
  threads: runThreads,
  conv: runConv,
  native: runNative,
  epochs: runEpochs,
  stream: runStream,
} satisfies Record<string, (ctx: Context) => Promise<unknown>>;

export type SuiteName = keyof typeof SUITES;
export const ALL_SUITES = Object.keys(SUITES) as readonly SuiteName[];

/** The suites named by --suites=a,b (in the canonical order), else `fallback`. */
export function parseSuites(argv: readonly string[], fallback: readonly SuiteName[] = ALL_SUITES): readonly SuiteName[] {
  const arg = argv.find((a) => a.startsWith("--suites="));
  if (arg === undefined) return fallback;
  const names = arg.slice("--suites=".length).split(",").filter(Boolean);
  for (const n of names) {
    if (!ALL_SUITES.includes(n as SuiteName)) throw new Error(`--suites: unknown suite ${n} (known: ${ALL_SUITES.join(", ")})`);
  }
  if (names.length === 0) throw new Error("--suites: name at least one suite");
  return ALL_SUITES.filter((s) => names.includes(s));
}

/** The names of the saved files, for callers that want them (the browser page offers them for download). */
export interface RunOutput {
  files: { name: string; text: string; location: string }[];
}

export async function runSuites(argv: readonly string[], entrySuites: readonly SuiteName[], platform: Platform): Promise<RunOutput> {
  const suites = parseSuites(argv, entrySuites);
  const started = performance.now();
  const needsOrt = suites.includes("inference") || suites.includes("int8");
  const ctx = await createContext(argv, { ort: needsOrt }, platform);
  const results: Record<string, unknown> = {};
  const load: Partial<Record<SuiteName, SuiteLoad>> = {};
  for (const suite of suites) {
    const stop = platform.startLoadRecord?.();
    results[suite] = await SUITES[suite](ctx);
    if (stop) {
      const l = (load[suite] = stop());
      const cpu = l.stealPercent !== undefined ? `, CPU time ${l.busyPercent}% busy, ${l.stealPercent}% stolen by the hypervisor` : "";
      console.log(`\n(machine during the ${suite} suite: load average ${l.loadAverageStart} → ${l.loadAverageEnd}${cpu})`);
    }
  }

  const seconds = (performance.now() - started) / 1000;
  console.log("\n## Summary\n");
  for (const line of ctx.summary) console.log(`- ${line}`);
  console.log(`\nTotal time ${seconds.toFixed(0)} s.`);

  const all = suites.length === ALL_SUITES.length;
  const build = ctx.simd === "baseline" ? undefined : ctx.engine.build;
  const variant = [all ? undefined : suites.join("+"), ctx.quick ? "quick" : undefined, build].filter(Boolean).join("-") || undefined;
  const skipped: Record<string, string> = {};
  for (const [b, reason] of Object.entries(ctx.tfjs.skipped)) skipped[`tfjs-${b}`] = reason;
  if (ctx.ort.skipped && needsOrt) skipped["onnxruntime-web"] = ctx.ort.skipped;
  const output: RunOutput = { files: [] };
  const save = async (name: string, text: string) => {
    const location = await platform.saveFile(name, text);
    output.files.push({ name, text, location });
    console.log(`wrote ${location}`);
  };
  await save(
    resultsFileName(ctx.machine, variant),
    resultsJson(ctx.machine, {
      suite: all ? "all" : suites.join("+"),
      wasmBuild: ctx.engine.build,
      gemmPlan: ctx.engine.gemmPlan,
      gemmPlanNote: ctx.engine.gemmPlanNote,
      load,
      simd: ctx.simd,
      threads: 1,
      ...(ctx.quick ? { quick: true } : {}),
      versions: ctx.versions,
      tfjsWasm: ctx.tfjs.wasmInfo,
      skipped,
      seconds,
      summary: ctx.summary,
      chart: ctx.chart,
      ...results,
    }),
  );

  if (suites.includes("steps") && suites.includes("inference")) {
    const name =
      ctx.machine.runtime === "node" && ctx.simd === "baseline" && !ctx.quick
        ? "samples-per-second.svg"
        : `samples-per-second-${[ctx.machine.runtime, ctx.quick ? "quick" : undefined, build].filter(Boolean).join("-")}.svg`;
    const threads = suites.includes("threads") ? "single thread unless marked" : "single thread";
    const title = `Samples per second, ${threads} — ${ctx.machine.cpu}, ${ctx.machine.runtime} ${ctx.machine.runtimeVersion}, ${ctx.machine.date.slice(0, 10)}`;
    await save(name, barChartSvg(title, ctx.chart));
  }
  return output;
}
