/**
 * The benchmark suites in a browser page.
 *
 *   npm run bench:browser                                    headless Chromium
 *   npm run bench:browser -- --browser=firefox               headless Firefox ESR
 *   npm run bench:browser -- --serve [--port=8080]           serve only: open the printed URL in any browser
 *   npm run bench:browser -- --quick --suites=steps,inference --simd=relaxed
 *
 * Builds the page's tfjs bundle (vendor.ts), serves the repository root with the
 * cross-origin isolation headers (server.ts), opens bench/browser/index.html, streams the
 * page's tables to stdout and its progress to stderr, and leaves the results where the page
 * saved them: bench/results/<browser>-<date>.json and samples-per-second-<browser>.svg
 * (--out=DIR to write elsewhere). Exit code 0 only when the page finished without error.
 *
 * Runner options: --browser=chromium|firefox, --serve, --port=N, --out=DIR,
 * --timeout=SECONDS (default 1800). Every other argument goes to the page, which accepts
 * what the Node entry accepts: --simd=…, --quick, --suites=….
 */
import path from "node:path";
import { parseSimd } from "../lib/context.js";
import { machineInfo } from "../lib/node-machine.js";
import { parseSuites } from "../lib/run.js";
import { BROWSERS, findBrowser, runInBrowser, type BrowserName } from "./launch.js";
import { PROJECT_ROOT, startBenchServer } from "./server.js";
import { buildVendor } from "./vendor.js";

const RUNNER_OPTIONS = ["--browser=", "--serve", "--port=", "--out=", "--timeout="];

/** A directory relative to the working directory when it is inside it, else absolute. */
function shown(dir: string): string {
  const relative = path.relative(process.cwd(), dir);
  return relative === "" ? "." : relative.startsWith("..") ? dir : relative;
}

function option(argv: readonly string[], prefix: string): string | undefined {
  return argv.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

async function main(argv: readonly string[]): Promise<number> {
  const browser = (option(argv, "--browser=") ?? "chromium") as BrowserName;
  if (!(browser in BROWSERS)) throw new Error(`--browser must be chromium or firefox; got ${browser}`);
  const serveOnly = argv.includes("--serve");
  const port = Number(option(argv, "--port=") ?? 0);
  const outDir = path.resolve(option(argv, "--out=") ?? path.join(PROJECT_ROOT, "bench", "results"));
  const timeoutMs = Number(option(argv, "--timeout=") ?? 1800) * 1000;
  const pageArgs = argv.filter((a) => !RUNNER_OPTIONS.some((o) => a === o || (o.endsWith("=") && a.startsWith(o))));
  // Fail here, not in the page, on a mistyped option.
  parseSimd(pageArgs);
  parseSuites(pageArgs);

  await buildVendor();
  const host = machineInfo();
  const server = await startBenchServer({
    port,
    outDir,
    onSave: serveOnly ? (location) => console.log(`wrote ${location}`) : undefined,
  });

  if (serveOnly) {
    const url = server.pageUrl(pageArgs, host);
    console.log(`Serving the benchmark page (cross-origin isolated) — open it in any browser:\n\n  ${url}\n`);
    console.log(`The page shows the tables and offers the JSON for download; results it posts back are written to ${shown(outDir)}/.`);
    console.log("Ctrl-C to stop.");
    await new Promise<never>(() => {});
  }

  const executable = findBrowser(browser);
  if (!executable) {
    await server.close();
    throw new Error(`${browser} not found (install it with: ${BROWSERS[browser].install}, or set ${BROWSERS[browser].env})`);
  }
  const urlFor = (version: string) => {
    const url = server.pageUrl(pageArgs, { ...host, browserVersion: version });
    process.stderr.write(`opening ${url} in ${browser} ${version} (${executable})\n`);
    return url;
  };
  try {
    const { outcome, version } = await runInBrowser(
      browser,
      executable,
      urlFor,
      { out: (text) => void process.stdout.write(`${text}\n`), err: (text) => void process.stderr.write(`${text}\n`) },
      timeoutMs,
    );
    if (!outcome.ok) {
      process.stderr.write(`\nthe page failed in ${browser} ${version}:\n${outcome.error}\n`);
      return 1;
    }
    process.stderr.write(`${browser} ${version}: done\n`);
    return 0;
  } finally {
    await server.close();
  }
}

process.exitCode = await main(process.argv.slice(2));
