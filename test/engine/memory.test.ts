/**
 * Memory management (assembly/memory.ts) and the Engine's memory API (src/engine.ts).
 *
 * Heap: alignment and disjointness of blocks, first-fit reuse, coalescing of free
 * neighbours and give-back of free space at the top (so heap_used and heap_top return
 * exactly to where they were), a seeded stress run checked operation by operation against
 * an exact model (helpers/heap-model.ts), growth of linear memory with data intact,
 * out-of-memory as a 0 return instead of a trap, and bogus / double frees (ignored by the
 * release build, rejected with KernelAssertionError by the debug build).
 *
 * Arena of temporaries: arena_mark counts live temporaries, arena_release frees those
 * allocated after a mark (nested marks, interleaving with owned heap blocks, more
 * temporaries than the arena's initial bookkeeping holds).
 *
 * Engine: alloc / allocOwned / free / scoped, OutOfMemoryError and ArgumentError, the
 * heapBytes and bytesInUse counters, isolation between engines, and flat memory over many
 * create / free cycles.
 *
 * Every heap and arena test runs on a fresh engine so that its layout is known.
 */
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ArgumentError, Engine, KernelAssertionError, OutOfMemoryError, type KernelExports } from "../../src/index.js";
import { EXACT_BUILDS, loadBuild } from "../helpers/engines.js";
import { HEADER, HeapModel, payloadFor, roundUp16 } from "../helpers/heap-model.js";
import { TestRandom } from "../helpers/rand.js";

const ALIGN = 16;
const SCRATCH_BYTES = 512 * 1024;
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const ERR_NOT_LIVE = /heap_free: not a live heap block/;
const ERR_MARK = /arena_release: mark out of range/;

// ---------------------------------------------------------------- helpers

/** Raw heap and arena calls with results read as unsigned. */
function raw(engine: Engine) {
  const k = engine.kernels;
  return {
    alloc: (bytes: number) => k.heap_alloc(bytes) >>> 0,
    free: (ptr: number) => k.heap_free(ptr),
    used: () => k.heap_used() >>> 0,
    top: () => k.heap_top() >>> 0,
    temp: (bytes: number) => k.arena_alloc(bytes) >>> 0,
    mark: () => k.arena_mark() >>> 0,
    release: (mark: number) => k.arena_release(mark),
    arenaUsed: () => k.arena_used() >>> 0,
  };
}

function patternByte(tag: number, i: number): number {
  return (tag * 31 + i * 7 + (i >>> 8)) & 0xff;
}

/** Fills [ptr, ptr + bytes) with a byte pattern that depends on `tag` and the offset. */
function fillPattern(engine: Engine, ptr: number, bytes: number, tag: number): void {
  const view = new Uint8Array(engine.kernels.memory.buffer, ptr, bytes);
  for (let i = 0; i < bytes; i++) view[i] = patternByte(tag, i);
}

/** Index of the first byte that differs from the pattern, or −1. */
function patternMismatch(engine: Engine, ptr: number, bytes: number, tag: number): number {
  const view = new Uint8Array(engine.kernels.memory.buffer, ptr, bytes);
  for (let i = 0; i < bytes; i++) if (view[i] !== patternByte(tag, i)) return i;
  return -1;
}

interface Span {
  ptr: number;
  /** Bytes the caller may write (the request rounded up to 16). */
  bytes: number;
  tag: number;
}

/** Extent of a block including its header: [ptr − 16, ptr + payload). */
function extent(s: { ptr: number; bytes: number }): [number, number] {
  return [s.ptr - HEADER, s.ptr + Math.max(s.bytes, 16)];
}

/** Fails if any two blocks (headers included) overlap. */
function expectDisjoint(spans: readonly { ptr: number; bytes: number }[], what: string): void {
  const sorted = [...spans].sort((a, b) => a.ptr - b.ptr);
  for (let i = 1; i < sorted.length; i++) {
    const [, prevEnd] = extent(sorted[i - 1]!);
    const [start] = extent(sorted[i]!);
    if (start < prevEnd) {
      expect.fail(
        `${what}: block at ${sorted[i]!.ptr} (${sorted[i]!.bytes} bytes, header included) overlaps ` +
          `block at ${sorted[i - 1]!.ptr} (${sorted[i - 1]!.bytes} bytes)`,
      );
    }
  }
}

function expectPatterns(engine: Engine, spans: readonly Span[], what: string): void {
  for (const s of spans) {
    const at = patternMismatch(engine, s.ptr, s.bytes, s.tag);
    if (at >= 0) expect.fail(`${what}: block at ${s.ptr} (${s.bytes} bytes) changed at byte ${at}`);
  }
}

/** Fisher–Yates with the test generator. */
function shuffled<T>(items: readonly T[], rnd: TestRandom): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd.next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Runs `fn` and returns what it threw (undefined if nothing). */
function thrownBy(fn: () => void): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

/**
 * After a suspicious call: allocating, filling and freeing a few blocks must still give
 * disjoint blocks that keep their contents, disjoint from the `live` ones too, and freeing
 * them must bring heap_used back exactly.
 */
function expectHeapStillConsistent(engine: Engine, live: readonly Span[], sizes: readonly number[], what: string): void {
  const h = raw(engine);
  const used = h.used();
  const fresh: Span[] = sizes.map((n, i) => {
    const ptr = h.alloc(n);
    expect(ptr, `${what}: heap_alloc(${n}) after it`).not.toBe(0);
    return { ptr, bytes: roundUp16(n), tag: 200 + i };
  });
  expectDisjoint([...live, ...fresh], `${what}: later allocations`);
  for (const s of fresh) fillPattern(engine, s.ptr, s.bytes, s.tag);
  expectPatterns(engine, [...live, ...fresh], `${what}: after filling later allocations`);
  for (const s of fresh) h.free(s.ptr);
  expect(h.used(), `${what}: heap_used after freeing the later allocations`).toBe(used);
}

// ---------------------------------------------------------------- heap

describe.each(EXACT_BUILDS)("heap, %s build", (build) => {
  let engine: Engine;
  let h: ReturnType<typeof raw>;
  beforeEach(async () => {
    engine = await loadBuild(build);
    h = raw(engine);
  });

  it("heap_alloc gives 16-byte-aligned blocks for 0 … 1e6 bytes, each starting at the old heap_top, disjoint (headers included), below heap_top", () => {
    const scratchEnd = (engine.kernels.scratch_base() >>> 0) + SCRATCH_BYTES;
    const sizes = [0, 1, 15, 16, 17, 100, 4096, 1e6, 31, 33, 7];
    const spans: Span[] = [];
    for (const bytes of sizes) {
      const top = h.top();
      const used = h.used();
      const ptr = h.alloc(bytes);
      expect(ptr, `heap_alloc(${bytes}) failed`).not.toBe(0);
      expect(ptr % ALIGN, `heap_alloc(${bytes}) = ${ptr} is not 16-byte aligned`).toBe(0);
      expect(ptr, `heap_alloc(${bytes}) overlaps the GEMM scratch block`).toBeGreaterThanOrEqual(scratchEnd + HEADER);
      expect(ptr, `heap_alloc(${bytes}): no free block exists, so it starts at the old top`).toBe(top + HEADER);
      expect(h.top(), `heap_alloc(${bytes}): heap_top`).toBe(ptr + payloadFor(bytes));
      expect(h.used() - used, `heap_alloc(${bytes}): heap_used grew by header + rounded size`).toBe(HEADER + payloadFor(bytes));
      spans.push({ ptr, bytes: roundUp16(bytes), tag: spans.length });
      expectDisjoint(spans, `after heap_alloc(${bytes})`);
    }
    expect(engine.kernels.memory.buffer.byteLength).toBeGreaterThanOrEqual(h.top());
  });

  it("writing a block in full (its size rounded up to 16) never changes another block, and heap_free changes none but its own", () => {
    const sizes = [0, 1, 15, 16, 17, 100, 4096, 1e6, 33];
    const spans: Span[] = sizes.map((bytes, tag) => ({ ptr: h.alloc(bytes), bytes: roundUp16(bytes), tag }));
    spans.forEach((s) => fillPattern(engine, s.ptr, s.bytes, s.tag));
    expectPatterns(engine, spans, "after filling every block");
    for (const s of spans) {
      s.tag += 100;
      fillPattern(engine, s.ptr, s.bytes, s.tag);
      expectPatterns(engine, spans, `after rewriting the block of ${s.bytes} bytes`);
    }
    // Free every other block (their headers are rewritten, neighbours merged): the rest keep their bytes.
    const kept = spans.filter((_, i) => i % 2 === 1);
    spans.filter((_, i) => i % 2 === 0).forEach((s) => h.free(s.ptr));
    expectPatterns(engine, kept, "after freeing the blocks between them");
  });

  it("a freed block's address is handed out again for the same size (first fit) before fresh space at the top", () => {
    const a = h.alloc(100);
    const b = h.alloc(100);
    const c = h.alloc(100);
    const top = h.top();
    h.free(b);
    expect(h.alloc(100), "re-allocating the size of a freed middle block").toBe(b);
    expect(h.top(), "heap_top after reusing the freed block").toBe(top);
    h.free(c);
    expect(h.top(), "freeing the highest block gives its space back to the top").toBe(c - HEADER);
    expect(h.alloc(100), "re-allocating the size of the freed highest block").toBe(c);
    expect(h.top()).toBe(top);
    expect(a).toBeLessThan(b);
  });

  it("first fit: the lowest free block that fits is taken, a larger one is split and its rest serves later requests", () => {
    const A = h.alloc(64);
    h.alloc(16);
    const B = h.alloc(256);
    h.alloc(16);
    const C = h.alloc(64);
    h.alloc(16);
    const top = h.top();
    h.free(C);
    h.free(A);
    h.free(B);
    expect(h.alloc(64), "64 bytes: the lowest free block (A) fits exactly").toBe(A);
    expect(h.alloc(64), "64 bytes: B (256) is the lowest that fits; it is split").toBe(B);
    expect(h.alloc(128), "128 bytes: the rest of B (176 bytes) fits").toBe(B + 64 + HEADER);
    expect(h.alloc(64), "64 bytes: what is left of B (32 bytes) is too small, so C").toBe(C);
    expect(h.alloc(32), "32 bytes: the last 32 bytes of B").toBe(B + 64 + HEADER + 128 + HEADER);
    expect(h.top(), "nothing came from the top").toBe(top);
  });

  it("freeing three neighbours in each of the 6 orders coalesces them: one request for their combined size fits where they were", () => {
    const sizes = [48, 80, 112];
    const combined = sizes[0]! + sizes[1]! + sizes[2]! + 2 * HEADER;
    const orders = [
      [0, 1, 2],
      [0, 2, 1],
      [1, 0, 2],
      [1, 2, 0],
      [2, 0, 1],
      [2, 1, 0],
    ];
    const used0 = h.used();
    const top0 = h.top();
    for (const order of orders) {
      const ptrs = sizes.map((n) => h.alloc(n));
      const guard = h.alloc(16);
      const top = h.top();
      for (const i of order) h.free(ptrs[i]!);
      expect(h.used(), `order ${order}: heap_used with only the guard live`).toBe(used0 + HEADER + 16);
      expect(h.alloc(combined), `order ${order}: ${combined} bytes fit in the merged block`).toBe(ptrs[0]);
      expect(h.top(), `order ${order}: heap_top`).toBe(top);
      h.free(ptrs[0]!);
      h.free(guard);
      expect(h.used(), `order ${order}: heap_used after freeing everything`).toBe(used0);
      expect(h.top(), `order ${order}: heap_top after freeing everything`).toBe(top0);
    }
  });

  it("freeing everything in random orders brings heap_used back exactly and heap_top to its start; allocating again does not raise heap_top", () => {
    const used0 = h.used();
    const top0 = h.top();
    for (let seed = 1; seed <= 6; seed++) {
      const rnd = new TestRandom(seed);
      const sizes = Array.from({ length: 40 }, () => Math.floor(rnd.next() * (rnd.next() < 0.2 ? 40000 : 600)));
      const ptrs = sizes.map((n) => h.alloc(n));
      const topFull = h.top();
      let used = h.used();
      expect(used, `seed ${seed}: heap_used with every block live`).toBe(used0 + sizes.reduce((s, n) => s + HEADER + payloadFor(n), 0));
      for (const i of shuffled([...sizes.keys()], rnd)) {
        h.free(ptrs[i]!);
        used -= HEADER + payloadFor(sizes[i]!);
        expect(h.used(), `seed ${seed}: heap_used after freeing block ${i}`).toBe(used);
      }
      expect(h.used(), `seed ${seed}: heap_used after freeing everything`).toBe(used0);
      expect(h.top(), `seed ${seed}: heap_top after freeing everything`).toBe(top0);
      const again = shuffled(sizes, rnd).map((n) => h.alloc(n));
      expect(h.top(), `seed ${seed}: heap_top after allocating the same sizes again`).toBeLessThanOrEqual(topFull);
      for (const p of shuffled(again, rnd)) h.free(p);
      expect([h.used(), h.top()], `seed ${seed}: after the second round`).toEqual([used0, top0]);
    }
  });

  it("freeing a random half in random order and re-allocating those sizes in address order gives back the same addresses", () => {
    for (let seed = 11; seed <= 15; seed++) {
      const rnd = new TestRandom(seed);
      const sizes = Array.from({ length: 60 }, () => Math.floor(rnd.next() * 3000));
      const ptrs = sizes.map((n) => h.alloc(n));
      const top = h.top();
      const used = h.used();
      const freed = shuffled([...sizes.keys()], rnd).slice(0, 30);
      for (const i of freed) h.free(ptrs[i]!);
      for (const i of [...freed].sort((a, b) => a - b)) {
        expect(h.alloc(sizes[i]!), `seed ${seed}: block ${i} (${sizes[i]} bytes)`).toBe(ptrs[i]);
      }
      expect([h.used(), h.top()], `seed ${seed}: heap_used and heap_top`).toEqual([used, top]);
      for (const p of ptrs) h.free(p);
    }
  });

  it("stress: 4000 seeded alloc / free operations match the first-fit model (address, heap_used, heap_top) and every block keeps its contents", () => {
    const rnd = new TestRandom(2024);
    const model = new HeapModel(h.top(), h.used());
    const live = new Map<number, Span>();
    let reused = 0;
    let grown = 0;
    const drawSize = () => {
      const u = rnd.next();
      if (u < 0.5) return Math.floor(rnd.next() * 65);
      if (u < 0.8) return 65 + Math.floor(rnd.next() * 2000);
      if (u < 0.96) return 2048 + Math.floor(rnd.next() * 30000);
      return 32768 + Math.floor(rnd.next() * 300000);
    };
    for (let op = 0; op < 4000; op++) {
      const allocate = live.size === 0 || rnd.next() < (live.size < 150 ? 0.6 : 0.4);
      if (allocate) {
        const bytes = drawSize();
        const topBefore = h.top();
        const lengthBefore = engine.kernels.memory.buffer.byteLength;
        const want = model.alloc(bytes);
        const ptr = h.alloc(bytes);
        if (ptr !== want.ptr) {
          expect.fail(`op ${op}: heap_alloc(${bytes}) = ${ptr}, the first-fit model says ${want.ptr} (heap_top was ${topBefore})`);
        }
        if (ptr < topBefore) reused++;
        if (engine.kernels.memory.buffer.byteLength > lengthBefore) grown++;
        const span = { ptr, bytes: roundUp16(bytes), tag: op };
        fillPattern(engine, ptr, span.bytes, span.tag);
        live.set(ptr, span);
      } else {
        const victims = [...live.values()];
        const span = victims[Math.floor(rnd.next() * victims.length)]!;
        const at = patternMismatch(engine, span.ptr, span.bytes, span.tag);
        if (at >= 0) expect.fail(`op ${op}: block at ${span.ptr} (${span.bytes} bytes) changed at byte ${at} before its free`);
        model.free(span.ptr);
        h.free(span.ptr);
        live.delete(span.ptr);
      }
      if (h.used() !== model.used || h.top() !== model.top) {
        expect.fail(`op ${op}: heap_used ${h.used()} / heap_top ${h.top()}, the model says ${model.used} / ${model.top}`);
      }
      if (op % 500 === 499) {
        expectPatterns(engine, [...live.values()], `op ${op}`);
        expectDisjoint([...live.values()], `op ${op}`);
      }
    }
    // The run must actually have exercised reuse of freed space and growth of memory.
    expect(reused, "allocations served from freed space").toBeGreaterThan(500);
    expect(grown, "allocations that grew linear memory").toBeGreaterThan(0);
    for (const span of shuffled([...live.values()], rnd)) {
      expect(patternMismatch(engine, span.ptr, span.bytes, span.tag), `block at ${span.ptr} before the final free`).toBe(-1);
      h.free(span.ptr);
      model.free(span.ptr);
    }
    expect(h.used(), "heap_used after freeing everything").toBe(model.baseUsed);
    expect(h.top(), "heap_top after freeing everything").toBe(model.base);
  });

  it("a 50 MB block grows linear memory, keeps earlier data, is usable to its last byte, and freeing it lowers heap_top again", () => {
    const early = h.alloc(4096);
    fillPattern(engine, early, 4096, 3);
    const oldView = engine.f32(early, 1024);
    const before = engine.kernels.memory.buffer.byteLength;
    const topBefore = h.top();
    const bytes = 50 * 1000 * 1000;
    const big = h.alloc(bytes);
    expect(big, "heap_alloc(50 MB)").not.toBe(0);
    expect(big % ALIGN).toBe(0);
    expect(engine.kernels.memory.buffer.byteLength, "memory grew").toBeGreaterThan(before);
    expect(engine.kernels.memory.buffer.byteLength).toBeGreaterThanOrEqual(big + bytes);
    // Growth detaches old views (as the Engine docs warn); fresh views see the same bytes.
    expect(oldView.length, "a view taken before growth is detached").toBe(0);
    expect(patternMismatch(engine, early, 4096, 3), "earlier block after growth").toBe(-1);
    fillPattern(engine, big + bytes - 1024, 1024, 4);
    fillPattern(engine, big, 1024, 5);
    expect(patternMismatch(engine, big + bytes - 1024, 1024, 4), "end of the new block").toBe(-1);
    expect(patternMismatch(engine, big, 1024, 5), "start of the new block").toBe(-1);
    expect(patternMismatch(engine, early, 4096, 3), "earlier block after writing the new one").toBe(-1);
    h.free(big);
    expect(h.top(), "heap_top after freeing the 50 MB block").toBe(topBefore);
    expect(patternMismatch(engine, early, 4096, 3), "earlier block after freeing the new one").toBe(-1);
  });

  it("heap_alloc(0xfffffff0) and heap_alloc(0xfffe0000) return 0 without trapping and change neither heap_used nor heap_top", () => {
    const used = h.used();
    const top = h.top();
    for (const bytes of [0xfffffff0, 0xfffe0000, 0xffffffff]) {
      expect(h.alloc(bytes), `heap_alloc(0x${bytes.toString(16)})`).toBe(0);
      expect([h.used(), h.top()], `after heap_alloc(0x${bytes.toString(16)})`).toEqual([used, top]);
    }
    const p = h.alloc(64);
    expect(p, "a normal allocation afterwards").toBe(top + HEADER);
  });

  it(`heap_free of pointers that are not live blocks ${build === "debug" ? "throws KernelAssertionError" : "is ignored"}; heap_used, heap_top and every block stay as they were`, () => {
    const a = h.alloc(256);
    const b = h.alloc(100);
    const live: Span[] = [
      { ptr: a, bytes: 256, tag: 1 },
      { ptr: b, bytes: 112, tag: 2 },
    ];
    live.forEach((s) => fillPattern(engine, s.ptr, s.bytes, s.tag));
    const heapStart = (engine.kernels.scratch_base() >>> 0) - HEADER;
    const used = h.used();
    const top = h.top();
    const bogus: [string, number][] = [
      ["0", 0],
      ["8 (below the heap, unaligned)", 8],
      ["the first block's header", heapStart],
      ["16 bytes into a live block", a + 16],
      ["a live pointer + 4 (unaligned)", a + 4],
      ["heap_top", top],
      ["heap_top + 4096", top + 4096],
      ["0xfffffff0", 0xfffffff0],
    ];
    for (const [what, ptr] of bogus) {
      const thrown = thrownBy(() => h.free(ptr));
      if (build === "debug") {
        expect(thrown, `heap_free(${what})`).toBeInstanceOf(KernelAssertionError);
        expect((thrown as Error).message, `heap_free(${what})`).toMatch(ERR_NOT_LIVE);
      } else {
        expect(thrown, `heap_free(${what})`).toBeUndefined();
      }
      expect([h.used(), h.top()], `heap_used / heap_top after heap_free(${what})`).toEqual([used, top]);
      expectPatterns(engine, live, `after heap_free(${what})`);
    }
    expectHeapStillConsistent(engine, live, [256, 100, 16, 5000], "after the bogus frees");
  });

  /**
   * Double frees. Each scenario allocates live neighbours L1 … and the blocks X, Y, frees
   * some of them once, and returns the pointer to free a second time.
   */
  const doubleFrees: [string, (engine: Engine) => { again: number; live: Span[] }][] = [
    [
      "a block between live neighbours",
      (e) => {
        const r = raw(e);
        const l1 = r.alloc(64),
          x = r.alloc(96),
          l2 = r.alloc(64);
        r.free(x);
        return {
          again: x,
          live: [
            { ptr: l1, bytes: 64, tag: 1 },
            { ptr: l2, bytes: 64, tag: 2 },
          ],
        };
      },
    ],
    [
      "a block that absorbed its free successor",
      (e) => {
        const r = raw(e);
        const l1 = r.alloc(64),
          x = r.alloc(96),
          y = r.alloc(96),
          l2 = r.alloc(64);
        r.free(y);
        r.free(x);
        return {
          again: x,
          live: [
            { ptr: l1, bytes: 64, tag: 1 },
            { ptr: l2, bytes: 64, tag: 2 },
          ],
        };
      },
    ],
    [
      "a free block that its predecessor absorbed when freed after it",
      (e) => {
        const r = raw(e);
        const l1 = r.alloc(64),
          x = r.alloc(96),
          y = r.alloc(96),
          l2 = r.alloc(64);
        r.free(y);
        r.free(x);
        return {
          again: y,
          live: [
            { ptr: l1, bytes: 64, tag: 1 },
            { ptr: l2, bytes: 64, tag: 2 },
          ],
        };
      },
    ],
    [
      "a block freed after its predecessor (merged into that free block)",
      (e) => {
        const r = raw(e);
        const l1 = r.alloc(64),
          x = r.alloc(96),
          y = r.alloc(96),
          l2 = r.alloc(64);
        r.free(x);
        r.free(y);
        return {
          again: y,
          live: [
            { ptr: l1, bytes: 64, tag: 1 },
            { ptr: l2, bytes: 64, tag: 2 },
          ],
        };
      },
    ],
    [
      "the highest block (given back to the top)",
      (e) => {
        const r = raw(e);
        const l1 = r.alloc(64),
          x = r.alloc(96);
        r.free(x);
        return { again: x, live: [{ ptr: l1, bytes: 64, tag: 1 }] };
      },
    ],
    [
      "a block merged into its free predecessor and given back to the top",
      (e) => {
        const r = raw(e);
        const l1 = r.alloc(64),
          x = r.alloc(96),
          y = r.alloc(96);
        r.free(x);
        r.free(y);
        return { again: y, live: [{ ptr: l1, bytes: 64, tag: 1 }] };
      },
    ],
  ];

  it.each(doubleFrees)(
    `a second heap_free of %s ${build === "debug" ? "throws KernelAssertionError" : "is ignored"} and leaves the heap consistent`,
    (_, setup) => {
      const used0 = h.used();
      const top0 = h.top();
      const { again, live } = setup(engine);
      live.forEach((s) => fillPattern(engine, s.ptr, s.bytes, s.tag));
      const used = h.used();
      const top = h.top();
      const thrown = thrownBy(() => h.free(again));
      if (build === "debug") {
        expect(thrown, `second heap_free(${again}) should fail the debug assertion`).toBeInstanceOf(KernelAssertionError);
        expect((thrown as Error).message).toMatch(ERR_NOT_LIVE);
      } else {
        expect(thrown, `second heap_free(${again})`).toBeUndefined();
      }
      // Soft, so that a failure here still goes on to show what the damaged heap hands out next.
      expect.soft(h.used(), `heap_used changed by the second heap_free(${again})`).toBe(used);
      expect.soft(h.top(), `heap_top changed by the second heap_free(${again})`).toBe(top);
      expectPatterns(engine, live, "live blocks after the second free");
      expectHeapStillConsistent(engine, live, [96, 96, 96, 96, 64, 200, 16], "after the double free");
      for (const s of live) h.free(s.ptr);
      expect([h.used(), h.top()], "heap_used / heap_top after freeing everything").toEqual([used0, top0]);
    },
  );
});

// ---------------------------------------------------------------- arena of temporaries

describe.each(EXACT_BUILDS)("arena of temporaries, %s build", (build) => {
  let engine: Engine;
  let h: ReturnType<typeof raw>;
  beforeEach(async () => {
    engine = await loadBuild(build);
    h = raw(engine);
  });

  /** Makes the arena allocate its bookkeeping, so later heap_used / heap_top checks are about temporaries only. */
  function prime(): void {
    h.temp(16);
    engine.kernels.arena_reset();
  }

  it("arena_alloc gives 16-byte-aligned, disjoint temporaries; each adds 1 to arena_mark and its size rounded up to 16 (min 16) to arena_used", () => {
    prime();
    const sizes = [1, 3, 4, 15, 16, 17, 31, 32, 33, 100, 1000, 0, 7, 4096, 65537];
    const spans: Span[] = [];
    for (const bytes of sizes) {
      const used = h.arenaUsed();
      const heapUsed = h.used();
      const mark = h.mark();
      const ptr = h.temp(bytes);
      expect(ptr, `arena_alloc(${bytes})`).not.toBe(0);
      expect(ptr % ALIGN, `arena_alloc(${bytes}) = ${ptr} is not 16-byte aligned`).toBe(0);
      expect(h.arenaUsed() - used, `arena_alloc(${bytes}): arena_used grew by`).toBe(payloadFor(bytes));
      expect(h.used() - heapUsed, `arena_alloc(${bytes}): heap_used grew by`).toBe(HEADER + payloadFor(bytes));
      expect(h.mark(), `arena_alloc(${bytes}): arena_mark`).toBe(mark + 1);
      spans.push({ ptr, bytes: roundUp16(bytes), tag: spans.length });
    }
    expectDisjoint(spans, "temporaries");
    spans.forEach((s) => fillPattern(engine, s.ptr, s.bytes, s.tag));
    expectPatterns(engine, spans, "temporaries after filling all of them");
    expect(h.mark()).toBe(sizes.length);
  });

  it("arena_release(mark) frees exactly the temporaries allocated after the mark, also nested: arena_mark, arena_used, heap_used and heap_top return to their values", () => {
    prime();
    const start = { mark: h.mark(), used: h.arenaUsed(), heap: h.used(), top: h.top() };
    expect(start.mark, "no temporaries after arena_reset").toBe(0);
    expect(start.used).toBe(0);
    const first = h.temp(100);
    fillPattern(engine, first, 112, 7);
    const outer = { mark: h.mark(), used: h.arenaUsed(), heap: h.used(), top: h.top() };
    expect(outer.mark, "arena_mark counts the one temporary").toBe(1);
    const afterOuter = h.temp(5);
    h.temp(1000);
    const inner = { mark: h.mark(), used: h.arenaUsed(), heap: h.used(), top: h.top() };
    expect(inner.mark).toBe(3);
    h.temp(77);
    h.temp(3000);
    expect(h.mark()).toBe(5);
    h.release(inner.mark);
    expect({ mark: h.mark(), used: h.arenaUsed(), heap: h.used(), top: h.top() }, "after releasing the inner mark").toEqual(inner);
    h.release(outer.mark);
    expect({ mark: h.mark(), used: h.arenaUsed(), heap: h.used(), top: h.top() }, "after releasing the outer mark").toEqual(outer);
    expect(patternMismatch(engine, first, 112, 7), "the temporary allocated before the outer mark").toBe(-1);
    expect(h.temp(5), "released space is handed out again from the same place").toBe(afterOuter);
    engine.kernels.arena_reset();
    expect({ mark: h.mark(), used: h.arenaUsed(), heap: h.used(), top: h.top() }, "after arena_reset").toEqual(start);
  });

  it("an owned block allocated between temporaries survives their release intact, and freeing it afterwards restores heap_used and heap_top", () => {
    prime();
    const at = { heap: h.used(), top: h.top(), used: h.arenaUsed() };
    const mark = h.mark();
    const t1 = h.temp(1000);
    const owned = h.alloc(3000);
    const t2 = h.temp(500);
    fillPattern(engine, t1, 1008, 1);
    fillPattern(engine, owned, 3008, 2);
    fillPattern(engine, t2, 512, 3);
    expect(h.arenaUsed() - at.used, "the owned block is not a temporary").toBe(1008 + 512);
    h.release(mark);
    expect(patternMismatch(engine, owned, 3008, 2), "owned block after releasing the temporaries around it").toBe(-1);
    expect(h.arenaUsed(), "arena_used after the release").toBe(at.used);
    expect(h.used(), "heap_used after the release: only the owned block remains").toBe(at.heap + HEADER + payloadFor(3000));
    expect(h.temp(1000), "the first temporary's space is free again").toBe(t1);
    h.release(mark);
    h.free(owned);
    expect([h.used(), h.top()], "heap_used / heap_top after freeing the owned block").toEqual([at.heap, at.top]);
  });

  it("300 temporaries (more than the arena's initial 64 slots) stay distinct and intact while the arena grows, and release frees them all", () => {
    const heap0 = h.used();
    const rnd = new TestRandom(64);
    const cycle = (round: number) => {
      const spans: Span[] = [];
      for (let i = 0; i < 300; i++) {
        const bytes = 1 + Math.floor(rnd.next() * 300);
        const ptr = h.temp(bytes);
        expect(ptr, `temporary ${i}`).not.toBe(0);
        spans.push({ ptr, bytes: roundUp16(bytes), tag: i + round });
        fillPattern(engine, ptr, roundUp16(bytes), i + round);
        expect(h.mark(), `arena_mark after ${i + 1} temporaries`).toBe(i + 1);
      }
      expectDisjoint(spans, `round ${round}`);
      expectPatterns(engine, spans, `round ${round}: all 300 temporaries`);
      // Temporaries that filled a freed slot of the arena's bookkeeping too small to split count that whole slot,
      // so arena_used is at least the rounded sizes, and exactly what releasing them gives back to heap_used
      // (minus one header each).
      const arenaUsed = h.arenaUsed();
      const heapUsed = h.used();
      expect(arenaUsed, `round ${round}: arena_used`).toBeGreaterThanOrEqual(spans.reduce((s, x) => s + payloadFor(x.bytes), 0));
      h.release(150);
      expect(h.mark(), `round ${round}: arena_mark after release(150)`).toBe(150);
      expectPatterns(engine, spans.slice(0, 150), `round ${round}: the 150 temporaries below the mark`);
      h.release(0);
      expect([h.mark(), h.arenaUsed()], `round ${round}: after release(0)`).toEqual([0, 0]);
      expect(heapUsed - h.used(), `round ${round}: heap_used freed by releasing 300 temporaries`).toBe(arenaUsed + 300 * HEADER);
      return { heap: h.used(), top: h.top() };
    };
    const first = cycle(0);
    // Only the arena's own bookkeeping (at most 4 bytes per temporary, doubled, plus a header) stays.
    expect(first.heap - heap0, "heap_used left behind by the arena").toBeLessThanOrEqual(HEADER + 8 * 300);
    for (let round = 1; round <= 3; round++) {
      expect(cycle(round), `round ${round}: heap_used / heap_top equal the first round's`).toEqual(first);
    }
  });

  it("arena_alloc(0xfffffff0) returns 0 without trapping and leaves arena_mark and arena_used unchanged", () => {
    h.temp(32);
    const mark = h.mark();
    const used = h.arenaUsed();
    expect(h.temp(0xfffffff0)).toBe(0);
    expect([h.mark(), h.arenaUsed()]).toEqual([mark, used]);
    expect(h.temp(32), "a normal temporary afterwards").not.toBe(0);
    expect(h.mark()).toBe(mark + 1);
  });

  it("a temporary that fills a free block too small to split counts the whole block; arena_used and heap_used stay in step and release restores both", () => {
    prime();
    const hole = h.alloc(48);
    h.alloc(16); // keeps the hole off the top
    h.free(hole);
    const at = { used: h.arenaUsed(), heap: h.used(), mark: h.mark() };
    const t = h.temp(32);
    expect(t, "the temporary takes the free 48-byte block (first fit)").toBe(hole);
    const grew = h.arenaUsed() - at.used;
    expect(grew, "arena_used grew by at least the rounded size and at most the block").toBeGreaterThanOrEqual(32);
    expect(grew).toBeLessThanOrEqual(48);
    expect(h.used() - at.heap, "heap_used grew by the header plus what arena_used grew by").toBe(HEADER + grew);
    h.release(at.mark);
    expect({ used: h.arenaUsed(), heap: h.used(), mark: h.mark() }).toEqual(at);
  });

  it(`arena_release with a mark above arena_mark() ${build === "debug" ? "throws KernelAssertionError" : "is a no-op"} and frees nothing`, () => {
    const spans: Span[] = [64, 200, 16].map((n, i) => ({ ptr: h.temp(n), bytes: roundUp16(n), tag: i }));
    spans.forEach((s) => fillPattern(engine, s.ptr, s.bytes, s.tag));
    const state = { mark: h.mark(), used: h.arenaUsed(), heap: h.used(), top: h.top() };
    for (const bogus of [state.mark + 1, state.mark + 16, 0xffffffff]) {
      const thrown = thrownBy(() => h.release(bogus));
      if (build === "debug") {
        expect(thrown, `arena_release(${bogus})`).toBeInstanceOf(KernelAssertionError);
        expect((thrown as KernelAssertionError).code).toBe("KERNEL_ASSERTION");
        expect((thrown as Error).message).toMatch(ERR_MARK);
      } else {
        expect(thrown, `arena_release(${bogus})`).toBeUndefined();
      }
      expect({ mark: h.mark(), used: h.arenaUsed(), heap: h.used(), top: h.top() }, `after arena_release(${bogus})`).toEqual(state);
      expectPatterns(engine, spans, `after arena_release(${bogus})`);
    }
    h.release(0);
    expect(h.arenaUsed()).toBe(0);
  });
});

// ---------------------------------------------------------------- Engine API

describe("Engine memory API", () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await loadBuild("release");
    engine.scoped(() => engine.alloc(16)); // the arena's bookkeeping, allocated with the first temporary
  });

  it("alloc(5 GiB) and allocOwned(5 GiB) throw OutOfMemoryError (not a trap), allocate nothing, and the engine stays usable", () => {
    const heap = engine.heapBytes;
    const temps = engine.bytesInUse;
    for (const [what, fn] of [
      ["alloc", () => engine.alloc(5 * GiB)],
      ["allocOwned", () => engine.allocOwned(5 * GiB)],
    ] as const) {
      const thrown = thrownBy(fn);
      expect(thrown, `${what}(5 GiB)`).toBeInstanceOf(OutOfMemoryError);
      expect((thrown as OutOfMemoryError).code).toBe("OUT_OF_MEMORY");
      expect((thrown as Error).message, `${what}(5 GiB)`).toMatch(/4 GiB/);
      expect([engine.heapBytes, engine.bytesInUse], `${what}(5 GiB) allocated something`).toEqual([heap, temps]);
    }
    engine.scoped(() => {
      const p = engine.putF32([1, 2, 3]);
      expect(Array.from(engine.readF32(p, 3))).toEqual([1, 2, 3]);
    });
    const q = engine.allocOwned(12);
    engine.f32(q, 3).set([4, 5, 6]);
    expect(Array.from(engine.readF32(q, 3))).toEqual([4, 5, 6]);
    engine.free(q);
    expect(engine.heapBytes).toBe(heap);
  });

  it("with 200 MiB of owned blocks in use, alloc(3.9 GiB) and allocOwned(3.9 GiB) throw OutOfMemoryError saying so", () => {
    const owned = engine.allocOwned(200 * MiB);
    const heap = engine.heapBytes;
    for (const [what, fn] of [
      ["alloc", () => engine.alloc(Math.round(3.9 * GiB))],
      ["allocOwned", () => engine.allocOwned(Math.round(3.9 * GiB))],
    ] as const) {
      const thrown = thrownBy(fn);
      expect(thrown, what).toBeInstanceOf(OutOfMemoryError);
      expect((thrown as Error).message, what).toMatch(/already in use/);
      expect(engine.heapBytes, what).toBe(heap);
    }
    engine.free(owned);
    expect(engine.heapBytes).toBe(heap - HEADER - 200 * MiB);
  });

  it("alloc(3.9 GiB) on a fresh engine either gives a usable block or throws OutOfMemoryError, never a wasm trap", async () => {
    // Whether the JavaScript engine grants 3.9 GiB depends on the host; either outcome is fine, a RangeError
    // or WebAssembly.RuntimeError is not.
    const fresh = await loadBuild("release");
    const bytes = Math.round(3.9 * GiB);
    let ptr = 0;
    try {
      ptr = fresh.alloc(bytes);
    } catch (error) {
      expect(error).toBeInstanceOf(OutOfMemoryError);
      return;
    }
    expect(ptr % ALIGN).toBe(0);
    expect(fresh.kernels.memory.buffer.byteLength).toBeGreaterThanOrEqual(ptr + bytes);
    fillPattern(fresh, ptr + bytes - 64, 64, 9);
    expect(patternMismatch(fresh, ptr + bytes - 64, 64, 9)).toBe(-1);
    expect(() => fresh.alloc(Math.round(0.2 * GiB)), "nothing is left for another 0.2 GiB").toThrow(OutOfMemoryError);
  });

  it("when linear memory refuses to grow (the kernel returns 0), alloc and allocOwned throw OutOfMemoryError", () => {
    const refusing: KernelExports = { ...engine.kernels, arena_alloc: () => 0, heap_alloc: () => 0 };
    const stubborn = new Engine(refusing, "custom");
    expect(() => stubborn.alloc(1024), "alloc").toThrow(OutOfMemoryError);
    expect(() => stubborn.alloc(1024), "alloc").toThrow(/refused to grow/);
    expect(() => stubborn.allocOwned(1024), "allocOwned").toThrow(OutOfMemoryError);
    expect(() => stubborn.allocOwned(1024), "allocOwned").toThrow(/refused to grow/);
  });

  it("alloc and allocOwned reject negative, fractional, non-finite and unsafe sizes with ArgumentError, allocating nothing", () => {
    const heap = engine.heapBytes;
    for (const bad of [-1, 1.5, NaN, Infinity, -Infinity, 2 ** 53]) {
      expect(() => engine.alloc(bad), `alloc(${bad})`).toThrow(ArgumentError);
      expect(() => engine.allocOwned(bad), `allocOwned(${bad})`).toThrow(ArgumentError);
    }
    expect(engine.heapBytes).toBe(heap);
  });

  it("heapBytes counts owned blocks and temporaries (with headers), bytesInUse only temporaries", async () => {
    const e = await loadBuild("release");
    e.scoped(() => e.alloc(16)); // the arena's bookkeeping
    const heap = e.heapBytes;
    const temps = e.bytesInUse;
    const owned = e.allocOwned(1000);
    expect(e.heapBytes - heap, "allocOwned(1000): heapBytes").toBe(HEADER + 1008);
    expect(e.bytesInUse, "allocOwned(1000): bytesInUse").toBe(temps);
    e.scoped(() => {
      e.alloc(1000);
      expect(e.heapBytes - heap, "plus alloc(1000): heapBytes").toBe(2 * (HEADER + 1008));
      expect(e.bytesInUse - temps, "plus alloc(1000): bytesInUse").toBe(1008);
    });
    expect([e.heapBytes - heap, e.bytesInUse], "after the scope").toEqual([HEADER + 1008, temps]);
    e.free(owned);
    expect([e.heapBytes, e.bytesInUse], "after free").toEqual([heap, temps]);
  });

  it("scoped returns the callback's value and frees everything it allocated", () => {
    const used = engine.bytesInUse;
    const heap = engine.heapBytes;
    const result = engine.scoped(() => {
      engine.alloc(1000);
      const inner = engine.scoped(() => {
        engine.alloc(5000);
        return "inner";
      });
      expect(engine.bytesInUse, "the inner scope freed its block only").toBe(used + roundUp16(1000));
      return inner + "+outer";
    });
    expect(result).toBe("inner+outer");
    expect([engine.bytesInUse, engine.heapBytes]).toEqual([used, heap]);
  });

  it("scoped frees its temporaries even when the callback throws, rethrows the same error, and leaves owned blocks alone", () => {
    const used = engine.bytesInUse;
    const heap = engine.heapBytes;
    const failure = new Error("boom");
    let owned = 0;
    const thrown = thrownBy(() =>
      engine.scoped(() => {
        engine.alloc(12345);
        owned = engine.allocOwned(4096);
        fillPattern(engine, owned, 4096, 8);
        engine.scoped(() => {
          engine.alloc(777);
          throw failure;
        });
      }),
    );
    expect(thrown).toBe(failure);
    expect(engine.bytesInUse, "temporaries after the throw").toBe(used);
    expect(engine.heapBytes, "only the owned block remains").toBe(heap + HEADER + 4096);
    expect(patternMismatch(engine, owned, 4096, 8), "owned block allocated inside the failed scope").toBe(-1);
    engine.free(owned);
    expect(engine.heapBytes).toBe(heap);
  });

  it("two engines from loadBuild have separate memories, heaps and arenas", async () => {
    const [a, b] = await Promise.all([loadBuild("release"), loadBuild("release")]);
    expect(a.kernels.memory).not.toBe(b.kernels.memory);
    expect(a.kernels.memory.buffer).not.toBe(b.kernels.memory.buffer);
    const pa = a.putF32([1, 2, 3, 4]);
    const pb = b.putF32([-1, -2, -3, -4]);
    const usedB = b.bytesInUse;
    const heapB = b.heapBytes;
    expect(pb, "same heap layout: the same first pointer").toBe(pa);
    expect(Array.from(a.readF32(pa, 4)), "engine A kept its data").toEqual([1, 2, 3, 4]);
    expect(Array.from(b.readF32(pb, 4))).toEqual([-1, -2, -3, -4]);
    const oa = a.allocOwned(10 * MiB);
    a.alloc(MiB);
    expect(b.bytesInUse, "allocating in A does not change B's temporaries").toBe(usedB);
    expect(b.heapBytes, "allocating in A does not change B's heap").toBe(heapB);
    const ob = b.allocOwned(64);
    a.free(oa);
    expect(Array.from(b.readF32(pb, 4)), "freeing in A does not touch B").toEqual([-1, -2, -3, -4]);
    b.free(ob);
    // Work in one engine does not touch the other's generator state either.
    const sa = a.alloc(16);
    const sb = b.alloc(16);
    a.kernels.rng_seed(sa, 1, 0);
    b.kernels.rng_seed(sb, 1, 0);
    for (let i = 0; i < 10; i++) a.kernels.rng_next_u32(sa);
    const b0 = b.kernels.rng_next_u32(sb) >>> 0;
    const fresh = await loadBuild("release");
    const sf = fresh.alloc(16);
    fresh.kernels.rng_seed(sf, 1, 0);
    expect(b0).toBe(fresh.kernels.rng_next_u32(sf) >>> 0);
  });

  it("1,000 cycles of allocOwned (varied sizes), use, free leave heap_top, heapBytes and memory size flat after the first cycle", async () => {
    const e = await loadBuild("release");
    const k = e.kernels;
    const rnd = new TestRandom(1000);
    const maxSizes = [4, 100, 1000, 4096, 30000, 65540, 200000];
    let after: { top: number; heap: number; length: number } | undefined;
    for (let cycle = 0; cycle < 1000; cycle++) {
      // The first cycle takes the largest sizes, later ones anything up to them, in a random order.
      const lengths = shuffled(
        maxSizes.map((max) => (cycle === 0 ? max : 1 + Math.floor(rnd.next() * max)) >> 2 || 1),
        rnd,
      );
      const ptrs = lengths.map((n) => e.allocOwned(n * 4));
      e.scoped(() => {
        const state = e.alloc(16);
        k.rng_seed(state, cycle, 0);
        for (let i = 0; i < ptrs.length; i++) k.rng_uniform(state, ptrs[i]!, lengths[i]!, -1, 1);
        // y = 2·x + 0·y over the shorter of two buffers, checked at its ends.
        const n = Math.min(lengths[0]!, lengths[1]!);
        const x0 = e.f32(ptrs[0]!, n).slice();
        k.axpby(ptrs[1]!, ptrs[0]!, n, 2, 0);
        const y = e.f32(ptrs[1]!, n);
        if (y[0] !== 2 * x0[0]! || y[n - 1] !== 2 * x0[n - 1]!) expect.fail(`cycle ${cycle}: axpby on the owned buffers`);
      });
      for (const p of shuffled(ptrs, rnd)) e.free(p);
      const now = { top: k.heap_top() >>> 0, heap: e.heapBytes, length: k.memory.buffer.byteLength };
      if (!after) after = now;
      else if (now.top !== after.top || now.heap !== after.heap || now.length !== after.length) {
        expect(now, `cycle ${cycle}: heap_top / heapBytes / memory size moved`).toEqual(after);
      }
    }
    expect(e.bytesInUse).toBe(0);
  });
});
