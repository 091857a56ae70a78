/**
 * Max and average pooling split across threads by blocks of whole images (the rule: the
 * pooling kinds in protocol.ts): every output (and every input gradient) depends on one
 * image alone, so each block is an ordinary call on offset pointers and the bits are those
 * of one call over the batch. argmax holds indices within a plane, so it needs no adjusting.
 *
 * Calls with fewer than `minMacs` window elements (batch·c·oh·ow·k²) run on the calling thread.
 */
import type { KernelExports } from "../abi.js";
import { chunkSize, type ThreadPool } from "./pool.js";
import { CHUNK, type ChunkLayout } from "./protocol.js";

export type PoolKernels = Pick<KernelExports, "maxpool2d_forward" | "maxpool2d_backward" | "avgpool2d_forward" | "avgpool2d_backward">;
type PoolKind = ChunkLayout<keyof PoolKernels>;

const MAX_FORWARD = CHUNK.maxpool2d_forward;
const MAX_BACKWARD = CHUNK.maxpool2d_backward;
const AVG_FORWARD = CHUNK.avgpool2d_forward;
const AVG_BACKWARD = CHUNK.avgpool2d_backward;

/** The four pooling kernels, each splitting its batch over `pool` plus the calling thread. */
export function parallelPools(kernels: PoolKernels, pool: ThreadPool, minMacs: number): PoolKernels {
  const { maxpool2d_forward: maxForward, maxpool2d_backward: maxBackward } = kernels;
  const { avgpool2d_forward: avgForward, avgpool2d_backward: avgBackward } = kernels;

  /**
   * Writes the chunks of one pooling call of `kind` and returns their count, or 0 when the
   * call should run on this thread alone. Its pointers, p0 … p(n−1) in the kernel's order,
   * advance by one input image (`…In` true) or one output image per image; the geometry
   * (batch, c, h, w, k, stride, pad) follows them.
   */
  function describe(
    kind: PoolKind,
    p0: number,
    p0In: boolean,
    p1: number,
    p1In: boolean,
    p2: number,
    p2In: boolean,
    batch: number,
    c: number,
    h: number,
    wd: number,
    k: number,
    stride: number,
    pad: number,
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
    const size = chunkSize(batch, kind.split.sizes.images, pool);
    const count = Math.ceil(batch / size);
    const words = pool.words;
    const A = kind.word;
    const P = kind.pointers;
    for (let i = 0; i < count; i++) {
      const b0 = i * size;
      const at = pool.chunk(i, kind);
      words[at + P[0]!] = p0 + b0 * (p0In ? inImage : outImage);
      words[at + P[1]!] = p1 + b0 * (p1In ? inImage : outImage);
      if (P.length === 3) words[at + P[2]!] = p2 + b0 * (p2In ? inImage : outImage);
      words[at + A.batch] = Math.min(size, batch - b0);
      words[at + A.c] = c;
      words[at + A.h] = h;
      words[at + A.w] = wd;
      words[at + A.k] = k;
      words[at + A.stride] = stride;
      words[at + A.pad] = pad;
    }
    return count;
  }

  return {
    maxpool2d_forward(y, argmax, x, batch, c, h, wd, k, stride, pad) {
      const count = describe(MAX_FORWARD, y, false, argmax, false, x, true, batch, c, h, wd, k, stride, pad);
      if (count === 0) maxForward(y, argmax, x, batch, c, h, wd, k, stride, pad);
      else pool.runChunks(count);
    },
    maxpool2d_backward(dx, dy, argmax, batch, c, h, wd, k, stride, pad) {
      const count = describe(MAX_BACKWARD, dx, true, dy, false, argmax, false, batch, c, h, wd, k, stride, pad);
      if (count === 0) maxBackward(dx, dy, argmax, batch, c, h, wd, k, stride, pad);
      else pool.runChunks(count);
    },
    avgpool2d_forward(y, x, batch, c, h, wd, k, stride, pad) {
      const count = describe(AVG_FORWARD, y, false, x, true, 0, false, batch, c, h, wd, k, stride, pad);
      if (count === 0) avgForward(y, x, batch, c, h, wd, k, stride, pad);
      else pool.runChunks(count);
    },
    avgpool2d_backward(dx, dy, batch, c, h, wd, k, stride, pad) {
      const count = describe(AVG_BACKWARD, dx, true, dy, false, 0, false, batch, c, h, wd, k, stride, pad);
      if (count === 0) avgBackward(dx, dy, batch, c, h, wd, k, stride, pad);
      else pool.runChunks(count);
    },
  };
}
