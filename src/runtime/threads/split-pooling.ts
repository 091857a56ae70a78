/**
 * Max and average pooling split across threads by blocks of whole images: every output
 * (and every input gradient) depends on one image alone, so each block is an ordinary call
 * on offset pointers and the bits are those of one call over the batch. argmax holds
 * indices within a plane, so it needs no adjusting.
 *
 * Calls with fewer than `minMacs` window elements (batch·c·oh·ow·k²) run on the calling thread.
 */
import type { KernelExports } from "./abi.js";
import { chunkSize } from "./parallel-gemm.js";
import {
  FORM_AVGPOOL_BACKWARD, FORM_AVGPOOL_FORWARD, FORM_MAXPOOL_BACKWARD, FORM_MAXPOOL_FORWARD, type ChunkRunner, type ThreadPool,
} from "./thread-pool.js";

export type PoolKernels = Pick<KernelExports, "maxpool2d_forward" | "maxpool2d_backward" | "avgpool2d_forward" | "avgpool2d_backward">;

/** The four pooling kernels, each splitting its batch over `pool` plus the calling thread. */
export function parallelPools(kernels: PoolKernels, pool: ThreadPool, minMacs: number): PoolKernels {
  const { maxpool2d_forward: maxForward, maxpool2d_backward: maxBackward } = kernels;
  const { avgpool2d_forward: avgForward, avgpool2d_backward: avgBackward } = kernels;
  // Max pooling takes three pointers, average pooling two; then batch, c, h, w, k, stride, pad.
  const runMax: ChunkRunner = (w, at) =>
    (w[at] === FORM_MAXPOOL_FORWARD ? maxForward : maxBackward)(
      w[at + 1]!, w[at + 2]!, w[at + 3]!, w[at + 4]!, w[at + 5]!, w[at + 6]!, w[at + 7]!, w[at + 8]!, w[at + 9]!, w[at + 10]!);
  const runAvg: ChunkRunner = (w, at) =>
    (w[at] === FORM_AVGPOOL_FORWARD ? avgForward : avgBackward)(
      w[at + 1]!, w[at + 2]!, w[at + 3]!, w[at + 4]!, w[at + 5]!, w[at + 6]!, w[at + 7]!, w[at + 8]!, w[at + 9]!);

  /**
   * Writes the chunks of one pooling call and returns their count, or 0 when the call should
   * run on this thread alone. Pointers p0 … p(n−1) advance by one input image (`…In` true)
   * or one output image per image; the geometry follows them.
   */
  function describe(
    form: number, n: 2 | 3, p0: number, p0In: boolean, p1: number, p1In: boolean, p2: number, p2In: boolean,
    batch: number, c: number, h: number, wd: number, k: number, stride: number, pad: number,
  ): number {
    // One image, or geometry the kernel does not accept (the layers validate shapes before
    // any call): one unsplit call, never blocks of nonsense.
    const valid = c > 0 && h > 0 && wd > 0 && k > 0 && stride >= 1 && pad >= 0 && 2 * pad <= k && h + 2 * pad >= k && wd + 2 * pad >= k;
    if (batch < 2 || !valid) return 0;
    const oh = Math.floor((h + 2 * pad - k) / stride) + 1;
    const ow = Math.floor((wd + 2 * pad - k) / stride) + 1;
    if (batch * c * oh * ow * k * k < minMacs) return 0;
    const inImage = c * h * wd * 4;
    const outImage = c * oh * ow * 4;
    const size = chunkSize(batch, 1, pool);
    const count = Math.ceil(batch / size);
    const words = pool.words;
    for (let i = 0; i < count; i++) {
      const b0 = i * size;
      const at = pool.chunkAt(i);
      words[at] = form;
      words[at + 1] = p0 + b0 * (p0In ? inImage : outImage);
      words[at + 2] = p1 + b0 * (p1In ? inImage : outImage);
      if (n === 3) words[at + 3] = p2 + b0 * (p2In ? inImage : outImage);
      const g = at + 1 + n;
      words[g] = Math.min(size, batch - b0);
      words[g + 1] = c; words[g + 2] = h; words[g + 3] = wd; words[g + 4] = k; words[g + 5] = stride; words[g + 6] = pad;
    }
    return count;
  }

  return {
    maxpool2d_forward(y, argmax, x, batch, c, h, wd, k, stride, pad) {
      const count = describe(FORM_MAXPOOL_FORWARD, 3, y, false, argmax, false, x, true, batch, c, h, wd, k, stride, pad);
      if (count === 0) maxForward(y, argmax, x, batch, c, h, wd, k, stride, pad);
      else pool.runChunks(count, runMax);
    },
    maxpool2d_backward(dx, dy, argmax, batch, c, h, wd, k, stride, pad) {
      const count = describe(FORM_MAXPOOL_BACKWARD, 3, dx, true, dy, false, argmax, false, batch, c, h, wd, k, stride, pad);
      if (count === 0) maxBackward(dx, dy, argmax, batch, c, h, wd, k, stride, pad);
      else pool.runChunks(count, runMax);
    },
    avgpool2d_forward(y, x, batch, c, h, wd, k, stride, pad) {
      const count = describe(FORM_AVGPOOL_FORWARD, 2, y, false, x, true, 0, false, batch, c, h, wd, k, stride, pad);
      if (count === 0) avgForward(y, x, batch, c, h, wd, k, stride, pad);
      else pool.runChunks(count, runAvg);
    },
    avgpool2d_backward(dx, dy, batch, c, h, wd, k, stride, pad) {
      const count = describe(FORM_AVGPOOL_BACKWARD, 2, dx, true, dy, false, 0, false, batch, c, h, wd, k, stride, pad);
      if (count === 0) avgBackward(dx, dy, batch, c, h, wd, k, stride, pad);
      else pool.runChunks(count, runAvg);
    },
  };
}
