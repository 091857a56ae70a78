/** Plain-text tables for benchmark output: right-aligned numbers, left-aligned text. */

export interface Column<Row> {
  header: string;
  /** Cell text for a row. */
  cell: (row: Row) => string;
  align?: "left" | "right";
}

export function renderTable<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): string {
  const cells = rows.map((row) => columns.map((col) => col.cell(row)));
  const widths = columns.map((col, i) => Math.max(col.header.length, ...cells.map((r) => r[i]!.length)));
  const fmt = (texts: readonly string[]) =>
    texts
      .map((t, i) => (columns[i]!.align === "left" ? t.padEnd(widths[i]!) : t.padStart(widths[i]!)))
      .join("  ")
      .trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [fmt(columns.map((c) => c.header)), rule, ...cells.map(fmt)].join("\n");
}

/** A number with a fixed count of significant-looking decimals for its magnitude. */
export function fmtNum(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return "-";
  const abs = Math.abs(x);
  if (abs >= 100) return x.toFixed(0);
  if (abs >= 10) return x.toFixed(1);
  if (abs >= 1) return x.toFixed(2);
  return x.toFixed(3);
}
