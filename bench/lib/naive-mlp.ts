/**
 * A ReLU MLP trained with plain JavaScript loops on Float32Arrays: forward (the naive GEMMs
 * of naive.ts plus bias and ReLU loops), the losses, backward, and momentum SGD. The
 * baseline a JavaScript programmer without a library would write, and the reference of
 * the suites' agreement checks (it accumulates dot products and losses in float64).
 */
import { naiveGemmNN, naiveGemmNT, naiveGemmTN } from "./naive.js";
import type { MlpParams } from "./mlp.js";

interface Layer {
  inputs: number;
  outputs: number;
  weight: Float32Array;
  bias: Float32Array;
  gradWeight: Float32Array;
  gradBias: Float32Array;
  velWeight: Float32Array;
  velBias: Float32Array;
  /** (rows, outputs): after ReLU for hidden layers */
  out: Float32Array;
  /** (rows, inputs): gradient w.r.t. the layer's input */
  dInput: Float32Array;
  input: Float32Array;
}

export class NaiveMlp {
  private readonly layers: Layer[];

  constructor(params: MlpParams, maxRows: number) {
    this.layers = params.map((p) => ({
      inputs: p.inputs,
      outputs: p.outputs,
      weight: p.weight.slice(),
      bias: p.bias.slice(),
      gradWeight: new Float32Array(p.weight.length),
      gradBias: new Float32Array(p.bias.length),
      velWeight: new Float32Array(p.weight.length),
      velBias: new Float32Array(p.bias.length),
      out: new Float32Array(maxRows * p.outputs),
      dInput: new Float32Array(maxRows * p.inputs),
      input: new Float32Array(0),
    }));
  }

  /** x (rows, inputs) → logits (rows, classes); a view valid until the next forward. */
  forward(x: Float32Array, rows: number): Float32Array {
    let input = x.subarray(0, rows * this.layers[0]!.inputs);
    this.layers.forEach((l, i) => {
      const out = l.out.subarray(0, rows * l.outputs);
      naiveGemmNT(out, input, l.weight, rows, l.outputs, l.inputs);
      const hidden = i < this.layers.length - 1;
      for (let r = 0; r < rows; r++) {
        const o = r * l.outputs;
        for (let j = 0; j < l.outputs; j++) {
          const v = out[o + j]! + l.bias[j]!;
          out[o + j] = hidden && v < 0 ? 0 : v;
        }
      }
      l.input = input;
      input = out;
    });
    return input;
  }

  /** Back-propagates dLogits (rows, classes; overwritten) into the gradients. */
  backward(dLogits: Float32Array, rows: number): void {
    let g = dLogits.subarray(0, rows * this.layers[this.layers.length - 1]!.outputs);
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const l = this.layers[i]!;
      if (i < this.layers.length - 1) {
        for (let j = 0; j < g.length; j++) if (!(l.out[j]! > 0)) g[j] = 0; // ReLU: y = 0 ⇒ no gradient
      }
      naiveGemmTN(l.gradWeight, g, l.input, l.outputs, l.inputs, rows); // dW = gᵀ·x
      l.gradBias.fill(0);
      for (let r = 0; r < rows; r++) for (let j = 0; j < l.outputs; j++) l.gradBias[j]! += g[r * l.outputs + j]!;
      if (i === 0) break;
      const dIn = l.dInput.subarray(0, rows * l.inputs);
      naiveGemmNN(dIn, g, l.weight, rows, l.inputs, l.outputs); // dx = g·W
      g = dIn;
    }
  }

  /** v = μ·v + g; p = p − lr·v (PyTorch / tf.train.momentum). */
  step(lr: number, momentum: number): void {
    const update = (p: Float32Array, g: Float32Array, v: Float32Array) => {
      for (let j = 0; j < p.length; j++) {
        const vj = momentum * v[j]! + g[j]!;
        v[j] = vj;
        p[j] = p[j]! - lr * vj;
      }
    };
    for (const l of this.layers) {
      update(l.weight, l.gradWeight, l.velWeight);
      update(l.bias, l.gradBias, l.velBias);
    }
  }

  params(): MlpParams {
    return this.layers.map((l) => ({ inputs: l.inputs, outputs: l.outputs, weight: l.weight.slice(), bias: l.bias.slice() }));
  }
}

/** log Σ exp(z_j / T) − max-subtracted; returns [max, log-sum-exp of (z − max)/T]. */
function logSumExp(z: Float32Array, o: number, cols: number, t: number): [number, number] {
  let max = -Infinity;
  for (let j = 0; j < cols; j++) max = Math.max(max, z[o + j]!);
  let s = 0;
  for (let j = 0; j < cols; j++) s += Math.exp((z[o + j]! - max) / t);
  return [max, Math.log(s)];
}

/**
 * α·CE(softmax(s), labels) + (1 − α)·T²·KL(softmax(t/T) ‖ softmax(s/T)), batch means.
 * Writes ∂loss/∂s into grad: α·(softmax(s) − onehot)/rows + (1 − α)·T·(softmax(s/T) − softmax(t/T))/rows.
 */
export function distillLossJs(
  grad: Float32Array,
  s: Float32Array,
  t: Float32Array,
  labels: Int32Array,
  rows: number,
  cols: number,
  temperature: number,
  alpha: number,
): number {
  let hard = 0;
  let soft = 0;
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    const [sMax, sLse] = logSumExp(s, o, cols, 1);
    const [sMaxT, sLseT] = logSumExp(s, o, cols, temperature);
    const [tMaxT, tLseT] = logSumExp(t, o, cols, temperature);
    hard -= s[o + labels[r]!]! - sMax - sLse;
    for (let j = 0; j < cols; j++) {
      const logPs = (s[o + j]! - sMaxT) / temperature - sLseT;
      const logPt = (t[o + j]! - tMaxT) / temperature - tLseT;
      const pt = Math.exp(logPt);
      soft += pt * (logPt - logPs);
      const p1 = Math.exp(s[o + j]! - sMax - sLse) - (j === labels[r] ? 1 : 0);
      grad[o + j] = (alpha * p1 + (1 - alpha) * temperature * (Math.exp(logPs) - pt)) / rows;
    }
  }
  return (alpha * hard) / rows + ((1 - alpha) * temperature * temperature * soft) / rows;
}

/** Mean cross-entropy of softmax(s) against labels; grad = (softmax(s) − onehot)/rows. */
export function crossEntropyJs(grad: Float32Array, s: Float32Array, labels: Int32Array, rows: number, cols: number): number {
  let loss = 0;
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    const [max, lse] = logSumExp(s, o, cols, 1);
    loss -= s[o + labels[r]!]! - max - lse;
    for (let j = 0; j < cols; j++) grad[o + j] = (Math.exp(s[o + j]! - max - lse) - (j === labels[r] ? 1 : 0)) / rows;
  }
  return loss / rows;
}
