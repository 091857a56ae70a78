/** (channels, height, width) → (channels·height·width), like nn.Flatten: NCHW rows are already flat, so it moves no data. */
import { Layer, type LayerKind, type Placement } from "./layer.js";

export interface FlattenSpec {
  type: "flatten";
}

export function flatten(): FlattenSpec {
  return { type: "flatten" };
}

export class FlattenLayer extends Layer {
  constructor(
    readonly spec: FlattenSpec,
    at: Placement,
  ) {
    super(at);
  }

  override allocate(): void {}

  forward(_m: unknown, input: number): number {
    this.inPtr = this.outPtr = input;
    return input;
  }

  backward(_m: unknown, g: number): number {
    return g;
  }
}

export const FLATTEN: LayerKind<FlattenSpec> = {
  fields: [],
  outShape: (_spec, inShape) => [inShape.reduce((a, b) => a * b, 1)],
  flops: () => 0,
  token: () => "flatten",
  parseToken: (token) => (token === "flatten" ? flatten() : undefined),
  create: (spec, at) => new FlattenLayer(spec, at),
};
