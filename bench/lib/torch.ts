/**
 * PyTorch as a native comparator: the spec sent to bench/torch/step.py, the parsing of what
 * it prints, the BLAS libraries to run it with, and the names of its rows. Pure functions
 * (no process, no file system): node-native.ts runs the driver, suites/native.ts times and
 * compares.
 *
 * Stock Debian torch links libblas.so.3, which the Debian alternatives system points at
 * the reference BLAS (netlib, unvectorised: a few GFLOP/s) unless an optimised one is
 * installed; OpenBLAS is the usual one. Each BLAS is a directory holding a libblas.so.3,
 * put on LD_LIBRARY_PATH for the Python process only; the driver reports the library the
 * loader actually mapped, and the rows are named after that.
 */

export type TorchKind = "distill" | "distill-teacher" | "ce" | "infer";

export interface TorchScenario {
  id: string;
  kind: TorchKind;
  /** The network trained (or run, for "infer"): bench/lib/native-params.ts seededParams(widths, seed). */
  widths: number[];
  seed: number;
  /** Rows of the batch: bench/lib/mlp.ts makeBatch(batch, widths[0], classes, batchSeed). */
  batch: number;
  batchSeed: number;
  /** "distill-teacher": the teacher run forward in every step. */
  teacherWidths?: number[];
  teacherSeed?: number;
}

export interface TorchSpec {
  threads: number;
  /** One warm-up and three timed calls per scenario. */
  quick: boolean;
  lr: number;
  momentum: number;
  temperature: number;
  alpha: number;
  scenarios: TorchScenario[];
}

/** What the driver reports about itself ("env" line). */
export interface TorchEnv {
  torch: string;
  numpy: string;
  python: string;
  threads: number;
  /** The libblas (or libopenblas) file mapped into the process. */
  blas: string | null;
  /** openblas_get_corename(): the kernel set OpenBLAS chose for this CPU (e.g. "Haswell"); null for another BLAS. */
  openblasCore: string | null;
  openblasConfig: string | null;
  /** torch's own vectorised kernels ("AVX2", "AVX512", …). */
  cpuCapability: string | null;
}

export interface TorchRow {
  id: string;
  /** Every timed call, ms. */
  samplesMs: number[];
  /** Training: the losses of the first two steps (untimed), for the agreement check. */
  losses?: [number, number];
  /** Inference: the logits of the first rows (at most 4), row-major. */
  logits?: number[];
}

export type TorchOutput = { env: TorchEnv; rows: TorchRow[] } | { skipped: string };

export class TorchOutputError extends Error {
  override name = "TorchOutputError";
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const finiteArray = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === "number" && Number.isFinite(x));
const stringOrNull = (v: unknown): v is string | null => v === null || typeof v === "string";

/**
 * The driver's stdout as rows: one "env" line, then one "row" per scenario of the spec (in
 * any order); or a "skip" line alone. Anything else — a line that is not JSON, a row of an
 * unknown or repeated scenario, a missing scenario, an empty or non-finite sample — throws
 * a TorchOutputError naming it. Lines that are not objects with a "type" (e.g. warnings
 * torch prints on stdout) are ignored.
 */
export function parseTorchOutput(stdout: string, expectedIds: readonly string[]): TorchOutput {
  let env: TorchEnv | undefined;
  const rows = new Map<string, TorchRow>();
  for (const [index, line] of stdout.split("\n").entries()) {
    const text = line.trim();
    if (!text.startsWith("{")) continue;
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch {
      throw new TorchOutputError(`line ${index + 1} of the PyTorch driver's output is not JSON: ${text.slice(0, 80)}`);
    }
    if (!isRecord(obj) || typeof obj.type !== "string") continue;
    if (obj.type === "skip") {
      if (typeof obj.reason !== "string" || obj.reason === "") throw new TorchOutputError(`line ${index + 1}: a "skip" line needs a reason`);
      return { skipped: obj.reason };
    }
    if (obj.type === "env") {
      const { torch, numpy, python, threads, blas, openblasCore, openblasConfig, cpuCapability } = obj;
      if (typeof torch !== "string" || typeof numpy !== "string" || typeof python !== "string" || typeof threads !== "number") {
        throw new TorchOutputError(`line ${index + 1}: the "env" line needs torch, numpy, python (strings) and threads (a number)`);
      }
      if (![blas, openblasCore, openblasConfig, cpuCapability].every(stringOrNull)) {
        throw new TorchOutputError(`line ${index + 1}: blas, openblasCore, openblasConfig and cpuCapability must be strings or null`);
      }
      env = { torch, numpy, python, threads, blas, openblasCore, openblasConfig, cpuCapability } as TorchEnv;
      continue;
    }
    if (obj.type !== "row") throw new TorchOutputError(`line ${index + 1}: unknown line type ${JSON.stringify(obj.type)}`);
    const id = obj.id;
    if (typeof id !== "string" || !expectedIds.includes(id))
      throw new TorchOutputError(`line ${index + 1}: a row of an unknown scenario ${JSON.stringify(id)}`);
    if (rows.has(id)) throw new TorchOutputError(`line ${index + 1}: a second row of scenario ${id}`);
    if (!finiteArray(obj.samplesMs) || obj.samplesMs.length === 0 || obj.samplesMs.some((x) => x < 0)) {
      throw new TorchOutputError(`scenario ${id}: samplesMs must be a non-empty array of finite times ≥ 0`);
    }
    const row: TorchRow = { id, samplesMs: obj.samplesMs };
    if (obj.losses !== undefined) {
      if (!finiteArray(obj.losses) || obj.losses.length !== 2) throw new TorchOutputError(`scenario ${id}: losses must be two finite numbers`);
      row.losses = [obj.losses[0]!, obj.losses[1]!];
    }
    if (obj.logits !== undefined) {
      if (!finiteArray(obj.logits) || obj.logits.length === 0) throw new TorchOutputError(`scenario ${id}: logits must be a non-empty array of finite numbers`);
      row.logits = obj.logits;
    }
    if (row.losses === undefined && row.logits === undefined) throw new TorchOutputError(`scenario ${id}: the row has neither losses nor logits to check`);
    rows.set(id, row);
  }
  if (env === undefined) throw new TorchOutputError('the PyTorch driver printed no "env" line');
  const missing = expectedIds.filter((id) => !rows.has(id));
  if (missing.length > 0) throw new TorchOutputError(`the PyTorch driver printed no row for ${missing.join(", ")}`);
  return { env, rows: expectedIds.map((id) => rows.get(id)!) };
}

/** One BLAS to run torch with: a directory holding libblas.so.3 (put first on LD_LIBRARY_PATH), or none for the loader's default. */
export interface BlasVariant {
  requested: "reference BLAS" | "OpenBLAS" | "default BLAS";
  libraryDir?: string;
}

/** The environment variable naming a directory with OpenBLAS's libblas.so.3. */
export const OPENBLAS_ENV = "DISTILL_BENCH_OPENBLAS";

/** Debian's multiarch directory name for a Node `process.arch`, or undefined. */
export function debianTriplet(arch: string): string | undefined {
  return { x64: "x86_64-linux-gnu", arm64: "aarch64-linux-gnu", ppc64: "powerpc64le-linux-gnu", s390x: "s390x-linux-gnu" }[arch];
}

/**
 * The BLAS libraries to time torch with: Debian's reference BLAS (/usr/lib/<triplet>/blas,
 * package libblas3) and OpenBLAS — the directory named by DISTILL_BENCH_OPENBLAS, else
 * Debian's libopenblas0-openmp or libopenblas0-pthread directory. Where neither is found,
 * one run with the loader's default. `notes` say what was looked for and not found.
 */
export function blasVariants(options: { openblasDir?: string; triplet?: string; exists: (file: string) => boolean }): {
  variants: BlasVariant[];
  notes: string[];
} {
  const variants: BlasVariant[] = [];
  const notes: string[] = [];
  const lib = options.triplet ? `/usr/lib/${options.triplet}` : undefined;
  const holdsBlas = (dir: string) => options.exists(`${dir.replace(/\/+$/, "")}/libblas.so.3`);
  if (lib && holdsBlas(`${lib}/blas`)) variants.push({ requested: "reference BLAS", libraryDir: `${lib}/blas` });
  else notes.push(`no reference BLAS row: ${lib ? `${lib}/blas/libblas.so.3 is missing (Debian: libblas3)` : "not a Debian multiarch system"}`);
  let openblas: string | undefined;
  if (options.openblasDir !== undefined && options.openblasDir !== "") {
    if (holdsBlas(options.openblasDir)) openblas = options.openblasDir;
    else notes.push(`${OPENBLAS_ENV}=${options.openblasDir} holds no libblas.so.3; looking for the system's OpenBLAS instead`);
  }
  if (openblas === undefined && lib) openblas = [`${lib}/openblas-openmp`, `${lib}/openblas-pthread`].find(holdsBlas);
  if (openblas !== undefined) variants.push({ requested: "OpenBLAS", libraryDir: openblas.replace(/\/+$/, "") });
  else
    notes.push(
      `no OpenBLAS row: set ${OPENBLAS_ENV} to a directory holding OpenBLAS's libblas.so.3 (Debian: libopenblas0-openmp or libopenblas0-pthread, ` +
        `in /usr/lib/<triplet>/openblas-*)`,
    );
  if (variants.length === 0) variants.push({ requested: "default BLAS" });
  return { variants, notes };
}

/** LD_LIBRARY_PATH with `dir` first. */
export function ldLibraryPath(dir: string, existing: string | undefined): string {
  return existing ? `${dir}:${existing}` : dir;
}

/** The name of the BLAS the driver actually loaded: "OpenBLAS (Haswell kernels)", "reference BLAS", or the library's file name. */
export function blasLabel(env: TorchEnv): string {
  if (env.openblasCore) return `OpenBLAS (${env.openblasCore} kernels)`;
  if (env.blas === null) return "no BLAS library mapped";
  const file = env.blas.split("/").at(-1)!;
  if (/\/blas\/libblas\.so/.test(env.blas)) return "reference BLAS";
  return file;
}

/** f32 lanes of an OpenBLAS kernel set, when its name says (x86 names; others → undefined). */
export function openblasLanes(core: string | null): number | undefined {
  if (core === null) return undefined;
  const c = core.toLowerCase();
  if (/skylakex|cooperlake|sapphirerapids/.test(c)) return 16;
  if (/haswell|zen|sandybridge|excavator|steamroller|piledriver|bulldozer/.test(c)) return 8;
  if (/prescott|core2|penryn|dunnington|nehalem|atom|barcelona|opteron|katmai|coppermine|northwood/.test(c)) return 4;
  if (/neoverse|armv8|cortex|thunderx|falkor|tsv110|emag/.test(c)) return 4;
  return undefined;
}
