/**
 * The init-time probe: times every candidate of every slot (candidates.ts) on one small
 * problem of its shape class and keeps the fastest.
 *
 * Problems (m × k × n), chosen to cross the candidates' block sizes while staying short
 * (about 1 MFLOP each; some 36 calls a pass):
 *   large   32 × 264 × 64   (k above the 128- and 256-deep blocks)
 *   narrow  32 × 1040 × 10  (a classifier head; k above the 256- and 1024-deep blocks)
 *   row     1 × 512 × 256   (one row; B is 512 KiB, streamed as at batch 1)
 *
 * Warm-up first, until the code is optimised. A wasm engine first runs a function as
 * baseline code and optimises it in the background once it is hot; the optimised code
 * arrives a few to a few tens of milliseconds later, function by function, and ranks the
 * candidates differently (V8's baseline code ran the two-step "-pairs" micro-kernel 1.3×
 * faster than the default; optimised, the default is 1.6× faster). So warm-up passes run,
 * with a yield to the event loop between them (where background compilation finishes),
 * until no candidate's best time has improved by more than WARM_STEADY for WARM_STEADY_PASSES
 * passes; a probe whose code has not settled within WARM_MAX_MS keeps the default plan.
 *
 * Then timed rounds, interleaved (so a busy neighbour hits the candidates alike); each
 * candidate keeps its best time; the default candidate stays unless another is more than
 * KEEP_DEFAULT_WITHIN (10%) faster by its best time, by the median over the rounds of its
 * time ÷ the default's time in the same round (a call preempted by another process spoils
 * one round's ratio, not the median), and in each of the last two rounds. Every candidate
 * gives the same bits, so a noisy pick costs speed only, never a different result.
 */
import type { KernelExports } from "../abi.js";
import { SLOTS, type ShapeClass, type Slot } from "./candidates.js";
import { applyPlan, defaultPlan, type GemmPlan } from "./plan.js";

const PROBLEMS: Record<ShapeClass, { m: number; k: number; n: number }> = {
  large: { m: 32, k: 264, n: 64 },
  narrow: { m: 32, k: 1040, n: 10 },
  row: { m: 1, k: 512, n: 256 },
};
/** Warm-up passes: at least WARM_MIN_PASSES; done when the best times hold for WARM_STEADY_PASSES passes. */
const WARM_MIN_PASSES = 4;
const WARM_STEADY_PASSES = 4;
/** A best time that drops by more than this fraction is still settling (baseline → optimised code is 2–4×). */
const WARM_STEADY = 0.1;
/** Warm-up that has not settled by then (a very slow or busy machine) gives up: the default plan. */
const WARM_MAX_MS = 1500;
/** Timed rounds always run (unless the probe passes MAX_MS); more follow while the budget lasts. */
const MIN_ROUNDS = 5;
const MAX_ROUNDS = 12;
const BUDGET_MS = 8;
/** Timed rounds that take longer (a slow or busy machine) stop at the next round. */
const MAX_MS = 60;
/** A candidate must beat the default by more than this fraction to replace it. */
const KEEP_DEFAULT_WITHIN = 0.1;
/** A clock coarser than this (ms; browsers that are not cross-origin isolated) cannot time the probe. */
const FINEST_USABLE_TICK_MS = 0.02;

export interface ProbeTimings {
  /** "nn.large" → candidate name → best time in ms. */
  [slot: string]: Record<string, number>;
}

export type ProbeOutcome = { plan: GemmPlan; timings: ProbeTimings } | { skipped: string };

type ProbeKernels = Pick<
  KernelExports,
  "memory" | "heap_alloc" | "heap_free" | "scratch_base" | "gemm_plan_set" | "gemm_nn" | "gemm_nt" | "gemm_tn" | "gemm_panels" | "pack_panels" | "panels_length"
>;

/** The smallest step of the clock seen in a short sample, in ms. */
function clockTick(now: () => number): number {
  let tick = Infinity;
  let last = now();
  for (let i = 0; i < 200 && tick > 0.001; i++) {
    let t = now();
    while (t === last) t = now();
    tick = Math.min(tick, t - last);
    last = t;
  }
  return tick;
}

/** A turn of the event loop, in which the engine may install the code it optimised in the background. */
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/**
 * Times the candidates on `kernels` (one instance), leaves the chosen plan set and returns
 * it. `pause` runs between warm-up passes (tests pass a no-op).
 */
export async function measurePlan(
  kernels: ProbeKernels,
  now: () => number = () => performance.now(),
  pause: () => Promise<void> = yieldToEventLoop,
): Promise<ProbeOutcome> {
  const tick = clockTick(now);
  if (tick > FINEST_USABLE_TICK_MS) {
    return { skipped: `the clock ticks every ${tick.toFixed(3)} ms, too coarse to time the candidates` };
  }
  const started = now();
  kernels.scratch_base(); // allocated before the operands, so freeing them leaves the heap as it was
  const owned: number[] = [];
  const floats = (count: number, fill: boolean): number => {
    const ptr = kernels.heap_alloc(count * 4) >>> 0;
    if (ptr === 0) throw new RangeError("GEMM plan probe: cannot allocate its operands");
    owned.push(ptr);
    const view = new Float32Array(kernels.memory.buffer, ptr, count);
    // Small values of both signs, no subnormals: 0.25·((i mod 7) − 3).
    if (fill) for (let i = 0; i < count; i++) view[i] = 0.25 * ((i % 7) - 3);
    else view.fill(0);
    return ptr;
  };
  try {
    const runs = new Map<Slot, () => void>();
    for (const shapeClass of ["large", "narrow", "row"] as const) {
      const { m, k, n } = PROBLEMS[shapeClass];
      const a = floats(m * k, true);
      const b = floats(k * n, true);
      const c = floats(m * n, false);
      for (const s of SLOTS.filter((x) => x.shapeClass === shapeClass)) {
        if (s.form === "panels") {
          const panels = floats(kernels.panels_length(k, n), false);
          kernels.pack_panels(panels, b, k, 1, k, n);
          runs.set(s, () => kernels.gemm_panels(c, a, panels, 0, m, n, k, k, n, 0));
          continue;
        }
        const kernel = kernels[`gemm_${s.form}`];
        const [lda, ldb] = s.form === "nn" ? [k, n] : s.form === "nt" ? [k, k] : [m, n];
        runs.set(s, () => kernel(c, a, b, 0, m, n, k, lda, ldb, n, 0));
      }
    }
    // Per slot, per round, per candidate: ms of one call.
    const rounds = new Map<Slot, number[][]>([...runs.keys()].map((s) => [s, []]));
    /** One call of every candidate of every slot; returns the times, slot after slot. */
    const pass = (record: boolean): number[] => {
      const all: number[] = [];
      for (const [s, run] of runs) {
        const times: number[] = [];
        for (let index = 0; index < s.candidates.length; index++) {
          kernels.gemm_plan_set(s.formId, s.classId, index);
          const t0 = now();
          run();
          times.push(now() - t0);
        }
        kernels.gemm_plan_set(s.formId, s.classId, 0);
        if (record) rounds.get(s)!.push(times);
        all.push(...times);
      }
      return all;
    };
    const settled = await warmUp(pass, now, pause);
    if (!settled) return { skipped: `the candidates' code was still being optimised after ${WARM_MAX_MS} ms of warm-up` };
    const timedFrom = now();
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const spent = now() - timedFrom;
      if ((round >= MIN_ROUNDS && spent > BUDGET_MS) || (round >= 2 && spent > MAX_MS)) break;
      pass(true);
    }
    const plan = defaultPlan();
    const timings: ProbeTimings = {};
    const beats = (a: number, b: number) => a < b * (1 - KEEP_DEFAULT_WITHIN);
    for (const [s, perRound] of rounds) {
      const times = s.candidates.map((_, index) => Math.min(...perRound.map((r) => r[index]!)));
      const lastTwo = perRound.slice(-2);
      let pick = 0;
      for (let index = 1; index < times.length; index++) {
        const steady = lastTwo.every((r) => beats(r[index]!, r[0]!));
        const ratios = perRound.map((r) => r[index]! / r[0]!).sort((a, b) => a - b);
        const median = ratios[Math.floor(ratios.length / 2)]!;
        if (times[index]! < times[pick]! && beats(times[index]!, times[0]!) && beats(median, 1) && steady) pick = index;
      }
      plan.gemm[s.form][s.shapeClass] = s.candidates[pick]!;
      timings[`${s.form}.${s.shapeClass}`] = Object.fromEntries(s.candidates.map((name, i) => [name, Number(times[i]!.toFixed(4))]));
    }
    plan.source = "measured";
    plan.probeMs = Number((now() - started).toFixed(1));
    applyPlan(kernels, plan);
    return { plan, timings };
  } finally {
    for (const ptr of owned.reverse()) kernels.heap_free(ptr);
  }
}

/**
 * Runs untimed passes, yielding between them, until every call's best time has held
 * (improved by at most WARM_STEADY) for WARM_STEADY_PASSES passes. False when WARM_MAX_MS
 * pass first.
 */
async function warmUp(pass: (record: boolean) => number[], now: () => number, pause: () => Promise<void>): Promise<boolean> {
  const started = now();
  let best: number[] = [];
  let steadyPasses = 0;
  for (let passes = 1; ; passes++) {
    const times = pass(false);
    const improved = times.some((t, i) => best[i] !== undefined && t < best[i]! * (1 - WARM_STEADY));
    best = times.map((t, i) => Math.min(t, best[i] ?? Infinity));
    steadyPasses = improved || passes === 1 ? 0 : steadyPasses + 1;
    if (passes >= WARM_MIN_PASSES && steadyPasses >= WARM_STEADY_PASSES) return true;
    if (now() - started > WARM_MAX_MS) return false;
    await pause();
  }
}
