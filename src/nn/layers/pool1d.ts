/**
 * Max or average pooling over (channels, length) signals, like PyTorch's nn.MaxPool1d /
 * nn.AvgPool1d (count_include_pad). A window as long as the signal is the global average
 * pool of a classifier head (`--arch` token `gap1d`). Kernels: assembly/pool1d.ts.
 */
import { ShapeError } from "../../errors.js";
import { requireSignal, showShape, type LayerKind, type ModelMemory, type Placement } from "./layer.js";
import { checkWindow, PoolLayer, type WindowSpec } from "./pool-window.js";

export interface Pool1dSpec extends WindowSpec {
  type: "maxPool1d" | "avgPool1d";
}

export function maxPool1d(kernel: number, options: { stride?: number; padding?: number } = {}): Pool1dSpec {
  return { type: "maxPool1d", kernel, stride: options.stride ?? kernel, padding: options.padding ?? 0 };
}

export function avgPool1d(kernel: number, options: { stride?: number; padding?: number } = {}): Pool1dSpec {
  return { type: "avgPool1d", kernel, stride: options.stride ?? kernel, padding: options.padding ?? 0 };
}

export class Pool1dLayer extends PoolLayer {
  private readonly c: number;
  private readonly len: number;

  constructor(
    readonly spec: Pool1dSpec,
    at: Placement,
  ) {
    super(spec, at);
    [this.c, this.len] = at.inShape as [number, number];
  }

  forward(m: ModelMemory, input: number, rows: number): number {
    const k = m.kernels;
    this.inPtr = input;
    if (this.max) k.maxpool1d_forward(this.out, this.argmax, input, rows, this.c, this.len, this.k, this.stride, this.pad);
    else k.avgpool1d_forward(this.out, input, rows, this.c, this.len, this.k, this.stride, this.pad);
    this.outPtr = this.out;
    return this.out;
  }

  backward(m: ModelMemory, g: number, rows: number): number {
    const k = m.kernels;
    if (this.max) k.maxpool1d_backward(this.dInput, g, this.argmax, rows, this.c, this.len, this.k, this.stride, this.pad);
    else k.avgpool1d_backward(this.dInput, g, rows, this.c, this.len, this.k, this.stride, this.pad);
    return this.dInput;
  }
}

export const POOL1D: LayerKind<Pool1dSpec> = {
  fields: ["kernel", "stride", "padding"],
  takesImages: true,
  outShape(spec, inShape, where) {
    const at = `${where} (${spec.type})`;
    const { stride, pad } = checkWindow(at, spec);
    requireSignal(at, inShape);
    const [c, len] = inShape;
    if (len + 2 * pad < spec.kernel) {
      throw new ShapeError(`${at}: window ${spec.kernel} is longer than the padded signal ${len + 2 * pad} (input ${showShape(inShape)})`);
    }
    return [c, Math.floor((len + 2 * pad - spec.kernel) / stride) + 1];
  },
  flops: (spec, _inShape, outShape) => spec.kernel * outShape.reduce((a, b) => a * b, 1),
  token(spec) {
    const stride = spec.stride ?? spec.kernel,
      pad = spec.padding ?? 0;
    return `${spec.type === "maxPool1d" ? "max" : "avg"}pool1d${spec.kernel}${stride !== spec.kernel ? `s${stride}` : ""}${pad ? `p${pad}` : ""}`;
  },
  /** maxpool1dK[sS][pP] / avgpool1dK[sS][pP]: a window of K, stride S (default K), padding P (0); gap1d: the average over the whole length. */
  parseToken(token, inShape) {
    if (token === "gap1d") return inShape.length === 2 ? avgPool1d(inShape[1]!) : undefined;
    const m = /^(max|avg)pool1d(\d+)(?:s(\d+))?(?:p(\d+))?$/.exec(token);
    if (!m) return undefined;
    const kernel = Number(m[2]);
    const options = { stride: Number(m[3] ?? kernel), padding: Number(m[4] ?? 0) };
    return m[1] === "max" ? maxPool1d(kernel, options) : avgPool1d(kernel, options);
  },
  create: (spec, at) => new Pool1dLayer(spec, at),
};
