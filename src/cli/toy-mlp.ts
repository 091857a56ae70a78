/**
 * A minimal ReLU MLP driven directly by the kernels, for the command-line demo: dense
 * layers with PyTorch's (out, in) weights, He-normal init from the seeded PRNG, momentum
 * SGD. All buffers are allocated once; a training step allocates nothing.
 */
import type { Engine } from "../engine.js";
import { GEMM_RELU } from "../runtime/abi.js";

interface Dense {
  inputs: number;
  outputs: number;
  /** weight (outputs, inputs), bias (outputs), their gradients and velocities */
  w: number;
  b: number;
  gw: number;
  gb: number;
  vw: number;
  vb: number;
  /** this layer's output for the current batch: (batch, outputs) */
  out: number;
  /** gradient w.r.t. this layer's output: (batch, outputs) */
  dout: number;
}

export class ToyMlp {
  readonly sizes: readonly number[];
  readonly maxBatch: number;
  private readonly engine: Engine;
  private readonly layers: Dense[];

  /** sizes = [inputs, hidden..., classes]; rng = pointer to a seeded PRNG state. */
  constructor(engine: Engine, sizes: readonly number[], maxBatch: number, rng: number) {
    this.engine = engine;
    this.sizes = sizes;
    this.maxBatch = maxBatch;
    this.layers = [];
    for (let i = 0; i + 1 < sizes.length; i++) {
      const [inputs, outputs] = [sizes[i]!, sizes[i + 1]!];
      const zeros = (n: number) => {
        const p = engine.allocF32(n);
        engine.f32(p, n).fill(0);
        return p;
      };
      const layer: Dense = {
        inputs, outputs,
        w: engine.allocF32(outputs * inputs), b: zeros(outputs),
        gw: zeros(outputs * inputs), gb: zeros(outputs),
        vw: zeros(outputs * inputs), vb: zeros(outputs),
        out: engine.allocF32(maxBatch * outputs), dout: engine.allocF32(maxBatch * outputs),
      };
      engine.kernels.rng_normal(rng, layer.w, outputs * inputs, 0, Math.sqrt(2 / inputs)); // He init
      this.layers.push(layer);
    }
  }

  get parameterCount(): number {
    return this.layers.reduce((n, l) => n + l.outputs * (l.inputs + 1), 0);
  }

  get classes(): number {
    return this.sizes[this.sizes.length - 1]!;
  }

  /** x (rows, inputs) → logits (rows, classes); returns the logits pointer. */
  forward(x: number, rows: number): number {
    const k = this.engine.kernels;
    let input = x;
    this.layers.forEach((l, i) => {
      const hidden = i + 1 < this.layers.length;
      // y = x·wᵀ + b, ReLU fused for hidden layers
      k.gemm_nt(l.out, input, l.w, l.b, rows, l.outputs, l.inputs, l.inputs, l.inputs, l.outputs, hidden ? GEMM_RELU : 0);
      input = l.out;
    });
    return input;
  }

  /** Pointer to the buffer where the loss should write ∂loss/∂logits. */
  get logitGradient(): number {
    return this.layers[this.layers.length - 1]!.dout;
  }

  /** Back-propagates ∂loss/∂logits (already in `logitGradient`) to every parameter gradient. */
  backward(x: number, rows: number): void {
    const k = this.engine.kernels;
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const l = this.layers[i]!;
      const input = i > 0 ? this.layers[i - 1]!.out : x;
      k.gemm_tn(l.gw, l.dout, input, 0, l.outputs, l.inputs, rows, l.outputs, l.inputs, l.inputs, 0); // dw = dyᵀ·x
      k.bias_grad(l.gb, l.dout, rows, l.outputs, 0); // db = Σ_rows dy
      if (i > 0) {
        const prev = this.layers[i - 1]!;
        k.gemm_nn(prev.dout, l.dout, l.w, 0, rows, l.inputs, l.outputs, l.outputs, l.inputs, l.inputs, 0); // dx = dy·w
        k.relu_backward(prev.dout, prev.dout, prev.out, rows * l.inputs);
      }
    }
  }

  /** One momentum-SGD step on every parameter. */
  step(lr: number, momentum: number): void {
    const k = this.engine.kernels;
    for (const l of this.layers) {
      k.sgd_step(l.w, l.gw, l.vw, l.outputs * l.inputs, lr, momentum, 0, 0);
      k.sgd_step(l.b, l.gb, l.vb, l.outputs, lr, momentum, 0, 0);
    }
  }

  /** Number of rows of x (rows, inputs) classified as `labels`, in chunks of maxBatch. */
  correct(x: number, labels: number, rows: number): number {
    const k = this.engine.kernels;
    let total = 0;
    for (let r = 0; r < rows; r += this.maxBatch) {
      const n = Math.min(this.maxBatch, rows - r);
      const logits = this.forward(x + r * this.sizes[0]! * 4, n);
      total += k.accuracy_count(logits, labels + r * 4, n, this.classes);
    }
    return total;
  }
}
