/**
 * Browsers: test/runtimes/browser/index.html, served from the repository root on 127.0.0.1,
 * loads /dist/index.js with a plain <script type="module"> (no bundler, no import map) and
 * runs the shared scenario; the test reads the report from the page.
 * - Chromium (Debian's `chromium`) is driven by playwright-core over CDP.
 * - Firefox (Debian's `firefox-esr`) is driven by puppeteer-core over WebDriver BiDi:
 *   playwright-core needs its own patched Firefox build (Juggler), which a stock Firefox lacks.
 * A missing browser is skipped with a printed reason, except in CI (CI=true), where .ci/run
 * installs both and a missing one fails.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import puppeteer from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkReport, REQUIRE_ALL } from "./helpers.js";
import { CHROMIUM_ARGS, findBrowser } from "../../bench/browser/browsers.js";
import type { RuntimeReport } from "./scenario.mjs";
import { startServer } from "./serve.mjs";

const CHROMIUM = findBrowser("chromium");
const FIREFOX = findBrowser("firefox");

const PAGE = "test/runtimes/browser/index.html";
const TIMEOUT = 120_000;

type PageOutcome = { ok: true; report: RuntimeReport } | { ok: false; error: string };

let server: Awaited<ReturnType<typeof startServer>> | undefined;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server?.close();
});

function finish(outcome: PageOutcome, errors: string[], label: string, started: number): void {
  if (!outcome.ok) throw new Error(`${label}: the page failed: ${outcome.error}\n${errors.join("\n")}`);
  expect(outcome.report.features.simd).toBe(true);
  checkReport(outcome.report, label, performance.now() - started);
}

async function runChromium(executablePath: string): Promise<void> {
  const started = performance.now();
  // playwright-core gives every launch a fresh, empty --user-data-dir of its own.
  const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS, timeout: 60_000 });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(String(error)));
    page.on("console", (message) => void (message.type() === "error" && errors.push(message.text())));
    await page.goto(server!.url + PAGE);
    await page.waitForFunction(() => "__distillReport" in globalThis, undefined, { timeout: 90_000 });
    const outcome = (await page.evaluate(() => (globalThis as { __distillReport?: unknown }).__distillReport)) as PageOutcome;
    expect(await page.locator("body").getAttribute("data-checksum")).toBe(outcome.ok ? outcome.report.baseline.checksum : null);
    finish(outcome, errors, `Chromium ${browser.version()} (playwright-core)`, started);
  } finally {
    await browser.close();
  }
}

async function runFirefox(executablePath: string): Promise<void> {
  const started = performance.now();
  const userDataDir = mkdtempSync(join(tmpdir(), "distill-wasm-firefox-"));
  const browser = await puppeteer.launch({ browser: "firefox", executablePath, headless: true, userDataDir, timeout: 60_000 });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(String(error)));
    page.on("console", (message) => void (message.type() === "error" && errors.push(message.text())));
    await page.goto(server!.url + PAGE);
    await page.waitForFunction(() => "__distillReport" in globalThis, { timeout: 90_000 });
    const outcome = (await page.evaluate(() => (globalThis as { __distillReport?: unknown }).__distillReport)) as PageOutcome;
    finish(outcome, errors, `Firefox ${(await browser.version()).replace(/^firefox\//, "")} (puppeteer-core, WebDriver BiDi)`, started);
  } finally {
    await browser.close();
    rmSync(userDataDir, { recursive: true, force: true });
  }
}

function browserTest(name: string, executable: string | undefined, install: string, run: (path: string) => Promise<void>): void {
  if (executable) {
    it(`${name} (${executable}) loads dist/ in a module script and matches the committed checksum`, () => run(executable), TIMEOUT);
  } else if (REQUIRE_ALL) {
    it(`${name} is installed (required in CI)`, () => {
      expect.fail(`${name} not found; .ci/run installs it with: ${install}`);
    });
  } else {
    console.warn(`[runtimes] SKIPPING ${name}: no executable found (install it with: ${install}, or set the path in ${name.toUpperCase()}_BIN)`);
    it.skip(`${name} (not installed: ${install})`, () => {});
  }
}

describe("browsers run the shared scenario with the committed checksum", () => {
  browserTest("Chromium", CHROMIUM, "apt-get install chromium", runChromium);
  browserTest("Firefox", FIREFOX, "apt-get install firefox-esr", runFirefox);
});
