/**
 * distill-wasm/export in a browser page without a bundler (examples/onnx-page/): the page
 * distils a student, exports it with toOnnx from dist/export/browser.js (protobufjs inlined)
 * and runs it in onnxruntime-web; its logits must match the student's own within 1e-5 with
 * the same class on every digit. Headless Chromium through the demo server (same origin,
 * cross-origin isolation headers).
 */
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error: a plain ES module of the examples, without type declarations
import { startServer } from "../../examples/web-server.mjs";
import { REQUIRE_ALL } from "../runtimes/helpers.js";
import { CHROMIUM_ARGS, findBrowser } from "../../bench/browser/browsers.js";

const CHROMIUM = findBrowser("chromium");

interface PageResult {
  rows?: number;
  maxAbsDifference?: number;
  sameClass?: number;
  bytes?: number;
  accuracy?: number;
  error?: string;
}

let server: { url: string; close: () => Promise<void> } | undefined;

beforeAll(async () => {
  server = await startServer({ port: 0 });
});

afterAll(async () => {
  await server?.close();
});

if (CHROMIUM) {
  describe("an exported student in onnxruntime-web, in Chromium", () => {
    it("examples/onnx-page: toOnnx in the page, onnxruntime-web's logits within 1e-5 of the student's, the same class on every digit", async () => {
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
      try {
        const page = await browser.newPage();
        const errors: string[] = [];
        page.on("pageerror", (e) => errors.push(String(e)));
        await page.goto(new URL("examples/onnx-page/", server!.url).href);
        await page.waitForFunction(() => (globalThis as { result?: unknown }).result !== undefined, undefined, { timeout: 120_000 });
        const result = (await page.evaluate(() => (globalThis as { result?: unknown }).result)) as PageResult;
        expect(result.error, `${result.error} ${errors.join("\n")}`).toBeUndefined();
        expect(result.rows).toBe(500);
        expect(result.maxAbsDifference!).toBeLessThanOrEqual(1e-5);
        expect(result.sameClass).toBe(500);
        expect(result.bytes!).toBeGreaterThan(25_450 * 4);
        expect(result.accuracy!).toBeGreaterThan(0.8);
        console.log(
          `[export-browser] Chromium ${browser.version()}: ONNX ${result.bytes} bytes, max |Δ| ${result.maxAbsDifference!.toExponential(2)}, ${result.sameClass}/${result.rows} same class`,
        );
      } finally {
        await browser.close();
      }
    }, 180_000);
  });
} else {
  if (REQUIRE_ALL) throw new Error("CI requires Chromium (/usr/bin/chromium) for the browser export test");
  it.skip("an exported student in onnxruntime-web (Chromium not installed)", () => {});
}
