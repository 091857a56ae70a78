/**
 * Symmetric int8 quantization of float values, in JavaScript (float64 arithmetic is the
 * same on every engine): per output channel for weights, per tensor for activation scales;
 * and rounding to half precision for fp16 weights.
 */
import { f32ToF16Bits, roundToF16 } from "../io/float16.js";

/** Round half to even (Math.round rounds half up). */
export function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** The f32 scale that maps max |v| to 127; 1 when every value is 0 (any scale gives zeros). */
export function symmetricScale(maxAbs: number): number {
  const s = Math.fround(maxAbs / 127);
  return s > 0 && Number.isFinite(s) ? s : 1;
}

/**
 * w (out, in) f32 → int8 (out, in) and per-row scales (out): q = clamp(round_half_even(w / s_j), ±127),
 * the same rounding as the quantize_i8 kernel (the f32 quotient, computed exactly in float64 and rounded once).
 */
export function quantizeRows(w: Float32Array, outputs: number, inputs: number): { weight: Int8Array; scale: Float32Array } {
  const weight = new Int8Array(outputs * inputs);
  const scale = new Float32Array(outputs);
  for (let j = 0; j < outputs; j++) {
    let maxAbs = 0;
    for (let p = 0; p < inputs; p++) maxAbs = Math.max(maxAbs, Math.abs(w[j * inputs + p]!));
    const s = symmetricScale(maxAbs);
    scale[j] = s;
    for (let p = 0; p < inputs; p++) {
      weight[j * inputs + p] = Math.min(127, Math.max(-127, roundHalfEven(Math.fround(w[j * inputs + p]! / s))));
    }
  }
  return { weight, scale };
}

/**
 * w rounded to the nearest half-precision values (ties to even), as f32; `undefined` when a
 * value is beyond the half range (±65504), where it would become infinite.
 */
export function roundToHalf(w: Float32Array): Float32Array | undefined {
  const out = roundToF16(w);
  return out.every(Number.isFinite) ? out : undefined;
}

/** Half-precision bits of values that are exact halves (roundToHalf's output). */
export function halfBits(w: Float32Array): Uint16Array {
  return Uint16Array.from(w, (v) => f32ToF16Bits(v));
}

/** The float weights an int8 layer stands for: weight[j][p] · scale[j], rounded to f32 once. */
export function dequantizeRows(weight: Int8Array, scale: Float32Array, inputs: number): Float32Array {
  const w = new Float32Array(weight.length);
  for (let i = 0; i < weight.length; i++) w[i] = weight[i]! * scale[Math.floor(i / inputs)]!;
  return w;
}
