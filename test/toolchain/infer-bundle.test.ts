/**
 * What a page that only predicts downloads: examples/infer-page/main.js (it imports
 * `distill-wasm/infer`, resolved through package.json "exports" to dist/infer.js, the
 * bundle assembly/bundle-infer.mjs makes) bundled and minified by esbuild for browsers. The
 * bundle — its JavaScript with the wasm module embedded as base64 — must stay within 40 KB
 * gzip; and distill-wasm/infer must hold none of the full library: no training,
 * distillation or thread code, none of its four wasm builds.
 * Needs `npm run build` (dist/ and build/distill.infer.wasm).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** JavaScript and wasm together, gzip (level 9), in bytes. */
const BUDGET = 40 * 1024;

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

it("dist/infer.js, what distill-wasm/infer resolves to, is one module of the inference code (and dist/errors.js), with none of the full library", async () => {
  const text = readFileSync(join(ROOT, "dist/infer.js"), "utf8");
  // Static imports (`import{A as b}from"./errors.js"` once minified) and dynamic ones.
  const imports = [...text.matchAll(/\bimport\s*\{[^}]*\}\s*from\s*"([^"]+)"/g)].map((m) => m[1]);
  expect(new Set(imports)).toEqual(new Set(["./errors.js"]));
  expect([...text.matchAll(/\bimport\("([^"]+)"\)/g)].map((m) => m[1]).every((s) => s!.startsWith("node:"))).toBe(true);
  expect(text.endsWith("//# sourceMappingURL=infer.js.map\n"), "a source map leads to dist/infer/*.js").toBe(true);
  // The inference module is instantiated with the WebAssembly API alone (src/runtime/instance.ts).
  expect(text.includes("@assemblyscript/loader"), "the vendored loader is not in distill-wasm/infer").toBe(false);
  // What the bundle is made of: the same build of dist/infer/index.js, with its module list.
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: ["dist/infer/index.js"],
    bundle: true,
    format: "esm",
    platform: "neutral",
    external: ["node:*"],
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  const inputs = Object.keys(result.metafile.inputs);
  expect(inputs).toContain("dist/infer/wasm-bytes.generated.js");
  const full = inputs.filter((path) =>
    /runtime\/wasm-bytes\.generated|runtime\/vendor\/|\/(train|distill|threads|metrics|report|data|cli)\/|sequential|^dist\/(engine|init)\.js/.test(path),
  );
  expect(full, "modules of the full library in distill-wasm/infer").toEqual([]);
});

it("examples/infer-page bundled with esbuild (minified) is at most 40 KB gzip, wasm included", async () => {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: ["examples/infer-page/main.js"],
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    // The Node-only file reading is a lazy import() that a browser never runs; it stays out of the bundle.
    external: ["node:*"],
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  const js = result.outputFiles[0]!.contents;
  const inputs = Object.keys(result.metafile.inputs);
  expect(inputs.sort(), "distill-wasm/infer resolves to dist/infer.js through package.json exports").toEqual([
    "dist/errors.js",
    "dist/infer.js",
    "examples/infer-page/main.js",
    "examples/web/preprocess.js",
  ]);
  const wasm = readFileSync(join(ROOT, "build/distill.infer.wasm"));
  const base64 = wasm.toString("base64");
  expect(new TextDecoder().decode(js).includes(base64), "the wasm is embedded in the bundle").toBe(true);
  const total = gzipSync(js, { level: 9 }).length;
  const wasmGzip = gzipSync(wasm, { level: 9 }).length;
  const base64Gzip = gzipSync(base64, { level: 9 }).length;
  console.log(
    `[infer bundle] bundle ${kb(js.length)} raw, ${kb(total)} gzip (budget ${kb(BUDGET)}); ` +
      `of which the wasm: ${kb(wasm.length)} raw (${kb(wasmGzip)} gzip as a file), ${kb(base64.length)} as base64 (${kb(base64Gzip)} gzip); ` +
      `JavaScript without it: ${kb(js.length - base64.length)} raw`,
  );
  expect(total).toBeLessThanOrEqual(BUDGET);
});
