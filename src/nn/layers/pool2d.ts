/** Max or average pooling over square windows (PyTorch's nn.MaxPool2d / nn.AvgPool2d, count_include_pad). */
import { ShapeError } from "../../errors.js";
import { requireImage, showShape, type LayerKind, type ModelMemory, type Placement } from "./layer.js";
import { checkWindow, PoolLayer, type WindowSpec } from "./pool-window.js";

export interface Pool2dSpec extends WindowSpec {
  type: "maxPool2d" | "avgPool2d";
}

export function maxPool2d(kernel: number, options: { stride?: number; padding?: number } = {}): Pool2dSpec {
  return { type: "maxPool2d", kernel, stride: options.stride ?? kernel, padding: options.padding ?? 0 };
}

export function avgPool2d(kernel: number, options: { stride?: number; padding?: number } = {}): Pool2dSpec {
  return { type: "avgPool2d", kernel, stride: options.stride ?? kernel, padding: options.padding ?? 0 };
}

export class Pool2dLayer extends PoolLayer {
  private readonly c: number;
  private readonly h: number;
  private readonly w: number;

  constructor(
    readonly spec: Pool2dSpec,
    at: Placement,
  ) {
    super(spec, at);
    [this.c, this.h, this.w] = at.inShape as [number, number, number];
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
    const { stride, pad } = checkWindow(at, spec);
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
