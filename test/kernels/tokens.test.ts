/**
 * The token-layer kernels (assembly/embedding.ts, assembly/layernorm.ts), on the release
 * and debug builds:
 *   - every fast kernel against its `_ref` twin bit for bit, at widths below, at and above
 *     the four SIMD lanes (1, 3, 4, 5, 7, 8, 17, 64, 129), with ids repeated within and
 *     across rows (the scatter-add's order), rows of padding only, at unaligned (4-byte)
 *     offsets; outputs start as NaN (so "overwrites" is checked) and the NaN guard band
 *     after every buffer must survive;
 *   - against float64 references (test/helpers/reference.ts), within c·u·Σ|terms|;
 *   - weight (and layerNorm input) gradients by central finite differences in float64;
 *   - against PyTorch (test/fixtures/token-fixtures.json, written by
 *     test/fixtures/make_token_fixtures.py): F.embedding, F.embedding_bag(mode="mean")
 *     and F.layer_norm with autograd;
 *   - the debug build's assertions.
 */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { KernelAssertionError, type Engine } from "../../src/index.js";
import { EXACT_BUILDS, loadBuild } from "../helpers/engines.js";
import { expectClose, expectSameBits } from "../helpers/compare.js";
import { dot64, numericGradient } from "../helpers/gradcheck.js";
import { embedding64, embeddingBag64, layerNorm64 } from "../helpers/reference.js";
import { TestRandom } from "../helpers/rand.js";

const U = 2 ** -24;
const DIMS = [1, 3, 4, 5, 7, 8, 17, 64, 129];
const VARIANTS = ["", "_ref"] as const;
const NAN_BITS = 0x7fc0abcd;
const GUARD = 4;

/** A copy of `values` 4 bytes past a 16-byte boundary, followed by a NaN guard band. */
function put(engine: Engine, values: ArrayLike<number>): number {
  const base = engine.allocF32(values.length + GUARD + 1);
  const ptr = base + 4;
  engine.f32(ptr, values.length).set(values);
  new Uint32Array(engine.kernels.memory.buffer, ptr + values.length * 4, GUARD).fill(NAN_BITS);
  return ptr;
}

/** An output buffer of n NaNs (+ guard). */
const putNaN = (engine: Engine, n: number) => put(engine, new Float32Array(n).fill(NaN));

/** Reads n floats and checks that the guard band after them is intact. */
function take(engine: Engine, ptr: number, n: number, what: string): Float32Array {
  const guard = new Uint32Array(engine.kernels.memory.buffer, ptr + n * 4, GUARD);
  expect(Array.from(guard), `${what}: wrote past the end`).toEqual(Array(GUARD).fill(NAN_BITS));
  return engine.readF32(ptr, n);
}

/** Token ids with repeats (a small vocabulary) and, with padding, some padding tokens and the last row padding only. */
function tokenIds(rnd: TestRandom, rows: number, seqLen: number, vocab: number, paddingIdx: number): Float32Array {
  const ids = new Float32Array(rows * seqLen);
  for (let i = 0; i < ids.length; i++) ids[i] = Math.floor(rnd.next() * vocab);
  if (paddingIdx >= 0) {
    for (let i = 0; i < ids.length; i += 3) ids[i] = paddingIdx;
    if (rows > 1) ids.fill(paddingIdx, (rows - 1) * seqLen);
  }
  return ids;
}

interface EmbeddingRun {
  y: Float32Array;
  dw: Float32Array;
}

function runEmbedding(engine: Engine, v: string, bag: boolean, ids: Float32Array, w: Float32Array, dy: Float32Array, s: EmbShape): EmbeddingRun {
  return engine.scoped(() => {
    const k = engine.kernels;
    const yLength = bag ? s.rows * s.dim : s.rows * s.seqLen * s.dim;
    const idsPtr = put(engine, ids),
      wPtr = put(engine, w),
      dyPtr = put(engine, dy);
    const y = putNaN(engine, yLength),
      dw = putNaN(engine, s.vocab * s.dim);
    if (bag) {
      k[`embedding_bag_forward${v}` as "embedding_bag_forward"](y, idsPtr, wPtr, s.rows, s.seqLen, s.dim, s.paddingIdx);
      k[`embedding_bag_backward${v}` as "embedding_bag_backward"](dw, dyPtr, idsPtr, s.rows, s.seqLen, s.dim, s.vocab, s.paddingIdx);
    } else {
      k[`embedding_forward${v}` as "embedding_forward"](y, idsPtr, wPtr, s.rows, s.seqLen, s.dim);
      k[`embedding_backward${v}` as "embedding_backward"](dw, dyPtr, idsPtr, s.rows, s.seqLen, s.dim, s.vocab, s.paddingIdx);
    }
    const what = `${bag ? "embedding_bag" : "embedding"}${v} ${JSON.stringify(s)}`;
    return { y: take(engine, y, yLength, `${what} y`), dw: take(engine, dw, s.vocab * s.dim, `${what} dw`) };
  });
}

interface EmbShape {
  rows: number;
  seqLen: number;
  vocab: number;
  dim: number;
  paddingIdx: number;
}

interface LnRun {
  y: Float32Array;
  stats: Float32Array;
  dx: Float32Array;
  dw: Float32Array;
  db: Float32Array;
}

function runLayerNorm(
  engine: Engine,
  v: string,
  x: Float32Array,
  w: Float32Array,
  b: Float32Array,
  dy: Float32Array,
  rows: number,
  dim: number,
  eps: number,
): LnRun {
  return engine.scoped(() => {
    const k = engine.kernels;
    const n = rows * dim;
    const xPtr = put(engine, x),
      wPtr = put(engine, w),
      bPtr = put(engine, b),
      dyPtr = put(engine, dy);
    const y = putNaN(engine, n),
      stats = putNaN(engine, 2 * rows),
      dx = putNaN(engine, n),
      dw = putNaN(engine, dim),
      db = putNaN(engine, dim);
    k[`layernorm_forward${v}` as "layernorm_forward"](y, stats, xPtr, wPtr, bPtr, rows, dim, eps);
    k[`layernorm_backward${v}` as "layernorm_backward"](dx, dw, db, dyPtr, xPtr, wPtr, stats, rows, dim);
    const what = `layernorm${v} ${rows}×${dim}`;
    return {
      y: take(engine, y, n, `${what} y`),
      stats: take(engine, stats, 2 * rows, `${what} stats`),
      dx: take(engine, dx, n, `${what} dx`),
      dw: take(engine, dw, dim, `${what} dw`),
      db: take(engine, db, dim, `${what} db`),
    };
  });
}

/** Bounds of layerNorm's float32 results against float64: c·u·Σ|terms|, K = max|x − mean|·rstd the size of what cancels. */
function layerNormScales(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>, dy: ArrayLike<number>, rows: number, dim: number, eps: number) {
  const yScale = new Float64Array(rows * dim);
  const dxScale = new Float64Array(rows * dim);
  const dwScale = new Float64Array(dim);
  const dbScale = new Float64Array(dim);
  for (let r = 0; r < rows; r++) {
    const row = Array.from({ length: dim }, (_, j) => x[r * dim + j]!);
    const mean = row.reduce((a, c) => a + c, 0) / dim;
    const rstd = 1 / Math.sqrt(row.reduce((a, c) => a + (c - mean) ** 2, 0) / dim + eps);
    const K = Math.max(...row.map(Math.abs)) * rstd + 1;
    const g = row.map((_, j) => Math.abs(dy[r * dim + j]! * w[j]!));
    const gMean = g.reduce((a, c) => a + c, 0) / dim;
    for (let j = 0; j < dim; j++) {
      const xhat = Math.abs((row[j]! - mean) * rstd);
      yScale[r * dim + j] = Math.abs(w[j]!) * (xhat + K) + Math.abs(b[j]!);
      dxScale[r * dim + j] = rstd * (g[j]! + gMean * (1 + (xhat + K) * K));
      dwScale[j]! += Math.abs(dy[r * dim + j]!) * (xhat + K);
      dbScale[j]! += Math.abs(dy[r * dim + j]!);
    }
  }
  return { yScale, dxScale, dwScale, dbScale };
}

/** c for a result built from sums of `terms` terms and a few more roundings. */
const cOf = (terms: number) => 2 * (terms + 8);

for (const build of EXACT_BUILDS) {
  describe(`token kernels (${build} build)`, () => {
    let engine: Engine;
    beforeAll(async () => {
      engine = await loadBuild(build);
    });

    for (const bag of [false, true]) {
      const name = bag ? "embedding_bag" : "embedding";
      it(`${name}_forward / _backward equal their _ref twins bit for bit and float64 within c·u·Σ|terms|`, () => {
        const rnd = new TestRandom(bag ? 71 : 17);
        for (const dim of DIMS) {
          for (const [rows, seqLen, vocab, paddingIdx] of [
            [1, 1, 1, -1],
            [2, 5, 3, 0],
            [3, 7, 11, 4],
            [4, 3, 5, -1],
          ] as const) {
            const s: EmbShape = { rows, seqLen, vocab, dim, paddingIdx };
            const ids = tokenIds(rnd, rows, seqLen, vocab, paddingIdx);
            const w = rnd.normal(vocab * dim);
            const dy = rnd.normal(bag ? rows * dim : rows * seqLen * dim);
            const fast = runEmbedding(engine, "", bag, ids, w, dy, s);
            const ref = runEmbedding(engine, "_ref", bag, ids, w, dy, s);
            expectSameBits(fast.y, ref.y, `${name} y ${JSON.stringify(s)}`);
            expectSameBits(fast.dw, ref.dw, `${name} dw ${JSON.stringify(s)}`);
            if (bag) {
              const r64 = embeddingBag64(ids, w, dy, rows, seqLen, vocab, dim, paddingIdx);
              expectClose(fast.y, r64.y, { rtol: cOf(seqLen) * U, atol: 0 }, `${name} y vs float64`, r64.yScale);
              expectClose(fast.dw, r64.dw, { rtol: cOf(rows * seqLen) * U, atol: 0 }, `${name} dw vs float64`, r64.dwScale);
            } else {
              const r64 = embedding64(ids, w, dy, vocab, dim, paddingIdx);
              expectSameBits(fast.y, Float32Array.from(r64.y), `${name} y vs the table's rows`);
              expectClose(fast.dw, r64.dw, { rtol: cOf(rows * seqLen) * U, atol: 0 }, `${name} dw vs float64`, r64.scale);
            }
          }
        }
      });

      it(`${name}: the padding row gets no gradient${bag ? ", a row of padding only gives zeros" : ""}`, () => {
        const rnd = new TestRandom(5);
        const s: EmbShape = { rows: 3, seqLen: 4, vocab: 6, dim: 5, paddingIdx: 2 };
        const ids = Float32Array.from([2, 1, 2, 3, 0, 2, 2, 5, 2, 2, 2, 2]);
        const w = rnd.normal(s.vocab * s.dim);
        const dy = rnd.normal(bag ? s.rows * s.dim : s.rows * s.seqLen * s.dim);
        const { y, dw } = runEmbedding(engine, "", bag, ids, w, dy, s);
        expect(Array.from(dw.subarray(2 * s.dim, 3 * s.dim))).toEqual(Array(s.dim).fill(0));
        if (bag) expect(Array.from(y.subarray(2 * s.dim))).toEqual(Array(s.dim).fill(0));
        else expectSameBits(y.subarray(0, s.dim), w.subarray(2 * s.dim, 3 * s.dim), "the padding token's vector is its row, as in PyTorch");
      });

      it(`${name}_backward equals central finite differences of Σ dy ⊙ ${name}(w) in float64`, () => {
        const rnd = new TestRandom(bag ? 3 : 4);
        const s: EmbShape = { rows: 3, seqLen: 4, vocab: 5, dim: 3, paddingIdx: 1 };
        const ids = tokenIds(rnd, s.rows, s.seqLen, s.vocab, s.paddingIdx);
        const w = rnd.normal(s.vocab * s.dim);
        const dy = rnd.normal(bag ? s.rows * s.dim : s.rows * s.seqLen * s.dim);
        const { dw } = runEmbedding(engine, "", bag, ids, w, dy, s);
        const loss = (w64: Float64Array) => {
          // the padding row's own entries are held fixed (PyTorch gives them no gradient): read them from w
          const eff = Float64Array.from(w64, (v, i) => (Math.floor(i / s.dim) === s.paddingIdx ? w[i]! : v));
          const y = bag ? embeddingBag64(ids, eff, dy, s.rows, s.seqLen, s.vocab, s.dim, s.paddingIdx).y : embedding64(ids, eff, dy, s.vocab, s.dim, -1).y;
          return dot64(y, dy);
        };
        expectClose(dw, numericGradient(loss, w), { rtol: 1e-6, atol: 1e-6 }, `${name} dw`);
      });
    }

    it("layernorm_forward / _backward equal their _ref twins bit for bit and float64 within c·u·Σ|terms|", () => {
      const rnd = new TestRandom(99);
      for (const dim of DIMS) {
        for (const rows of [1, 2, 5]) {
          const x = rnd.normal(rows * dim, 3).map((v) => v + 0.5);
          const w = rnd.uniform(dim, 0.5, 1.5);
          const b = rnd.uniform(dim, -0.5, 0.5);
          const dy = rnd.normal(rows * dim);
          const eps = 1e-5;
          const fast = runLayerNorm(engine, "", x, w, b, dy, rows, dim, eps);
          const ref = runLayerNorm(engine, "_ref", x, w, b, dy, rows, dim, eps);
          for (const key of ["y", "stats", "dx", "dw", "db"] as const) expectSameBits(fast[key], ref[key], `layernorm ${key} ${rows}×${dim}`);
          const r64 = layerNorm64(x, w, b, dy, rows, dim, eps);
          const sc = layerNormScales(x, w, b, dy, rows, dim, eps);
          expectClose(fast.y, r64.y, { rtol: cOf(dim) * U, atol: 0 }, `layernorm y ${rows}×${dim}`, sc.yScale);
          expectClose(fast.dx, r64.dx, { rtol: cOf(2 * dim) * U, atol: 0 }, `layernorm dx ${rows}×${dim}`, sc.dxScale);
          expectClose(fast.dw, r64.dw, { rtol: cOf(dim + rows) * U, atol: 0 }, `layernorm dw ${rows}×${dim}`, sc.dwScale);
          expectClose(fast.db, r64.db, { rtol: cOf(rows) * U, atol: 0 }, `layernorm db ${rows}×${dim}`, sc.dbScale);
        }
      }
    });

    it("layernorm_backward may write dx over dy (the same bits)", () => {
      const rnd = new TestRandom(8);
      const rows = 3,
        dim = 9;
      const x = rnd.normal(rows * dim),
        w = rnd.normal(dim),
        b = rnd.normal(dim),
        dy = rnd.normal(rows * dim);
      const separate = runLayerNorm(engine, "", x, w, b, dy, rows, dim, 1e-5);
      const inPlace = engine.scoped(() => {
        const k = engine.kernels;
        const xp = put(engine, x),
          wp = put(engine, w),
          bp = put(engine, b),
          g = put(engine, dy);
        const y = putNaN(engine, rows * dim),
          stats = putNaN(engine, 2 * rows),
          dw = putNaN(engine, dim),
          db = putNaN(engine, dim);
        k.layernorm_forward(y, stats, xp, wp, bp, rows, dim, 1e-5);
        k.layernorm_backward(g, dw, db, g, xp, wp, stats, rows, dim);
        return engine.readF32(g, rows * dim);
      });
      expectSameBits(inPlace, separate.dx, "dx in place");
    });

    it("layernorm_backward equals central finite differences of Σ dy ⊙ layer_norm(x; w, b) in float64", () => {
      const rnd = new TestRandom(12);
      for (const [rows, dim] of [
        [2, 5],
        [3, 8],
        [1, 1],
      ] as const) {
        const x = rnd.normal(rows * dim, 2),
          w = rnd.normal(dim),
          b = rnd.normal(dim),
          dy = rnd.normal(rows * dim);
        const eps = 1e-5;
        const k = runLayerNorm(engine, "", x, w, b, dy, rows, dim, eps);
        const loss = (xx: ArrayLike<number>, ww: ArrayLike<number>, bb: ArrayLike<number>) => dot64(layerNorm64(xx, ww, bb, dy, rows, dim, eps).y, dy);
        const tol = { rtol: 2e-4, atol: 2e-5 };
        expectClose(
          k.dx,
          numericGradient((v) => loss(v, w, b), x),
          tol,
          `dx ${rows}×${dim}`,
        );
        expectClose(
          k.dw,
          numericGradient((v) => loss(x, v, b), w),
          tol,
          `dw ${rows}×${dim}`,
        );
        expectClose(
          k.db,
          numericGradient((v) => loss(x, w, v), b),
          tol,
          `db ${rows}×${dim}`,
        );
      }
    });

    describe("against PyTorch (test/fixtures/token-fixtures.json)", () => {
      const fixtures = JSON.parse(readFileSync(new URL("../fixtures/token-fixtures.json", import.meta.url), "utf8")) as TokenFixtures;

      for (const [key, bag] of [
        ["embedding", false],
        ["embeddingBag", true],
      ] as const) {
        it(`${bag ? 'F.embedding_bag(mode="mean")' : "F.embedding"}: values and the weight gradient`, () => {
          for (const c of fixtures[key]) {
            for (const v of VARIANTS) {
              const s: EmbShape = { rows: c.rows, seqLen: c.seqLen, vocab: c.vocab, dim: c.dim, paddingIdx: c.paddingIdx };
              const run = runEmbedding(engine, v, bag, Float32Array.from(c.ids), Float32Array.from(c.w), Float32Array.from(c.dy), s);
              const terms = bag ? c.seqLen : 1;
              const ref64 = bag
                ? embeddingBag64(c.ids, c.w, c.dy, c.rows, c.seqLen, c.vocab, c.dim, c.paddingIdx)
                : { yScale: Float64Array.from(c.y, Math.abs), dwScale: embedding64(c.ids, c.w, c.dy, c.vocab, c.dim, c.paddingIdx).scale };
              // twice one evaluation's bound: torch and we each round once per term
              expectClose(run.y, c.y, { rtol: 2 * cOf(terms) * U, atol: 0 }, `${key}${v} y`, ref64.yScale);
              expectClose(run.dw, c.dw, { rtol: 2 * cOf(c.rows * c.seqLen) * U, atol: 0 }, `${key}${v} dw`, ref64.dwScale);
            }
          }
        });
      }

      it("F.layer_norm: values and the input, weight and bias gradients", () => {
        for (const c of fixtures.layerNorm) {
          for (const v of VARIANTS) {
            const run = runLayerNorm(
              engine,
              v,
              Float32Array.from(c.x),
              Float32Array.from(c.w),
              Float32Array.from(c.b),
              Float32Array.from(c.dy),
              c.rows,
              c.dim,
              c.eps,
            );
            const sc = layerNormScales(c.x, c.w, c.b, c.dy, c.rows, c.dim, c.eps);
            const what = `layer_norm${v} ${c.rows}×${c.dim}`;
            expectClose(run.y, c.y, { rtol: 2 * cOf(c.dim) * U, atol: 0 }, `${what} y`, sc.yScale);
            expectClose(run.dx, c.dx, { rtol: 2 * cOf(2 * c.dim) * U, atol: 0 }, `${what} dx`, sc.dxScale);
            expectClose(run.dw, c.dw, { rtol: 2 * cOf(c.dim + c.rows) * U, atol: 0 }, `${what} dw`, sc.dwScale);
            expectClose(run.db, c.db, { rtol: 2 * cOf(c.rows) * U, atol: 0 }, `${what} db`, sc.dbScale);
          }
        }
      });
    });

    if (build === "debug") {
      const cases: [string, (e: Engine, p: number) => void][] = [
        ["embedding_forward with 0 rows", (e, p) => e.kernels.embedding_forward(p, p, p, 0, 2, 2)],
        ["embedding_backward with vocab 0", (e, p) => e.kernels.embedding_backward(p, p, p, 1, 2, 2, 0, -1)],
        ["embedding_bag_forward with dim 0", (e, p) => e.kernels.embedding_bag_forward(p, p, p, 1, 2, 0, -1)],
        ["layernorm_forward with dim 0", (e, p) => e.kernels.layernorm_forward(p, p, p, p, p, 2, 0, 1e-5)],
        ["layernorm_backward with 0 rows", (e, p) => e.kernels.layernorm_backward(p, p, p, p, p, p, p, 0, 3)],
      ];
      for (const [what, call] of cases) {
        it(`${what} throws KernelAssertionError`, () => {
          engine.scoped(() => {
            const p = engine.alloc(4096);
            engine.f32(p, 1024).fill(0);
            expect(() => call(engine, p)).toThrow(KernelAssertionError);
          });
        });
      }
    }
  });
}

interface EmbeddingFixture {
  rows: number;
  seqLen: number;
  vocab: number;
  dim: number;
  paddingIdx: number;
  ids: number[];
  w: number[];
  dy: number[];
  y: number[];
  dw: number[];
}

interface LayerNormFixture {
  rows: number;
  dim: number;
  eps: number;
  x: number[];
  w: number[];
  b: number[];
  dy: number[];
  y: number[];
  dx: number[];
  dw: number[];
  db: number[];
}

interface TokenFixtures {
  embedding: EmbeddingFixture[];
  embeddingBag: EmbeddingFixture[];
  layerNorm: LayerNormFixture[];
}
