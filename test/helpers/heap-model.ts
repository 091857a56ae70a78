/**
 * A model of the first-fit heap described in assembly/memory.ts, kept from the live blocks
 * alone. Because freeing merges a block with its free neighbours and gives free space that
 * touches the top back to the untouched space, the free blocks are exactly the gaps between
 * live blocks, and the top is the end of the highest live block. So:
 *
 *   - a request of n bytes needs a payload of size = roundUp16(max(n, 16));
 *   - it takes the lowest gap whose payload (gap − header) is at least `size`: the gap is
 *     split when the rest can hold a header and a minimum payload, else the block keeps the
 *     whole gap (its payload is then larger than asked);
 *   - with no gap that fits, the block starts at the top;
 *   - heap_used counts header + payload of every live block.
 *
 * The model only knows the blocks it handed out: start it on a heap with no free space
 * (e.g. a fresh engine) and route every heap_alloc / heap_free through it.
 */

export const HEADER = 16;
export const ALIGN = 16;
export const MIN_PAYLOAD = 16;

export const roundUp16 = (bytes: number): number => Math.ceil(bytes / ALIGN) * ALIGN;

/** Payload bytes a request of `bytes` needs (rounded up to 16, at least 16). */
export const payloadFor = (bytes: number): number => roundUp16(Math.max(bytes, MIN_PAYLOAD));

export interface ModelBlock {
  /** The pointer heap_alloc returns (just after the header). */
  ptr: number;
  /** Bytes asked for. */
  bytes: number;
  /** Payload bytes the block really has (≥ payloadFor(bytes)). */
  payload: number;
}

export class HeapModel {
  /** Live blocks, sorted by address. */
  private readonly blocks: ModelBlock[] = [];

  /**
   * @param base heap_top when the model starts (nothing free below it)
   * @param baseUsed heap_used when the model starts
   */
  constructor(
    readonly base: number,
    readonly baseUsed: number,
  ) {}

  get live(): readonly ModelBlock[] {
    return this.blocks;
  }

  /** Where heap_top should be. */
  get top(): number {
    const last = this.blocks[this.blocks.length - 1];
    return last ? Math.max(this.base, last.ptr + last.payload) : this.base;
  }

  /** What heap_used should be. */
  get used(): number {
    return this.blocks.reduce((sum, b) => sum + HEADER + b.payload, this.baseUsed);
  }

  /** The block heap_alloc(bytes) should return. */
  alloc(bytes: number): ModelBlock {
    const size = payloadFor(bytes);
    let prevEnd = this.base;
    let at = this.blocks.length;
    let payload = size;
    for (let i = 0; i < this.blocks.length; i++) {
      const b = this.blocks[i]!;
      const have = b.ptr - HEADER - prevEnd - HEADER;
      if (have >= size) {
        at = i;
        payload = have - size >= HEADER + MIN_PAYLOAD ? size : have;
        break;
      }
      prevEnd = b.ptr + b.payload;
    }
    if (at === this.blocks.length) prevEnd = this.top;
    const block: ModelBlock = { ptr: prevEnd + HEADER, bytes, payload };
    this.blocks.splice(at, 0, block);
    return block;
  }

  /** Forgets the block at `ptr` (which must be live in the model). */
  free(ptr: number): ModelBlock {
    const i = this.blocks.findIndex((b) => b.ptr === ptr);
    if (i < 0) throw new Error(`heap model: ${ptr} is not a live block`);
    return this.blocks.splice(i, 1)[0]!;
  }
}
