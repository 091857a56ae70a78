/** Max or average pooling over square windows (PyTorch's nn.MaxPool2d / nn.AvgPool2d, count_include_pad). */
import { ShapeError } from "../../errors.js";
import { checkInteger, Layer, requireImage, showShape, type LayerKind, type ModelMemory, type Placement } from "./layer.js";

export interface Pool2dSpec {
  type: "maxPool2d" | "avgPool2d";
  kernel: number;
  /** default: kernel */
  stride?: number;
  /** default 0; at most kernel / 2 */
  padding?: number;
}

export function maxPool2d(kernel: number, options: { stride?: number; padding?: number } = {}): Pool2dSpec {
  return { type: "maxPool2d", kernel, stride: options.stride ?? kernel, padding: options.padding ?? 0 };
}

export function avgPool2d(kernel: number, options: { stride?: number; padding?: number } = {}): Pool2dSpec {
  return { type: "avgPool2d", kernel, stride: options.stride ?? kernel, padding: options.padding ?? 0 };
}

export class Pool2dLayer extends Layer {
  private readonly max: boolean;
  private readonly c: number;
  private readonly h: number;
  private readonly w: number;
  private readonly k: number;
  private readonly stride: number;
  private readonly pad: number;
  /** maxPool: (rows, outputs) i32 index of each window's maximum, read by backward */
  private argmax = 0;
  private dInput = 0;

  constructor(
    readonly spec: Pool2dSpec,
    at: Placement,
  ) {
    super(at);
    this.max = spec.type === "maxPool2d";
    [this.c, this.h, this.w] = at.inShape as [number, number, number];
    this.k = spec.kernel;
    this.stride = spec.stride ?? spec.kernel;
    this.pad = spec.padding ?? 0;
  }

  override allocate(rows: number, take: (bytes: number) => number): void {
    super.allocate(rows, take);
    this.dInput = take(rows * this.inputs * 4);
    if (this.max) this.argmax = take(rows * this.outputs * 4);
  }

  override release(): void {
    super.release();
    this.dInput = this.argmax = 0;
  }

  forward(m: ModelMemory, input: number, rows: number): number {
    const k = m.kernels;
    this.inPtr = input;
    if (this.max) k.maxpool2d_forward(this.out, this.argmax, input, rows, this.c, this.h, this.w, this.k, this.stride, this.pad);
    else k.avgpool2d_forward(this.out, input, rows, this.c, this.h, this.w, this.k, this.stride, this.pad);
    this.outPtr = this.out;
    return this.out;
  }

  backward(m: ModelMemory, g: number, rows: number): number {
    const k = m.kernels;
    if (this.max) k.maxpool2d_backward(this.dInput, g, this.argmax, rows, this.c, this.h, this.w, this.k, this.stride, this.pad);
    else k.avgpool2d_backward(this.dInput, g, rows, this.c, this.h, this.w, this.k, this.stride, this.pad);
    return this.dInput;
  }
}

export const POOL2D: LayerKind<Pool2dSpec> = {
  fields: ["kernel", "stride", "padding"],
  takesImages: true,
  outShape(spec, inShape, where) {
    const at = `${where} (${spec.type})`;
    checkInteger(at, "kernel", spec.kernel, 1);
    const stride = spec.stride ?? spec.kernel,
      pad = spec.padding ?? 0;
    checkInteger(at, "stride", stride, 1);
    checkInteger(at, "padding", pad, 0);
    if (2 * pad > spec.kernel) throw new ShapeError(`${at}: padding ${pad} must be at most half the kernel ${spec.kernel}`);
    requireImage(at, inShape);
    const [c, h, w] = inShape;
    if (h + 2 * pad < spec.kernel || w + 2 * pad < spec.kernel) {
      throw new ShapeError(
        `${at}: window ${spec.kernel}×${spec.kernel} is larger than the padded input ${h + 2 * pad}×${w + 2 * pad} (input ${showShape(inShape)})`,
      );
    }
    return [c, Math.floor((h + 2 * pad - spec.kernel) / stride) + 1, Math.floor((w + 2 * pad - spec.kernel) / stride) + 1];
  },
  flops: (spec, _inShape, outShape) => spec.kernel * spec.kernel * outShape.reduce((a, b) => a * b, 1),
  token: (spec) => `${spec.type === "maxPool2d" ? "max" : "avg"}pool${spec.kernel}`,
  /** maxpoolK / avgpoolK: a K×K window, stride K. */
  parseToken(token) {
    const m = /^(max|avg)pool(\d+)$/.exec(token);
    if (!m) return undefined;
    return m[1] === "max" ? maxPool2d(Number(m[2])) : avgPool2d(Number(m[2]));
  },
  create: (spec, at) => new Pool2dLayer(spec, at),
};
