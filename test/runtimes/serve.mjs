// A static file server for the browser tests: serves the repository root on 127.0.0.1 at a
// random port, read-only, with the MIME types module scripts and wasm need, and the two
// headers that make pages cross-origin isolated (SharedArrayBuffer, so threads: 2 can run).
//   node test/runtimes/serve.mjs [port]   then open http://127.0.0.1:PORT/test/runtimes/browser/
import { createServer } from "node:http";
import { readFile, stat } from "node:fs/promises";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Cross-origin isolation: without both, browsers withhold SharedArrayBuffer. */
export const ISOLATION_HEADERS = {
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-embedder-policy": "require-corp",
};

const MIME = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
  ".safetensors": "application/octet-stream",
  ".css": "text/css; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
};

/**
 * Starts the server; resolves to `{ url, close }` with `url` like "http://127.0.0.1:40123/".
 * Options beyond root and port, all off by default (the browser tests use none):
 * - headers: sent with every response, e.g. the COOP / COEP pair that makes a page
 *   cross-origin isolated (the benchmark page, bench/browser/);
 * - nodeModules: also serve files under node_modules (the benchmark page loads the
 *   comparison libraries and their .wasm files from there);
 * - handle(request, response, pathname): called first; returns true when it answered
 *   the request itself (the benchmark page POSTs its results).
 * @param {{ root?: string, port?: number, headers?: Record<string, string>, nodeModules?: boolean,
 *   handle?: (request: import("node:http").IncomingMessage, response: import("node:http").ServerResponse, pathname: string) => boolean | Promise<boolean> }} [options]
 */
export function startServer({ root = ROOT, port = 0, headers = {}, nodeModules = false, handle } = {}) {
  const base = normalize(root.endsWith(sep) ? root : root + sep);
  const server = createServer(async (request, response) => {
    for (const [name, value] of Object.entries(headers)) response.setHeader(name, value);
    try {
      const { pathname } = new URL(request.url ?? "/", "http://127.0.0.1");
      if (handle && (await handle(request, response, pathname))) return;
      let path = normalize(join(base, decodeURIComponent(pathname)));
      if (!path.startsWith(base) || (!nodeModules && path.split(sep).includes("node_modules"))) throw Object.assign(new Error("outside"), { status: 403 });
      if ((await stat(path)).isDirectory()) path = join(path, "index.html");
      const type = MIME[extname(path)];
      if (!type) throw Object.assign(new Error("type"), { status: 404 });
      const body = await readFile(path);
      response.writeHead(200, {
        "content-type": type,
        "content-length": body.length,
        "cache-control": "no-store",
        ...ISOLATION_HEADERS,
      });
      response.end(request.method === "HEAD" ? undefined : body);
    } catch (error) {
      const status = error?.status ?? (error?.code === "ENOENT" || error?.code === "ENOTDIR" ? 404 : 500);
      response.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
      response.end(`${status}\n`);
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      const address = server.address();
      resolve({
        url: `http://127.0.0.1:${address.port}/`,
        close: () =>
          new Promise((done) => {
            server.closeAllConnections?.();
            server.close(() => done());
          }),
      });
    });
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === normalize(process.argv[1])) {
  const { url } = await startServer({ port: Number(process.argv[2] ?? 0) });
  console.log(`serving ${ROOT} at ${url} — open ${url}test/runtimes/browser/ (Ctrl-C to stop)`);
}
