/**
 * The Platform of Node, Deno and Bun: machine info from node:os and /proc/cpuinfo, package
 * versions and the tfjs / onnxruntime-web .wasm files from node_modules, output files under
 * bench/results/, progress on stderr.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { machineInfo } from "./node-machine.js";
import { packageDir, packageVersion, projectVersion } from "./paths.js";
import type { Platform } from "./platform.js";
import { registerTfjsGradients } from "./tfjs-gradients.js";

/** bench/results, found relative to this compiled file (bench/dist/lib/node-platform.js). */
export const RESULTS_DIR = fileURLToPath(new URL("../../results/", import.meta.url));

export function nodePlatform(): Platform {
  return {
    machineInfo,
    progress: (text) => void process.stderr.write(text),
    packageVersion,
    projectVersion,
    // A file path prefix: tfjs-backend-wasm reads the file itself, no fetch.
    tfjsWasmPaths: path.join(packageDir("@tensorflow/tfjs-backend-wasm"), "dist") + path.sep,
    // Directory of ort-wasm-simd-threaded.{mjs,wasm}, as a file: URL (no network).
    ortWasmPaths: pathToFileURL(path.join(packageDir("onnxruntime-web"), "dist") + path.sep).href,
    registerTfjsGradients,
    saveFile: async (name, text) => {
      mkdirSync(RESULTS_DIR, { recursive: true });
      const file = path.join(RESULTS_DIR, name);
      writeFileSync(file, text);
      return path.relative(process.cwd(), file);
    },
  };
}
