/**
 * What the native comparison (PyTorch) and the whole-epoch suite need beyond wasm: child
 * processes, files and the MNIST IDX files. Node, Deno and Bun provide it (node-native.ts);
 * a browser page has none, and those suites are skipped there with the reason.
 */
import type { BlasVariant, TorchOutput, TorchSpec } from "./torch.js";

export interface CliRun {
  /** Exit code (null when killed by a signal). */
  code: number | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit, ms. */
  ms: number;
}

export interface MnistSubset {
  /** A directory of IDX files (train-* and t10k-*) holding the rows asked for. */
  dir: string;
  /** Where the full files are, and how that was chosen (argument, environment, default). */
  source: string;
  rows: number;
  testRows: number;
}

export interface NativeTools {
  /** The BLAS libraries to run PyTorch with, and notes on those not found. */
  torchVariants(): { variants: BlasVariant[]; notes: string[] };
  /** Runs bench/torch/step.py with this BLAS; { skipped } when there is no Python with torch, or the driver failed. */
  runTorch(spec: TorchSpec, variant: BlasVariant): Promise<TorchOutput>;
  /**
   * The first `rows` training images ("all": every one) and `testRows` test images of the
   * MNIST IDX files named by --mnist=DIR, DISTILL_BENCH_MNIST or the default location, or why not.
   */
  mnistSubset(argv: readonly string[], rows: number | "all", testRows: number): Promise<MnistSubset | { skipped: string }>;
  /** A path in this run's scratch directory. */
  scratchPath(name: string): string;
  /** Runs the distill-wasm CLI (dist/cli/main.js) in a child process of the same runtime. */
  runCli(args: readonly string[]): Promise<CliRun>;
  /** Removes the scratch directory. */
  cleanup(): void;
}
