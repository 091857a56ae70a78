/**
 * JS-heap allocation of a training step: one `train` and one `distill` run (cached teacher
 * logits) of 40 epochs × 128 steps, with a young generation large enough that no garbage
 * collection runs; the heap is read at the end of epoch 8 (after warm-up) and epoch 40, so
 * the difference is what 4,096 steps allocated (plus one small history record per epoch).
 *
 *   npm run bench:allocation      (node --expose-gc --max-semi-space-size=128)
 */
import { Dataset, distill, init, mlp, train, type EpochRecord, type Sequential } from "distill-wasm";

const ROWS = 4096; // 128 steps of 32 per epoch
const FEATURES = 64;
const CLASSES = 10;
const EPOCHS = 40;
const FROM_EPOCH = 8;

function data(): { set: Dataset; logits: Float32Array } {
  const x = new Float32Array(ROWS * FEATURES).map((_, i) => ((i * 7919) % 256) / 255);
  const y = new Int32Array(ROWS).map((_, i) => i % CLASSES);
  const logits = new Float32Array(ROWS * CLASSES).map((_, i) => ((i * 31) % 17) / 4 - 2);
  return { set: Dataset.from(x, y, { features: FEATURES, classes: CLASSES }), logits };
}

type Run = (model: Sequential, onEpoch: (record: EpochRecord) => void) => Promise<unknown>;

async function measure(name: string, run: Run): Promise<void> {
  const model = mlp([FEATURES, 128, 128, CLASSES], { seed: 1, dropout: 0.1 });
  let start = 0;
  let end = 0;
  await run(model, (record) => {
    if (record.epoch === FROM_EPOCH) {
      (globalThis as { gc?: () => void }).gc?.(); // a clean baseline; no collection runs after it
      start = process.memoryUsage().heapUsed;
    }
    if (record.epoch === EPOCHS) end = process.memoryUsage().heapUsed;
  });
  const steps = (EPOCHS - FROM_EPOCH) * (ROWS / 32);
  console.log(`${name.padEnd(26)} ${(end - start).toLocaleString("en-US").padStart(9)} B over ${steps} steps → ${((end - start) / steps).toFixed(1)} B per step`);
  model.dispose();
}

await init();
if (!(globalThis as { gc?: unknown }).gc) throw new Error("run with node --expose-gc (npm run bench:allocation)");
const { set, logits } = data();
console.log(`JS heap growth of training steps (batch 32, MLP ${FEATURES}-128-128-${CLASSES} with dropout), Node ${process.version}`);
await measure("train (momentum SGD)", (m, onEpoch) => train(m, set, { epochs: EPOCHS, batchSize: 32, onEpoch }));
await measure("distill (cached logits)", (m, onEpoch) => distill({ teacher: logits, student: m, data: set, epochs: EPOCHS, batchSize: 32, onEpoch }));
