/** A fully connected layer y = x·Wᵀ + b, W (outputs, inputs), like PyTorch's nn.Linear. */
import { OptionError, ShapeError } from "../../errors.js";
import { GEMM_RELU } from "../../runtime/abi.js";
import { drawWeights } from "./init.js";
import { INIT_NAMES, Layer, showShape, type InitName, type LayerKind, type ModelMemory, type Placement } from "./layer.js";

export interface DenseSpec {
  type: "dense";
  inputs: number;
  outputs: number;
  /** "torch" (default; nn.Linear's: weights and biases uniform ±1/√inputs), "he" (normal, std √(2/inputs)) or "glorot" (uniform ±√(6/(inputs+outputs))), both with biases 0. */
  init?: InitName;
}

export function dense(inputs: number, outputs: number, options: { init?: InitName } = {}): DenseSpec {
  return { type: "dense", inputs, outputs, ...options };
}

/** Below this many rows, inference uses the weights packed into panels (ModelMemory.weightPanels). */
const SMALL_BATCH = 4;

export class DenseLayer extends Layer {
  override readonly trainable = true;
  /** offset (floats) of Wᵀ's panels in the model's panels block, −1 until the block is made */
  panels = -1;
  /** (rows, inputs) gradient w.r.t. the input */
  private dInput = 0;

  constructor(
    readonly spec: DenseSpec,
    at: Placement,
  ) {
    super(at);
  }

  override initialise(m: ModelMemory): void {
    drawWeights(m, this.spec.init, this.weight, this.bias, this.inputs, this.outputs, this.outputs);
  }

  override allocate(rows: number, take: (bytes: number) => number): void {
    super.allocate(rows, take);
    this.dInput = take(rows * this.inputs * 4);
  }

  override release(): void {
    super.release();
    this.dInput = 0;
  }

  /** Pointer to the (rows, inputs) buffer backward writes the input gradient to (0 before allocate). */
  get inputGradient(): number {
    return this.dInput;
  }

  forward(m: ModelMemory, input: number, rows: number, training: boolean): number {
    const k = m.kernels;
    const fq = this.fakeQuant;
    if (fq !== undefined) input = fq.input(m, input, rows, training);
    this.inPtr = input;
    this.fusedRelu = this.reluFollows && !this.keepPreActivation;
    const flags = this.fusedRelu ? GEMM_RELU : 0;
    const bias = m.paramsPtr + this.bias * 4;
    const block = !training && rows < SMALL_BATCH && fq === undefined ? m.weightPanels() : 0; // 0: no panels (yet); gemm_nt gives the same bits
    if (block) {
      const panels = block + this.panels * 4; // Wᵀ (inputs, outputs) as 16-column panels
      k.gemm_panels(this.out, input, panels, bias, rows, this.outputs, this.inputs, this.inputs, this.outputs, flags);
    } else {
      const weight = fq !== undefined ? fq.quantizeWeight(m) : m.paramsPtr + this.weight * 4;
      k.gemm_nt(this.out, input, weight, bias, rows, this.outputs, this.inputs, this.inputs, this.inputs, this.outputs, flags);
    }
    this.outPtr = this.out;
    return this.out;
  }

  backward(m: ModelMemory, g: number, rows: number, stop: boolean): number {
    const k = m.kernels;
    const fq = this.fakeQuant;
    // dW = gᵀ·x (outputs, inputs); db = column sums of g; dx = g·W (rows, inputs)
    // (with fake quantization: x and W are the fake-quantized ones, and both gradients pass straight through)
    k.gemm_tn(m.gradsPtr + this.weight * 4, g, this.inPtr, 0, this.outputs, this.inputs, rows, this.outputs, this.inputs, this.inputs, 0);
    if (fq !== undefined) fq.weightGradient(m);
    k.bias_grad(m.gradsPtr + this.bias * 4, g, rows, this.outputs, 0);
    if (stop) return 0;
    const weight = fq !== undefined ? fq.quantizedWeight : m.paramsPtr + this.weight * 4;
    k.gemm_nn(this.dInput, g, weight, 0, rows, this.inputs, this.outputs, this.outputs, this.inputs, this.inputs, 0);
    if (fq !== undefined) fq.inputGradient(m, this.dInput, rows);
    return this.dInput;
  }

  /** The output layer's units are the outputs, not hidden units: Sequential leaves the last dense layer out. */
  override applyMaxNorm(m: ModelMemory, limit: number): void {
    m.kernels.max_norm_rows(m.paramsPtr + this.weight * 4, this.outputs, this.inputs, limit);
  }

  /** Packs Wᵀ (inputs × outputs) from W stored (outputs, inputs) into the panels block at `block`. */
  packPanels(m: ModelMemory, block: number): void {
    m.kernels.pack_panels(block + this.panels * 4, m.paramsPtr + this.weight * 4, this.inputs, 1, this.inputs, this.outputs);
  }
}

export const DENSE: LayerKind<DenseSpec> = {
  fields: ["inputs", "outputs", "init"],
  outShape(spec, inShape, where) {
    for (const key of ["inputs", "outputs"] as const) {
      const v = spec[key];
      if (!Number.isSafeInteger(v) || v < 1) throw new ShapeError(`${where} (dense): ${key} must be a positive integer; got ${v}`);
    }
    if (inShape.length !== 1) {
      throw new ShapeError(
        `${where} (dense) takes ${spec.inputs} features but the layer before it gives a ${showShape(inShape)} image; add flatten() before it`,
      );
    }
    if (spec.inputs !== inShape[0]) {
      throw new ShapeError(`${where} (dense) takes ${spec.inputs} inputs but the layer before it gives ${inShape[0]}; widths must chain`);
    }
    if (spec.init !== undefined && !INIT_NAMES.includes(spec.init)) {
      throw new OptionError(`${where} (dense): init must be "he", "glorot" or "torch"; got ${JSON.stringify(spec.init)}`);
    }
    return [spec.outputs];
  },
  tensors: (spec) => [
    { suffix: "weight", shape: [spec.outputs, spec.inputs], buffer: false },
    { suffix: "bias", shape: [spec.outputs], buffer: false },
  ],
  flops: (spec) => 2 * spec.inputs * spec.outputs + spec.outputs,
  token: (spec) => String(spec.outputs),
  parseToken(token, inShape) {
    if (!/^\d+$/.test(token) || inShape.length !== 1) return undefined;
    return dense(inShape[0]!, Number(token));
  },
  create: (spec, at) => new DenseLayer(spec, at),
};
