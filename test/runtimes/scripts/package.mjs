// Loads the package by its name, as a user's script would (`distill-wasm` resolves to
// dist/index.js through package.json "exports"; `distill-wasm/infer` to dist/infer.js),
// runs the shared scenario and prints the
// report as one line of JSON. Run by the cross-runtime tests with node, deno and bun:
//   node test/runtimes/scripts/package.mjs
//   deno run test/runtimes/scripts/package.mjs
//   bun run test/runtimes/scripts/package.mjs
import * as api from "distill-wasm";
import * as infer from "distill-wasm/infer";
import { runAll } from "../scenario.mjs";

const report = await runAll(api, infer);
console.log(JSON.stringify({ ...report, resolved: import.meta.resolve("distill-wasm") }));
