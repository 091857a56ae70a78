/**
 * Reading bytes from a path or URL. Node, Deno and Bun all provide `node:fs/promises`,
 * so local paths and `file:` URLs are read through it; http(s), blob: and data: URLs,
 * and everything in browsers, go through `fetch`. This is the only module that touches
 * the file system, and it imports `node:*` lazily so that browsers never load it.
 *
 * Failures to read (nothing at the path, permission denied, HTTP errors) are
 * `ArgumentError`s naming the path: the caller passed a location that cannot be read.
 *
 * Writing (`writeBytesAtomic`) needs a file system: Node, Deno or Bun. It replaces the
 * path rather than writing through it: the bytes go to a temporary file in the same folder
 * (`.<name>.<time>-<counter>-<random>.tmp`), flushed, then renamed onto the target, so a
 * reader sees the old file or the complete new one and a failure leaves the old file as
 * it was. The rename is only ever made onto a regular file or a new path. Directories,
 * devices, FIFOs and sockets are refused with an ArgumentError saying what is there:
 * renaming over them would replace them (run as root, `/dev/null` itself), and pouring a
 * model into a pipe or a terminal is not saving it. A symbolic link is followed and the
 * file it finally names is replaced atomically, leaving the link in place: people link a
 * model into a shared folder so that it stays shared, and replacing the link would
 * silently cut it off from its target (a dangling link creates the file it points at).
 * Temporary files of the same target left by a killed writer, older than a minute, are
 * removed by the next write; younger ones may belong to a writer still at work.
 */
import { ArgumentError, FormatError, RuntimeSupportError } from "../errors.js";

/** A local path (Node, Deno, Bun), or a URL (`file:` in those runtimes; http(s) anywhere). */
export type PathOrUrl = string | URL;

interface RuntimeGlobals {
  process?: { versions?: { node?: unknown } };
  Deno?: unknown;
}

/** Whether `node:fs` and `node:module` are available (Node, Deno, Bun; Bun and Deno report a node version too). */
export function hasFileSystem(): boolean {
  const g = globalThis as RuntimeGlobals;
  return typeof g.process?.versions?.node === "string" || typeof g.Deno === "object";
}

const FETCH_PROTOCOLS = ["http:", "https:", "blob:", "data:"];

function describe(location: PathOrUrl): string {
  return location instanceof URL ? location.href : location;
}

/** `file:` strings become URLs (fs would read them as relative paths); other strings stay paths. */
function toFsLocation(location: PathOrUrl): string | URL {
  return typeof location === "string" && location.startsWith("file:") ? new URL(location) : location;
}

function isFetchUrl(location: PathOrUrl): boolean {
  const text = describe(location);
  return FETCH_PROTOCOLS.some((protocol) => text.startsWith(protocol));
}

function requireLocation(op: string, location: unknown): PathOrUrl {
  if (typeof location === "string" ? location.length === 0 : !(location instanceof URL)) {
    throw new ArgumentError(`${op}: the path must be a non-empty string or a URL; got ${JSON.stringify(location) ?? String(location)}`);
  }
  return location as PathOrUrl;
}

/** Joins chunks read one after the other (`total` bytes in all) into one array. */
export function joinChunks(chunks: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

const tooLarge = (op: string, where: string, maxBytes: number) =>
  new FormatError(`${op}: ${where} is larger than ${maxBytes} bytes, the limit for this kind of file; pass a larger maxBytes if it is genuine`);

/**
 * Reads a local file in pieces, stopping as soon as more than `maxBytes` have come: a
 * device or pipe (/dev/zero, whose size reads 0) never fills memory.
 */
async function readLocalBounded(
  fs: typeof import("node:fs/promises"),
  location: string | URL,
  maxBytes: number,
  op: string,
  where: string,
): Promise<Uint8Array> {
  const handle = await fs.open(location, "r");
  try {
    const stat = await handle.stat();
    if (stat.isFile() && stat.size > maxBytes) throw tooLarge(op, where, maxBytes);
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const chunk = new Uint8Array(Math.min(1 << 20, maxBytes - total + 1));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > maxBytes) throw tooLarge(op, where, maxBytes);
      chunks.push(chunk.subarray(0, bytesRead));
    }
    return joinChunks(chunks, total);
  } finally {
    await handle.close();
  }
}

/**
 * The bytes at `location`, or `undefined` if nothing is there (no such file, HTTP 404).
 * More than `maxBytes` (default: no limit) is a FormatError, found while reading, never
 * after. Any other failure throws ArgumentError naming the location.
 */
export async function readBytesIfExists(location: PathOrUrl, op = "readBytes", maxBytes = Infinity): Promise<Uint8Array | undefined> {
  requireLocation(op, location);
  const where = describe(location);
  if (hasFileSystem() && !isFetchUrl(location)) {
    const fs = await import("node:fs/promises");
    try {
      if (Number.isFinite(maxBytes)) return await readLocalBounded(fs, toFsLocation(location), maxBytes, op, where);
      const buffer = await fs.readFile(toFsLocation(location));
      // A plain Uint8Array: Buffer's slice() shares memory instead of copying.
      return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    } catch (cause) {
      if (cause instanceof FormatError) throw cause;
      const code = (cause as { code?: unknown }).code;
      if (code === "ENOENT" || code === "ENOTDIR") return undefined;
      throw new ArgumentError(`${op}: cannot read ${where}: ${(cause as Error).message ?? String(cause)}`);
    }
  }
  let response: Response;
  try {
    response = await fetch(location);
  } catch (cause) {
    throw new ArgumentError(`${op}: fetching ${where} failed: ${String(cause)}`);
  }
  if (response.status === 404) return undefined;
  if (!response.ok) throw new ArgumentError(`${op}: fetching ${where} failed: HTTP ${response.status}`);
  if (!Number.isFinite(maxBytes) || !response.body) return new Uint8Array(await response.arrayBuffer());
  if (Number(response.headers.get("content-length") ?? 0) > maxBytes) throw tooLarge(op, where, maxBytes);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (let part = await reader.read(); !part.done; part = await reader.read()) {
    total += part.value.length;
    if (total > maxBytes) {
      await reader.cancel();
      throw tooLarge(op, where, maxBytes);
    }
    chunks.push(part.value);
  }
  return joinChunks(chunks, total);
}

/** The bytes at `location`; ArgumentError naming it if there is no such file or it cannot be read. */
export async function readBytes(location: PathOrUrl, op = "readBytes", maxBytes = Infinity): Promise<Uint8Array> {
  const bytes = await readBytesIfExists(location, op, maxBytes);
  if (!bytes) throw new ArgumentError(`${op}: no file at ${describe(location)}`);
  return bytes;
}

// ---------------------------------------------------------------- writing

type Fs = typeof import("node:fs/promises");
type Stats = import("node:fs").Stats;
type NodePath = typeof import("node:path");

let tempCounter = 0;
/** A temporary file of a target older than this is an orphan of a killed writer (see removeStaleTemps). */
const STALE_TEMP_MS = 60_000;
/** Symbolic links followed before giving up, as Linux's own limit. */
const MAX_LINKS = 40;

/** The name of a new temporary file for the file named `base` (see isTempOf). */
function tempName(base: string): string {
  return `.${base}.${Date.now().toString(36)}-${(tempCounter++).toString(36)}-${Math.random().toString(36).slice(2, 8)}.tmp`;
}

/** Whether `name` is a temporary file tempName made for `base` (and for no other name: the parts hold no dots). */
function isTempOf(name: string, base: string): boolean {
  const prefix = `.${base}.`;
  return name.startsWith(prefix) && /^[0-9a-z]+-[0-9a-z]+-[0-9a-z]*\.tmp$/.test(name.slice(prefix.length));
}

/** The file-system modules, or RuntimeSupportError where there is no local file system. */
async function localFs(op: string, location: PathOrUrl, what = "write"): Promise<{ fs: Fs; path: NodePath; local: string }> {
  if (!hasFileSystem() || isFetchUrl(location)) {
    throw new RuntimeSupportError(`${op}: cannot ${what} ${describe(location)}: that needs a file system (Node, Deno or Bun) and a local path`);
  }
  const [fs, path, url] = await Promise.all([import("node:fs/promises"), import("node:path"), import("node:url")]);
  const local = typeof location === "string" && !location.startsWith("file:") ? location : url.fileURLToPath(location);
  return { fs, path, local };
}

const errorCode = (cause: unknown) => (cause as { code?: unknown }).code;
const errorText = (cause: unknown) => (cause as Error).message ?? String(cause);

/**
 * What `file` finally names: symbolic links followed (a relative link against the real
 * path of its folder, as the kernel does), and the lstat of what is there (undefined when
 * nothing is: the path writing would create). Throws the file system's error when a
 * folder on the way is missing or unreadable.
 */
async function followLinks(fs: Fs, path: NodePath, file: string): Promise<{ file: string; stats?: Stats; linked: boolean }> {
  let current = file;
  for (let hop = 0; hop <= MAX_LINKS; hop++) {
    const linked = hop > 0;
    current = path.join(await fs.realpath(path.dirname(current)), path.basename(current));
    let stats: Stats;
    try {
      stats = await fs.lstat(current);
    } catch (cause) {
      if (errorCode(cause) === "ENOENT") return { file: current, linked };
      throw cause;
    }
    if (!stats.isSymbolicLink()) return { file: current, stats, linked };
    // A link to something that exists: stat says what (also for /proc's links to pipes,
    // which have no path to resolve); a dangling link is followed by hand to the file it
    // would create.
    let target: Stats | undefined;
    try {
      target = await fs.stat(current);
    } catch (cause) {
      if (errorCode(cause) !== "ENOENT") throw cause;
    }
    if (target) return { file: await fs.realpath(current).catch(() => current), stats: target, linked: true };
    current = path.resolve(path.dirname(current), await fs.readlink(current));
  }
  throw Object.assign(new Error(`more than ${MAX_LINKS} symbolic links in a row`), { code: "ELOOP" });
}

/** "a directory", "a FIFO (named pipe)", … for anything that is not a regular file; undefined for one. */
function notAFile(stats: Stats): string | undefined {
  if (stats.isFile()) return undefined;
  if (stats.isDirectory()) return "a directory";
  if (stats.isCharacterDevice()) return "a character device";
  if (stats.isBlockDevice()) return "a block device";
  if (stats.isFIFO()) return "a FIFO (named pipe)";
  if (stats.isSocket()) return "a socket";
  return "not a regular file";
}

/** Why a path cannot be written, in words; `folder` is where the temporary file goes. */
function writeProblem(cause: unknown, folder: string): string {
  const code = errorCode(cause);
  if (code === "ENOENT") return `the folder ${folder} does not exist`;
  if (code === "ENOTDIR") return `a part of the folder ${folder} is not a directory`;
  if (code === "EACCES" || code === "EPERM") return `permission denied in ${folder}`;
  if (code === "EROFS") return `${folder} is on a read-only file system`;
  return errorText(cause);
}

interface WriteTarget {
  /** The file the rename replaces or creates (symbolic links followed). */
  file: string;
  /** The permission bits of the file being replaced, kept by the new one. */
  mode?: number;
}

/** Where writing `local` lands, or ArgumentError naming it when that is not a regular file or a new path in an existing folder. */
async function writeTarget(fs: Fs, path: NodePath, op: string, location: PathOrUrl, local: string): Promise<WriteTarget> {
  const where = describe(location);
  let found: { file: string; stats?: Stats; linked: boolean };
  try {
    found = await followLinks(fs, path, local);
  } catch (cause) {
    const code = errorCode(cause);
    const problem = code === "ELOOP" ? "too many symbolic links" : writeProblem(cause, path.dirname(path.resolve(local)));
    throw new ArgumentError(`${op}: cannot write ${where}: ${problem}`);
  }
  if (!found.stats) return { file: found.file };
  const kind = notAFile(found.stats);
  const via = found.linked ? ` (a link to ${found.file})` : "";
  if (kind) throw new ArgumentError(`${op}: cannot write ${where}${via}: it is ${kind}; give the path of a regular file or a new one`);
  return { file: found.file, mode: found.stats.mode & 0o777 };
}

/**
 * Removes the temporary files of `file` that earlier writes left behind when they were
 * killed (only names of exactly this target's pattern, only regular files, only those
 * untouched for a minute). Done before writing, so that orphans filling a disk do not
 * make the write fail; best effort: a file that cannot be removed stays.
 */
async function removeStaleTemps(fs: Fs, path: NodePath, file: string): Promise<void> {
  const folder = path.dirname(file);
  const base = path.basename(file);
  let names: string[];
  try {
    names = await fs.readdir(folder);
  } catch {
    return;
  }
  const now = Date.now();
  for (const name of names.filter((n) => isTempOf(n, base))) {
    const temp = path.join(folder, name);
    try {
      const stats = await fs.lstat(temp);
      if (stats.isFile() && now - stats.mtimeMs > STALE_TEMP_MS) await fs.unlink(temp);
    } catch {
      // Removed by another writer meanwhile, or not ours to remove: leave it.
    }
  }
}

/**
 * Writes `bytes` to `location` (a local path or `file:` URL) atomically, as the module
 * comment describes: temporary file, flush, rename onto a regular file (keeping its
 * permission bits) or a new path; a symbolic link is followed and its target replaced.
 * On any failure the temporary file is removed and the old file is left as it was.
 * Throws ArgumentError naming the path if it cannot be written (a missing folder, a
 * directory, device, FIFO or socket there), RuntimeSupportError in runtimes without a
 * file system (browsers).
 */
export async function writeBytesAtomic(location: PathOrUrl, bytes: Uint8Array, op = "writeBytes"): Promise<void> {
  requireLocation(op, location);
  if (!(bytes instanceof Uint8Array)) throw new ArgumentError(`${op}: bytes must be a Uint8Array`);
  const { fs, path, local } = await localFs(op, location);
  const target = await writeTarget(fs, path, op, location, local);
  await removeStaleTemps(fs, path, target.file);
  const temp = path.join(path.dirname(target.file), tempName(path.basename(target.file)));
  let created = false;
  try {
    const handle = await fs.open(temp, "wx");
    created = true;
    try {
      if (target.mode !== undefined) await handle.chmod(target.mode);
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, target.file);
  } catch (cause) {
    if (created) await fs.rm(temp, { force: true }).catch(() => undefined);
    throw new ArgumentError(`${op}: cannot write ${describe(location)}: ${writeProblem(cause, path.dirname(target.file))}`);
  }
}

/**
 * Checks now, before hours of work, that writeBytesAtomic(location) can succeed: nothing
 * but a regular file is at the path, and its folder exists and takes new files. The
 * folder is tried by creating and removing an empty temporary file: permission bits alone
 * do not tell (read-only mounts, ACLs, root). ArgumentError naming the path and the
 * problem otherwise; nothing at the path is changed.
 */
export async function checkWritable(location: PathOrUrl, op = "checkWritable"): Promise<void> {
  requireLocation(op, location);
  const { fs, path, local } = await localFs(op, location);
  const target = await writeTarget(fs, path, op, location, local);
  const temp = path.join(path.dirname(target.file), tempName(path.basename(target.file)));
  try {
    await (await fs.open(temp, "wx")).close();
  } catch (cause) {
    throw new ArgumentError(`${op}: cannot write ${describe(location)}: ${writeProblem(cause, path.dirname(target.file))}`);
  }
  await fs.rm(temp, { force: true }).catch(() => undefined);
}

/** Which file a path names, for telling whether two paths are the same file (see sameFile). */
export interface FileIdentity {
  /** The real path: symbolic links followed; for a file not there yet, its folder's real path and its name. */
  path: string;
  /** Device and inode of an existing file: hard links and bind mounts have different paths but the same pair. */
  device?: number;
  inode?: number;
}

/** The identity of the file at a local path or `file:` URL (Node, Deno, Bun); never throws for a missing file or folder. */
export async function fileIdentity(location: PathOrUrl): Promise<FileIdentity> {
  requireLocation("fileIdentity", location);
  const { fs, path, local } = await localFs("fileIdentity", location, "identify");
  try {
    const { file, stats } = await followLinks(fs, path, local);
    return stats && stats.ino ? { path: file, device: stats.dev, inode: stats.ino } : { path: file };
  } catch {
    return { path: path.resolve(local) }; // a folder on the way is missing or unreadable: the path as written
  }
}

/** Whether two identities name one file: the same real path, or the same device and inode. */
export function sameFile(a: FileIdentity, b: FileIdentity): boolean {
  return a.path === b.path || (a.inode !== undefined && a.inode === b.inode && a.device === b.device);
}

/** `name` inside the directory `dir` (a path or a URL, with or without a trailing slash). */
export function joinPath(dir: PathOrUrl, name: string): PathOrUrl {
  requireLocation("joinPath", dir);
  if (dir instanceof URL) {
    return new URL(name, dir.href.endsWith("/") ? dir : new URL(`${dir.href}/`));
  }
  return dir.endsWith("/") || dir.endsWith("\\") ? dir + name : `${dir}/${name}`;
}

/**
 * The file path of a file inside an installed package, e.g. `"mnist/src/digits/0.json"`,
 * resolved the way Node resolves `require()` from this package. Throws RuntimeSupportError
 * in browsers (no file system) and ArgumentError if the package is not installed.
 */
export async function resolvePackageFile(specifier: string): Promise<string> {
  if (!hasFileSystem()) {
    throw new RuntimeSupportError(`cannot resolve ${specifier}: this runtime has no file system or package resolution`);
  }
  const { createRequire } = await import("node:module");
  try {
    return createRequire(import.meta.url).resolve(specifier);
  } catch (cause) {
    throw new ArgumentError(`cannot find ${specifier}: is its package installed? (${(cause as Error).message})`);
  }
}

/** Writes UTF-8 text atomically (see writeBytesAtomic). */
export async function writeTextFile(location: PathOrUrl, text: string, op = "writeText"): Promise<void> {
  await writeBytesAtomic(location, new TextEncoder().encode(text), op);
}

/** Creates a directory and its parents if they do not exist (Node, Deno, Bun). */
export async function makeDirectory(location: PathOrUrl, op = "makeDirectory"): Promise<void> {
  requireLocation(op, location);
  if (!hasFileSystem() || isFetchUrl(location)) {
    throw new RuntimeSupportError(`${op}: cannot create ${describe(location)}: that needs a file system (Node, Deno or Bun)`);
  }
  const fs = await import("node:fs/promises");
  try {
    await fs.mkdir(location, { recursive: true });
  } catch (cause) {
    throw new ArgumentError(`${op}: cannot create ${describe(location)}: ${(cause as Error).message ?? String(cause)}`);
  }
}

/** A local file opened for reads at any position (streamed datasets read their shards a block at a time). */
export interface RandomAccessFile {
  readonly size: number;
  /**
   * `length` bytes from `position`, into the start of `into` when given (at least `length`
   * bytes: no new buffer), else into a new one; FormatError naming the file if it ends before.
   */
  read(position: number, length: number, into?: Uint8Array): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** Opens a local file (Node, Deno, Bun) for positional reads; ArgumentError naming it if it cannot be opened. */
export async function openRandomAccess(location: PathOrUrl, op = "openFile"): Promise<RandomAccessFile> {
  requireLocation(op, location);
  if (!hasFileSystem() || isFetchUrl(location)) throw new RuntimeSupportError(`${op}: ${describe(location)} must be a local file (Node, Deno or Bun)`);
  const fs = await import("node:fs/promises");
  const where = describe(location);
  let handle: Awaited<ReturnType<typeof fs.open>>;
  let size: number;
  try {
    handle = await fs.open(toFsLocation(location), "r");
    const stat = await handle.stat();
    if (!stat.isFile()) {
      await handle.close();
      throw new ArgumentError(`${op}: ${where} is not a regular file`);
    }
    size = stat.size;
  } catch (cause) {
    if (cause instanceof ArgumentError) throw cause;
    throw new ArgumentError(`${op}: cannot open ${where}: ${(cause as Error).message ?? String(cause)}`);
  }
  return {
    size,
    async read(position: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
      const out = into ? into.subarray(0, length) : new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(out, done, length - done, position + done);
        if (bytesRead === 0) throw new FormatError(`${op}: ${where} ends at byte ${position + done}; expected ${length - done} more bytes (truncated?)`);
        done += bytesRead;
      }
      return out;
    },
    close: () => handle.close(),
  };
}

/** The names of the entries of a local directory, sorted; ArgumentError naming it if it cannot be listed. */
export async function listDirectory(location: PathOrUrl, op = "listDirectory"): Promise<string[]> {
  requireLocation(op, location);
  if (!hasFileSystem() || isFetchUrl(location)) throw new RuntimeSupportError(`${op}: ${describe(location)} must be a local directory (Node, Deno or Bun)`);
  const fs = await import("node:fs/promises");
  try {
    return (await fs.readdir(toFsLocation(location))).map(String).sort();
  } catch (cause) {
    throw new ArgumentError(`${op}: cannot list ${describe(location)}: ${(cause as Error).message ?? String(cause)}`);
  }
}
