/**
 * Inline SVG charts of the training report: line charts (per-epoch curves), the
 * temperature × α heat map, and per-class probability bars. Each returns an `<svg>` string
 * that needs no script, stylesheet or font beyond the page's own (and no xmlns: inline SVG in
 * HTML does not need one, and the report carries no URLs at all).
 */
import { escapeHtml, formatPercent, svgNumber as n } from "./format.js";

export const INK = "#1d2330";
export const MUTED = "#5c6470";
export const GRID = "#e6e9ee";

/** Round tick values covering [min, max]: steps of 1, 2 or 5 × 10^k, about `count` of them. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (max < min) [min, max] = [max, min];
  if (max === min) {
    const pad = Math.abs(min) > 0 ? Math.abs(min) * 0.1 : 1;
    min -= pad;
    max += pad;
  }
  const raw = (max - min) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const first = Math.ceil(min / step - 1e-9);
  const ticks: number[] = [];
  for (let i = first; i * step <= max + step * 1e-9; i++) ticks.push(Number((i * step).toPrecision(12)));
  return ticks;
}

/** Decimals that a tick step needs: 0.25 → 2, 0.5 → 1, 10 → 0. */
export function decimalsOf(step: number): number {
  return Math.min(10, (String(Number(step.toPrecision(6))).split(".")[1] ?? "").length);
}

/** The domain [lo, hi] rounded outwards to the tick step. */
function niceDomain(min: number, max: number, count: number): [number, number] {
  const ticks = niceTicks(min, max, count);
  if (ticks.length < 2) return [min, max === min ? min + 1 : max];
  const step = ticks[1]! - ticks[0]!;
  return [Math.floor(min / step + 1e-9) * step, Math.ceil(max / step - 1e-9) * step];
}

export interface ChartSeries {
  /** Legend / tooltip name (the model). */
  name: string;
  color: string;
  /** (x, y) points; non-finite y values are skipped. */
  points: readonly (readonly [number, number])[];
  dashed?: boolean;
  /** Extra data-* attributes on the curve's <path> (e.g. { model: "teacher", kind: "train" }). */
  data?: Record<string, string>;
}

export interface LineChartOptions {
  /** Accessible title (also shown on hover). */
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly ChartSeries[];
  width?: number;
  height?: number;
  /** Tick label format of the y axis (default: as many decimals as the tick step needs). */
  yFormat?: (v: number, step: number) => string;
  /** Tooltip format of a y value. */
  valueFormat?: (v: number) => string;
  /** Clamp of the y domain, e.g. [0, 1] for accuracies. */
  yClamp?: [number, number];
  /** Classes on the <svg> element. */
  className?: string;
}

function attrs(data: Record<string, string> | undefined): string {
  if (!data) return "";
  return Object.entries(data)
    .map(([k, v]) => ` data-${k}="${escapeHtml(v)}"`)
    .join("");
}

/** A line chart with axes, grid lines, tick labels, axis titles and a tooltip per point. */
export function lineChart(options: LineChartOptions): string {
  const width = options.width ?? 520;
  const height = options.height ?? 300;
  const margin = { top: 14, right: 18, bottom: 46, left: 62 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const yFormat = options.yFormat ?? ((v: number, step: number) => v.toFixed(decimalsOf(step)));
  const valueFormat = options.valueFormat ?? ((v: number) => v.toPrecision(4));

  const finite = options.series.flatMap((s) => s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)));
  const xs = finite.map(([x]) => x);
  const ys = finite.map(([, y]) => y);
  const xMax = xs.length ? Math.max(...xs) : 1;
  const xMin = xs.length ? Math.min(...xs, 1) : 0;
  const [x0, x1] = xMax > xMin ? [xMin, xMax] : [xMin - 0.5, xMax + 0.5];
  let [y0, y1] = ys.length ? niceDomain(Math.min(...ys), Math.max(...ys), 5) : [0, 1];
  if (options.yClamp) {
    y0 = Math.max(options.yClamp[0], y0);
    y1 = Math.min(options.yClamp[1], y1);
    if (y1 <= y0) [y0, y1] = options.yClamp;
  }
  const px = (x: number) => margin.left + ((x - x0) / (x1 - x0)) * plotW;
  const py = (y: number) => margin.top + (1 - (y - y0) / (y1 - y0)) * plotH;

  const out: string[] = [];
  out.push(
    `<svg viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img"` +
      ` class="chart${options.className ? ` ${escapeHtml(options.className)}` : ""}" font-size="12">`,
    `<title>${escapeHtml(options.title)}</title>`,
  );
  // Grid and y ticks.
  const yTicks = niceTicks(y0, y1, 5);
  const yStep = yTicks.length > 1 ? yTicks[1]! - yTicks[0]! : 1;
  for (const t of yTicks.filter((t) => t >= y0 - 1e-12 && t <= y1 + 1e-12)) {
    out.push(
      `<line x1="${margin.left}" x2="${width - margin.right}" y1="${n(py(t))}" y2="${n(py(t))}" stroke="${GRID}"/>`,
      `<text x="${margin.left - 8}" y="${n(py(t))}" text-anchor="end" dominant-baseline="middle" fill="${MUTED}">${escapeHtml(yFormat(t, yStep))}</text>`,
    );
  }
  // x ticks: whole epochs.
  const xTicks = niceTicks(x0, x1, Math.min(10, Math.max(1, Math.round(x1 - x0)))).filter((t) => Number.isInteger(t) && t >= x0 && t <= x1);
  for (const t of xTicks) {
    out.push(
      `<line x1="${n(px(t))}" x2="${n(px(t))}" y1="${margin.top + plotH}" y2="${margin.top + plotH + 5}" stroke="${MUTED}"/>`,
      `<text x="${n(px(t))}" y="${margin.top + plotH + 18}" text-anchor="middle" fill="${MUTED}">${t}</text>`,
    );
  }
  // Axes.
  out.push(
    `<line x1="${margin.left}" x2="${width - margin.right}" y1="${margin.top + plotH}" y2="${margin.top + plotH}" stroke="${MUTED}"/>`,
    `<line x1="${margin.left}" x2="${margin.left}" y1="${margin.top}" y2="${margin.top + plotH}" stroke="${MUTED}"/>`,
    `<text x="${n(margin.left + plotW / 2)}" y="${height - 8}" text-anchor="middle" fill="${INK}" font-size="13">${escapeHtml(options.xLabel)}</text>`,
    `<text transform="translate(16 ${n(margin.top + plotH / 2)}) rotate(-90)" text-anchor="middle" fill="${INK}" font-size="13">${escapeHtml(options.yLabel)}</text>`,
  );
  // Curves, then their points (on top).
  for (const s of options.series) {
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && y >= y0 - 1e-9 && y <= y1 + 1e-9);
    if (pts.length === 0) continue;
    const d = pts.map(([x, y], i) => `${i ? "L" : "M"}${n(px(x))} ${n(py(y))}`).join(" ");
    out.push(
      `<path class="curve" d="${d}" fill="none" stroke="${escapeHtml(s.color)}" stroke-width="2.25" stroke-linejoin="round" stroke-linecap="round"` +
        `${s.dashed ? ' stroke-dasharray="6 4"' : ""}${attrs(s.data)}><title>${escapeHtml(s.name)}</title></path>`,
    );
  }
  for (const s of options.series) {
    for (const [x, y] of s.points) {
      if (!(Number.isFinite(x) && Number.isFinite(y) && y >= y0 - 1e-9 && y <= y1 + 1e-9)) continue;
      out.push(
        `<circle cx="${n(px(x))}" cy="${n(py(y))}" r="${s.dashed ? 2.5 : 3}" fill="${s.dashed ? "#fff" : escapeHtml(s.color)}" stroke="${escapeHtml(s.color)}" stroke-width="1.5">` +
          `<title>${escapeHtml(`${s.name} · epoch ${x}: ${valueFormat(y)}`)}</title></circle>`,
      );
    }
  }
  out.push("</svg>");
  return out.join("");
}

// ---------------------------------------------------------------- colour scale

/** Viridis at 9 stops (perceptually uniform, readable in grayscale and by colour-blind readers). */
const VIRIDIS: [number, number, number][] = [
  [68, 1, 84],
  [71, 44, 122],
  [59, 81, 139],
  [44, 113, 142],
  [33, 144, 141],
  [39, 173, 129],
  [92, 200, 99],
  [170, 220, 50],
  [253, 231, 37],
];

/** t in [0, 1] → [r, g, b]. */
export function viridis(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const a = VIRIDIS[i]!;
  const b = VIRIDIS[i + 1]!;
  return [0, 1, 2].map((c) => Math.round(a[c]! + (b[c]! - a[c]!) * f)) as [number, number, number];
}

export function rgb([r, g, b]: [number, number, number]): string {
  return `rgb(${r},${g},${b})`;
}

/** Dark text on light colours, white on dark ones (relative luminance). */
export function textOn([r, g, b]: [number, number, number]): string {
  return 0.2126 * r + 0.7152 * g + 0.0722 * b > 140 ? INK : "#ffffff";
}

// ---------------------------------------------------------------- heat map

export interface HeatCell {
  row: number;
  column: number;
  value: number;
  label: string;
  tooltip: string;
  data?: Record<string, string>;
  highlight?: boolean;
}

export interface HeatMapOptions {
  title: string;
  rows: readonly string[];
  columns: readonly string[];
  rowLabel: string;
  columnLabel: string;
  cells: readonly HeatCell[];
  /** Legend text of the colour bar's ends. */
  format: (v: number) => string;
  legendLabel: string;
  cellWidth?: number;
  cellHeight?: number;
}

/** A grid of coloured cells with printed values, axis labels and a colour bar. */
export function heatMap(o: HeatMapOptions): string {
  const cw = o.cellWidth ?? 78;
  const ch = o.cellHeight ?? 42;
  const left = 92;
  const top = 40;
  const gridW = cw * o.columns.length;
  const gridH = ch * o.rows.length;
  const barX = left + gridW + 28;
  const width = barX + 80;
  const height = Math.max(top + gridH + 36, top + 120);
  const values = o.cells.map((c) => c.value).filter(Number.isFinite);
  const lo = values.length ? Math.min(...values) : 0;
  const hi = values.length ? Math.max(...values) : 1;
  const scale = (v: number) => (hi > lo ? (v - lo) / (hi - lo) : 0.5);

  const out: string[] = [
    `<svg viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" class="heatmap" font-size="12">`,
    `<title>${escapeHtml(o.title)}</title>`,
    `<text x="${n(left + gridW / 2)}" y="14" text-anchor="middle" fill="${INK}" font-size="13">${escapeHtml(o.columnLabel)}</text>`,
    `<text transform="translate(16 ${n(top + gridH / 2)}) rotate(-90)" text-anchor="middle" fill="${INK}" font-size="13">${escapeHtml(o.rowLabel)}</text>`,
  ];
  o.columns.forEach((c, j) => out.push(`<text x="${n(left + cw * j + cw / 2)}" y="${top - 8}" text-anchor="middle" fill="${MUTED}">${escapeHtml(c)}</text>`));
  o.rows.forEach((r, i) =>
    out.push(`<text x="${left - 10}" y="${n(top + ch * i + ch / 2)}" text-anchor="end" dominant-baseline="middle" fill="${MUTED}">${escapeHtml(r)}</text>`),
  );
  for (const cell of o.cells) {
    const colour = viridis(scale(cell.value));
    const x = left + cw * cell.column;
    const y = top + ch * cell.row;
    out.push(
      `<g class="heat-cell"${attrs(cell.data)}><title>${escapeHtml(cell.tooltip)}</title>`,
      `<rect x="${x + 1}" y="${y + 1}" width="${cw - 2}" height="${ch - 2}" rx="3" fill="${rgb(colour)}"/>`,
      `<text x="${n(x + cw / 2)}" y="${n(y + ch / 2)}" text-anchor="middle" dominant-baseline="middle" fill="${textOn(colour)}"` +
        ` font-weight="${cell.highlight ? 700 : 500}">${escapeHtml(cell.label)}</text>`,
      cell.highlight ? `<rect x="${x + 2.5}" y="${y + 2.5}" width="${cw - 5}" height="${ch - 5}" rx="2" fill="none" stroke="${INK}" stroke-width="2.5"/>` : "",
      "</g>",
    );
  }
  // Colour bar: top = best.
  const stops = VIRIDIS.map((_, i) => {
    const t = i / (VIRIDIS.length - 1);
    return `<stop offset="${n(1 - t)}" stop-color="${rgb(viridis(t))}"/>`;
  }).reverse();
  out.push(
    `<defs><linearGradient id="heat-gradient" x1="0" y1="0" x2="0" y2="1">${stops.join("")}</linearGradient></defs>`,
    `<rect x="${barX}" y="${top}" width="14" height="${gridH}" fill="url(#heat-gradient)" rx="2"/>`,
    `<text x="${barX + 20}" y="${top + 4}" dominant-baseline="middle" fill="${MUTED}">${escapeHtml(o.format(hi))}</text>`,
    `<text x="${barX + 20}" y="${top + gridH - 4}" dominant-baseline="middle" fill="${MUTED}">${escapeHtml(o.format(lo))}</text>`,
    `<text x="${n(barX + 7)}" y="${top + gridH + 20}" text-anchor="middle" fill="${MUTED}" font-size="11">${escapeHtml(o.legendLabel)}</text>`,
    "</svg>",
  );
  return out.join("");
}

// ---------------------------------------------------------------- probability bars

export interface ProbabilityBarsOptions {
  teacher: ArrayLike<number>;
  student: ArrayLike<number>;
  label: number;
  names: [string, string];
  colors: [string, string];
  width?: number;
}

/** One row per class: the teacher's bar above the student's, the true class on a shaded band. */
export function probabilityBars(o: ProbabilityBarsOptions): string {
  const classes = o.teacher.length;
  const width = o.width ?? 300;
  const rowH = 17;
  const left = 20;
  const right = 90;
  const barW = width - left - right;
  const height = rowH * classes + 4;
  const out: string[] = [
    `<svg viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" class="probs" font-size="11">`,
    `<title>${escapeHtml(`Probabilities per class: ${o.names[0]} (upper bar) and ${o.names[1]} (lower bar); true class ${o.label}`)}</title>`,
  ];
  for (let c = 0; c < classes; c++) {
    const y = 2 + c * rowH;
    const t = Number(o.teacher[c]) || 0;
    const s = Number(o.student[c]) || 0;
    if (c === o.label) out.push(`<rect x="0" y="${y}" width="${width}" height="${rowH - 1}" rx="3" fill="#eef2ff"/>`);
    out.push(
      `<text x="${left - 7}" y="${n(y + rowH / 2)}" text-anchor="end" dominant-baseline="middle" fill="${c === o.label ? INK : MUTED}"` +
        `${c === o.label ? ' font-weight="700"' : ""}>${c}</text>`,
      `<rect x="${left}" y="${y + 2.5}" width="${barW}" height="5.5" fill="${GRID}" rx="1"/>`,
      `<rect x="${left}" y="${y + 9}" width="${barW}" height="5.5" fill="${GRID}" rx="1"/>`,
      `<rect class="bar teacher" data-class="${c}" data-p="${t}" x="${left}" y="${y + 2.5}" width="${n(Math.max(0, Math.min(1, t)) * barW)}" height="5.5" fill="${escapeHtml(o.colors[0])}" rx="1">` +
        `<title>${escapeHtml(`${o.names[0]}: P(${c}) = ${formatPercent(t)}`)}</title></rect>`,
      `<rect class="bar student" data-class="${c}" data-p="${s}" x="${left}" y="${y + 9}" width="${n(Math.max(0, Math.min(1, s)) * barW)}" height="5.5" fill="${escapeHtml(o.colors[1])}" rx="1">` +
        `<title>${escapeHtml(`${o.names[1]}: P(${c}) = ${formatPercent(s)}`)}</title></rect>`,
    );
    if (Math.max(t, s) >= 0.05) {
      out.push(
        `<text x="${width - 4}" y="${n(y + rowH / 2)}" text-anchor="end" dominant-baseline="middle" font-size="10" font-weight="600">` +
          `<tspan fill="${escapeHtml(o.colors[0])}">${Math.round(t * 100)}%</tspan><tspan fill="${MUTED}" font-weight="400"> · </tspan>` +
          `<tspan fill="${escapeHtml(o.colors[1])}">${Math.round(s * 100)}%</tspan></text>`,
      );
    }
  }
  out.push("</svg>");
  return out.join("");
}
