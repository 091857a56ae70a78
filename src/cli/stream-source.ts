/**
 * The streamed --data source of `train` and `distill`:
 *   shards:DIR                  the .npy shards of a folder (x-NAME.npy, with y-NAME.npy and the
 *                               teacher's teacher-NAME.npy, or teacher-index-NAME.npy +
 *                               teacher-prob-NAME.npy), read a block at a time (StreamDataset)
 *   shards:A/x-0.npy,A/x-1.npy  some of a folder's shards, in this order; each x file's parts are
 *                               the files of its folder with the same NAME
 * The rows are never all in memory, so what needs them all is refused here, before the engine
 * starts: a test split, --exclude-classes, --keep-labels, --standardize, --validation FRACTION,
 * balanced class weights, and (distill) --teacher-logits, --transfer, --fine-tune-epochs.
 */
import { shardDirectory, type ShardFiles } from "../data/stream/npy-shards.js";
import { StreamDataset } from "../data/stream/stream-dataset.js";
import { OptionError } from "../errors.js";
import { inferShapes } from "../nn/layers/index.js";
import { joinPath } from "../runtime/files.js";
import { parseArchitecture } from "./arch.js";
import { UsageError, type Flags } from "./args.js";

export const SHARDS_PREFIX = "shards:";

export function isShardSource(source: unknown): source is string {
  return typeof source === "string" && source.startsWith(SHARDS_PREFIX);
}

/** Flags that need every row in memory, with the reason given when one comes with a shards source. */
const NEEDS_ROWS: [flag: string, why: string][] = [
  ["test-split", "a seeded stratified split needs every row in memory; keep test rows apart and evaluate with distill-wasm eval"],
  ["exclude-classes", "it rewrites the rows; write shards without those classes"],
  ["keep-labels", "it rewrites the labels; write y files with MISSING_LABEL (-1) for the rows without one"],
  ["standardize", "the layer is fitted on every training row; standardise the shards when writing them"],
  ["validation", "a validation fraction splits rows held in memory"],
  ["patience", "early stopping watches a validation fraction, which splits rows held in memory"],
  ["task", "streamed shards are single-label classification rows"],
  ["label", "shards name their labels by file (y-NAME.npy)"],
];
const DISTILL_NEEDS_ROWS: [flag: string, why: string][] = [
  ["teacher-logits", "precomputed logits go in the shard folder beside their rows (teacher-NAME.npy, or teacher-index-NAME.npy + teacher-prob-NAME.npy)"],
  ["transfer", "put the unlabelled rows in the shards (y = MISSING_LABEL, -1)"],
  ["fine-tune-epochs", "a streamed run trains the main stage only"],
];

/** UsageError for the first flag a shards source cannot follow (see the module comment). */
export function checkStreamFlags(flags: Flags, command: "train" | "distill"): void {
  const refused = command === "distill" ? [...NEEDS_ROWS, ...DISTILL_NEEDS_ROWS] : NEEDS_ROWS;
  for (const [flag, why] of refused) {
    if (flags[flag] !== undefined && flags[flag] !== false) throw new UsageError(`--${flag} cannot follow --data ${SHARDS_PREFIX}… (streamed rows): ${why}`);
  }
  const weights = flags["class-weights"] as string[] | undefined;
  if (weights?.length === 1 && weights[0] === "balanced") {
    throw new UsageError(
      `--class-weights balanced cannot follow --data ${SHARDS_PREFIX}… (it counts every row's class first): give one weight per class, W0,W1,…`,
    );
  }
}

/** The model's outputs according to --arch (the classes of the stream): the last width, or the last layer's size. */
function archOutputs(flags: Flags): number {
  const arch = parseArchitecture(flags.arch);
  if (arch.widths) return arch.widths.at(-1)!;
  return inferShapes(arch.layers!, arch.inputShape)
    .shapes.at(-1)!
    .reduce((a, b) => a * b, 1);
}

/** The last "/"-separated part of a path, and the folder before it ("." when none). */
function splitPath(path: string): { dir: string; name: string } {
  const slash = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return slash < 0 ? { dir: ".", name: path } : { dir: path.slice(0, slash) || "/", name: path.slice(slash + 1) };
}

/** The files of the source: a folder's shards, or the listed x files with their folders' matching parts. */
async function sourceFiles(rest: string): Promise<ShardFiles> {
  if (!rest.includes(",") && !rest.endsWith(".npy")) return shardDirectory(rest);
  const listed = rest.split(",").filter((p) => p.length > 0);
  const folders = new Map<string, ShardFiles>();
  const files: Required<ShardFiles> = { x: [], y: [], teacher: [], teacherIndex: [], teacherProb: [] };
  for (const path of listed) {
    const { dir, name } = splitPath(path);
    if (!name.startsWith("x-") || !name.endsWith(".npy")) {
      throw new UsageError(`--data ${SHARDS_PREFIX}FILE,FILE… lists the x files of shards (x-NAME.npy); got ${JSON.stringify(path)}`);
    }
    if (!folders.has(dir)) folders.set(dir, await shardDirectory(dir));
    const folder = folders.get(dir)!;
    const i = folder.x.findIndex((p) => String(p) === String(joinPath(dir, name)));
    if (i < 0) throw new UsageError(`--data: ${path} is not a shard of ${dir}`);
    for (const part of ["x", "y", "teacher", "teacherIndex", "teacherProb"] as const) {
      if (folder[part]) (files[part] as unknown[]).push(folder[part][i]);
    }
  }
  const out: ShardFiles = { x: files.x };
  for (const part of ["y", "teacher", "teacherIndex", "teacherProb"] as const) {
    if (files[part].length === 0) continue;
    if (files[part].length !== files.x.length)
      throw new UsageError(`--data: the listed shards come from folders that differ in their parts (some have ${part} files, some not)`);
    out[part] = files[part];
  }
  return out;
}

/** The shards of --data shards:…, opened (headers only) for a model of --arch's outputs. */
export async function loadShardSource(source: string, flags: Flags): Promise<{ train: StreamDataset; test?: undefined; description: string }> {
  const rest = source.slice(SHARDS_PREFIX.length);
  if (rest === "") throw new UsageError(`--data ${SHARDS_PREFIX} needs a folder (${SHARDS_PREFIX}DIR) or x files (${SHARDS_PREFIX}DIR/x-0.npy,DIR/x-1.npy)`);
  const classes = archOutputs(flags);
  const files = await sourceFiles(rest);
  let train: StreamDataset;
  try {
    train = await StreamDataset.fromShards(files, { classes });
  } catch (e) {
    // fromShards names its option `classes`; on the command line that number is --arch's outputs.
    if (e instanceof OptionError) throw new UsageError(`--data ${source} with --arch of ${classes} outputs: ${e.message}`);
    throw e;
  }
  const teacher = train.teacher === "dense" ? ", teacher logits" : train.teacher === "top-k" ? `, teacher top-${train.topK}` : "";
  const shards = files.x.length;
  return {
    train,
    description: `shards ${rest}, ${train.length} rows in ${shards} shard${shards > 1 ? "s" : ""}${train.labelled === 0 ? ", no labels" : ""}${teacher}, streamed`,
  };
}
