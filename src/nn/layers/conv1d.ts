/**
 * A 1-D convolution over (channels, length) signals, like PyTorch's nn.Conv1d (dilation 1,
 * groups 1, zero padding, with a bias): weight (outChannels, inChannels, kernel), bias
 * (outChannels). Kernels: conv1d_forward / conv1d_backward (assembly/conv1d.ts).
 */
import { OptionError, ShapeError } from "../../errors.js";
import { GEMM_RELU } from "../../runtime/abi.js";
import { drawWeights } from "./init.js";
import { checkInteger, INIT_NAMES, Layer, requireSignal, showShape, type InitName, type LayerKind, type ModelMemory, type Placement } from "./layer.js";

export interface Conv1dSpec {
  type: "conv1d";
  inChannels: number;
  outChannels: number;
  /** Kernel length. */
  kernel: number;
  /** default 1 */
  stride?: number;
  /** zeros on each end, default 0 */
  padding?: number;
  /** "torch" (default; nn.Conv1d's: weights and biases uniform ±1/√fan_in, fan_in = inChannels·kernel), "he" or "glorot" (biases 0). */
  init?: InitName;
}

export function conv1d(
  inChannels: number,
  outChannels: number,
  kernel: number,
  options: { stride?: number; padding?: number; init?: InitName } = {},
): Conv1dSpec {
  const { stride = 1, padding = 0, init } = options;
  return { type: "conv1d", inChannels, outChannels, kernel, stride, padding, ...(init !== undefined ? { init } : {}) };
}

export class Conv1dLayer extends Layer {
  override readonly trainable = true;
  // The spec's numbers, read once (see Conv2dLayer).
  private readonly c: number;
  private readonly len: number;
  private readonly k: number;
  private readonly stride: number;
  private readonly pad: number;
  private readonly outChannels: number;
  /** im2col work buffer: c·k · outLength floats (assembly/conv1d.ts) */
  private work = 0;
  private dInput = 0;

  constructor(
    readonly spec: Conv1dSpec,
    at: Placement,
  ) {
    super(at);
    [this.c, this.len] = at.inShape as [number, number];
    this.k = spec.kernel;
    this.stride = spec.stride ?? 1;
    this.pad = spec.padding ?? 0;
    this.outChannels = spec.outChannels;
  }

  override initialise(m: ModelMemory): void {
    drawWeights(m, this.spec.init, this.weight, this.bias, this.c * this.k, this.outChannels * this.k, this.outChannels);
  }

  override allocate(rows: number, take: (bytes: number) => number): void {
    super.allocate(rows, take);
    this.dInput = take(rows * this.inputs * 4);
    this.work = take(Math.max(this.c * this.k * this.outShape[1]!, 4) * 4);
  }

  override release(): void {
    super.release();
    this.dInput = this.work = 0;
  }

  forward(m: ModelMemory, input: number, rows: number): number {
    this.inPtr = input;
    this.fusedRelu = this.reluFollows && !this.keepPreActivation;
    m.kernels.conv1d_forward(
      this.out,
      input,
      m.paramsPtr + this.weight * 4,
      m.paramsPtr + this.bias * 4,
      this.work,
      rows,
      this.c,
      this.len,
      this.outChannels,
      this.k,
      this.stride,
      this.pad,
      this.fusedRelu ? GEMM_RELU : 0,
    );
    this.outPtr = this.out;
    return this.out;
  }

  backward(m: ModelMemory, g: number, rows: number, stop: boolean): number {
    m.kernels.conv1d_backward(
      stop ? 0 : this.dInput,
      m.gradsPtr + this.weight * 4,
      m.gradsPtr + this.bias * 4,
      g,
      this.inPtr,
      m.paramsPtr + this.weight * 4,
      this.work,
      rows,
      this.c,
      this.len,
      this.outChannels,
      this.k,
      this.stride,
      this.pad,
    );
    return stop ? 0 : this.dInput;
  }

  /** Each output channel's filter is one hidden unit's incoming weights. */
  override applyMaxNorm(m: ModelMemory, limit: number): void {
    m.kernels.max_norm_rows(m.paramsPtr + this.weight * 4, this.outChannels, this.c * this.k, limit);
  }
}

export const CONV1D: LayerKind<Conv1dSpec> = {
  fields: ["inChannels", "outChannels", "kernel", "stride", "padding", "init"],
  takesImages: true,
  outShape(spec, inShape, where) {
    const at = `${where} (conv1d)`;
    checkInteger(at, "inChannels", spec.inChannels, 1);
    checkInteger(at, "outChannels", spec.outChannels, 1);
    checkInteger(at, "kernel", spec.kernel, 1);
    const stride = spec.stride ?? 1,
      pad = spec.padding ?? 0;
    checkInteger(at, "stride", stride, 1);
    checkInteger(at, "padding", pad, 0);
    if (spec.init !== undefined && !INIT_NAMES.includes(spec.init)) {
      throw new OptionError(`${at}: init must be "he", "glorot" or "torch"; got ${JSON.stringify(spec.init)}`);
    }
    requireSignal(at, inShape);
    const [c, len] = inShape;
    if (c !== spec.inChannels) {
      throw new ShapeError(`${at} takes ${spec.inChannels} input channels but the layer before it gives ${c} (shape ${showShape(inShape)})`);
    }
    if (len + 2 * pad < spec.kernel) {
      throw new ShapeError(`${at}: kernel ${spec.kernel} is longer than the padded signal ${len + 2 * pad} (input ${showShape(inShape)}, padding ${pad})`);
    }
    return [spec.outChannels, Math.floor((len + 2 * pad - spec.kernel) / stride) + 1];
  },
  tensors: (spec) => [
    { suffix: "weight", shape: [spec.outChannels, spec.inChannels, spec.kernel], buffer: false },
    { suffix: "bias", shape: [spec.outChannels], buffer: false },
  ],
  flops: (spec, _inShape, outShape) => (2 * spec.inChannels * spec.kernel + 1) * outShape.reduce((a, b) => a * b, 1),
  token: (spec) => `conv1d${spec.outChannels}k${spec.kernel}s${spec.stride ?? 1}p${spec.padding ?? 0}`,
  /** conv1dN[kK][sS][pP]: N output channels, kernel K (default 3), stride S (1), padding P (0). */
  parseToken(token, inShape) {
    const m = /^conv1d(\d+)(?:k(\d+))?(?:s(\d+))?(?:p(\d+))?$/.exec(token);
    if (!m) return undefined;
    return conv1d(inShape[0]!, Number(m[1]), Number(m[2] ?? 3), { stride: Number(m[3] ?? 1), padding: Number(m[4] ?? 0) });
  },
  create: (spec, at) => new Conv1dLayer(spec, at),
};
