/**
 * Section 4, convolution kernels: distill-wasm's conv2d_forward / conv2d_backward (NCHW,
 * im2col + GEMM) against tfjs-wasm and tfjs-cpu (NHWC) and a naive JavaScript loop nest,
 * at the 3×3, pad 1, stride 1 layers of a small MNIST CNN, batch 32.
 *
 * What one timed call is:
 * - distill-wasm forward: one `conv2d_forward(y, x, w, 0, work, …, flags 0)` call (no bias,
 *   no ReLU) on operands already in wasm memory; work is cin·kh·kw·oh·ow floats.
 * - distill-wasm backward: one `conv2d_backward(dx, dw, 0, dy, x, w, work, …)` call: dx and
 *   dw (db skipped) from a given dy.
 * - tfjs forward: `tf.conv2d(x, filter, 1, pad)` on NHWC tensors (x (batch, h, w, cin),
 *   filter (kh, kw, cin, cout)) created once, then `dataSync()` and `dispose()`. tfjs's
 *   conv2d accepts dataFormat "NHWC" only, so its inputs are the NCHW data transposed.
 * - tfjs backward: the two kernels tfjs's own Conv2D gradient (what `tf.grads` runs) calls,
 *   invoked directly from a given dy so that no forward pass is timed:
 *   dx = `tf.conv2dTranspose(dy, filter, xShape, 1, pad)` (kernel Conv2DBackpropInput) and
 *   dw = `tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, …)`, then `dataSync()`
 *   of both and `dispose()`. tfjs-backend-wasm 4.22 registers no Conv2DBackpropFilter
 *   kernel (`tf.grads` of a conv2d on the wasm backend throws), so tfjs-wasm's dw is
 *   computed the way a tfjs-wasm user can: as a stride-1 convolution on the wasm backend,
 *   dw = transpose(conv2d(transpose(x, [3,1,2,0]), transpose(dy, [1,2,0,3]), 1, pad), [1,2,0,3])
 *   (batch as the contracted channel axis, dy as the filter), transposes included in the
 *   timed call.
 * - naive JS: the loop nests below (forward: a dot product per output; backward: dw as a
 *   sum per weight, dx by scattering w·dy), float64 accumulation.
 * Agreement before timing: every output within 1e-5 of Σ|terms| of the naive loop
 * (Σ|w·x| for y, Σ|w·dy| for dx, Σ|dy·x| for dw), element by element.
 */
import type * as TF from "@tensorflow/tfjs-core";
import { abortDisagreement, msCell, ratioCell, speedPhrase, type Context } from "../lib/context.js";
import { progress } from "../lib/progress.js";
import { uniformF32 } from "../lib/random.js";
import type { Timing } from "../lib/stats.js";
import { fmtNum, renderTable, type Column } from "../lib/table.js";
import { budgetFor, FAST, measure, once } from "../lib/timing.js";
import { TF_LIBS, useBackend, type TfBackend } from "../lib/tfjs.js";

export interface ConvShape {
  batch: number;
  cin: number;
  h: number;
  w: number;
  cout: number;
  k: number;
  stride: number;
  pad: number;
}

/** The convolutions of a small MNIST CNN (conv 8 → pool → conv 16 → pool → conv 32), batch 32. */
export const CONV_SHAPES: readonly ConvShape[] = [
  { batch: 32, cin: 1, h: 28, w: 28, cout: 8, k: 3, stride: 1, pad: 1 },
  { batch: 32, cin: 8, h: 14, w: 14, cout: 16, k: 3, stride: 1, pad: 1 },
  { batch: 32, cin: 16, h: 7, w: 7, cout: 32, k: 3, stride: 1, pad: 1 },
];

/** --quick: the same layers at batch 2, so that naive JS and tfjs-cpu's backward take milliseconds. */
export const QUICK_CONV_SHAPES: readonly ConvShape[] = CONV_SHAPES.map((s) => ({ ...s, batch: 2 }));

/** max |out − out_naive| / Σ|terms| allowed before anything is timed. */
export const CONV_TOLERANCE = 1e-5;

export type ConvPass = "forward" | "backward";
export type ConvLib = "distill-wasm" | "tfjs-wasm" | "tfjs-cpu" | "naive JS";
const LIBS: readonly ConvLib[] = ["distill-wasm", "tfjs-wasm", "tfjs-cpu", "naive JS"];

export interface ConvRow extends ConvShape {
  pass: ConvPass;
  library: ConvLib;
  /** What one timed call does. */
  timed: string;
  timing: Timing;
  /** forward 2·batch·cout·oh·ow·cin·kh·kw, backward twice that (dx and dw). */
  flops: number;
  gflops: number;
  /** This row's median / distill-wasm's median (how many times faster distill-wasm is). */
  distillSpeedup: number;
  /** Worst over the pass's outputs of max |out − out_naive| / Σ|terms|. */
  maxScaledError: number;
}

export interface ConvResult {
  layout: string;
  rows: ConvRow[];
  tolerance: number;
  /** Library or library + pass → why it has no rows. */
  skipped: Record<string, string>;
  /** Notes on how tfjs was driven, e.g. the tf.grads failure on the wasm backend. */
  notes: string[];
}

const outLen = (n: number, s: ConvShape) => Math.floor((n + 2 * s.pad - s.k) / s.stride) + 1;
const dims = (s: ConvShape) => ({ oh: outLen(s.h, s), ow: outLen(s.w, s) });
export const shapeText = (s: ConvShape) => `${s.batch}×${s.cin}×${s.h}×${s.w} → ${s.cout}, ${s.k}×${s.k} pad ${s.pad}`;
export function convFlops(s: ConvShape, pass: ConvPass): number {
  const { oh, ow } = dims(s);
  const f = 2 * s.batch * s.cout * oh * ow * s.cin * s.k * s.k;
  return pass === "forward" ? f : 2 * f;
}

// ---------------------------------------------------------------- naive JS (NCHW)

/** y (batch, cout, oh, ow) = conv(x, w); with `scale`, also Σ|w·x| per output. */
export function naiveConvForward(y: Float32Array, x: Float32Array, w: Float32Array, s: ConvShape, scale?: Float32Array): void {
  const { batch, cin, h, w: wd, cout, k, stride, pad } = s;
  const { oh, ow } = dims(s);
  let out = 0;
  for (let b = 0; b < batch; b++) {
    for (let o = 0; o < cout; o++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          let acc = 0;
          let abs = 0;
          for (let ci = 0; ci < cin; ci++) {
            const xPlane = (b * cin + ci) * h * wd;
            const wBase = (o * cin + ci) * k * k;
            for (let ki = 0; ki < k; ki++) {
              const iy = oy * stride + ki - pad;
              if (iy < 0 || iy >= h) continue;
              for (let kj = 0; kj < k; kj++) {
                const ix = ox * stride + kj - pad;
                if (ix < 0 || ix >= wd) continue;
                const t = w[wBase + ki * k + kj]! * x[xPlane + iy * wd + ix]!;
                acc += t;
                if (scale) abs += Math.abs(t);
              }
            }
          }
          y[out] = acc;
          if (scale) scale[out] = abs;
          out++;
        }
      }
    }
  }
}

/**
 * dx (batch, cin, h, w) and dw (cout, cin, k, k) from dy (batch, cout, oh, ow), overwritten;
 * with the scale arrays, also Σ|w·dy| per dx element and Σ|dy·x| per dw element.
 */
export function naiveConvBackward(
  dx: Float32Array,
  dw: Float32Array,
  dy: Float32Array,
  x: Float32Array,
  w: Float32Array,
  s: ConvShape,
  dxAcc: Float64Array,
  scaleDx?: Float32Array,
  scaleDw?: Float32Array,
  dxAbs?: Float64Array,
): void {
  const { batch, cin, h, w: wd, cout, k, stride, pad } = s;
  const { oh, ow } = dims(s);
  // dw: one sum over (b, oy, ox) per weight
  for (let o = 0; o < cout; o++) {
    for (let ci = 0; ci < cin; ci++) {
      for (let ki = 0; ki < k; ki++) {
        for (let kj = 0; kj < k; kj++) {
          let acc = 0;
          let abs = 0;
          for (let b = 0; b < batch; b++) {
            const dyPlane = (b * cout + o) * oh * ow;
            const xPlane = (b * cin + ci) * h * wd;
            for (let oy = 0; oy < oh; oy++) {
              const iy = oy * stride + ki - pad;
              if (iy < 0 || iy >= h) continue;
              for (let ox = 0; ox < ow; ox++) {
                const ix = ox * stride + kj - pad;
                if (ix < 0 || ix >= wd) continue;
                const t = dy[dyPlane + oy * ow + ox]! * x[xPlane + iy * wd + ix]!;
                acc += t;
                if (scaleDw) abs += Math.abs(t);
              }
            }
          }
          const i = ((o * cin + ci) * k + ki) * k + kj;
          dw[i] = acc;
          if (scaleDw) scaleDw[i] = abs;
        }
      }
    }
  }
  // dx: scatter w·dy into a float64 accumulator
  dxAcc.fill(0);
  dxAbs?.fill(0);
  for (let b = 0; b < batch; b++) {
    for (let o = 0; o < cout; o++) {
      const dyPlane = (b * cout + o) * oh * ow;
      for (let ci = 0; ci < cin; ci++) {
        const xPlane = (b * cin + ci) * h * wd;
        const wBase = (o * cin + ci) * k * k;
        for (let ki = 0; ki < k; ki++) {
          for (let kj = 0; kj < k; kj++) {
            const wv = w[wBase + ki * k + kj]!;
            for (let oy = 0; oy < oh; oy++) {
              const iy = oy * stride + ki - pad;
              if (iy < 0 || iy >= h) continue;
              for (let ox = 0; ox < ow; ox++) {
                const ix = ox * stride + kj - pad;
                if (ix < 0 || ix >= wd) continue;
                const t = wv * dy[dyPlane + oy * ow + ox]!;
                dxAcc[xPlane + iy * wd + ix]! += t;
                if (dxAbs) dxAbs[xPlane + iy * wd + ix]! += Math.abs(t);
              }
            }
          }
        }
      }
    }
  }
  for (let i = 0; i < dx.length; i++) dx[i] = dxAcc[i]!;
  if (scaleDx && dxAbs) for (let i = 0; i < dx.length; i++) scaleDx[i] = dxAbs[i]!;
}

// ---------------------------------------------------------------- layouts

/** Permutes a dense 4-D array: out has dims (d[perm[0]], …), out[i0,i1,i2,i3] = a[the same indices in a's order]. */
export function permute4(a: Float32Array, d: readonly [number, number, number, number], perm: readonly [number, number, number, number]): Float32Array {
  const out = new Float32Array(a.length);
  const strides = [d[1] * d[2] * d[3], d[2] * d[3], d[3], 1];
  const od = perm.map((p) => d[p]!);
  const s = perm.map((p) => strides[p]!);
  let i = 0;
  for (let a0 = 0; a0 < od[0]!; a0++)
    for (let a1 = 0; a1 < od[1]!; a1++)
      for (let a2 = 0; a2 < od[2]!; a2++) {
        const base = a0 * s[0]! + a1 * s[1]! + a2 * s[2]!;
        for (let a3 = 0; a3 < od[3]!; a3++) out[i++] = a[base + a3 * s[3]!]!;
      }
  return out;
}
const NCHW_TO_NHWC = [0, 2, 3, 1] as const;
const NHWC_TO_NCHW = [0, 3, 1, 2] as const;
/** (cout, cin, kh, kw) → (kh, kw, cin, cout) */
const OIHW_TO_HWIO = [2, 3, 1, 0] as const;
/** (kh, kw, cin, cout) → (cout, cin, kh, kw) */
const HWIO_TO_OIHW = [3, 2, 0, 1] as const;

function maxScaledError(got: Float32Array, want: Float32Array, scale: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i]! - want[i]!) / Math.max(scale[i]!, Number.MIN_VALUE);
    if (Number.isNaN(err)) return NaN;
    if (err > worst) worst = err;
  }
  return worst;
}

// ---------------------------------------------------------------- the suite

interface Case {
  s: ConvShape;
  oh: number;
  ow: number;
  x: Float32Array;
  w: Float32Array;
  dy: Float32Array;
  y: Float32Array;
  scaleY: Float32Array;
  dx: Float32Array;
  scaleDx: Float32Array;
  dw: Float32Array;
  scaleDw: Float32Array;
}

const errText = (e: unknown) => (e instanceof Error ? e.message : String(e)).split("\n")[0]!;

export async function runConv(ctx: Context): Promise<ConvResult> {
  console.log("\n## 4. Convolution kernels\n");
  let seed = 701;
  const cases: Case[] = (ctx.quick ? QUICK_CONV_SHAPES : CONV_SHAPES).map((s) => {
    const { oh, ow } = dims(s);
    const x = uniformF32(s.batch * s.cin * s.h * s.w, (seed += 3));
    const w = uniformF32(s.cout * s.cin * s.k * s.k, seed + 1);
    const dy = uniformF32(s.batch * s.cout * oh * ow, seed + 2);
    const y = new Float32Array(dy.length);
    const scaleY = new Float32Array(dy.length);
    naiveConvForward(y, x, w, s, scaleY);
    const dx = new Float32Array(x.length);
    const scaleDx = new Float32Array(x.length);
    const dw = new Float32Array(w.length);
    const scaleDw = new Float32Array(w.length);
    naiveConvBackward(dx, dw, dy, x, w, s, new Float64Array(x.length), scaleDx, scaleDw, new Float64Array(x.length));
    return { s, oh, ow, x, w, dy, y, scaleY, dx, scaleDx, dw, scaleDw };
  });

  const timings = new Map<string, { timing: Timing; timed: string }>();
  const errors = new Map<string, number>();
  const key = (c: Case, pass: ConvPass, lib: ConvLib) => `${lib} ${pass} ${shapeText(c.s)}`;
  const skipped: Record<string, string> = {};
  const notes: string[] = [];
  const check = (lib: ConvLib) => {
    const lines: string[] = [];
    for (const c of cases) {
      for (const pass of ["forward", "backward"] as ConvPass[]) {
        const err = errors.get(key(c, pass, lib));
        if (err === undefined) continue;
        progress(`  check ${lib} ${pass} ${shapeText(c.s)}: max scaled error ${err.toExponential(2)}\n`);
        if (!(err <= CONV_TOLERANCE)) lines.push(`${pass} ${shapeText(c.s)}: max |out − out_naive| / Σ|terms| = ${err.toExponential(2)}`);
      }
    }
    if (lines.length > 0) abortDisagreement(`${lib} convolution results differ from the naive JS loops beyond ${CONV_TOLERANCE}`, lines.join("\n"));
  };

  // distill-wasm: operands in wasm memory once; checked, then timed.
  const engine = ctx.engine;
  const k = engine.kernels;
  progress("distill-wasm conv2d\n");
  const owned: number[] = [];
  const put = (values: Float32Array) => {
    const ptr = engine.allocOwned(Math.max(values.length, 1) * 4);
    owned.push(ptr);
    engine.f32(ptr, values.length).set(values);
    return ptr;
  };
  try {
    const prepared = cases.map((c) => {
      const { s } = c;
      const xP = put(c.x),
        wP = put(c.w),
        dyP = put(c.dy);
      const yP = put(new Float32Array(c.y.length));
      const dxP = put(new Float32Array(c.x.length));
      const dwP = put(new Float32Array(c.w.length));
      const workP = put(new Float32Array(s.cin * s.k * s.k * c.oh * c.ow));
      const fwd = () => k.conv2d_forward(yP, xP, wP, 0, workP, s.batch, s.cin, s.h, s.w, s.cout, s.k, s.k, s.stride, s.pad, 0);
      const bwd = () => k.conv2d_backward(dxP, dwP, 0, dyP, xP, wP, workP, s.batch, s.cin, s.h, s.w, s.cout, s.k, s.k, s.stride, s.pad);
      fwd();
      errors.set(key(c, "forward", "distill-wasm"), maxScaledError(engine.readF32(yP, c.y.length), c.y, c.scaleY));
      bwd();
      errors.set(
        key(c, "backward", "distill-wasm"),
        Math.max(maxScaledError(engine.readF32(dxP, c.x.length), c.dx, c.scaleDx), maxScaledError(engine.readF32(dwP, c.w.length), c.dw, c.scaleDw)),
      );
      return { c, fwd, bwd };
    });
    check("distill-wasm");
    for (const { c, fwd, bwd } of prepared) {
      timings.set(key(c, "forward", "distill-wasm"), {
        timing: await measure(`distill-wasm conv2d_forward ${shapeText(c.s)}`, fwd, FAST),
        timed: "conv2d_forward on wasm-resident operands",
      });
      timings.set(key(c, "backward", "distill-wasm"), {
        timing: await measure(`distill-wasm conv2d_backward ${shapeText(c.s)}`, bwd, FAST),
        timed: "conv2d_backward (dx, dw; no db) on wasm-resident operands",
      });
    }
  } finally {
    for (const p of owned) engine.free(p);
  }

  // tfjs: NHWC tensors, one backend at a time.
  const tf = ctx.tfjs.tf;
  for (const backend of ["wasm", "cpu"] as TfBackend[]) {
    const lib = TF_LIBS[backend] as ConvLib;
    if (!tf || !ctx.tfjs.available.includes(backend)) {
      skipped[lib] = ctx.tfjs.skipped[backend] ?? "not loaded";
      continue;
    }
    progress(`${lib} conv2d\n`);
    await useBackend(tf, backend);
    const hasFilterKernel = tf.getKernel("Conv2DBackpropFilter", backend) !== undefined;
    if (!hasFilterKernel) {
      // Record what tf.grads does here, for the notes.
      const c = cases[0]!;
      const x = tf.tensor4d(permute4(c.x, [c.s.batch, c.s.cin, c.s.h, c.s.w], NCHW_TO_NHWC), [c.s.batch, c.s.h, c.s.w, c.s.cin]);
      const f = tf.tensor4d(permute4(c.w, [c.s.cout, c.s.cin, c.s.k, c.s.k], OIHW_TO_HWIO), [c.s.k, c.s.k, c.s.cin, c.s.cout]);
      let outcome = "succeeded";
      try {
        tf.tidy(() => {
          const g = tf.grads((a: TF.Tensor, b: TF.Tensor) => tf.conv2d(a as TF.Tensor4D, b as TF.Tensor4D, c.s.stride, c.s.pad))([x, f]);
          for (const t of g) t.dataSync();
        });
      } catch (e) {
        outcome = `throws "${errText(e)}"`;
      }
      x.dispose();
      f.dispose();
      notes.push(
        `${lib}: no Conv2DBackpropFilter kernel is registered for the ${backend} backend; tf.grads of tf.conv2d ${outcome}. ` +
          `Its dw is timed as transpose(conv2d(transpose(x), transpose(dy))) on the ${backend} backend (stride 1).`,
      );
    }
    const prepared = cases.map((c) => {
      const { s } = c;
      const xShape: [number, number, number, number] = [s.batch, s.h, s.w, s.cin];
      const yShape: [number, number, number, number] = [s.batch, c.oh, c.ow, s.cout];
      const fShape: [number, number, number, number] = [s.k, s.k, s.cin, s.cout];
      const x = tf.tensor4d(permute4(c.x, [s.batch, s.cin, s.h, s.w], NCHW_TO_NHWC), xShape);
      const f = tf.tensor4d(permute4(c.w, [s.cout, s.cin, s.k, s.k], OIHW_TO_HWIO), fShape);
      const dy = tf.tensor4d(permute4(c.dy, [s.batch, s.cout, c.oh, c.ow], NCHW_TO_NHWC), yShape);
      const forward = () => tf.conv2d(x, f, s.stride, s.pad);
      const backward = (): [TF.Tensor, TF.Tensor] => {
        const dx = tf.conv2dTranspose(dy, f, xShape, s.stride, s.pad);
        const dw = hasFilterKernel
          ? (tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
              strides: [s.stride, s.stride],
              pad: s.pad,
              dataFormat: "NHWC",
              dimRoundingMode: undefined,
              filterShape: fShape,
            } as unknown as TF.NamedAttrMap) as TF.Tensor)
          : tf.tidy(() =>
              tf.transpose(tf.conv2d(tf.transpose(x, [3, 1, 2, 0]) as TF.Tensor4D, tf.transpose(dy, [1, 2, 0, 3]) as TF.Tensor4D, 1, s.pad), [1, 2, 0, 3]),
            );
        return [dx, dw];
      };
      const runF = () => {
        const out = forward();
        out.dataSync();
        out.dispose();
      };
      const runB = () => {
        const outs = backward();
        for (const t of outs) t.dataSync();
        for (const t of outs) t.dispose();
      };
      {
        const out = forward();
        if (out.shape.join() !== yShape.join()) abortDisagreement(`${lib} conv2d output shape`, `got ${out.shape}, want ${yShape}`);
        const y = permute4(out.dataSync() as Float32Array, yShape, NHWC_TO_NCHW);
        out.dispose();
        errors.set(key(c, "forward", lib), maxScaledError(y, c.y, c.scaleY));
        const [dxT, dwT] = backward();
        if (dwT.shape.join() !== fShape.join()) abortDisagreement(`${lib} dw shape`, `got ${dwT.shape}, want ${fShape}`);
        const dx = permute4(dxT.dataSync() as Float32Array, xShape, NHWC_TO_NCHW);
        const dw = permute4(dwT.dataSync() as Float32Array, fShape, HWIO_TO_OIHW);
        dxT.dispose();
        dwT.dispose();
        errors.set(key(c, "backward", lib), Math.max(maxScaledError(dx, c.dx, c.scaleDx), maxScaledError(dw, c.dw, c.scaleDw)));
      }
      return { c, runF, runB, tensors: [x, f, dy] as TF.Tensor[] };
    });
    check(lib);
    const tensorsBefore = tf.memory().numTensors;
    const fwdTimed = "tf.conv2d (NHWC) + dataSync() + dispose()";
    const bwdTimed = hasFilterKernel
      ? "tf.conv2dTranspose (Conv2DBackpropInput) + runKernel Conv2DBackpropFilter + dataSync() of both + dispose()"
      : "tf.conv2dTranspose (Conv2DBackpropInput) + dw as transpose(conv2d(transpose(x), transpose(dy))) + dataSync() of both + dispose()";
    for (const { c, runF, runB } of prepared) {
      let first = await once(runF);
      timings.set(key(c, "forward", lib), { timing: await measure(`${lib} conv2d ${shapeText(c.s)}`, runF, budgetFor(first)), timed: fwdTimed });
      first = await once(runB);
      timings.set(key(c, "backward", lib), { timing: await measure(`${lib} conv2d backward ${shapeText(c.s)}`, runB, budgetFor(first)), timed: bwdTimed });
    }
    if (tf.memory().numTensors !== tensorsBefore) throw new Error(`${lib}: tensors leaked during the convolution timing`);
    for (const p of prepared) for (const t of p.tensors) t.dispose();
  }

  // naive JS: the reference loops themselves (without the Σ|terms| bookkeeping).
  progress("naive JS conv2d\n");
  const naive = cases.map((c) => {
    const y = new Float32Array(c.y.length);
    const dx = new Float32Array(c.x.length);
    const dw = new Float32Array(c.w.length);
    const acc = new Float64Array(c.x.length);
    const runF = () => naiveConvForward(y, c.x, c.w, c.s);
    const runB = () => naiveConvBackward(dx, dw, c.dy, c.x, c.w, c.s, acc);
    runF();
    runB();
    errors.set(key(c, "forward", "naive JS"), maxScaledError(y, c.y, c.scaleY));
    errors.set(key(c, "backward", "naive JS"), Math.max(maxScaledError(dx, c.dx, c.scaleDx), maxScaledError(dw, c.dw, c.scaleDw)));
    return { c, runF, runB };
  });
  check("naive JS");
  for (const { c, runF, runB } of naive) {
    let first = await once(runF);
    timings.set(key(c, "forward", "naive JS"), {
      timing: await measure(`naive JS conv2d ${shapeText(c.s)}`, runF, budgetFor(first)),
      timed: "loop nest, float64 sums",
    });
    first = await once(runB);
    timings.set(key(c, "backward", "naive JS"), {
      timing: await measure(`naive JS conv2d backward ${shapeText(c.s)}`, runB, budgetFor(first)),
      timed: "loop nests, float64 sums",
    });
  }

  const rows: ConvRow[] = [];
  for (const c of cases) {
    for (const pass of ["forward", "backward"] as ConvPass[]) {
      const base = timings.get(key(c, pass, "distill-wasm"))!.timing;
      for (const library of LIBS) {
        const t = timings.get(key(c, pass, library));
        if (!t) continue;
        const flops = convFlops(c.s, pass);
        rows.push({
          ...c.s,
          pass,
          library,
          timed: t.timed,
          timing: t.timing,
          flops,
          gflops: flops / (t.timing.medianMs * 1e6),
          distillSpeedup: t.timing.medianMs / base.medianMs,
          maxScaledError: errors.get(key(c, pass, library))!,
        });
      }
    }
  }

  printConvTable(ctx, cases, rows, skipped, notes);
  return { layout: "distill-wasm and naive JS NCHW / (cout, cin, kh, kw); tfjs NHWC / (kh, kw, cin, cout)", rows, tolerance: CONV_TOLERANCE, skipped, notes };
}

function printConvTable(ctx: Context, cases: readonly Case[], rows: readonly ConvRow[], skipped: Record<string, string>, notes: readonly string[]): void {
  type Line = { c: Case; pass: ConvPass };
  const lines: Line[] = [];
  for (const pass of ["forward", "backward"] as ConvPass[]) for (const c of cases) lines.push({ c, pass });
  const find = (l: Line, lib: ConvLib) => rows.find((r) => r.pass === l.pass && shapeText(r) === shapeText(l.c.s) && r.library === lib);
  const columns: Column<Line>[] = [
    { header: "pass", cell: (l) => l.pass, align: "left" },
    { header: "batch×cin×h×w → cout, kernel", cell: (l) => shapeText(l.c.s), align: "left" },
    { header: "MFLOP", cell: (l) => fmtNum(convFlops(l.c.s, l.pass) / 1e6) },
  ];
  for (const lib of LIBS) {
    columns.push({ header: lib, cell: (l) => msCell(find(l, lib)?.timing) });
    columns.push({ header: "GFLOP/s", cell: (l) => fmtNum(find(l, lib)?.gflops) });
    if (lib !== "distill-wasm") columns.push({ header: "÷", cell: (l) => ratioCell(find(l, lib)?.distillSpeedup) });
  }
  console.log(renderTable(columns, lines));
  console.log();
  console.log(`Times are medians in ms ±IQR/median, batch ${cases[0]!.s.batch}, stride 1, single thread. GFLOP/s: forward 2·batch·cout·oh·ow·cin·kh·kw,`);
  console.log("backward (dx and dw) twice that, over the median. ÷ = that library's median / distill-wasm's median.");
  console.log("distill-wasm: conv2d_forward / conv2d_backward (NCHW, im2col + GEMM) on wasm-resident operands. tfjs: NHWC tensors;");
  console.log("forward tf.conv2d, backward tf.conv2dTranspose (dx) + Conv2DBackpropFilter (dw), + dataSync() + dispose().");
  for (const n of notes) console.log(n);
  const worst = Math.max(...rows.map((r) => r.maxScaledError));
  console.log(`All outputs agree with the naive JS loops to ${CONV_TOLERANCE.toExponential(0)} of Σ|terms| (worst: ${worst.toExponential(2)}).`);
  for (const [lib, reason] of Object.entries(skipped)) console.log(`SKIPPED ${lib}: ${reason}`);

  for (const pass of ["forward", "backward"] as ConvPass[]) {
    const parts = cases.map((c) => {
      const d = find({ c, pass }, "distill-wasm")!;
      const tw = find({ c, pass }, "tfjs-wasm");
      const tc = find({ c, pass }, "tfjs-cpu");
      return (
        `${c.s.cin}→${c.s.cout} @${c.s.h}×${c.s.w} ${fmtNum(d.gflops)} GFLOP/s` +
        (tw ? `, vs tfjs-wasm ${speedPhrase(tw.distillSpeedup).replace("distill-wasm ", "")}` : "") +
        (tc ? `, vs tfjs-cpu ${speedPhrase(tc.distillSpeedup).replace("distill-wasm ", "")}` : "")
      );
    });
    ctx.summary.push(`conv2d ${pass}, batch ${cases[0]!.s.batch}, 3×3 pad 1, distill-wasm: ${parts.join("; ")}`);
  }
}
