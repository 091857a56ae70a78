// Loads the package by its name, as a user's script would (`distill-wasm` resolves to
// dist/index.js through package.json "exports"), runs the shared scenario and prints the
// report as one line of JSON. Run by the cross-runtime tests with node, deno and bun:
//   node test/runtimes/scripts/package.mjs
//   deno run test/runtimes/scripts/package.mjs
//   bun run test/runtimes/scripts/package.mjs
import * as api from "distill-wasm";
import { runAll } from "../scenario.mjs";

const report = await runAll(api);
console.log(JSON.stringify({ ...report, resolved: import.meta.resolve("distill-wasm") }));
