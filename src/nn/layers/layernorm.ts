/**
 * Layer normalisation over the last dimension, like PyTorch's nn.LayerNorm(dim, eps):
 * each row of `dim` values (a token's vector after an embedding, or a flat sample) is
 * normalised by its own mean and variance, then scaled by `weight` (γ, starts at 1) and
 * shifted by `bias` (β, starts at 0). Unlike batch norm it needs no batch statistics, so
 * training and inference compute the same thing. The per-row mean and 1/std of the last
 * forward pass are kept for backward in a (rows, 2) per-batch buffer.
 */
import { OptionError, ShapeError } from "../../errors.js";
import { checkInteger, Layer, showShape, type LayerKind, type ModelMemory, type Placement } from "./layer.js";

export interface LayerNormSpec {
  type: "layerNorm";
  /** The size of the last dimension, which is normalised. */
  dim: number;
  /** default 1e-5, as PyTorch */
  eps?: number;
}

export function layerNorm(dim: number, options: { eps?: number } = {}): LayerNormSpec {
  return { type: "layerNorm", dim, eps: options.eps ?? 1e-5 };
}

export class LayerNormLayer extends Layer {
  override readonly trainable = true;
  private readonly dim: number;
  /** rows of `dim` values per sample (seqLen after an embedding, 1 on flat inputs) */
  private readonly perSample: number;
  private readonly eps: number;
  /** (rows·perSample, 2): mean, rstd of each normalised row */
  private stats = 0;
  /** (rows, inputs) gradient w.r.t. the input */
  private dInput = 0;

  constructor(
    readonly spec: LayerNormSpec,
    at: Placement,
  ) {
    super(at);
    this.dim = spec.dim;
    this.perSample = this.inputs / spec.dim;
    this.eps = spec.eps ?? 1e-5;
  }

  override allocate(rows: number, take: (bytes: number) => number): void {
    super.allocate(rows, take);
    this.stats = take(rows * this.perSample * 2 * 4);
    this.dInput = take(rows * this.inputs * 4);
  }

  override release(): void {
    super.release();
    this.stats = 0;
    this.dInput = 0;
  }

  /** γ = 1, β = 0 (no random draws). */
  override initialise(m: ModelMemory): void {
    m.engine.f32(m.paramsPtr + this.weight * 4, this.dim).fill(1);
  }

  forward(m: ModelMemory, input: number, rows: number): number {
    this.inPtr = input;
    const p = m.paramsPtr;
    m.kernels.layernorm_forward(this.out, this.stats, input, p + this.weight * 4, p + this.bias * 4, rows * this.perSample, this.dim, this.eps);
    this.outPtr = this.out;
    return this.out;
  }

  backward(m: ModelMemory, g: number, rows: number, stop: boolean): number {
    const gr = m.gradsPtr;
    // the input gradient is written even when `stop` (the kernel computes it with dw and db); it is simply not returned
    m.kernels.layernorm_backward(
      this.dInput,
      gr + this.weight * 4,
      gr + this.bias * 4,
      g,
      this.inPtr,
      m.paramsPtr + this.weight * 4,
      this.stats,
      rows * this.perSample,
      this.dim,
    );
    return stop ? 0 : this.dInput;
  }
}

export const LAYER_NORM: LayerKind<LayerNormSpec> = {
  fields: ["dim", "eps"],
  outShape(spec, inShape, where) {
    const at = `${where} (layerNorm)`;
    checkInteger(at, "dim", spec.dim, 1);
    const eps = spec.eps ?? 1e-5;
    if (!(eps > 0 && Number.isFinite(eps))) throw new OptionError(`${at}: eps must be positive; got ${eps}`);
    if (inShape[inShape.length - 1] !== spec.dim) {
      throw new ShapeError(`${at} normalises a last dimension of ${spec.dim} but the layer before it gives ${showShape(inShape)}`);
    }
    return [...inShape];
  },
  tensors: (spec) => [
    { suffix: "weight", shape: [spec.dim], buffer: false },
    { suffix: "bias", shape: [spec.dim], buffer: false },
  ],
  /** two sums, a subtraction, two products and a sum per value */
  flops: (_spec, inShape) => 6 * inShape.reduce((a, b) => a * b, 1),
  token: () => "ln",
  /** ln: over the last dimension of what flows in. */
  parseToken: (token, inShape) => (token === "ln" ? layerNorm(inShape[inShape.length - 1]!) : undefined),
  create: (spec, at) => new LayerNormLayer(spec, at),
};
