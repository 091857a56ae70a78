/**
 * The bench page's script (bench/browser/index.html): runs the suites named by the URL's
 * `arg` parameters (the Node entry's options: --simd=…, --quick, --suites=…), shows what
 * they print, saves the results through the server and offers them for download, then
 * publishes the outcome as globalThis.__benchDone for the runner that opened the page.
 */
import { ALL_SUITES, runSuites, type RunOutput } from "../lib/run.js";
import type { PageOutcome } from "./launch.js";
import { browserPlatform } from "./platform.js";

const $ = (id: string) => document.getElementById(id)!;
const output = $("output");
const status = $("status");

/** The suites print with console.log / console.error; the page shows both, and the console still gets them. */
function tee(method: "log" | "error"): void {
  const original = console[method].bind(console);
  console[method] = (...args: unknown[]) => {
    original(...args);
    output.append(`${args.map(String).join(" ")}\n`);
  };
}

function offerDownloads(files: RunOutput["files"]): void {
  const list = $("downloads");
  for (const file of files) {
    const type = file.name.endsWith(".svg") ? "image/svg+xml" : "application/json";
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([file.text], { type }));
    link.download = file.name;
    link.textContent = `Download ${file.name}`;
    const item = document.createElement("li");
    item.append(link);
    list.append(item);
  }
}

async function main(): Promise<PageOutcome> {
  tee("log");
  tee("error");
  const params = new URLSearchParams(location.search);
  const argv = params.getAll("arg");
  $("args").textContent = argv.length > 0 ? argv.join(" ") : "(none: all suites, baseline SIMD)";
  $("isolation").textContent = globalThis.crossOriginIsolated
    ? "yes (SharedArrayBuffer available)"
    : "NO: serve the page with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp";
  try {
    const platform = await browserPlatform(params, status);
    const result = await runSuites(argv, ALL_SUITES, platform);
    offerDownloads(result.files);
    status.textContent = "done";
    return { ok: true, files: result.files.map(({ name, location }) => ({ name, location })) };
  } catch (error) {
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    status.textContent = "failed";
    output.append(`\n${text}\n`);
    return { ok: false, error: text };
  }
}

const outcome = await main();
document.body.dataset.done = outcome.ok ? "ok" : "failed";
(globalThis as { __benchDone?: PageOutcome }).__benchDone = outcome;
