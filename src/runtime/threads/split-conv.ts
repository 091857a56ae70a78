/**
 * Convolutions split across threads, with the bits of one thread (assembly/conv.ts); the
 * rules and sizes are those of conv2d_forward, conv2d_backward_filter and
 * conv2d_backward_data in protocol.ts.
 *
 * - forward: the batch is cut into blocks of whole images; images are independent.
 * - backward, weight half: the weight gradient, seen as (cout, K) with K = cin·kh·kw, is
 *   cut into blocks (conv2d_backward_filter); each element is still summed over (image,
 *   position) in order. Blocks of columns when K has enough for every thread: each thread
 *   then unrolls only its rows of every image's im2col (db goes with the first block).
 *   Otherwise (a first layer: K = 9 for one 3×3 input channel) blocks of output channels,
 *   each with its part of db; every thread then unrolls whole images.
 * - backward, input half: blocks of whole images (conv2d_backward_data).
 *
 * Each block needs its own im2col buffer. Block 0 uses the caller's `work`; the others use
 * buffers taken from the engine's heap the first time a convolution needs them and kept
 * (grown when a larger convolution comes): (threads − 1) · cin·kh·kw · oh·ow floats of the
 * largest convolution run, on top of what the model itself holds.
 *
 * Convolutions of fewer than `minMacs` multiply-adds (batch·cout·oh·ow·cin·kh·kw) run on
 * the calling thread.
 */
import { OutOfMemoryError } from "../../errors.js";
import type { KernelExports } from "../abi.js";
import { chunkSize, type ThreadPool } from "./pool.js";
import { CHUNK } from "./protocol.js";

type ConvBase = Pick<KernelExports, "conv2d_forward" | "conv2d_backward" | "conv2d_backward_data" | "heap_alloc" | "heap_free">;
export type ConvKernels = Pick<KernelExports, "conv2d_forward" | "conv2d_backward">;

const FORWARD = CHUNK.conv2d_forward;
const FILTER = CHUNK.conv2d_backward_filter;
const DATA = CHUNK.conv2d_backward_data;
const { columns: COLUMN_UNIT, rows: ROW_UNIT, minColumnsPerThread: MIN_COLUMNS_PER_THREAD } = FILTER.split.sizes;
const IMAGES = FORWARD.split.sizes.images;

/** im2col buffers for blocks 1 … threads−1, grown on demand and kept. */
class WorkBuffers {
  private readonly ptrs: number[];
  private readonly sizes: number[];

  constructor(
    private readonly heap: Pick<KernelExports, "heap_alloc" | "heap_free">,
    blocks: number,
  ) {
    this.ptrs = new Array<number>(blocks).fill(0);
    this.sizes = new Array<number>(blocks).fill(0);
  }

  /** A buffer of at least `bytes` for block `i` (≥ 1). */
  get(i: number, bytes: number): number {
    if (this.sizes[i]! >= bytes) return this.ptrs[i]!;
    if (this.ptrs[i] !== 0) this.heap.heap_free(this.ptrs[i]!);
    this.ptrs[i] = 0;
    this.sizes[i] = 0;
    const ptr = this.heap.heap_alloc(bytes) >>> 0;
    if (ptr === 0) throw new OutOfMemoryError(`cannot allocate ${bytes} bytes of im2col workspace for a convolution's worker thread`);
    this.ptrs[i] = ptr;
    this.sizes[i] = bytes;
    return ptr;
  }
}

/** conv2d_forward and conv2d_backward, each splitting its work over `pool` plus the calling thread. */
export function parallelConvs(kernels: ConvBase, pool: ThreadPool, minMacs: number): ConvKernels {
  const buffers = new WorkBuffers(kernels, pool.workers + 1);
  const { conv2d_forward: forward, conv2d_backward: backward, conv2d_backward_data: data } = kernels;

  /** Images per block for a batch (one block per thread), or 0 when it should not be split. */
  const imagesPerBlock = (batch: number): number => (batch < 2 ? 0 : chunkSize(batch, IMAGES, pool));

  return {
    conv2d_forward(y, x, w, bias, work, batch, cin, h, wd, cout, kh, kw, stride, pad, flags) {
      const P = outputPositions(h, wd, kh, kw, stride, pad);
      const K = cin * kh * kw;
      const size = imagesPerBlock(batch);
      // Geometry the kernel does not accept (the layers validate shapes before any call) is not split.
      if (P <= 0 || !(batch > 0 && cout > 0 && K > 0) || size === 0 || batch * cout * P * K < minMacs) {
        forward(y, x, w, bias, work, batch, cin, h, wd, cout, kh, kw, stride, pad, flags);
        return;
      }
      const direct = isDirect(kh, kw, stride, pad);
      const words = pool.words;
      const A = FORWARD.word;
      const count = Math.ceil(batch / size);
      for (let i = 0; i < count; i++) {
        const b0 = i * size;
        const at = pool.chunk(i, FORWARD);
        words[at + A.y] = y + b0 * cout * P * 4;
        words[at + A.x] = x + b0 * cin * h * wd * 4;
        words[at + A.w] = w;
        words[at + A.bias] = bias;
        words[at + A.work] = i === 0 || direct ? work : buffers.get(i, K * P * 4);
        words[at + A.batch] = Math.min(size, batch - b0);
        setGeometry(words, at, A, cin, h, wd, cout, kh, kw, stride, pad);
        words[at + A.flags] = flags;
      }
      pool.runChunks(count);
    },

    conv2d_backward(dx, dw, db, dy, x, w, work, batch, cin, h, wd, cout, kh, kw, stride, pad) {
      const P = outputPositions(h, wd, kh, kw, stride, pad);
      const K = cin * kh * kw;
      if (P <= 0 || !(batch > 0 && cout > 0 && K > 0) || w === 0 || batch * cout * P * K < minMacs) {
        backward(dx, dw, db, dy, x, w, work, batch, cin, h, wd, cout, kh, kw, stride, pad);
        return;
      }
      const direct = isDirect(kh, kw, stride, pad);
      const words = pool.words;
      // Weight half: blocks of dw's columns, or of its rows when K is short.
      const threads = pool.workers + 1;
      const byRows = K < MIN_COLUMNS_PER_THREAD * threads && cout >= ROW_UNIT * threads;
      const extent = byRows ? cout : K;
      const block = chunkSize(extent, byRows ? ROW_UNIT : COLUMN_UNIT, pool);
      const filterCount = Math.ceil(extent / block);
      const F = FILTER.word;
      for (let i = 0; i < filterCount; i++) {
        const from = i * block;
        const to = Math.min(extent, from + block);
        const at = pool.chunk(i, FILTER);
        words[at + F.dw] = dw;
        words[at + F.db] = byRows || i === 0 ? db : 0;
        words[at + F.dy] = dy;
        words[at + F.x] = x;
        const rows = byRows ? K : to - from; // rows of col (each P floats) this block unrolls
        words[at + F.work] = i === 0 || direct ? work : buffers.get(i, rows * P * 4);
        words[at + F.batch] = batch;
        setGeometry(words, at, F, cin, h, wd, cout, kh, kw, stride, pad);
        // dw[o0:o1, k0:k1]: output channels from … to−1 with all of K, or columns from … to−1 of all channels.
        words[at + F.o0] = byRows ? from : 0;
        words[at + F.o1] = byRows ? to : cout;
        words[at + F.k0] = byRows ? 0 : from;
        words[at + F.k1] = byRows ? K : to;
      }
      pool.runChunks(filterCount);
      if (dx === 0) return;
      // Input half: blocks of images.
      const size = imagesPerBlock(batch);
      if (size === 0) {
        data(dx, dy, w, work, batch, cin, h, wd, cout, kh, kw, stride, pad);
        return;
      }
      const dataCount = Math.ceil(batch / size);
      const D = DATA.word;
      for (let i = 0; i < dataCount; i++) {
        const b0 = i * size;
        const at = pool.chunk(i, DATA);
        words[at + D.dx] = dx + b0 * cin * h * wd * 4;
        words[at + D.dy] = dy + b0 * cout * P * 4;
        words[at + D.w] = w;
        words[at + D.work] = i === 0 || direct ? work : buffers.get(i, K * P * 4);
        words[at + D.batch] = Math.min(size, batch - b0);
        setGeometry(words, at, D, cin, h, wd, cout, kh, kw, stride, pad);
      }
      pool.runChunks(dataCount);
    },
  };
}

/** oh·ow, or a value ≤ 0 when the geometry is invalid. */
function outputPositions(h: number, wd: number, kh: number, kw: number, stride: number, pad: number): number {
  if (!(stride >= 1 && pad >= 0 && h + 2 * pad >= kh && wd + 2 * pad >= kw && kh > 0 && kw > 0)) return 0;
  return (Math.floor((h + 2 * pad - kh) / stride) + 1) * (Math.floor((wd + 2 * pad - kw) / stride) + 1);
}

/** A 1×1 kernel with stride 1 and no padding: col is the image itself, and work is unused. */
const isDirect = (kh: number, kw: number, stride: number, pad: number): boolean => kh === 1 && kw === 1 && stride === 1 && pad === 0;

/** The words of the geometry arguments every convolution chunk takes. */
type GeometryWords = { readonly [A in "cin" | "h" | "wd" | "cout" | "kh" | "kw" | "stride" | "pad"]: number };

/** Writes cin, h, wd, cout, kh, kw, stride, pad into the chunk at `at`, at their words `G`. */
function setGeometry(
  words: Int32Array,
  at: number,
  G: GeometryWords,
  cin: number,
  h: number,
  wd: number,
  cout: number,
  kh: number,
  kw: number,
  stride: number,
  pad: number,
): void {
  words[at + G.cin] = cin;
  words[at + G.h] = h;
  words[at + G.wd] = wd;
  words[at + G.cout] = cout;
  words[at + G.kh] = kh;
  words[at + G.kw] = kw;
  words[at + G.stride] = stride;
  words[at + G.pad] = pad;
}
