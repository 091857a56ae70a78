// Aligned arena allocator over the module's linear memory.
//
// Layout of linear memory (all offsets 16-byte aligned):
//
//   [ static data | gemm scratch (SCRATCH_BYTES) | arena: tensors ...... | free ]
//   0             heapStart                      arenaBase               arenaTop
//
// The arena is a bump allocator: `arena_alloc` moves `arenaTop` up, `arena_mark`
// remembers a position and `arena_release` drops everything allocated after it,
// `arena_reset` drops everything. Nothing is ever freed individually, so a training
// step that works inside a mark/release pair allocates and frees in O(1) and
// never fragments. Memory grows on demand, 64 KiB pages at a time.

/** Every pointer handed out is a multiple of this (one v128). */
export const ALIGN: usize = 16;

/** Bytes reserved for the packing buffers of the GEMM kernels (see gemm.ts). */
export const SCRATCH_BYTES: usize = 512 * 1024;

const PAGE: usize = 65536;

// @ts-ignore: decorator
@inline function alignUp(x: usize): usize {
  return (x + ALIGN - 1) & ~(ALIGN - 1);
}

const heapStart: usize = alignUp(__heap_base);
let arenaBase: usize = 0;
let arenaTop: usize = 0;

/** Grows linear memory so that [0, end) is addressable; false if the engine refuses. */
function ensureCapacity(end: usize): bool {
  const have = <usize>memory.size() * PAGE;
  if (end <= have) return true;
  const needPages = <i32>((end - have + PAGE - 1) / PAGE);
  return memory.grow(needPages) >= 0;
}

/** Lazily places the scratch block and the arena after the static data. */
function ensureInit(): void {
  if (arenaBase != 0) return;
  arenaBase = heapStart + SCRATCH_BYTES;
  arenaTop = arenaBase;
  ensureCapacity(arenaBase);
}

/** Start of the GEMM scratch block (SCRATCH_BYTES long, 16-byte aligned). */
export function scratch_base(): usize {
  ensureInit();
  return heapStart;
}

/**
 * Allocates `bytes` (rounded up to 16) from the arena and returns a 16-byte aligned
 * pointer, or 0 when linear memory cannot grow that far. Contents are not cleared.
 */
export function arena_alloc(bytes: usize): usize {
  ensureInit();
  const ptr = arenaTop;
  const end = alignUp(ptr + bytes);
  if (end < ptr) return 0; // address space overflow
  if (!ensureCapacity(end)) return 0;
  arenaTop = end;
  return ptr;
}

/** Current top of the arena, to be passed back to `arena_release`. */
export function arena_mark(): usize {
  ensureInit();
  return arenaTop;
}

/** Frees everything allocated after `mark` (a value returned by `arena_mark`). */
export function arena_release(mark: usize): void {
  ensureInit();
  assert(mark >= arenaBase && mark <= arenaTop, "arena_release: mark out of range");
  arenaTop = mark;
}

/** Frees every arena allocation. */
export function arena_reset(): void {
  ensureInit();
  arenaTop = arenaBase;
}

/** Bytes currently allocated in the arena. */
export function arena_used(): usize {
  ensureInit();
  return arenaTop - arenaBase;
}
