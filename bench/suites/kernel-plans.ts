/**
 * Section 1's plan table: every GEMM case of the kernel suite timed under each candidate of
 * the plan slot it falls in (assembly/gemm-plan.ts), on the suite's engine and operands, so
 * one run shows the default candidate (the kernels as first tuned: "before"), the
 * candidate the engine's init-time probe picked ("after") and every alternative, each as a
 * fraction of the same peak probe. The engine's own plan is restored afterwards.
 */
import { GEMM_PLAN_SLOTS, gemmShapeClass, type Engine, type GemmPlanSlot } from "distill-wasm";
import type { GemmForm } from "../lib/naive.js";
import { progress } from "../lib/progress.js";
import type { Timing } from "../lib/stats.js";
import { fmtNum } from "../lib/table.js";
import { FAST, measure } from "../lib/timing.js";

export interface PlanCase {
  form: GemmForm | "panels";
  m: number;
  k: number;
  n: number;
  run: () => void;
}

export interface CandidateTiming {
  candidate: string;
  timing: Timing;
  gflops: number;
  fractionOfPeak?: number;
}

export interface PlanRow {
  form: GemmForm | "panels";
  m: number;
  k: number;
  n: number;
  /** The plan slot, e.g. "nt.large". */
  slot: string;
  /** Candidate 0: what every slot ran before plans existed. */
  defaultCandidate: string;
  /** What the engine's plan runs for this slot. */
  planCandidate: string;
  candidates: CandidateTiming[];
}

function slotOf(c: PlanCase, relaxed: boolean): GemmPlanSlot {
  const shapeClass = c.form === "panels" ? "row" : gemmShapeClass(c.form, c.m, c.n, relaxed);
  return GEMM_PLAN_SLOTS.find((s) => s.form === c.form && s.shapeClass === shapeClass)!;
}

/** Times every candidate for each case (no peak yet: fractions are filled in by `withPeak`). */
export async function timeCandidates(engine: Engine, cases: readonly PlanCase[]): Promise<PlanRow[]> {
  const kernels = engine.kernels;
  const relaxed = engine.build === "relaxed";
  const rows: PlanRow[] = [];
  for (const c of cases) {
    const slot = slotOf(c, relaxed);
    const planned = kernels.gemm_plan_get(slot.formId, slot.classId);
    const candidates: CandidateTiming[] = [];
    try {
      for (let index = 0; index < slot.candidates.length; index++) {
        kernels.gemm_plan_set(slot.formId, slot.classId, index);
        const name = slot.candidates[index]!;
        progress(`  plan ${slot.form}.${slot.shapeClass} = ${name}: ${c.m}×${c.k}×${c.n}\n`);
        const timing = await measure(`distill-wasm ${c.form} ${c.m}×${c.k}×${c.n} ${name}`, c.run, FAST);
        candidates.push({ candidate: name, timing, gflops: (2 * c.m * c.n * c.k) / (timing.medianMs * 1e6) });
      }
    } finally {
      kernels.gemm_plan_set(slot.formId, slot.classId, planned);
    }
    rows.push({
      form: c.form,
      m: c.m,
      k: c.k,
      n: c.n,
      slot: `${slot.form}.${slot.shapeClass}`,
      defaultCandidate: slot.candidates[0]!,
      planCandidate: slot.candidates[planned]!,
      candidates,
    });
  }
  return rows;
}

export function withPeak(rows: PlanRow[], peakGflops: number): PlanRow[] {
  for (const r of rows) for (const c of r.candidates) c.fractionOfPeak = c.gflops / peakGflops;
  return rows;
}

const pct = (x: number | undefined) => (x === undefined ? "-" : `${(x * 100).toFixed(0)}%`);

/** The table: per case, default and planned % of peak, then every candidate (* = the plan's, ° = the default). */
export function printPlanTable(rows: readonly PlanRow[], planLine: string): string[] {
  console.log(`\nGEMM plan of this engine: ${planLine}`);
  console.log("Every candidate of the plan slot each case falls in (% of the peak probe; * = the engine's plan, ° = the default):\n");
  const lines: string[] = [];
  for (const r of rows) {
    const find = (name: string) => r.candidates.find((c) => c.candidate === name);
    const cells = r.candidates.map(
      (c) => `${c.candidate}${c.candidate === r.planCandidate ? "*" : ""}${c.candidate === r.defaultCandidate ? "°" : ""} ${pct(c.fractionOfPeak)}`,
    );
    const line =
      `${`gemm_${r.form}`.padEnd(11)} ${`${r.m}×${r.k}×${r.n}`.padEnd(12)} ${r.slot.padEnd(13)} ` +
      `default ${pct(find(r.defaultCandidate)?.fractionOfPeak).padStart(4)}  plan ${pct(find(r.planCandidate)?.fractionOfPeak).padStart(4)}  | ${cells.join(", ")}`;
    console.log(line);
    lines.push(line);
  }
  const best = rows.map((r) => Math.max(...r.candidates.map((c) => c.gflops)) / find0(r));
  console.log(`\nBest candidate ÷ default, per case: ${best.map((x) => fmtNum(x)).join(", ")}`);
  return lines;
}

function find0(r: PlanRow): number {
  return r.candidates.find((c) => c.candidate === r.defaultCandidate)!.gflops;
}
