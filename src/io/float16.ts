/**
 * float32 → IEEE 754 half precision, rounding to nearest with ties to even (as numpy's
 * astype(float16) and TensorFlow.js's float16 quantizer do): the weights of a float16
 * TensorFlow.js export (src/export/) and of an fp16 model file (src/quantize/). Values beyond the half range (±65504) become ±Infinity; NaN stays NaN.
 */
const f32 = new Float32Array(1);
const bits = new Uint32Array(f32.buffer);

/** The half-precision bits of Math.fround(value). */
export function f32ToF16Bits(value: number): number {
  f32[0] = value;
  const x = bits[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  const mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 | (mantissa >>> 13) : 0); // Inf, NaN (quiet)
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → Inf
  if (e <= 0) {
    // subnormal half (or zero): the implicit bit joins the mantissa, shifted right by 1 − e more
    if (e < -10) return sign;
    const m = mantissa | 0x800000;
    const shift = 14 - e;
    const half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const midway = 1 << (shift - 1);
    return sign | (half + (rest > midway || (rest === midway && half & 1) ? 1 : 0));
  }
  const half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // a carry out of the mantissa moves into the exponent, which is right (up to Inf)
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && half & 1) ? 1 : 0));
}

/** Half-precision bits → the float value (exact). */
export function f16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >>> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** The values rounded to half precision and back: what a float16 export's reader computes with. */
export function roundToF16(values: ArrayLike<number>): Float32Array {
  return Float32Array.from(values, (v) => f16BitsToNumber(f32ToF16Bits(v)));
}
