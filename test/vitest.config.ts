import { defineConfig } from "vitest/config";
import { fileURLToPath } from "node:url";

// Node 20's V8 ships relaxed SIMD behind a flag; later versions enable it by default.
const nodeMajor = Number(process.versions.node.split(".")[0]);
const relaxedFlag = nodeMajor < 22 ? ["--experimental-wasm-relaxed-simd"] : [];

export default defineConfig({
  test: {
    root: fileURLToPath(new URL("..", import.meta.url)),
    include: ["test/**/*.test.ts"],
    execArgv: relaxedFlag,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
