/**
 * A dependency-free SVG bar chart: one panel per scenario, one horizontal bar per library
 * (same colour for a library in every panel), a linear axis per panel starting at 0, and
 * the value written after each bar.
 */
import type { ChartBar } from "./context.js";

const PALETTE: Record<string, string> = {
  "distill-wasm step": "#1f77b4",
  "distill-wasm distill()": "#6baed6",
  "distill-wasm train()": "#6baed6",
  "distill-wasm logits()": "#1f77b4",
  "distill-wasm forward": "#6baed6",
  "tfjs-wasm": "#ff7f0e",
  "tfjs-cpu": "#fdbf6f",
  "onnxruntime-web": "#2ca02c",
  "naive JS": "#7f7f7f",
};
const FALLBACK = ["#9467bd", "#8c564b", "#e377c2", "#17becf"];

const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

function formatRate(x: number): string {
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)} M`;
  if (x >= 1e4) return `${(x / 1e3).toFixed(1)} k`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(2)} k`;
  return x >= 100 ? x.toFixed(0) : x.toFixed(1);
}

function formatTick(x: number): string {
  if (x === 0) return "0";
  if (x >= 1e6) return `${+(x / 1e6).toPrecision(3)} M`;
  if (x >= 1e3) return `${+(x / 1e3).toPrecision(3)} k`;
  return `${+x.toPrecision(3)}`;
}

/** A "nice" axis maximum ≥ x: 1, 2 or 5 × 10^k. */
function niceMax(x: number): number {
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 5, 10]) if (m * p >= x) return m * p;
  return 10 * p;
}

export function barChartSvg(title: string, bars: readonly ChartBar[]): string {
  const groups = [...new Set(bars.map((b) => b.group))];
  const W = 920;
  const labelW = 190;
  const plotW = 560;
  const barH = 18;
  const gap = 6;
  const panelHead = 44;
  const panelFoot = 26;
  const x0 = 20 + labelW;
  const out: string[] = [];
  let y = 56;
  let fallback = 0;
  const colour = (lib: string) => (PALETTE[lib] ??= FALLBACK[fallback++ % FALLBACK.length]!);

  for (const group of groups) {
    const gb = bars.filter((b) => b.group === group);
    const max = niceMax(Math.max(...gb.map((b) => b.samplesPerSecond)));
    out.push(`<text x="20" y="${y + 18}" class="panel">${escape(group)}</text>`);
    const top = y + panelHead - 14;
    const height = gb.length * (barH + gap);
    for (let t = 0; t <= 5; t++) {
      const gx = x0 + (plotW * t) / 5;
      out.push(`<line x1="${gx}" y1="${top - 4}" x2="${gx}" y2="${top + height}" class="grid"/>`);
      out.push(`<text x="${gx}" y="${top + height + 14}" class="tick">${formatTick((max * t) / 5)}</text>`);
    }
    gb.forEach((b, i) => {
      const by = top + i * (barH + gap);
      const w = Math.max(1, (plotW * b.samplesPerSecond) / max);
      out.push(`<text x="${x0 - 8}" y="${by + barH - 5}" class="label">${escape(b.library)}</text>`);
      out.push(
        `<rect x="${x0}" y="${by}" width="${w.toFixed(1)}" height="${barH}" fill="${colour(b.library)}"><title>${escape(b.library)}: ${b.samplesPerSecond.toFixed(1)} samples/s</title></rect>`,
      );
      out.push(`<text x="${(x0 + w + 6).toFixed(1)}" y="${by + barH - 5}" class="value">${formatRate(b.samplesPerSecond)}</text>`);
    });
    y = top + height + panelFoot;
  }
  const H = y + 20;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif">`,
    `<style>`,
    `.title{font-size:15px;font-weight:bold;fill:#222}.sub{font-size:11px;fill:#555}.panel{font-size:13px;font-weight:bold;fill:#222}`,
    `.label{font-size:12px;fill:#222;text-anchor:end}.value{font-size:11px;fill:#222}.tick{font-size:10px;fill:#777;text-anchor:middle}`,
    `.grid{stroke:#e3e3e3;stroke-width:1}`,
    `</style>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="20" y="24" class="title">${escape(title)}</text>`,
    `<text x="20" y="42" class="sub">Samples per second from the median time of one call (higher is better); linear scale per panel. npm run bench.</text>`,
    ...out,
    `</svg>`,
    "",
  ].join("\n");
}
