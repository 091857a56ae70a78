// 2-D max and average pooling, NCHW, square windows, as PyTorch's F.max_pool2d /
// F.avg_pool2d (dilation 1, ceil_mode False):
//
//   x is (batch, c, h, w)           input
//   y is (batch, c, oh, ow)         oh = ⌊(h + 2·pad − k) / stride⌋ + 1, ow likewise with w
//   argmax is (batch, c, oh, ow) i32: for each output, the index iy·w + ix of the chosen
//                                     input within its (h, w) plane (PyTorch's return_indices)
//
// with k ≥ 1, stride ≥ 1 and 0 ≤ pad ≤ k / 2 (PyTorch's limit: every window then holds at
// least one input), h + 2·pad ≥ k and w + 2·pad ≥ k. Pointers need only 4-byte alignment.
//
// Every window is scanned in the order (ky, kx), row by row. The fast kernels compute four
// neighbouring outputs of a row at once (one f32x4 lane each, the window's values gathered
// with the stride) wherever the four windows lie inside the image, and the border outputs
// one at a time over the clipped window; each lane performs the scalar reference's
// comparisons or additions in the reference's order, so the two agree bit for bit.

// ================================================================ shared helpers

// @ts-ignore: decorator
@inline function outLength(n: i32, k: i32, stride: i32, pad: i32): i32 {
  return (n + 2 * pad - k) / stride + 1;
}

// @ts-ignore: decorator
@inline function checkPool(batch: i32, c: i32, h: i32, w: i32, k: i32, stride: i32, pad: i32): void {
  assert(batch > 0 && c > 0 && h > 0 && w > 0 && k > 0, "pool2d: dimensions must be positive");
  assert(stride >= 1 && pad >= 0 && 2 * pad <= k, "pool2d: need stride ≥ 1 and 0 ≤ pad ≤ k / 2");
  assert(h + 2 * pad >= k && w + 2 * pad >= k, "pool2d: window larger than the padded input");
}

// @ts-ignore: decorator
@inline function checkPointers(a: usize, b: usize, c: usize): void {
  assert(a != 0 && b != 0 && c != 0, "pool2d: null pointer");
  assert(((a | b | c) & 3) == 0, "pool2d: pointers must be 4-byte aligned");
}

// The outputs along one axis whose windows lie entirely inside [0, n) are o in
// [interiorLo, interiorHi): o·stride − pad ≥ 0 and o·stride − pad + k ≤ n.

// @ts-ignore: decorator
@inline function interiorLo(stride: i32, pad: i32): i32 {
  return (pad + stride - 1) / stride;
}

// @ts-ignore: decorator
@inline function interiorHi(n: i32, k: i32, stride: i32, pad: i32, outLen: i32): i32 {
  const last = n + pad - k; // need o·stride ≤ last
  return last < 0 ? 0 : min(outLen, last / stride + 1);
}

/** Four floats p[0], p[s], p[2s], p[3s] (s in elements), reading nothing past p[3s]. */
// @ts-ignore: decorator
@inline function load4(p: usize, stride: i32): v128 {
  if (stride == 1) return v128.load(p);
  if (stride == 2) {
    // p[0..3] and p[3..6]: lanes 0, 2 of the first and 1, 3 of the second.
    return v128.shuffle<f32>(v128.load(p), v128.load(p, 12), 0, 2, 5, 7);
  }
  const step = <usize>stride << 2;
  let v = f32x4.splat(load<f32>(p));
  v = f32x4.replace_lane(v, 1, load<f32>(p + step));
  v = f32x4.replace_lane(v, 2, load<f32>(p + 2 * step));
  v = f32x4.replace_lane(v, 3, load<f32>(p + 3 * step));
  return v;
}

// ================================================================ max pooling

/**
 * Max over one window clipped to the image, scanned (ky, kx): the first maximum wins
 * (a later equal value does not replace it), and a NaN, once met, is kept (NaN propagates,
 * as in PyTorch). Writes the value to y and its plane index to argmax.
 */
// @ts-ignore: decorator
@inline function maxWindow(y: usize, am: usize, plane: usize, h: i32, w: i32, iy0: i32, ix0: i32, k: i32): void {
  const kyLo = max(0, -iy0), kyHi = min(k, h - iy0);
  const kxLo = max(0, -ix0), kxHi = min(k, w - ix0);
  let bestIndex = (iy0 + kyLo) * w + ix0 + kxLo;
  let best = load<f32>(plane + (<usize>bestIndex << 2));
  for (let ky = kyLo; ky < kyHi; ky++) {
    const rowIndex = (iy0 + ky) * w + ix0;
    for (let kx = kxLo; kx < kxHi; kx++) {
      const v = load<f32>(plane + (<usize>(rowIndex + kx) << 2));
      if (v > best || (v != v && best == best)) {
        best = v;
        bestIndex = rowIndex + kx;
      }
    }
  }
  store<f32>(y, best);
  store<i32>(am, bestIndex);
}

/**
 * y = max over each k×k window (padding never wins: it is −∞), overwriting y and argmax.
 *   y is (batch, c, oh, ow); argmax is (batch, c, oh, ow) i32, the index iy·w + ix of the
 *   maximum within its input plane; x is (batch, c, h, w).
 * Ties: the first maximum in (ky, kx) scan order wins. NaN: the first NaN in the window is
 * the maximum (NaN propagates).
 */
export function maxpool2d_forward(
  y: usize, argmax: usize, x: usize, batch: i32, c: i32, h: i32, w: i32, k: i32, stride: i32, pad: i32,
): void {
  checkPool(batch, c, h, w, k, stride, pad);
  checkPointers(y, argmax, x);
  const oh = outLength(h, k, stride, pad);
  const ow = outLength(w, k, stride, pad);
  const oyLo = interiorLo(stride, pad), oyHi = interiorHi(h, k, stride, pad, oh);
  const oxLo = min(interiorLo(stride, pad), ow), oxHi = max(interiorHi(w, k, stride, pad, ow), oxLo);
  const planes = batch * c;
  const inPlane = (<usize>h * <usize>w) << 2;
  const outPlane = (<usize>oh * <usize>ow) << 2;
  const laneStep = i32x4(0, stride, 2 * stride, 3 * stride);
  for (let pl = 0; pl < planes; pl++) {
    const plane = x + <usize>pl * inPlane;
    const yp = y + <usize>pl * outPlane;
    const ap = argmax + <usize>pl * outPlane;
    for (let oy = 0; oy < oh; oy++) {
      const iy0 = oy * stride - pad;
      const rowOut = (<usize>oy * <usize>ow) << 2;
      let ox = 0;
      if (oy >= oyLo && oy < oyHi) {
        for (; ox < oxLo; ox++) {
          maxWindow(yp + rowOut + (<usize>ox << 2), ap + rowOut + (<usize>ox << 2), plane, h, w, iy0, ox * stride - pad, k);
        }
        for (; ox + 4 <= oxHi; ox += 4) {
          const ix0 = ox * stride - pad;
          const first = iy0 * w + ix0;
          let best = load4(plane + (<usize>first << 2), stride);
          let bestIndex = i32x4.add(i32x4.splat(first), laneStep);
          for (let ky = 0; ky < k; ky++) {
            const rowIndex = (iy0 + ky) * w + ix0;
            for (let kx = ky == 0 ? 1 : 0; kx < k; kx++) {
              const v = load4(plane + (<usize>(rowIndex + kx) << 2), stride);
              const take = v128.or(f32x4.gt(v, best), v128.and(f32x4.ne(v, v), f32x4.eq(best, best)));
              best = v128.bitselect(v, best, take);
              bestIndex = v128.bitselect(i32x4.add(i32x4.splat(rowIndex + kx), laneStep), bestIndex, take);
            }
          }
          v128.store(yp + rowOut + (<usize>ox << 2), best);
          v128.store(ap + rowOut + (<usize>ox << 2), bestIndex);
        }
      }
      for (; ox < ow; ox++) {
        maxWindow(yp + rowOut + (<usize>ox << 2), ap + rowOut + (<usize>ox << 2), plane, h, w, iy0, ox * stride - pad, k);
      }
    }
  }
}

/** maxpool2d_forward over the full k×k window with a bounds test per element; same bits. */
export function maxpool2d_forward_ref(
  y: usize, argmax: usize, x: usize, batch: i32, c: i32, h: i32, w: i32, k: i32, stride: i32, pad: i32,
): void {
  checkPool(batch, c, h, w, k, stride, pad);
  checkPointers(y, argmax, x);
  const oh = outLength(h, k, stride, pad);
  const ow = outLength(w, k, stride, pad);
  for (let pl = 0; pl < batch * c; pl++) {
    const plane = x + ((<usize>pl * <usize>h * <usize>w) << 2);
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        let found = false;
        let best: f32 = 0;
        let bestIndex = 0;
        for (let ky = 0; ky < k; ky++) {
          for (let kx = 0; kx < k; kx++) {
            const iy = oy * stride - pad + ky;
            const ix = ox * stride - pad + kx;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
            const v = load<f32>(plane + ((<usize>iy * <usize>w + <usize>ix) << 2));
            if (!found || v > best || (v != v && best == best)) {
              best = v;
              bestIndex = iy * w + ix;
              found = true;
            }
          }
        }
        const o = ((<usize>pl * <usize>oh + <usize>oy) * <usize>ow + <usize>ox) << 2;
        store<f32>(y + o, best);
        store<i32>(argmax + o, bestIndex);
      }
    }
  }
}

/**
 * dx = gradient of max pooling: dx is OVERWRITTEN — zeroed, then each dy is added to the
 * input its window chose, outputs in (oy, ox) order (overlapping windows that chose the
 * same input add up in that order).
 *   dx is (batch, c, h, w); dy and argmax are (batch, c, oh, ow) (argmax from the forward).
 */
export function maxpool2d_backward(
  dx: usize, dy: usize, argmax: usize, batch: i32, c: i32, h: i32, w: i32, k: i32, stride: i32, pad: i32,
): void {
  checkPool(batch, c, h, w, k, stride, pad);
  checkPointers(dx, dy, argmax);
  const oh = outLength(h, k, stride, pad);
  const ow = outLength(w, k, stride, pad);
  const planes = batch * c;
  const inPlane = (<usize>h * <usize>w) << 2;
  const outCount = oh * ow;
  memory.fill(dx, 0, <usize>planes * inPlane);
  for (let pl = 0; pl < planes; pl++) {
    const dxp = dx + <usize>pl * inPlane;
    const base = (<usize>pl * <usize>outCount) << 2;
    for (let o = 0; o < outCount; o++) {
      const at = base + (<usize>o << 2);
      const index = load<i32>(argmax + at);
      assert(index >= 0 && index < h * w, "maxpool2d_backward: argmax out of range");
      const d = dxp + (<usize>index << 2);
      store<f32>(d, load<f32>(d) + load<f32>(dy + at));
    }
  }
}

/**
 * The same gradient gathered: each dx element is 0 plus, in (oy, ox) order, the dy of
 * every output whose argmax names it. Same bits as maxpool2d_backward.
 */
export function maxpool2d_backward_ref(
  dx: usize, dy: usize, argmax: usize, batch: i32, c: i32, h: i32, w: i32, k: i32, stride: i32, pad: i32,
): void {
  checkPool(batch, c, h, w, k, stride, pad);
  checkPointers(dx, dy, argmax);
  const oh = outLength(h, k, stride, pad);
  const ow = outLength(w, k, stride, pad);
  for (let pl = 0; pl < batch * c; pl++) {
    for (let iy = 0; iy < h; iy++) {
      for (let ix = 0; ix < w; ix++) {
        let acc: f32 = 0;
        for (let oy = 0; oy < oh; oy++) {
          for (let ox = 0; ox < ow; ox++) {
            const at = ((<usize>pl * <usize>oh + <usize>oy) * <usize>ow + <usize>ox) << 2;
            if (load<i32>(argmax + at) == iy * w + ix) acc += load<f32>(dy + at);
          }
        }
        store<f32>(dx + ((((<usize>pl * <usize>h) + <usize>iy) * <usize>w + <usize>ix) << 2), acc);
      }
    }
  }
}

// ================================================================ average pooling

/** Sum of one window clipped to the image, (ky, kx) order, divided by k·k. */
// @ts-ignore: decorator
@inline function avgWindow(plane: usize, h: i32, w: i32, iy0: i32, ix0: i32, k: i32, divisor: f32): f32 {
  const kyLo = max(0, -iy0), kyHi = min(k, h - iy0);
  const kxLo = max(0, -ix0), kxHi = min(k, w - ix0);
  let acc: f32 = 0;
  for (let ky = kyLo; ky < kyHi; ky++) {
    const row = plane + ((<usize>(iy0 + ky) * <usize>w + <usize>ix0) << 2);
    for (let kx = kxLo; kx < kxHi; kx++) acc += load<f32>(row + (<usize>kx << 2));
  }
  return acc / divisor;
}

/**
 * y = mean over each k×k window, overwriting y, with count_include_pad = true (PyTorch's
 * default): the sum of the inputs inside the image, in (ky, kx) order from 0, divided
 * (a true f32 division) by k·k, padding counted as zeros.
 *   y is (batch, c, oh, ow); x is (batch, c, h, w).
 */
export function avgpool2d_forward(
  y: usize, x: usize, batch: i32, c: i32, h: i32, w: i32, k: i32, stride: i32, pad: i32,
): void {
  checkPool(batch, c, h, w, k, stride, pad);
  checkPointers(y, x, x);
  const oh = outLength(h, k, stride, pad);
  const ow = outLength(w, k, stride, pad);
  const oyLo = interiorLo(stride, pad), oyHi = interiorHi(h, k, stride, pad, oh);
  const oxLo = min(interiorLo(stride, pad), ow), oxHi = max(interiorHi(w, k, stride, pad, ow), oxLo);
  const divisor = <f32>(k * k);
  const divisorV = f32x4.splat(divisor);
  const planes = batch * c;
  const inPlane = (<usize>h * <usize>w) << 2;
  const outPlane = (<usize>oh * <usize>ow) << 2;
  for (let pl = 0; pl < planes; pl++) {
    const plane = x + <usize>pl * inPlane;
    const yp = y + <usize>pl * outPlane;
    for (let oy = 0; oy < oh; oy++) {
      const iy0 = oy * stride - pad;
      const rowOut = yp + ((<usize>oy * <usize>ow) << 2);
      let ox = 0;
      if (oy >= oyLo && oy < oyHi) {
        for (; ox < oxLo; ox++) store<f32>(rowOut + (<usize>ox << 2), avgWindow(plane, h, w, iy0, ox * stride - pad, k, divisor));
        for (; ox + 4 <= oxHi; ox += 4) {
          const ix0 = ox * stride - pad;
          let acc = f32x4.splat(0);
          for (let ky = 0; ky < k; ky++) {
            const row = plane + ((<usize>(iy0 + ky) * <usize>w + <usize>ix0) << 2);
            for (let kx = 0; kx < k; kx++) acc = f32x4.add(acc, load4(row + (<usize>kx << 2), stride));
          }
          v128.store(rowOut + (<usize>ox << 2), f32x4.div(acc, divisorV));
        }
      }
      for (; ox < ow; ox++) store<f32>(rowOut + (<usize>ox << 2), avgWindow(plane, h, w, iy0, ox * stride - pad, k, divisor));
    }
  }
}

/** avgpool2d_forward over the full k×k window with a bounds test per element; same bits. */
export function avgpool2d_forward_ref(
  y: usize, x: usize, batch: i32, c: i32, h: i32, w: i32, k: i32, stride: i32, pad: i32,
): void {
  checkPool(batch, c, h, w, k, stride, pad);
  checkPointers(y, x, x);
  const oh = outLength(h, k, stride, pad);
  const ow = outLength(w, k, stride, pad);
  const divisor = <f32>(k * k);
  for (let pl = 0; pl < batch * c; pl++) {
    const plane = x + ((<usize>pl * <usize>h * <usize>w) << 2);
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        let acc: f32 = 0;
        for (let ky = 0; ky < k; ky++) {
          for (let kx = 0; kx < k; kx++) {
            const iy = oy * stride - pad + ky;
            const ix = ox * stride - pad + kx;
            if (iy >= 0 && iy < h && ix >= 0 && ix < w) acc += load<f32>(plane + ((<usize>iy * <usize>w + <usize>ix) << 2));
          }
        }
        store<f32>(y + (((<usize>pl * <usize>oh + <usize>oy) * <usize>ow + <usize>ox) << 2), acc / divisor);
      }
    }
  }
}

/**
 * dx = gradient of average pooling (count_include_pad = true): dx is OVERWRITTEN — zeroed,
 * then for each output in (oy, ox) order g = dy / (k·k) (f32 division) is added to every
 * input of its window inside the image (a row of the window four lanes at a time).
 *   dx is (batch, c, h, w); dy is (batch, c, oh, ow).
 */
export function avgpool2d_backward(
  dx: usize, dy: usize, batch: i32, c: i32, h: i32, w: i32, k: i32, stride: i32, pad: i32,
): void {
  checkPool(batch, c, h, w, k, stride, pad);
  checkPointers(dx, dy, dy);
  const oh = outLength(h, k, stride, pad);
  const ow = outLength(w, k, stride, pad);
  const divisor = <f32>(k * k);
  const planes = batch * c;
  const inPlane = (<usize>h * <usize>w) << 2;
  memory.fill(dx, 0, <usize>planes * inPlane);
  for (let pl = 0; pl < planes; pl++) {
    const dxp = dx + <usize>pl * inPlane;
    const dyp = dy + ((<usize>pl * <usize>oh * <usize>ow) << 2);
    for (let oy = 0; oy < oh; oy++) {
      const iy0 = oy * stride - pad;
      const kyLo = max(0, -iy0), kyHi = min(k, h - iy0);
      for (let ox = 0; ox < ow; ox++) {
        const ix0 = ox * stride - pad;
        const kxLo = max(0, -ix0), kxHi = min(k, w - ix0);
        const g = load<f32>(dyp + ((<usize>oy * <usize>ow + <usize>ox) << 2)) / divisor;
        const gv = f32x4.splat(g);
        const count = kxHi - kxLo;
        for (let ky = kyLo; ky < kyHi; ky++) {
          const row = dxp + ((<usize>(iy0 + ky) * <usize>w + <usize>(ix0 + kxLo)) << 2);
          let i = 0;
          for (; i + 4 <= count; i += 4) {
            const p = row + (<usize>i << 2);
            v128.store(p, f32x4.add(v128.load(p), gv));
          }
          for (; i < count; i++) {
            const p = row + (<usize>i << 2);
            store<f32>(p, load<f32>(p) + g);
          }
        }
      }
    }
  }
}

/**
 * The same gradient gathered: each dx element is 0 plus, in (oy, ox) order, dy / (k·k) of
 * every output whose window covers it. Same bits as avgpool2d_backward.
 */
export function avgpool2d_backward_ref(
  dx: usize, dy: usize, batch: i32, c: i32, h: i32, w: i32, k: i32, stride: i32, pad: i32,
): void {
  checkPool(batch, c, h, w, k, stride, pad);
  checkPointers(dx, dy, dy);
  const oh = outLength(h, k, stride, pad);
  const ow = outLength(w, k, stride, pad);
  const divisor = <f32>(k * k);
  for (let pl = 0; pl < batch * c; pl++) {
    for (let iy = 0; iy < h; iy++) {
      for (let ix = 0; ix < w; ix++) {
        let acc: f32 = 0;
        for (let oy = 0; oy < oh; oy++) {
          const ky = iy - (oy * stride - pad);
          if (ky < 0 || ky >= k) continue;
          for (let ox = 0; ox < ow; ox++) {
            const kx = ix - (ox * stride - pad);
            if (kx < 0 || kx >= k) continue;
            acc += load<f32>(dy + (((<usize>pl * <usize>oh + <usize>oy) * <usize>ow + <usize>ox) << 2)) / divisor;
          }
        }
        store<f32>(dx + ((((<usize>pl * <usize>h) + <usize>iy) * <usize>w + <usize>ix) << 2), acc);
      }
    }
  }
}
