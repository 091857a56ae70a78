/**
 * Section 6, streamed data against data in memory: samples/s of train() on MNIST-sized rows
 * (784 features, 10 classes, batch 128, MLP 784-128-10, momentum SGD) over
 * - a Dataset in wasm memory (the in-memory path);
 * - a StreamDataset over .npy shards in a temporary folder (4 shards, blocks of 4,096 rows,
 *   shuffled), read a block at a time (Node, Deno, Bun: needs a file system);
 * - a StreamDataset over an async iterator of in-memory batches of 1,024 rows (shuffled).
 * One epoch of 16,384 rows per timed run (--quick: 2,048), after an untimed warm-up epoch;
 * runs alternate between the paths, and the median of 3 (--quick: 1) is reported.
 */
import { Dataset, encodeNpy, mlp, StreamDataset, train, type StreamBatch } from "distill-wasm";
import type { Context } from "../lib/context.js";
import { fmtNum, renderTable, type Column } from "../lib/table.js";

const FEATURES = 784;
const CLASSES = 10;
const BATCH = 128;
const WIDTHS = [FEATURES, 128, CLASSES];

export interface StreamRow {
  path: string;
  samplesPerSecond: number;
  /** Against the in-memory path (1 = as fast). */
  ratio: number;
}

export interface StreamResult {
  rows: number;
  batch: number;
  widths: number[];
  results: StreamRow[];
  skipped: Record<string, string>;
}

/** Seeded MNIST-like rows: values in [0, 1), a label each. */
function makeRows(n: number): { x: Float32Array; y: Int32Array } {
  const x = new Float32Array(n * FEATURES);
  const y = new Int32Array(n);
  let s = 12345;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    x[i] = (s >>> 8) / 16777216;
  }
  for (let r = 0; r < n; r++) y[r] = r % CLASSES;
  return { x, y };
}

const hasFileSystem = () => typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === "string";

/** The rows as 4 shards of x-*.npy and y-*.npy in a fresh temporary folder. */
async function writeShards(x: Float32Array, y: Int32Array, n: number): Promise<string> {
  const { mkdtemp, writeFile } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const dir = await mkdtemp(join(tmpdir(), "distill-bench-stream-"));
  const per = n / 4;
  for (let i = 0; i < 4; i++) {
    await writeFile(join(dir, `x-${i}.npy`), encodeNpy(x.slice(i * per * FEATURES, (i + 1) * per * FEATURES), [per, FEATURES]));
    await writeFile(join(dir, `y-${i}.npy`), encodeNpy(y.slice(i * per, (i + 1) * per), [per]));
  }
  return dir;
}

export async function runStream(ctx: Context): Promise<StreamResult> {
  console.log("\n## 6. Streamed data versus data in memory\n");
  const rows = ctx.quick ? 2048 : 16384;
  const repeats = ctx.quick ? 1 : 3;
  const { x, y } = makeRows(rows);
  const data = Dataset.from(x, y, { features: FEATURES, classes: CLASSES });
  const skipped: Record<string, string> = {};
  const sources: { path: string; data: Dataset | StreamDataset }[] = [{ path: "in memory (Dataset)", data }];
  if (hasFileSystem()) {
    const dir = await writeShards(x, y, rows);
    sources.push({ path: "stream: .npy shards, shuffled", data: await StreamDataset.fromShards(dir, { classes: CLASSES }) });
  } else {
    skipped["npy shards"] = "no file system in this runtime";
  }
  const chunk = 1024;
  const batches = async function* (): AsyncGenerator<StreamBatch> {
    for (let first = 0; first < rows; first += chunk)
      yield { x: x.subarray(first * FEATURES, (first + chunk) * FEATURES), y: y.subarray(first, first + chunk) };
  };
  sources.push({
    path: "stream: async iterator, shuffled",
    data: StreamDataset.fromBatches(batches, { features: FEATURES, classes: CLASSES, rows, blockRows: chunk }),
  });

  const samples = new Map<string, number[]>(sources.map((s) => [s.path, []]));
  for (let r = 0; r < repeats; r++) {
    for (const s of sources) {
      const model = mlp(WIDTHS, { seed: 1, engine: ctx.engine });
      const seconds: number[] = [];
      await train(model, s.data, { epochs: 2, batchSize: BATCH, seed: 1, onEpoch: (e) => void seconds.push(e.seconds) });
      samples.get(s.path)!.push(rows / seconds[1]!); // the second epoch: warm
      model.dispose();
    }
  }
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
  const base = median(samples.get(sources[0]!.path)!);
  const results: StreamRow[] = sources.map((s) => {
    const sps = median(samples.get(s.path)!);
    return { path: s.path, samplesPerSecond: sps, ratio: sps / base };
  });
  const columns: Column<StreamRow>[] = [
    { header: "data", cell: (r) => r.path, align: "left" },
    { header: "samples/s", cell: (r) => fmtNum(Math.round(r.samplesPerSecond)), align: "right" },
    { header: "vs in memory", cell: (r) => `${r.ratio.toFixed(3)}×`, align: "right" },
  ];
  console.log(`train(), MLP ${WIDTHS.join("-")}, batch ${BATCH}, ${rows} rows per epoch, median of ${repeats}\n`);
  console.log(renderTable(columns, results));
  for (const r of results.slice(1)) ctx.summary.push(`train() over ${r.path}: ${r.ratio.toFixed(2)}× the in-memory samples/s`);
  return { rows, batch: BATCH, widths: WIDTHS, results, skipped };
}
