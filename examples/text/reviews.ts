/**
 * Synthetic product reviews for examples/text-distill.ts, made by a deterministic
 * generator (the same seed gives the same reviews in every runtime): token sequences whose
 * sentiment depends on word order, so that a model that sees positions can do better than
 * one that only counts words.
 *
 * The vocabulary (256 ids): 0 is padding; 1–24 are positive words ("great"), 25–48
 * negative words ("broken"), 49–50 negators ("not", "never"), 51–255 neutral words. A review
 * has 4 to 12 tokens; each is a positive or a negative word with probability 0.125 each, a
 * negator with 0.15, else neutral. Its score sums +1 per positive and −1 per negative word, flipped when the word
 * right before it is a negator ("not great" counts −1); reviews scoring 0 are drawn again.
 * The label is 1 (positive) for a score > 0, else 0. Training labels are then flipped with
 * probability `noise` (annotators disagree); test labels are not.
 */

export const VOCAB = 256;
export const SEQ_LEN = 12;
export const PADDING = 0;
const POSITIVE = [1, 24];
const NEGATIVE = [25, 48];
const NEGATORS = [49, 50];
const NEUTRAL = [51, 255];

export interface Reviews {
  /** (rows, SEQ_LEN) token ids, padding after each review's length */
  ids: Int32Array;
  lengths: Int32Array;
  labels: Int32Array;
}

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = (next: () => number, [low, high]: number[]) => low! + Math.floor(next() * (high! - low! + 1));

/** `rows` reviews from `seed`, with training labels flipped with probability `noise`. */
export function makeReviews(rows: number, seed: number, noise: number): Reviews {
  const next = random(seed);
  const ids = new Int32Array(rows * SEQ_LEN);
  const lengths = new Int32Array(rows);
  const labels = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const row = ids.subarray(r * SEQ_LEN, (r + 1) * SEQ_LEN);
    let score = 0;
    let length = 0;
    while (score === 0) {
      row.fill(PADDING);
      length = 4 + Math.floor(next() * (SEQ_LEN - 3));
      score = 0;
      for (let t = 0; t < length; t++) {
        const u = next();
        row[t] = u < 0.125 ? pick(next, POSITIVE) : u < 0.25 ? pick(next, NEGATIVE) : u < 0.4 ? pick(next, NEGATORS) : pick(next, NEUTRAL);
        const polarity = row[t]! <= POSITIVE[1]! ? 1 : row[t]! <= NEGATIVE[1]! ? -1 : 0;
        const negated = t > 0 && row[t - 1]! >= NEGATORS[0]! && row[t - 1]! <= NEGATORS[1]!;
        score += negated ? -polarity : polarity;
      }
    }
    lengths[r] = length;
    const label = score > 0 ? 1 : 0;
    labels[r] = next() < noise ? 1 - label : label;
  }
  return { ids, lengths, labels };
}
