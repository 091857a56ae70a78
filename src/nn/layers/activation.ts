/** Element-wise activations. A ReLU right after a dense or conv layer usually runs inside that layer's kernel call. */
import { OptionError } from "../../errors.js";
import { Layer, type LayerKind, type ModelMemory, type Placement } from "./layer.js";

export type ActivationName = "relu" | "leaky_relu" | "tanh" | "sigmoid" | "gelu";
export const ACTIVATIONS: readonly ActivationName[] = ["relu", "leaky_relu", "tanh", "sigmoid", "gelu"];

export interface ActivationSpec {
  type: "activation";
  name: ActivationName;
  /** Negative slope of leaky_relu (default 0.01). */
  slope?: number;
}

export function activation(name: ActivationName, options: { slope?: number } = {}): ActivationSpec {
  return { type: "activation", name, ...options };
}

export const relu = (): ActivationSpec => activation("relu");
export const leakyRelu = (slope = 0.01): ActivationSpec => activation("leaky_relu", { slope });
export const tanh = (): ActivationSpec => activation("tanh");
export const sigmoid = (): ActivationSpec => activation("sigmoid");
export const gelu = (): ActivationSpec => activation("gelu");

/** Kernel names per activation, looked up without building strings on every pass. */
const FORWARD = { relu: "relu_forward", tanh: "tanh_forward", sigmoid: "sigmoid_forward", gelu: "gelu_forward" } as const;
/** tanh and sigmoid differentiate from their output; gelu and leaky_relu from their input; relu from its output's sign. */
const BACKWARD = { tanh: "tanh_backward", sigmoid: "sigmoid_backward" } as const;
/** `--arch` tokens */
const TOKENS: Record<string, ActivationName> = { relu: "relu", tanh: "tanh", sigmoid: "sigmoid", gelu: "gelu", leakyrelu: "leaky_relu" };

export class ActivationLayer extends Layer {
  private readonly name: ActivationName;
  private readonly slope: number;
  /** The layer before, whose kernel may have applied this ReLU already (fusedRelu). */
  previous: Layer | undefined;

  constructor(
    readonly spec: ActivationSpec,
    at: Placement,
  ) {
    super(at);
    this.name = spec.name;
    this.slope = spec.slope ?? 0.01;
  }

  forward(m: ModelMemory, input: number, rows: number): number {
    const k = m.kernels;
    const n = rows * this.outputs;
    this.inPtr = input;
    if (this.name === "relu" && this.previous?.fusedRelu)
      this.outPtr = input; // already applied by the layer before
    else {
      this.outPtr = this.out;
      if (this.name === "leaky_relu") k.leaky_relu_forward(this.out, input, n, this.slope);
      else k[FORWARD[this.name]](this.out, input, n);
    }
    return this.outPtr;
  }

  /** In place: the gradient w.r.t. the input overwrites g. */
  backward(m: ModelMemory, g: number, rows: number): number {
    const k = m.kernels;
    const n = rows * this.outputs;
    if (this.name === "relu") k.relu_backward(g, g, this.outPtr, n);
    else if (this.name === "leaky_relu") k.leaky_relu_backward(g, g, this.inPtr, n, this.slope);
    else if (this.name === "gelu") k.gelu_backward(g, g, this.inPtr, n);
    else k[BACKWARD[this.name]](g, g, this.outPtr, n);
    return g;
  }

  /** A ReLU whose output in the last forward pass (of `rows` rows) was zero for every unit of every row: a dead layer. */
  isDead(m: ModelMemory, rows: number): boolean {
    return this.name === "relu" && m.kernels.count_nonzero(this.outPtr, rows * this.outputs) === 0;
  }
}

export const ACTIVATION: LayerKind<ActivationSpec> = {
  fields: ["name", "slope"],
  outShape(spec, inShape, where) {
    if (!ACTIVATIONS.includes(spec.name)) {
      throw new OptionError(`${where}: unknown activation ${JSON.stringify(spec.name)}; use one of ${ACTIVATIONS.join(", ")}`);
    }
    if (spec.slope !== undefined && !(spec.slope >= 0 && spec.slope < 1)) {
      throw new OptionError(`${where} (leaky_relu): slope must be in [0, 1); got ${spec.slope}`);
    }
    return [...inShape];
  },
  flops: (_spec, _inShape, outShape) => outShape.reduce((a, b) => a * b, 1),
  parseToken: (token) => (token in TOKENS ? activation(TOKENS[token]!) : undefined),
  create: (spec, at) => new ActivationLayer(spec, at),
};
