// Prints this runtime's scenario checksum beside the committed one, for deliberate updates
// of test/runtimes/expected-checksum.json after a change that alters the arithmetic:
//   npm run checksum:runtimes        (or: deno run -R / bun run test/runtimes/scripts/checksum.mjs)
import * as api from "distill-wasm";
import * as infer from "distill-wasm/infer";
import { runScenario } from "../scenario.mjs";

const expected = JSON.parse(await (await import("node:fs/promises")).readFile(new URL("../expected-checksum.json", import.meta.url), "utf8"));
const { checksum, infer: logits, signals, tokens } = await runScenario(api, { infer });
const verdict = (value, committed, key) =>
  value === committed ? "(same)" : `(differs: if the change is intended, put it in ${key} and add a line to "changes")`;
console.log(`committed:    ${expected.sha256}`);
console.log(`this runtime: ${checksum} ${verdict(checksum, expected.sha256, "sha256")}`);
console.log(`infer, committed:    ${expected.infer_sha256}`);
console.log(
  `infer, this runtime: ${logits.checksum} ${verdict(logits.checksum, expected.infer_sha256, "infer_sha256")}` +
    (logits.checksum === logits.library ? "" : ` — NOT model.logits' ${logits.library}`),
);
console.log(`int8, committed:     ${expected.int8_sha256}`);
console.log(
  `int8, this runtime:  ${logits.int8.checksum} ${verdict(logits.int8.checksum, expected.int8_sha256, "int8_sha256")}` +
    (logits.int8.checksum === logits.int8.library ? "" : ` — NOT the int8 model's ${logits.int8.library}`),
);
console.log(`signals, committed:    ${expected.signals_sha256}`);
console.log(`signals, this runtime: ${signals.checksum} ${verdict(signals.checksum, expected.signals_sha256, "signals_sha256")}`);
console.log(`signals infer, committed:    ${expected.signals_infer_sha256}`);
console.log(
  `signals infer, this runtime: ${signals.infer.checksum} ${verdict(signals.infer.checksum, expected.signals_infer_sha256, "signals_infer_sha256")}` +
    (signals.infer.checksum === signals.infer.library ? "" : ` — NOT model.logits' ${signals.infer.library}`),
);
console.log(`tokens, committed:    ${expected.tokens_sha256}`);
console.log(`tokens, this runtime: ${tokens.checksum} ${verdict(tokens.checksum, expected.tokens_sha256, "tokens_sha256")}`);
console.log(`tokens infer, committed:    ${expected.tokens_infer_sha256}`);
console.log(
  `tokens infer, this runtime: ${tokens.infer.checksum} ${verdict(tokens.infer.checksum, expected.tokens_infer_sha256, "tokens_infer_sha256")}` +
    (tokens.infer.checksum === tokens.infer.library ? "" : ` — NOT model.logits' ${tokens.infer.library}`),
);
