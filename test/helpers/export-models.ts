/**
 * The models and inputs the export tests run through onnxruntime and TensorFlow.js: an
 * MLP trained briefly on real digits, an MLP with every activation (and dropout, which
 * export drops), batchNorm after a dense layer, standardize in front of an MLP, a CNN with every image layer, a CNN
 * with padded pooling, and a 1-D CNN on signals with every 1-D layer. Weights are PyTorch's seeded initialisation; batchNorm's γ, β and
 * running statistics are set to seeded random values, so that they matter.
 */
import {
  avgPool1d,
  avgPool2d,
  batchNorm,
  conv1d,
  conv2d,
  dense,
  embedding,
  embeddingBag,
  layerNorm,
  standardize,
  dropout,
  flatten,
  gelu,
  leakyRelu,
  loadMnistDigits,
  maxPool1d,
  maxPool2d,
  mlp,
  relu,
  Sequential,
  sigmoid,
  tanh,
  train,
  type Dataset,
} from "../../src/index.js";
import { TestRandom } from "./rand.js";

export interface ExportCase {
  name: string;
  model: Sequential;
  /** rows of inputs, (rows, …inputShape) flat */
  x: Float32Array;
  rows: number;
}

/** Sets every batchNorm layer's γ, β, running mean and running variance to seeded random values. */
export function randomiseBatchNorm(model: Sequential, seed: number): void {
  const rnd = new TestRandom(seed);
  model.specs.forEach((spec, i) => {
    if (spec.type !== "batchNorm") return;
    const c = spec.channels;
    model.setParameter(`${i}.weight`, rnd.uniform(c, 0.5, 1.5));
    model.setParameter(`${i}.bias`, rnd.uniform(c, -0.5, 0.5));
    model.setParameter(`${i}.running_mean`, rnd.uniform(c, -0.3, 0.3));
    model.setParameter(`${i}.running_var`, rnd.uniform(c, 0.5, 2));
  });
}

/** `count` rows of `digits` followed by `random` rows of uniform noise in [0, 1). */
function digitRows(digits: Dataset, count: number, random: number, seed: number): { x: Float32Array; rows: number } {
  const x = new Float32Array((count + random) * 784);
  x.set(digits.x.subarray(0, count * 784));
  x.set(new TestRandom(seed).uniform(random * 784, 0, 1), count * 784);
  return { x, rows: count + random };
}

export async function exportCases(): Promise<ExportCase[]> {
  const { train: data, test } = await loadMnistDigits({ train: 1000, test: 64, seed: 3 });
  const cases: ExportCase[] = [];

  const digitMlp = mlp([784, 64, 32, 10], { seed: 1 });
  await train(digitMlp, data, { epochs: 1, batchSize: 50, seed: 1, optimizer: { type: "sgd", momentum: 0.9, lr: 0.05 } });
  cases.push({ name: "mlp 784-64-32-10 relu", model: digitMlp, ...digitRows(test, 24, 8, 11) });

  const everyActivation = new Sequential(
    [dense(20, 16), relu(), dense(16, 16), leakyRelu(0.1), dense(16, 16), tanh(), dense(16, 16), sigmoid(), dense(16, 16), gelu(), dropout(0.3), dense(16, 5)],
    { seed: 2 },
  );
  cases.push({ name: "mlp with every activation", model: everyActivation, x: new TestRandom(12).uniform(16 * 20, -2, 2), rows: 16 });

  const denseBn = new Sequential([dense(20, 16), batchNorm(16), relu(), dense(16, 4)], { seed: 3 });
  randomiseBatchNorm(denseBn, 13);
  cases.push({ name: "batchNorm after dense", model: denseBn, x: new TestRandom(14).uniform(12 * 20, -2, 2), rows: 12 });

  const cnn = new Sequential(
    [conv2d(1, 4, 3, { padding: 1 }), relu(), maxPool2d(2), conv2d(4, 6, 3), batchNorm(6), relu(), avgPool2d(2), flatten(), dense(6 * 6 * 6, 10)],
    { seed: 4, inputShape: [1, 28, 28] },
  );
  randomiseBatchNorm(cnn, 15);
  cases.push({ name: "cnn 1x28x28 conv-relu-maxpool-conv-bn-relu-avgpool-flatten-dense", model: cnn, ...digitRows(test, 12, 4, 16) });

  const padded = new Sequential(
    [
      conv2d(1, 3, [3, 5], { stride: 2, padding: 2 }),
      tanh(),
      maxPool2d(3, { stride: 1, padding: 1 }),
      avgPool2d(3, { stride: 2, padding: 1 }),
      flatten(),
      dense(3 * 8 * 7, 6),
    ],
    { seed: 5, inputShape: [1, 28, 28] },
  );
  cases.push({ name: "cnn with strided, padded convolution and pooling", model: padded, ...digitRows(test, 6, 2, 17) });
  // A 1-D CNN on (3, 40) signals: padded and strided conv1d, both poolings, batchNorm over the length.
  const signalCnn = new Sequential(
    [
      conv1d(3, 6, 5, { padding: 2 }),
      relu(),
      maxPool1d(2),
      conv1d(6, 8, 3, { stride: 2, padding: 1 }),
      batchNorm(8),
      relu(),
      maxPool1d(3, { stride: 1, padding: 1 }),
      avgPool1d(3, { stride: 2, padding: 1 }),
      flatten(),
      dense(8 * 5, 4),
    ],
    { seed: 6, inputShape: [3, 40] },
  );
  randomiseBatchNorm(signalCnn, 18);
  cases.push({
    name: "1-D cnn 3x40 conv1d-relu-maxpool1d-conv1d-bn-relu-maxpool1d-avgpool1d-flatten-dense",
    model: signalCnn,
    x: new TestRandom(19).uniform(9 * 120, -2, 2),
    rows: 9,
  });
  // Raw tabular features far from 0 and 1, standardised by the model's first layer.
  const rawRnd = new TestRandom(15);
  const standardized = new Sequential(
    [standardize(6, { mean: Array.from(rawRnd.uniform(6, -50, 50)), std: Array.from(rawRnd.uniform(6, 0.01, 30)) }), dense(6, 8), relu(), dense(8, 3)],
    { seed: 4 },
  );
  cases.push({ name: "standardize before an MLP", model: standardized, x: new TestRandom(16).uniform(10 * 6, -80, 80), rows: 10 });

  return cases;
}

/** Largest |a − b|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} and ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Index of the largest value of each row. */
export function argmaxRows(a: ArrayLike<number>, rows: number): number[] {
  const cols = a.length / rows;
  return Array.from({ length: rows }, (_, r) => {
    let best = 0;
    for (let c = 1; c < cols; c++) if (a[r * cols + c]! > a[r * cols + best]!) best = c;
    return best;
  });
}

/** The bits of each float, for bit-for-bit comparisons. */
export const bitsOf = (a: Float32Array): number[] => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

/** `rows` rows of `seqLen` token ids below `vocab`: random, with padding (`padding`) at the end of some rows, one row of padding only and one without any. */
export function tokenRows(rows: number, seqLen: number, vocab: number, padding: number | undefined, seed: number): Float32Array {
  const rnd = new TestRandom(seed);
  const x = new Float32Array(rows * seqLen);
  for (let r = 0; r < rows; r++) {
    const length = padding === undefined || r === 1 ? seqLen : r === 0 ? 0 : 1 + Math.floor(rnd.uniform(1, 0, seqLen - 1)[0]!);
    for (let t = 0; t < seqLen; t++) {
      const id = Math.min(vocab - 1, Math.floor(rnd.uniform(1, 0, vocab)[0]!));
      // Row 1 holds no padding id at all; the others may hold one inside the row too.
      x[r * seqLen + t] = t >= length ? padding! : r === 1 && id === padding ? (id + 1) % vocab : id;
    }
  }
  return x;
}

/** Sets every layerNorm's γ and β, and every token table's padding row, to seeded random values, so that they matter. */
export function randomiseTokenLayers(model: Sequential, seed: number): void {
  const rnd = new TestRandom(seed);
  model.specs.forEach((spec, i) => {
    if (spec.type === "layerNorm") {
      model.setParameter(`${i}.weight`, rnd.uniform(spec.dim, 0.5, 1.5));
      model.setParameter(`${i}.bias`, rnd.uniform(spec.dim, -0.5, 0.5));
    }
    if ((spec.type === "embedding" || spec.type === "embeddingBag") && spec.paddingIdx !== undefined) {
      const w = model.getParameter(`${i}.weight`);
      w.set(rnd.uniform(spec.dim, -1, 1), spec.paddingIdx * spec.dim);
      model.setParameter(`${i}.weight`, w);
    }
  });
}

/**
 * Token models: an embedding per position with layerNorm, flatten and an MLP head; a bag of
 * embeddings (mean without the padding id) with layerNorm; a bag without a padding id; and
 * layerNorm inside a plain MLP. Inputs hold rows of padding only and rows without padding.
 */
export function tokenExportCases(): ExportCase[] {
  const cases: ExportCase[] = [];
  const sequence = new Sequential([embedding(50, 8, { seqLen: 12, paddingIdx: 0 }), layerNorm(8), flatten(), dense(96, 16), relu(), dense(16, 3)], {
    seed: 31,
  });
  randomiseTokenLayers(sequence, 41);
  cases.push({ name: "embedding-layerNorm-flatten-dense", model: sequence, x: tokenRows(10, 12, 50, 0, 51), rows: 10 });
  const bag = new Sequential([embeddingBag(50, 8, { seqLen: 12, paddingIdx: 3 }), layerNorm(8, { eps: 1e-3 }), dense(8, 3)], { seed: 32 });
  randomiseTokenLayers(bag, 42);
  cases.push({ name: "embeddingBag (padding 3)-layerNorm-dense", model: bag, x: tokenRows(11, 12, 50, 3, 52), rows: 11 });
  const plainBag = new Sequential([embeddingBag(60, 6, { seqLen: 7 }), dense(6, 4)], { seed: 33 });
  cases.push({ name: "embeddingBag (no padding)-dense", model: plainBag, x: tokenRows(9, 7, 60, undefined, 53), rows: 9 });
  const normalisedMlp = new Sequential([dense(10, 13), layerNorm(13), gelu(), dense(13, 3)], { seed: 34 });
  randomiseTokenLayers(normalisedMlp, 44);
  cases.push({ name: "mlp with layerNorm", model: normalisedMlp, x: new TestRandom(54).uniform(8 * 10, -3, 3), rows: 8 });
  return cases;
}
