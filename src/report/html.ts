/**
 * `renderReport(data)`: a training report as one self-contained HTML page — inline CSS and
 * inline SVG, digit thumbnails as PNG data URLs, no script, no font or image to fetch —
 * that opens the same from a file, a mail attachment or a CI artifact:
 *
 *   - summary cards (accuracy, compression, speed-up, best temperature pair);
 *   - loss and accuracy per epoch for every model (training solid, validation dashed);
 *   - a table of the models (final epoch, held-out evaluation);
 *   - the comparison table of `compare()` (size, FLOPs, ms/sample at batch 1 and 128, accuracy);
 *   - the temperature × α heat map of `searchTemperature()` (validation accuracy per pair);
 *   - test digits with the teacher's and the student's probabilities side by side;
 *   - confusion matrices (folded), and the report's JSON in a data block.
 */
import type { CompareRow } from "../metrics/compare.js";
import type { Evaluation } from "../metrics/evaluate.js";
import type { EpochRecord } from "../train/loop.js";
import { argmax, checkReportData, reportDate, reportJson, type ReportData, type ReportModel, type ReportSample } from "./data.js";
import { escapeHtml as h, formatBytes, formatCount, formatMs, formatPercent, formatRatio, formatSeconds, formatSignificant, groupThousands } from "./format.js";
import { digitDataUrl } from "./png.js";
import { decimalsOf, heatMap, lineChart, probabilityBars, type ChartSeries, type HeatCell } from "./svg.js";

export interface RenderOptions {
  /** Embed reportJson(data) in a `<script type="application/json" id="report-data">` block (default true). */
  embedJson?: boolean;
}

/** Curve colours by model position (blue, orange, green, …): distinct for colour-blind readers too. */
export const PALETTE = ["#364fc7", "#e8590c", "#2b8a3e", "#ae3ec9", "#1098ad", "#c92a2a", "#5c940d", "#495057"];

const DEFAULT_COMPARE_NAMES = { teacher: "teacher", student: "distilled student", baseline: "scratch student", quantized: "distilled student, int8" } as const;

const CSS = `
:root { --ink: #1d2330; --muted: #5c6470; --line: #e3e6ea; --panel: #f7f8fa; --good: #2b8a3e; --bad: #c92a2a; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: #fff; color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1160px; margin: 0 auto; padding: 36px 28px 56px; }
header h1 { font-size: 28px; line-height: 1.2; margin: 0 0 6px; letter-spacing: -0.01em; }
.meta { color: var(--muted); font-size: 13px; margin: 0; }
.meta span + span::before { content: "·"; margin: 0 8px; color: #adb5bd; }
.description { margin: 10px 0 0; max-width: 80ch; }
h2 { font-size: 19px; margin: 44px 0 4px; letter-spacing: -0.005em; }
h2 + .lead { color: var(--muted); margin: 0 0 14px; font-size: 14px; max-width: 90ch; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr)); gap: 12px; margin-top: 26px; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 12px 16px; }
.card .label { font-size: 11.5px; color: var(--muted); text-transform: uppercase; letter-spacing: 0.05em; }
.card .value { font-size: 23px; white-space: nowrap; font-weight: 650; font-variant-numeric: tabular-nums; line-height: 1.25; margin-top: 2px; }
.card .sub { font-size: 12.5px; color: var(--muted); font-variant-numeric: tabular-nums; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 20px; font-size: 13px; margin: 0 0 12px; align-items: center; }
.legend .key { display: inline-flex; align-items: center; gap: 7px; }
.legend .swatch { display: inline-block; width: 22px; height: 0; border-top: 3px solid; border-radius: 2px; }
.legend .swatch.dashed { border-top-style: dashed; }
.legend .style { color: var(--muted); }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr)); gap: 16px; }
figure { margin: 0; border: 1px solid var(--line); border-radius: 10px; padding: 14px 14px 10px; background: #fff; }
figure svg { display: block; max-width: 100%; height: auto; }
figure h3 { font-size: 14px; margin: 0 0 6px; font-weight: 600; }
figcaption { font-size: 12.5px; color: var(--muted); margin-top: 6px; }
.table-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 10px; }
table { border-collapse: collapse; width: 100%; font-size: 14px; font-variant-numeric: tabular-nums; }
th, td { padding: 8px 12px; text-align: right; white-space: nowrap; border-bottom: 1px solid var(--line); }
thead th { white-space: normal; min-width: 4.5em; }
thead th { font-size: 11.5px; font-weight: 600; color: var(--muted); text-transform: uppercase; letter-spacing: 0.04em;
  background: var(--panel); vertical-align: bottom; }
tbody tr:last-child td { border-bottom: 0; }
th.text, td.text { text-align: left; }
td.name { font-weight: 600; }
td .dot { display: inline-block; width: 9px; height: 9px; border-radius: 50%; margin-right: 8px; vertical-align: 0; }
td .rel { display: block; color: var(--muted); font-size: 11.5px; line-height: 1.2; }
.note { font-size: 12.5px; color: var(--muted); margin: 8px 2px 0; }
.search { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
.search .best { font-size: 14px; }
.samples { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 14px; }
.sample { border: 1px solid var(--line); border-radius: 10px; padding: 12px; background: #fff; }
.sample .top { display: flex; gap: 12px; align-items: center; margin-bottom: 8px; }
.sample svg.probs { display: block; width: 100%; height: auto; }
.sample img { width: 84px; height: 84px; image-rendering: pixelated; border: 1px solid var(--line); border-radius: 6px; flex: none; }
.sample .verdict { font-size: 13px; line-height: 1.6; font-variant-numeric: tabular-nums; }
.sample .verdict b { font-size: 15px; }
.sample .share { color: var(--muted); }
.ok { color: var(--good); }
.bad { color: var(--bad); }
details { margin-top: 14px; }
summary { cursor: pointer; color: var(--muted); font-size: 14px; }
.confusions { display: flex; flex-wrap: wrap; gap: 20px; margin-top: 12px; }
table.confusion { width: auto; font-size: 11.5px; }
table.confusion th, table.confusion td { padding: 3px 6px; border: 0; text-align: center; }
table.confusion caption { font-weight: 600; font-size: 13px; text-align: left; padding-bottom: 6px; }
footer { margin-top: 48px; padding-top: 12px; border-top: 1px solid var(--line); color: var(--muted); font-size: 12.5px; }
@media print { main { padding: 0; } figure, .sample, .card { break-inside: avoid; } }
`;

/** The report as a complete HTML document. */
export function renderReport(data: ReportData, options: RenderOptions = {}): string {
  checkReportData("renderReport", data);
  const colors = new Map(data.models.map((m, i) => [m.name, m.color ?? PALETTE[i % PALETTE.length]!]));
  const sections = [
    summaryCards(data),
    data.models.some((m) => m.history.length > 0) ? trainingSection(data.models, colors) : "",
    data.models.length ? modelsSection(data.models, colors) : "",
    data.compare?.rows.length ? compareSection(data, colors) : "",
    data.search?.trials.length ? searchSection(data) : "",
    data.samples?.length ? samplesSection(data, colors) : "",
    confusionSection(data.models),
  ];
  const json = (options.embedJson ?? true) ? JSON.stringify(reportJson(data)).replace(/</g, "\\u003c") : "";
  const date = reportDate(data);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="distill-wasm">
<title>${h(data.title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<header>
<h1>${h(data.title)}</h1>
<p class="meta"><span><time datetime="${h(date.toISOString())}">${h(formatDate(date))}</time></span>${data.machine ? `<span class="machine">${h(data.machine)}</span>` : ""}</p>
${data.description ? `<p class="description">${h(data.description)}</p>` : ""}
</header>
${sections.filter(Boolean).join("\n")}
<footer>Generated by distill-wasm. Timings are wall-clock measurements on the machine above and vary between runs; accuracies and losses are reproducible from the seeds.</footer>
</main>
${json ? `<script type="application/json" id="report-data">${json}</script>\n` : ""}</body>
</html>
`;
}

/** A hyper-parameter as written: 4 → "4", 0.1 → "0.1" (at most 4 significant digits). */
function plain(v: number): string {
  return String(Number(v.toPrecision(4)));
}

/** "2026-11-28 10:32 UTC" (independent of the locale and time zone). */
function formatDate(d: Date): string {
  return `${d.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

function finalValue(history: readonly EpochRecord[], key: "loss" | "accuracy" | "valLoss" | "valAccuracy"): number {
  for (let i = history.length - 1; i >= 0; i--) {
    const v = history[i]![key];
    if (typeof v === "number" && Number.isFinite(v)) return v;
  }
  return NaN;
}

/** Held-out accuracy of a model: its evaluation, else the last validation accuracy. */
function heldOutAccuracy(m: ReportModel): number {
  return m.evaluation?.accuracy ?? finalValue(m.history, "valAccuracy");
}

function card(label: string, value: string, sub: string, name: string): string {
  return `<div class="card" data-card="${h(name)}"><div class="label">${h(label)}</div><div class="value">${h(value)}</div><div class="sub">${h(sub)}</div></div>`;
}

function summaryCards(data: ReportData): string {
  const cards: string[] = [];
  const names = { ...DEFAULT_COMPARE_NAMES, ...data.compareNames };
  const rows = data.compare?.rows ?? [];
  const teacher = rows.find((r) => r.name === "teacher");
  const student = rows.find((r) => r.name === "student");
  const baseline = rows.find((r) => r.name === "baseline");
  if (teacher && student) {
    const others = [`${names.teacher} ${formatPercent(teacher.accuracy)}`];
    if (baseline) others.push(`${names.baseline} ${formatPercent(baseline.accuracy)}`);
    cards.push(card(`${names.student} accuracy`, formatPercent(student.accuracy), others.join(" · "), "accuracy"));
    cards.push(
      card(
        "parameters",
        `${formatRatio(teacher.params / student.params)} fewer`,
        `${groupThousands(student.params)} vs ${groupThousands(teacher.params)} (${formatBytes(student.bytes)})`,
        "compression",
      ),
    );
    cards.push(
      card(
        "speed, batch 1",
        `${formatRatio(teacher.msPerSampleBatch1 / student.msPerSampleBatch1)} faster`,
        `${formatMs(student.msPerSampleBatch1)} vs ${formatMs(teacher.msPerSampleBatch1)} per sample`,
        "speed",
      ),
    );
    if (baseline) {
      const gain = (student.accuracy - baseline.accuracy) * 100;
      cards.push(
        card("distillation gain", `${gain >= 0 ? "+" : "−"}${Math.abs(gain).toFixed(2)} pts`, `over the same architecture trained on the labels alone`, "gain"),
      );
    }
  } else {
    for (const m of data.models.slice(0, 4)) {
      const acc = heldOutAccuracy(m);
      const shown = Number.isFinite(acc) ? acc : finalValue(m.history, "accuracy");
      cards.push(card(`${m.name} accuracy`, formatPercent(shown), Number.isFinite(acc) ? "held-out" : "training (last epoch)", `model-${m.name}`));
    }
  }
  if (data.search?.trials.length) {
    const b = data.search.best;
    cards.push(
      card(
        "best temperature",
        `T = ${plain(b.temperature)}, α = ${plain(b.alpha)}`,
        `validation accuracy ${formatPercent(b.valAccuracy)} (${data.search.trials.length} pairs)`,
        "search",
      ),
    );
  }
  return cards.length ? `<section class="cards" aria-label="summary">${cards.join("")}</section>` : "";
}

function legend(models: readonly ReportModel[], colors: Map<string, string>, withValidation: boolean): string {
  const keys = models.map((m) => `<span class="key"><span class="swatch" style="border-color:${h(colors.get(m.name))}"></span>${h(m.name)}</span>`);
  if (withValidation) {
    keys.push(
      `<span class="key style"><span class="swatch" style="border-color:#5c6470"></span>training</span>`,
      `<span class="key style"><span class="swatch dashed" style="border-color:#5c6470"></span>validation</span>`,
    );
  }
  return `<div class="legend">${keys.join("")}</div>`;
}

/**
 * The training value of an epoch: accuracy, or the cross-entropy on the labels — for a
 * distilled model that is the `hard` part of its objective, so every curve is comparable.
 */
function trainingValue(r: EpochRecord, train: "loss" | "accuracy"): number {
  if (train === "accuracy") return r.accuracy;
  const hard = r.parts?.hard;
  return typeof hard === "number" ? hard : r.loss;
}

function curves(models: readonly ReportModel[], colors: Map<string, string>, train: "loss" | "accuracy", val: "valLoss" | "valAccuracy"): ChartSeries[] {
  const series: ChartSeries[] = [];
  for (const m of models) {
    const color = colors.get(m.name)!;
    series.push({
      name: `${m.name} (training)`,
      color,
      points: m.history.map((r) => [r.epoch, trainingValue(r, train)] as const),
      data: { model: m.name, kind: "training" },
    });
    if (m.history.some((r) => typeof r[val] === "number")) {
      series.push({
        name: `${m.name} (validation)`,
        color,
        dashed: true,
        points: m.history.map((r) => [r.epoch, r[val] ?? NaN] as const),
        data: { model: m.name, kind: "validation" },
      });
    }
  }
  return series;
}

function trainingSection(models: readonly ReportModel[], colors: Map<string, string>): string {
  const withValidation = models.some((m) => m.history.some((r) => r.valLoss !== undefined || r.valAccuracy !== undefined));
  const distilled = models.some((m) => m.history.some((r) => r.parts && "soft" in r.parts));
  const loss = lineChart({
    title: "Loss per epoch",
    xLabel: "epoch",
    yLabel: "cross-entropy",
    className: "loss-chart",
    series: curves(models, colors, "loss", "valLoss"),
    valueFormat: (v) => v.toFixed(4),
  });
  const accuracy = lineChart({
    title: "Accuracy per epoch",
    xLabel: "epoch",
    yLabel: "accuracy",
    className: "accuracy-chart",
    yClamp: [0, 1],
    series: curves(models, colors, "accuracy", "valAccuracy"),
    yFormat: (v, step) => `${(v * 100).toFixed(decimalsOf(step * 100))}%`,
    valueFormat: (v) => formatPercent(v),
  });
  return `<section id="training">
<h2>Training</h2>
<p class="lead">One curve per model and epoch. Training values are means over the epoch's batches${withValidation ? "; dashed curves are measured on the held-out validation data after each epoch" : ""}.</p>
${legend(models, colors, withValidation)}
<div class="charts">
<figure><h3>Loss</h3>${loss}<figcaption>Cross-entropy on the labels.${distilled ? " For a distilled model the training curve is the hard-label part of its objective α·CE(labels) + (1 − α)·T²·KL(teacher ‖ student); the whole objective is in the table below." : ""}</figcaption></figure>
<figure><h3>Accuracy</h3>${accuracy}<figcaption>Top-1 accuracy; training accuracy is measured on each batch before its update.</figcaption></figure>
</div>
</section>`;
}

function modelsSection(models: readonly ReportModel[], colors: Map<string, string>): string {
  const anyEval = models.some((m) => m.evaluation);
  const anyVal = models.some((m) => Number.isFinite(finalValue(m.history, "valAccuracy")));
  const anyArch = models.some((m) => m.architecture);
  const ks = new Set(models.flatMap((m) => (m.evaluation ? [m.evaluation.topK.k] : [])));
  const topKHeader = ks.size === 1 ? `top-${[...ks][0]} accuracy` : "top-k accuracy";
  const head = [
    `<th class="text">model</th>`,
    anyArch ? `<th class="text">architecture</th>` : "",
    `<th>epochs</th>`,
    `<th>training time</th>`,
    `<th>final training loss</th>`,
    `<th>training accuracy</th>`,
    anyVal ? `<th>validation accuracy</th>` : "",
    anyEval ? `<th>test accuracy</th><th>${topKHeader}</th><th>NLL</th><th>ECE</th>` : "",
  ].join("");
  const rows = models.map((m) => {
    const seconds = m.history.reduce((s, r) => s + (Number.isFinite(r.seconds) ? r.seconds : 0), 0);
    const e: Evaluation | undefined = m.evaluation;
    return (
      `<tr data-model="${h(m.name)}">` +
      [
        `<td class="text name"><span class="dot" style="background:${h(colors.get(m.name))}"></span>${h(m.name)}</td>`,
        anyArch ? `<td class="text">${h(m.architecture ?? "")}</td>` : "",
        `<td>${m.history.length}</td>`,
        `<td>${formatSeconds(seconds)}</td>`,
        `<td>${finalValue(m.history, "loss").toFixed(4)}</td>`,
        `<td>${formatPercent(finalValue(m.history, "accuracy"))}</td>`,
        anyVal ? `<td>${formatPercent(finalValue(m.history, "valAccuracy"))}</td>` : "",
        anyEval
          ? e
            ? `<td><b>${formatPercent(e.accuracy)}</b></td><td>${formatPercent(e.topK.accuracy)}${ks.size === 1 ? "" : ` <span class="rel">k = ${e.topK.k}</span>`}</td><td>${e.nll.toFixed(4)}</td><td>${e.ece.toFixed(4)}</td>`
            : `<td>–</td><td>–</td><td>–</td><td>–</td>`
          : "",
      ].join("") +
      "</tr>"
    );
  });
  return `<section id="models">
<h2>Models</h2>
<p class="lead">The last epoch of each run${anyEval ? ", and the held-out test set: accuracy, top-k accuracy, negative log-likelihood and expected calibration error (15 bins)" : ""}.</p>
<div class="table-wrap"><table class="models"><thead><tr>${head}</tr></thead><tbody>
${rows.join("\n")}
</tbody></table></div>
</section>`;
}

function compareSection(data: ReportData, colors: Map<string, string>): string {
  const names = { ...DEFAULT_COMPARE_NAMES, ...data.compareNames };
  const rows = data.compare!.rows;
  const teacher = rows.find((r) => r.name === "teacher");
  const rel = (r: CompareRow, v: (row: CompareRow) => number, inverse = false) => {
    if (!teacher || r === teacher) return "";
    const ratio = inverse ? v(teacher) / v(r) : v(r) / v(teacher);
    return `<span class="rel">${inverse ? `${formatRatio(ratio)} faster` : `${formatRatio(1 / ratio)} smaller`}</span>`;
  };
  const colourOf = (r: CompareRow) => colors.get(names[r.name]) ?? colors.get(r.name) ?? "#adb5bd";
  const body = rows.map(
    (r) =>
      `<tr data-name="${h(r.name)}">` +
      [
        `<td class="text name"><span class="dot" style="background:${h(colourOf(r))}"></span>${h(names[r.name] ?? r.name)}</td>`,
        `<td class="text">${h(r.architecture)}</td>`,
        `<td>${groupThousands(r.params)}${rel(r, (x) => x.params)}</td>`,
        `<td>${formatBytes(r.bytes)}${r.quantization ? `<span class="rel">${h(r.quantization.weights)} weights</span>` : ""}</td>`,
        `<td>${formatCount(r.flops)}</td>`,
        `<td>${formatMs(r.msPerSampleBatch1)}${rel(r, (x) => x.msPerSampleBatch1, true)}</td>`,
        `<td>${formatMs(r.msPerSampleBatch128)}${rel(r, (x) => x.msPerSampleBatch128, true)}</td>`,
        `<td><b>${formatPercent(r.accuracy)}</b></td>`,
      ].join("") +
      "</tr>",
  );
  return `<section id="compare">
<h2>Comparison</h2>
<p class="lead">Size, cost and speed of each model and its accuracy on the same held-out data. Times are the median wall-clock time of the WebAssembly forward pass per sample${rows.some((r) => r.quantization) ? " (for the quantized model, of logits(), which also copies the rows in and the outputs out; its size is as stored: int8 weights with float32 scales and biases)" : ""}.</p>
<div class="table-wrap"><table class="compare"><thead><tr>
<th class="text">model</th><th class="text">architecture</th><th>parameters</th><th>size${rows.some((r) => r.quantization) ? "" : " (float32)"}</th><th>FLOPs / sample</th><th>time / sample<br>batch 1</th><th>time / sample<br>batch 128</th><th>accuracy</th>
</tr></thead><tbody>
${body.join("\n")}
</tbody></table></div>
</section>`;
}

function searchSection(data: ReportData): string {
  const { trials, best } = data.search!;
  const temperatures = [...new Set(trials.map((t) => t.temperature))].sort((a, b) => a - b);
  const alphas = [...new Set(trials.map((t) => t.alpha))].sort((a, b) => a - b);
  const cells: HeatCell[] = trials.map((t) => ({
    row: temperatures.indexOf(t.temperature),
    column: alphas.indexOf(t.alpha),
    value: t.valAccuracy,
    label: formatPercent(t.valAccuracy, 1),
    tooltip: `T = ${t.temperature}, α = ${t.alpha}: validation accuracy ${formatPercent(t.valAccuracy)}, validation loss ${t.valLoss.toFixed(4)}, final training loss ${t.loss.toFixed(4)}`,
    data: { temperature: String(t.temperature), alpha: String(t.alpha), accuracy: String(t.valAccuracy) },
    highlight: t === best || (t.temperature === best.temperature && t.alpha === best.alpha),
  }));
  const svg = heatMap({
    title: "Validation accuracy per temperature and α",
    rows: temperatures.map((t) => `T = ${plain(t)}`),
    columns: alphas.map((a) => `α = ${plain(a)}`),
    rowLabel: "temperature T",
    columnLabel: "α (weight of the hard-label loss)",
    cells,
    format: (v) => formatPercent(v, 1),
    legendLabel: "val. accuracy",
  });
  return `<section id="search">
<h2>Temperature search</h2>
<p class="lead">One student per (T, α) pair, trained on the same budget and ranked by validation accuracy; the outlined cell is the best pair (the earliest tried on ties).</p>
<div class="search"><figure>${svg}</figure>
<p class="best">Best: <b>T = ${plain(best.temperature)}, α = ${plain(best.alpha)}</b><br>validation accuracy ${formatPercent(best.valAccuracy)}<br>validation loss ${best.valLoss.toFixed(4)}</p></div>
</section>`;
}

function samplesSection(data: ReportData, colors: Map<string, string>): string {
  const teacherName = data.sampleNames?.teacher ?? "teacher";
  const studentName = data.sampleNames?.student ?? "student";
  const pick = (name: string, fallback: string) => colors.get(name) ?? [...colors].find(([k]) => k.includes(name))?.[1] ?? fallback;
  const last = data.models.at(-1)?.name;
  const teacherColor = pick(teacherName, PALETTE[0]!);
  const studentColor = colors.get(studentName) ?? (last ? colors.get(last)! : PALETTE[2]!);
  const cards = (data.samples ?? []).map((s: ReportSample, i) => {
    const t = argmax(s.teacher);
    const st = argmax(s.student);
    const verdict = (p: number, probs: ArrayLike<number>) =>
      `<span class="${p === s.label ? "ok" : "bad"}">${p}</span> <span class="share">(${formatPercent(Number(probs[p]), 1)})</span>`;
    return `<div class="sample" data-label="${s.label}" data-teacher="${t}" data-student="${st}">
<div class="top"><img alt="test digit ${i + 1}, label ${s.label}" src="${digitDataUrl(s.pixels)}">
<div class="verdict">label <b>${s.label}</b><br>${h(teacherName)}: ${verdict(t, s.teacher)}<br>${h(studentName)}: ${verdict(st, s.student)}</div></div>
${probabilityBars({ teacher: s.teacher, student: s.student, label: s.label, names: [teacherName, studentName], colors: [teacherColor, studentColor] })}
</div>`;
  });
  return `<section id="samples">
<h2>Test digits</h2>
<p class="lead">Held-out digits with each class's probability: upper bar ${h(teacherName)}, lower bar ${h(studentName)}; the true class is shaded, the numbers give both probabilities where either is at least 5%.</p>
<div class="legend"><span class="key"><span class="swatch" style="border-color:${h(teacherColor)}"></span>${h(teacherName)}</span><span class="key"><span class="swatch" style="border-color:${h(studentColor)}"></span>${h(studentName)}</span></div>
<div class="samples">
${cards.join("\n")}
</div>
</section>`;
}

function confusionTable(name: string, e: Evaluation): string {
  const k = e.classes;
  let max = 0;
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) if (i !== j) max = Math.max(max, e.confusion[i * k + j]!);
  const rowTotals = Array.from({ length: k }, (_, i) => e.confusion.subarray(i * k, (i + 1) * k).reduce((a, b) => a + b, 0));
  const rows = Array.from({ length: k }, (_, i) => {
    const cells = Array.from({ length: k }, (_, j) => {
      const v = e.confusion[i * k + j]!;
      const share = i === j ? v / Math.max(1, rowTotals[i]!) : max ? v / max : 0;
      const bg =
        v === 0 ? "transparent" : i === j ? `rgba(43,138,62,${(0.15 + 0.55 * share).toFixed(2)})` : `rgba(201,42,42,${(0.12 + 0.6 * share).toFixed(2)})`;
      return `<td style="background:${bg}">${v || ""}</td>`;
    });
    return `<tr><th>${i}</th>${cells.join("")}</tr>`;
  });
  return `<table class="confusion"><caption>${h(name)}</caption><thead><tr><th></th>${Array.from({ length: k }, (_, j) => `<th>${j}</th>`).join("")}</tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

function confusionSection(models: readonly ReportModel[]): string {
  const evaluated = models.filter((m) => m.evaluation);
  if (!evaluated.length) return "";
  return `<section id="confusion"><details><summary>Confusion matrices (rows: true class, columns: predicted class)</summary>
<div class="confusions">${evaluated.map((m) => confusionTable(m.name, m.evaluation!)).join("")}</div></details></section>`;
}
