/**
 * The training report (src/report): rendered from a real small run — an MLP teacher, a
 * scratch and a distilled MLP student on 600 MNIST digits, `compare` and a 3 × 2
 * `searchTemperature` — then checked as text (self-contained, the table's numbers, one
 * curve per model, the heat map's cells), as JSON, and in headless Chromium (no network
 * request, the expected elements in the DOM, a screenshot).
 *
 * Chromium is skipped with a printed reason where /usr/bin/chromium is absent, except in
 * CI (CI=true), where a missing browser fails.
 */
import { copyFileSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { inflateSync } from "node:zlib";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  compare,
  distill,
  evaluate,
  init,
  loadMnistDigits,
  mlp,
  searchTemperature,
  train,
  type CompareResult,
  type Dataset,
  type Engine,
  type SearchResult,
  type Sequential,
} from "../../src/index.js";
import { collectSamples, describeMachine, digitDataUrl, encodeGrayscalePng, renderReport, reportJson, type ReportData } from "../../src/report/index.js";
import { REQUIRE_ALL } from "../runtimes/helpers.js";
import { CHROMIUM_ARGS, findBrowser } from "../../bench/browser/browsers.js";

const CHROMIUM = findBrowser("chromium");
const SCREENSHOT = "/tmp/report-screenshot.png";
const MODEL_NAMES = ["teacher", "scratch student", "distilled student"];

let engine: Engine;
let test: Dataset;
let models: Sequential[] = [];
let data: ReportData;
let html: string;
let compared: CompareResult;
let search: SearchResult;
let tmp: string;

beforeAll(async () => {
  engine = await init();
  tmp = mkdtempSync(join(tmpdir(), "distill-wasm-report-"));
  const split = await loadMnistDigits({ train: 600, test: 200, seed: 7 });
  test = split.test;
  const { train: fit, validation } = split.train.split(0.2, { seed: 3, stratified: true });
  const optimizer = { type: "sgd", momentum: 0.9, lr: 0.05 } as const;

  const teacher = mlp([784, 64, 10], { seed: 1 });
  const scratch = mlp([784, 16, 10], { seed: 2 });
  const student = mlp([784, 16, 10], { seed: 2 });
  models = [teacher, scratch, student];
  const teacherRun = await train(teacher, fit, { epochs: 6, batchSize: 32, optimizer, validation, seed: 1 });
  const scratchRun = await train(scratch, fit, { epochs: 5, batchSize: 32, optimizer, validation, seed: 2 });
  const distillRun = await distill({ teacher, student, data: fit, epochs: 5, batchSize: 32, optimizer, validation, seed: 2, temperature: 4, alpha: 0.1 });
  compared = compare({ teacher, student, baseline: scratch, data: test, repeats: 3 });
  search = await searchTemperature({
    teacher,
    student: () => mlp([784, 16, 10], { seed: 2 }),
    data: fit,
    validation,
    temperatures: [2, 4, 8],
    alphas: [0.1, 0.5],
    epochs: 2,
    batchSize: 32,
    optimizer,
  });
  const cpu = cpus();
  data = {
    title: "Distilling an MNIST MLP: 784-64-10 → 784-16-10",
    date: new Date(),
    machine: `${describeMachine()} · ${cpu.length} × ${cpu[0]?.model.trim() ?? "unknown CPU"} · wasm ${engine.build}`,
    description: "600 digits of the mnist package (480 training, 120 validation), 200 test digits; SGD with momentum 0.9, lr 0.05, batch 32; T = 4, α = 0.1.",
    models: [
      { name: MODEL_NAMES[0]!, history: teacherRun.history, evaluation: evaluate(teacher, test), architecture: teacher.architecture },
      { name: MODEL_NAMES[1]!, history: scratchRun.history, evaluation: evaluate(scratch, test), architecture: scratch.architecture },
      { name: MODEL_NAMES[2]!, history: distillRun.history, evaluation: evaluate(student, test), architecture: student.architecture },
    ],
    compare: compared,
    search,
    samples: collectSamples(teacher, student, test, { count: 6 }),
    sampleNames: { teacher: "teacher", student: "distilled student" },
  };
  html = renderReport(data);
  writeFileSync(join(tmp, "report.html"), html);
  writeFileSync("/tmp/report.html", html);
}, 60_000);

afterAll(() => {
  for (const m of models) m.dispose();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** Whether the page contains `text` (without printing the whole page when it does not). */
function has(text: string): boolean {
  return html.includes(text);
}

/** The elements of `html` that open with `<tag` and carry `attribute="value"`. */
function elements(tag: string, attribute: string, value?: string): string[] {
  const re = new RegExp(`<${tag}\\b[^>]*\\b${attribute}="${value === undefined ? '[^"]*' : value.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}"[^>]*>`, "g");
  return html.match(re) ?? [];
}

describe("renderReport: the HTML text", () => {
  it("is one self-contained document: no http(s) URL, no external script, stylesheet or font; images are data URLs", () => {
    expect(html.startsWith("<!doctype html>")).toBe(true);
    expect(html.match(/https?:\/\/\S{0,40}/gi)).toBeNull();
    expect(html.match(/<script[^>]*\bsrc=[^>]*>/gi)).toBeNull();
    expect(html.match(/<link\b[^>]*>/gi)).toBeNull();
    expect(html.match(/@import|@font-face/gi)).toBeNull();
    for (const [, target] of html.matchAll(/url\(([^)]*)\)/g)) expect(target).toMatch(/^#/); // only in-page gradient references
    const images = [...html.matchAll(/<img\b[^>]*\bsrc="([^"]*)"/g)].map((m) => m[1]!);
    expect(images).toHaveLength(6);
    for (const src of images) expect(src).toMatch(/^data:image\/png;base64,[A-Za-z0-9+/]+=*$/);
    // The only script block is inert JSON data.
    expect([...html.matchAll(/<script\b([^>]*)>/g)].map((m) => m[1]!.trim())).toEqual(['type="application/json" id="report-data"']);
  });

  it("has the comparison table: one row per model with its parameters, size and accuracy", () => {
    expect(compared.rows.map((r) => r.name)).toEqual(["teacher", "student", "baseline"]);
    const table = html.slice(html.indexOf('<table class="compare">'), html.indexOf("</table>", html.indexOf('<table class="compare">')));
    for (const row of compared.rows) {
      const tr = table.slice(table.indexOf(`<tr data-name="${row.name}">`));
      const cells = tr.slice(0, tr.indexOf("</tr>"));
      expect(cells).toContain(row.architecture);
      expect(cells).toContain(String(row.params).replace(/\B(?=(\d{3})+(?!\d))/g, ","));
      expect(cells).toContain(`${(row.accuracy * 100).toFixed(2)}%`);
    }
    expect(table).toContain("50,890"); // 784·64 + 64 + 64·10 + 10 parameters of the teacher
  });

  it("draws one training curve per model in each chart, and a validation curve each", () => {
    for (const name of MODEL_NAMES) {
      const training = elements("path", "data-model", name).filter((p) => p.includes('data-kind="training"'));
      const validation = elements("path", "data-model", name).filter((p) => p.includes('data-kind="validation"'));
      expect(training, name).toHaveLength(2); // loss + accuracy
      expect(validation, name).toHaveLength(2);
    }
    // Each curve has a point per epoch.
    const teacherLoss = elements("path", "data-model", "teacher").find((p) => p.includes('data-kind="training"'))!;
    expect(teacherLoss.match(/[ML][\d.]+ [\d.]+/g)).toHaveLength(data.models[0]!.history.length);
    expect(has('<section id="training">')).toBe(true);
  });

  it("has the temperature × α heat map: a cell per trial with its accuracy printed, the best outlined", () => {
    const cells = elements("g", "class", "heat-cell");
    expect(cells).toHaveLength(6);
    for (const trial of search.trials) {
      const cell = cells.find((c) => c.includes(`data-temperature="${trial.temperature}"`) && c.includes(`data-alpha="${trial.alpha}"`));
      expect(cell, `T=${trial.temperature} α=${trial.alpha}`).toBeDefined();
      expect(has(`>${(trial.valAccuracy * 100).toFixed(1)}%</text>`), `accuracy of T=${trial.temperature} α=${trial.alpha}`).toBe(true);
    }
    expect(has(`Best: <b>T = ${search.best.temperature}, α = ${search.best.alpha}</b>`)).toBe(true);
  });

  it("shows each sample with both models' probabilities (10 bars each, summing to 1)", () => {
    const samples = data.samples!;
    expect(elements("div", "class", "sample")).toHaveLength(samples.length);
    for (const kind of ["teacher", "student"]) {
      const bars = [...html.matchAll(new RegExp(`<rect class="bar ${kind}" data-class="(\\d)" data-p="([^"]+)"`, "g"))];
      expect(bars).toHaveLength(10 * samples.length);
      for (let s = 0; s < samples.length; s++) {
        const sum = bars.slice(s * 10, s * 10 + 10).reduce((acc, m) => acc + Number(m[2]), 0);
        expect(sum).toBeCloseTo(1, 4);
      }
    }
  });

  it("escapes text and renders without optional parts", () => {
    const page = renderReport({ title: "<b>x</b> & y", models: [{ name: 'a"b', history: [] }], date: "2026-01-02T03:04:05Z" });
    expect(page).toContain("<title>&lt;b&gt;x&lt;/b&gt; &amp; y</title>");
    expect(page).toContain("2026-01-02 03:04 UTC");
    expect(page).not.toContain('id="search"');
    expect(page).not.toContain('id="samples"');
    expect(() => renderReport({ title: "t", models: [{ name: "m" } as never] })).toThrow(/history/);
  });
});

describe("reportJson", () => {
  it("is plain JSON: arrays instead of typed arrays, null for non-finite numbers, the same numbers", () => {
    const json = reportJson(data);
    const text = JSON.stringify(json);
    const back = JSON.parse(text) as typeof json;
    expect(back).toEqual(json);
    expect(json.format).toBe("distill-wasm-report");
    expect(json.models).toHaveLength(3);
    const teacher = json.models[0] as { history: { loss: number }[]; evaluation: { confusion: number[]; accuracy: number } };
    expect(teacher.history.map((r) => r.loss)).toEqual(data.models[0]!.history.map((r) => r.loss));
    expect(Array.isArray(teacher.evaluation.confusion)).toBe(true);
    expect(teacher.evaluation.confusion).toHaveLength(100);
    expect(teacher.evaluation.confusion.reduce((a, b) => a + b, 0)).toBe(200);
    const sample = (json.samples as { pixels: number[]; teacher: number[]; label: number }[])[0]!;
    expect(Array.isArray(sample.pixels)).toBe(true);
    expect(sample.pixels).toHaveLength(784);
    expect(sample.teacher).toHaveLength(10);
    expect((json.search as SearchResult).trials).toHaveLength(6);
    expect(
      reportJson({ title: "t", models: [{ name: "m", history: [{ epoch: 1, loss: NaN, accuracy: 0.5, lr: 0.1, steps: 1, seconds: 0 }] }] }).models,
    ).toEqual([{ name: "m", history: [{ epoch: 1, loss: null, accuracy: 0.5, lr: 0.1, steps: 1, seconds: 0 }] }]);
    // The page embeds the same document.
    const embedded = html.match(/<script type="application\/json" id="report-data">([^<]*)<\/script>/)![1]!;
    expect(JSON.parse(embedded)).toEqual(json);
  });
});

describe("encodeGrayscalePng", () => {
  it("writes a valid PNG: signature, IHDR, an IDAT that inflates to the filtered scanlines, IEND", () => {
    const gray = Uint8Array.from({ length: 28 * 28 }, (_, i) => (i * 7) & 255);
    const png = encodeGrayscalePng(gray, 28, 28);
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const view = new DataView(png.buffer);
    const chunks: [string, Uint8Array][] = [];
    for (let at = 8; at < png.length;) {
      const length = view.getUint32(at);
      chunks.push([String.fromCharCode(...png.subarray(at + 4, at + 8)), png.subarray(at + 8, at + 8 + length)]);
      at += 12 + length;
    }
    expect(chunks.map(([type]) => type)).toEqual(["IHDR", "IDAT", "IEND"]);
    const ihdr = new DataView(chunks[0]![1].slice().buffer);
    expect([ihdr.getUint32(0), ihdr.getUint32(4), ihdr.getUint8(8), ihdr.getUint8(9)]).toEqual([28, 28, 8, 0]);
    const raw = inflateSync(chunks[1]![1]); // also verifies the Adler-32
    expect(raw.length).toBe(28 * 29);
    for (let y = 0; y < 28; y++) {
      expect(raw[y * 29]).toBe(0);
      expect([...raw.subarray(y * 29 + 1, y * 29 + 29)]).toEqual([...gray.subarray(y * 28, y * 28 + 28)]);
    }
    expect(digitDataUrl(new Float32Array(784))).toMatch(/^data:image\/png;base64,/);
  });
});

if (CHROMIUM) {
  describe("the report in headless Chromium", () => {
    it("loads from a file without any network request, shows the expected elements, and screenshots", async () => {
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 });
      try {
        const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
        const requests: string[] = [];
        page.on("request", (request) => void requests.push(request.url()));
        await page.goto(pathToFileURL(join(tmp, "report.html")).href);
        const dom = await page.evaluate(() => ({
          title: document.title,
          curves: document.querySelectorAll("svg.chart path.curve").length,
          loss: document.querySelectorAll("svg.loss-chart path.curve[data-kind=training]").length,
          accuracy: document.querySelectorAll("svg.accuracy-chart path.curve[data-kind=training]").length,
          compareRows: Array.from(document.querySelectorAll("table.compare tbody tr"), (tr) => tr.getAttribute("data-name")),
          heatCells: document.querySelectorAll("svg.heatmap .heat-cell").length,
          images: Array.from(document.querySelectorAll<HTMLImageElement>(".sample img"), (img) => [img.complete, img.naturalWidth, img.naturalHeight]),
          bars: document.querySelectorAll(".sample svg.probs rect.bar").length,
          scripts: document.scripts.length,
          width: document.documentElement.scrollWidth,
          height: document.documentElement.scrollHeight,
          cards: document.querySelectorAll(".cards .card").length,
        }));
        expect(dom.title).toBe(data.title);
        expect(dom.curves).toBe(12); // 3 models × (training + validation) × 2 charts
        expect(dom.loss).toBe(3);
        expect(dom.accuracy).toBe(3);
        expect(dom.compareRows).toEqual(["teacher", "student", "baseline"]);
        expect(dom.heatCells).toBe(6);
        expect(dom.images).toEqual(Array(6).fill([true, 28, 28])); // the PNGs decode
        expect(dom.bars).toBe(6 * 20);
        expect(dom.scripts).toBe(1); // the JSON data block
        expect(dom.cards).toBe(5);
        expect(dom.width).toBeLessThanOrEqual(1200); // nothing overflows sideways
        // Only the page itself was requested: data URLs are not requests.
        expect(requests.filter((url) => !url.startsWith("data:"))).toEqual([pathToFileURL(join(tmp, "report.html")).href]);
        const shot = join(tmp, "report.png");
        await page.screenshot({ path: shot, fullPage: true });
        const size = statSync(shot).size;
        expect(size).toBeGreaterThan(50_000);
        copyFileSync(shot, SCREENSHOT);
        console.log(`[report] Chromium ${browser.version()}: ${dom.width}×${dom.height} px page, screenshot ${size} bytes → ${SCREENSHOT}`);
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
  console.warn("[report] SKIPPING the Chromium check: no /usr/bin/chromium (install it with: apt-get install chromium, or set CHROMIUM_BIN)");
  it.skip("the report in headless Chromium (Chromium not installed)", () => {});
}
