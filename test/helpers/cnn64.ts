/**
 * A float64 reference for Sequential models with conv2d, pooling, batchNorm and flatten
 * layers, written from the textbook formulas (PyTorch's definitions), not from the kernels:
 *
 *   conv2d     y[b,o,oy,ox] = bias[o] + Σ_{ci,ki,kj} w[o,ci,ki,kj]·x̃[b,ci,oy·s+ki−p,ox·s+kj−p]
 *   maxPool2d  max over the window (padding −∞); avgPool2d: sum over the window / k² (count_include_pad)
 *   conv1d, maxPool1d, avgPool1d   the same with one spatial axis, on (channels, length)
 *   batchNorm  training: (x − mean)/√(var_biased + eps)·γ + β over (batch, spatial) per channel,
 *              running ← (1 − m)·running + m·stat (variance unbiased); eval: with the running stats
 *   dense, relu, flatten (identity on NCHW rows), dropout (identity: inference only)
 *
 * Parameters are passed as a map name → Float64Array, so that finite differences can
 * perturb any of them.
 */
import type { LayerSpec } from "../../src/index.js";

export type Params64 = Map<string, Float64Array>;

/** Reads every parameter and buffer of a model in float64. */
export function params64(model: {
  namedParameters(): { name: string }[];
  namedBuffers(): { name: string }[];
  getParameter(name: string): Float32Array;
}): Params64 {
  const out: Params64 = new Map();
  for (const p of [...model.namedParameters(), ...model.namedBuffers()]) out.set(p.name, Float64Array.from(model.getParameter(p.name)));
  return out;
}

export interface Cnn64Result {
  output: Float64Array;
  /** Running statistics after a training pass (name → new values), as PyTorch updates them. */
  running: Params64;
}

/** Runs the layers on x (rows × flat input), NCHW, with [c, h, w], [c, length] or [features] input shape. */
export function cnnForward64(
  specs: readonly LayerSpec[],
  params: Params64,
  x: ArrayLike<number>,
  rows: number,
  inputShape: readonly number[],
  training: boolean,
): Cnn64Result {
  let h = Float64Array.from(x);
  let shape = [...inputShape];
  const running: Params64 = new Map();
  specs.forEach((spec, i) => {
    const P = (n: string) => params.get(`${i}.${n}`)!;
    if (spec.type === "dense") {
      const w = P("weight"),
        b = P("bias");
      const y = new Float64Array(rows * spec.outputs);
      for (let r = 0; r < rows; r++) {
        for (let j = 0; j < spec.outputs; j++) {
          let acc = b[j]!;
          for (let p = 0; p < spec.inputs; p++) acc += w[j * spec.inputs + p]! * h[r * spec.inputs + p]!;
          y[r * spec.outputs + j] = acc;
        }
      }
      h = y;
      shape = [spec.outputs];
    } else if (spec.type === "activation") {
      if (spec.name !== "relu") throw new Error("cnn64: only relu");
      h = h.map((v) => Math.max(v, 0));
    } else if (spec.type === "dropout" || spec.type === "flatten") {
      if (spec.type === "flatten") shape = [shape.reduce((a, b) => a * b, 1)];
    } else if (spec.type === "conv2d") {
      const [c, ih, iw] = shape as [number, number, number];
      const [kh, kw] = typeof spec.kernel === "number" ? [spec.kernel, spec.kernel] : spec.kernel;
      const s = spec.stride ?? 1,
        pad = spec.padding ?? 0;
      const oh = Math.floor((ih + 2 * pad - kh) / s) + 1,
        ow = Math.floor((iw + 2 * pad - kw) / s) + 1;
      const co = spec.outChannels;
      const w = P("weight"),
        b = P("bias");
      const y = new Float64Array(rows * co * oh * ow);
      for (let r = 0; r < rows; r++) {
        for (let o = 0; o < co; o++) {
          for (let oy = 0; oy < oh; oy++) {
            for (let ox = 0; ox < ow; ox++) {
              let acc = b[o]!;
              for (let ci = 0; ci < c; ci++) {
                for (let ki = 0; ki < kh; ki++) {
                  const iy = oy * s + ki - pad;
                  if (iy < 0 || iy >= ih) continue;
                  for (let kj = 0; kj < kw; kj++) {
                    const ix = ox * s + kj - pad;
                    if (ix < 0 || ix >= iw) continue;
                    acc += w[((o * c + ci) * kh + ki) * kw + kj]! * h[((r * c + ci) * ih + iy) * iw + ix]!;
                  }
                }
              }
              y[((r * co + o) * oh + oy) * ow + ox] = acc;
            }
          }
        }
      }
      h = y;
      shape = [co, oh, ow];
    } else if (spec.type === "conv1d") {
      const [c, len] = shape as [number, number];
      const k = spec.kernel,
        s = spec.stride ?? 1,
        pad = spec.padding ?? 0;
      const ol = Math.floor((len + 2 * pad - k) / s) + 1;
      const co = spec.outChannels;
      const w = P("weight"),
        b = P("bias");
      const y = new Float64Array(rows * co * ol);
      for (let r = 0; r < rows; r++) {
        for (let o = 0; o < co; o++) {
          for (let ox = 0; ox < ol; ox++) {
            let acc = b[o]!;
            for (let ci = 0; ci < c; ci++) {
              for (let kj = 0; kj < k; kj++) {
                const ix = ox * s + kj - pad;
                if (ix >= 0 && ix < len) acc += w[(o * c + ci) * k + kj]! * h[(r * c + ci) * len + ix]!;
              }
            }
            y[(r * co + o) * ol + ox] = acc;
          }
        }
      }
      h = y;
      shape = [co, ol];
    } else if (spec.type === "maxPool1d" || spec.type === "avgPool1d") {
      const [c, len] = shape as [number, number];
      const k = spec.kernel,
        s = spec.stride ?? k,
        pad = spec.padding ?? 0;
      const ol = Math.floor((len + 2 * pad - k) / s) + 1;
      const y = new Float64Array(rows * c * ol);
      for (let row = 0; row < rows * c; row++) {
        for (let ox = 0; ox < ol; ox++) {
          let acc = spec.type === "maxPool1d" ? -Infinity : 0;
          for (let kx = 0; kx < k; kx++) {
            const ix = ox * s + kx - pad;
            if (ix < 0 || ix >= len) continue;
            const v = h[row * len + ix]!;
            acc = spec.type === "maxPool1d" ? Math.max(acc, v) : acc + v;
          }
          y[row * ol + ox] = spec.type === "maxPool1d" ? acc : acc / k;
        }
      }
      h = y;
      shape = [c, ol];
    } else if (spec.type === "maxPool2d" || spec.type === "avgPool2d") {
      const [c, ih, iw] = shape as [number, number, number];
      const k = spec.kernel,
        s = spec.stride ?? k,
        pad = spec.padding ?? 0;
      const oh = Math.floor((ih + 2 * pad - k) / s) + 1,
        ow = Math.floor((iw + 2 * pad - k) / s) + 1;
      const y = new Float64Array(rows * c * oh * ow);
      for (let plane = 0; plane < rows * c; plane++) {
        for (let oy = 0; oy < oh; oy++) {
          for (let ox = 0; ox < ow; ox++) {
            let acc = spec.type === "maxPool2d" ? -Infinity : 0;
            for (let ky = 0; ky < k; ky++) {
              for (let kx = 0; kx < k; kx++) {
                const iy = oy * s + ky - pad,
                  ix = ox * s + kx - pad;
                if (iy < 0 || iy >= ih || ix < 0 || ix >= iw) continue;
                const v = h[(plane * ih + iy) * iw + ix]!;
                acc = spec.type === "maxPool2d" ? Math.max(acc, v) : acc + v;
              }
            }
            y[(plane * oh + oy) * ow + ox] = spec.type === "maxPool2d" ? acc : acc / (k * k);
          }
        }
      }
      h = y;
      shape = [c, oh, ow];
    } else if (spec.type === "batchNorm") {
      const c = spec.channels;
      const spatial = shape.reduce((a, b) => a * b, 1) / c;
      const n = rows * spatial;
      const gamma = P("weight"),
        beta = P("bias"),
        rm = P("running_mean"),
        rv = P("running_var");
      const eps = spec.eps ?? 1e-5,
        m = spec.momentum ?? 0.1;
      const y = new Float64Array(h.length);
      const newMean = new Float64Array(c),
        newVar = new Float64Array(c);
      for (let ch = 0; ch < c; ch++) {
        const idx = (r: number, q: number) => (r * c + ch) * spatial + q;
        let mean: number, variance: number;
        if (training) {
          let sum = 0;
          for (let r = 0; r < rows; r++) for (let q = 0; q < spatial; q++) sum += h[idx(r, q)]!;
          mean = sum / n;
          let sq = 0;
          for (let r = 0; r < rows; r++) for (let q = 0; q < spatial; q++) sq += (h[idx(r, q)]! - mean) ** 2;
          variance = sq / n;
          newMean[ch] = (1 - m) * rm[ch]! + m * mean;
          newVar[ch] = (1 - m) * rv[ch]! + m * (sq / (n - 1));
        } else {
          mean = rm[ch]!;
          variance = rv[ch]!;
        }
        const inv = 1 / Math.sqrt(variance + eps);
        for (let r = 0; r < rows; r++) for (let q = 0; q < spatial; q++) y[idx(r, q)] = (h[idx(r, q)]! - mean) * inv * gamma[ch]! + beta[ch]!;
      }
      if (training) {
        running.set(`${i}.running_mean`, newMean);
        running.set(`${i}.running_var`, newVar);
      }
      h = y;
    }
  });
  return { output: h, running };
}
