/**
 * NativeTools for Node, Deno and Bun: the PyTorch driver (bench/torch/step.py) in a Python
 * child process with the chosen BLAS on its LD_LIBRARY_PATH and its thread count in
 * OMP_NUM_THREADS / OPENBLAS_NUM_THREADS, the CLI in a child process of the same runtime,
 * and MNIST subsets written as IDX files to a scratch directory.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { idxHead, MNIST_ENV, resolveMnistDir } from "./mnist-files.js";
import type { CliRun, MnistSubset, NativeTools } from "./native-tools.js";
import { PROJECT_ROOT } from "./paths.js";
import { blasVariants, debianTriplet, ldLibraryPath, OPENBLAS_ENV, parseTorchOutput, type BlasVariant, type TorchOutput, type TorchSpec } from "./torch.js";

/** The Python to run the driver with: $DISTILL_BENCH_PYTHON, else Debian's /usr/bin/python3 (where python3-torch installs), else python3 on PATH. */
export const PYTHON_ENV = "DISTILL_BENCH_PYTHON";
const DRIVER = path.join(PROJECT_ROOT, "bench", "torch", "step.py");
const CLI = path.join(PROJECT_ROOT, "dist", "cli", "main.js");

declare const Deno: unknown;

function python(): string {
  const given = process.env[PYTHON_ENV];
  if (given) return given;
  return existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

/** Runs a child process to completion; rejects only when it cannot start. */
function run(command: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; input?: string }): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { cwd: PROJECT_ROOT, env: options.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr, ms: performance.now() - started }));
    // A child that exits before reading its input (no such executable, an import error) closes the pipe: not an error here.
    child.stdin.on("error", () => {});
    child.stdin.end(options.input ?? "");
  });
}

const tail = (text: string, lines = 6) => text.trimEnd().split("\n").slice(-lines).join("\n");

function readMaybeGzip(file: string): Uint8Array {
  const bytes = readFileSync(file);
  return bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes;
}

/** The first file of `stem` under any of loadIdx's names in `dir`. */
function idxFile(dir: string, stem: string, suffix: string): string | undefined {
  return [`${stem}-${suffix}`, `${stem}-${suffix}.gz`, `${stem}.${suffix}`, `${stem}.${suffix}.gz`].map((n) => path.join(dir, n)).find((f) => existsSync(f));
}

/**
 * Runs the PyTorch driver once: the spec on stdin, the variant's BLAS directory first on
 * LD_LIBRARY_PATH and the spec's thread count in OMP_NUM_THREADS / OPENBLAS_NUM_THREADS /
 * MKL_NUM_THREADS, for that process only. An executable that cannot start, or a driver that
 * exits with an error, gives { skipped } with the reason; output that breaks the line
 * protocol throws (parseTorchOutput).
 */
export async function runTorchDriver(options: {
  python: string;
  driver: string;
  spec: TorchSpec;
  variant: BlasVariant;
  env: NodeJS.ProcessEnv;
}): Promise<TorchOutput> {
  const { python: exe, driver, spec, variant } = options;
  const threads = String(spec.threads);
  const env: NodeJS.ProcessEnv = { ...options.env, OMP_NUM_THREADS: threads, OPENBLAS_NUM_THREADS: threads, MKL_NUM_THREADS: threads };
  if (variant.libraryDir) env.LD_LIBRARY_PATH = ldLibraryPath(variant.libraryDir, options.env.LD_LIBRARY_PATH);
  let result: CliRun;
  try {
    result = await run(exe, [driver], { env, input: JSON.stringify(spec) });
  } catch (e) {
    return { skipped: `cannot run ${exe} (${(e as Error).message}); set ${PYTHON_ENV} to a Python with torch` };
  }
  if (result.code !== 0) return { skipped: `${exe} ${path.relative(PROJECT_ROOT, driver)} exited with code ${result.code}:\n${tail(result.stderr)}` };
  return parseTorchOutput(
    result.stdout,
    spec.scenarios.map((s) => s.id),
  );
}

export function nodeNativeTools(): NativeTools {
  let scratch: string | undefined;
  const scratchDir = () => (scratch ??= mkdtempSync(path.join(os.tmpdir(), "distill-wasm-bench-")));

  return {
    torchVariants: () =>
      blasVariants({
        ...(process.env[OPENBLAS_ENV] !== undefined ? { openblasDir: process.env[OPENBLAS_ENV] } : {}),
        ...(process.platform === "linux" && debianTriplet(process.arch) ? { triplet: debianTriplet(process.arch)! } : {}),
        exists: existsSync,
      }),

    runTorch: (spec, variant) => runTorchDriver({ python: python(), driver: DRIVER, spec, variant, env: process.env }),

    mnistSubset: async (argv, rows, testRows): Promise<MnistSubset | { skipped: string }> => {
      const found = resolveMnistDir({
        argv,
        ...(process.env[MNIST_ENV] !== undefined ? { envDir: process.env[MNIST_ENV] } : {}),
        defaultDir: path.resolve(PROJECT_ROOT, "..", "shared", "data", "mnist"),
        exists: existsSync,
      });
      if ("skipped" in found) return found;
      const out = path.join(scratchDir(), `mnist-${rows}`);
      mkdirSync(out, { recursive: true });
      const counts: Record<string, number> = {};
      for (const [prefix, keep] of [
        ["train", rows],
        ["t10k", testRows],
      ] as const) {
        for (const [kind, suffix] of [
          ["images", "idx3-ubyte"],
          ["labels", "idx1-ubyte"],
        ] as const) {
          const file = idxFile(found.dir, `${prefix}-${kind}`, suffix);
          if (file === undefined) return { skipped: `${found.source} has no ${prefix}-${kind}-${suffix}[.gz]` };
          const head = idxHead(readMaybeGzip(file), keep === "all" ? Number.MAX_SAFE_INTEGER : keep);
          writeFileSync(path.join(out, `${prefix}-${kind}-${suffix}`), head.bytes);
          counts[prefix] = head.rows;
        }
      }
      return { dir: out, source: found.source, rows: counts.train!, testRows: counts.t10k! };
    },

    scratchPath: (name) => path.join(scratchDir(), name),

    runCli: (args) => {
      // The same runtime as this process: Deno needs `run -A`, Node and Bun take the script.
      const prefix = typeof Deno !== "undefined" ? ["run", "-A"] : [];
      return run(process.execPath, [...prefix, CLI, ...args], {});
    },

    cleanup: () => {
      if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
      scratch = undefined;
    },
  };
}
