// Prints this runtime's scenario checksum beside the committed one, for deliberate updates
// of test/runtimes/expected-checksum.json after a change that alters the arithmetic:
//   npm run checksum:runtimes        (or: deno run -R / bun run test/runtimes/scripts/checksum.mjs)
import * as api from "distill-wasm";
import { runScenario } from "../scenario.mjs";

const expected = JSON.parse(await (await import("node:fs/promises")).readFile(new URL("../expected-checksum.json", import.meta.url), "utf8"));
const { checksum } = await runScenario(api);
console.log(`committed:    ${expected.sha256}`);
console.log(`this runtime: ${checksum} ${checksum === expected.sha256 ? "(same)" : "(differs: if the change is intended, put it in sha256 and add a line to \"changes\")"}`);
