/**
 * The Platform of Node, Deno and Bun: machine info from node:os and /proc/cpuinfo, package
 * versions and the tfjs / onnxruntime-web .wasm files from node_modules, output files under
 * bench/results/<machine key>/ (one folder per CPU), progress on stderr, and the native
 * tools (PyTorch, the CLI, MNIST files) a browser page has not.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import v8 from "node:v8";
import { fileURLToPath, pathToFileURL } from "node:url";
import { startLoadRecord } from "./node-load.js";
import { machineInfo } from "./node-machine.js";
import { nodeNativeTools } from "./node-native.js";
import { packageDir, packageVersion, projectVersion } from "./paths.js";
import { machineKey } from "./results.js";
import type { Platform } from "./platform.js";
import { registerTfjsGradients } from "./tfjs-gradients.js";

/** bench/results, found relative to this compiled file (bench/dist/lib/node-platform.js). */
export const RESULTS_DIR = fileURLToPath(new URL("../../results/", import.meta.url));

/**
 * Node 20's V8 has relaxed SIMD behind a flag (later versions ship it): set it before any
 * module is compiled, so that the relaxed build can be timed beside the baseline one.
 */
function enableRelaxedSimd(): void {
  const versions = process.versions as NodeJS.ProcessVersions & { bun?: string; deno?: string };
  if (versions.bun !== undefined || versions.deno !== undefined) return;
  if (Number(process.versions.node.split(".")[0]) < 22) v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
}

export function nodePlatform(): Platform {
  enableRelaxedSimd();
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
    native: nodeNativeTools(),
    startLoadRecord,
    saveFile: async (name, text) => {
      const dir = path.join(RESULTS_DIR, machineKey(machineInfo()));
      mkdirSync(dir, { recursive: true });
      const file = path.join(dir, name);
      writeFileSync(file, text);
      return path.relative(process.cwd(), file);
    },
  };
}
