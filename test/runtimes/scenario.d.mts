// Types for scenario.mjs (plain JavaScript so that every runtime loads it as it is).
import type * as api from "../../src/index.js";
import type * as inferApi from "../../src/infer/index.js";

export interface ScenarioResult {
  /** Hex SHA-256 of the MLP and CNN students' parameterBlock() bytes and every epoch record's numbers. */
  checksum: string;
  build: api.EngineBuild;
  /** The engine's thread count (1 where threads were asked for but are unavailable). */
  threads: number;
  /** Why the engine runs fewer threads than asked for. */
  threadsNote: string | undefined;
  steps: { teacher: number; student: number };
  history: { teacher: number[]; student: number[] };
  finalLoss: number;
  valAccuracy: number | undefined;
  /** The CNN part (steps, history, finalLoss, valAccuracy above are the MLP part's). */
  cnn: {
    steps: { teacher: number; student: number };
    history: { teacher: number[]; student: number[] };
    finalLoss: number;
    /** The last epoch's attention-transfer loss part. */
    attention: number | undefined;
    teacherValAccuracy: number | undefined;
    valAccuracy: number | undefined;
  };
  /** The signals part (1-D CNNs), hashed on its own: the student's parameterBlock() and every epoch record's numbers. */
  signals: {
    checksum: string;
    steps: { teacher: number; student: number };
    finalLoss: number;
    teacherValAccuracy: number | undefined;
    valAccuracy: number | undefined;
    /** Runs given distill-wasm/infer: the signal student's logits through `loadStudent` and through `model.logits`. */
    infer?: { checksum: string; library: string };
  };
  /**
   * The tokens part (embedding, embeddingBag, layerNorm), hashed on its own: the student's
   * parameterBlock() and every epoch record's numbers; with distill-wasm/infer, the teacher's
   * and then the student's logits through `loadStudent` and through `model.logits`.
   */
  tokens: {
    checksum: string;
    steps: { teacher: number; student: number };
    finalLoss: number;
    teacherValAccuracy: number | undefined;
    valAccuracy: number | undefined;
    infer?: { checksum: string; library: string };
  };
  /** Every parameter and every hashed number is finite. */
  finite: boolean;
  /**
   * Runs given distill-wasm/infer: hex SHA-256 of both students' logits through `loadStudent`
   * (checksum) and through the full library's `model.logits` (library), on the same rows.
   */
  infer?: { checksum: string; library: string; int8: { checksum: string; library: string } };
}

export interface RuntimeReport {
  runtime: string;
  features: api.WasmFeatures;
  baseline: ScenarioResult;
  baselineMs: number;
  /** The baseline run with every GEMM split over two threads. */
  threaded: ScenarioResult;
  relaxed: { first: ScenarioResult; second: ScenarioResult } | { skipped: string };
}

export declare const SCENARIO: Readonly<Record<string, unknown>>;
export declare function runScenario(
  module: typeof api,
  options?: { simd?: "baseline" | "relaxed"; threads?: number; plan?: unknown; infer?: typeof inferApi },
): Promise<ScenarioResult>;
export declare function describeRuntime(): string;
export declare function runAll(module: typeof api, infer?: typeof inferApi): Promise<RuntimeReport>;
