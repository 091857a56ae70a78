// 2×2 max pooling of stride 2 on a convolution's int32 sums, before they are dequantized
// (int8 inference):
//
//   maxpool2x2_i32(y, x, planes, h, w)
//   x is (planes, h, w) int32, y is (planes, ⌊h/2⌋, ⌊w/2⌋) int32: each output the largest of
//   its 2×2 window, as maxpool2d_forward's windows with kernel 2, stride 2 and no padding (a
//   last odd row or column is left out, as PyTorch's floor mode does).
//
// Why: dequantization acc ↦ f32(acc)·s + b (then max(·, 0)) is monotonic non-decreasing when
// s ≥ +0, so the largest sum dequantizes to the largest value, and pooling first dequantizes
// a quarter of the values and compares integers. src/quantize/runner.ts takes this path only
// where it gives maxpool2d_forward's bits (poolsBeforeDequantizing has the argument). Equal
// integers are the same bits: no ties to break, no argmax to keep, so the fast kernel (four
// outputs at a time: the two rows' i32x4.max_s over 8 columns, then the column pairs' through
// two shuffles; the last ⌊w/2⌋ mod 4 one at a time) gives maxpool2x2_i32_ref's integers.
// Only this window: the CNNs' usual pool, in a small module for distill-wasm/infer; other
// pools run in float. No alignment needed.

/** The largest of the 2×2 window whose top-left corner is at r0 (row above r1). */
// @ts-ignore: decorator
@inline function max2x2(r0: usize, r1: usize): i32 {
  return max(max(load<i32>(r0), load<i32>(r0, 4)), max(load<i32>(r1), load<i32>(r1, 4)));
}

/** y (planes, ⌊h/2⌋, ⌊w/2⌋) int32 ← the max of each 2×2 window of x (planes, h, w) int32; overwrites y. */
export function maxpool2x2_i32(y: usize, x: usize, planes: i32, h: i32, w: i32): void {
  assert(planes > 0 && h >= 2 && w >= 2);
  const oh = h >> 1;
  const ow = w >> 1;
  const ow4 = ow & ~3;
  const rowBytes = <usize>w << 2;
  let out = y;
  for (let pl = 0; pl < planes; pl++) {
    let r0 = x + <usize>pl * <usize>h * rowBytes;
    for (let oy = 0; oy < oh; oy++) {
      const r1 = r0 + rowBytes;
      let ox = 0;
      for (; ox < ow4; ox += 4) {
        const o = <usize>ox << 3; // input column 2·ox, in bytes
        const lo = i32x4.max_s(v128.load(r0 + o), v128.load(r1 + o)); // columns 0..3 of the four windows
        const hi = i32x4.max_s(v128.load(r0 + o, 16), v128.load(r1 + o, 16)); // columns 4..7
        v128.store(out, i32x4.max_s(i32x4.shuffle(lo, hi, 0, 2, 4, 6), i32x4.shuffle(lo, hi, 1, 3, 5, 7)));
        out += 16;
      }
      for (; ox < ow; ox++) {
        const o = <usize>ox << 3;
        store<i32>(out, max2x2(r0 + o, r1 + o));
        out += 4;
      }
      r0 += rowBytes << 1;
    }
  }
}

export function maxpool2x2_i32_ref(y: usize, x: usize, planes: i32, h: i32, w: i32): void {
  assert(planes > 0 && h >= 2 && w >= 2);
  const oh = h >> 1;
  const ow = w >> 1;
  for (let pl = 0; pl < planes; pl++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const r0 = x + ((<usize>pl * <usize>h * <usize>w + <usize>(2 * oy) * <usize>w + <usize>(2 * ox)) << 2);
        store<i32>(y + ((<usize>pl * <usize>oh * <usize>ow + <usize>oy * <usize>ow + <usize>ox) << 2), max2x2(r0, r0 + (<usize>w << 2)));
      }
    }
  }
}
