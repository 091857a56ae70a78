/**
 * The files a command writes, checked before any data is loaded or any batch is trained,
 * so that a mistake in a path costs nothing:
 *   - An output may not be one of the command's inputs (--data and --transfer files of every source kind,
 *     --teacher files, --teacher-logits, --model) nor another output: `--out` equal to
 *     `--teacher` would replace the teacher with the student. Paths are compared as the
 *     files they name: symbolic links followed, and device + inode for existing files
 *     (hard links). A UsageError (exit 2): the command line asks for something destructive.
 *   - Each output must be writable now: its folder exists and takes new files, and nothing
 *     but a regular file is at the path. An ArgumentError naming the path (exit 1), the
 *     same error and exit code as when the save itself fails, and as an unreadable input.
 */
import { checkWritable, fileIdentity, joinPath, listDirectory, resolvePackageFile, sameFile } from "../runtime/files.js";
import { UsageError, type Flags } from "./args.js";

/** A path and the flag that named it, for messages. */
export interface FlagPath {
  flag: string;
  path: string;
}

/**
 * The files of a --data source, as data-source.ts reads them: mnist (the package's digit
 * files), idx:DIR (every file name loadIdx looks for), csv:FILE, npy:X.npy,y.npy, shards:DIR
 * (the folder's .npy files; a missing folder is reported when the data is read) and
 * shards:X,X… (the listed x files).
 */
async function dataFiles(source: string): Promise<string[]> {
  if (source === "mnist") {
    const digits = Array.from({ length: 10 }, (_, d) => resolvePackageFile(`mnist/src/digits/${d}.json`).catch(() => undefined));
    return (await Promise.all(digits)).filter((f): f is string => f !== undefined);
  }
  const colon = source.indexOf(":");
  const kind = colon > 0 ? source.slice(0, colon) : "";
  const rest = source.slice(colon + 1);
  if (kind === "csv") return [rest];
  if (kind === "npy") return rest.split(",").filter((f) => f.length > 0);
  if (kind === "shards") {
    if (rest.includes(",") || rest.endsWith(".npy")) return rest.split(",").filter((f) => f.length > 0);
    const names = await listDirectory(rest, "--data").catch(() => [] as string[]);
    return names.filter((n) => n.endsWith(".npy")).map((n) => String(joinPath(rest, n)));
  }
  if (kind === "idx") {
    const names = ["train-images", "train-labels", "t10k-images", "t10k-labels"].flatMap((stem) => {
      const suffix = stem.endsWith("images") ? "idx3-ubyte" : "idx1-ubyte";
      return [`${stem}-${suffix}`, `${stem}-${suffix}.gz`, `${stem}.${suffix}`, `${stem}.${suffix}.gz`];
    });
    return names.map((name) => String(joinPath(rest, name)));
  }
  return [];
}

/** Every file the command's flags make it read. */
export async function inputFiles(flags: Flags): Promise<FlagPath[]> {
  const inputs: FlagPath[] = [];
  for (const flag of ["data", "transfer"]) {
    const source = flags[flag];
    if (typeof source === "string") for (const path of await dataFiles(source)) inputs.push({ flag, path });
  }
  for (const path of (flags.teacher as string[] | undefined) ?? []) inputs.push({ flag: "teacher", path });
  for (const flag of ["teacher-logits", "model"]) {
    if (typeof flags[flag] === "string") inputs.push({ flag, path: flags[flag] as string });
  }
  return inputs;
}

/** --out and --checkpoint, when given. */
export function outputFiles(flags: Flags): FlagPath[] {
  return ["out", "checkpoint"].filter((flag) => typeof flags[flag] === "string").map((flag) => ({ flag, path: flags[flag] as string }));
}

const named = (f: FlagPath) => `--${f.flag} ${f.path}`;

/** Refuses outputs that name an input or each other (UsageError), then unwritable ones (ArgumentError); see the module comment. */
export async function checkOutputs(flags: Flags, outputs: FlagPath[] = outputFiles(flags)): Promise<void> {
  const inputs = await inputFiles(flags);
  const ids = new Map<FlagPath, Awaited<ReturnType<typeof fileIdentity>>>();
  for (const f of [...outputs, ...inputs]) ids.set(f, await fileIdentity(f.path));
  outputs.forEach((out, i) => {
    for (const other of outputs.slice(0, i)) {
      if (sameFile(ids.get(out)!, ids.get(other)!)) throw new UsageError(`${named(out)} is the same file as ${named(other)}; give them different paths`);
    }
    for (const input of inputs) {
      if (sameFile(ids.get(out)!, ids.get(input)!)) {
        throw new UsageError(`${named(out)} is the same file as the input ${named(input)}: writing it would destroy that input; choose another path`);
      }
    }
  });
  for (const out of outputs) await checkWritable(out.path, `--${out.flag}`);
}
