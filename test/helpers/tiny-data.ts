/**
 * Small seeded datasets and float64 helpers for the training and distillation tests.
 * The data come from TestRandom (mulberry32), never from the library's PRNG, so they do
 * not depend on the code under test.
 */
import { Dataset, type EpochRecord, type Sequential } from "../../src/index.js";
import { TestRandom } from "./rand.js";
import { numericGradient } from "./gradcheck.js";

export interface BlobOptions {
  rows: number;
  features: number;
  classes: number;
  seed: number;
  /** Standard deviation of the points around their class centre (default 1). */
  spread?: number;
  /** Distance scale of the class centres (default 2). */
  separation?: number;
  /** Fraction of labels replaced by a random class (default 0). */
  labelNoise?: number;
}

/** Gaussian blobs: one centre per class, x = centre + N(0, spread²); labels cycle 0, 1, …. */
export function blobs(o: BlobOptions): Dataset {
  const rnd = new TestRandom(o.seed);
  const centres = rnd.normal(o.classes * o.features, o.separation ?? 2);
  const x = rnd.normal(o.rows * o.features, o.spread ?? 1);
  const y = new Int32Array(o.rows);
  for (let r = 0; r < o.rows; r++) {
    const c = r % o.classes;
    for (let j = 0; j < o.features; j++) x[r * o.features + j]! += centres[c * o.features + j]!;
    y[r] = o.labelNoise && rnd.next() < o.labelNoise ? Math.floor(rnd.next() * o.classes) : c;
  }
  return new Dataset(x, y, { features: o.features, classes: o.classes });
}

/**
 * side × side images in [0, 1]: class c is a bright square of 3×3 pixels at one of
 * `classes` fixed positions, plus uniform background noise, so every image is distinct.
 */
export function squares(rows: number, side: number, classes: number, seed: number): Dataset {
  const rnd = new TestRandom(seed);
  const f = side * side;
  const x = rnd.uniform(rows * f, 0, 0.3);
  const y = new Int32Array(rows);
  const positions = Array.from({ length: classes }, (_, c) => [(c * 3) % (side - 2), (Math.floor((c * 3) / (side - 2)) * 3) % (side - 2)]);
  for (let r = 0; r < rows; r++) {
    const c = r % classes;
    y[r] = c;
    const [px, py] = positions[c]!;
    for (let dy = 0; dy < 3; dy++) for (let dx = 0; dx < 3; dx++) x[r * f + (py! + dy) * side + px! + dx] = 1;
  }
  return new Dataset(x, y, { features: f, classes });
}

/** A history without the wall-clock `seconds`, for exact comparisons between runs. */
export function withoutSeconds(history: readonly EpochRecord[]): Omit<EpochRecord, "seconds">[] {
  return history.map(({ seconds: _seconds, ...rest }) => rest);
}

/** Fraction of rows of `data` the model classifies correctly (argmax of its outputs). */
export function accuracyOf(model: Sequential, data: Dataset): number {
  const predicted = model.predict(data.x);
  let correct = 0;
  for (let i = 0; i < data.length; i++) if (predicted[i] === data.y[i]) correct++;
  return correct / data.length;
}

/** Euclidean norm, in float64, of a − b (or of a when b is omitted). */
export function norm64(a: ArrayLike<number>, b?: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - (b ? b[i]! : 0);
    s += d * d;
  }
  return Math.sqrt(s);
}

/** True when two Float32Arrays hold the same bit patterns. */
export function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** ∂f/∂θ_i by central differences in float64, for every i (h scaled to |θ_i|). */
export function finiteDifferences(f: (theta: Float64Array) => number, theta: ArrayLike<number>): Float64Array {
  return numericGradient(f, theta, 1e-6);
}
