/**
 * Batch normalisation per channel (after a conv: over batch·H·W, PyTorch's BatchNorm2d;
 * after a dense layer: per feature over the batch, BatchNorm1d). Parameters `weight` (γ,
 * starts at 1) and `bias` (β, starts at 0); buffers `running_mean` (0) and `running_var` (1),
 * which live in the model's buffer block, out of the optimizer's reach.
 */
import { ArgumentError, OptionError, ShapeError } from "../../errors.js";
import { align4, checkInteger, Layer, showShape, type LayerKind, type ModelMemory, type Placement } from "./layer.js";

export interface BatchNormSpec {
  type: "batchNorm";
  channels: number;
  /** Weight of the new batch statistic in the running averages (default 0.1, as PyTorch). */
  momentum?: number;
  /** default 1e-5 */
  eps?: number;
}

export function batchNorm(channels: number, options: { momentum?: number; eps?: number } = {}): BatchNormSpec {
  return { type: "batchNorm", channels, momentum: options.momentum ?? 0.1, eps: options.eps ?? 1e-5 };
}

export class BatchNormLayer extends Layer {
  override readonly trainable = true;
  private readonly channels: number;
  private readonly momentum: number;
  private readonly eps: number;
  /** offsets (floats) of running_mean / running_var in the buffer block */
  private runMean = -1;
  private runVar = -1;
  /** pointer to this layer's saved batch mean, then invstd (align4(channels) floats each), written by a training forward */
  private saved = 0;
  /** the last forward used batch statistics (backward needs them) */
  private trained = false;

  constructor(
    readonly spec: BatchNormSpec,
    at: Placement,
  ) {
    super(at);
    this.channels = spec.channels;
    this.momentum = spec.momentum ?? 0.1;
    this.eps = spec.eps ?? 1e-5;
  }

  override placeTensor(suffix: string, offset: number): void {
    if (suffix === "running_mean") this.runMean = offset;
    else if (suffix === "running_var") this.runVar = offset;
    else super.placeTensor(suffix, offset);
  }

  override statsLength(): number {
    return 2 * align4(this.channels);
  }

  override placeStats(ptr: number): void {
    this.saved = ptr;
  }

  /** γ = 1, β = 0, running_mean = 0, running_var = 1 (no random draws). */
  override initialise(m: ModelMemory): void {
    m.engine.f32(m.paramsPtr + this.weight * 4, this.channels).fill(1);
    m.engine.f32(m.buffersPtr + this.runVar * 4, this.channels).fill(1);
  }

  forward(m: ModelMemory, input: number, rows: number, training: boolean): number {
    const k = m.kernels;
    const c = this.channels;
    const spatial = this.outputs / c;
    const gamma = m.paramsPtr + this.weight * 4,
      beta = m.paramsPtr + this.bias * 4;
    const runMean = m.buffersPtr + this.runMean * 4,
      runVar = m.buffersPtr + this.runVar * 4;
    this.inPtr = input;
    if (training) {
      if (rows * spatial < 2) {
        throw new ShapeError(
          `layer ${this.index} (batchNorm): training needs more than one value per channel; got a batch of ${rows} row(s) of ${spatial} value(s) per channel`,
        );
      }
      const mean = this.saved,
        invstd = mean + align4(c) * 4;
      k.batchnorm_forward_train(this.out, mean, invstd, runMean, runVar, input, gamma, beta, rows, c, spatial, this.momentum, this.eps);
    } else {
      k.batchnorm_forward_eval(this.out, input, gamma, beta, runMean, runVar, rows, c, spatial, this.eps);
    }
    this.trained = training;
    this.outPtr = this.out;
    return this.out;
  }

  backward(m: ModelMemory, g: number, rows: number, stop: boolean): number {
    if (!this.trained) {
      throw new ArgumentError(
        `layer ${this.index} (batchNorm): backward needs a training-mode forward pass (forward(x, rows, true)), which uses the batch statistics`,
      );
    }
    const c = this.channels;
    const mean = this.saved,
      invstd = mean + align4(c) * 4;
    // dx overwrites dy in place (the kernel allows the alias)
    m.kernels.batchnorm_backward(
      g,
      m.gradsPtr + this.weight * 4,
      m.gradsPtr + this.bias * 4,
      g,
      this.inPtr,
      m.paramsPtr + this.weight * 4,
      mean,
      invstd,
      rows,
      c,
      this.outputs / c,
    );
    return stop ? 0 : g;
  }
}

export const BATCH_NORM: LayerKind<BatchNormSpec> = {
  fields: ["channels", "momentum", "eps"],
  outShape(spec, inShape, where) {
    const at = `${where} (batchNorm)`;
    checkInteger(at, "channels", spec.channels, 1);
    const momentum = spec.momentum ?? 0.1,
      eps = spec.eps ?? 1e-5;
    if (!(momentum >= 0 && momentum <= 1)) throw new OptionError(`${at}: momentum must be in [0, 1]; got ${momentum}`);
    if (!(eps > 0 && Number.isFinite(eps))) throw new OptionError(`${at}: eps must be positive; got ${eps}`);
    if (spec.channels !== inShape[0]) {
      throw new ShapeError(`${at} has ${spec.channels} channels but the layer before it gives ${inShape[0]} (shape ${showShape(inShape)})`);
    }
    return [...inShape];
  },
  tensors: (spec) => [
    { suffix: "weight", shape: [spec.channels], buffer: false },
    { suffix: "bias", shape: [spec.channels], buffer: false },
    { suffix: "running_mean", shape: [spec.channels], buffer: true },
    { suffix: "running_var", shape: [spec.channels], buffer: true },
  ],
  flops: (_spec, _inShape, outShape) => 2 * outShape.reduce((a, b) => a * b, 1),
  token: () => "bn",
  /** bn: per channel of an image, per feature of a flat input. */
  parseToken: (token, inShape) => (token === "bn" ? batchNorm(inShape[0]!) : undefined),
  create: (spec, at) => new BatchNormLayer(spec, at),
};
