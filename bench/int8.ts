/**
 * int8 vs float inference, one thread, baseline SIMD build: a 784-800-800-10 ReLU MLP (and
 * the demo's 784-32-10) at batch 1 and 128 — `model.predict` (float32) beside the same model
 * quantized with `quantize` (int8 weights and activations; int8 weights with float compute).
 * Random weights and inputs: the time does not depend on the values.
 *
 *   npm run bench:int8 [-- --ms 1500]
 *
 * Prints the median time per call (ms) and rows per second over repeated calls for `--ms`
 * milliseconds each (default 1000), after a warm-up.
 */
import { init, mlp, quantize } from "distill-wasm";
import { quantile } from "./lib/stats.js";
import { fmtNum, renderTable } from "./lib/table.js";

const msFlag = process.argv.indexOf("--ms");
const BUDGET = msFlag >= 0 ? Number(process.argv[msFlag + 1]) : 1000;
const MODELS = [
  [784, 800, 800, 10],
  [784, 32, 10],
];
const BATCHES = [1, 128];

/** Median ms per call of fn over BUDGET ms (at least 5 calls), after 3 warm-up calls. */
function median(fn: () => unknown): number {
  for (let i = 0; i < 3; i++) fn();
  const times: number[] = [];
  const end = performance.now() + BUDGET;
  while (times.length < 5 || performance.now() < end) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  return quantile(
    times.sort((a, b) => a - b),
    0.5,
  );
}

interface Row {
  model: string;
  batch: number;
  variant: string;
  ms: number;
  rowsPerSecond: number;
  bytes: number;
}

const engine = await init({ simd: "baseline" });
const rows: Row[] = [];
for (const widths of MODELS) {
  const model = mlp(widths, { seed: 1, engine });
  const calibration = Float32Array.from({ length: 256 * 784 }, (_, i) => ((i * 2654435761) % 1000) / 1000);
  const variants = [
    { variant: "float32", run: (x: Float32Array) => model.predict(x), bytes: model.parameterBytes },
    ...(["int8", "float"] as const).map((activations) => {
      const q = quantize(model, calibration, { activations });
      return { variant: activations === "int8" ? "int8" : "int8 weights, float compute", run: (x: Float32Array) => q.predict(x), bytes: q.parameterBytes };
    }),
  ];
  for (const batch of BATCHES) {
    const x = calibration.subarray(0, batch * 784);
    for (const v of variants) {
      const ms = median(() => v.run(x));
      rows.push({ model: widths.join("-"), batch, variant: v.variant, ms, rowsPerSecond: (batch / ms) * 1000, bytes: v.bytes });
    }
  }
}
console.log(`int8 vs float inference, one thread, ${engine.build} build (${process.version})`);
console.log(
  renderTable<Row>(
    [
      { header: "model", cell: (r) => r.model, align: "left" },
      { header: "batch", cell: (r) => String(r.batch) },
      { header: "variant", cell: (r) => r.variant, align: "left" },
      { header: "ms / call", cell: (r) => fmtNum(r.ms) },
      { header: "rows / s", cell: (r) => fmtNum(r.rowsPerSecond) },
      { header: "parameter bytes", cell: (r) => String(r.bytes) },
    ],
    rows,
  ),
);
