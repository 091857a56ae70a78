/**
 * onnxruntime-web as a comparison: the wasm execution provider, one thread, no proxy
 * worker, its .wasm / .mjs files where the platform says (node_modules, or the URL a page
 * serves them at). Loading never throws: a runtime where it cannot start gets a reason,
 * and the suites skip it.
 */
import type * as ORT from "onnxruntime-web";
import type { Platform } from "./platform.js";

export type Ort = typeof ORT;

export interface OrtEnv {
  ort?: Ort;
  skipped?: string;
  version: string;
}

const errorText = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e)).split("\n")[0]!;

export async function loadOrt(platform: Platform): Promise<OrtEnv> {
  const version = platform.packageVersion("onnxruntime-web");
  try {
    const ort = (await import("onnxruntime-web")) as Ort;
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.proxy = false;
    ort.env.wasm.wasmPaths = platform.ortWasmPaths;
    ort.env.logLevel = "error";
    return { ort, version };
  } catch (e) {
    return { skipped: `onnxruntime-web failed to load (${errorText(e)})`, version };
  }
}

/** Creates a session on the wasm execution provider (all graph optimisations on). */
export async function createSession(ort: Ort, model: Uint8Array): Promise<ORT.InferenceSession> {
  return ort.InferenceSession.create(model, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
}
