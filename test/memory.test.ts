/**
 * The arena allocator (assembly/memory.ts) and the Engine's memory API (src/engine.ts):
 * alignment and disjointness of allocations, mark / release / reset bookkeeping, growth of
 * linear memory with earlier data intact, out-of-memory reporting instead of traps,
 * scoped freeing, isolation between engines, and the debug build's assertions.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ArgumentError, Engine, KernelAssertionError, OutOfMemoryError, type KernelExports } from "../src/index.js";
import { EXACT_BUILDS, loadBuild } from "./helpers/engines.js";

const ALIGN = 16;
const SCRATCH_BYTES = 512 * 1024;
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

const alignUp = (x: number) => Math.ceil(x / ALIGN) * ALIGN;

/** Raw arena calls with pointers read as unsigned. */
function raw(engine: Engine) {
  const k = engine.kernels;
  return {
    alloc: (bytes: number) => k.arena_alloc(bytes) >>> 0,
    mark: () => k.arena_mark() >>> 0,
    used: () => k.arena_used() >>> 0,
  };
}

/** Fills [ptr, ptr + bytes) with a byte pattern that depends on `tag` and the offset. */
function fillPattern(engine: Engine, ptr: number, bytes: number, tag: number): void {
  const view = new Uint8Array(engine.kernels.memory.buffer, ptr, bytes);
  for (let i = 0; i < bytes; i++) view[i] = (tag * 31 + i * 7) & 0xff;
}

/** Index of the first byte that differs from the pattern, or −1. */
function patternMismatch(engine: Engine, ptr: number, bytes: number, tag: number): number {
  const view = new Uint8Array(engine.kernels.memory.buffer, ptr, bytes);
  for (let i = 0; i < bytes; i++) if (view[i] !== ((tag * 31 + i * 7) & 0xff)) return i;
  return -1;
}

describe.each(EXACT_BUILDS)("arena, %s build", (build) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await loadBuild(build);
  });

  it("after a reset the arena starts SCRATCH_BYTES after the 16-byte-aligned scratch block", () => {
    const a = raw(engine);
    engine.kernels.arena_reset();
    const scratch = engine.kernels.scratch_base() >>> 0;
    expect(scratch % ALIGN).toBe(0);
    expect(a.used()).toBe(0);
    expect(a.alloc(16)).toBe(scratch + SCRATCH_BYTES);
    expect(a.used()).toBe(16);
    engine.kernels.arena_reset();
  });

  it("arena_alloc returns 16-byte-aligned, non-overlapping blocks, bumping arena_used by the rounded-up size", () => {
    const a = raw(engine);
    const sizes = [1, 3, 4, 15, 16, 17, 31, 32, 33, 100, 1000, 0, 7, 4096, 65537];
    engine.scoped(() => {
      const blocks: { ptr: number; bytes: number }[] = [];
      for (const bytes of sizes) {
        const before = a.used();
        const ptr = a.alloc(bytes);
        expect(ptr % ALIGN, `alloc(${bytes}) = ${ptr} is not 16-byte aligned`).toBe(0);
        expect(a.used() - before, `alloc(${bytes}): arena_used grew by`).toBe(alignUp(bytes));
        for (const b of blocks) {
          const disjoint = ptr + bytes <= b.ptr || b.ptr + b.bytes <= ptr;
          expect(disjoint, `alloc(${bytes}) = [${ptr}, ${ptr + bytes}) overlaps [${b.ptr}, ${b.ptr + b.bytes})`).toBe(true);
        }
        blocks.push({ ptr, bytes });
      }
      // Writing every block in full leaves every other block intact.
      blocks.forEach((b, i) => fillPattern(engine, b.ptr, b.bytes, i));
      blocks.forEach((b, i) => expect(patternMismatch(engine, b.ptr, b.bytes, i), `block ${i} (${b.bytes} bytes)`).toBe(-1));
    });
  });

  it("arena_mark / arena_release restore arena_used exactly, also nested; arena_reset drops everything", () => {
    const a = raw(engine);
    engine.kernels.arena_reset();
    a.alloc(100);
    const outerUsed = a.used();
    const outer = a.mark();
    a.alloc(5);
    a.alloc(1000);
    const innerUsed = a.used();
    const inner = a.mark();
    a.alloc(77);
    engine.kernels.arena_release(inner);
    expect(a.used(), "after releasing the inner mark").toBe(innerUsed);
    expect(a.mark(), "the top is back at the inner mark").toBe(inner);
    engine.kernels.arena_release(outer);
    expect(a.used(), "after releasing the outer mark").toBe(outerUsed);
    // Space released is handed out again from the same place.
    expect(a.alloc(5)).toBe(outer);
    engine.kernels.arena_reset();
    expect(a.used(), "after arena_reset").toBe(0);
    expect(a.mark()).toBe((engine.kernels.scratch_base() >>> 0) + SCRATCH_BYTES);
  });

  it("an allocation that grows linear memory (50 MB) keeps earlier data intact and is usable to its last byte", () => {
    const a = raw(engine);
    engine.scoped(() => {
      const early = engine.alloc(4096);
      fillPattern(engine, early, 4096, 3);
      const oldView = engine.f32(early, 1024);
      const before = engine.kernels.memory.buffer.byteLength;
      const bytes = 50 * 1000 * 1000;
      const big = engine.alloc(bytes);
      expect(engine.kernels.memory.buffer.byteLength, "memory grew").toBeGreaterThanOrEqual(big + bytes);
      expect(engine.kernels.memory.buffer.byteLength).toBeGreaterThan(before);
      // Growth detaches old views (as the Engine docs warn); fresh views see the same bytes.
      expect(oldView.length, "a view taken before growth is detached").toBe(0);
      expect(patternMismatch(engine, early, 4096, 3), "earlier block after growth").toBe(-1);
      fillPattern(engine, big + bytes - 1024, 1024, 4);
      fillPattern(engine, big, 1024, 5);
      expect(patternMismatch(engine, big + bytes - 1024, 1024, 4), "end of the new block").toBe(-1);
      expect(patternMismatch(engine, early, 4096, 3), "earlier block after writing the new one").toBe(-1);
      expect(a.used()).toBeGreaterThanOrEqual(bytes);
    });
  });

  it("arena_alloc reports an address-space overflow by returning 0 (no trap), leaving arena_used unchanged", () => {
    const a = raw(engine);
    const used = a.used();
    expect(a.alloc(0xfffffff0)).toBe(0);
    expect(a.used()).toBe(used);
  });

  it.runIf(build === "debug")("debug build: arena_release with a mark outside the arena throws KernelAssertionError", () => {
    const a = raw(engine);
    engine.scoped(() => {
      a.alloc(64);
      const used = a.used();
      const base = (engine.kernels.scratch_base() >>> 0) + SCRATCH_BYTES;
      for (const bogus of [0, base - 16, a.mark() + 16, 0xfffffff0]) {
        let thrown: unknown;
        try {
          engine.kernels.arena_release(bogus);
        } catch (error) {
          thrown = error;
        }
        expect(thrown, `arena_release(${bogus})`).toBeInstanceOf(KernelAssertionError);
        const error = thrown as KernelAssertionError;
        expect(error.code).toBe("KERNEL_ASSERTION");
        expect(error.message).toMatch(/arena_release: mark out of range/);
        expect(a.used(), `arena_release(${bogus}) must not move the top`).toBe(used);
      }
    });
  });
});

describe("Engine memory API", () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await loadBuild("release");
  });

  it("alloc(5 GiB) throws OutOfMemoryError (not a trap), allocates nothing, and the engine stays usable", () => {
    const used = engine.bytesInUse;
    expect(() => engine.alloc(5 * GiB)).toThrow(OutOfMemoryError);
    expect(() => engine.alloc(5 * GiB)).toThrow(/4 GiB/);
    expect(engine.bytesInUse).toBe(used);
    engine.scoped(() => {
      const p = engine.putF32([1, 2, 3]);
      expect(Array.from(engine.readF32(p, 3))).toEqual([1, 2, 3]);
    });
  });

  it("alloc(3.9 GiB) with 200 MiB already in use throws OutOfMemoryError with code OUT_OF_MEMORY", () => {
    engine.scoped(() => {
      engine.alloc(200 * MiB);
      const used = engine.bytesInUse;
      let thrown: unknown;
      try {
        engine.alloc(Math.round(3.9 * GiB));
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(OutOfMemoryError);
      expect((thrown as OutOfMemoryError).code).toBe("OUT_OF_MEMORY");
      expect((thrown as Error).message).toMatch(/already in use/);
      expect(engine.bytesInUse).toBe(used);
    });
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

  it("when linear memory refuses to grow (arena_alloc returns 0), alloc throws OutOfMemoryError", () => {
    const refusing: KernelExports = { ...engine.kernels, arena_alloc: () => 0 };
    const stubborn = new Engine(refusing, "custom");
    expect(() => stubborn.alloc(1024)).toThrow(OutOfMemoryError);
    expect(() => stubborn.alloc(1024)).toThrow(/refused to grow/);
  });

  it("alloc rejects negative, fractional and non-finite sizes with ArgumentError", () => {
    for (const bad of [-1, 1.5, NaN, Infinity]) expect(() => engine.alloc(bad), `alloc(${bad})`).toThrow(ArgumentError);
  });

  it("scoped returns the callback's value and frees everything it allocated", () => {
    const used = engine.bytesInUse;
    const result = engine.scoped(() => {
      engine.alloc(1000);
      const inner = engine.scoped(() => {
        engine.alloc(5000);
        return "inner";
      });
      expect(engine.bytesInUse, "the inner scope freed its block only").toBe(used + alignUp(1000));
      return inner + "+outer";
    });
    expect(result).toBe("inner+outer");
    expect(engine.bytesInUse).toBe(used);
  });

  it("scoped frees everything even when the callback throws, and rethrows the same error", () => {
    const used = engine.bytesInUse;
    const failure = new Error("boom");
    let thrown: unknown;
    try {
      engine.scoped(() => {
        engine.alloc(12345);
        engine.scoped(() => {
          engine.alloc(777);
          throw failure;
        });
      });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBe(failure);
    expect(engine.bytesInUse).toBe(used);
  });

  it("two engines from loadBuild have separate memories and arenas", async () => {
    const [a, b] = await Promise.all([loadBuild("release"), loadBuild("release")]);
    expect(a.kernels.memory).not.toBe(b.kernels.memory);
    expect(a.kernels.memory.buffer).not.toBe(b.kernels.memory.buffer);
    const pa = a.putF32([1, 2, 3, 4]);
    const usedB = b.bytesInUse;
    const pb = b.putF32([-1, -2, -3, -4]);
    expect(pb, "same arena layout: the same first pointer").toBe(pa);
    expect(Array.from(a.readF32(pa, 4)), "engine A kept its data").toEqual([1, 2, 3, 4]);
    expect(Array.from(b.readF32(pb, 4))).toEqual([-1, -2, -3, -4]);
    a.alloc(10 * MiB);
    expect(b.bytesInUse, "allocating in A does not change B").toBe(usedB + 16);
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
});
