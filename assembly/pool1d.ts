// 1-D max and average pooling over (batch, channels, length) signals, as PyTorch's
// F.max_pool1d / F.avg_pool1d (dilation 1, ceil_mode False, count_include_pad True):
//
//   x is (batch, c, len)            input
//   y is (batch, c, olen)           olen = ⌊(len + 2·pad − k) / stride⌋ + 1
//   argmax is (batch, c, olen) i32  for each output, the index ix of the chosen input within
//                                   its row (PyTorch's return_indices)
//
// with k ≥ 1, stride ≥ 1, 0 ≤ pad ≤ k / 2 (PyTorch's limit: every window then holds at
// least one input) and len + 2·pad ≥ k. Pointers need only 4-byte alignment.
//
// pool.ts's square windows cannot serve here (a k×k window does not fit a row of height 1),
// so these are its kernels with one axis: each window is scanned in order kx = 0 … k−1; the
// fast kernels compute four neighbouring outputs at once (one f32x4 lane each, the window's
// values gathered with the stride) wherever the four windows lie inside the signal, and the
// border outputs one at a time over the clipped window; each lane performs the scalar
// reference's comparisons or additions in the reference's order, so the two agree bit for bit.
// The rows of all signals and channels are independent: batch·c rows of len values.

// @ts-ignore: decorator
@inline function outLength(n: i32, k: i32, stride: i32, pad: i32): i32 {
  return (n + 2 * pad - k) / stride + 1;
}

// @ts-ignore: decorator
@inline function checkPool(batch: i32, c: i32, len: i32, k: i32, stride: i32, pad: i32): void {
  assert(batch > 0 && c > 0 && len > 0 && k > 0, "pool1d: dimensions must be positive");
  assert(stride >= 1 && pad >= 0 && 2 * pad <= k, "pool1d: need stride ≥ 1 and 0 ≤ pad ≤ k / 2");
  assert(len + 2 * pad >= k, "pool1d: window longer than the padded signal");
}

// @ts-ignore: decorator
@inline function checkPointers(a: usize, b: usize, c: usize): void {
  assert(a != 0 && b != 0 && c != 0, "pool1d: null pointer");
  assert(((a | b | c) & 3) == 0, "pool1d: pointers must be 4-byte aligned");
}

/** First output whose window starts inside the signal: o·stride − pad ≥ 0. */
// @ts-ignore: decorator
@inline function interiorLo(stride: i32, pad: i32, outLen: i32): i32 {
  return min((pad + stride - 1) / stride, outLen);
}

/** One past the last output whose window ends inside the signal: o·stride − pad + k ≤ n. */
// @ts-ignore: decorator
@inline function interiorHi(n: i32, k: i32, stride: i32, pad: i32, outLen: i32, lo: i32): i32 {
  const last = n + pad - k;
  return max(last < 0 ? 0 : min(outLen, last / stride + 1), lo);
}

/** Four floats p[0], p[s], p[2s], p[3s] (s in elements), reading nothing past p[3s]. */
// @ts-ignore: decorator
@inline function load4(p: usize, stride: i32): v128 {
  if (stride == 1) return v128.load(p);
  if (stride == 2) return v128.shuffle<f32>(v128.load(p), v128.load(p, 12), 0, 2, 5, 7);
  const step = <usize>stride << 2;
  let v = f32x4.splat(load<f32>(p));
  v = f32x4.replace_lane(v, 1, load<f32>(p + step));
  v = f32x4.replace_lane(v, 2, load<f32>(p + 2 * step));
  v = f32x4.replace_lane(v, 3, load<f32>(p + 3 * step));
  return v;
}

// ================================================================ max pooling

/**
 * Max over one window clipped to the signal, scanned kx = 0 … k−1: the first maximum wins
 * and a NaN, once met, is kept (NaN propagates, as in PyTorch). Writes the value and its index.
 */
// @ts-ignore: decorator
@inline function maxWindow(y: usize, am: usize, row: usize, len: i32, ix0: i32, k: i32): void {
  const kxLo = max(0, -ix0), kxHi = min(k, len - ix0);
  let bestIndex = ix0 + kxLo;
  let best = load<f32>(row + (<usize>bestIndex << 2));
  for (let kx = kxLo; kx < kxHi; kx++) {
    const v = load<f32>(row + (<usize>(ix0 + kx) << 2));
    if (v > best || (v != v && best == best)) {
      best = v;
      bestIndex = ix0 + kx;
    }
  }
  store<f32>(y, best);
  store<i32>(am, bestIndex);
}

/**
 * y = max over each window of k (padding never wins: it is −∞), overwriting y and argmax.
 *   y is (batch, c, olen); argmax is (batch, c, olen) i32, the index ix of the maximum in its
 *   row; x is (batch, c, len). Ties: the first maximum wins. NaN: the first NaN is the maximum.
 */
export function maxpool1d_forward(y: usize, argmax: usize, x: usize, batch: i32, c: i32, len: i32, k: i32, stride: i32, pad: i32): void {
  checkPool(batch, c, len, k, stride, pad);
  checkPointers(y, argmax, x);
  const olen = outLength(len, k, stride, pad);
  const lo = interiorLo(stride, pad, olen), hi = interiorHi(len, k, stride, pad, olen, lo);
  const laneStep = i32x4(0, stride, 2 * stride, 3 * stride);
  const rows = batch * c;
  for (let r = 0; r < rows; r++) {
    const row = x + ((<usize>r * <usize>len) << 2);
    const yp = y + ((<usize>r * <usize>olen) << 2);
    const ap = argmax + ((<usize>r * <usize>olen) << 2);
    let ox = 0;
    for (; ox < lo; ox++) maxWindow(yp + (<usize>ox << 2), ap + (<usize>ox << 2), row, len, ox * stride - pad, k);
    for (; ox + 4 <= hi; ox += 4) {
      const ix0 = ox * stride - pad;
      let best = load4(row + (<usize>ix0 << 2), stride);
      let bestIndex = i32x4.add(i32x4.splat(ix0), laneStep);
      for (let kx = 1; kx < k; kx++) {
        const v = load4(row + (<usize>(ix0 + kx) << 2), stride);
        const take = v128.or(f32x4.gt(v, best), v128.and(f32x4.ne(v, v), f32x4.eq(best, best)));
        best = v128.bitselect(v, best, take);
        bestIndex = v128.bitselect(i32x4.add(i32x4.splat(ix0 + kx), laneStep), bestIndex, take);
      }
      v128.store(yp + (<usize>ox << 2), best);
      v128.store(ap + (<usize>ox << 2), bestIndex);
    }
    for (; ox < olen; ox++) maxWindow(yp + (<usize>ox << 2), ap + (<usize>ox << 2), row, len, ox * stride - pad, k);
  }
}

/** maxpool1d_forward over the full window with a bounds test per element; same bits. */
export function maxpool1d_forward_ref(y: usize, argmax: usize, x: usize, batch: i32, c: i32, len: i32, k: i32, stride: i32, pad: i32): void {
  checkPool(batch, c, len, k, stride, pad);
  checkPointers(y, argmax, x);
  const olen = outLength(len, k, stride, pad);
  for (let r = 0; r < batch * c; r++) {
    const row = x + ((<usize>r * <usize>len) << 2);
    for (let ox = 0; ox < olen; ox++) {
      let found = false;
      let best: f32 = 0;
      let bestIndex = 0;
      for (let kx = 0; kx < k; kx++) {
        const ix = ox * stride - pad + kx;
        if (ix < 0 || ix >= len) continue;
        const v = load<f32>(row + (<usize>ix << 2));
        if (!found || v > best || (v != v && best == best)) {
          best = v;
          bestIndex = ix;
          found = true;
        }
      }
      const o = (<usize>r * <usize>olen + <usize>ox) << 2;
      store<f32>(y + o, best);
      store<i32>(argmax + o, bestIndex);
    }
  }
}

/**
 * dx = gradient of max pooling: dx is OVERWRITTEN — zeroed, then each dy is added to the
 * input its window chose, outputs in order (overlapping windows that chose the same input
 * add up in that order). dx is (batch, c, len); dy and argmax are (batch, c, olen).
 */
export function maxpool1d_backward(dx: usize, dy: usize, argmax: usize, batch: i32, c: i32, len: i32, k: i32, stride: i32, pad: i32): void {
  checkPool(batch, c, len, k, stride, pad);
  checkPointers(dx, dy, argmax);
  const olen = outLength(len, k, stride, pad);
  const rows = batch * c;
  memory.fill(dx, 0, (<usize>rows * <usize>len) << 2);
  for (let r = 0; r < rows; r++) {
    const dxr = dx + ((<usize>r * <usize>len) << 2);
    const base = (<usize>r * <usize>olen) << 2;
    for (let o = 0; o < olen; o++) {
      const at = base + (<usize>o << 2);
      const index = load<i32>(argmax + at);
      assert(index >= 0 && index < len, "maxpool1d_backward: argmax out of range");
      const d = dxr + (<usize>index << 2);
      store<f32>(d, load<f32>(d) + load<f32>(dy + at));
    }
  }
}

/** The same gradient gathered: each dx element is 0 plus, in output order, the dy of every output whose argmax names it. */
export function maxpool1d_backward_ref(dx: usize, dy: usize, argmax: usize, batch: i32, c: i32, len: i32, k: i32, stride: i32, pad: i32): void {
  checkPool(batch, c, len, k, stride, pad);
  checkPointers(dx, dy, argmax);
  const olen = outLength(len, k, stride, pad);
  for (let r = 0; r < batch * c; r++) {
    for (let ix = 0; ix < len; ix++) {
      let acc: f32 = 0;
      for (let ox = 0; ox < olen; ox++) {
        const at = (<usize>r * <usize>olen + <usize>ox) << 2;
        if (load<i32>(argmax + at) == ix) acc += load<f32>(dy + at);
      }
      store<f32>(dx + ((<usize>r * <usize>len + <usize>ix) << 2), acc);
    }
  }
}

// ================================================================ average pooling

/** Sum of one window clipped to the signal, in order from 0, divided by k. */
// @ts-ignore: decorator
@inline function avgWindow(row: usize, len: i32, ix0: i32, k: i32, divisor: f32): f32 {
  const kxLo = max(0, -ix0), kxHi = min(k, len - ix0);
  let acc: f32 = 0;
  for (let kx = kxLo; kx < kxHi; kx++) acc += load<f32>(row + (<usize>(ix0 + kx) << 2));
  return acc / divisor;
}

/**
 * y = mean over each window of k, overwriting y, with count_include_pad (PyTorch's
 * default): the sum of the inputs inside the signal, in order from 0, divided (a true f32
 * division) by k. y is (batch, c, olen); x is (batch, c, len). A window as long as the
 * signal (k = len, pad 0) is the global average pool.
 */
export function avgpool1d_forward(y: usize, x: usize, batch: i32, c: i32, len: i32, k: i32, stride: i32, pad: i32): void {
  checkPool(batch, c, len, k, stride, pad);
  checkPointers(y, x, x);
  const olen = outLength(len, k, stride, pad);
  const lo = interiorLo(stride, pad, olen), hi = interiorHi(len, k, stride, pad, olen, lo);
  const divisor = <f32>k;
  const divisorV = f32x4.splat(divisor);
  const rows = batch * c;
  for (let r = 0; r < rows; r++) {
    const row = x + ((<usize>r * <usize>len) << 2);
    const yp = y + ((<usize>r * <usize>olen) << 2);
    let ox = 0;
    for (; ox < lo; ox++) store<f32>(yp + (<usize>ox << 2), avgWindow(row, len, ox * stride - pad, k, divisor));
    for (; ox + 4 <= hi; ox += 4) {
      const start = row + (<usize>(ox * stride - pad) << 2);
      let acc = f32x4.splat(0);
      for (let kx = 0; kx < k; kx++) acc = f32x4.add(acc, load4(start + (<usize>kx << 2), stride));
      v128.store(yp + (<usize>ox << 2), f32x4.div(acc, divisorV));
    }
    for (; ox < olen; ox++) store<f32>(yp + (<usize>ox << 2), avgWindow(row, len, ox * stride - pad, k, divisor));
  }
}

/** avgpool1d_forward over the full window with a bounds test per element; same bits. */
export function avgpool1d_forward_ref(y: usize, x: usize, batch: i32, c: i32, len: i32, k: i32, stride: i32, pad: i32): void {
  checkPool(batch, c, len, k, stride, pad);
  checkPointers(y, x, x);
  const olen = outLength(len, k, stride, pad);
  const divisor = <f32>k;
  for (let r = 0; r < batch * c; r++) {
    const row = x + ((<usize>r * <usize>len) << 2);
    for (let ox = 0; ox < olen; ox++) {
      let acc: f32 = 0;
      for (let kx = 0; kx < k; kx++) {
        const ix = ox * stride - pad + kx;
        if (ix >= 0 && ix < len) acc += load<f32>(row + (<usize>ix << 2));
      }
      store<f32>(y + ((<usize>r * <usize>olen + <usize>ox) << 2), acc / divisor);
    }
  }
}

/**
 * dx = gradient of average pooling (count_include_pad): dx is OVERWRITTEN — zeroed, then
 * for each output in order g = dy / k (f32 division) is added to every input of its window
 * inside the signal, four lanes at a time. dx is (batch, c, len); dy is (batch, c, olen).
 */
export function avgpool1d_backward(dx: usize, dy: usize, batch: i32, c: i32, len: i32, k: i32, stride: i32, pad: i32): void {
  checkPool(batch, c, len, k, stride, pad);
  checkPointers(dx, dy, dy);
  const olen = outLength(len, k, stride, pad);
  const divisor = <f32>k;
  const rows = batch * c;
  memory.fill(dx, 0, (<usize>rows * <usize>len) << 2);
  for (let r = 0; r < rows; r++) {
    const dxr = dx + ((<usize>r * <usize>len) << 2);
    const dyr = dy + ((<usize>r * <usize>olen) << 2);
    for (let ox = 0; ox < olen; ox++) {
      const ix0 = ox * stride - pad;
      const kxLo = max(0, -ix0), kxHi = min(k, len - ix0);
      const g = load<f32>(dyr + (<usize>ox << 2)) / divisor;
      const gv = f32x4.splat(g);
      const count = kxHi - kxLo;
      const start = dxr + (<usize>(ix0 + kxLo) << 2);
      let i = 0;
      for (; i + 4 <= count; i += 4) {
        const p = start + (<usize>i << 2);
        v128.store(p, f32x4.add(v128.load(p), gv));
      }
      for (; i < count; i++) {
        const p = start + (<usize>i << 2);
        store<f32>(p, load<f32>(p) + g);
      }
    }
  }
}

/** The same gradient gathered: each dx element is 0 plus, in output order, dy / k of every output whose window covers it. */
export function avgpool1d_backward_ref(dx: usize, dy: usize, batch: i32, c: i32, len: i32, k: i32, stride: i32, pad: i32): void {
  checkPool(batch, c, len, k, stride, pad);
  checkPointers(dx, dy, dy);
  const olen = outLength(len, k, stride, pad);
  const divisor = <f32>k;
  for (let r = 0; r < batch * c; r++) {
    for (let ix = 0; ix < len; ix++) {
      let acc: f32 = 0;
      for (let ox = 0; ox < olen; ox++) {
        const kx = ix - (ox * stride - pad);
        if (kx < 0 || kx >= k) continue;
        acc += load<f32>(dy + ((<usize>r * <usize>olen + <usize>ox) << 2)) / divisor;
      }
      store<f32>(dx + ((<usize>r * <usize>len + <usize>ix) << 2), acc);
    }
  }
}
