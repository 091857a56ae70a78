// Deno running the TypeScript source: deno.json maps the package's JSR name to
// ./src/index.ts and its /infer subpath to ./src/infer/index.ts (as `deno add` / JSR users get them). Needs the generated modules under
// src/runtime/ (npm run build:wasm).
//   deno run test/runtimes/scripts/deno-source.mjs
import * as api from "@distill-wasm/distill-wasm";
import * as infer from "@distill-wasm/distill-wasm/infer";
import { runAll } from "../scenario.mjs";

const report = await runAll(api, infer);
console.log(JSON.stringify({ ...report, resolved: import.meta.resolve("@distill-wasm/distill-wasm") }));
