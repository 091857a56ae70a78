/**
 * A trained model that only predicts: the layers of the full library (src/nn/layers/) on an
 * instance of the inference kernels, walked as `Sequential.logits` walks them — rows in
 * chunks of 256, every layer's forward pass at inference, dense layers on fewer than 4 rows
 * through weights packed into panels once — so its outputs equal the full library's bit for
 * bit. Every input is checked (src/validate.ts) before any wasm call. A quantized model file
 * runs on src/quantize/runner.ts instead, as the full library's QuantizedModel does.
 *
 * Memory (byte offsets into the instance's linear memory, all from its heap):
 *   parameter block (blockLength floats), buffer block (bufferLength), and for a batch
 *   capacity of `rows`: each layer's buffers, the input (rows, inputs) and the class ids
 *   (rows) i32; the panels block on the second call with fewer than 4 rows (the first runs on W as it is).
 */
import { ArgumentError, OptionError, OutOfMemoryError, ShapeError } from "../errors.js";
import { thresholdLogits } from "../nn/multi-label.js";
import { requireScores, type ModelTask } from "../nn/task.js";
import { requireFiniteTensor, type Plan } from "../io/model-plan.js";
import type { SafetensorsTensor } from "../io/safetensors.js";
import { DenseLayer } from "../nn/layers/dense.js";
import type { LayerSpec } from "../nn/layers/index.js";
import { eachChunk, type ChunkedModel } from "../nn/inference-chunks.js";
import type { ModelMemory } from "../nn/layers/layer.js";
import type { KernelExports } from "../runtime/abi.js";
import { requireArray, requireDim, requireTemperature, rowsOf, type FloatArray } from "../validate.js";
import type { InferKernelExports } from "./abi.generated.js";
import type { ActivationFormat, QuantizedNet, WeightFormat } from "../quantize/net.js";
import { Int8Runner } from "../quantize/runner.js";
import { layOut, type Layout } from "./layout.js";

/** Below this many rows dense layers run on packed panels (SMALL_BATCH in src/nn/layers/dense.ts). */
const SMALL_BATCH = 4;

/** Zeroes what the tensors (offset, length in floats, sorted or not) leave uncovered in a block. */
function zeroGaps(block: Float32Array, tensors: readonly { offset: number; length: number }[]): void {
  let cursor = 0;
  for (const t of [...tensors].sort((a, b) => a.offset - b.offset)) {
    if (t.offset > cursor) block.fill(0, cursor, t.offset);
    cursor = Math.max(cursor, t.offset + t.length);
  }
  block.fill(0, cursor);
}

export class Student {
  /** Width of one input row (features, or channels·height·width) and of one output row (classes). */
  readonly inputs: number;
  readonly outputs: number;
  /** Shape of one input sample: [features] or [channels, height, width] (rows are NCHW-flattened images). */
  readonly inputShape: readonly number[];
  /** The layer list, as the file's architecture gives it (defaults filled in). */
  readonly specs: readonly LayerSpec[];
  /** The file's `__metadata__` (the library writes format, distill_wasm_version, architecture, input_shape and the caller's keys). */
  readonly metadata: Readonly<Record<string, string>>;
  /**
   * What the outputs mean, as the file's `task` metadata records it (src/nn/task.ts):
   * "classification" (no record), "regression" (predict() gives the outputs) or "multilabel".
   */
  readonly task: ModelTask;
  /**
   * True when the file records a multi-label model (metadata task "multilabel"):
   * probabilities() are σ(logits) per output and predict() gives 0/1 per output.
   */
  readonly multiLabel: boolean;
  private kernels: InferKernelExports | undefined;
  /** For a quantized model file: its formats ({ weights: "int8", activations: "int8" | "float" }); undefined for a float model. */
  readonly quantization: { readonly weights: WeightFormat; readonly activations: ActivationFormat } | undefined;
  /** A quantized model runs here instead of the layers below. */
  private readonly int8: Int8Runner | undefined;
  private readonly layout!: Layout;
  private readonly memory!: ModelMemory;
  private readonly owned: number[] = [];
  private capacity = 0;
  private inputBuffer = 0;
  private ids = 0;
  /** The model as eachChunk (src/nn/inference-chunks.ts) walks it, as Sequential's inference does: the layout's layers at inference. */
  private readonly chunked!: ChunkedModel;
  private panelsBlock = 0;
  /** Set by the first call of fewer than 4 rows, which runs on the weights as they are: the next packs the panels (see weightPanels). */
  private panelsWanted = false;

  /**
   * Use `loadStudent`; this takes a checked plan and its tensors (src/io/model-plan.ts), or
   * the checked net of a quantized model file (src/quantize/file.ts).
   */
  constructor(
    kernels: InferKernelExports,
    model: { plan: Plan; tensors: ReadonlyMap<string, SafetensorsTensor>; checkFinite?: { name: string } } | { net: QuantizedNet },
    metadata: Record<string, string>,
  ) {
    this.kernels = kernels;
    this.metadata = metadata;
    this.task = ("net" in model ? model.net.task : model.plan.task) ?? "classification";
    this.multiLabel = this.task === "multilabel";
    if ("net" in model) {
      // A quantized file: the int8 runner of the full library's QuantizedModel does all the work.
      this.int8 = new Int8Runner(kernels, model.net);
      this.quantization = { weights: model.net.weights, activations: model.net.activations };
      this.inputs = model.net.inputs;
      this.outputs = model.net.outputs;
      this.inputShape = model.net.inputShape;
      this.specs = model.net.specs;
      return;
    }
    const { plan, tensors } = model;
    this.layout = layOut(plan.specs, plan.inputShape);
    this.inputs = this.layout.inputs;
    this.outputs = this.layout.outputs;
    this.inputShape = this.layout.inputShape;
    this.specs = this.layout.specs;
    this.chunked = {
      inputs: this.inputs,
      specs: this.specs,
      reserveRows: (rows) => {
        this.reserve(rows);
        return this.capacity;
      },
      inputRows: (n) => this.f32(this.inputBuffer, n * this.inputs),
      forwardRows: (n) => {
        let input = this.inputBuffer;
        for (const layer of this.layout.layers) input = layer.forward(this.memory, input, n, false);
        if (n < SMALL_BATCH) this.panelsWanted = true;
        return input;
      },
    };
    const paramsPtr = this.take(this.layout.blockLength * 4);
    const buffersPtr = this.layout.bufferLength > 0 ? this.take(this.layout.bufferLength * 4) : 0;
    const f32 = (ptr: number, length: number) => new Float32Array(kernels.memory.buffer, ptr, length);
    // Every tensor is written whole below: only the padding between them is zeroed (one pass over the weights, not two).
    zeroGaps(
      f32(paramsPtr, this.layout.blockLength),
      this.layout.tensors.filter((t) => !t.buffer),
    );
    if (buffersPtr)
      zeroGaps(
        f32(buffersPtr, this.layout.bufferLength),
        this.layout.tensors.filter((t) => t.buffer),
      );
    const places = new Map(this.layout.tensors.map((t) => [t.name, t]));
    const at = (name: string) => {
      const place = places.get(name)!;
      return { ptr: (place.buffer ? buffersPtr : paramsPtr) + place.offset * 4, length: place.length };
    };
    for (const p of plan.parameters) {
      const { ptr, length } = at(p.name);
      f32(ptr, length).set(tensors.get(p.fileName)!.data as Float32Array);
    }
    if (model.checkFinite) {
      try {
        this.requireFinite(model.checkFinite.name, plan, tensors, at);
      } catch (err) {
        this.dispose();
        throw err;
      }
    }
    // The layers' forward passes at inference call only kernels of the inference module
    // (INFER_KERNEL_NAMES); nothing here trains, draws weights or keeps gradients.
    this.memory = {
      engine: { f32 },
      kernels: kernels as unknown as KernelExports,
      paramsPtr,
      gradsPtr: 0,
      buffersPtr,
      rngPtr: 0,
      weightPanels: () => this.weightPanels(),
    };
  }

  /** Raw outputs (rows, outputs) for x (rows, inputs), any number of rows. */
  logits(x: FloatArray): Float32Array {
    if (this.int8) return this.int8.logits("logits", x);
    const result = new Float32Array(this.rows("logits", x) * this.outputs);
    eachChunk("logits", x, this.chunked, (out, n, first) => result.set(this.f32(out, n * this.outputs), first * this.outputs));
    return result;
  }

  /**
   * softmax(logits / temperature) per row (temperature > 0, default 1), computed in wasm as the
   * full library does; for a multi-label model σ(logits) per output (temperature 1 only).
   * A regression model has none (TaskError).
   */
  probabilities(x: FloatArray, options: { temperature?: number } = {}): Float32Array {
    if (this.int8) return this.int8.probabilities("probabilities", x, options?.temperature ?? 1);
    requireScores("probabilities", this.task);
    const t = requireTemperature("probabilities", options?.temperature ?? 1);
    if (this.multiLabel && t !== 1)
      throw new OptionError("probabilities: a multi-label model gives σ(logits) per label; temperature applies to softmax classifiers only");
    const result = new Float32Array(this.rows("probabilities", x) * this.outputs);
    eachChunk("probabilities", x, this.chunked, (out, n, first) => {
      if (this.multiLabel) this.kernels!.sigmoid_forward(out, out, n * this.outputs);
      else this.kernels!.softmax_forward(out, out, n, this.outputs, t);
      result.set(this.f32(out, n * this.outputs), first * this.outputs);
    });
    return result;
  }

  /**
   * The class id (argmax of the outputs; the first on ties) of each row of x (rows, inputs);
   * for a multi-label model (rows, outputs) of 0 and 1: 1 where the logit is > 0 (σ > 0.5);
   * for a regression model the outputs, a Float32Array (rows, outputs) equal to logits(x).
   * `rows`, if given, must be the number of rows x holds (a check, e.g. for one sample: 1).
   */
  predict(x: FloatArray, rows?: number): Int32Array | Float32Array {
    const count = this.rows("predict", x);
    if (rows !== undefined && requireDim("predict", "rows", rows) !== count) {
      throw new ShapeError(`predict: x holds ${count} row(s) of ${this.inputs} values, but rows is ${rows}`);
    }
    if (this.int8) return this.int8.predict("predict", x);
    if (this.task === "regression") return this.logits(x);
    if (this.multiLabel) return thresholdLogits(this.logits(x));
    const result = new Int32Array(count);
    eachChunk("predict", x, this.chunked, (out, n, first) => {
      this.kernels!.argmax(this.ids, out, n, this.outputs);
      result.set(new Int32Array(this.kernels!.memory.buffer, this.ids, n), first);
    });
    return result;
  }

  /** Drops the model's wasm instance and its memory. Any later call throws ArgumentError. */
  dispose(): void {
    this.int8?.dispose();
    this.kernels = undefined;
    this.owned.length = 0;
  }

  get isDisposed(): boolean {
    return this.kernels === undefined;
  }

  // ---------------------------------------------------------------- internals

  /**
   * The finiteness pass that planModelFile left to the caller (finite: "caller"), on the
   * weights in wasm memory, in the plan's order: a tensor viewed as (shape[0], the rest) times
   * a zero row by gemm_nt gives ±0 for each finite row and NaN for a row holding NaN or ±∞
   * (0·∞ is NaN, and NaN survives every sum). A hit is reported by requireFiniteTensor, with
   * the message the full library gives.
   */
  private requireFinite(
    name: string,
    plan: Plan,
    tensors: ReadonlyMap<string, SafetensorsTensor>,
    at: (name: string) => { ptr: number; length: number },
  ): void {
    const k = this.kernels!;
    const views = plan.parameters.map((p) => {
      const { ptr, length } = at(p.name);
      const rows = p.shape.length >= 2 ? p.shape[0]! : 1;
      return { p, ptr, rows, cols: length / rows };
    });
    const zero = this.take(Math.max(1, ...views.map((v) => v.cols)) * 4);
    const out = this.take(Math.max(1, ...views.map((v) => v.rows)) * 4);
    try {
      this.f32(zero, Math.max(1, ...views.map((v) => v.cols))).fill(0);
      for (const { p, ptr, rows, cols } of views) {
        if (cols === 0) continue;
        k.gemm_nt(out, zero, ptr, 0, 1, rows, cols, cols, cols, rows, 0);
        const y = this.f32(out, rows);
        for (let j = 0; j < rows; j++) {
          if (y[j] !== y[j]) requireFiniteTensor(name, p.fileName, tensors.get(p.fileName)!.data as Float32Array);
        }
      }
    } finally {
      k.heap_free(zero);
      k.heap_free(out);
    }
  }

  /** The rows of x after the checks every call makes first (alive, an array, a whole number of rows). */
  private rows(op: string, x: FloatArray): number {
    if (!this.kernels) throw new ArgumentError(`${op}: this student has been disposed; load it again`);
    return rowsOf(op, "x", requireArray(op, "x", x), this.inputs);
  }

  /** Makes room for batches of up to `rows`: every layer's buffers, the input and the class ids (all or nothing). */
  private reserve(rows: number): void {
    if (rows <= this.capacity) return;
    this.freeBuffers();
    const take = (bytes: number) => {
      const p = this.take(bytes);
      this.owned.push(p);
      return p;
    };
    try {
      for (const l of this.layout.layers) l.allocate(rows, take);
      this.inputBuffer = take(rows * this.inputs * 4);
      this.ids = take(rows * 4);
      this.capacity = rows;
    } catch (err) {
      this.freeBuffers();
      throw err;
    }
  }

  private freeBuffers(): void {
    for (const l of this.layout.layers) l.release();
    for (const p of this.owned) this.kernels!.heap_free(p);
    this.owned.length = 0;
    this.inputBuffer = this.ids = this.capacity = 0;
  }

  /**
   * Every dense layer's Wᵀ packed into 16-column panels (the weights never change), made on
   * the second call of fewer than 4 rows: the first runs gemm_nt on the weights as they are,
   * the same bits (assembly/gemm.ts), so that a cold start's one prediction does not pay for
   * packing (and first touching) a second copy of every weight. 0 until then.
   */
  private weightPanels(): number {
    if (this.panelsBlock) return this.panelsBlock;
    if (!this.panelsWanted) return 0;
    const k = this.kernels!;
    const dense = this.layout.layers.filter((l): l is DenseLayer => l instanceof DenseLayer);
    let offset = 0;
    for (const l of dense) {
      l.panels = offset;
      offset += k.panels_length(l.inputs, l.outputs); // a multiple of 16 floats
    }
    const block = this.take(Math.max(offset, 4) * 4);
    for (const l of dense) l.packPanels(this.memory, block);
    this.panelsBlock = block;
    return block;
  }

  /** `bytes` from the instance's heap (16-byte aligned), or OutOfMemoryError. */
  private take(bytes: number): number {
    const ptr = Number.isSafeInteger(bytes) && bytes <= 0xfffe0000 ? this.kernels!.heap_alloc(bytes) >>> 0 : 0;
    if (ptr === 0) {
      throw new OutOfMemoryError(
        `cannot allocate ${bytes} bytes: WebAssembly memory is limited to 4 GiB and the JavaScript engine may refuse to grow it this far ` +
          `(${this.kernels!.heap_used() >>> 0} bytes in use)`,
      );
    }
    return ptr;
  }

  private f32(ptr: number, length: number): Float32Array {
    return new Float32Array(this.kernels!.memory.buffer, ptr, length);
  }
}
