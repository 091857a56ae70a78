// A small SVG line chart for the live training curves: redrawn whole on every update
// (a few dozen points), with grid lines, tick labels and axis titles.

const SVG = "http://www.w3.org/2000/svg";

/** Round tick values covering [min, max]: steps of 1, 2, 2.5 or 5 × 10^k. */
export function niceTicks(min, max, count = 5) {
  if (!(Number.isFinite(min) && Number.isFinite(max))) return [];
  if (max === min) {
    const pad = Math.abs(min) * 0.1 || 1;
    min -= pad;
    max += pad;
  }
  const raw = (max - min) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw);
  const ticks = [];
  // From the last step at or below min to the first at or above max.
  for (let i = Math.floor(min / step + 1e-9); ; i++) {
    ticks.push(Number((i * step).toPrecision(12)));
    if (ticks.length >= 2 && i * step >= max - step * 1e-9) break;
  }
  return ticks;
}

function el(name, attributes = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * Draws `series` into `container` (replacing its content).
 * @param {HTMLElement} container
 * @param {{ series: { id: string, color: string, dashed?: boolean, points: [number, number][] }[],
 *           xMax: number, xLabel: string, yLabel: string, format: (v: number, step: number) => string,
 *           yRange?: [number, number] }} options  yRange clamps the automatic y domain
 */
export function drawChart(container, options) {
  const width = 460;
  const height = 250;
  const m = { top: 12, right: 14, bottom: 40, left: 54 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const ys = options.series.flatMap((s) => s.points.map(([, y]) => y)).filter(Number.isFinite);
  let ticks = ys.length ? niceTicks(Math.min(...ys), Math.max(...ys), 4) : niceTicks(...(options.yRange ?? [0, 1]), 4);
  if (options.yRange) ticks = ticks.filter((t) => t >= options.yRange[0] - 1e-9 && t <= options.yRange[1] + 1e-9);
  if (ticks.length < 2) ticks = options.yRange ? [...options.yRange] : [0, 1];
  const step = ticks[1] - ticks[0];
  const [y0, y1] = [ticks[0], ticks.at(-1)];
  const x0 = 1;
  const x1 = Math.max(2, options.xMax);
  const px = (x) => m.left + ((x - x0) / (x1 - x0)) * plotW;
  const py = (y) => m.top + (1 - (y - y0) / (y1 - y0)) * plotH;

  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", class: "chart" });
  svg.append(el("title", {}, `${options.yLabel} per epoch`));
  for (const t of ticks) {
    svg.append(
      el("line", { x1: m.left, x2: width - m.right, y1: py(t), y2: py(t), class: "grid" }),
      el("text", { x: m.left - 8, y: py(t), "text-anchor": "end", "dominant-baseline": "middle", class: "tick" }, options.format(t, step)),
    );
  }
  const xStep = x1 - x0 > 10 ? Math.ceil((x1 - x0) / 10) : 1;
  for (let x = x0; x <= x1; x += xStep) {
    svg.append(el("text", { x: px(x), y: m.top + plotH + 17, "text-anchor": "middle", class: "tick" }, String(x)));
  }
  svg.append(
    el("line", { x1: m.left, x2: width - m.right, y1: m.top + plotH, y2: m.top + plotH, class: "axis" }),
    el("line", { x1: m.left, x2: m.left, y1: m.top, y2: m.top + plotH, class: "axis" }),
    el("text", { x: m.left + plotW / 2, y: height - 6, "text-anchor": "middle", class: "label" }, options.xLabel),
    el("text", { transform: `translate(14 ${m.top + plotH / 2}) rotate(-90)`, "text-anchor": "middle", class: "label" }, options.yLabel),
  );
  for (const s of options.series) {
    const points = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && y >= y0 - 1e-9 && y <= y1 + 1e-9);
    if (points.length === 0) continue;
    const d = points.map(([x, y], i) => `${i ? "L" : "M"}${px(x).toFixed(1)} ${py(y).toFixed(1)}`).join(" ");
    svg.append(
      el("path", {
        d,
        fill: "none",
        stroke: s.color,
        "stroke-width": s.dashed ? 1.75 : 2.5,
        "stroke-linejoin": "round",
        "stroke-linecap": "round",
        "stroke-dasharray": s.dashed ? "5 4" : "none",
        "data-model": s.id,
        "data-kind": s.dashed ? "training" : "test",
        class: "curve",
      }),
    );
    if (!s.dashed) {
      const [x, y] = points.at(-1);
      svg.append(el("circle", { cx: px(x), cy: py(y), r: 3.5, fill: s.color }));
    }
  }
  container.replaceChildren(svg);
}
