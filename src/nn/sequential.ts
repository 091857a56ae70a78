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
 * either length, so checkpoints carry the running statistics; `snapshot()` keeps a copy of
 * both in wasm (the training loop's restore points).
 *
 * Each layer is a module of ./layers/ (spec, checks, tensors, forward, backward); this
 * class only lays out the memory and walks the list.
 */
import type { Engine } from "../engine.js";
import { ArgumentError, OptionError, ShapeError } from "../errors.js";
import { getEngine } from "../init.js";
import { boolean, checkedElsewhere, checkOptions, oneOf, type Schema } from "../options/schema.js";
import { requireArray, requireFinite, requireTemperature, rowsOf, type FloatArray } from "../validate.js";
import { ActivationLayer } from "./layers/activation.js";
import { DenseLayer } from "./layers/dense.js";
import { createLayer, inferShapes, layerFlops, layerTensors, layerToken, normaliseSpec, type LayerSpec, type Shape } from "./layers/index.js";
import { align4, type Layer, type ModelMemory } from "./layers/layer.js";
import { thresholdLogits } from "./multi-label.js";
import { MODEL_TASKS, requireScores, type ModelTask } from "./task.js";
import { ParameterSnapshot } from "./snapshot.js";
import { eachChunk, type ChunkedModel } from "./inference-chunks.js";
import { FakeQuant } from "./fake-quant.js";

export interface SequentialOptions {
  /** Seed of the model's PRNG: weight initialisation and dropout masks (default 0). */
  seed?: number;
  engine?: Engine;
  /**
   * Shape of one input sample: [channels, height, width] for image models (rows of x are
   * then NCHW-flattened images), [channels, length] for signals (rows channel after
   * channel, as PyTorch's (N, C, L)), or [features]. Default: [inputs of the first dense layer].
   */
  inputShape?: Shape;
  /**
   * A multi-label model: each output is an independent yes/no label (a sigmoid each, not one
   * softmax over all). Default false; `train` and `distill` on a multi-label dataset set it.
   */
  multiLabel?: boolean;
  /**
   * What the outputs mean (./task.ts): "classification" (default), "regression" or
   * "multilabel" (the same as multiLabel: true). `train` and `distill` set it from the data.
   */
  task?: ModelTask;
}

export const SEQUENTIAL_SCHEMA: Schema = {
  seed: checkedElsewhere,
  engine: checkedElsewhere,
  inputShape: checkedElsewhere,
  multiLabel: boolean,
  task: oneOf(MODEL_TASKS),
};

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
  private readonly layers: Layer[];
  /** The memory the layers work in (pointers of this model), handed to every pass. */
  private readonly memory: ModelMemory;
  /** Index of the first layer with parameters: backward stops there unless the input gradient is wanted. */
  private readonly firstDense: number;
  /** Shape of one input sample ([features] or [channels, height, width]). */
  readonly inputShape: readonly number[];
  /**
   * What the outputs mean (./task.ts): "classification", "regression" (predict() gives the
   * outputs) or "multilabel" (predict() gives 0/1 per output); saved in model files as their
   * `task` metadata. Set by the option, by loadModel from the file, and by train / distill from
   * the data; a model from elsewhere (a PyTorch file without the record) may be marked by setting it.
   */
  task: ModelTask;
  /** Floats in the non-trained buffer block (batchNorm running statistics; 0 if none). */
  readonly bufferLength: number;
  /** Pointer to the buffer block (0 if there are no buffers). */
  readonly buffersPtr: number;
  /** Saved batch mean / invstd of the batchNorm layers (0 if none). */
  private readonly statsPtr: number;
  private readonly buffers: NamedParameter[];
  private readonly named: NamedParameter[];
  private capacity = 0;
  private inputBuffer = 0;
  /** The model as eachChunk (inference-chunks.ts) walks it: its input buffer and forward pass at inference. */
  private readonly chunked: ChunkedModel;
  /** The layers' batch buffers (activations, gradients, masks, work), freed together. */
  private readonly ownedBuffers: number[] = [];
  private disposed = false;
  /** The function whose training run holds the model (train, distill), if one does. */
  private trainingBy: string | undefined;
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
    if (options.multiLabel !== undefined && options.task !== undefined && options.multiLabel !== (options.task === "multilabel")) {
      throw new OptionError(`Sequential: multiLabel ${options.multiLabel} contradicts task ${JSON.stringify(options.task)}; give one of them`);
    }
    this.task = options.task ?? (options.multiLabel ? "multilabel" : "classification");
    this.specs = specs.map(normaliseSpec);
    this.inputs = inputs;
    this.inputShape = inputShape;
    this.outputs = widths[widths.length - 1]!;
    this.chunked = {
      inputs,
      specs: this.specs,
      reserveRows: (rows) => {
        this.reserve(rows);
        return this.capacity;
      },
      inputRows: (n) => this.engine.f32(this.inputBuffer, n * this.inputs),
      forwardRows: (n) => this.forward(this.inputBuffer, n, false),
    };
    this.layers = this.specs.map((spec, index) =>
      createLayer(spec, { index, inShape: index === 0 ? [...inputShape] : shapes[index - 1]!, outShape: shapes[index]! }),
    );
    this.layers.forEach((l, i) => {
      const next = this.specs[i + 1];
      l.reluFollows = next?.type === "activation" && next.name === "relu";
      if (l instanceof ActivationLayer) l.previous = this.layers[i - 1];
    });
    // Tensor offsets (floats), each tensor on a 16-byte boundary: trained ones in the
    // parameter block, buffers in the buffer block.
    this.named = [];
    this.buffers = [];
    let offset = 0;
    let bufferOffset = 0;
    for (const t of layerTensors(this.specs)) {
      const length = t.shape.reduce((a, b) => a * b, 1);
      const suffix = t.name.slice(t.name.indexOf(".") + 1);
      if (t.buffer) {
        this.buffers.push({ name: t.name, shape: t.shape, offset: bufferOffset, length, buffer: true });
        this.layers[t.layer]!.placeTensor(suffix, bufferOffset);
        bufferOffset = align4(bufferOffset + length);
      } else {
        this.named.push({ name: t.name, shape: t.shape, offset, length });
        this.layers[t.layer]!.placeTensor(suffix, offset);
        offset = align4(offset + length);
      }
    }
    const statsLength = this.layers.reduce((n, l) => n + l.statsLength(), 0);
    this.blockLength = Math.max(offset, 4);
    this.bufferLength = bufferOffset;
    this.firstDense = this.layers.findIndex((l) => l.trainable);
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
      this.statsPtr = statsLength > 0 ? take(statsLength * 4) : 0;
    } catch (err) {
      for (const p of taken) e.free(p);
      throw err;
    }
    e.kernels.zero_bytes(this.paramsPtr, this.blockLength * 4);
    e.kernels.zero_bytes(this.gradsPtr, this.blockLength * 4);
    if (this.buffersPtr) e.kernels.zero_bytes(this.buffersPtr, bufferOffset * 4);
    let stats = this.statsPtr;
    for (const l of this.layers) {
      if (l.statsLength() === 0) continue;
      e.kernels.zero_bytes(stats, l.statsLength() * 4);
      l.placeStats(stats);
      stats += l.statsLength() * 4;
    }
    this.memory = {
      engine: e,
      kernels: e.kernels,
      paramsPtr: this.paramsPtr,
      gradsPtr: this.gradsPtr,
      buffersPtr: this.buffersPtr,
      rngPtr: this.rngPtr,
      weightPanels: () => this.weightPanels(),
    };
    const seed = options.seed ?? 0;
    e.kernels.rng_seed(this.rngPtr, seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0);
    // Every layer draws its initial weights from the model's PRNG, in layer order (./layers/init.ts).
    for (const l of this.layers) l.initialise(this.memory);
  }

  /**
   * True for a multi-label model (task "multilabel": several independent yes/no labels):
   * probabilities() gives σ(logits) per output and predict() 0/1 per output. Setting it true
   * makes the task "multilabel"; false makes a multi-label model a classifier.
   */
  get multiLabel(): boolean {
    return this.task === "multilabel";
  }

  set multiLabel(value: boolean) {
    if (value) this.task = "multilabel";
    else if (this.task === "multilabel") this.task = "classification";
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
    return this.layers.reduce((flops, l, i) => flops + layerFlops(this.specs[i]!, l.inShape, l.outShape), 0);
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
    const take = (bytes: number) => {
      const p = e.allocOwned(bytes);
      this.ownedBuffers.push(p);
      return p;
    };
    for (const l of this.layers) l.allocate(rows, take);
    this.inputBuffer = e.allocOwned(rows * this.inputs * 4);
    this.capacity = rows;
  }

  get batchCapacity(): number {
    return this.capacity;
  }

  private freeBuffers(): void {
    const e = this.engine;
    for (const l of this.layers) l.release();
    for (const p of this.ownedBuffers) e.free(p);
    this.ownedBuffers.length = 0;
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
    let input = x;
    for (let i = 0; i < this.layers.length; i++) input = this.layers[i]!.forward(this.memory, input, rows, training);
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
    let lastDense = -1;
    for (let i = 0; i < this.layers.length; i++) if (this.layers[i] instanceof DenseLayer) lastDense = i;
    for (let i = 0; i < this.layers.length; i++) if (i !== lastDense) this.layers[i]!.applyMaxNorm(this.memory, maxNorm);
  }

  /**
   * The index of the first ReLU layer whose output in the last forward pass (of `rows`
   * rows) is zero for every unit of every row, or −1: a dead layer passes no gradient, so
   * nothing before it can learn again.
   */
  deadReluLayer(rows: number): number {
    // A plain loop: this runs on every training step, where a callback would be allocated.
    for (let i = 0; i < this.layers.length; i++) {
      const l = this.layers[i]!;
      if (l instanceof ActivationLayer && l.isDead(this.memory, rows)) return i;
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
    const denseLayers = this.layers.filter((l): l is DenseLayer => l instanceof DenseLayer);
    if (!this.panelsBlock) {
      let offset = 0;
      for (const l of denseLayers) {
        l.panels = offset;
        offset += k.panels_length(l.inputs, l.outputs); // a multiple of 16 floats
      }
      this.panelsBlock = this.engine.allocOwned(Math.max(offset, 4) * 4);
    }
    for (const l of denseLayers) l.packPanels(this.memory, this.panelsBlock);
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
        `layer ${index} is a ${this.specs[index]!.type} layer whose ReLU was fused into it, so its pre-activation output was not kept; ` +
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
    this.layers[index]!.keepPreActivation = true;
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
    const wantInput = options.inputGradient === true;
    let g = dOutput;
    for (let i = this.layers.length - 1; i >= 0; i--) {
      // Below the first layer with parameters nothing is left to learn, unless the input gradient is wanted.
      if (i < this.firstDense && !wantInput) return 0;
      const l = this.layers[i]!;
      const extra = options.inject?.get(i);
      if (extra) k.axpby(g, extra, rows * l.outputs, 1, 1);
      g = l.backward(this.memory, g, rows, i === this.firstDense && !wantInput);
    }
    return wantInput ? g : 0;
  }

  // ---------------------------------------------------------------- inference on arrays

  /** Runs `fn` on each chunk of x (rows, inputs) copied into wasm; fn gets (output ptr, rows, first row). */
  private eachChunk(op: string, x: FloatArray, fn: (out: number, rows: number, first: number) => void): number {
    this.ensureAlive();
    return eachChunk(op, x, this.chunked, fn);
  }

  /** Raw outputs (rows, outputs) for x (rows, inputs), any number of rows. */
  logits(x: FloatArray): Float32Array {
    const chunks: [Float32Array, number][] = [];
    const rows = this.eachChunk("logits", x, (out, n, first) => chunks.push([this.engine.readF32(out, n * this.outputs), first]));
    const result = new Float32Array(rows * this.outputs);
    for (const [values, first] of chunks) result.set(values, first * this.outputs);
    return result;
  }

  /**
   * softmax(logits / T) per row; for a multi-label model σ(logits) per output (no
   * temperature: a temperature other than 1 is an OptionError there). A regression model
   * has none (TaskError).
   */
  probabilities(x: FloatArray, options: { temperature?: number } = {}): Float32Array {
    requireScores("probabilities", this.task);
    const t = requireTemperature("probabilities", options.temperature ?? 1);
    if (this.multiLabel && t !== 1)
      throw new OptionError("probabilities: a multi-label model gives σ(logits) per label; temperature applies to softmax classifiers only");
    const result = new Float32Array(rowsOf("probabilities", "x", requireArray("probabilities", "x", x), this.inputs) * this.outputs);
    this.eachChunk("probabilities", x, (out, n, first) => {
      if (this.multiLabel) this.engine.kernels.sigmoid_forward(out, out, n * this.outputs);
      else this.engine.kernels.softmax_forward(out, out, n, this.outputs, t);
      result.set(this.engine.f32(out, n * this.outputs), first * this.outputs);
    });
    return result;
  }

  /**
   * What the model's task predicts for each row of x (./task.ts): class ids (argmax of the
   * outputs) as an Int32Array (rows); for a multi-label model (rows, outputs) of 0 and 1: 1
   * where σ(logit) > 0.5, i.e. logit > 0; for a regression model the outputs, a Float32Array
   * (rows, outputs) equal to logits(x).
   */
  predict(x: FloatArray): Int32Array | Float32Array {
    if (this.task === "regression") return this.logits(x);
    if (this.multiLabel) return thresholdLogits(this.logits(x));
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
   * A wasm copy of the parameters and buffers (running statistics) that `save()` takes
   * and `restore()` puts back; `dispose()` frees it. Neither allocates on the JS heap.
   */
  snapshot(): ParameterSnapshot {
    this.ensureAlive();
    return new ParameterSnapshot(this);
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
    const spatial = this.inputShape.length > 1 || this.specs.some((s) => s.type !== "dense" && s.type !== "activation" && s.type !== "dropout");
    if (!spatial) return [this.inputs, ...this.specs.filter((s) => s.type === "dense").map((s) => s.outputs)].join("-");
    const parts = [this.inputShape.join("x")];
    for (const spec of this.specs) {
      const token = layerToken(spec);
      if (token !== undefined) parts.push(token);
    }
    return parts.join("-");
  }

  // ---------------------------------------------------------------- quantization-aware training

  /**
   * Attaches fake quantization (./fake-quant.ts) to every dense and conv2d layer: until
   * `stopFakeQuantization()`, forward passes compute on int8-rounded inputs and weights and
   * backward passes let the gradients straight through. `distill({ quantize })` uses it.
   */
  startFakeQuantization(options: { activations: boolean } = { activations: true }): void {
    this.ensureAlive();
    this.stopFakeQuantization();
    try {
      this.specs.forEach((spec, i) => {
        if (spec.type !== "dense" && spec.type !== "conv2d") return;
        const w = this.named.find((p) => p.name === `${i}.weight`)!;
        const channels = w.shape[0]!;
        const l = this.layers[i]!;
        l.fakeQuant = new FakeQuant(this.engine, w.offset, channels, w.length / channels, options.activations ? l.inputs : 0);
      });
    } catch (err) {
      this.stopFakeQuantization();
      throw err;
    }
  }

  /** Detaches fake quantization and frees its memory; later passes are float again. */
  stopFakeQuantization(): void {
    for (const l of this.layers) {
      (l.fakeQuant as FakeQuant | undefined)?.dispose();
      l.fakeQuant = undefined;
    }
  }

  /** Layer index → the observed input scale of each fake-quantized layer that has seen a batch. */
  fakeQuantInputScales(): Map<number, number> {
    const scales = new Map<number, number>();
    this.layers.forEach((l, i) => {
      const s = (l.fakeQuant as FakeQuant | undefined)?.inputScale;
      if (s !== undefined) scales.set(i, s);
    });
    return scales;
  }

  // ---------------------------------------------------------------- lifetime

  /** Frees the model's wasm memory. Any later use throws. */
  dispose(): void {
    if (this.disposed) return;
    this.stopFakeQuantization();
    this.freeBuffers();
    if (this.panelsBlock) this.engine.free(this.panelsBlock);
    this.engine.free(this.paramsPtr);
    this.engine.free(this.gradsPtr);
    this.engine.free(this.rngPtr);
    if (this.buffersPtr) this.engine.free(this.buffersPtr);
    if (this.statsPtr) this.engine.free(this.statsPtr);
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
