/**
 * The benchmarked network, independent of any library: the weights of a ReLU MLP in
 * PyTorch's layout (weight (outputs, inputs), bias (outputs)), FLOP counts, synthetic
 * batches, and the comparison of one training step's updates between implementations.
 */
import type { Sequential } from "distill-wasm";
import { mulberry32 } from "./random.js";

export interface DenseParams {
  inputs: number;
  outputs: number;
  /** (outputs, inputs), row-major */
  weight: Float32Array;
  /** (outputs) */
  bias: Float32Array;
}

/** Dense layers in order; every layer but the last is followed by ReLU. */
export type MlpParams = DenseParams[];

/** Copies a distill-wasm model's dense layers (which must alternate dense / relu). */
export function paramsOf(model: Sequential): MlpParams {
  const names = model.namedParameters();
  const out: MlpParams = [];
  for (const p of names) {
    if (!p.name.endsWith(".weight")) continue;
    const layer = p.name.slice(0, -".weight".length);
    out.push({
      outputs: p.shape[0]!,
      inputs: p.shape[1]!,
      weight: model.getParameter(`${layer}.weight`),
      bias: model.getParameter(`${layer}.bias`),
    });
  }
  return out;
}

/** Writes parameters into a distill-wasm model of the same architecture. */
export function setParams(model: Sequential, params: MlpParams): void {
  const weights = model.namedParameters().filter((p) => p.name.endsWith(".weight"));
  if (weights.length !== params.length) throw new Error(`setParams: the model has ${weights.length} dense layers, got ${params.length}`);
  weights.forEach((p, i) => {
    const layer = p.name.slice(0, -".weight".length);
    model.setParameter(`${layer}.weight`, params[i]!.weight);
    model.setParameter(`${layer}.bias`, params[i]!.bias);
  });
}

export function cloneParams(params: MlpParams): MlpParams {
  return params.map((p) => ({ ...p, weight: p.weight.slice(), bias: p.bias.slice() }));
}

export const widthsOf = (params: MlpParams): number[] => [params[0]!.inputs, ...params.map((p) => p.outputs)];

/** 2·rows·Σ in·out: the multiply-adds of one forward pass (biases and activations not counted). */
export function forwardFlops(widths: readonly number[], rows: number): number {
  let f = 0;
  for (let i = 0; i + 1 < widths.length; i++) f += 2 * rows * widths[i]! * widths[i + 1]!;
  return f;
}

/**
 * GEMM FLOPs of one training step: forward, weight gradients of every layer, input
 * gradients of every layer but the first (nobody needs ∂loss/∂x).
 */
export function trainingFlops(widths: readonly number[], rows: number): number {
  const fwd = forwardFlops(widths, rows);
  return 3 * fwd - 2 * rows * widths[0]! * widths[1]!;
}

export interface Batch {
  rows: number;
  features: number;
  classes: number;
  /** (rows, features) uniform in [0, 1), like pixel intensities */
  x: Float32Array;
  /** integer labels in [0, classes) */
  y: Int32Array;
  /** (rows, classes) one-hot labels */
  onehot: Float32Array;
  /** (rows, classes) cached teacher logits, uniform in [-4, 4) */
  teacherLogits: Float32Array;
}

export function makeBatch(rows: number, features: number, classes: number, seed: number): Batch {
  const next = mulberry32(seed);
  const x = new Float32Array(rows * features);
  for (let i = 0; i < x.length; i++) x[i] = next();
  const y = new Int32Array(rows);
  const onehot = new Float32Array(rows * classes);
  for (let r = 0; r < rows; r++) {
    y[r] = Math.min(classes - 1, Math.floor(next() * classes));
    onehot[r * classes + y[r]!] = 1;
  }
  const teacherLogits = new Float32Array(rows * classes);
  for (let i = 0; i < teacherLogits.length; i++) teacherLogits[i] = next() * 8 - 4;
  return { rows, features, classes, x, y, onehot, teacherLogits };
}

/** One implementation's result of a single training step from shared initial weights. */
export interface StepOutcome {
  loss: number;
  params: MlpParams;
}

export interface Agreement {
  /** |loss − reference loss| / |reference loss| */
  lossRelErr: number;
  /**
   * Worst over tensors of max |Δ − Δref| / max |Δref|, where Δ = updated − initial weights:
   * the error of the update relative to its size (the weights themselves barely move).
   */
  updateRelErr: number;
  /** Where updateRelErr was found, e.g. "1.weight". */
  worstTensor: string;
  /** max |updated − reference updated| over all weights and biases */
  maxAbsWeightDiff: number;
}

export function agreement(initial: MlpParams, reference: StepOutcome, got: StepOutcome): Agreement {
  let updateRelErr = 0;
  let worstTensor = "";
  let maxAbsWeightDiff = 0;
  initial.forEach((p0, i) => {
    for (const key of ["weight", "bias"] as const) {
      const before = p0[key];
      const want = reference.params[i]![key];
      const have = got.params[i]![key];
      let scale = 0;
      let err = 0;
      for (let j = 0; j < before.length; j++) {
        const dRef = want[j]! - before[j]!;
        const d = have[j]! - before[j]!;
        scale = Math.max(scale, Math.abs(dRef));
        err = Math.max(err, Math.abs(d - dRef));
        maxAbsWeightDiff = Math.max(maxAbsWeightDiff, Math.abs(have[j]! - want[j]!));
      }
      const rel = scale > 0 ? err / scale : err;
      if (!(rel <= updateRelErr)) {
        updateRelErr = rel;
        worstTensor = `${2 * i}.${key}`;
      }
    }
  });
  return { lossRelErr: Math.abs(got.loss - reference.loss) / Math.abs(reference.loss), updateRelErr, worstTensor, maxAbsWeightDiff };
}
