/**
 * The Platform of the bench page: package versions read from the served package.json
 * files, the tfjs and onnxruntime-web .wasm files at the URLs the server gives
 * node_modules, tfjs gradients from the page's tfjs bundle (vendor.ts), output files
 * POSTed to the serving process (which writes them under bench/results/), progress on
 * the console (debug level) and in the page's status line.
 */
import type { Platform } from "../lib/platform.js";
import { browserIdentity, browserMachine } from "./machine.js";

const PACKAGES = ["@tensorflow/tfjs-core", "@tensorflow/tfjs-backend-wasm", "@tensorflow/tfjs-backend-cpu", "onnxruntime-web", "tinybench"];

async function versionAt(url: string): Promise<string> {
  try {
    const response = await fetch(url);
    return response.ok ? ((await response.json()) as { version: string }).version : "?";
  } catch {
    return "?";
  }
}

/**
 * @param params the page's URL parameters (the host's CPU description)
 * @param status where the latest progress line is shown
 */
export async function browserPlatform(params: URLSearchParams, status?: HTMLElement): Promise<Platform> {
  const root = new URL("/", location.href);
  const versions = new Map(
    await Promise.all(PACKAGES.map(async (name) => [name, await versionAt(new URL(`node_modules/${name}/package.json`, root).href)] as const)),
  );
  const project = await versionAt(new URL("package.json", root).href);
  const identity = await browserIdentity();
  return {
    machineInfo: () => browserMachine(identity, params),
    progress: (text) => {
      const line = text.replace(/\n$/, "");
      console.debug(line);
      if (status) status.textContent = line.trim();
    },
    packageVersion: (name) => versions.get(name) ?? "?",
    projectVersion: () => project,
    tfjsWasmPaths: new URL("node_modules/@tensorflow/tfjs-backend-wasm/dist/", root).href,
    ortWasmPaths: new URL("node_modules/onnxruntime-web/dist/", root).href,
    registerTfjsGradients: async () => {
      await import(new URL("./vendor/tfjs-gradients.js", import.meta.url).href);
    },
    saveFile: async (name, text) => {
      try {
        const response = await fetch(new URL("__bench/save", root), {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ name, text }),
        });
        if (response.ok) return ((await response.json()) as { location: string }).location;
      } catch {
        // Served by something else than bench/browser/server.ts: the download link remains.
      }
      return `${name} (not saved by the server: use the download link)`;
    },
  };
}
