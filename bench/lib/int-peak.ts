/**
 * The integer twin of ./peak.ts: a register-only WebAssembly SIMD probe of the machine's
 * i32x4.dot_i16x8_s + i32x4.add throughput, the widest exact integer multiply-accumulate of
 * baseline wasm SIMD and the instruction pair the int8 GEMM (assembly/int8.ts) is built on:
 * the ceiling against which the int8 inference rows are judged.
 *
 *   probe(n: i32, m: i32, c: i32, x0: i32) -> i32
 *
 * CHAINS independent accumulators acc_j (v128 locals, started at splat(x0 + j)); n iterations
 * of a loop whose body, UNROLL times over, updates every chain:
 *
 *   acc_j = i32x4.add(i32x4.dot_i16x8_s(acc_j, i16x8.splat(m)), i32x4.splat(c))
 *
 * (the dot reads the accumulator's eight 16-bit halves, so each step depends on the last and
 * no engine can hoist or share it), then lane 0 of Σ acc_j. Integer arithmetic wraps, so
 * any n is safe. Work per call: n · UNROLL · CHAINS dots of 8 multiply-adds each, counted as
 * 16 integer operations (a multiply and an add, as a GEMM's 2·m·n·k counts them).
 */
import type { Timing } from "./stats.js";
import { FAST, measure } from "./timing.js";
import { I32, moduleBytes, op, simd, sleb, uleb, V128, vec } from "./wasm-encode.js";

export const INT_PEAK_CHAINS = 12;
export const INT_PEAK_UNROLL = 4;
/** Integer operations per loop iteration: every chain does one 8-lane multiply-add dot. */
export const INT_PEAK_OPS_PER_ITERATION = INT_PEAK_UNROLL * INT_PEAK_CHAINS * 16;

const I16X8_SPLAT = simd(0x10);
const I32X4_SPLAT = simd(0x11);
const I32X4_EXTRACT_LANE = (lane: number) => [...simd(0x1b), lane];
const I32X4_ADD = simd(0xae);
const I32X4_DOT_I16X8_S = simd(0xba);
const I32_ADD = 0x6a;

/** The probe module's bytes. */
export function intPeakProbeBytes(chains = INT_PEAK_CHAINS, unroll = INT_PEAK_UNROLL): Uint8Array<ArrayBuffer> {
  // params: 0 n, 1 m, 2 c, 3 x0 (i32); locals: 4 mv, 5 cv, 6.. acc_j (v128)
  const N = 0,
    M = 1,
    C = 2,
    X0 = 3,
    MV = 4,
    CV = 5,
    ACC = 6;
  const body: number[] = [];
  body.push(op.localGet, M, ...I16X8_SPLAT, op.localSet, MV);
  body.push(op.localGet, C, ...I32X4_SPLAT, op.localSet, CV);
  for (let j = 0; j < chains; j++) {
    body.push(op.localGet, X0, op.i32Const, ...sleb(j), I32_ADD, ...I32X4_SPLAT, op.localSet, ACC + j);
  }
  body.push(op.block, op.void, op.loop, op.void);
  for (let u = 0; u < unroll; u++) {
    for (let j = 0; j < chains; j++) {
      body.push(op.localGet, ACC + j, op.localGet, MV, ...I32X4_DOT_I16X8_S, op.localGet, CV, ...I32X4_ADD, op.localSet, ACC + j);
    }
  }
  body.push(op.localGet, N, op.i32Const, ...sleb(1), op.i32Sub, op.localTee, N, op.brIf, 0, op.end, op.end);
  body.push(op.localGet, ACC);
  for (let j = 1; j < chains; j++) body.push(op.localGet, ACC + j, ...I32X4_ADD);
  body.push(...I32X4_EXTRACT_LANE(0), op.end);
  const locals = vec([[...uleb(2 + chains), V128]]);
  return moduleBytes("probe", [I32, I32, I32, I32], [I32], [...locals, ...body]);
}

export type IntPeakProbe = (n: number, m: number, c: number, x0: number) => number;

/** One lane of one step in JS: the dot of the lane's two signed 16-bit halves with m, plus c, wrapping. */
function step(v: number, m: number, c: number): number {
  const lo = (v << 16) >> 16;
  const hi = v >> 16;
  return (Math.imul(lo, m) + Math.imul(hi, m) + c) | 0;
}

/** The probe's arithmetic in JS (lane 0; all lanes are equal). */
export function referenceIntProbe(n: number, m: number, c: number, x0: number): number {
  const mi = (m << 16) >> 16; // i16x8.splat keeps the low 16 bits
  const acc = Array.from({ length: INT_PEAK_CHAINS }, (_, j) => (x0 + j) | 0);
  for (let i = 0; i < n * INT_PEAK_UNROLL; i++) {
    for (let j = 0; j < INT_PEAK_CHAINS; j++) acc[j] = step(acc[j]!, mi, c);
  }
  return acc.reduce((s, v) => (s + v) | 0, 0);
}

/** Compiles the probe and checks a small call against the JS reference. */
export async function loadIntPeakProbe(): Promise<IntPeakProbe> {
  const bytes = intPeakProbeBytes();
  if (!WebAssembly.validate(bytes)) throw new Error("integer peak probe: the hand-written module does not validate");
  const { instance } = await WebAssembly.instantiate(bytes);
  const probe = instance.exports.probe as IntPeakProbe;
  const [n, m, c, x0] = [7, 3, 12345, 1000];
  const got = probe(n, m, c, x0);
  const want = referenceIntProbe(n, m, c, x0);
  if (got !== want) throw new Error(`integer peak probe: wasm result ${got} differs from the JS reference ${want}`);
  return probe;
}

/** Loop iterations per probe call: ≈ 300 M integer operations, a few milliseconds. */
export const INT_PEAK_ITERATIONS = 400_000;

/** Times the probe (median of a 0.7 s measurement) and returns its integer GOP/s. */
export async function measureIntPeak(label: string): Promise<{ gops: number; timing: Timing }> {
  const probe = await loadIntPeakProbe();
  const timing = await measure(`integer peak probe (${label})`, () => probe(INT_PEAK_ITERATIONS, 3, 12345, 1000), { ...FAST, time: 700 });
  return { gops: (INT_PEAK_ITERATIONS * INT_PEAK_OPS_PER_ITERATION) / (timing.medianMs * 1e6), timing };
}
