/**
 * TensorFlow.js for the bench page, bundled once with rolldown into
 * bench/dist/browser/vendor/ (ES modules, code-split so that all four entries share one
 * copy of tfjs-core):
 *   tfjs-core.js, tfjs-backend-cpu.js, tfjs-backend-wasm.js   what the import map points at
 *   tfjs-gradients.js                                         tfjs-core's register_all_gradients
 *
 * Why a bundle here and nothing else: tfjs-core's ES modules import each other without file
 * extensions and pull in CommonJS packages (seedrandom, long), which a browser cannot load
 * as they are; its own browser bundles (UMD, fesm) leave out the gradients that training
 * needs. distill-wasm, tinybench and onnxruntime-web (its own ESM bundle) load unbundled.
 * rolldown comes with vitest (through vite), so nothing is added to package.json; the
 * tfjs packages' "browser" fields replace their Node-only imports (fs, path, worker_threads)
 * with empty modules.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** bench/dist/browser/vendor, beside this compiled file. */
export const VENDOR_DIR = fileURLToPath(new URL("./vendor/", import.meta.url));
const PROJECT_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

const ENTRIES = {
  "tfjs-core": "@tensorflow/tfjs-core",
  "tfjs-backend-cpu": "@tensorflow/tfjs-backend-cpu",
  "tfjs-backend-wasm": "@tensorflow/tfjs-backend-wasm",
  "tfjs-gradients": "@tensorflow/tfjs-core/dist/register_all_gradients",
};

const version = (name: string): string =>
  (JSON.parse(readFileSync(path.join(PROJECT_ROOT, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;

/** Builds the bundle unless one for the installed tfjs versions is already there; returns the directory. */
export async function buildVendor(): Promise<string> {
  const stampFile = path.join(VENDOR_DIR, ".complete");
  const stamp =
    Object.values(ENTRIES)
      .slice(0, 3)
      .map((n) => `${n}@${version(n)}`)
      .join(" ") + "\n";
  if (existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp) return VENDOR_DIR;
  let rolldown: typeof import("rolldown").rolldown;
  try {
    ({ rolldown } = await import("rolldown"));
  } catch (e) {
    throw new Error(`the bench page's tfjs bundle needs rolldown, which vitest installs (npm ci): ${(e as Error).message}`);
  }
  const bundle = await rolldown({ cwd: PROJECT_ROOT, input: ENTRIES, platform: "browser", logLevel: "warn" });
  try {
    await bundle.write({ dir: VENDOR_DIR, format: "esm", entryFileNames: "[name].js", chunkFileNames: "chunk-[hash].js" });
  } finally {
    await bundle.close();
  }
  writeFileSync(stampFile, stamp);
  return VENDOR_DIR;
}
