/**
 * Opens the bench page in a headless browser, forwards its console to this process
 * (console.log → stdout: the tables; everything else → stderr: progress, warnings) and
 * resolves with the page's outcome, which the page publishes as globalThis.__benchDone.
 * - Chromium (Debian's `chromium`) through playwright-core over CDP;
 * - Firefox (Debian's `firefox-esr`) through puppeteer-core over WebDriver BiDi, since
 *   playwright-core needs its own patched Firefox build.
 * The same split as the cross-runtime browser tests (test/runtimes/browsers.test.ts).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { CHROMIUM_ARGS, type BrowserName } from "./browsers.js";
import { tmpdir } from "node:os";
import path from "node:path";

export { BROWSERS, findBrowser, type BrowserName } from "./browsers.js";

/** What the page publishes when it has finished. */
export type PageOutcome = { ok: true; files: { name: string; location: string }[] } | { ok: false; error: string };

export interface Output {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** Console message types that carry the tables; the rest (debug = progress, warnings, errors) go to stderr. */
const forward = (output: Output, type: string, text: string) => (type === "log" || type === "info" ? output.out : output.err)(text);

const done = () => (globalThis as { __benchDone?: unknown }).__benchDone;

/**
 * @param urlFor the page's URL given the browser's version (Firefox's user-agent string
 *   carries only the major version, so the runner passes the full one on)
 */
export async function runInBrowser(
  name: BrowserName,
  executablePath: string,
  urlFor: (version: string) => string,
  output: Output,
  timeoutMs: number,
): Promise<{ outcome: PageOutcome; version: string }> {
  return name === "chromium" ? runChromium(executablePath, urlFor, output, timeoutMs) : runFirefox(executablePath, urlFor, output, timeoutMs);
}

async function runChromium(executablePath: string, urlFor: (version: string) => string, output: Output, timeoutMs: number) {
  const { chromium } = await import("playwright-core");
  // playwright-core gives every launch a fresh, empty --user-data-dir of its own.
  const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS, timeout: 60_000 });
  try {
    const page = await browser.newPage();
    page.on("console", (message) => forward(output, message.type(), message.text()));
    page.on("pageerror", (error) => output.err(`page error: ${error.stack ?? error}`));
    const version = browser.version();
    await page.goto(urlFor(version));
    await page.waitForFunction(done, undefined, { timeout: timeoutMs, polling: 500 });
    return { outcome: (await page.evaluate(done)) as PageOutcome, version };
  } finally {
    await browser.close();
  }
}

async function runFirefox(executablePath: string, urlFor: (version: string) => string, output: Output, timeoutMs: number) {
  const { default: puppeteer } = await import("puppeteer-core");
  const userDataDir = mkdtempSync(path.join(tmpdir(), "distill-wasm-bench-firefox-"));
  const browser = await puppeteer.launch({
    browser: "firefox",
    executablePath,
    headless: true,
    userDataDir,
    timeout: 60_000,
    protocolTimeout: timeoutMs + 60_000,
  });
  try {
    const page = await browser.newPage();
    page.on("console", (message) => forward(output, message.type(), message.text()));
    page.on("pageerror", (error) => output.err(`page error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`));
    const version = (await browser.version()).replace(/^firefox\//i, "");
    await page.goto(urlFor(version));
    await page.waitForFunction(done, { timeout: timeoutMs, polling: 500 });
    return { outcome: (await page.evaluate(done)) as PageOutcome, version };
  } finally {
    await browser.close();
    rmSync(userDataDir, { recursive: true, force: true });
  }
}
