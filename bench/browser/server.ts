/**
 * The bench page's server: the project's static server (test/runtimes/serve.mjs) on the
 * repository root, extended with
 * - the two headers that make the page cross-origin isolated, so that SharedArrayBuffer
 *   exists (a multi-threaded engine needs it; tfjs-backend-wasm then picks its threaded
 *   build, run with one thread here) and performance.now() is fine-grained (5 µs in
 *   Chromium instead of 100 µs):
 *     Cross-Origin-Opener-Policy: same-origin
 *     Cross-Origin-Embedder-Policy: require-corp
 *   (every file is same-origin, so nothing needs a Cross-Origin-Resource-Policy of its own);
 * - node_modules served, for tinybench, onnxruntime-web and the libraries' .wasm files;
 * - POST /__bench/save {name, text}: the page's result JSON and chart, written to outDir.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

type Serve = typeof import("../../test/runtimes/serve.mjs");

export const PROJECT_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const ISOLATION_HEADERS = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
};
/** The page, relative to the server root. */
export const PAGE_PATH = "bench/browser/";
/** Only plain result-file names: no directories, nothing but JSON and SVG. */
const SAVE_NAME = /^[\w.+-]+\.(json|svg)$/;

export interface BenchServer {
  /** "http://127.0.0.1:PORT/" */
  url: string;
  /**
   * The page's URL: bench options as repeated `arg`, the host's CPU description as `cpu`,
   * `cpuId`, `mem`, and the browser's full version, when the runner knows it, as `browserVersion`.
   */
  pageUrl(args: readonly string[], host: { cpu: string; cpuId?: string; totalMemoryGiB?: number; browserVersion?: string }): string;
  close(): Promise<void>;
}

function readBody(request: IncomingMessage, limit = 64 * 1024 * 1024): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) reject(new Error("body too large"));
      else chunks.push(chunk);
    });
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    request.on("error", reject);
  });
}

export async function startBenchServer(options: { port?: number; outDir: string; onSave?: (location: string) => void }): Promise<BenchServer> {
  // Loaded at run time from the compiled location (bench/dist/browser/ → ../../../test/).
  const { startServer } = (await import(new URL("../../../test/runtimes/serve.mjs", import.meta.url).href)) as Serve;
  const server = await startServer({
    root: PROJECT_ROOT,
    port: options.port ?? 0,
    headers: ISOLATION_HEADERS,
    nodeModules: true,
    handle: async (request, response, pathname) => {
      if (pathname !== "/__bench/save") return false;
      if (request.method !== "POST") {
        response.writeHead(405, { "content-type": "text/plain; charset=utf-8" }).end("405\n");
        return true;
      }
      try {
        const { name, text } = JSON.parse(await readBody(request)) as { name: string; text: string };
        if (typeof name !== "string" || !SAVE_NAME.test(name) || typeof text !== "string") throw new Error(`refusing to save ${JSON.stringify(name)}`);
        mkdirSync(options.outDir, { recursive: true });
        const file = path.join(options.outDir, name);
        writeFileSync(file, text);
        const relative = path.relative(process.cwd(), file);
        const location = relative && !relative.startsWith("..") ? relative : file;
        options.onSave?.(location);
        response.writeHead(200, { "content-type": "application/json; charset=utf-8" }).end(JSON.stringify({ location }));
      } catch (e) {
        response.writeHead(400, { "content-type": "text/plain; charset=utf-8" }).end(`${(e as Error).message}\n`);
      }
      return true;
    },
  });
  return {
    url: server.url,
    pageUrl: (args, host) => {
      const query = new URLSearchParams();
      for (const a of args) query.append("arg", a);
      query.set("cpu", host.cpu);
      if (host.cpuId) query.set("cpuId", host.cpuId);
      if (host.totalMemoryGiB !== undefined) query.set("mem", String(host.totalMemoryGiB));
      if (host.browserVersion) query.set("browserVersion", host.browserVersion);
      return `${server.url}${PAGE_PATH}?${query}`;
    },
    close: () => server.close(),
  };
}
