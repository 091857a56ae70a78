// Memory management over the module's linear memory: a general heap for buffers that
// live as long as their owner (model parameters, optimizer state, activations) and an
// arena of temporaries on top of it that is freed in stack order (mark / release).
//
// Layout (all addresses 16-byte aligned):
//
//   [ static data | block | block | ... | block )  free  [ memory end
//   0             heapStart                    top
//
// A block is a 16-byte header { size: u32 (payload bytes, a multiple of 16), next: u32
// (free-list link), tag: u32 (USED / FREE), unused } followed by its payload. Free blocks
// form one list in address order; heap_alloc takes the first that fits (splitting off
// the rest), heap_free merges a block with free neighbours and gives a free block that
// ends at `top` back to the untouched space. So create / free cycles leave `top` flat.
// Memory grows on demand (at least 1 MiB at a time). Every failure returns 0: the
// TypeScript layer turns it into an OutOfMemoryError, never a trap.

/** Every pointer handed out is a multiple of this (one v128). */
export const ALIGN: usize = 16;

/** Bytes of the GEMM packing buffers (see gemm.ts), allocated once at start. */
export const SCRATCH_BYTES: usize = 512 * 1024;

const HEADER: usize = 16;
const MIN_PAYLOAD: usize = 16;
const TAG_USED: u32 = 0x55534544;
const TAG_FREE: u32 = 0x46524545;
const PAGE: usize = 65536;
const MIN_GROW_PAGES: i32 = 16;

// @ts-ignore: decorator
@inline function alignUp(x: usize): usize {
  return (x + ALIGN - 1) & ~(ALIGN - 1);
}

// @ts-ignore: decorator
@inline function sizeOf(block: usize): usize {
  return <usize>load<u32>(block);
}

// @ts-ignore: decorator
@inline function nextOf(block: usize): usize {
  return <usize>load<u32>(block, 4);
}

// @ts-ignore: decorator
@inline function setHeader(block: usize, size: usize, next: usize, tag: u32): void {
  store<u32>(block, <u32>size);
  store<u32>(block, <u32>next, 4);
  store<u32>(block, tag, 8);
}

const heapStart: usize = alignUp(__heap_base);
let top: usize = 0;
let freeHead: usize = 0;
let usedBytes: usize = 0;
let scratch: usize = 0;

/** Grows linear memory so that [0, end) is addressable; false if the engine refuses. */
function ensureCapacity(end: usize): bool {
  const have = <usize>memory.size() * PAGE;
  if (end <= have) return true;
  const needPages = <i32>((end - have + PAGE - 1) / PAGE);
  if (memory.grow(max(needPages, MIN_GROW_PAGES)) >= 0) return true;
  return memory.grow(needPages) >= 0;
}

function ensureInit(): void {
  if (top != 0) return;
  top = heapStart;
  scratch = heap_alloc(SCRATCH_BYTES);
}

/** Start of the GEMM scratch block (SCRATCH_BYTES long, 16-byte aligned). */
export function scratch_base(): usize {
  if (scratch == 0) ensureInit();
  return scratch;
}

/**
 * Makes this instance's GEMM pack into the block at ptr (SCRATCH_BYTES, 16-byte aligned)
 * instead of its own. A worker instance that shares another instance's memory must never
 * run a heap of its own on it, so the owning instance allocates one block per worker.
 */
export function scratch_use(ptr: usize): void {
  scratch = ptr;
}

/**
 * Allocates `bytes` (rounded up to 16) and returns a 16-byte aligned pointer to them,
 * or 0 when memory cannot grow that far. Contents are not cleared.
 */
export function heap_alloc(bytes: usize): usize {
  ensureInit();
  if (bytes > <usize>0xfffe0000) return 0;
  const size = alignUp(max(bytes, MIN_PAYLOAD));
  // First fit in the address-ordered free list.
  let prev: usize = 0;
  let block = freeHead;
  while (block != 0) {
    const have = sizeOf(block);
    if (have >= size) {
      let next = nextOf(block);
      if (have - size >= HEADER + MIN_PAYLOAD) {
        // Split: the remainder stays free in the same list position.
        const rest = block + HEADER + size;
        setHeader(rest, have - size - HEADER, next, TAG_FREE);
        next = rest;
        setHeader(block, size, 0, TAG_USED);
      } else {
        setHeader(block, have, 0, TAG_USED);
      }
      if (prev) store<u32>(prev, <u32>next, 4);
      else freeHead = next;
      usedBytes += HEADER + sizeOf(block);
      return block + HEADER;
    }
    prev = block;
    block = nextOf(block);
  }
  // Nothing fits: take fresh space at the top.
  const end = top + HEADER + size;
  if (end < top || !ensureCapacity(end)) return 0;
  const fresh = top;
  setHeader(fresh, size, 0, TAG_USED);
  top = end;
  usedBytes += HEADER + size;
  return fresh + HEADER;
}

/**
 * Frees a pointer returned by heap_alloc. Pointers that are not live heap blocks are
 * ignored (and fail an assertion in the debug build) so that a double free cannot
 * corrupt the heap.
 */
export function heap_free(ptr: usize): void {
  ensureInit();
  const block = ptr - HEADER;
  const valid = ptr >= heapStart + HEADER && ptr < top && (ptr & (ALIGN - 1)) == 0 && load<u32>(block, 8) == TAG_USED;
  assert(valid, "heap_free: not a live heap block");
  if (!valid) return;
  usedBytes -= HEADER + sizeOf(block);
  // Find the neighbours in address order.
  let prev: usize = 0;
  let next = freeHead;
  while (next != 0 && next < block) {
    prev = next;
    next = nextOf(next);
  }
  let start = block;
  let size = sizeOf(block);
  if (next != 0 && block + HEADER + size == next) {
    size += HEADER + sizeOf(next);
    next = nextOf(next);
  }
  if (prev != 0 && prev + HEADER + sizeOf(prev) == block) {
    start = prev;
    size += HEADER + sizeOf(prev);
    // prev's own predecessor link stays as it is; prev absorbs block, whose header is
    // now payload: clear its tag so that a second free of the same pointer is refused.
    store<u32>(block, 0, 8);
  } else if (prev != 0) {
    store<u32>(prev, <u32>block, 4);
  } else {
    freeHead = block;
  }
  if (start + HEADER + size == top) {
    // The free block touches the top: give it back to the untouched space.
    top = start;
    unlink(start);
    store<u32>(start, 0, 8);
    return;
  }
  setHeader(start, size, next, TAG_FREE);
}

/** Removes `block` (the last block of the list, ending at top) from the free list. */
function unlink(block: usize): void {
  if (freeHead == block) {
    freeHead = 0;
    return;
  }
  let b = freeHead;
  while (b != 0 && nextOf(b) != block) b = nextOf(b);
  if (b != 0) store<u32>(b, 0, 4);
}

/** Bytes in live blocks, headers included (the scratch block counts). */
export function heap_used(): usize {
  ensureInit();
  return usedBytes;
}

/** End of the highest block: what the heap occupies, live or free. */
export function heap_top(): usize {
  ensureInit();
  return top;
}

// ---------------------------------------------------------------- arena of temporaries

// The arena records its blocks on a stack (an array of u32 pointers in a heap block).
let stack: usize = 0;
let stackLength: u32 = 0;
let stackCapacity: u32 = 0;
let arenaBytes: usize = 0;

/** Allocates a temporary of `bytes` (16-byte aligned); 0 when out of memory. */
export function arena_alloc(bytes: usize): usize {
  ensureInit();
  if (stackLength == stackCapacity) {
    const capacity: u32 = stackCapacity == 0 ? 64 : stackCapacity * 2;
    const bigger = heap_alloc(<usize>capacity << 2);
    if (bigger == 0) return 0;
    if (stack != 0) {
      memory.copy(bigger, stack, <usize>stackLength << 2);
      heap_free(stack);
    }
    stack = bigger;
    stackCapacity = capacity;
  }
  const ptr = heap_alloc(bytes);
  if (ptr == 0) return 0;
  store<u32>(stack + (<usize>stackLength << 2), <u32>ptr);
  stackLength++;
  arenaBytes += sizeOf(ptr - HEADER);
  return ptr;
}

/** The current arena position, to be passed back to `arena_release`. */
export function arena_mark(): u32 {
  return stackLength;
}

/** Frees every temporary allocated after `mark` (a value returned by `arena_mark`). */
export function arena_release(mark: u32): void {
  assert(mark <= stackLength, "arena_release: mark out of range");
  while (stackLength > mark) {
    stackLength--;
    const ptr = <usize>load<u32>(stack + (<usize>stackLength << 2));
    arenaBytes -= sizeOf(ptr - HEADER);
    heap_free(ptr);
  }
}

/** Frees every temporary. */
export function arena_reset(): void {
  arena_release(0);
}

/** Payload bytes of the live temporaries. */
export function arena_used(): usize {
  return arenaBytes;
}
