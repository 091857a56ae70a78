/**
 * Finding the MNIST IDX files for the whole-epoch suite, and cutting them to their first
 * rows: pure functions of paths and bytes (node-native.ts reads and writes the files).
 */

/** The environment variable naming the directory of the MNIST IDX files. */
export const MNIST_ENV = "DISTILL_BENCH_MNIST";

/** The training images under any of the names loadIdx accepts. */
export const TRAIN_IMAGE_NAMES = ["train-images-idx3-ubyte", "train-images-idx3-ubyte.gz", "train-images.idx3-ubyte", "train-images.idx3-ubyte.gz"];

/**
 * The directory to read: --mnist=DIR, else $DISTILL_BENCH_MNIST, else `defaultDir` (the
 * repository's ../shared/data/mnist). One that holds no training images is skipped with
 * the reason, naming how it was chosen and how to choose another.
 */
export function resolveMnistDir(options: {
  argv: readonly string[];
  envDir?: string;
  defaultDir: string;
  exists: (file: string) => boolean;
}): { dir: string; source: string } | { skipped: string } {
  const arg = options.argv.find((a) => a.startsWith("--mnist="))?.slice("--mnist=".length);
  const [dir, source] =
    arg !== undefined && arg !== ""
      ? [arg, "--mnist"]
      : options.envDir !== undefined && options.envDir !== ""
        ? [options.envDir, MNIST_ENV]
        : [options.defaultDir, "the default location"];
  const base = dir.replace(/\/+$/, "");
  if (TRAIN_IMAGE_NAMES.some((name) => options.exists(`${base}/${name}`))) return { dir: base, source: `${base} (${source})` };
  return {
    skipped: `no MNIST training images (${TRAIN_IMAGE_NAMES[0]}[.gz]) in ${base}, from ${source}; pass --mnist=DIR or set ${MNIST_ENV} to a directory of the MNIST IDX files`,
  };
}

/**
 * The IDX file's first `rows` records: the header with its first dimension set to `rows`,
 * then that many records. `rows` larger than the file's count → the whole file.
 * IDX: 0, 0, type code, number of dimensions d; d big-endian u32 sizes; the data.
 */
export function idxHead(bytes: Uint8Array, rows: number): { bytes: Uint8Array; rows: number } {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0) throw new Error("not an IDX file (its first two bytes must be 0)");
  const itemBytes = ({ 0x08: 1, 0x09: 1, 0x0b: 2, 0x0c: 4, 0x0d: 4, 0x0e: 8 } as Record<number, number>)[bytes[2]!];
  if (itemBytes === undefined) throw new Error(`IDX type code 0x${bytes[2]!.toString(16)} is not one of the IDX types`);
  const dims = bytes[3]!;
  const header = 4 + 4 * dims;
  if (dims === 0 || bytes.length < header) throw new Error("IDX header truncated");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(4);
  let record = itemBytes;
  for (let d = 1; d < dims; d++) record *= view.getUint32(4 + 4 * d);
  const keep = Math.min(count, Math.max(0, Math.floor(rows)));
  if (bytes.length < header + count * record)
    throw new Error(`IDX data truncated: ${count} records need ${header + count * record} bytes, the file has ${bytes.length}`);
  const out = bytes.slice(0, header + keep * record);
  new DataView(out.buffer).setUint32(4, keep);
  return { bytes: out, rows: keep };
}
