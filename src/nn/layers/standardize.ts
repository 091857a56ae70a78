/**
 * Per-feature standardisation y = (x − mean) / std of flat inputs, as the first layer of
 * a model trained on standardised features: the saved model then takes raw feature
 * values. `mean` and `std` (features) are non-trained buffers in the model's buffer block
 * (saved with the model, out of the optimizer's reach); the layer has no parameters.
 * Backward gives only the input gradient dy / std, when one is asked for.
 */
import { OptionError, ShapeError } from "../../errors.js";
import { checkInteger, Layer, showShape, type LayerKind, type ModelMemory, type Placement } from "./layer.js";

export interface StandardizeSpec {
  type: "standardize";
  features: number;
  /** Initial buffer values (features each; std > 0): default mean 0 and std 1, the identity. A model file keeps them in its buffers. */
  mean?: readonly number[];
  std?: readonly number[];
}

/** A standardisation of `features` inputs; mean / std as fitted by `standardizer(data)`, or set later with setParameter("<i>.mean", …). */
export function standardize(features: number, values: { mean?: readonly number[]; std?: readonly number[] } = {}): StandardizeSpec {
  return { type: "standardize", features, ...(values.mean ? { mean: [...values.mean] } : {}), ...(values.std ? { std: [...values.std] } : {}) };
}

export class StandardizeLayer extends Layer {
  private readonly features: number;
  /** offsets (floats) of mean / std in the buffer block */
  private mean = -1;
  private std = -1;

  constructor(
    readonly spec: StandardizeSpec,
    at: Placement,
  ) {
    super(at);
    this.features = spec.features;
  }

  override placeTensor(suffix: string, offset: number): void {
    if (suffix === "mean") this.mean = offset;
    else if (suffix === "std") this.std = offset;
  }

  /** The spec's values, or mean 0 and std 1 (no random draws). */
  override initialise(m: ModelMemory): void {
    const f = this.features;
    const mean = m.engine.f32(m.buffersPtr + this.mean * 4, f);
    if (this.spec.mean) mean.set(this.spec.mean);
    else mean.fill(0);
    const std = m.engine.f32(m.buffersPtr + this.std * 4, f);
    if (this.spec.std) std.set(this.spec.std);
    else std.fill(1);
  }

  forward(m: ModelMemory, input: number, rows: number): number {
    this.inPtr = input;
    m.kernels.standardize_forward(this.out, input, m.buffersPtr + this.mean * 4, m.buffersPtr + this.std * 4, rows, this.features);
    this.outPtr = this.out;
    return this.out;
  }

  backward(m: ModelMemory, g: number, rows: number, stop: boolean): number {
    if (stop) return 0;
    // dx overwrites dy in place (the kernel allows the alias)
    m.kernels.standardize_backward(g, g, m.buffersPtr + this.std * 4, rows, this.features);
    return g;
  }
}

/** Checks optional initial values: `features` finite numbers (std: each > 0). */
function checkValues(at: string, name: string, values: unknown, features: number, positive: boolean): void {
  if (values === undefined) return;
  if (!Array.isArray(values) || values.length !== features) {
    throw new ShapeError(
      `${at}: ${name} must be an array of ${features} numbers (one per feature); got ${Array.isArray(values) ? `${values.length} values` : typeof values}`,
    );
  }
  const bad = values.findIndex((v) => typeof v !== "number" || !Number.isFinite(v) || (positive && !(v > 0)) || Math.abs(v) > 3.4028234663852886e38);
  if (bad >= 0) throw new OptionError(`${at}: ${name}[${bad}] = ${String(values[bad])} must be a finite float32 number${positive ? " > 0" : ""}`);
}

export const STANDARDIZE: LayerKind<StandardizeSpec> = {
  // The values are kept in the spec too (a model file's architecture), as the initial ones; the buffers hold the current ones.
  fields: ["features", "mean", "std"],
  outShape(spec, inShape, where) {
    const at = `${where} (standardize)`;
    checkInteger(at, "features", spec.features, 1);
    if (inShape.length !== 1 || inShape[0] !== spec.features) {
      throw new ShapeError(`${at} standardises ${spec.features} features but the layer before it gives ${showShape(inShape)}; it takes flat (features) inputs`);
    }
    checkValues(at, "mean", spec.mean, spec.features, false);
    checkValues(at, "std", spec.std, spec.features, true);
    return [spec.features];
  },
  tensors: (spec) => [
    { suffix: "mean", shape: [spec.features], buffer: true },
    { suffix: "std", shape: [spec.features], buffer: true },
  ],
  flops: (spec) => 2 * spec.features,
  token: () => "std",
  /** std: standardise every feature flowing in. */
  parseToken: (token, inShape) => (token === "std" && inShape.length === 1 ? standardize(inShape[0]!) : undefined),
  create: (spec, at) => new StandardizeLayer(spec, at),
};
