/**
 * Memory of a streamed run over more data than a wasm memory can hold (4 GiB): distill
 * over rows generated on the fly by a seeded generator (never stored), with the teacher's
 * logits in the batches, and the process RSS and the wasm memory read every few steps.
 * Both must stay flat: only the current block and batch live in wasm memory.
 *
 *   npm run bench:stream-memory                      (4.6 GiB of inputs: 1,200,000 rows × 1,024 f32)
 *   node bench/dist/stream-memory.js --rows=100000   (a shorter run)
 *
 * Prints a line per tenth of the run (rows so far, RSS, wasm memory, their high-water
 * marks) and a JSON summary line.
 */
import { distill, init, mlp, StreamDataset, type StreamBatch } from "distill-wasm";

const arg = (name: string, fallback: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback);
const ROWS = arg("rows", 1_200_000);
const FEATURES = 1024;
const CLASSES = 10;
const CHUNK = 4096;
const BATCH = 256;

/** Seeded rows: xorshift32 bits scaled to [0, 1), a label per row, the teacher's logits leaning to it. */
async function* generate(epoch: number): AsyncGenerator<StreamBatch> {
  let s = (0x9e3779b9 ^ epoch) >>> 0 || 1;
  for (let first = 0; first < ROWS; first += CHUNK) {
    const n = Math.min(CHUNK, ROWS - first);
    const x = new Float32Array(n * FEATURES);
    const y = new Int32Array(n);
    const teacher = new Float32Array(n * CLASSES);
    for (let r = 0; r < n; r++) {
      for (let f = 0; f < FEATURES; f++) {
        s ^= s << 13;
        s ^= s >>> 17;
        s ^= s << 5;
        x[r * FEATURES + f] = (s >>> 8) / 16777216;
      }
      const label = (s >>> 3) % CLASSES;
      y[r] = label;
      x[r * FEATURES + label]! += 1; // learnable
      teacher[r * CLASSES + label] = 3;
    }
    yield { x, y, teacher };
  }
}

const mib = (bytes: number) => bytes / 2 ** 20;
await init({ threads: 1 });
const student = mlp([FEATURES, 32, CLASSES], { seed: 1 });
const memory = () => student.engine.kernels.memory.buffer.byteLength;
const stream = StreamDataset.fromBatches(generate, { features: FEATURES, classes: CLASSES, rows: ROWS, teacher: "dense" });
const steps = Math.ceil(ROWS / BATCH);
const peak = { rss: 0, wasm: 0 };
const samples: { rows: number; rss: number; wasm: number }[] = [];
const sample = (rows: number) => {
  const rss = process.memoryUsage.rss();
  const wasm = memory();
  peak.rss = Math.max(peak.rss, rss);
  peak.wasm = Math.max(peak.wasm, wasm);
  samples.push({ rows, rss, wasm });
  return { rss, wasm };
};
const started = performance.now();
console.log(`streaming ${ROWS} rows × ${FEATURES} f32 = ${(ROWS * FEATURES * 4) / 2 ** 30} GiB of inputs (+ teacher logits), batch ${BATCH}, ${steps} steps`);
sample(0);
await distill({
  student,
  data: stream,
  epochs: 1,
  batchSize: BATCH,
  seed: 1,
  temperature: 2,
  onBatch: ({ step }) => {
    if (step % 32 !== 0 && step !== steps) return;
    const now = sample(Math.min(ROWS, step * BATCH));
    if (step % Math.ceil(steps / 10) < 32 || step === steps) {
      console.log(
        `rows ${String(Math.min(ROWS, step * BATCH)).padStart(9)}  RSS ${mib(now.rss).toFixed(0).padStart(5)} MiB (peak ${mib(peak.rss).toFixed(0)})  ` +
          `wasm ${mib(now.wasm).toFixed(1)} MiB (peak ${mib(peak.wasm).toFixed(1)})  ${((performance.now() - started) / 1000).toFixed(0)} s`,
      );
    }
  },
});
// Flat: the high-water marks of the second half of the run against those of its first tenth (after warm-up).
const tenth = samples.filter((s) => s.rows > 0 && s.rows <= ROWS / 10);
const late = samples.filter((s) => s.rows > ROWS / 2);
const max = (list: typeof samples, key: "rss" | "wasm") => Math.max(...list.map((s) => s[key]));
console.log(
  JSON.stringify({
    rows: ROWS,
    inputGiB: (ROWS * FEATURES * 4) / 2 ** 30,
    seconds: (performance.now() - started) / 1000,
    peakRssMiB: mib(peak.rss),
    peakWasmMiB: mib(peak.wasm),
    firstTenth: { rssMiB: mib(max(tenth, "rss")), wasmMiB: mib(max(tenth, "wasm")) },
    secondHalf: { rssMiB: mib(max(late, "rss")), wasmMiB: mib(max(late, "wasm")) },
  }),
);
