// A drawn digit → a 28×28 MNIST-style image, as LeCun et al. prepared MNIST: the digit's
// bounding box is scaled (keeping its aspect ratio) to fit a 20×20 box, with anti-aliasing
// (here: the mean ink over each target pixel's area), then placed in a 28×28 field so that
// its centre of mass lands on the field's centre.

export const SIDE = 28;
export const BOX = 20;

/**
 * @param {Uint8ClampedArray} rgba the canvas pixels (getImageData().data); ink = alpha channel
 * @param {number} width
 * @param {number} height
 * @returns {Float32Array | null} 784 values in [0, 1], row-major; null when nothing is drawn
 */
export function toMnist(rgba, width, height) {
  // Ink per canvas pixel and an integral image of it (sums over any rectangle in O(1)).
  const integral = new Float64Array((width + 1) * (height + 1));
  let x0 = width,
    y0 = height,
    x1 = -1,
    y1 = -1;
  for (let y = 0; y < height; y++) {
    let rowSum = 0;
    for (let x = 0; x < width; x++) {
      const ink = rgba[(y * width + x) * 4 + 3] / 255;
      if (ink > 0.05) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
      rowSum += ink;
      integral[(y + 1) * (width + 1) + x + 1] = integral[y * (width + 1) + x + 1] + rowSum;
    }
  }
  if (x1 < 0) return null;
  const boxW = x1 - x0 + 1;
  const boxH = y1 - y0 + 1;
  const scale = BOX / Math.max(boxW, boxH); // target pixels per canvas pixel
  const w = Math.max(1, Math.round(boxW * scale));
  const h = Math.max(1, Math.round(boxH * scale));
  const sum = (ax, ay, bx, by) =>
    // ink in canvas pixels [ax, bx) × [ay, by)
    integral[by * (width + 1) + bx] - integral[ay * (width + 1) + bx] - integral[by * (width + 1) + ax] + integral[ay * (width + 1) + ax];

  // Area-average into a w × h image.
  const small = new Float32Array(w * h);
  let peak = 0;
  for (let ty = 0; ty < h; ty++) {
    const ay = Math.min(y1, y0 + Math.floor(ty / scale));
    const by = Math.max(ay + 1, Math.min(y1 + 1, y0 + Math.floor((ty + 1) / scale)));
    for (let tx = 0; tx < w; tx++) {
      const ax = Math.min(x1, x0 + Math.floor(tx / scale));
      const bx = Math.max(ax + 1, Math.min(x1 + 1, x0 + Math.floor((tx + 1) / scale)));
      const v = sum(ax, ay, bx, by) / ((bx - ax) * (by - ay));
      small[ty * w + tx] = v;
      if (v > peak) peak = v;
    }
  }
  // Centre of mass (pixel centres at +0.5), then the shift that puts it at (14, 14).
  let mass = 0,
    mx = 0,
    my = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = small[y * w + x];
      mass += v;
      mx += v * (x + 0.5);
      my += v * (y + 0.5);
    }
  }
  const dx = Math.round(SIDE / 2 - mx / mass);
  const dy = Math.round(SIDE / 2 - my / mass);
  const out = new Float32Array(SIDE * SIDE);
  const gain = peak > 0 ? 1 / peak : 1; // strokes reach 1, like MNIST's
  for (let y = 0; y < h; y++) {
    const oy = y + dy;
    if (oy < 0 || oy >= SIDE) continue;
    for (let x = 0; x < w; x++) {
      const ox = x + dx;
      if (ox >= 0 && ox < SIDE) out[oy * SIDE + ox] = Math.min(1, small[y * w + x] * gain);
    }
  }
  return out;
}
