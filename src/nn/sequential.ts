/**
 * A sequential network whose parameters, gradients and activations live in wasm memory.
 *
 * Parameters sit in one flat f32 block (each tensor starting on a 16-byte boundary), and
 * so do their gradients, so that an optimizer step or a gradient-norm clip is one kernel
 * call. Names follow PyTorch's nn.Sequential state_dict: "<layer index>.weight" is
 * (outputs, inputs) and "<layer index>.bias" is (outputs).
 *
 * A dense layer followed by ReLU runs as one GEMM with the ReLU fused into its epilogue,
 * and a conv2d layer followed by ReLU as one conv2d_forward call with CONV_RELU.
 *
 * Images are NCHW: a sample of shape [channels, height, width] is one row of
 * channels·height·width floats, so every layer's activations are still a (rows, width)
 * buffer. Conv weights are (out, in, kh, kw) as PyTorch's nn.Conv2d.
 *
 * Non-trained buffers (batchNorm's running_mean / running_var) live in a separate buffer
 * block (`buffersPtr`, `bufferLength` floats): the optimizer, gradient clipping and the
 * gradient block only ever see the `blockLength` trainable floats, so weight decay or
 * momentum can never touch the running statistics. `parameterBlock()` returns both blocks
 * one after the other (blockLength + bufferLength floats) and `setParameterBlock()` takes
 * either length, so checkpoints carry the running statistics; `saveParametersTo(ptr)`
 * copies the trainable block to ptr and copies the buffers to a wasm block kept for that
 * ptr, which `loadParametersFrom(ptr)` restores with it (the training loop's snapshots;
 * `forgetSnapshot(ptr)` frees that block).
 */
import type { Engine } from "../engine.js";
import { ArgumentError, ShapeError } from "../errors.js";
import { getEngine } from "../init.js";
import { GEMM_RELU } from "../runtime/abi.js";
import { checkedElsewhere, checkOptions, type Schema } from "../options/schema.js";
import { requireArray, requireFinite, requireTemperature, rowsOf, type FloatArray } from "../validate.js";
import { inferShapes, kernelOf, layerTensors, type InitName, type LayerSpec, type Shape } from "./layers.js";

export interface SequentialOptions {
  /** Seed of the model's PRNG: weight initialisation and dropout masks (default 0). */
  seed?: number;
  engine?: Engine;
  /**
   * Shape of one input sample: [channels, height, width] for image models (rows of x are
   * then NCHW-flattened images), or [features]. Default: [inputs of the first dense layer].
   */
  inputShape?: Shape;
}

export const SEQUENTIAL_SCHEMA: Schema = { seed: checkedElsewhere, engine: checkedElsewhere, inputShape: checkedElsewhere };

export interface NamedParameter {
  /** "<layer index>.weight" or "<layer index>.bias" (buffers: ".running_mean", ".running_var") */
  name: string;
  /** [outputs, inputs] for a dense weight, [out, in, kh, kw] for a conv weight, [outputs] for a bias */
  shape: number[];
  /** Offset in floats within the flat parameter block (the buffer block for a buffer). */
  offset: number;
  length: number;
  /** true for a non-trained buffer (namedBuffers()); absent for parameters */
  buffer?: boolean;
}

/** Per-layer runtime state. Pointers are byte offsets into wasm memory (0 = none). */
interface LayerState {
  spec: LayerSpec;
  inputs: number;
  outputs: number;
  /** shape of one sample in and out: [features] or [channels, height, width] */
  inShape: number[];
  outShape: number[];
  /** conv: im2col work buffer; maxPool: argmax (i32); batchNorm: offsets (floats) of the running stats in the buffer block and of the saved batch mean / invstd in the stats block */
  work: number;
  argmax: number;
  runMean: number;
  runVar: number;
  saved: number;
  /** batchNorm: the last forward used batch statistics */
  trained: boolean;
  /** dense: offsets (floats) of weight and bias in the parameter block, and of W's panels in the panels block */
  weight: number;
  bias: number;
  panels: number;
  /** (capacity, outputs) output buffer; (capacity, inputs) input-gradient buffer (dense) or mask (dropout) */
  out: number;
  dInput: number;
  mask: number;
  /** set by each forward pass */
  inPtr: number;
  outPtr: number;
  fusedRelu: boolean;
  dropped: boolean;
  /**
   * The spec's numbers, read once at construction: a step reads them from this one object
   * shape, never from the differently shaped spec objects (a double read through such a
   * polymorphic load is boxed, i.e. allocated, on every pass).
   */
  numbers: LayerNumbers;
}

/** Numbers a layer's kernels take, resolved from its spec and input shape (0 where unused). */
interface LayerNumbers {
  /** conv / pool: input channels, height, width; kernel height and width; stride; padding */
  c: number;
  h: number;
  w: number;
  kh: number;
  kw: number;
  stride: number;
  pad: number;
  /** dropout: drop probability; leaky_relu: negative slope; batchNorm: momentum and eps */
  p: number;
  slope: number;
  momentum: number;
  eps: number;
}

/** The numbers of one layer (see LayerNumbers). */
function layerNumbers(spec: LayerSpec, inShape: readonly number[]): LayerNumbers {
  const n: LayerNumbers = { c: 0, h: 0, w: 0, kh: 0, kw: 0, stride: 0, pad: 0, p: 0, slope: 0, momentum: 0, eps: 0 };
  if (inShape.length === 3) [n.c, n.h, n.w] = inShape as [number, number, number];
  if (spec.type === "conv2d") {
    [n.kh, n.kw] = kernelOf(spec);
    n.stride = spec.stride ?? 1;
    n.pad = spec.padding ?? 0;
  } else if (spec.type === "maxPool2d" || spec.type === "avgPool2d") {
    n.kh = n.kw = spec.kernel;
    n.stride = spec.stride ?? spec.kernel;
    n.pad = spec.padding ?? 0;
  } else if (spec.type === "dropout") {
    n.p = spec.p;
  } else if (spec.type === "activation") {
    n.slope = spec.slope ?? 0.01;
  } else if (spec.type === "batchNorm") {
    n.momentum = spec.momentum ?? 0.1;
    n.eps = spec.eps ?? 1e-5;
  }
  return n;
}

const INFERENCE_CHUNK = 256;
/** Kernel names per activation, looked up without building strings on every pass. */
const FORWARD = { relu: "relu_forward", tanh: "tanh_forward", sigmoid: "sigmoid_forward", gelu: "gelu_forward" } as const;
const BACKWARD = { tanh: "tanh_backward", sigmoid: "sigmoid_backward" } as const;
/** Below this many rows, inference uses the weights packed into panels (see weightPanels). */
const SMALL_BATCH = 4;
/** Rounds up to a multiple of 4 floats (16 bytes); arithmetic, not bit operations, which wrap at 2^31. */
const align4 = (n: number) => Math.ceil(n / 4) * 4;

export class Sequential {
  readonly engine: Engine;
  readonly specs: readonly LayerSpec[];
  /** Width of the input and of the output (the number of classes for a classifier). */
  readonly inputs: number;
  readonly outputs: number;
  /** Number of trainable values (weights and biases). */
  readonly parameterCount: number;
  /** Floats in the flat parameter block (parameterCount plus alignment padding). */
  readonly blockLength: number;
  /** Pointers to the flat parameter and gradient blocks and to the model's PRNG state. */
  readonly paramsPtr: number;
  readonly gradsPtr: number;
  readonly rngPtr: number;
  private readonly layers: LayerState[];
  /** Index of the first layer with parameters: backward stops there unless the input gradient is wanted. */
  private readonly firstDense: number;
  /** Shape of one input sample ([features] or [channels, height, width]). */
  readonly inputShape: readonly number[];
  /** Floats in the non-trained buffer block (batchNorm running statistics; 0 if none). */
  readonly bufferLength: number;
  /** Pointer to the buffer block (0 if there are no buffers). */
  readonly buffersPtr: number;
  /** Saved batch mean / invstd of the batchNorm layers (0 if none). */
  private readonly statsPtr: number;
  private readonly buffers: NamedParameter[];
  /**
   * Snapshot ptr → wasm copy (bufferLength floats) of the buffers saved with it by
   * saveParametersTo(ptr), restored by loadParametersFrom(ptr). In wasm so that a training
   * step's snapshot allocates nothing on the JS heap.
   */
  private readonly bufferSnapshots = new Map<number, number>();
  private readonly named: NamedParameter[];
  private capacity = 0;
  private inputBuffer = 0;
  private disposed = false;
  /** The function whose training run holds the model (train, distill), if one does. */
  private trainingBy: string | undefined;
  /** Dense layers whose pre-activation output must stay observable (no fused ReLU). */
  private readonly unfused = new Set<number>();
  /**
   * Inference on fewer than 4 rows runs y = x·Wᵀ with gemm_panels on a copy of the weights
   * packed into contiguous 16-column panels of Wᵀ (same products in the same order, so the
   * same bits, streamed from memory in order instead of packed on every call). The copy is
   * rebuilt when the parameters changed since it was made.
   */
  private panelsBlock = 0;
  private parametersVersion = 0;
  private panelsVersion = -1;

  constructor(specs: readonly LayerSpec[], given: SequentialOptions = {}) {
    const options = checkOptions("Sequential", SEQUENTIAL_SCHEMA, given);
    const { inputs, widths, shapes, inputShape } = inferShapes(specs, options.inputShape);
    this.engine = options.engine ?? getEngine();
    this.specs = specs.map((s) => {
      const copy = { ...s };
      if (copy.type === "conv2d") copy.kernel = kernelOf(copy);
      return copy;
    });
    this.inputs = inputs;
    this.inputShape = inputShape;
    this.outputs = widths[widths.length - 1]!;
    this.named = [];
    this.buffers = [];
    const tensors = layerTensors(this.specs);
    let offset = 0;
    let bufferOffset = 0;
    let statsOffset = 0;
    let width = inputs;
    let shape = inputShape;
    this.layers = this.specs.map((spec, i) => {
      const state: LayerState = {
        spec, inputs: width, outputs: widths[i]!, inShape: shape, outShape: shapes[i]!,
        work: 0, argmax: 0, runMean: -1, runVar: -1, saved: -1, trained: false,
        weight: -1, bias: -1, panels: -1,
        out: 0, dInput: 0, mask: 0, inPtr: 0, outPtr: 0, fusedRelu: false, dropped: false,
        numbers: layerNumbers(spec, shape),
      };
      for (const t of tensors) {
        if (t.layer !== i) continue;
        const length = t.shape.reduce((a, b) => a * b, 1);
        const kind = t.name.slice(t.name.indexOf(".") + 1);
        if (t.buffer) {
          this.buffers.push({ name: t.name, shape: t.shape, offset: bufferOffset, length, buffer: true });
          if (kind === "running_mean") state.runMean = bufferOffset;
          else state.runVar = bufferOffset;
          bufferOffset = align4(bufferOffset + length);
        } else {
          this.named.push({ name: t.name, shape: t.shape, offset, length });
          if (kind === "weight") state.weight = offset;
          else state.bias = offset;
          offset = align4(offset + length);
        }
      }
      if (spec.type === "batchNorm") {
        state.saved = statsOffset;
        statsOffset += 2 * align4(spec.channels);
      }
      width = widths[i]!;
      shape = shapes[i]!;
      return state;
    });
    this.blockLength = Math.max(offset, 4);
    this.bufferLength = bufferOffset;
    this.firstDense = this.layers.findIndex((l) => l.spec.type === "dense" || l.spec.type === "conv2d" || l.spec.type === "batchNorm");
    this.parameterCount = this.named.reduce((n, p) => n + p.length, 0);
    const e = this.engine;
    // All or nothing: a model too large for memory gives back what it took before throwing.
    const taken: number[] = [];
    const take = (bytes: number) => {
      const p = e.allocOwned(bytes);
      taken.push(p);
      return p;
    };
    try {
      this.paramsPtr = take(this.blockLength * 4);
      this.gradsPtr = take(this.blockLength * 4);
      this.rngPtr = take(16);
      this.buffersPtr = bufferOffset > 0 ? take(bufferOffset * 4) : 0;
      this.statsPtr = statsOffset > 0 ? take(statsOffset * 4) : 0;
    } catch (err) {
      for (const p of taken) e.free(p);
      throw err;
    }
    e.kernels.zero_bytes(this.paramsPtr, this.blockLength * 4);
    e.kernels.zero_bytes(this.gradsPtr, this.blockLength * 4);
    if (this.buffersPtr) e.kernels.zero_bytes(this.buffersPtr, bufferOffset * 4);
    if (this.statsPtr) e.kernels.zero_bytes(this.statsPtr, statsOffset * 4);
    const seed = options.seed ?? 0;
    e.kernels.rng_seed(this.rngPtr, seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0);
    this.initialise();
  }

  /**
   * Draws every weight from the model's PRNG, layer by layer: "torch" (the default:
   * PyTorch's nn.Linear / nn.Conv2d default, weights and then biases uniform ±1/√fan_in),
   * "he" (normal, std √(2/fan_in)) or "glorot" (uniform ±√(6/(fan_in + fan_out))), both
   * with biases 0. Conv layers use fan_in = in·kh·kw and fan_out = out·kh·kw. batchNorm:
   * γ = 1, β = 0, running_mean = 0, running_var = 1 (no random draws).
   *
   * Why "torch" by default: on Hinton et al.'s MNIST recipe (T = 20, momentum SGD) He's
   * larger weights meet T²-scaled soft gradients and can kill every ReLU in the first
   * epoch; PyTorch's smaller uniform weights train there, and are what users of PyTorch
   * files expect (docs/hinton-mnist.md has the measurements).
   */
  private initialise(): void {
    for (const l of this.layers) {
      if (l.spec.type === "conv2d") {
        const [kh, kw] = kernelOf(l.spec);
        const fanIn = l.spec.inChannels * kh * kw;
        this.drawLayer(l.spec.init, l.weight, l.bias, fanIn, l.spec.outChannels * kh * kw, l.spec.outChannels);
      } else if (l.spec.type === "batchNorm") {
        this.engine.f32(this.paramsPtr + l.weight * 4, l.spec.channels).fill(1);
        this.engine.f32(this.buffersPtr + l.runVar * 4, l.spec.channels).fill(1);
      } else if (l.spec.type === "dense") {
        this.drawLayer(l.spec.init, l.weight, l.bias, l.inputs, l.outputs, l.outputs);
      }
    }
  }

  /** Draws one layer's weights (outputs × fanIn values at offset `weight`) and, for "torch", its biases. */
  private drawLayer(init: InitName | undefined, weight: number, bias: number, fanIn: number, fanOut: number, outputs: number): void {
    const k = this.engine.kernels;
    const w = this.paramsPtr + weight * 4;
    const n = fanIn * outputs;
    if (init === "glorot") {
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      k.rng_uniform(this.rngPtr, w, n, -limit, limit);
    } else if (init === "he") {
      k.rng_normal(this.rngPtr, w, n, 0, Math.sqrt(2 / fanIn));
    } else {
      const limit = 1 / Math.sqrt(fanIn);
      k.rng_uniform(this.rngPtr, w, n, -limit, limit);
      k.rng_uniform(this.rngPtr, this.paramsPtr + bias * 4, outputs, -limit, limit);
    }
  }

  // ---------------------------------------------------------------- size facts

  /** Bytes of the trainable values as float32. */
  get parameterBytes(): number {
    return this.parameterCount * 4;
  }

  /**
   * Floating-point operations of one forward pass per sample: 2·in·out + out per dense
   * layer, 1 per activation value, 2·(in·kh·kw)·out + out per conv output position, k² per
   * pooled output, 2 per batch-normalised value.
   */
  get flopsPerSample(): number {
    let flops = 0;
    for (const l of this.layers) {
      const spec = l.spec;
      if (spec.type === "dense") flops += 2 * l.inputs * l.outputs + l.outputs;
      else if (spec.type === "activation") flops += l.outputs;
      else if (spec.type === "conv2d") {
        const [kh, kw] = kernelOf(spec);
        flops += (2 * spec.inChannels * kh * kw + 1) * l.outputs;
      } else if (spec.type === "maxPool2d" || spec.type === "avgPool2d") flops += spec.kernel * spec.kernel * l.outputs;
      else if (spec.type === "batchNorm") flops += 2 * l.outputs;
    }
    return flops;
  }

  /** Layer index → shape of one sample of that layer's output ([features] or [c, h, w]). */
  layerShape(index: number): number[] {
    this.ensureLayerIndex(index);
    return [...this.layers[index]!.outShape];
  }

  /** Layer index → width of that layer's output. */
  layerWidth(index: number): number {
    this.ensureLayerIndex(index);
    return this.layers[index]!.outputs;
  }

  get layerCount(): number {
    return this.layers.length;
  }

  // ---------------------------------------------------------------- buffers

  /** Makes room for batches of up to `rows` (reallocating the activation buffers if needed). */
  reserve(rows: number): void {
    this.ensureAlive();
    if (rows <= this.capacity) return;
    this.freeBuffers();
    try {
      this.allocateBuffers(rows);
    } catch (err) {
      this.freeBuffers(); // all or nothing: after an out-of-memory error the model holds no half-made buffers
      throw err;
    }
  }

  private allocateBuffers(rows: number): void {
    const e = this.engine;
    for (const l of this.layers) {
      const t = l.spec.type;
      if (t !== "flatten") l.out = e.allocOwned(rows * l.outputs * 4);
      if (t === "dense" || t === "conv2d" || t === "maxPool2d" || t === "avgPool2d") l.dInput = e.allocOwned(rows * l.inputs * 4);
      if (t === "dropout") l.mask = e.allocOwned(rows * l.outputs * 4);
      if (t === "maxPool2d") l.argmax = e.allocOwned(rows * l.outputs * 4);
      if (l.spec.type === "conv2d") {
        const [kh, kw] = kernelOf(l.spec);
        // cin·kh·kw · oh·ow floats (assembly/conv.ts)
        l.work = e.allocOwned(Math.max(l.spec.inChannels * kh * kw * l.outShape[1]! * l.outShape[2]!, 4) * 4);
      }
    }
    this.inputBuffer = e.allocOwned(rows * this.inputs * 4);
    this.capacity = rows;
  }

  get batchCapacity(): number {
    return this.capacity;
  }

  private freeBuffers(): void {
    const e = this.engine;
    for (const l of this.layers) {
      for (const key of ["out", "dInput", "mask", "work", "argmax"] as const) {
        if (l[key]) e.free(l[key]);
        l[key] = 0;
      }
    }
    if (this.inputBuffer) e.free(this.inputBuffer);
    this.inputBuffer = 0;
    this.capacity = 0;
  }

  // ---------------------------------------------------------------- forward / backward (pointers)

  /**
   * x (rows, inputs) → output (rows, outputs); returns the output pointer (valid until the
   * next forward). rows ≤ batchCapacity. training: dropout active.
   */
  forward(x: number, rows: number, training: boolean): number {
    this.ensureAlive();
    const k = this.engine.kernels;
    let input = x;
    for (let i = 0; i < this.layers.length; i++) {
      const l = this.layers[i]!;
      const spec = l.spec;
      l.inPtr = input;
      l.fusedRelu = false;
      l.dropped = false;
      if (spec.type === "dense") {
        const next = this.layers[i + 1]?.spec;
        l.fusedRelu = next?.type === "activation" && next.name === "relu" && !this.unfused.has(i);
        const flags = l.fusedRelu ? GEMM_RELU : 0;
        const bias = this.paramsPtr + l.bias * 4;
        if (!training && rows < SMALL_BATCH) {
          const panels = this.weightPanels() + l.panels * 4; // Wᵀ (inputs, outputs) as 16-column panels
          k.gemm_panels(l.out, input, panels, bias, rows, l.outputs, l.inputs, l.inputs, l.outputs, flags);
        } else {
          k.gemm_nt(l.out, input, this.paramsPtr + l.weight * 4, bias, rows, l.outputs, l.inputs, l.inputs, l.inputs, l.outputs, flags);
        }
        l.outPtr = l.out;
      } else if (spec.type === "conv2d") {
        const next = this.layers[i + 1]?.spec;
        l.fusedRelu = next?.type === "activation" && next.name === "relu" && !this.unfused.has(i);
        const geo = l.numbers;
        k.conv2d_forward(
          l.out, input, this.paramsPtr + l.weight * 4, this.paramsPtr + l.bias * 4, l.work,
          rows, geo.c, geo.h, geo.w, spec.outChannels, geo.kh, geo.kw, geo.stride, geo.pad, l.fusedRelu ? GEMM_RELU : 0,
        );
        l.outPtr = l.out;
      } else if (spec.type === "maxPool2d" || spec.type === "avgPool2d") {
        const geo = l.numbers;
        if (spec.type === "maxPool2d") k.maxpool2d_forward(l.out, l.argmax, input, rows, geo.c, geo.h, geo.w, geo.kh, geo.stride, geo.pad);
        else k.avgpool2d_forward(l.out, input, rows, geo.c, geo.h, geo.w, geo.kh, geo.stride, geo.pad);
        l.outPtr = l.out;
      } else if (spec.type === "batchNorm") {
        const c = spec.channels;
        const spatial = l.outputs / c;
        const gamma = this.paramsPtr + l.weight * 4, beta = this.paramsPtr + l.bias * 4;
        const runMean = this.buffersPtr + l.runMean * 4, runVar = this.buffersPtr + l.runVar * 4;
        if (training) {
          if (rows * spatial < 2) {
            throw new ShapeError(`layer ${i} (batchNorm): training needs more than one value per channel; got a batch of ${rows} row(s) of ${spatial} value(s) per channel`);
          }
          const mean = this.statsPtr + l.saved * 4, invstd = mean + align4(c) * 4;
          k.batchnorm_forward_train(l.out, mean, invstd, runMean, runVar, input, gamma, beta, rows, c, spatial, l.numbers.momentum, l.numbers.eps);
          l.trained = true;
        } else {
          k.batchnorm_forward_eval(l.out, input, gamma, beta, runMean, runVar, rows, c, spatial, l.numbers.eps);
          l.trained = false;
        }
        l.outPtr = l.out;
      } else if (spec.type === "flatten") {
        l.outPtr = input; // NCHW rows are already flat
      } else if (spec.type === "activation") {
        const previous = this.layers[i - 1];
        const n = rows * l.outputs;
        if (spec.name === "relu" && previous?.fusedRelu) l.outPtr = input; // already applied by the GEMM
        else {
          l.outPtr = l.out;
          if (spec.name === "leaky_relu") k.leaky_relu_forward(l.out, input, n, l.numbers.slope);
          else k[FORWARD[spec.name]](l.out, input, n);
        }
      } else if (training && spec.type === "dropout" && l.numbers.p > 0) {
        const n = rows * l.outputs;
        k.rng_dropout_mask(this.rngPtr, l.mask, n, l.numbers.p);
        k.dropout_forward(l.out, input, l.mask, n);
        l.outPtr = l.out;
        l.dropped = true;
      } else {
        l.outPtr = input; // dropout is the identity at inference
      }
      input = l.outPtr;
    }
    return input;
  }

  /**
   * Marks the model as being trained by `op` until `endTraining`: a second run started on
   * the same model meanwhile (an un-awaited train() call) would interleave its steps with
   * the first's, so it is refused.
   */
  beginTraining(op: string): void {
    if (this.trainingBy !== undefined) {
      throw new ArgumentError(`${op}: the model is already being trained by ${this.trainingBy}(); await that run before starting another on the same model`);
    }
    this.trainingBy = op;
  }

  endTraining(): void {
    this.trainingBy = undefined;
  }

  /**
   * The max-norm constraint (Srivastava et al. 2014): scales each hidden unit's incoming
   * weight vector (a row of a dense weight, an output channel's filter of a conv) to an L2
   * norm of at most maxNorm. The last dense layer's units are the outputs, not hidden, and
   * are left alone.
   */
  applyMaxNorm(maxNorm: number): void {
    const k = this.engine.kernels;
    let last = -1;
    this.layers.forEach((l, i) => {
      if (l.spec.type === "dense") last = i;
    });
    for (let i = 0; i < this.layers.length; i++) {
      const l = this.layers[i]!;
      const w = this.paramsPtr + l.weight * 4;
      if (l.spec.type === "dense" && i !== last) k.max_norm_rows(w, l.outputs, l.inputs, maxNorm);
      else if (l.spec.type === "conv2d") k.max_norm_rows(w, l.spec.outChannels, l.spec.inChannels * l.numbers.kh * l.numbers.kw, maxNorm);
    }
  }

  /**
   * The index of the first ReLU layer whose output in the last forward pass (of `rows`
   * rows) is zero for every unit of every row, or −1: a dead layer passes no gradient, so
   * nothing before it can learn again.
   */
  deadReluLayer(rows: number): number {
    const k = this.engine.kernels;
    for (let i = 0; i < this.layers.length; i++) {
      const l = this.layers[i]!;
      if (l.spec.type === "activation" && l.spec.name === "relu" && k.count_nonzero(l.outPtr, rows * l.outputs) === 0) return i;
    }
    return -1;
  }

  /**
   * Tells the model that its parameters were written through `paramsPtr` directly (the
   * methods of this class and the training loop do this themselves).
   */
  markParametersChanged(): void {
    this.parametersVersion++;
  }

  /** The block of every dense layer's weights packed into panels, rebuilt if the parameters changed since. */
  private weightPanels(): number {
    if (this.panelsVersion === this.parametersVersion) return this.panelsBlock;
    const k = this.engine.kernels;
    if (!this.panelsBlock) {
      let offset = 0;
      for (const l of this.layers) {
        if (l.spec.type !== "dense") continue;
        l.panels = offset;
        offset += k.panels_length(l.inputs, l.outputs); // a multiple of 16 floats
      }
      this.panelsBlock = this.engine.allocOwned(Math.max(offset, 4) * 4);
    }
    for (const l of this.layers) {
      if (l.spec.type !== "dense") continue;
      // op(B) = Wᵀ (inputs × outputs) from W stored (outputs, inputs).
      k.pack_panels(this.panelsBlock + l.panels * 4, this.paramsPtr + l.weight * 4, l.inputs, 1, l.inputs, l.outputs);
    }
    this.panelsVersion = this.parametersVersion;
    return this.panelsBlock;
  }

  /**
   * Output pointer of layer `index` from the last forward pass: (rows, layerWidth(index)).
   * A dense or conv2d layer followed by ReLU computes both in one kernel call, so its own
   * (pre-activation) output exists only if `keepPreActivation(index)` was called before
   * the forward pass.
   */
  layerOutput(index: number): number {
    this.ensureAlive();
    this.ensureLayerIndex(index);
    const l = this.layers[index]!;
    if (l.fusedRelu) {
      throw new ArgumentError(
        `layer ${index} is a ${l.spec.type} layer whose ReLU was fused into it, so its pre-activation output was not kept; ` +
          `call keepPreActivation(${index}) before the forward pass, or observe layer ${index + 1} (the ReLU)`,
      );
    }
    return l.outPtr;
  }

  /**
   * Keeps the pre-activation output of dense or conv2d layer `index` observable by
   * computing its ReLU separately (results are bit-identical either way; only a little slower).
   */
  keepPreActivation(index: number): void {
    this.ensureLayerIndex(index);
    const t = this.layers[index]!.spec.type;
    if (t === "dense" || t === "conv2d") this.unfused.add(index);
  }

  /**
   * Back-propagates dOutput (rows, outputs) — which it overwrites — into the gradient
   * block (overwritten, not accumulated). `inject` adds extra gradients (rows, width) to
   * the outputs of chosen layers (e.g. FitNets hints). Returns the gradient w.r.t. the
   * input pointer when `inputGradient` is set, else 0.
   */
  backward(dOutput: number, rows: number, options: { inject?: ReadonlyMap<number, number>; inputGradient?: boolean } = {}): number {
    this.ensureAlive();
    const k = this.engine.kernels;
    let g = dOutput;
    const firstDense = this.firstDense;
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const l = this.layers[i]!;
      const spec = l.spec;
      const n = rows * l.outputs;
      const extra = options.inject?.get(i);
      if (extra) k.axpby(g, extra, n, 1, 1);
      if (spec.type === "dense") {
        const w = this.paramsPtr + l.weight * 4;
        k.gemm_tn(this.gradsPtr + l.weight * 4, g, l.inPtr, 0, l.outputs, l.inputs, rows, l.outputs, l.inputs, l.inputs, 0);
        k.bias_grad(this.gradsPtr + l.bias * 4, g, rows, l.outputs, 0);
        if (i === firstDense && !options.inputGradient) return 0;
        k.gemm_nn(l.dInput, g, w, 0, rows, l.inputs, l.outputs, l.outputs, l.inputs, l.inputs, 0);
        g = l.dInput;
      } else if (spec.type === "conv2d") {
        const geo = l.numbers;
        const stop = i === firstDense && !options.inputGradient;
        k.conv2d_backward(
          stop ? 0 : l.dInput, this.gradsPtr + l.weight * 4, this.gradsPtr + l.bias * 4, g, l.inPtr,
          this.paramsPtr + l.weight * 4, l.work, rows, geo.c, geo.h, geo.w, spec.outChannels, geo.kh, geo.kw, geo.stride, geo.pad,
        );
        if (stop) return 0;
        g = l.dInput;
      } else if (spec.type === "maxPool2d" || spec.type === "avgPool2d") {
        if (i < firstDense && !options.inputGradient) return 0;
        const geo = l.numbers;
        if (spec.type === "maxPool2d") k.maxpool2d_backward(l.dInput, g, l.argmax, rows, geo.c, geo.h, geo.w, geo.kh, geo.stride, geo.pad);
        else k.avgpool2d_backward(l.dInput, g, rows, geo.c, geo.h, geo.w, geo.kh, geo.stride, geo.pad);
        g = l.dInput;
      } else if (spec.type === "batchNorm") {
        if (!l.trained) {
          throw new ArgumentError(`layer ${i} (batchNorm): backward needs a training-mode forward pass (forward(x, rows, true)), which uses the batch statistics`);
        }
        const c = spec.channels;
        const mean = this.statsPtr + l.saved * 4, invstd = mean + align4(c) * 4;
        // dx overwrites dy in place (the kernel allows the alias)
        k.batchnorm_backward(
          g, this.gradsPtr + l.weight * 4, this.gradsPtr + l.bias * 4, g, l.inPtr, this.paramsPtr + l.weight * 4,
          mean, invstd, rows, c, l.outputs / c,
        );
        if (i === firstDense && !options.inputGradient) return 0;
      } else if (spec.type === "flatten") {
        // identity on flat rows
      } else if (spec.type === "activation") {
        if (spec.name === "relu") k.relu_backward(g, g, l.outPtr, n);
        else if (spec.name === "leaky_relu") k.leaky_relu_backward(g, g, l.inPtr, n, l.numbers.slope);
        else if (spec.name === "gelu") k.gelu_backward(g, g, l.inPtr, n);
        else k[BACKWARD[spec.name]](g, g, l.outPtr, n);
      } else if (l.dropped) {
        k.dropout_backward(g, g, l.mask, n);
      }
    }
    return options.inputGradient ? g : 0;
  }

  // ---------------------------------------------------------------- inference on arrays

  /** Runs `fn` on each chunk of x (rows, inputs) copied into wasm; fn gets (output ptr, rows, first row). */
  private eachChunk(op: string, x: FloatArray, fn: (out: number, rows: number, first: number) => void): number {
    this.ensureAlive();
    const arr = requireArray(op, "x", x);
    const rows = rowsOf(op, "x", arr, this.inputs);
    requireFinite(op, "x", arr, this.inputs);
    this.reserve(Math.min(rows, INFERENCE_CHUNK));
    const chunk = Math.max(Math.min(this.capacity, INFERENCE_CHUNK), 1);
    for (let first = 0; first < rows; first += chunk) {
      const n = Math.min(chunk, rows - first);
      this.engine.f32(this.inputBuffer, n * this.inputs).set(
        ArrayBuffer.isView(arr) ? (arr as Float32Array).subarray(first * this.inputs, (first + n) * this.inputs)
          : Array.prototype.slice.call(arr, first * this.inputs, (first + n) * this.inputs),
      );
      fn(this.forward(this.inputBuffer, n, false), n, first);
    }
    return rows;
  }

  /** Raw outputs (rows, outputs) for x (rows, inputs), any number of rows. */
  logits(x: FloatArray): Float32Array {
    const chunks: [Float32Array, number][] = [];
    const rows = this.eachChunk("logits", x, (out, n, first) => chunks.push([this.engine.readF32(out, n * this.outputs), first]));
    const result = new Float32Array(rows * this.outputs);
    for (const [values, first] of chunks) result.set(values, first * this.outputs);
    return result;
  }

  /** softmax(logits / T) per row. */
  probabilities(x: FloatArray, options: { temperature?: number } = {}): Float32Array {
    const t = requireTemperature("probabilities", options.temperature ?? 1);
    const result = new Float32Array(rowsOf("probabilities", "x", requireArray("probabilities", "x", x), this.inputs) * this.outputs);
    this.eachChunk("probabilities", x, (out, n, first) => {
      this.engine.kernels.softmax_forward(out, out, n, this.outputs, t);
      result.set(this.engine.f32(out, n * this.outputs), first * this.outputs);
    });
    return result;
  }

  /** Class ids (argmax of the outputs) for each row of x. */
  predict(x: FloatArray): Int32Array {
    const result = new Int32Array(rowsOf("predict", "x", requireArray("predict", "x", x), this.inputs));
    this.eachChunk("predict", x, (out, n, first) => {
      this.engine.scoped(() => {
        const ids = this.engine.alloc(n * 4);
        this.engine.kernels.argmax(ids, out, n, this.outputs);
        result.set(this.engine.i32(ids, n), first);
      });
    });
    return result;
  }

  // ---------------------------------------------------------------- parameters

  /** The trainable tensors (offsets in the parameter block), in state_dict order. */
  namedParameters(): NamedParameter[] {
    return this.named.map((p) => ({ ...p, shape: [...p.shape] }));
  }

  /**
   * The non-trained buffers — batchNorm's "<i>.running_mean" and "<i>.running_var" — with
   * `buffer: true` and offsets in the buffer block. getParameter / setParameter accept
   * their names too; model files and checkpoints store them.
   */
  namedBuffers(): NamedParameter[] {
    return this.buffers.map((p) => ({ ...p, shape: [...p.shape] }));
  }

  private find(name: string): NamedParameter {
    const key = name.startsWith("layers.") ? name.slice("layers.".length) : name;
    const p = this.named.find((q) => q.name === key) ?? this.buffers.find((q) => q.name === key);
    if (!p) {
      throw new ArgumentError(
        `no parameter named ${JSON.stringify(name)}; the parameters are ${[...this.named, ...this.buffers].map((q) => q.name).join(", ")}`,
      );
    }
    return p;
  }

  private pointerOf(p: NamedParameter): number {
    return (p.buffer ? this.buffersPtr : this.paramsPtr) + p.offset * 4;
  }

  /** A copy of one parameter or buffer tensor ("0.weight" or "layers.0.weight"), row-major. */
  getParameter(name: string): Float32Array {
    this.ensureAlive();
    const p = this.find(name);
    return this.engine.readF32(this.pointerOf(p), p.length);
  }

  /** Overwrites one parameter tensor with `values` (same length, finite). */
  setParameter(name: string, values: FloatArray): void {
    this.ensureAlive();
    const p = this.find(name);
    const arr = requireArray("setParameter", name, values);
    if (arr.length !== p.length) {
      throw new ShapeError(`setParameter: ${name} has shape [${p.shape.join(", ")}] (${p.length} values); got ${arr.length}`);
    }
    requireFinite("setParameter", name, arr);
    this.engine.f32(this.pointerOf(p), p.length).set(arr);
    this.markParametersChanged();
  }

  /**
   * Copies the trainable block (blockLength floats) to / from another wasm buffer. The
   * buffers (running statistics) are remembered per ptr by saveParametersTo and restored
   * by loadParametersFrom of the same ptr, so that a snapshot restores the whole state.
   */
  saveParametersTo(ptr: number): void {
    this.ensureAlive();
    const k = this.engine.kernels;
    k.copy_bytes(ptr, this.paramsPtr, this.blockLength * 4);
    if (this.bufferLength === 0) return;
    let saved = this.bufferSnapshots.get(ptr);
    if (saved === undefined) {
      saved = this.engine.allocOwned(this.bufferLength * 4);
      this.bufferSnapshots.set(ptr, saved);
    }
    k.copy_bytes(saved, this.buffersPtr, this.bufferLength * 4);
  }

  loadParametersFrom(ptr: number): void {
    this.ensureAlive();
    const k = this.engine.kernels;
    k.copy_bytes(this.paramsPtr, ptr, this.blockLength * 4);
    const saved = this.bufferSnapshots.get(ptr);
    if (saved !== undefined) k.copy_bytes(this.buffersPtr, saved, this.bufferLength * 4);
    this.markParametersChanged();
  }

  /** Frees the buffer copy kept for snapshot ptr (call before freeing ptr itself). */
  forgetSnapshot(ptr: number): void {
    const saved = this.bufferSnapshots.get(ptr);
    if (saved === undefined) return;
    this.bufferSnapshots.delete(ptr);
    if (!this.disposed) this.engine.free(saved);
  }

  /**
   * Overwrites the flat parameter block: blockLength floats (the buffers stay), or
   * blockLength + bufferLength floats as from parameterBlock() (buffers too).
   */
  setParameterBlock(values: Float32Array): void {
    this.ensureAlive();
    const full = this.blockLength + this.bufferLength;
    if (values.length !== this.blockLength && values.length !== full) {
      throw new ShapeError(
        `setParameterBlock: expected ${full} values (this model's block${this.bufferLength ? ` and buffers, or ${this.blockLength} without the buffers` : ""}); got ${values.length}`,
      );
    }
    this.engine.f32(this.paramsPtr, this.blockLength).set(values.subarray(0, this.blockLength));
    if (values.length > this.blockLength) this.engine.f32(this.buffersPtr, this.bufferLength).set(values.subarray(this.blockLength));
    this.markParametersChanged();
  }

  /**
   * A copy of the whole flat parameter block (blockLength floats, padding included)
   * followed by the buffer block (bufferLength floats; none for models without batchNorm).
   */
  parameterBlock(): Float32Array {
    this.ensureAlive();
    const block = this.engine.readF32(this.paramsPtr, this.blockLength);
    if (this.bufferLength === 0) return block;
    const full = new Float32Array(this.blockLength + this.bufferLength);
    full.set(block);
    full.set(this.engine.f32(this.buffersPtr, this.bufferLength), this.blockLength);
    return full;
  }

  /**
   * "784-512-512-10"-style summary of the dense widths; for image models the input shape
   * and a short name per layer: "1x28x28-conv8-maxpool2-bn-flatten-10".
   */
  get architecture(): string {
    const spatial = this.inputShape.length === 3 || this.layers.some((l) => l.spec.type !== "dense" && l.spec.type !== "activation" && l.spec.type !== "dropout");
    if (!spatial) {
      const widths = [this.inputs];
      for (const l of this.layers) if (l.spec.type === "dense") widths.push(l.outputs);
      return widths.join("-");
    }
    const parts = [this.inputShape.join("x")];
    for (const l of this.layers) {
      const spec = l.spec;
      if (spec.type === "dense") parts.push(String(l.outputs));
      else if (spec.type === "conv2d") parts.push(`conv${spec.outChannels}`);
      else if (spec.type === "maxPool2d") parts.push(`maxpool${spec.kernel}`);
      else if (spec.type === "avgPool2d") parts.push(`avgpool${spec.kernel}`);
      else if (spec.type === "batchNorm") parts.push("bn");
      else if (spec.type === "flatten") parts.push("flatten");
    }
    return parts.join("-");
  }

  // ---------------------------------------------------------------- lifetime

  /** Frees the model's wasm memory. Any later use throws. */
  dispose(): void {
    if (this.disposed) return;
    this.freeBuffers();
    if (this.panelsBlock) this.engine.free(this.panelsBlock);
    this.engine.free(this.paramsPtr);
    this.engine.free(this.gradsPtr);
    this.engine.free(this.rngPtr);
    if (this.buffersPtr) this.engine.free(this.buffersPtr);
    if (this.statsPtr) this.engine.free(this.statsPtr);
    for (const saved of this.bufferSnapshots.values()) this.engine.free(saved);
    this.bufferSnapshots.clear();
    this.disposed = true;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  ensureAlive(): void {
    if (this.disposed) throw new ArgumentError("this model has been disposed; create a new one");
  }

  private ensureLayerIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.layers.length) {
      throw new ArgumentError(`layer index ${index} is out of range: the model has layers 0..${this.layers.length - 1}`);
    }
  }
}
