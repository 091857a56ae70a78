// A page that only predicts: it imports distill-wasm/infer (one small wasm module of forward
// kernels, no training code), loads a distilled student and names the digit drawn on the
// canvas. test/build/infer-bundle.test.ts bundles this file with esbuild and holds the result
// (JavaScript and the embedded wasm) to 40 KB gzip.
//
// The model: any 784-input classifier saved by the library, e.g. the demo's student
// (`npx distill-wasm demo --out distill-demo` writes distill-demo/student-distilled.safetensors);
// copy it here as student.safetensors, or name another file with ?model=<url>. Unbundled, in
// a clone: `npm run build`, `node test/runtimes/serve.mjs`, then open /examples/infer-page/.
import { loadStudent } from "distill-wasm/infer";
import { toMnist } from "../web/preprocess.js";

const canvas = document.querySelector("canvas");
const output = document.querySelector("output");
const context = canvas.getContext("2d", { willReadFrequently: true });
context.lineWidth = 18;
context.lineCap = context.lineJoin = "round";

const started = performance.now();
const model = new URLSearchParams(location.search).get("model") ?? "student.safetensors";
const student = await loadStudent(new URL(model, location.href)).catch((error) => {
  output.textContent = `could not load ${model}: ${error.message}`;
  throw error;
});
output.textContent = `${student.inputs} → ${student.outputs} model loaded in ${Math.round(performance.now() - started)} ms: draw a digit`;

/** The drawing as a 784-value MNIST-style image, or null when the canvas is empty. */
const image = () => toMnist(context.getImageData(0, 0, canvas.width, canvas.height).data, canvas.width, canvas.height);

function classify() {
  const x = image();
  if (!x) return;
  const t0 = performance.now();
  const [digit] = student.predict(x, 1);
  const p = student.probabilities(x);
  output.textContent = `${digit} (${(100 * p[digit]).toFixed(1)}%, ${(performance.now() - t0).toFixed(2)} ms)`;
}

let drawing = false;
const at = (event) => {
  const box = canvas.getBoundingClientRect();
  return [((event.clientX - box.left) * canvas.width) / box.width, ((event.clientY - box.top) * canvas.height) / box.height];
};
canvas.addEventListener("pointerdown", (event) => {
  drawing = true;
  canvas.setPointerCapture(event.pointerId);
  context.beginPath();
  context.moveTo(...at(event));
});
canvas.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  context.lineTo(...at(event));
  context.stroke();
});
canvas.addEventListener("pointerup", () => {
  drawing = false;
  classify();
});
document.querySelector("button").addEventListener("click", () => {
  context.clearRect(0, 0, canvas.width, canvas.height);
  output.textContent = "draw a digit";
});
