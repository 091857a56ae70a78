/**
 * The CPU record of a result file, from Linux's /proc/cpuinfo text: model name, vendor,
 * family, model, stepping and the flags that decide what native code can use (vector
 * width, FMA), the directory key that keeps each machine's results apart, and the
 * lane-width bound of a comparison with native code.
 *
 * Pure functions of the text, so that they are tested on fixed inputs; node-machine.ts
 * reads the file.
 */

export interface CpuRecord {
  modelName: string;
  vendor?: string;
  family?: number;
  model?: number;
  stepping?: number;
  /** The SIMD-related flags present, in SIMD_FLAGS order (x86: sse4_1 … avx512_vnni; Arm: asimd …). */
  simdFlags: string[];
}

/** Flags worth recording for vectorised code: width (SSE, AVX, AVX-512, NEON, SVE), FMA, int8 and half-precision dot products. */
export const SIMD_FLAGS: readonly string[] = [
  "sse2",
  "ssse3",
  "sse4_1",
  "sse4_2",
  "avx",
  "f16c",
  "fma",
  "avx2",
  "avx_vnni",
  "avx512f",
  "avx512dq",
  "avx512bw",
  "avx512vl",
  "avx512_vnni",
  "avx512_bf16",
  "avx512_fp16",
  "asimd",
  "asimdhp",
  "asimddp",
  "sve",
  "sve2",
];

/** The first processor's block of /proc/cpuinfo as a record; undefined when it names no model. */
export function parseCpuinfo(text: string): CpuRecord | undefined {
  const block = text.split(/\n\s*\n/)[0] ?? "";
  const field = (name: string): string | undefined => new RegExp(`^${name}\\s*:\\s*(.*)$`, "m").exec(block)?.[1]?.trim();
  const int = (name: string): number | undefined => {
    const v = field(name);
    if (v === undefined) return undefined;
    // Arm reports "CPU part : 0xd0c" and friends in hex.
    const n = v.startsWith("0x") ? Number.parseInt(v, 16) : Number.parseInt(v, 10);
    return Number.isFinite(n) ? n : undefined;
  };
  // x86 says "model name" and "flags"; Arm kernels say "Features" and sometimes "Model name" or only "CPU part".
  const modelName = field("model name") ?? field("Model name") ?? field("Hardware");
  if (modelName === undefined) return undefined;
  const flags = new Set((field("flags") ?? field("Features") ?? "").split(/\s+/).filter(Boolean));
  const record: CpuRecord = { modelName, simdFlags: SIMD_FLAGS.filter((f) => flags.has(f)) };
  const vendor = field("vendor_id") ?? field("CPU implementer");
  const family = int("cpu family") ?? int("CPU architecture");
  const model = int("model") ?? int("CPU part");
  const stepping = int("stepping") ?? int("CPU revision");
  if (vendor !== undefined) record.vendor = vendor;
  if (family !== undefined) record.family = family;
  if (model !== undefined) record.model = model;
  if (stepping !== undefined) record.stepping = stepping;
  return record;
}

/**
 * The directory name of a machine's results, e.g. "amd-epyc-f26-m2" or
 * "intel-r-core-tm-i7-10700-cpu-2-90ghz-f6-m165": the model name in lower-case words,
 * then family and model when known (the model name alone can be as vague as "AMD EPYC").
 */
export function cpuKey(cpu: { modelName: string; family?: number; model?: number }): string {
  const words = cpu.modelName
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 48)
    .replace(/-+$/, "");
  const id = [cpu.family !== undefined ? `f${cpu.family}` : undefined, cpu.model !== undefined ? `m${cpu.model}` : undefined].filter(Boolean);
  return [words || "unknown-cpu", ...id].join("-");
}

/** f32 lanes of the widest vector unit native code may use on this CPU, and its name. */
export function nativeLanes(simdFlags: readonly string[]): { lanes: number; unit: string } {
  if (simdFlags.includes("avx512f")) return { lanes: 16, unit: "AVX-512" };
  if (simdFlags.includes("avx2")) return { lanes: 8, unit: "AVX2" };
  if (simdFlags.includes("avx")) return { lanes: 8, unit: "AVX" };
  if (simdFlags.includes("sve")) return { lanes: 4, unit: "SVE (at least 128-bit)" };
  return { lanes: 4, unit: simdFlags.includes("asimd") ? "NEON" : "SSE" };
}

/** wasm SIMD has 128-bit vectors: 4 f32 lanes. */
export const WASM_F32_LANES = 4;

/**
 * The throughput ratio distill-wasm / native code that equal efficiency per lane gives:
 * 4 / native lanes (0.5 against AVX2's 8 lanes, 0.25 against AVX-512's 16).
 */
export const laneBound = (nativeF32Lanes: number): number => WASM_F32_LANES / nativeF32Lanes;
