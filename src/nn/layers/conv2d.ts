/**
 * A 2-D convolution over NCHW inputs, like PyTorch's nn.Conv2d (dilation 1, groups 1, zero
 * padding, with a bias): weight (outChannels, inChannels, kh, kw), bias (outChannels).
 */
import { OptionError, ShapeError } from "../../errors.js";
import { GEMM_RELU } from "../../runtime/abi.js";
import { drawWeights } from "./init.js";
import { checkInteger, INIT_NAMES, Layer, requireImage, showShape, type InitName, type LayerKind, type ModelMemory, type Placement } from "./layer.js";

export interface Conv2dSpec {
  type: "conv2d";
  inChannels: number;
  outChannels: number;
  /** [kh, kw] (a number n in a hand-written spec means [n, n]). */
  kernel: [number, number] | number;
  stride?: number;
  padding?: number;
  /** "torch" (default; nn.Conv2d's: weights and biases uniform ±1/√fan_in, fan_in = inChannels·kh·kw), "he" (normal, std √(2/fan_in)) or "glorot" (uniform over fan_in + fan_out), both with biases 0. */
  init?: InitName;
}

export function conv2d(
  inChannels: number,
  outChannels: number,
  kernel: number | readonly [number, number],
  options: { stride?: number; padding?: number; init?: InitName } = {},
): Conv2dSpec {
  const k: [number, number] = typeof kernel === "number" ? [kernel, kernel] : [kernel[0], kernel[1]];
  const { stride = 1, padding = 0, init } = options;
  return { type: "conv2d", inChannels, outChannels, kernel: k, stride, padding, ...(init !== undefined ? { init } : {}) };
}

/** [kh, kw] of a conv spec. */
export function kernelOf(spec: Conv2dSpec): [number, number] {
  return typeof spec.kernel === "number" ? [spec.kernel, spec.kernel] : [spec.kernel[0], spec.kernel[1]];
}

export class Conv2dLayer extends Layer {
  override readonly trainable = true;
  // The spec's numbers, read once: a step reads them from this one object shape (a double
  // read through differently shaped spec objects is boxed, i.e. allocated, on every pass).
  private readonly c: number;
  private readonly h: number;
  private readonly w: number;
  private readonly kh: number;
  private readonly kw: number;
  private readonly stride: number;
  private readonly pad: number;
  private readonly outChannels: number;
  /** im2col work buffer: cin·kh·kw · oh·ow floats (assembly/conv.ts) */
  private work = 0;
  private dInput = 0;

  constructor(
    readonly spec: Conv2dSpec,
    at: Placement,
  ) {
    super(at);
    [this.c, this.h, this.w] = at.inShape as [number, number, number];
    [this.kh, this.kw] = kernelOf(spec);
    this.stride = spec.stride ?? 1;
    this.pad = spec.padding ?? 0;
    this.outChannels = spec.outChannels;
  }

  override initialise(m: ModelMemory): void {
    const fanIn = this.c * this.kh * this.kw;
    drawWeights(m, this.spec.init, this.weight, this.bias, fanIn, this.outChannels * this.kh * this.kw, this.outChannels);
  }

  override allocate(rows: number, take: (bytes: number) => number): void {
    super.allocate(rows, take);
    this.dInput = take(rows * this.inputs * 4);
    this.work = take(Math.max(this.c * this.kh * this.kw * this.outShape[1]! * this.outShape[2]!, 4) * 4);
  }

  override release(): void {
    super.release();
    this.dInput = this.work = 0;
  }

  forward(m: ModelMemory, input: number, rows: number, training: boolean): number {
    const fq = this.fakeQuant;
    if (fq !== undefined) input = fq.input(m, input, rows, training);
    this.inPtr = input;
    this.fusedRelu = this.reluFollows && !this.keepPreActivation;
    m.kernels.conv2d_forward(
      this.out,
      input,
      fq !== undefined ? fq.quantizeWeight(m) : m.paramsPtr + this.weight * 4,
      m.paramsPtr + this.bias * 4,
      this.work,
      rows,
      this.c,
      this.h,
      this.w,
      this.outChannels,
      this.kh,
      this.kw,
      this.stride,
      this.pad,
      this.fusedRelu ? GEMM_RELU : 0,
    );
    this.outPtr = this.out;
    return this.out;
  }

  backward(m: ModelMemory, g: number, rows: number, stop: boolean): number {
    // With fake quantization: the input and weight were the fake-quantized ones, and both gradients pass straight through.
    const fq = this.fakeQuant;
    m.kernels.conv2d_backward(
      stop ? 0 : this.dInput,
      m.gradsPtr + this.weight * 4,
      m.gradsPtr + this.bias * 4,
      g,
      this.inPtr,
      fq !== undefined ? fq.quantizedWeight : m.paramsPtr + this.weight * 4,
      this.work,
      rows,
      this.c,
      this.h,
      this.w,
      this.outChannels,
      this.kh,
      this.kw,
      this.stride,
      this.pad,
    );
    if (fq !== undefined) {
      fq.weightGradient(m);
      if (!stop) fq.inputGradient(m, this.dInput, rows);
    }
    return stop ? 0 : this.dInput;
  }

  /** Each output channel's filter is one hidden unit's incoming weights. */
  override applyMaxNorm(m: ModelMemory, limit: number): void {
    m.kernels.max_norm_rows(m.paramsPtr + this.weight * 4, this.outChannels, this.c * this.kh * this.kw, limit);
  }
}

export const CONV2D: LayerKind<Conv2dSpec> = {
  fields: ["inChannels", "outChannels", "kernel", "stride", "padding", "init"],
  takesImages: true,
  outShape(spec, inShape, where) {
    const at = `${where} (conv2d)`;
    checkInteger(at, "inChannels", spec.inChannels, 1);
    checkInteger(at, "outChannels", spec.outChannels, 1);
    const k = typeof spec.kernel === "number" ? [spec.kernel, spec.kernel] : spec.kernel;
    if (!Array.isArray(k) || k.length !== 2) throw new ShapeError(`${at}: kernel must be a number or [kh, kw]; got ${JSON.stringify(spec.kernel)}`);
    checkInteger(at, "kernel height", k[0], 1);
    checkInteger(at, "kernel width", k[1], 1);
    const stride = spec.stride ?? 1,
      pad = spec.padding ?? 0;
    checkInteger(at, "stride", stride, 1);
    checkInteger(at, "padding", pad, 0);
    if (spec.init !== undefined && !INIT_NAMES.includes(spec.init)) {
      throw new OptionError(`${at}: init must be "he", "glorot" or "torch"; got ${JSON.stringify(spec.init)}`);
    }
    requireImage(at, inShape);
    const [c, h, w] = inShape;
    if (c !== spec.inChannels) {
      throw new ShapeError(`${at} takes ${spec.inChannels} input channels but the layer before it gives ${c} (shape ${showShape(inShape)})`);
    }
    if (h + 2 * pad < k[0]! || w + 2 * pad < k[1]!) {
      throw new ShapeError(
        `${at}: kernel ${k[0]}×${k[1]} is larger than the padded input ${h + 2 * pad}×${w + 2 * pad} (input ${showShape(inShape)}, padding ${pad})`,
      );
    }
    return [spec.outChannels, Math.floor((h + 2 * pad - k[0]!) / stride) + 1, Math.floor((w + 2 * pad - k[1]!) / stride) + 1];
  },
  normalise: (spec) => ({ ...spec, kernel: kernelOf(spec) }),
  tensors(spec) {
    const [kh, kw] = kernelOf(spec);
    return [
      { suffix: "weight", shape: [spec.outChannels, spec.inChannels, kh, kw], buffer: false },
      { suffix: "bias", shape: [spec.outChannels], buffer: false },
    ];
  },
  flops(spec, _inShape, outShape) {
    const [kh, kw] = kernelOf(spec);
    return (2 * spec.inChannels * kh * kw + 1) * outShape.reduce((a, b) => a * b, 1);
  },
  token: (spec) => `conv${spec.outChannels}`,
  /** convN[kK][sS][pP]: N output channels, kernel K (default 3), stride S (1), padding P (0). */
  parseToken(token, inShape) {
    const m = /^conv(\d+)(?:k(\d+))?(?:s(\d+))?(?:p(\d+))?$/.exec(token);
    if (!m) return undefined;
    return conv2d(inShape[0]!, Number(m[1]), Number(m[2] ?? 3), { stride: Number(m[3] ?? 1), padding: Number(m[4] ?? 0) });
  },
  create: (spec, at) => new Conv2dLayer(spec, at),
};
