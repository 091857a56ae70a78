// Deno running the TypeScript source: deno.json maps the package's JSR name to
// ./src/index.ts (as `deno add` / JSR users get it). Needs the generated modules under
// src/runtime/ (npm run build:wasm).
//   deno run test/runtimes/scripts/deno-source.mjs
import * as api from "@distill-wasm/distill-wasm";
import { runAll } from "../scenario.mjs";

const report = await runAll(api);
console.log(JSON.stringify({ ...report, resolved: import.meta.resolve("@distill-wasm/distill-wasm") }));
