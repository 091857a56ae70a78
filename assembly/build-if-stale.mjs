// Runs `npm run build` only when something it produces is missing or older than what it is
// made from, so that `npm run demo` after `npm ci` (whose prepare step builds) starts at once.
//   made from: assembly/**, asconfig.json, src/** (but the generated modules), tsconfig.json, package.json
//   produces:  build/*.wasm, src/runtime/abi.generated.ts, src/runtime/wasm-<build>.generated.ts,
//              src/infer/abi.generated.ts, src/infer/wasm-bytes.generated.ts,
//              dist/index.js and dist/cli/main.js (tsc rewrites every output it emits, so these
//              two date the whole of dist/), dist/infer.js (the bundle of distill-wasm/infer),
//              dist/export/browser.js and dist/data/mnist-digits.bin.gz (the packed digits)
// Usage: node assembly/build-if-stale.mjs
import { execSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../", import.meta.url));
const GENERATED = [
  "src/runtime/abi.generated.ts",
  "src/runtime/wasm-release.generated.ts",
  "src/runtime/wasm-relaxed.generated.ts",
  "src/runtime/wasm-threads.generated.ts",
  "src/runtime/wasm-relaxed-threads.generated.ts",
  "src/runtime/vendor",
  "src/infer/abi.generated.ts",
  "src/infer/wasm-bytes.generated.ts",
].map((p) => join(root, p));

/** Modification times (ms) of the files under `path` (a file or a folder), skipping `skip`. */
function times(path, skip = []) {
  if (!existsSync(path) || skip.some((s) => path.startsWith(s))) return [];
  const stat = statSync(path);
  if (!stat.isDirectory()) return [stat.mtimeMs];
  return readdirSync(path).flatMap((name) => times(join(path, name), skip));
}

const sources = ["assembly", "asconfig.json", "src", "tsconfig.json", "package.json"].flatMap((p) => times(join(root, p), GENERATED));
const outputs = [
  "build",
  "src/runtime/abi.generated.ts",
  "src/runtime/wasm-release.generated.ts",
  "src/runtime/wasm-relaxed.generated.ts",
  "src/runtime/wasm-threads.generated.ts",
  "src/runtime/wasm-relaxed-threads.generated.ts",
  "src/infer/abi.generated.ts",
  "src/infer/wasm-bytes.generated.ts",
  "dist/index.js",
  "dist/cli/main.js",
  "dist/infer.js",
  "dist/export/browser.js",
  "dist/data/mnist-digits.bin.gz",
].map((p) => times(join(root, p)));
const stale = outputs.some((t) => t.length === 0) || Math.min(...outputs.flat()) < Math.max(...sources);
if (stale) {
  console.log("distill-wasm: building (the build is missing or older than its sources)");
  execSync("npm run build --silent", { cwd: root, stdio: "inherit" });
}
