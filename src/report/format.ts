/**
 * Text helpers of the training report: HTML escaping and the number formats of the
 * comparison table (the same conventions as `formatCompareTable`: 1 KB = 1000 bytes,
 * 3 significant digits, thousands grouped independently of the locale).
 */

/** Escapes text for HTML element content and double-quoted attribute values. */
export function escapeHtml(text: unknown): string {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** 25450 → "25,450". */
export function groupThousands(n: number): string {
  if (!Number.isFinite(n)) return "–";
  const [int, frac] = String(Math.abs(n)).split(".");
  return `${n < 0 ? "−" : ""}${int!.replace(/\B(?=(\d{3})+(?!\d))/g, ",")}${frac === undefined ? "" : `.${frac}`}`;
}

/** 101800 → "101.8 KB", 2678824 → "2.68 MB". */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return "–";
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(2)} MB`;
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(1)} KB`;
  return `${bytes} B`;
}

/** 3 significant digits, without exponent notation for values ≥ 1000. */
export function formatSignificant(v: number, digits = 3): string {
  if (!Number.isFinite(v)) return "–";
  if (v === 0) return "0";
  if (Math.abs(v) >= 10 ** digits - 0.5) return String(Math.round(v));
  const s = v.toPrecision(digits);
  // toPrecision switches to exponent notation below 1e-6; spell those out.
  return s.includes("e") ? v.toFixed(Math.min(20, digits - 1 - Math.floor(Math.log10(Math.abs(v))))) : s;
}

/** 50890 → "50.9 K", 1339402 → "1.34 M". */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return "–";
  if (Math.abs(n) < 1000) return String(n);
  const scales = [
    [1e3, "K"],
    [1e6, "M"],
    [1e9, "G"],
  ] as const;
  for (const [i, [scale, suffix]] of scales.entries()) {
    if (Number((n / scale).toPrecision(3)) < 1000 || i === scales.length - 1) return `${formatSignificant(n / scale)} ${suffix}`;
  }
  return String(n);
}

/** 0.9812 → "98.12%" (digits after the point, default 2). */
export function formatPercent(fraction: number, digits = 2): string {
  return Number.isFinite(fraction) ? `${(fraction * 100).toFixed(digits)}%` : "–";
}

/** Milliseconds with 3 significant digits, or microseconds below 0.1 ms ("12.2 µs"). */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return "–";
  return ms < 0.1 ? `${formatSignificant(ms * 1000)} µs` : `${formatSignificant(ms)} ms`;
}

/** Seconds as "22.1 ms", "4.20 s" or "2 min 05 s". */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "–";
  if (s < 1) return `${formatSignificant(s * 1000)} ms`;
  if (s < 60) return `${formatSignificant(s)} s`;
  const minutes = Math.floor(s / 60);
  return `${minutes} min ${String(Math.round(s - minutes * 60)).padStart(2, "0")} s`;
}

/** A ratio as "7.9×" (2 significant digits below 10, whole numbers above). */
export function formatRatio(r: number): string {
  if (!Number.isFinite(r) || r <= 0) return "–";
  return `${r >= 10 ? Math.round(r) : r.toPrecision(2)}×`;
}

/** A number for an SVG attribute: at most 2 decimals, no trailing zeros. */
export function svgNumber(v: number): string {
  return String(Math.round(v * 100) / 100);
}
