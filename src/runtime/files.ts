/**
 * Reading bytes from a path or URL. Node, Deno and Bun all provide `node:fs/promises`,
 * so local paths and `file:` URLs are read through it; http(s), blob: and data: URLs,
 * and everything in browsers, go through `fetch`. This is the only module that touches
 * the file system, and it imports `node:*` lazily so that browsers never load it.
 *
 * Failures to read (nothing at the path, permission denied, HTTP errors) are
 * `ArgumentError`s naming the path: the caller passed a location that cannot be read.
 * Writing (`writeBytesAtomic`) needs a file system: Node, Deno or Bun.
 */
import { ArgumentError, RuntimeSupportError } from "../errors.js";

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

/**
 * The bytes at `location`, or `undefined` if nothing is there (no such file, HTTP 404).
 * Any other failure throws ArgumentError naming the location.
 */
export async function readBytesIfExists(location: PathOrUrl, op = "readBytes"): Promise<Uint8Array | undefined> {
  requireLocation(op, location);
  const where = describe(location);
  if (hasFileSystem() && !isFetchUrl(location)) {
    const fs = await import("node:fs/promises");
    try {
      const buffer = await fs.readFile(toFsLocation(location));
      // A plain Uint8Array: Buffer's slice() shares memory instead of copying.
      return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    } catch (cause) {
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
  return new Uint8Array(await response.arrayBuffer());
}

/** The bytes at `location`; ArgumentError naming it if there is no such file or it cannot be read. */
export async function readBytes(location: PathOrUrl, op = "readBytes"): Promise<Uint8Array> {
  const bytes = await readBytesIfExists(location, op);
  if (!bytes) throw new ArgumentError(`${op}: no file at ${describe(location)}`);
  return bytes;
}

let tempCounter = 0;

/**
 * Writes `bytes` to `location` (a local path or `file:` URL) atomically: into a temporary
 * file in the same directory, flushed to disk, then renamed over the target, so readers
 * see either the old file or the complete new one, never a partial write. On failure the
 * temporary file is removed and the old file is left as it was. Throws ArgumentError
 * naming the path if it cannot be written, RuntimeSupportError in runtimes without a
 * file system (browsers).
 */
export async function writeBytesAtomic(location: PathOrUrl, bytes: Uint8Array, op = "writeBytes"): Promise<void> {
  requireLocation(op, location);
  if (!(bytes instanceof Uint8Array)) throw new ArgumentError(`${op}: bytes must be a Uint8Array`);
  if (!hasFileSystem() || isFetchUrl(location)) {
    throw new RuntimeSupportError(`${op}: cannot write ${describe(location)}: writing needs a file system (Node, Deno or Bun) and a local path`);
  }
  const [fs, path, url] = await Promise.all([import("node:fs/promises"), import("node:path"), import("node:url")]);
  const target = typeof location === "string" && !location.startsWith("file:") ? location : url.fileURLToPath(location);
  const temp = path.join(
    path.dirname(target),
    `.${path.basename(target)}.${Date.now().toString(36)}-${(tempCounter++).toString(36)}-${Math.random().toString(36).slice(2, 8)}.tmp`,
  );
  try {
    const handle = await fs.open(temp, "wx");
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, target);
  } catch (cause) {
    await fs.rm(temp, { force: true }).catch(() => undefined);
    throw new ArgumentError(`${op}: cannot write ${describe(location)}: ${(cause as Error).message ?? String(cause)}`);
  }
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
