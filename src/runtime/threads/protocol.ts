/**
 * The thread protocol in one place: the control block's words, and CHUNK_KINDS, the table of
 * every kind of chunk a thread can run. Everything else is derived from it:
 *
 * - a chunk's form number (its index in the table) and the word of each of its arguments
 *   (CHUNK: chunk word 1 + j holds argument j of the kernel, in the kernel's order);
 * - the writers (split-*.ts: the calling thread cutting one call into chunks) write the
 *   words by the names CHUNK gives and take their block sizes from the kind's split rule
 *   (the split code itself is in split-gemm.ts, split-conv.ts, split-pooling.ts, split-optimizer.ts);
 * - the runner, `chunkCaller`: one function that calls a kind's kernel with the words of a
 *   chunk, built for every kind on the calling thread (pool.ts) and, from its source text,
 *   in every worker (worker.ts), which receives the table's WORKER_PROTOCOL in its start
 *   message rather than a copy of its numbers;
 * - error messages name the kernel that failed.
 *
 * Adding a kind of chunk: an entry here (the kernel, its arguments, its split rule), and the
 * split that writes it. The pool checks every entry's argument count against the module.
 */
import type { KernelExports } from "../abi.js";

/**
 * The control block (an Int32Array over a SharedArrayBuffer, shared by all threads):
 *
 *   words[SEQUENCE]  round counter; bumped and notified to wake the workers
 *   words[STOP]      1 asks the workers to return
 *   words[CLAIM]     (round & 0x3fff) << 16 | next chunk index (the round bits make a claim
 *                    read in an earlier round fail its compare-and-swap; 14 of them keep the
 *                    word below 2^30, a small integer to V8, which reads it without boxing)
 *   words[FINISHED]  chunks completed this round
 *   words[FAILED]    0, or 1 + the form of a chunk whose call threw on a worker
 *   words[COUNT]     chunks in this round
 *   words[CHUNK_BASE + i·CHUNK_WORDS …]  chunk i: its form, then its kernel's arguments
 */
export const CONTROL = {
  SEQUENCE: 0,
  STOP: 1,
  CLAIM: 2,
  FINISHED: 3,
  FAILED: 4,
  COUNT: 5,
  CHUNK_BASE: 8,
} as const;

/** Chunks one round can hold. */
export const MAX_CHUNKS = 64;

/**
 * What a word holds: a pointer (byte offset into the shared memory), an i32, or an f32 stored
 * as float32 bits (the kernels take f32, so nothing is rounded twice). Pointers and i32 are
 * the same to the protocol; the names say what the kernel does with them.
 */
type ArgKind = "ptr" | "i32" | "f32";

interface ChunkKind {
  /** The kernel's arguments in its order (assembly/index.ts), each with its kind. */
  readonly args: Readonly<Record<string, ArgKind>>;
  /**
   * How the calling thread cuts one call into chunks of this kind: the rule, and the sizes
   * it uses (the units whose multiples the blocks are, and its thresholds). Every split
   * keeps the bits of one call: each output element is computed by one chunk, in the order
   * one call would use.
   */
  readonly split: { readonly rule: string; readonly sizes: Readonly<Record<string, number>> };
}

const GEMM_ARGS = {
  c: "ptr",
  a: "ptr",
  b: "ptr",
  bias: "ptr",
  m: "i32",
  n: "i32",
  k: "i32",
  lda: "i32",
  ldb: "i32",
  ldc: "i32",
  flags: "i32",
} as const;
const GEMM_SPLIT = {
  rule:
    "C (m × n) by whole columns when n ≥ m, else by whole rows (the larger one: cutting columns repeats the packing " +
    "of A, cutting rows that of B); blocks are whole micro-kernel tiles; below minMacs multiply-adds (m·n·k), one call",
  sizes: { columns: 8, rows: 8 }, // 8-column tiles; 8 rows = two 4-row narrow panels (assembly/gemm.ts)
} as const;
const CONV_GEOMETRY = { cin: "i32", h: "i32", wd: "i32", cout: "i32", kh: "i32", kw: "i32", stride: "i32", pad: "i32" } as const;
const BY_IMAGES = {
  rule: "the batch by blocks of whole images (images are independent); one image, or below minMacs, one call",
  sizes: { images: 1 },
} as const;
const POOL_GEOMETRY = { batch: "i32", c: "i32", h: "i32", w: "i32", k: "i32", stride: "i32", pad: "i32" } as const;
const OPTIMIZER_SPLIT = {
  rule:
    "the parameters by blocks (every parameter is updated from its own gradient and state); blocks start at " +
    "multiples of 16 parameters, keeping the 16-byte alignment of the vector loads; below minParameters, one call",
  sizes: { parameters: 16 },
} as const;

/**
 * Every kind of chunk, keyed by the kernel it runs; a chunk's form is its kind's index here.
 * A kind whose arguments include f32 must be the only kind with its argument count (checked
 * below): its call site in chunkCaller is then its own, and V8 passes its numbers unboxed.
 */
export const CHUNK_KINDS = {
  gemm_nn: { args: GEMM_ARGS, split: GEMM_SPLIT },
  gemm_nt: { args: GEMM_ARGS, split: GEMM_SPLIT },
  gemm_tn: { args: GEMM_ARGS, split: GEMM_SPLIT },
  gemm_panels: {
    args: { c: "ptr", a: "ptr", panels: "ptr", bias: "ptr", m: "i32", n: "i32", k: "i32", lda: "i32", ldc: "i32", flags: "i32" },
    split: { rule: "C by whole panels of columns (a few rows against pre-packed B); below minMacs (m·n·k), one call", sizes: { columns: 16 } },
  },
  sgd_step: {
    args: {
      param: "ptr",
      grad: "ptr",
      velocity: "ptr",
      n: "i32",
      lr: "f32",
      momentum: "f32",
      weightDecay: "f32",
      nesterov: "i32",
    },
    split: OPTIMIZER_SPLIT,
  },
  adam_step: {
    args: {
      param: "ptr",
      grad: "ptr",
      m: "ptr",
      v: "ptr",
      n: "i32",
      lr: "f32",
      beta1: "f32",
      beta2: "f32",
      eps: "f32",
      weightDecay: "f32",
      step: "i32",
      decoupled: "i32",
    },
    split: OPTIMIZER_SPLIT,
  },
  conv2d_forward: {
    args: { y: "ptr", x: "ptr", w: "ptr", bias: "ptr", work: "ptr", batch: "i32", ...CONV_GEOMETRY, flags: "i32" },
    split: BY_IMAGES,
  },
  conv2d_backward_filter: {
    args: {
      dw: "ptr",
      db: "ptr",
      dy: "ptr",
      x: "ptr",
      work: "ptr",
      batch: "i32",
      ...CONV_GEOMETRY,
      o0: "i32",
      o1: "i32",
      k0: "i32",
      k1: "i32",
    },
    split: {
      rule:
        "dw, seen as (cout, K) with K = cin·kh·kw, by blocks of its columns k0 … k1 (db with the first block) when K " +
        "has minColumnsPerThread for every thread, else by blocks of its output channels o0 … o1 (each with its part of " +
        "db); every element is still summed over (image, position) in order",
      sizes: { columns: 8, rows: 4, minColumnsPerThread: 32 }, // GEMM tiles: 8 columns, 4 rows (assembly/gemm.ts)
    },
  },
  conv2d_backward_data: {
    args: { dx: "ptr", dy: "ptr", w: "ptr", work: "ptr", batch: "i32", ...CONV_GEOMETRY },
    split: BY_IMAGES,
  },
  maxpool2d_forward: { args: { y: "ptr", argmax: "ptr", x: "ptr", ...POOL_GEOMETRY }, split: BY_IMAGES },
  maxpool2d_backward: { args: { dx: "ptr", dy: "ptr", argmax: "ptr", ...POOL_GEOMETRY }, split: BY_IMAGES },
  avgpool2d_forward: { args: { y: "ptr", x: "ptr", ...POOL_GEOMETRY }, split: BY_IMAGES },
  avgpool2d_backward: { args: { dx: "ptr", dy: "ptr", ...POOL_GEOMETRY }, split: BY_IMAGES },
} as const satisfies Partial<Record<keyof KernelExports, ChunkKind>>;

type Kinds = typeof CHUNK_KINDS;
export type ChunkKernel = keyof Kinds;

/** One kind of chunk as the threads use it, derived from its CHUNK_KINDS entry. */
export interface ChunkLayout<K extends ChunkKernel = ChunkKernel> {
  readonly kernel: K;
  /** Its number in a chunk's first word. */
  readonly form: number;
  /** Arguments (words after the form). */
  readonly arity: number;
  /** Bit j set: argument j is an f32, read through the float32 view. */
  readonly floats: number;
  /** The word of each argument, counted from the chunk's first word (the form). */
  readonly word: { readonly [A in keyof Kinds[K]["args"]]: number };
  /** The words of its pointer arguments, in the kernel's order. */
  readonly pointers: readonly number[];
  readonly split: Kinds[K]["split"];
}

const KERNELS = Object.keys(CHUNK_KINDS) as ChunkKernel[];

function layout<K extends ChunkKernel>(kernel: K): ChunkLayout<K> {
  const kind: ChunkKind = CHUNK_KINDS[kernel];
  const names = Object.keys(kind.args);
  const word: Record<string, number> = {};
  const pointers: number[] = [];
  let floats = 0;
  names.forEach((name, j) => {
    word[name] = 1 + j;
    if (kind.args[name] === "ptr") pointers.push(1 + j);
    if (kind.args[name] === "f32") floats |= 1 << j;
  });
  return {
    kernel,
    form: KERNELS.indexOf(kernel),
    arity: names.length,
    floats,
    word: word as ChunkLayout<K>["word"],
    pointers,
    split: CHUNK_KINDS[kernel].split,
  };
}

/** Every kind's layout, by kernel name (looked up once, when a split is built). */
export const CHUNK = Object.fromEntries(KERNELS.map((kernel) => [kernel, layout(kernel)])) as {
  readonly [K in ChunkKernel]: ChunkLayout<K>;
};

/** Every kind's layout, by form. */
export const CHUNK_FORMS: readonly ChunkLayout[] = KERNELS.map((kernel) => CHUNK[kernel]);

/** Words per chunk: the form and the longest argument list. */
export const CHUNK_WORDS = 1 + Math.max(...CHUNK_FORMS.map((kind) => kind.arity));

for (const kind of CHUNK_FORMS) {
  if (kind.floats !== 0 && CHUNK_FORMS.some((other) => other !== kind && other.arity === kind.arity)) {
    throw new Error(`thread protocol: ${kind.kernel} takes f32 arguments and shares its argument count with another kind`);
  }
}

/** What a worker needs of the protocol, sent in its start message (structured-cloneable). */
export interface WorkerProtocol {
  readonly control: typeof CONTROL;
  readonly chunkWords: number;
  readonly kinds: readonly { readonly kernel: string; readonly arity: number; readonly floats: number }[];
}

export const WORKER_PROTOCOL: WorkerProtocol = {
  control: CONTROL,
  chunkWords: CHUNK_WORDS,
  kinds: CHUNK_FORMS.map(({ kernel, arity, floats }) => ({ kernel, arity, floats })),
};

/** A kernel as chunkCaller calls it. */
export type ChunkKernelFunction = (...args: (number | undefined)[]) => unknown;
/** Runs the chunk whose form is at word `at` of the control block. */
export type ChunkRunner = (at: number) => void;

/**
 * The runner of one kind: calls `kernel` with argument j (0-based) read from word at + 1 + j
 * of `words`, or of `f32` (the same words as float32) where bit j of `floats` is set.
 *
 * Self-contained (refers to nothing outside its body): worker.ts ships its source text to
 * the workers, so the calling thread and every worker run this very code. Each argument
 * count has its own call site, so a kind of its own count calls one kernel from one site
 * and V8 passes f32 values without boxing them (no allocation per chunk).
 */
export function chunkCaller(kernel: ChunkKernelFunction, arity: number, floats: number, words: Int32Array, f32: Float32Array): ChunkRunner {
  const view = (j: number): Int32Array | Float32Array => (((floats >>> j) & 1) !== 0 ? f32 : words);
  const v1 = view(0),
    v2 = view(1),
    v3 = view(2),
    v4 = view(3),
    v5 = view(4),
    v6 = view(5);
  const v7 = view(6),
    v8 = view(7),
    v9 = view(8),
    v10 = view(9),
    v11 = view(10),
    v12 = view(11);
  const v13 = view(12),
    v14 = view(13),
    v15 = view(14),
    v16 = view(15),
    v17 = view(16),
    v18 = view(17);
  switch (arity) {
    case 8:
      return (at) => void kernel(v1[at + 1], v2[at + 2], v3[at + 3], v4[at + 4], v5[at + 5], v6[at + 6], v7[at + 7], v8[at + 8]);
    case 9:
      return (at) => void kernel(v1[at + 1], v2[at + 2], v3[at + 3], v4[at + 4], v5[at + 5], v6[at + 6], v7[at + 7], v8[at + 8], v9[at + 9]);
    case 10:
      return (at) => void kernel(v1[at + 1], v2[at + 2], v3[at + 3], v4[at + 4], v5[at + 5], v6[at + 6], v7[at + 7], v8[at + 8], v9[at + 9], v10[at + 10]);
    case 11:
      return (at) =>
        void kernel(v1[at + 1], v2[at + 2], v3[at + 3], v4[at + 4], v5[at + 5], v6[at + 6], v7[at + 7], v8[at + 8], v9[at + 9], v10[at + 10], v11[at + 11]);
    case 12:
      return (at) =>
        void kernel(
          v1[at + 1],
          v2[at + 2],
          v3[at + 3],
          v4[at + 4],
          v5[at + 5],
          v6[at + 6],
          v7[at + 7],
          v8[at + 8],
          v9[at + 9],
          v10[at + 10],
          v11[at + 11],
          v12[at + 12],
        );
    case 13:
      return (at) =>
        void kernel(
          v1[at + 1],
          v2[at + 2],
          v3[at + 3],
          v4[at + 4],
          v5[at + 5],
          v6[at + 6],
          v7[at + 7],
          v8[at + 8],
          v9[at + 9],
          v10[at + 10],
          v11[at + 11],
          v12[at + 12],
          v13[at + 13],
        );
    case 14:
      return (at) =>
        void kernel(
          v1[at + 1],
          v2[at + 2],
          v3[at + 3],
          v4[at + 4],
          v5[at + 5],
          v6[at + 6],
          v7[at + 7],
          v8[at + 8],
          v9[at + 9],
          v10[at + 10],
          v11[at + 11],
          v12[at + 12],
          v13[at + 13],
          v14[at + 14],
        );
    case 15:
      return (at) =>
        void kernel(
          v1[at + 1],
          v2[at + 2],
          v3[at + 3],
          v4[at + 4],
          v5[at + 5],
          v6[at + 6],
          v7[at + 7],
          v8[at + 8],
          v9[at + 9],
          v10[at + 10],
          v11[at + 11],
          v12[at + 12],
          v13[at + 13],
          v14[at + 14],
          v15[at + 15],
        );
    case 16:
      return (at) =>
        void kernel(
          v1[at + 1],
          v2[at + 2],
          v3[at + 3],
          v4[at + 4],
          v5[at + 5],
          v6[at + 6],
          v7[at + 7],
          v8[at + 8],
          v9[at + 9],
          v10[at + 10],
          v11[at + 11],
          v12[at + 12],
          v13[at + 13],
          v14[at + 14],
          v15[at + 15],
          v16[at + 16],
        );
    case 17:
      return (at) =>
        void kernel(
          v1[at + 1],
          v2[at + 2],
          v3[at + 3],
          v4[at + 4],
          v5[at + 5],
          v6[at + 6],
          v7[at + 7],
          v8[at + 8],
          v9[at + 9],
          v10[at + 10],
          v11[at + 11],
          v12[at + 12],
          v13[at + 13],
          v14[at + 14],
          v15[at + 15],
          v16[at + 16],
          v17[at + 17],
        );
    case 18:
      return (at) =>
        void kernel(
          v1[at + 1],
          v2[at + 2],
          v3[at + 3],
          v4[at + 4],
          v5[at + 5],
          v6[at + 6],
          v7[at + 7],
          v8[at + 8],
          v9[at + 9],
          v10[at + 10],
          v11[at + 11],
          v12[at + 12],
          v13[at + 13],
          v14[at + 14],
          v15[at + 15],
          v16[at + 16],
          v17[at + 17],
          v18[at + 18],
        );
    default:
      throw new Error(`thread protocol: no chunk caller for ${arity} arguments (add a case to chunkCaller)`);
  }
}
