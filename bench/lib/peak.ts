/**
 * A register-only WebAssembly SIMD "peak probe": the machine's f32x4 mul + add throughput
 * as the JavaScript engine compiles it, the ceiling against which GEMM kernels are judged.
 *
 * The module is written byte by byte here (no toolchain). Its one export is
 *
 *   probe(n: i32, m: f32, c: f32, x0: f32) -> f32
 *
 * It holds CHAINS independent accumulators acc_j (v128 locals, started at x0 + j/64) and
 * runs n iterations of a loop whose body, UNROLL times over, updates every chain:
 *
 *   acc_j = f32x4.add(f32x4.mul(acc_j, splat(m)), splat(c))
 *
 * then returns lane 0 of the sum of the accumulators (so nothing is dead code). No memory
 * is touched inside the loop: CHAINS + 2 vector locals fit in the 16 x86-64 xmm registers
 * a wasm engine allocates from. Each chain's mul → add dependency takes a few cycles;
 * with 12 chains in flight the multiply and add pipes, not latency, set the rate.
 * Floating-point work per call: n · UNROLL · CHAINS · 8 (4 lanes × (mul + add)).
 *
 * With m = 0.999999 and c = 1e-6 each lane converges to 1: no overflow, no subnormals.
 */

import type { Timing } from "./stats.js";
import { FAST, measure } from "./timing.js";
import { F32, f32Bytes, I32, moduleBytes, op, simd, sleb, uleb, V128, vec } from "./wasm-encode.js";

export const PEAK_CHAINS = 12;
export const PEAK_UNROLL = 4;
/** FLOPs per loop iteration: every chain does one f32x4 mul and one f32x4 add (4 lanes each). */
export const PEAK_FLOPS_PER_ITERATION = PEAK_UNROLL * PEAK_CHAINS * 8;

const F32X4_SPLAT = simd(0x13);
const F32X4_EXTRACT_LANE = (lane: number) => [...simd(0x1f), lane];
const F32X4_ADD = simd(0xe4);
const F32X4_MUL = simd(0xe6);

/** The probe module's bytes. */
export function peakProbeBytes(chains = PEAK_CHAINS, unroll = PEAK_UNROLL): Uint8Array<ArrayBuffer> {
  // params: 0 n (i32), 1 m (f32), 2 c (f32), 3 x0 (f32); locals: 4 mv, 5 cv, 6.. acc_j (v128)
  const N = 0,
    M = 1,
    C = 2,
    X0 = 3,
    MV = 4,
    CV = 5,
    ACC = 6;
  const body: number[] = [];
  body.push(op.localGet, M, ...F32X4_SPLAT, op.localSet, MV);
  body.push(op.localGet, C, ...F32X4_SPLAT, op.localSet, CV);
  for (let j = 0; j < chains; j++) {
    body.push(op.localGet, X0, op.f32Const, ...f32Bytes(j / 64), op.f32Add, ...F32X4_SPLAT, op.localSet, ACC + j);
  }
  // block { loop { body × unroll; n = n − 1; br_if loop (n ≠ 0) } }   (n ≥ 1)
  body.push(op.block, op.void, op.loop, op.void);
  for (let u = 0; u < unroll; u++) {
    for (let j = 0; j < chains; j++) {
      body.push(op.localGet, ACC + j, op.localGet, MV, ...F32X4_MUL, op.localGet, CV, ...F32X4_ADD, op.localSet, ACC + j);
    }
  }
  body.push(op.localGet, N, op.i32Const, ...sleb(1), op.i32Sub, op.localTee, N, op.brIf, 0, op.end, op.end);
  // Σ acc_j, lane 0
  body.push(op.localGet, ACC);
  for (let j = 1; j < chains; j++) body.push(op.localGet, ACC + j, ...F32X4_ADD);
  body.push(...F32X4_EXTRACT_LANE(0), op.end);

  const locals = vec([[...uleb(2 + chains), V128]]);
  return moduleBytes("probe", [I32, F32, F32, F32], [F32], [...locals, ...body]);
}

export type PeakProbe = (n: number, m: number, c: number, x0: number) => number;

/** Compiles the probe and checks one small call against the same arithmetic done in JS. */
export async function loadPeakProbe(): Promise<PeakProbe> {
  const bytes = peakProbeBytes();
  if (!WebAssembly.validate(bytes)) throw new Error("peak probe: the hand-written module does not validate");
  const { instance } = await WebAssembly.instantiate(bytes);
  const probe = instance.exports.probe as PeakProbe;
  const n = 7,
    m = 0.999999,
    c = 1e-6,
    x0 = 0.25;
  const got = probe(n, m, c, x0);
  const want = referenceProbe(n, m, c, x0);
  if (got !== want) throw new Error(`peak probe: wasm result ${got} differs from the JS reference ${want}`);
  return probe;
}

/** The probe's arithmetic in JS with float32 rounding at every step (lane 0; all lanes are equal). */
export function referenceProbe(n: number, m: number, c: number, x0: number): number {
  const f = Math.fround;
  const mf = f(m),
    cf = f(c);
  const acc = Array.from({ length: PEAK_CHAINS }, (_, j) => f(f(x0) + f(j / 64)));
  for (let i = 0; i < n * PEAK_UNROLL; i++) {
    for (let j = 0; j < PEAK_CHAINS; j++) acc[j] = f(f(acc[j]! * mf) + cf);
  }
  let s = acc[0]!;
  for (let j = 1; j < PEAK_CHAINS; j++) s = f(s + acc[j]!);
  return s;
}

/** Loop iterations per probe call: ≈ 150 MFLOP, a few milliseconds. */
export const PEAK_ITERATIONS = 400_000;

/** Times the probe (median of a 0.7 s measurement) and returns its GFLOP/s. */
export async function measurePeak(label: string): Promise<{ gflops: number; timing: Timing }> {
  const probe = await loadPeakProbe();
  const timing = await measure(`peak probe (${label})`, () => probe(PEAK_ITERATIONS, 0.999999, 1e-6, 0.25), { ...FAST, time: 700 });
  return { gflops: (PEAK_ITERATIONS * PEAK_FLOPS_PER_ITERATION) / (timing.medianMs * 1e6), timing };
}
