/**
 * The one shape every layer has. A layer kind (dense, conv2d, …) is one module that
 * exports:
 *   - its spec type and builder (`dense(784, 10)`): a plain object saying what the layer is;
 *   - a `LayerKind`: the spec's checks and output shape, its tensors with PyTorch's names,
 *     its FLOPs, its `--arch` token, and `create()`, which makes the runtime `Layer`;
 *   - its `Layer` class: the wasm buffers it owns, forward, backward and initialisation.
 * `Sequential` only walks the list; `layers/index.ts` holds the table of kinds. Adding a
 * layer is one new module and one line in that table.
 */
import type { Engine } from "../../engine.js";
import { ShapeError } from "../../errors.js";
import type { KernelExports } from "../../runtime/abi.js";

export type InitName = "he" | "glorot" | "torch";
export const INIT_NAMES: readonly InitName[] = ["he", "glorot", "torch"];

/** A tensor shape without the batch dimension: [features], [channels, length] (signals) or [channels, height, width] (images). */
export type Shape = readonly number[];

/** One tensor a layer owns: "weight" and "bias" are trained; a buffer (e.g. "running_mean") is not. */
export interface TensorDecl {
  suffix: string;
  shape: number[];
  buffer: boolean;
}

/**
 * The model memory a layer works in. Pointers are byte offsets into wasm memory; a layer
 * finds its tensors at `paramsPtr + offset·4` (buffers: `buffersPtr`), their gradients at
 * `gradsPtr + offset·4`.
 */
export interface ModelMemory {
  /** Only `f32` (views for initialisation): an inference-only model (distill-wasm/infer) has no full Engine. */
  readonly engine: Pick<Engine, "f32">;
  readonly kernels: KernelExports;
  readonly paramsPtr: number;
  readonly gradsPtr: number;
  readonly buffersPtr: number;
  /** the model's PRNG state (weight draws, dropout masks) */
  readonly rngPtr: number;
  /** dense inference on fewer than 4 rows: the block of every dense weight packed into panels (rebuilt when stale), or 0 for none yet (gemm_nt on the weights: the same bits) */
  weightPanels(): number;
}

/**
 * Quantization-aware training of a dense or conv layer (../fake-quant.ts): while set, the
 * layer computes with its input and weight fake-quantized to the int8 grid, and lets the
 * gradients straight through them. Undefined (the default) for plain float training.
 */
export interface LayerFakeQuant {
  /** x (rows, inputs) → a pointer to its fake-quantized copy; a training pass first updates the observed range. */
  input(m: ModelMemory, x: number, rows: number, training: boolean): number;
  /** Fake-quantizes the current float weight per output channel; returns the pointer to the result (same layout). */
  quantizeWeight(m: ModelMemory): number;
  /** The last quantizeWeight result. */
  readonly quantizedWeight: number;
  /** The weight gradient, in place: zero where the weight fell outside the clamp range. */
  weightGradient(m: ModelMemory): void;
  /** dx (rows, inputs), in place: zero where the last input fell outside the clamp range. */
  inputGradient(m: ModelMemory, dx: number, rows: number): void;
}

/** What a kind needs to know about where a layer sits. */
export interface Placement {
  index: number;
  inShape: number[];
  outShape: number[];
}

export const sizeOf = (shape: Shape): number => shape.reduce((a, b) => a * b, 1);
export const showShape = (shape: Shape): string => `[${shape.join(", ")}]`;
/** Rounds up to a multiple of 4 floats (16 bytes); arithmetic, not bit operations, which wrap at 2^31. */
export const align4 = (n: number): number => Math.ceil(n / 4) * 4;

/** Throws a ShapeError unless v is an integer ≥ min. */
export function checkInteger(where: string, key: string, v: unknown, min: number): void {
  if (!Number.isSafeInteger(v) || (v as number) < min) throw new ShapeError(`${where}: ${key} must be an integer ≥ ${min}; got ${v}`);
}

/** Throws a ShapeError unless the layer before gives (channels, height, width) images. */
export function requireImage(where: string, inShape: Shape): asserts inShape is readonly [number, number, number] {
  if (inShape.length !== 3) {
    throw new ShapeError(
      `${where} takes (channels, height, width) images but the layer before it gives ${showShape(inShape)}; set inputShape: [channels, height, width] and keep convolutions and pooling before flatten()`,
    );
  }
}

/** Throws a ShapeError unless the layer before gives (channels, length) signals. */
export function requireSignal(where: string, inShape: Shape): asserts inShape is readonly [number, number] {
  if (inShape.length !== 2) {
    throw new ShapeError(
      `${where} takes (channels, length) signals but the layer before it gives ${showShape(inShape)}; set inputShape: [channels, length] and keep 1-D convolutions and pooling before flatten()`,
    );
  }
}

/**
 * A layer of a built model: the shapes it was placed with, the offsets of its tensors, the
 * wasm buffers it owns for a batch capacity, and its passes. Pointers are byte offsets
 * into wasm memory (0 = none); tensor offsets are in floats (−1 = none).
 */
export abstract class Layer {
  readonly index: number;
  /** shape of one sample in and out, and their flat widths */
  readonly inShape: number[];
  readonly outShape: number[];
  readonly inputs: number;
  readonly outputs: number;
  /** offsets (floats) of the trained weight and bias in the parameter block, −1 if none */
  weight = -1;
  bias = -1;
  /** set by each forward pass: the input it read and the output it gave */
  inPtr = 0;
  outPtr = 0;
  /** true when the layer holds trained parameters (backward stops below the first such layer) */
  readonly trainable: boolean = false;
  /** A dense or conv layer applies the ReLU that follows it in its own kernel call when this is set and keepPreActivation is not. */
  reluFollows = false;
  keepPreActivation = false;
  /** set by each forward pass: this layer applied the following ReLU */
  fusedRelu = false;
  /** Quantization-aware training (dense and conv2d only); undefined for float training. */
  fakeQuant: LayerFakeQuant | undefined = undefined;
  /** (rows, outputs) output buffer, allocated by `allocate` */
  protected out = 0;

  constructor(at: Placement) {
    this.index = at.index;
    this.inShape = at.inShape;
    this.outShape = at.outShape;
    this.inputs = sizeOf(at.inShape);
    this.outputs = sizeOf(at.outShape);
  }

  /** Called once per tensor of the kind's `tensors()`, with its offset in the parameter (or buffer) block. */
  placeTensor(suffix: string, offset: number): void {
    if (suffix === "weight") this.weight = offset;
    else if (suffix === "bias") this.bias = offset;
  }

  /** Floats of per-model scratch this layer needs between forward and backward (batchNorm's saved statistics). */
  statsLength(): number {
    return 0;
  }

  /** Where that scratch is (a pointer), once the model has allocated it. */
  placeStats(_ptr: number): void {}

  /** Draws or sets the layer's initial parameters (and buffers) from the model's PRNG. */
  initialise(_m: ModelMemory): void {}

  /**
   * Allocates the buffers for batches of up to `rows` rows with `take` (which records what
   * it gave, so that the model can free everything on failure); by default an output buffer.
   */
  allocate(rows: number, take: (bytes: number) => number): void {
    this.out = take(rows * this.outputs * 4);
  }

  /** Forgets the buffers (the model frees them). */
  release(): void {
    this.out = 0;
  }

  /** x (rows, inputs) at `input` → sets inPtr / outPtr and returns outPtr. */
  abstract forward(m: ModelMemory, input: number, rows: number, training: boolean): number;

  /**
   * g (rows, outputs), the gradient of the loss w.r.t. this layer's output (may be
   * overwritten) → writes the parameter gradients and returns the gradient w.r.t. the input.
   * `stop`: the caller needs no input gradient (return 0 after the parameter gradients).
   */
  abstract backward(m: ModelMemory, g: number, rows: number, stop: boolean): number;

  /** Scales each unit's incoming weights to an L2 norm ≤ limit (layers with hidden units). */
  applyMaxNorm(_m: ModelMemory, _limit: number): void {}
}

/** One kind of layer: what `Sequential`, model files and the CLI need to know about it. */
export interface LayerKind<S extends { type: string }> {
  /** Spec fields besides `type` that a model file may carry (others are dropped on load). */
  readonly fields: readonly string[];
  /** true when the layer needs image or signal inputs (a model without inputShape must start with a dense layer) */
  readonly takesImages?: boolean;
  /** true when the layer reads token ids (an embedding): it must be the model's first layer. */
  readonly takesTokens?: boolean;
  /** The input shape a first layer fixes by itself when the model has no inputShape (an embedding: [seqLen]). */
  inputShape?(spec: S): number[];
  /**
   * Checks a model's raw input rows (rows × inputs values) before any wasm call, for a
   * first layer whose kernel trusts its input's values (token ids used as row indices):
   * a typed error naming `op`, `name`, the row and the position.
   */
  checkInput?(spec: S, x: ArrayLike<number>, op: string, name: string): void;
  /** Checks the spec against the incoming shape (`where`: "Sequential: layer i") and returns the output shape. */
  outShape(spec: S, inShape: Shape, where: string): number[];
  /** The spec as stored in a model: defaults filled in (e.g. a conv kernel n → [n, n]). */
  normalise?(spec: S): S;
  /** The layer's tensors in state_dict order ("<index>.<suffix>"); their shapes follow from the spec alone. */
  tensors?(spec: S): TensorDecl[];
  /** Floating-point operations of one sample's forward pass. */
  flops(spec: S, inShape: Shape, outShape: Shape): number;
  /** The layer in an `--arch` string, given the shape it receives; undefined if it takes another form there. */
  token?(spec: S): string | undefined;
  /** Parses an `--arch` token given the shape flowing into it, or undefined if the token is not this kind's. */
  parseToken?(token: string, inShape: Shape): S | undefined;
  create(spec: S, at: Placement): Layer;
}
