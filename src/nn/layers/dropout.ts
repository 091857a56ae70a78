/** Inverted dropout: in training, zeroes each value with probability p and scales the rest by 1/(1 − p); the identity at inference. */
import { OptionError } from "../../errors.js";
import { Layer, type LayerKind, type ModelMemory, type Placement } from "./layer.js";

export interface DropoutSpec {
  type: "dropout";
  p: number;
}

export function dropout(p: number): DropoutSpec {
  return { type: "dropout", p };
}

export class DropoutLayer extends Layer {
  private readonly p: number;
  /** (rows, outputs) mask of 0 and 1/(1 − p), drawn from the model's PRNG by each training forward */
  private mask = 0;
  /** the last forward dropped values (training with p > 0) */
  private dropped = false;

  constructor(
    readonly spec: DropoutSpec,
    at: Placement,
  ) {
    super(at);
    this.p = spec.p;
  }

  override allocate(rows: number, take: (bytes: number) => number): void {
    super.allocate(rows, take);
    this.mask = take(rows * this.outputs * 4);
  }

  override release(): void {
    super.release();
    this.mask = 0;
  }

  forward(m: ModelMemory, input: number, rows: number, training: boolean): number {
    this.inPtr = input;
    this.dropped = training && this.p > 0;
    if (!this.dropped) {
      this.outPtr = input;
      return input;
    }
    const n = rows * this.outputs;
    m.kernels.rng_dropout_mask(m.rngPtr, this.mask, n, this.p);
    m.kernels.dropout_forward(this.out, input, this.mask, n);
    this.outPtr = this.out;
    return this.out;
  }

  backward(m: ModelMemory, g: number, rows: number): number {
    if (this.dropped) m.kernels.dropout_backward(g, g, this.mask, rows * this.outputs);
    return g;
  }
}

export const DROPOUT: LayerKind<DropoutSpec> = {
  fields: ["p"],
  outShape(spec, inShape, where) {
    if (!(spec.p >= 0 && spec.p < 1)) throw new OptionError(`${where} (dropout): p must be in [0, 1); got ${spec.p}`);
    return [...inShape];
  },
  flops: () => 0,
  /** dropoutP, e.g. dropout0.2 */
  parseToken(token) {
    const m = /^dropout(0?\.\d+)$/.exec(token);
    return m ? dropout(Number(m[1])) : undefined;
  },
  create: (spec, at) => new DropoutLayer(spec, at),
};
