/**
 * Runs a quantized network (./net.ts) on a kernel instance: the full library's engine or
 * distill-wasm/infer's module, which compute the same bits (same kernel sources). Rows go
 * through in chunks of 256; every input is checked (src/validate.ts) before any wasm call.
 *
 * A dense layer with int8 activations:
 *   quantize_i8(q, x, rows·in, s_x)               x (rows, in) f32 → q (rows, in) int8
 *   gemm_i8_nt(acc, q, w, rows, out, in, …)        w (out, in) int8 → acc (rows, out) int32
 *   dequantize_i32(y, acc, s_w, b, rows, out, s_x, relu)  → y (rows, out) f32
 * and below 4 rows gemm_i8_panels(acc, q, panels, …) in place of gemm_i8_nt (the same integers),
 * on the weights widened to i16 and packed by pack_panels_i16 on the second call of fewer
 * than 4 rows (the first runs gemm_i8_nt on the weights as they are: a cold start's one
 * prediction does not pay for the packing).
 * with float activations: gemm_nt on the weights dequantized once to f32 (or fp16 weights widened
 * to f32), and below 4 rows gemm_panels on them packed into panels on first use (same bits).
 * A conv2d layer with int8 activations, per image (NCHW):
 *   quantize_i8(q, x, rows·in, s_x)                               the whole batch at once
 *   im2row_i8(cols, q_img, cin, h, w, kh, kw, stride, pad, d8)   → cols (oh·ow, d8) int8
 *   gemm_i8_conv(y_img, panels, cols, out, oh·ow, d8, …)          → (out, oh·ow) int32, in y's place
 *   dequantize_i32_rows(y_img, y_img, s_w, b, out, oh·ow, s_x, relu)  in place → y (out, oh, ow) f32
 * where d8 is the depth cin·kh·kw rounded up to a multiple of 8 (the panels' block), zeros
 * past the depth in im2row_i8's rows as in the panels: no scalar tail, the same sums. The
 * weight, widened to i16 and packed by pack_panels_i16 when the layer is placed (a
 * convolution's weight is small, and the panels replace its int8 copy), is the GEMM's left
 * operand, so the sums come out channel by channel, in NCHW order, and dequantize_i32_rows
 * (a scale and bias per row) gives the bits dequantize_i32 gives on the transposed sums.
 * A 2×2 max pool of stride 2 right after it (past identities and the fused ReLU) runs on the
 * int32 sums, before dequantization, when that gives the same bits (poolsBeforeDequantizing):
 *   gemm_i8_conv(acc, …) → maxpool2x2_i32(y_img, acc, out, oh, ow)
 *   → dequantize_i32_rows(y_img, y_img, …, out, ⌊oh/2⌋·⌊ow/2⌋, s_x, relu)   a quarter of the values
 * with float activations: conv2d_forward on the dequantized weights. Pooling runs in float on the
 * dequantized values (max and average pooling of PyTorch). A ReLU after a dense or conv2d layer
 * (past any identity: dropout, flatten, a folded batchNorm) runs inside that layer's last
 * kernel; other activations run in place.
 *
 * Memory (heap of the kernel instance, byte offsets):
 *   per dense / conv2d layer: weight (out·in int8 — a conv's out·d16 —, or f32 when dequantized),
 *   scales (out f32), bias (out f32), the panels of a dense layer once a second call has
 *   fewer than 4 rows (float compute: panels_length(in, out) f32, made on the first such call;
 *   int8: panels_i16_length(out, in) i16), an int8 conv's panels (panels_i16_length(out, depth)
 *   i16, in place of its int8 weight); for convolutions one work buffer (the largest of
 *   im2row_i8's rows, oh·ow · d8 int8, and conv2d_forward's columns, cin·kh·kw · oh·ow f32);
 *   for a batch capacity of `rows`: two f32 activation buffers (rows·widest), the int8 row
 *   buffer (rows·widest), the int32 sums (rows·widest) and the class ids (rows i32).
 */
import { ArgumentError, OptionError, OutOfMemoryError } from "../errors.js";
import { thresholdLogits } from "../nn/multi-label.js";
import { requireScores, type ModelTask } from "../nn/task.js";
import type { KernelExports } from "../runtime/abi.js";
import { requireArray, requireFinite, requireTemperature, rowsOf, type FloatArray } from "../validate.js";
import { hasWeights, type QuantizedLayer, type QuantizedNet, type QuantizedPool, type QuantizedWeighted } from "./net.js";
import { dequantizeRows } from "./weights.js";

export type Int8Kernels = Pick<
  KernelExports,
  | "memory"
  | "heap_alloc"
  | "heap_free"
  | "heap_used"
  | "quantize_i8"
  | "gemm_i8_nt"
  | "panels_i16_length"
  | "pack_panels_i16"
  | "gemm_i8_panels"
  | "dequantize_i32"
  | "dequantize_i32_rows"
  | "gemm_nt"
  | "panels_length"
  | "pack_panels"
  | "gemm_panels"
  | "relu_forward"
  | "leaky_relu_forward"
  | "tanh_forward"
  | "sigmoid_forward"
  | "gelu_forward"
  | "softmax_forward"
  | "argmax"
  | "im2row_i8"
  | "gemm_i8_conv"
  | "maxpool2x2_i32"
  | "conv2d_forward"
  | "maxpool2d_forward"
  | "avgpool2d_forward"
>;

/** Rows per forward pass, as Sequential's inference. */
const CHUNK = 256;
/** gemm_nt's flag for a fused ReLU (GEMM_RELU in assembly/gemm.ts). */
const GEMM_RELU = 2;

interface Placed {
  layer: QuantizedWeighted;
  weight: number;
  scale: number;
  bias: number;
  /** a ReLU follows: applied in this layer's last kernel, the activation layer skipped */
  relu: boolean;
  /**
   * the weights packed into panels (0 = not yet): a dense layer's for fewer than 4 rows, f32 panels
   * with float compute, i16 with int8; an int8 convolution's i16 panels, made when it is placed
   */
  panels: number;
  /** int8 convolutions: the row length of im2row_i8's rows and gemm_i8_conv's depth (the depth rounded up to 8) */
  depth8: number;
  /** int8 convolutions: the 2×2 max pool that follows, run on the int32 sums (undefined: none, or it runs in float) */
  pool?: QuantizedPool;
}

/** The panels' block over the depth (assembly/int8-panels.ts): int8 convolutions pad their depth to a multiple of it. */
const PANEL_BLOCK = 8;

export class Int8Runner {
  private kernels: Int8Kernels | undefined;
  private readonly steps: (Placed | QuantizedLayer)[] = [];
  private readonly widest: number;
  private readonly owned: number[] = [];
  private readonly batch: number[] = [];
  private capacity = 0;
  private a = 0;
  private b = 0;
  private q = 0;
  private acc = 0;
  private ids = 0;
  /** maxPool's (rows, outputs) i32 window indices, unused at inference but written by the kernel */
  private argmax = 0;
  /** int8 dense layers that have had one call of fewer than 4 rows (the next packs their panels) */
  private readonly smallCallSeen = new Set<Placed>();
  /** convolutions' work buffer (bytes: see the module comment), 0 without convolutions */
  private work = 0;

  constructor(
    kernels: Int8Kernels,
    private readonly net: QuantizedNet,
  ) {
    this.kernels = kernels;
    let widest = net.inputs;
    let work = 0;
    /** the ReLU and max pool layers a dense or conv2d layer applies itself */
    const fused = new Set<number>();
    const skipIdentities = (from: number) => {
      while (net.layers[from]?.type === "identity") from++;
      return from;
    };
    try {
      net.layers.forEach((l, i) => {
        if (hasWeights(l)) {
          widest = Math.max(widest, l.outputs);
          let next = skipIdentities(i + 1);
          const after = net.layers[next];
          const relu = after?.type === "activation" && after.name === "relu";
          if (relu) fused.add(next);
          const placed = this.place(l, relu);
          if (l.type === "conv2d") {
            const depth = l.inShape[0] * l.kernel[0] * l.kernel[1];
            const spatial = l.outShape[1] * l.outShape[2];
            work = Math.max(work, depth * spatial * 4, l.inputScale === undefined ? 0 : roundUp(depth, PANEL_BLOCK) * spatial);
            if (relu) next = skipIdentities(next + 1);
            const pool = net.layers[next];
            if (pool?.type === "pool" && pool.max && pool.kernel === 2 && pool.stride === 2 && !pool.padding && poolsBeforeDequantizing(l, relu)) {
              placed.pool = pool;
              fused.add(next);
            }
          }
          this.steps.push(placed);
        } else if (l.type === "pool" && !fused.has(i)) {
          widest = Math.max(widest, l.outputs);
          this.steps.push(l);
        } else if (l.type === "activation" && !fused.has(i)) {
          this.steps.push(l);
        }
      });
      if (work > 0) this.work = this.take(work, this.owned);
    } catch (err) {
      this.dispose();
      throw err;
    }
    this.widest = widest;
  }

  /** Raw outputs (rows, outputs) for x (rows, inputs). */
  logits(op: string, x: FloatArray): Float32Array {
    const result = new Float32Array(this.rows(op, x) * this.net.outputs);
    this.eachChunk(op, x, (out, n, first) => result.set(this.f32(out, n * this.net.outputs), first * this.net.outputs));
    return result;
  }

  /**
   * softmax(logits / T) per row; σ(logits) per output for a multi-label net (temperature 1
   * only); TaskError for a regression net (src/nn/task.ts).
   */
  probabilities(op: string, x: FloatArray, temperature: unknown = 1): Float32Array {
    requireScores(op, this.task);
    const rows = this.rows(op, x);
    const t = requireTemperature(op, temperature);
    const multiLabel = this.task === "multilabel";
    if (multiLabel && t !== 1) throw new OptionError(`${op}: a multi-label model gives σ(logits) per label; temperature applies to softmax classifiers only`);
    const result = new Float32Array(rows * this.net.outputs);
    this.eachChunk(op, x, (out, n, first) => {
      if (multiLabel) this.kernels!.sigmoid_forward(out, out, n * this.net.outputs);
      else this.kernels!.softmax_forward(out, out, n, this.net.outputs, t);
      result.set(this.f32(out, n * this.net.outputs), first * this.net.outputs);
    });
    return result;
  }

  /** What the net's task predicts (src/nn/task.ts): class ids (argmax of the outputs), 0/1 per label, or the outputs (regression). */
  predict(op: string, x: FloatArray): Int32Array | Float32Array {
    if (this.task === "regression") return this.logits(op, x);
    if (this.task === "multilabel") return thresholdLogits(this.logits(op, x));
    const result = new Int32Array(this.rows(op, x));
    this.eachChunk(op, x, (out, n, first) => {
      this.kernels!.argmax(this.ids, out, n, this.net.outputs);
      result.set(new Int32Array(this.kernels!.memory.buffer, this.ids, n), first);
    });
    return result;
  }

  /** What the net's outputs mean. */
  get task(): ModelTask {
    return this.net.task ?? "classification";
  }

  /** Frees every allocation; any later call throws ArgumentError. */
  dispose(): void {
    const k = this.kernels;
    if (!k) return;
    for (const p of [...this.batch, ...this.owned]) k.heap_free(p);
    this.batch.length = this.owned.length = 0;
    this.kernels = undefined;
  }

  get isDisposed(): boolean {
    return this.kernels === undefined;
  }

  // ---------------------------------------------------------------- internals

  private place(l: QuantizedWeighted, relu: boolean): Placed {
    const w = l.weight;
    const float = l.inputScale === undefined;
    const out = l.bias.length;
    const depth = w.length / out;
    const int8Conv = l.type === "conv2d" && !float;
    const weight = this.take(float ? w.length * 4 : w.length, this.owned);
    if (w instanceof Float32Array)
      this.f32(weight, w.length).set(w); // fp16 weights, as f32
    else if (float) this.f32(weight, w.length).set(dequantizeRows(w, l.weightScale!, depth));
    else new Int8Array(this.kernels!.memory.buffer, weight, w.length).set(w);
    let panels = 0;
    if (int8Conv) {
      // the int8 copy was the packing's source only: the panels replace it
      const k = this.kernels!;
      panels = this.take(k.panels_i16_length(out, depth) * 2, this.owned);
      k.pack_panels_i16(panels, weight, out, depth, depth);
      this.owned.splice(this.owned.indexOf(weight), 1);
      k.heap_free(weight);
    }
    const scale = this.take(l.bias.length * 4, this.owned);
    this.f32(scale, l.bias.length).set(l.weightScale ?? new Float32Array(l.bias.length).fill(1));
    const bias = this.take(l.bias.length * 4, this.owned);
    this.f32(bias, l.bias.length).set(l.bias);
    return { layer: l, weight: int8Conv ? 0 : weight, scale, bias, relu, panels, depth8: int8Conv ? roundUp(depth, PANEL_BLOCK) : depth };
  }

  private rows(op: string, x: FloatArray): number {
    if (!this.kernels) throw new ArgumentError(`${op}: this quantized model has been disposed; load it again`);
    return rowsOf(op, "x", requireArray(op, "x", x), this.net.inputs);
  }

  private eachChunk(op: string, x: FloatArray, fn: (out: number, rows: number, first: number) => void): void {
    const arr = requireArray(op, "x", x);
    const rows = rowsOf(op, "x", arr, this.net.inputs);
    requireFinite(op, "x", arr, this.net.inputs);
    this.reserve(Math.min(rows, CHUNK));
    const inputs = this.net.inputs;
    for (let first = 0; first < rows; first += CHUNK) {
      const n = Math.min(CHUNK, rows - first);
      this.f32(this.a, n * inputs).set(
        ArrayBuffer.isView(arr)
          ? (arr as Float32Array).subarray(first * inputs, (first + n) * inputs)
          : Array.prototype.slice.call(arr, first * inputs, (first + n) * inputs),
      );
      fn(this.forward(n), n, first);
    }
  }

  /** The a buffer (rows, inputs) through every layer; returns the pointer of the outputs (rows, outputs). */
  private forward(n: number): number {
    const k = this.kernels!;
    let cur = this.a;
    let other = this.b;
    let width = this.net.inputs;
    for (const s of this.steps) {
      if ("layer" in s) {
        const l = s.layer;
        if (l.type === "conv2d") this.convolve(s, l, cur, other, n);
        else this.dense(s, cur, other, n);
        [cur, other] = [other, cur];
        width = s.pool ? s.pool.outputs : l.outputs;
      } else if (s.type === "pool") {
        const [c, h, w] = s.inShape;
        if (s.max) k.maxpool2d_forward(other, this.argmax, cur, n, c, h, w, s.kernel, s.stride, s.padding);
        else k.avgpool2d_forward(other, cur, n, c, h, w, s.kernel, s.stride, s.padding);
        [cur, other] = [other, cur];
        width = s.outputs;
      } else if (s.type === "activation") {
        const count = n * width;
        if (s.name === "leaky_relu") k.leaky_relu_forward(cur, cur, count, s.slope);
        else if (s.name === "relu") k.relu_forward(cur, cur, count);
        else if (s.name === "tanh") k.tanh_forward(cur, cur, count);
        else if (s.name === "sigmoid") k.sigmoid_forward(cur, cur, count);
        else k.gelu_forward(cur, cur, count);
      }
    }
    return cur;
  }

  /** A dense layer: x (n, in) at `x` → y (n, out) at `y`. */
  private dense(s: Placed, x: number, y: number, n: number): void {
    const k = this.kernels!;
    const l = s.layer;
    const flags = s.relu ? GEMM_RELU : 0;
    if (l.inputScale === undefined && n < 4) {
      // As Sequential: a few rows against weights packed once (the same bits as gemm_nt).
      if (!s.panels) {
        s.panels = this.take(k.panels_length(l.inputs, l.outputs) * 4, this.owned);
        k.pack_panels(s.panels, s.weight, l.inputs, 1, l.inputs, l.outputs);
      }
      k.gemm_panels(y, x, s.panels, s.bias, n, l.outputs, l.inputs, l.inputs, l.outputs, flags);
    } else if (l.inputScale === undefined) {
      k.gemm_nt(y, x, s.weight, s.bias, n, l.outputs, l.inputs, l.inputs, l.inputs, l.outputs, flags);
    } else {
      k.quantize_i8(this.q, x, n * l.inputs, l.inputScale);
      if (n < 4 && this.packInt8Panels(s)) k.gemm_i8_panels(this.acc, this.q, s.panels, n, l.outputs, l.inputs, l.inputs, l.outputs);
      else k.gemm_i8_nt(this.acc, this.q, s.weight, n, l.outputs, l.inputs, l.inputs, l.inputs, l.outputs);
      k.dequantize_i32(y, this.acc, s.scale, s.bias, n, l.outputs, l.inputScale, s.relu ? 1 : 0);
    }
  }

  /**
   * Whether an int8 dense layer's i16 panels are ready: made on its second call of fewer than
   * 4 rows (the first runs gemm_i8_nt on the weights as they are, the same integers).
   */
  private packInt8Panels(s: Placed): boolean {
    if (s.panels) return true;
    if (!this.smallCallSeen.has(s)) {
      this.smallCallSeen.add(s);
      return false;
    }
    const k = this.kernels!;
    const l = s.layer;
    s.panels = this.take(k.panels_i16_length(l.outputs, l.inputs) * 2, this.owned);
    k.pack_panels_i16(s.panels, s.weight, l.outputs, l.inputs, l.inputs);
    return true;
  }

  /** A conv2d layer: x (n, cin, h, w) at `x` → y (n, out, oh, ow) at `y` (see the module comment). */
  private convolve(s: Placed, l: QuantizedWeighted & { type: "conv2d" }, x: number, y: number, n: number): void {
    const k = this.kernels!;
    const [cin, h, w] = l.inShape;
    const [out, oh, ow] = l.outShape;
    const [kh, kw] = l.kernel;
    if (l.inputScale === undefined) {
      k.conv2d_forward(y, x, s.weight, s.bias, this.work, n, cin, h, w, out, kh, kw, l.stride, l.padding, s.relu ? GEMM_RELU : 0);
      return;
    }
    const spatial = oh * ow;
    const depth = s.depth8;
    const relu = s.relu ? 1 : 0;
    const pool = s.pool;
    const outputs = pool ? pool.outputs : l.outputs;
    k.quantize_i8(this.q, x, n * l.inputs, l.inputScale);
    for (let img = 0; img < n; img++) {
      k.im2row_i8(this.work, this.q + img * l.inputs, cin, h, w, kh, kw, l.stride, l.padding, depth);
      // with a pool: the sums (out, oh, ow) int32 in acc, pooled into y's place; then dequantized there
      const yImg = y + img * outputs * 4;
      k.gemm_i8_conv(pool ? this.acc : yImg, s.panels, this.work, out, spatial, depth, depth, spatial);
      if (pool) k.maxpool2x2_i32(yImg, this.acc, out, oh, ow);
      k.dequantize_i32_rows(yImg, yImg, s.scale, s.bias, out, outputs / out, l.inputScale, relu);
    }
  }

  /** Batch buffers for up to `rows` rows (all or nothing). */
  private reserve(rows: number): void {
    if (rows <= this.capacity) return;
    const k = this.kernels!;
    for (const p of this.batch) k.heap_free(p);
    this.batch.length = 0;
    this.capacity = 0;
    try {
      const cells = Math.max(rows * this.widest, 4);
      this.a = this.take(cells * 4, this.batch);
      this.b = this.take(cells * 4, this.batch);
      this.q = this.take(cells, this.batch);
      this.acc = this.take(cells * 4, this.batch);
      this.ids = this.take(rows * 4, this.batch);
      this.argmax = this.take(cells * 4, this.batch);
      this.capacity = rows;
    } catch (err) {
      for (const p of this.batch) k.heap_free(p);
      this.batch.length = 0;
      throw err;
    }
  }

  /** `bytes` from the instance's heap (16-byte aligned), recorded in `list`, or OutOfMemoryError. */
  private take(bytes: number, list: number[]): number {
    const k = this.kernels!;
    const size = Math.max(bytes, 16);
    const ptr = Number.isSafeInteger(size) && size <= 0xfffe0000 ? k.heap_alloc(size) >>> 0 : 0;
    if (ptr === 0) {
      throw new OutOfMemoryError(
        `cannot allocate ${size} bytes for a quantized model: WebAssembly memory is limited to 4 GiB (${k.heap_used() >>> 0} bytes in use)`,
      );
    }
    list.push(ptr);
    return ptr;
  }

  private f32(ptr: number, length: number): Float32Array {
    return new Float32Array(this.kernels!.memory.buffer, ptr, length);
  }
}

/**
 * Whether max pooling the int32 sums of an int8 convolution and then dequantizing gives the
 * bits of dequantizing (with the fused ReLU) and then maxpool2d_forward, for every channel j.
 * Dequantization is v(a) = fl(fl(f32(a) · s_j) + b_j), s_j = fl(s_x · w_scale_j) (the f32
 * product dequantize_i32_rows forms), then max(v, +0) with the ReLU. When s_j is finite with
 * its sign bit clear (+0 included) and b_j is finite, each step is monotonic non-decreasing in
 * a (i32 → f32 rounds to nearest; multiplying by s ≥ +0 and adding b keep the order; so does
 * max(·, +0)) and none gives NaN (f32(a) is finite, and ±∞ from an overflowing product plus a
 * finite b stays ±∞). So the largest sum of a window dequantizes to the largest value of the
 * window, and maxpool2d_forward (the first maximum in scan order wins) returns a value equal to
 * it. Equal floats have equal bits except +0 and −0: v is −0 only when b_j is −0 (a sum that is
 * exactly 0 rounds to +0), and max(·, +0) turns −0 into +0; so with the ReLU, or with no bias
 * of −0, every value has one bit pattern and the two orders agree bit for bit. Elsewhere (a
 * negative, infinite or NaN scale, a non-finite bias, −0 bias without the ReLU) the pool runs
 * in float on the dequantized values, as before.
 */
function poolsBeforeDequantizing(l: QuantizedWeighted, relu: boolean): boolean {
  const xs = Math.fround(l.inputScale!);
  return l.bias.every((b, j) => {
    const s = Math.fround(xs * l.weightScale![j]!);
    // s in [+0, ∞) (1 / s > 0 refuses −0; NaN fails every comparison), b finite, no −0 bias without the ReLU
    return s < Infinity && 1 / s > 0 && Number.isFinite(b) && (relu || !Object.is(b, -0));
  });
}

/** n rounded up to a multiple of step. */
function roundUp(n: number, step: number): number {
  return Math.ceil(n / step) * step;
}
