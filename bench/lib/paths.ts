/** Filesystem locations of Node, Deno and Bun runs (node-platform.ts), found relative to this compiled file (bench/dist/lib/paths.js). */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

/** The project root (the directory holding package.json and node_modules). */
export const PROJECT_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** An installed package's directory under node_modules. */
export function packageDir(name: string): string {
  return path.join(PROJECT_ROOT, "node_modules", ...name.split("/"));
}

/** The version field of an installed package's package.json ("?" when unreadable). */
export function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(path.join(packageDir(name), "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "?";
  }
}

/** The version of the project itself (package.json at the root). */
export function projectVersion(): string {
  try {
    return (JSON.parse(readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "?";
  }
}
