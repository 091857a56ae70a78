/**
 * What every suite receives: the distill-wasm engine, the loaded comparison libraries, the
 * machine, the platform (what differs between Node and a browser page), and collectors.
 */
import { createEngine, init, type Engine, type InitOptions } from "distill-wasm";
import { machineLabel, type MachineInfo } from "./machine.js";
import { loadOrt, type OrtEnv } from "./ort.js";
import type { Platform } from "./platform.js";
import { setProgressSink } from "./progress.js";
import { capBudgets, QUICK } from "./timing.js";
import { loadTfjs, type TfjsEnv } from "./tfjs.js";

export type Simd = NonNullable<InitOptions["simd"]>;

/** One bar of the samples/s chart. */
export interface ChartBar {
  /** The scenario, e.g. "distillation step, batch 128". */
  group: string;
  library: string;
  samplesPerSecond: number;
}

export interface Context {
  /** The entry point's arguments (suites read their own options, e.g. --mnist=DIR). */
  argv: readonly string[];
  engine: Engine;
  simd: Simd;
  /**
   * The relaxed-SIMD build (fused multiply-add) beside the baseline one, single thread, for
   * the rows that show what giving up cross-CPU bit-identity buys; or why it is missing.
   * Absent when `engine` is itself a relaxed build (--simd=relaxed).
   */
  relaxed?: { engine: Engine } | { skipped: string };
  /**
   * --quick: the smallest shapes and a few timed calls each, to check that every
   * implementation loads, agrees and produces a row (the smoke test); not for numbers.
   */
  quick: boolean;
  platform: Platform;
  machine: MachineInfo;
  tfjs: TfjsEnv;
  ort: OrtEnv;
  versions: Record<string, string>;
  chart: ChartBar[];
  /** Lines for the final summary, added by the suites. */
  summary: string[];
}

export function parseSimd(argv: readonly string[]): Simd {
  const arg = argv.find((a) => a.startsWith("--simd="));
  const value = arg?.slice("--simd=".length) ?? "baseline";
  if (value !== "baseline" && value !== "relaxed" && value !== "prefer-relaxed") {
    throw new Error(`--simd must be baseline, relaxed or prefer-relaxed; got ${value}`);
  }
  return value;
}

export const parseQuick = (argv: readonly string[]): boolean => argv.includes("--quick");

/** Initialises distill-wasm and loads tfjs (wasm + cpu backends) and onnxruntime-web, printing what is skipped and why. */
export async function createContext(argv: readonly string[], options: { tfjs?: boolean; ort?: boolean }, platform: Platform): Promise<Context> {
  setProgressSink(platform.progress);
  const simd = parseSimd(argv);
  const quick = parseQuick(argv);
  capBudgets(quick ? QUICK : undefined);
  const machine = platform.machineInfo();
  const engine = await init({ simd });
  const relaxed = engine.build === "relaxed" ? undefined : await relaxedEngine();
  const tfjs: TfjsEnv =
    options.tfjs === false ? { available: [], skipped: {}, version: platform.packageVersion("@tensorflow/tfjs-core") } : await loadTfjs(platform);
  const ort: OrtEnv =
    options.ort === false ? { version: platform.packageVersion("onnxruntime-web"), skipped: "not used by this suite" } : await loadOrt(platform);
  const versions = {
    "distill-wasm": platform.projectVersion(),
    "@tensorflow/tfjs-core": tfjs.version,
    "@tensorflow/tfjs-backend-wasm": platform.packageVersion("@tensorflow/tfjs-backend-wasm"),
    "@tensorflow/tfjs-backend-cpu": platform.packageVersion("@tensorflow/tfjs-backend-cpu"),
    "onnxruntime-web": ort.version,
    tinybench: platform.packageVersion("tinybench"),
  };
  console.log(`distill-wasm benchmark — ${machineLabel(machine)}`);
  if (quick) console.log("QUICK MODE (--quick): smallest shapes, a few timed calls each; the numbers are not comparable.");
  console.log(`distill-wasm: wasm build ${engine.build} (init({ simd: "${simd}" })), single thread`);
  if (tfjs.available.length > 0) {
    const w = tfjs.wasmInfo;
    console.log(
      `tfjs ${tfjs.version}: backends ${tfjs.available.map((b) => (b === "wasm" ? "wasm" : "cpu")).join(", ")}` +
        (w ? ` (wasm: ${w.binary}, ${w.threads} thread${w.threads === 1 ? "" : "s"})` : ""),
    );
  }
  for (const [backend, reason] of Object.entries(tfjs.skipped)) {
    if (options.tfjs !== false) console.log(`SKIPPED tfjs-${backend}: ${reason}`);
  }
  if (relaxed && "engine" in relaxed) console.log('distill-wasm relaxed rows: wasm build relaxed (createEngine({ simd: "relaxed" })), single thread');
  else if (relaxed) console.log(`SKIPPED distill-wasm relaxed rows: ${relaxed.skipped}`);
  if (ort.ort) console.log(`onnxruntime-web ${ort.version}: wasm execution provider, numThreads 1, no proxy worker`);
  else if (options.ort !== false) console.log(`SKIPPED onnxruntime-web: ${ort.skipped}`);
  return { argv, engine, simd, ...(relaxed ? { relaxed } : {}), quick, platform, machine, tfjs, ort, versions, chart: [], summary: [] };
}

/** A second engine on the relaxed-SIMD build, or why this runtime has none. */
async function relaxedEngine(): Promise<{ engine: Engine } | { skipped: string }> {
  try {
    return { engine: await createEngine({ simd: "relaxed" }) };
  } catch (e) {
    return { skipped: (e as Error).message };
  }
}

/** "1.23 ms (±4.5%)": median and IQR/median. */
export function msCell(t: { medianMs: number; relIqr: number } | undefined): string {
  if (!t) return "-";
  const m = t.medianMs;
  const ms = m >= 100 ? m.toFixed(0) : m >= 10 ? m.toFixed(1) : m >= 1 ? m.toFixed(2) : m.toFixed(3);
  return `${ms} ±${(t.relIqr * 100).toFixed(0)}%`;
}

/** "12.3×" for ratios ≥ 1, "0.45×" below. */
export function ratioCell(r: number | undefined): string {
  if (r === undefined || !Number.isFinite(r)) return "-";
  return r >= 10 ? `${r.toFixed(0)}×` : `${r.toFixed(2)}×`;
}

/** For a ratio r = other median / distill-wasm median: "9.6× faster" or "16× slower" (distill-wasm's view). */
export function speedPhrase(r: number): string {
  if (!Number.isFinite(r)) return "-";
  const fmt = (x: number) => (x >= 10 ? x.toFixed(0) : x.toFixed(2));
  return r >= 1 ? `distill-wasm ${fmt(r)}× faster` : `distill-wasm ${fmt(1 / r)}× slower`;
}

/** Throws with a loud message: the suites stop rather than time implementations that disagree. */
export function abortDisagreement(what: string, details: string): never {
  const line = "=".repeat(78);
  console.error(`\n${line}\nAGREEMENT CHECK FAILED: ${what}\n${details}\nNothing further is timed.\n${line}`);
  throw new Error(`agreement check failed: ${what}`);
}
