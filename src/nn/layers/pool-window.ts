/**
 * What max and average pooling share in 1-D and 2-D: the window's numbers (kernel, stride
 * defaulting to the kernel, padding at most half the kernel), their checks, and the buffers
 * a pooling layer keeps for backward (the input gradient; for max pooling the index of each
 * window's maximum). pool1d.ts and pool2d.ts add the shapes and the kernels.
 */
import { ShapeError } from "../../errors.js";
import { checkInteger, Layer, type Placement } from "./layer.js";

export interface WindowSpec {
  type: string;
  kernel: number;
  /** default: kernel */
  stride?: number;
  /** default 0; at most kernel / 2 */
  padding?: number;
}

/** The window's stride and padding with their defaults, after checking all three numbers. */
export function checkWindow(at: string, spec: WindowSpec): { stride: number; pad: number } {
  checkInteger(at, "kernel", spec.kernel, 1);
  const stride = spec.stride ?? spec.kernel;
  const pad = spec.padding ?? 0;
  checkInteger(at, "stride", stride, 1);
  checkInteger(at, "padding", pad, 0);
  if (2 * pad > spec.kernel) throw new ShapeError(`${at}: padding ${pad} must be at most half the kernel ${spec.kernel}`);
  return { stride, pad };
}

export abstract class PoolLayer extends Layer {
  protected readonly max: boolean;
  protected readonly k: number;
  protected readonly stride: number;
  protected readonly pad: number;
  /** max pooling: (rows, outputs) i32 index of each window's maximum, read by backward */
  protected argmax = 0;
  protected dInput = 0;

  constructor(spec: WindowSpec, at: Placement) {
    super(at);
    this.max = spec.type.startsWith("max");
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
}
