/**
 * Turning what a user passes to `init()` into a compiled `WebAssembly.Module`:
 * the embedded bytes (default), bytes, a `WebAssembly.Module`, a `Response`, or a URL
 * (fetched; `file:` URLs are read from disk in Node, where fetch cannot read files).
 */
import { WasmLoadError } from "../errors.js";
import { decodeBase64 } from "./base64.js";

export type WasmSource = BufferSource | WebAssembly.Module | Response | URL | string;
/** The embedded builds: plain or relaxed SIMD, each with its own memory or importing a shared one (threads). */
export type Build = "release" | "relaxed" | "threads" | "relaxed-threads";

/**
 * Each embedded build is a module of its own, imported when first used: a page that runs
 * the plain build never loads the other three (≈100 KB of base64 each).
 */
const EMBEDDED: Record<Build, () => Promise<{ WASM_BASE64: string }>> = {
  release: () => import("./wasm-release.generated.js"),
  relaxed: () => import("./wasm-relaxed.generated.js"),
  threads: () => import("./wasm-threads.generated.js"),
  "relaxed-threads": () => import("./wasm-relaxed-threads.generated.js"),
};

const compiledEmbedded = new Map<Build, Promise<WebAssembly.Module>>();

/** The embedded build, compiled once per process and shared by every engine. */
export function embeddedModule(build: Build): Promise<WebAssembly.Module> {
  let module = compiledEmbedded.get(build);
  if (!module) {
    module = EMBEDDED[build]().then(({ WASM_BASE64 }) => WebAssembly.compile(decodeBase64(WASM_BASE64) as BufferSource));
    compiledEmbedded.set(build, module);
  }
  return module;
}

async function readFileUrl(url: URL): Promise<Uint8Array> {
  const fs = await import("node:fs/promises");
  return fs.readFile(url);
}

async function fetchBytes(url: URL): Promise<Uint8Array> {
  const isNode = typeof process === "object" && typeof process.versions?.node === "string";
  if (url.protocol === "file:" && isNode) return readFileUrl(url);
  const response = await fetch(url);
  if (!response.ok) throw new WasmLoadError(`fetching ${url.href} failed: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** Compiles a user-supplied source; errors become WasmLoadError naming the source. */
export async function compileSource(source: WasmSource): Promise<WebAssembly.Module> {
  try {
    if (source instanceof WebAssembly.Module) return source;
    if (typeof Response !== "undefined" && source instanceof Response) {
      return await WebAssembly.compile(await source.arrayBuffer());
    }
    if (source instanceof URL || typeof source === "string") {
      const url = source instanceof URL ? source : new URL(source, globalThis.location?.href ?? undefined);
      return await WebAssembly.compile((await fetchBytes(url)) as BufferSource);
    }
    return await WebAssembly.compile(source as BufferSource);
  } catch (cause) {
    if (cause instanceof WasmLoadError) throw cause;
    throw new WasmLoadError(`could not load the wasm module from the supplied source: ${String(cause)}`);
  }
}
