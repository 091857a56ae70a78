/**
 * A deterministic generator of 3-axis motion-sensor signals (an accelerometer's x, y, z at
 * 128 samples per window) for six gestures, each drawn with jitter so that no single
 * feature separates the classes:
 *
 *   0 shake    fast oscillation (5.5–8 cycles per window) along a dominant axis
 *   1 wave     slow oscillation (1.5–3 cycles) along x, y following in phase
 *   2 circle   the same slow oscillation on x and y, a quarter period apart (x = cos, y = sin)
 *   3 tap      two or three short bumps on z at random times
 *   4 swipe    a smooth step (tanh ramp) on x, with a small overshoot on y, at a random time
 *   5 tilt     a slow drift of y and z (the device turned), no oscillation
 *
 * Jitter on every window: amplitude ×0.5–1.5, random phase and frequency, a random rotation
 * of the device mixing the three axes (so "along x" is only roughly x), a gravity offset of
 * random direction, Gaussian noise of σ 0.5, and on a quarter of the windows a burst of
 * noise that looks like a tap. What makes the task hard: wave and circle differ only in the
 * phase between two channels; shake and wave overlap in amplitude and differ in frequency;
 * taps hide in the noise bursts; everything is rotated. A seeded PRNG (mulberry32) and
 * JavaScript's Math functions: the same windows on every run of one JavaScript engine.
 */
export const CHANNELS = 3;
export const LENGTH = 128;
export const GESTURES = ["shake", "wave", "circle", "tap", "swipe", "tilt"] as const;

/** mulberry32: uniform in [0, 1). */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random 3×3 rotation (small to moderate angles about each axis). */
function rotation(u: () => number, spread: number): number[] {
  const [a, b, c] = [0, 1, 2].map(() => (u() - 0.5) * 2 * spread);
  const [ca, sa, cb, sb, cc, sc] = [Math.cos(a!), Math.sin(a!), Math.cos(b!), Math.sin(b!), Math.cos(c!), Math.sin(c!)];
  // Rz(c)·Ry(b)·Rx(a)
  return [cc * cb, cc * sb * sa - sc * ca, cc * sb * ca + sc * sa, sc * cb, sc * sb * sa + cc * ca, sc * sb * ca - cc * sa, -sb, cb * sa, cb * ca];
}

/**
 * `rows` windows: x (rows, 3, 128) channel after channel (PyTorch's (N, C, L)) and labels
 * (rows) cycling through the six gestures.
 */
export function gestures(rows: number, seed: number): { x: Float32Array; y: Int32Array } {
  const u = prng(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
  const x = new Float32Array(rows * CHANNELS * LENGTH);
  const y = new Int32Array(rows);
  const s = new Float64Array(CHANNELS * LENGTH);
  for (let r = 0; r < rows; r++) {
    const label = r % GESTURES.length;
    y[r] = label;
    s.fill(0);
    const amp = 0.5 + u();
    const phase = 2 * Math.PI * u();
    const fast = 5.5 + 2.5 * u(); // cycles per window
    const slow = 1.5 + 1.5 * u();
    const put = (c: number, t: number, v: number) => (s[c * LENGTH + t] = s[c * LENGTH + t]! + v);
    for (let t = 0; t < LENGTH; t++) {
      const tau = t / LENGTH;
      if (label === 0) {
        put(0, t, 1.2 * amp * Math.sin(2 * Math.PI * fast * tau + phase));
      } else if (label === 1 || label === 2) {
        const f = slow;
        put(0, t, amp * Math.cos(2 * Math.PI * f * tau + phase));
        put(1, t, 0.8 * amp * (label === 1 ? Math.cos(2 * Math.PI * f * tau + phase) : Math.sin(2 * Math.PI * f * tau + phase)));
      } else if (label === 5) {
        put(1, t, amp * (tau - 0.5) * 2);
        put(2, t, -amp * (tau - 0.5) * 1.2);
      }
    }
    if (label === 3) {
      const taps = 2 + Math.floor(u() * 2);
      for (let k = 0; k < taps; k++) {
        const at = 8 + Math.floor(u() * (LENGTH - 16));
        for (let t = 0; t < LENGTH; t++) put(2, t, 2.2 * amp * Math.exp(-(((t - at) / 2.5) ** 2)));
      }
    } else if (label === 4) {
      const at = 24 + Math.floor(u() * (LENGTH - 48));
      const width = 4 + 6 * u();
      const sign = u() < 0.5 ? -1 : 1;
      for (let t = 0; t < LENGTH; t++) {
        put(0, t, sign * 1.3 * amp * Math.tanh((t - at) / width));
        put(1, t, 0.6 * amp * Math.exp(-(((t - at - width) / width) ** 2)));
      }
    }
    if (u() < 0.25) {
      // a burst of noise, like a knock on the table
      const at = Math.floor(u() * (LENGTH - 6));
      const c = Math.floor(u() * CHANNELS);
      for (let t = at; t < at + 6; t++) put(c, t, 1.2 * normal());
    }
    const R = rotation(u, 0.6);
    const gravity = [normal() * 0.4, normal() * 0.4, 1 + normal() * 0.2];
    const out = x.subarray(r * CHANNELS * LENGTH, (r + 1) * CHANNELS * LENGTH);
    for (let t = 0; t < LENGTH; t++) {
      const v = [s[t]!, s[LENGTH + t]!, s[2 * LENGTH + t]!];
      for (let c = 0; c < CHANNELS; c++) {
        const rotated = R[3 * c]! * v[0]! + R[3 * c + 1]! * v[1]! + R[3 * c + 2]! * v[2]!;
        out[c * LENGTH + t] = rotated + gravity[c]! + 0.5 * normal();
      }
    }
  }
  return { x, y };
}
