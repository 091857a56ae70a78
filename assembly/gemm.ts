// f32 matrix products, row-major, with an optional fused bias add and ReLU.
//
//   gemm_nn: C(m,n) = A(m,k) · B(k,n)      A is (m, lda≥k), B is (k, ldb≥n)
//   gemm_nt: C(m,n) = A(m,k) · B(n,k)ᵀ     A is (m, lda≥k), B is (n, ldb≥k)
//   gemm_tn: C(m,n) = A(k,m)ᵀ · B(k,n)     A is (k, lda≥m), B is (k, ldb≥n)
//   C is (m, ldc≥n). Leading dimensions are in elements; pointers need only 4-byte alignment.
//
// For a dense layer with w (out, in) as in PyTorch: forward y = x·wᵀ (nt), input
// gradient dx = dy·w (nn), weight gradient dw = dyᵀ·x (tn).
//
// flags: GEMM_ACCUMULATE (1) adds to C instead of overwriting it; GEMM_RELU (2) applies
// max(·, 0) last. bias (0 for none) is (n): one value per column of C.
//
// Every element is computed in one fixed order:
//   acc = accumulate ? C_ij : 0;  for p in 0..k-1: acc += A_ip·B_pj;  acc += bias_j;  relu
// with separate multiply and add (no FMA in the default build), so the blocked SIMD
// kernel and the triple-loop reference give identical bits, and splitting the output
// across threads could never change them. The relaxed build uses FMA (faster, not
// bit-identical to the reference, and allowed to differ between CPUs).
//
// Blocking (BLIS / XNNPACK style): B is packed into KC×NR column panels, A into
// MR×KC row panels (packing absorbs the transpositions, so all three forms run the
// same micro-kernel); the micro-kernel holds a 4×8 tile of C in eight f32x4
// accumulators. Edge tiles run through a zero-padded scratch tile. With fewer than four
// rows and B not transposed, rows are computed straight from B without packing; with
// fewer than 16 columns (a classifier head), 8×4 tiles run down the rows (gemmNarrow);
// gemm_panels serves a few rows against B packed once in advance (batch-1 inference).
// The block sizes, tile walk and loop depths of each path are chosen at run time by the
// plan (gemm-plan.ts: candidates per form and shape class, all giving the same bits).

import { scratch_base } from "./memory";
import {
  GEMM_CLASS_LARGE, GEMM_CLASS_NARROW, GEMM_CLASS_ROW, GEMM_FORM_NN, GEMM_FORM_NT, GEMM_FORM_PANELS, GEMM_FORM_TN, planOf,
} from "./gemm-plan";

export const GEMM_ACCUMULATE: i32 = 1;
export const GEMM_RELU: i32 = 2;

const MR: i32 = 4; // rows of C per micro-kernel tile
const NR: i32 = 8; // columns of C per micro-kernel tile (two f32x4)
// The blocks (MC rows of A × KC steps packed at once, KC × NC of B) are the plan's
// (gemm-plan.ts; gemmBlocked below); every choice fits these regions: MC·KC ≤ 16384 floats
// and KC·NC ≤ 65536.

// Scratch layout (see memory.ts SCRATCH_BYTES): packed A, packed B, one C tile, one bias tile.
const PACK_A_BYTES: usize = 64 * 1024;
const PACK_B_BYTES: usize = 256 * 1024;
const TILE_BYTES: usize = <usize>(MR * NR) << 2;

// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, acc);
  return f32x4.add(acc, f32x4.mul(a, b));
}

/** One vector of C's row at cj += a0·B0 + a1·B1 + a2·B2 + a3·B3, added in that order: a step of a 4-row pass. */
// @ts-ignore: decorator
@inline function passVector4(cj: usize, a0: v128, a1: v128, a2: v128, a3: v128, b0: usize, b1: usize, b2: usize, b3: usize): void {
  let acc = v128.load(cj);
  acc = madd(a0, v128.load(b0), acc);
  acc = madd(a1, v128.load(b1), acc);
  acc = madd(a2, v128.load(b2), acc);
  acc = madd(a3, v128.load(b3), acc);
  v128.store(cj, acc);
}

/**
 * C tile (4×8 at c, row stride ldcBytes) ← (load ? C : 0) + Apanel·Bpanel (+ bias) (relu).
 * pa: kc groups of 4 A values (one per tile row); pb: kc groups of 8 B values. With `pairs`
 * the loop body takes steps p and p+1 one after the other (fewer loop instructions per
 * multiply-add; the same sums in the same order).
 */
// @ts-ignore: decorator
@inline function microKernel4x8(
  c: usize, ldcBytes: usize, pa: usize, pb: usize, kc: i32, load: bool, bias: usize, relu: bool, pairs: bool,
): void {
  const c0 = c;
  const c1 = c0 + ldcBytes;
  const c2 = c1 + ldcBytes;
  const c3 = c2 + ldcBytes;
  let acc0x0123 = f32x4.splat(0), acc0x4567 = f32x4.splat(0);
  let acc1x0123 = f32x4.splat(0), acc1x4567 = f32x4.splat(0);
  let acc2x0123 = f32x4.splat(0), acc2x4567 = f32x4.splat(0);
  let acc3x0123 = f32x4.splat(0), acc3x4567 = f32x4.splat(0);
  if (load) {
    acc0x0123 = v128.load(c0); acc0x4567 = v128.load(c0, 16);
    acc1x0123 = v128.load(c1); acc1x4567 = v128.load(c1, 16);
    acc2x0123 = v128.load(c2); acc2x4567 = v128.load(c2, 16);
    acc3x0123 = v128.load(c3); acc3x4567 = v128.load(c3, 16);
  }
  let p = 0;
  if (pairs) {
    for (; p + 2 <= kc; p += 2) {
      let b0123 = v128.load(pb);
      let b4567 = v128.load(pb, 16);
      let a0 = v128.load32_splat(pa);
      let a1 = v128.load32_splat(pa, 4);
      let a2 = v128.load32_splat(pa, 8);
      let a3 = v128.load32_splat(pa, 12);
      acc0x0123 = madd(a0, b0123, acc0x0123); acc0x4567 = madd(a0, b4567, acc0x4567);
      acc1x0123 = madd(a1, b0123, acc1x0123); acc1x4567 = madd(a1, b4567, acc1x4567);
      acc2x0123 = madd(a2, b0123, acc2x0123); acc2x4567 = madd(a2, b4567, acc2x4567);
      acc3x0123 = madd(a3, b0123, acc3x0123); acc3x4567 = madd(a3, b4567, acc3x4567);
      b0123 = v128.load(pb, 32);
      b4567 = v128.load(pb, 48);
      a0 = v128.load32_splat(pa, 16);
      a1 = v128.load32_splat(pa, 20);
      a2 = v128.load32_splat(pa, 24);
      a3 = v128.load32_splat(pa, 28);
      acc0x0123 = madd(a0, b0123, acc0x0123); acc0x4567 = madd(a0, b4567, acc0x4567);
      acc1x0123 = madd(a1, b0123, acc1x0123); acc1x4567 = madd(a1, b4567, acc1x4567);
      acc2x0123 = madd(a2, b0123, acc2x0123); acc2x4567 = madd(a2, b4567, acc2x4567);
      acc3x0123 = madd(a3, b0123, acc3x0123); acc3x4567 = madd(a3, b4567, acc3x4567);
      pa += 32;
      pb += 64;
    }
  }
  for (; p < kc; p++) {
    const b0123 = v128.load(pb);
    const b4567 = v128.load(pb, 16);
    const a0 = v128.load32_splat(pa);
    const a1 = v128.load32_splat(pa, 4);
    const a2 = v128.load32_splat(pa, 8);
    const a3 = v128.load32_splat(pa, 12);
    acc0x0123 = madd(a0, b0123, acc0x0123); acc0x4567 = madd(a0, b4567, acc0x4567);
    acc1x0123 = madd(a1, b0123, acc1x0123); acc1x4567 = madd(a1, b4567, acc1x4567);
    acc2x0123 = madd(a2, b0123, acc2x0123); acc2x4567 = madd(a2, b4567, acc2x4567);
    acc3x0123 = madd(a3, b0123, acc3x0123); acc3x4567 = madd(a3, b4567, acc3x4567);
    pa += 16;
    pb += 32;
  }
  if (bias) {
    const bias0123 = v128.load(bias);
    const bias4567 = v128.load(bias, 16);
    acc0x0123 = f32x4.add(acc0x0123, bias0123); acc0x4567 = f32x4.add(acc0x4567, bias4567);
    acc1x0123 = f32x4.add(acc1x0123, bias0123); acc1x4567 = f32x4.add(acc1x4567, bias4567);
    acc2x0123 = f32x4.add(acc2x0123, bias0123); acc2x4567 = f32x4.add(acc2x4567, bias4567);
    acc3x0123 = f32x4.add(acc3x0123, bias0123); acc3x4567 = f32x4.add(acc3x4567, bias4567);
  }
  if (relu) {
    const zero = f32x4.splat(0);
    acc0x0123 = f32x4.max(acc0x0123, zero); acc0x4567 = f32x4.max(acc0x4567, zero);
    acc1x0123 = f32x4.max(acc1x0123, zero); acc1x4567 = f32x4.max(acc1x4567, zero);
    acc2x0123 = f32x4.max(acc2x0123, zero); acc2x4567 = f32x4.max(acc2x4567, zero);
    acc3x0123 = f32x4.max(acc3x0123, zero); acc3x4567 = f32x4.max(acc3x4567, zero);
  }
  v128.store(c0, acc0x0123); v128.store(c0, acc0x4567, 16);
  v128.store(c1, acc1x0123); v128.store(c1, acc1x4567, 16);
  v128.store(c2, acc2x0123); v128.store(c2, acc2x4567, 16);
  v128.store(c3, acc3x0123); v128.store(c3, acc3x4567, 16);
}

/** Element (i, p) of op(A): A is (m,k) with stride lda, or (k,m) when transA. */
// @ts-ignore: decorator
@inline function elemA(a: usize, lda: i32, transA: bool, i: i32, p: i32): f32 {
  return transA
    ? load<f32>(a + ((<usize>p * <usize>lda + <usize>i) << 2))
    : load<f32>(a + ((<usize>i * <usize>lda + <usize>p) << 2));
}

/** Element (p, j) of op(B): B is (k,n) with stride ldb, or (n,k) when transB. */
// @ts-ignore: decorator
@inline function elemB(b: usize, ldb: i32, transB: bool, p: i32, j: i32): f32 {
  return transB
    ? load<f32>(b + ((<usize>j * <usize>ldb + <usize>p) << 2))
    : load<f32>(b + ((<usize>p * <usize>ldb + <usize>j) << 2));
}

/**
 * Packs op(A)[i0 .. i0+mc, p0 .. p0+kc] into MR-row panels (kc groups of MR values),
 * zero-padding rows past m. Whole panels move four values at a time: with transA a panel
 * row is 4 consecutive floats of memory; without, 4×4 blocks are transposed in registers.
 */
function packA(dst: usize, a: usize, lda: i32, transA: bool, m: i32, i0: i32, mc: i32, p0: i32, kc: i32): void {
  const ldaBytes = <usize>lda << 2;
  const panelBytes = <usize>kc << 4;
  if (transA) {
    // Four panels at a time (one 64-byte line of A's row per step): step p of panel q is
    // A's row p0 + p, columns i0 + 4q … i0 + 4q + 3. Each line is read once, and the stores
    // go to four streams; writing every panel's step p at once (16 streams kc·16 bytes
    // apart, the same L1 sets) ran the tn form 4–6 % slower at the training shapes.
    const whole = min(mc, max(0, m - i0)) / MR; // panels with MR real rows
    for (let q0 = 0; q0 < whole; q0 += 4) {
      const group = min(4, whole - q0);
      let src = a + ((<usize>p0 * <usize>lda + <usize>(i0 + q0 * MR)) << 2);
      let to = dst + <usize>q0 * panelBytes;
      if (group == 4) {
        for (let p = 0; p < kc; p++) {
          v128.store(to, v128.load(src));
          v128.store(to + panelBytes, v128.load(src, 16));
          v128.store(to + 2 * panelBytes, v128.load(src, 32));
          v128.store(to + 3 * panelBytes, v128.load(src, 48));
          to += 16;
          src += ldaBytes;
        }
        continue;
      }
      for (let p = 0; p < kc; p++) {
        for (let t = 0; t < group; t++) v128.store(to + <usize>t * panelBytes, v128.load(src + (<usize>t << 4)));
        to += 16;
        src += ldaBytes;
      }
    }
    dst += <usize>whole * panelBytes;
    for (let ir = whole * MR; ir < mc; ir += MR) {
      const i = i0 + ir;
      for (let p = 0; p < kc; p++) {
        for (let r = 0; r < MR; r++) {
          store<f32>(dst, i + r < m ? elemA(a, lda, true, i + r, p0 + p) : 0);
          dst += 4;
        }
      }
    }
    return;
  }
  for (let ir = 0; ir < mc; ir += MR) {
    const i = i0 + ir;
    if (i + MR <= m) {
      const row0 = a + ((<usize>i * <usize>lda + <usize>p0) << 2);
      let p = 0;
      for (; p + 4 <= kc; p += 4) {
        transposeStore4x4(dst, row0 + (<usize>p << 2), ldaBytes, 16);
        dst += 64;
      }
      for (; p < kc; p++) {
        for (let r = 0; r < MR; r++) {
          store<f32>(dst, load<f32>(row0 + <usize>r * ldaBytes + (<usize>p << 2)));
          dst += 4;
        }
      }
    } else {
      for (let p = 0; p < kc; p++) {
        for (let r = 0; r < MR; r++) {
          store<f32>(dst, i + r < m ? elemA(a, lda, transA, i + r, p0 + p) : 0);
          dst += 4;
        }
      }
    }
  }
}

/**
 * Reads a 4×4 block (4 rows of 4 floats, row stride strideBytes) at src and stores its
 * transpose as 4 vectors dstStride bytes apart at dst: dst row q = (src[0][q], …, src[3][q]).
 */
// @ts-ignore: decorator
@inline function transposeStore4x4(dst: usize, src: usize, strideBytes: usize, dstStride: usize): void {
  const r0 = v128.load(src);
  const r1 = v128.load(src + strideBytes);
  const r2 = v128.load(src + 2 * strideBytes);
  const r3 = v128.load(src + 3 * strideBytes);
  const a = i32x4.shuffle(r0, r1, 0, 4, 1, 5); // r0[0] r1[0] r0[1] r1[1]
  const b = i32x4.shuffle(r0, r1, 2, 6, 3, 7); // r0[2] r1[2] r0[3] r1[3]
  const c = i32x4.shuffle(r2, r3, 0, 4, 1, 5);
  const d = i32x4.shuffle(r2, r3, 2, 6, 3, 7);
  v128.store(dst, i32x4.shuffle(a, c, 0, 1, 4, 5));
  v128.store(dst + dstStride, i32x4.shuffle(a, c, 2, 3, 6, 7));
  v128.store(dst + 2 * dstStride, i32x4.shuffle(b, d, 0, 1, 4, 5));
  v128.store(dst + 3 * dstStride, i32x4.shuffle(b, d, 2, 3, 6, 7));
}

/** Packs op(B)[p0 .. p0+kc, j0 .. j0+nc] into NR-column panels, zero-padding columns past n. */
function packB(dst: usize, b: usize, ldb: i32, transB: bool, n: i32, j0: i32, nc: i32, p0: i32, kc: i32): void {
  for (let jr = 0; jr < nc; jr += NR) {
    const j = j0 + jr;
    if (!transB && j + NR <= n) {
      // Row p of B holds the panel's 8 values contiguously: copy two vectors.
      for (let p = 0; p < kc; p++) {
        const src = b + ((<usize>(p0 + p) * <usize>ldb + <usize>j) << 2);
        v128.store(dst, v128.load(src));
        v128.store(dst, v128.load(src, 16), 16);
        dst += 32;
      }
    } else if (transB && j + NR <= n) {
      // B is stored (n, k): the panel's 8 columns are 8 rows of memory. Read 4 consecutive
      // p from each and transpose two 4×4 blocks in registers, then the remaining p one by one.
      const ldbBytes = <usize>ldb << 2;
      const row0 = b + ((<usize>j * <usize>ldb + <usize>p0) << 2);
      let p = 0;
      for (; p + 4 <= kc; p += 4) {
        const at = row0 + (<usize>p << 2);
        transposeStore4x4(dst, at, ldbBytes, 32);
        transposeStore4x4(dst + 16, at + 4 * ldbBytes, ldbBytes, 32);
        dst += 128;
      }
      for (; p < kc; p++) {
        for (let c = 0; c < NR; c++) {
          store<f32>(dst, load<f32>(row0 + <usize>c * ldbBytes + (<usize>p << 2)));
          dst += 4;
        }
      }
    } else {
      for (let p = 0; p < kc; p++) {
        for (let c = 0; c < NR; c++) {
          store<f32>(dst, j + c < n ? elemB(b, ldb, transB, p0 + p, j + c) : 0);
          dst += 4;
        }
      }
    }
  }
}

/**
 * Few rows of A (m < MR) with B not transposed, without packing (whose cost a handful of
 * rows would not repay). Each row of C is built in place over passes of `depth` rows of B
 * (8, 4 or 2: the plan's row candidate; then pairs and single rows for the rest of k):
 *   C_i,j..j+3 ← (((C_i,j..j+3 + a_p·B_p,j..j+3) + a_p+1·B_p+1,j..j+3) + a_p+2·…) + a_p+3·…
 * so B is read as `depth` contiguous row streams (stripes of columns down B's rows ran about
 * 15% slower on AMD family 26: each step lands on new cache lines) and the row of C stays in
 * L1 between passes. With `twoVectors` a pass of 4 rows updates C eight columns per loop
 * iteration (two independent chains of four multiply-adds; the last odd vector alone).
 * Every element is still summed over p in order, so the result equals the blocked kernel's
 * bit for bit whatever the depth; bias and ReLU follow the last pass.
 *
 * Tried at 1×784×800 on AMD family 26 and not kept (docs/performance.md): C held in 4, 8 or
 * 12 f32x4 registers over all of k (0.6-0.85× pass4: B's rows then stream as short stripes
 * far apart) or over blocks of 32-256 steps (about pass4's speed); passes of 4 rows with
 * three or four vectors per iteration, or of 5, 6 or 8 rows with two (0.73-0.98× pass4x2).
 */
function gemmRows(
  c: usize, a: usize, b: usize, bias: usize, m: i32, n: i32, k: i32,
  lda: i32, ldb: i32, ldc: i32, transA: bool, flags: i32, depth: i32, twoVectors: bool,
): void {
  const accumulate = (flags & GEMM_ACCUMULATE) != 0;
  const relu = (flags & GEMM_RELU) != 0;
  const ldbBytes = <usize>ldb << 2;
  const n4 = n & ~3;
  const vectorBytes = <usize>n4 << 2; // the columns the f32x4 loop covers, in bytes
  for (let i = 0; i < m; i++) {
    const ci = c + ((<usize>i * <usize>ldc) << 2);
    if (!accumulate) memory.fill(ci, 0, <usize>n << 2);
    let p = 0;
    if (depth >= 8) {
      for (; p + 8 <= k; p += 8) {
        const a0 = f32x4.splat(elemA(a, lda, transA, i, p));
        const a1 = f32x4.splat(elemA(a, lda, transA, i, p + 1));
        const a2 = f32x4.splat(elemA(a, lda, transA, i, p + 2));
        const a3 = f32x4.splat(elemA(a, lda, transA, i, p + 3));
        const a4 = f32x4.splat(elemA(a, lda, transA, i, p + 4));
        const a5 = f32x4.splat(elemA(a, lda, transA, i, p + 5));
        const a6 = f32x4.splat(elemA(a, lda, transA, i, p + 6));
        const a7 = f32x4.splat(elemA(a, lda, transA, i, p + 7));
        const b0 = b + <usize>p * ldbBytes;
        const b4 = b0 + 4 * ldbBytes;
        for (let j: usize = 0; j < vectorBytes; j += 16) {
          let acc = v128.load(ci + j);
          acc = madd(a0, v128.load(b0 + j), acc);
          acc = madd(a1, v128.load(b0 + ldbBytes + j), acc);
          acc = madd(a2, v128.load(b0 + 2 * ldbBytes + j), acc);
          acc = madd(a3, v128.load(b0 + 3 * ldbBytes + j), acc);
          acc = madd(a4, v128.load(b4 + j), acc);
          acc = madd(a5, v128.load(b4 + ldbBytes + j), acc);
          acc = madd(a6, v128.load(b4 + 2 * ldbBytes + j), acc);
          acc = madd(a7, v128.load(b4 + 3 * ldbBytes + j), acc);
          v128.store(ci + j, acc);
        }
        rowsTail(ci, a, b, lda, ldb, transA, i, p, 8, n4, n);
      }
    }
    if (depth == 4 && twoVectors) {
      const pairBytes = vectorBytes & ~(<usize>31); // the columns covered two vectors at a time
      for (; p + 4 <= k; p += 4) {
        const a0 = f32x4.splat(elemA(a, lda, transA, i, p));
        const a1 = f32x4.splat(elemA(a, lda, transA, i, p + 1));
        const a2 = f32x4.splat(elemA(a, lda, transA, i, p + 2));
        const a3 = f32x4.splat(elemA(a, lda, transA, i, p + 3));
        const b0 = b + <usize>p * ldbBytes;
        const b1 = b0 + ldbBytes;
        const b2 = b1 + ldbBytes;
        const b3 = b2 + ldbBytes;
        for (let j: usize = 0; j < pairBytes; j += 32) {
          let lo = v128.load(ci + j); // C_i,j..j+3
          let hi = v128.load(ci + j, 16); // C_i,j+4..j+7
          lo = madd(a0, v128.load(b0 + j), lo); hi = madd(a0, v128.load(b0 + j, 16), hi);
          lo = madd(a1, v128.load(b1 + j), lo); hi = madd(a1, v128.load(b1 + j, 16), hi);
          lo = madd(a2, v128.load(b2 + j), lo); hi = madd(a2, v128.load(b2 + j, 16), hi);
          lo = madd(a3, v128.load(b3 + j), lo); hi = madd(a3, v128.load(b3 + j, 16), hi);
          v128.store(ci + j, lo);
          v128.store(ci + j, hi, 16);
        }
        if (pairBytes < vectorBytes) {
          const j = pairBytes;
          passVector4(ci + j, a0, a1, a2, a3, b0 + j, b1 + j, b2 + j, b3 + j);
        }
        rowsTail(ci, a, b, lda, ldb, transA, i, p, 4, n4, n);
      }
    }
    if (depth >= 4) {
      for (; p + 4 <= k; p += 4) {
        const a0 = f32x4.splat(elemA(a, lda, transA, i, p));
        const a1 = f32x4.splat(elemA(a, lda, transA, i, p + 1));
        const a2 = f32x4.splat(elemA(a, lda, transA, i, p + 2));
        const a3 = f32x4.splat(elemA(a, lda, transA, i, p + 3));
        const b0 = b + <usize>p * ldbBytes;
        const b1 = b0 + ldbBytes;
        const b2 = b1 + ldbBytes;
        const b3 = b2 + ldbBytes;
        for (let j: usize = 0; j < vectorBytes; j += 16) passVector4(ci + j, a0, a1, a2, a3, b0 + j, b1 + j, b2 + j, b3 + j);
        rowsTail(ci, a, b, lda, ldb, transA, i, p, 4, n4, n);
      }
    }
    for (; p + 2 <= k; p += 2) {
      const a0 = f32x4.splat(elemA(a, lda, transA, i, p));
      const a1 = f32x4.splat(elemA(a, lda, transA, i, p + 1));
      const b0 = b + <usize>p * ldbBytes;
      const b1 = b0 + ldbBytes;
      for (let j: usize = 0; j < vectorBytes; j += 16) {
        let acc = v128.load(ci + j);
        acc = madd(a0, v128.load(b0 + j), acc);
        acc = madd(a1, v128.load(b1 + j), acc);
        v128.store(ci + j, acc);
      }
      rowsTail(ci, a, b, lda, ldb, transA, i, p, 2, n4, n);
    }
    for (; p < k; p++) {
      const ap = elemA(a, lda, transA, i, p);
      const av = f32x4.splat(ap);
      const bp = b + <usize>p * ldbBytes;
      for (let j: usize = 0; j < vectorBytes; j += 16) v128.store(ci + j, madd(av, v128.load(bp + j), v128.load(ci + j)));
      rowsTail(ci, a, b, lda, ldb, transA, i, p, 1, n4, n);
    }
    biasRelu(ci, bias, n, relu);
  }
}

/** gemmRows' columns n4..n-1 (past the last whole f32x4) of row i, over steps p .. p+steps-1. */
// @ts-ignore: decorator
@inline function rowsTail(
  ci: usize, a: usize, b: usize, lda: i32, ldb: i32, transA: bool, i: i32, p: i32, steps: i32, n4: i32, n: i32,
): void {
  for (let q = n4; q < n; q++) {
    const at = ci + (<usize>q << 2);
    let acc = load<f32>(at);
    for (let r = 0; r < steps; r++) acc += elemA(a, lda, transA, i, p + r) * elemB(b, ldb, false, p + r, q);
    store<f32>(at, acc);
  }
}

/**
 * Few rows of A (m < MR) against B stored (n, k), the dense forward at batch 1. Element
 * (i, j) is a dot product of two contiguous rows, but it must still be summed over p in
 * order, so the vectors run across j: rows j..j+7 of B (j..j+15 or j..j+3: the plan's row
 * candidate, `group`; the columns left over go one at a time) are read four p at a time and
 * multiplied by A_i,p..p+3 lane by lane, then the 4×4 blocks of products are transposed
 * in registers so that lane q holds row j+q's products and is added to its running sum
 * one p after another. A product is rounded alone either way (no FMA in this build), so
 * the bits equal the blocked kernel's; this replaces packing all of B for one row.
 */
function gemmRowsT(
  c: usize, a: usize, b: usize, bias: usize, m: i32, n: i32, k: i32,
  lda: i32, ldb: i32, ldc: i32, flags: i32, group: i32,
): void {
  const accumulate = (flags & GEMM_ACCUMULATE) != 0;
  const relu = (flags & GEMM_RELU) != 0;
  const ldbBytes = <usize>ldb << 2;
  const k4 = k & ~3;
  for (let i = 0; i < m; i++) {
    const ai = a + ((<usize>i * <usize>lda) << 2);
    const ci = c + ((<usize>i * <usize>ldc) << 2);
    let j = 0;
    if (group >= 16) {
      for (; j + 16 <= n; j += 16) {
        const cj = ci + (<usize>j << 2);
        let acc0 = accumulate ? v128.load(cj) : f32x4.splat(0); // C_i,j..j+3
        let acc1 = accumulate ? v128.load(cj, 16) : f32x4.splat(0);
        let acc2 = accumulate ? v128.load(cj, 32) : f32x4.splat(0);
        let acc3 = accumulate ? v128.load(cj, 48) : f32x4.splat(0); // C_i,j+12..j+15
        const row0 = b + <usize>j * ldbBytes;
        const row4 = row0 + 4 * ldbBytes;
        const row8 = row4 + 4 * ldbBytes;
        const row12 = row8 + 4 * ldbBytes;
        for (let p = 0; p < k4; p += 4) {
          const av = v128.load(ai + (<usize>p << 2));
          const at = <usize>p << 2;
          acc0 = addTransposed(acc0, av, row0 + at, ldbBytes);
          acc1 = addTransposed(acc1, av, row4 + at, ldbBytes);
          acc2 = addTransposed(acc2, av, row8 + at, ldbBytes);
          acc3 = addTransposed(acc3, av, row12 + at, ldbBytes);
        }
        for (let p = k4; p < k; p++) {
          const ap = f32x4.splat(load<f32>(ai + (<usize>p << 2)));
          const at = <usize>p << 2;
          acc0 = f32x4.add(acc0, f32x4.mul(ap, columnOf4(row0 + at, ldbBytes)));
          acc1 = f32x4.add(acc1, f32x4.mul(ap, columnOf4(row4 + at, ldbBytes)));
          acc2 = f32x4.add(acc2, f32x4.mul(ap, columnOf4(row8 + at, ldbBytes)));
          acc3 = f32x4.add(acc3, f32x4.mul(ap, columnOf4(row12 + at, ldbBytes)));
        }
        v128.store(cj, acc0);
        v128.store(cj, acc1, 16);
        v128.store(cj, acc2, 32);
        v128.store(cj, acc3, 48);
      }
    }
    if (group >= 8) {
      for (; j + 8 <= n; j += 8) {
        const cj = ci + (<usize>j << 2);
        let lo = accumulate ? v128.load(cj) : f32x4.splat(0); // C_i,j..j+3
        let hi = accumulate ? v128.load(cj, 16) : f32x4.splat(0); // C_i,j+4..j+7
        const row0 = b + <usize>j * ldbBytes;
        const row4 = row0 + 4 * ldbBytes;
        for (let p = 0; p < k4; p += 4) {
          const av = v128.load(ai + (<usize>p << 2));
          lo = addTransposed(lo, av, row0 + (<usize>p << 2), ldbBytes);
          hi = addTransposed(hi, av, row4 + (<usize>p << 2), ldbBytes);
        }
        for (let p = k4; p < k; p++) {
          const ap = f32x4.splat(load<f32>(ai + (<usize>p << 2)));
          lo = f32x4.add(lo, f32x4.mul(ap, columnOf4(row0 + (<usize>p << 2), ldbBytes)));
          hi = f32x4.add(hi, f32x4.mul(ap, columnOf4(row4 + (<usize>p << 2), ldbBytes)));
        }
        v128.store(cj, lo);
        v128.store(cj, hi, 16);
      }
    }
    if (group == 4) {
      for (; j + 4 <= n; j += 4) {
        const cj = ci + (<usize>j << 2);
        let acc = accumulate ? v128.load(cj) : f32x4.splat(0); // C_i,j..j+3
        const row0 = b + <usize>j * ldbBytes;
        for (let p = 0; p < k4; p += 4) acc = addTransposed(acc, v128.load(ai + (<usize>p << 2)), row0 + (<usize>p << 2), ldbBytes);
        for (let p = k4; p < k; p++) {
          const ap = f32x4.splat(load<f32>(ai + (<usize>p << 2)));
          acc = f32x4.add(acc, f32x4.mul(ap, columnOf4(row0 + (<usize>p << 2), ldbBytes)));
        }
        v128.store(cj, acc);
      }
    }
    for (; j < n; j++) {
      const cj = ci + (<usize>j << 2);
      const row = b + <usize>j * ldbBytes;
      let acc: f32 = accumulate ? load<f32>(cj) : 0;
      for (let p = 0; p < k; p++) acc += load<f32>(ai + (<usize>p << 2)) * load<f32>(row + (<usize>p << 2));
      store<f32>(cj, acc);
    }
    biasRelu(ci, bias, n, relu);
  }
}

/**
 * acc + products of four p, in p order: rows r = 0..3 at row0 + r·stride hold B_j+r,p..p+3;
 * each is multiplied by av (A_p..p+3), and the 4×4 block of products is transposed so that
 * vector t holds the products of step p+t for the four rows.
 */
// @ts-ignore: decorator
@inline function addTransposed(acc: v128, av: v128, row0: usize, stride: usize): v128 {
  const p0 = f32x4.mul(v128.load(row0), av);
  const p1 = f32x4.mul(v128.load(row0 + stride), av);
  const p2 = f32x4.mul(v128.load(row0 + 2 * stride), av);
  const p3 = f32x4.mul(v128.load(row0 + 3 * stride), av);
  const x = i32x4.shuffle(p0, p1, 0, 4, 1, 5); // p0[0] p1[0] p0[1] p1[1]
  const y = i32x4.shuffle(p0, p1, 2, 6, 3, 7); // p0[2] p1[2] p0[3] p1[3]
  const z = i32x4.shuffle(p2, p3, 0, 4, 1, 5);
  const w = i32x4.shuffle(p2, p3, 2, 6, 3, 7);
  acc = f32x4.add(acc, i32x4.shuffle(x, z, 0, 1, 4, 5)); // step p
  acc = f32x4.add(acc, i32x4.shuffle(x, z, 2, 3, 6, 7)); // step p+1
  acc = f32x4.add(acc, i32x4.shuffle(y, w, 0, 1, 4, 5)); // step p+2
  return f32x4.add(acc, i32x4.shuffle(y, w, 2, 3, 6, 7)); // step p+3
}

/** (B_0, B_stride, B_2·stride, B_3·stride): one value from each of four rows. */
// @ts-ignore: decorator
@inline function columnOf4(at: usize, stride: usize): v128 {
  let v = f32x4.splat(load<f32>(at));
  v = f32x4.replace_lane(v, 1, load<f32>(at + stride));
  v = f32x4.replace_lane(v, 2, load<f32>(at + 2 * stride));
  return f32x4.replace_lane(v, 3, load<f32>(at + 3 * stride));
}

/** Row (n) of C ← relu(C + bias), per element, the last step of every form. */
// @ts-ignore: decorator
@inline function biasRelu(row: usize, bias: usize, n: i32, relu: bool): void {
  if (bias == 0 && !relu) return;
  for (let q = 0; q < n; q++) {
    const at = row + (<usize>q << 2);
    let v = load<f32>(at);
    if (bias) v += load<f32>(bias + (<usize>q << 2));
    if (relu) v = max<f32>(v, 0);
    store<f32>(at, v);
  }
}

// ================================================================ pre-packed B for a few rows
//
// Inference on one to three rows reads every weight once per row, so its speed is the
// speed of streaming B from cache. Stored row-major, a block of columns is a short run in
// each of k rows far apart; repacked once into column panels of PANEL columns, each panel
// is one contiguous (k, PANEL) run that the hardware prefetcher follows. The panels are
// what a model caches for small-batch inference while its weights do not change.
//
//   panels: ceil(n / PANEL) panels, panel q holding op(B)[0 .. k-1, q·PANEL .. q·PANEL+PANEL-1]
//           row by row (k rows of PANEL floats), zero past column n.

export const PANEL: i32 = 16;

/** Floats in the panel layout of a (k, n) matrix: ceil(n / PANEL)·PANEL·k. */
export function panels_length(k: i32, n: i32): i32 {
  return (n + PANEL - 1) / PANEL * PANEL * k;
}

/**
 * Packs op(B) (k, n) into panels at dst (panels_length(k, n) floats). B is (k, ldb ≥ n),
 * or with transB (n, ldb ≥ k), the layout of a dense layer's weight (outputs, inputs).
 */
export function pack_panels(dst: usize, b: usize, ldb: i32, transB: i32, k: i32, n: i32): void {
  for (let j0 = 0; j0 < n; j0 += PANEL) {
    for (let p = 0; p < k; p++) {
      for (let c = 0; c < PANEL; c++) {
        const j = j0 + c;
        store<f32>(dst, j < n ? elemB(b, ldb, transB != 0, p, j) : 0);
        dst += 4;
      }
    }
  }
}

/**
 * C(m,n) = A(m,k)·B (+ bias)(relu) with B given as panels (pack_panels). For each panel and
 * row, 16 columns are summed over p in order in four f32x4 accumulators (two, one or four
 * p per loop iteration: the plan's panels candidate), so the result equals gemm_nn /
 * gemm_nt on the unpacked B bit for bit.
 * Meant for m < 4. (Eight accumulators over 32-column panels ran a third slower in V8.)
 */
export function gemm_panels(c: usize, a: usize, panels: usize, bias: usize, m: i32, n: i32, k: i32,
  lda: i32, ldc: i32, flags: i32): void {
  assert(m > 0 && n > 0 && k > 0 && lda >= k && ldc >= n, "gemm_panels: bad dimensions");
  const accumulate = (flags & GEMM_ACCUMULATE) != 0;
  const relu = (flags & GEMM_RELU) != 0;
  const tile = scratch_base(); // PANEL floats for a partial last panel
  const pick = planOf(GEMM_FORM_PANELS, GEMM_CLASS_ROW);
  const steps = pick == 1 ? 1 : pick == 2 ? 4 : 2; // steps of p per loop iteration
  const panelBytes = (<usize>k * <usize>PANEL) << 2;
  for (let j0 = 0; j0 < n; j0 += PANEL) {
    const width = min(PANEL, n - j0);
    const pb0 = panels + <usize>(j0 / PANEL) * panelBytes;
    for (let i = 0; i < m; i++) {
      const ai = a + ((<usize>i * <usize>lda) << 2);
      const cij = c + ((<usize>i * <usize>ldc + <usize>j0) << 2);
      // The accumulators start from C (or 0) through the tile when the panel is partial.
      let out = cij;
      if (width < PANEL) {
        for (let q = 0; q < PANEL; q++) {
          store<f32>(tile + (<usize>q << 2), accumulate && q < width ? load<f32>(cij + (<usize>q << 2)) : 0);
        }
        out = tile;
      }
      const zero = f32x4.splat(0);
      const start = accumulate || width < PANEL;
      let acc0 = start ? v128.load(out) : zero, acc1 = start ? v128.load(out, 16) : zero;
      let acc2 = start ? v128.load(out, 32) : zero, acc3 = start ? v128.load(out, 48) : zero;
      let pb = pb0;
      let p = 0;
      if (steps == 4) {
        for (; p + 4 <= k; p += 4) {
          const a0 = v128.load32_splat(ai + (<usize>p << 2));
          const a1 = v128.load32_splat(ai + (<usize>p << 2), 4);
          const a2 = v128.load32_splat(ai + (<usize>p << 2), 8);
          const a3 = v128.load32_splat(ai + (<usize>p << 2), 12);
          acc0 = madd(a0, v128.load(pb), acc0); acc1 = madd(a0, v128.load(pb, 16), acc1);
          acc2 = madd(a0, v128.load(pb, 32), acc2); acc3 = madd(a0, v128.load(pb, 48), acc3);
          acc0 = madd(a1, v128.load(pb, 64), acc0); acc1 = madd(a1, v128.load(pb, 80), acc1);
          acc2 = madd(a1, v128.load(pb, 96), acc2); acc3 = madd(a1, v128.load(pb, 112), acc3);
          acc0 = madd(a2, v128.load(pb, 128), acc0); acc1 = madd(a2, v128.load(pb, 144), acc1);
          acc2 = madd(a2, v128.load(pb, 160), acc2); acc3 = madd(a2, v128.load(pb, 176), acc3);
          acc0 = madd(a3, v128.load(pb, 192), acc0); acc1 = madd(a3, v128.load(pb, 208), acc1);
          acc2 = madd(a3, v128.load(pb, 224), acc2); acc3 = madd(a3, v128.load(pb, 240), acc3);
          pb += <usize>PANEL << 4;
        }
      }
      if (steps >= 2) for (; p + 2 <= k; p += 2) {
        const av = v128.load32_splat(ai + (<usize>p << 2));
        const bv = v128.load32_splat(ai + (<usize>p << 2), 4);
        acc0 = madd(av, v128.load(pb), acc0); acc1 = madd(av, v128.load(pb, 16), acc1);
        acc2 = madd(av, v128.load(pb, 32), acc2); acc3 = madd(av, v128.load(pb, 48), acc3);
        acc0 = madd(bv, v128.load(pb, 64), acc0); acc1 = madd(bv, v128.load(pb, 80), acc1);
        acc2 = madd(bv, v128.load(pb, 96), acc2); acc3 = madd(bv, v128.load(pb, 112), acc3);
        pb += <usize>PANEL << 3;
      }
      for (; p < k; p++) {
        const av = v128.load32_splat(ai + (<usize>p << 2));
        acc0 = madd(av, v128.load(pb), acc0); acc1 = madd(av, v128.load(pb, 16), acc1);
        acc2 = madd(av, v128.load(pb, 32), acc2); acc3 = madd(av, v128.load(pb, 48), acc3);
        pb += <usize>PANEL << 2;
      }
      v128.store(out, acc0); v128.store(out, acc1, 16); v128.store(out, acc2, 32); v128.store(out, acc3, 48);
      // Bias and ReLU last, per element, as in every other form.
      for (let q = 0; q < width; q++) {
        const at = out + (<usize>q << 2);
        let v = load<f32>(at);
        if (bias) v += load<f32>(bias + (<usize>(j0 + q) << 2));
        if (relu) v = max<f32>(v, 0);
        store<f32>(cij + (<usize>q << 2), v);
      }
    }
  }
}

/** gemm_panels as a plain triple loop over the panel layout. */
export function gemm_panels_ref(c: usize, a: usize, panels: usize, bias: usize, m: i32, n: i32, k: i32,
  lda: i32, ldc: i32, flags: i32): void {
  assert(m > 0 && n > 0 && k > 0 && lda >= k && ldc >= n, "gemm_panels: bad dimensions");
  const accumulate = (flags & GEMM_ACCUMULATE) != 0;
  const relu = (flags & GEMM_RELU) != 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      const cij = c + ((<usize>i * <usize>ldc + <usize>j) << 2);
      const panel = panels + ((<usize>(j / PANEL) * <usize>k * <usize>PANEL) << 2);
      let acc: f32 = accumulate ? load<f32>(cij) : 0;
      for (let p = 0; p < k; p++) {
        acc += load<f32>(a + ((<usize>i * <usize>lda + <usize>p) << 2)) *
          load<f32>(panel + ((<usize>p * <usize>PANEL + <usize>(j % PANEL)) << 2));
      }
      if (bias) acc += load<f32>(bias + (<usize>j << 2));
      if (relu) acc = max<f32>(acc, 0);
      store<f32>(cij, acc);
    }
  }
}

// ================================================================ narrow C (n < 16)
//
// With few columns (a classifier's 10 logits) the 4×8 tile wastes most of its second
// vector. Here the vectors run down the rows instead: an 8×4 tile of C is eight f32x4
// accumulators, each holding 4 rows of one column; per step p it loads two 4-row vectors
// of packed A and splats four values of B. Every element is still summed over p in order.
// (An 8×5 tile, exact for n = 10, ran at two thirds of the speed: V8 spills ten accumulators.)

const NW: i32 = 4; // columns per narrow tile
const KN: i32 = 1024; // the deepest narrow block (the plan picks 1024 or 256)

/**
 * Packs op(B)[p0 .. p0+kc, 0 .. n-1] into groups of NW columns (kc rows of NW), zero past n.
 * A whole group is one vector per row of B, or with transB four rows of memory read as
 * 4×4 blocks transposed in registers.
 */
function packBNarrow(dst: usize, b: usize, ldb: i32, transB: bool, n: i32, p0: i32, kc: i32): void {
  const ldbBytes = <usize>ldb << 2;
  for (let j0 = 0; j0 < n; j0 += NW) {
    let p = 0;
    if (transB && j0 + NW <= n) {
      const row0 = b + ((<usize>j0 * <usize>ldb + <usize>p0) << 2);
      for (; p + 4 <= kc; p += 4) {
        transposeStore4x4(dst, row0 + (<usize>p << 2), ldbBytes, 16);
        dst += 64;
      }
    } else if (!transB && j0 + NW <= n) {
      let src = b + ((<usize>p0 * <usize>ldb + <usize>j0) << 2);
      for (; p < kc; p++) {
        v128.store(dst, v128.load(src)); // the group's four values of row p
        src += ldbBytes;
        dst += 16;
      }
    }
    for (; p < kc; p++) {
      for (let q = 0; q < NW; q++) {
        store<f32>(dst, j0 + q < n ? elemB(b, ldb, transB, p0 + p, j0 + q) : 0);
        dst += 4;
      }
    }
  }
}

/**
 * tile (NW columns of 8 floats, column-major) ← tile + A panel pair · B group, over kc steps.
 * pa0 / pa1: rows 0-3 / 4-7 of the tile (kc groups of 4); pb: kc groups of NW.
 */
// @ts-ignore: decorator
@inline function microKernel8x4(tile: usize, pa0: usize, pa1: usize, pb: usize, kc: i32): void {
  let c0a = v128.load(tile), c0b = v128.load(tile, 16);
  let c1a = v128.load(tile, 32), c1b = v128.load(tile, 48);
  let c2a = v128.load(tile, 64), c2b = v128.load(tile, 80);
  let c3a = v128.load(tile, 96), c3b = v128.load(tile, 112);
  for (let p = 0; p < kc; p++) {
    const a0 = v128.load(pa0);
    const a1 = v128.load(pa1);
    const b0 = v128.load32_splat(pb);
    c0a = madd(a0, b0, c0a); c0b = madd(a1, b0, c0b);
    const b1 = v128.load32_splat(pb, 4);
    c1a = madd(a0, b1, c1a); c1b = madd(a1, b1, c1b);
    const b2 = v128.load32_splat(pb, 8);
    c2a = madd(a0, b2, c2a); c2b = madd(a1, b2, c2b);
    const b3 = v128.load32_splat(pb, 12);
    c3a = madd(a0, b3, c3a); c3b = madd(a1, b3, c3b);
    pa0 += 16;
    pa1 += 16;
    pb += <usize>NW << 2;
  }
  v128.store(tile, c0a); v128.store(tile, c0b, 16);
  v128.store(tile, c1a, 32); v128.store(tile, c1b, 48);
  v128.store(tile, c2a, 64); v128.store(tile, c2b, 80);
  v128.store(tile, c3a, 96); v128.store(tile, c3b, 112);
}

/** microKernel8x4 for the last group when it has one or two columns: four accumulators. */
// @ts-ignore: decorator
@inline function microKernel8x2(tile: usize, pa0: usize, pa1: usize, pb: usize, kc: i32): void {
  let c0a = v128.load(tile), c0b = v128.load(tile, 16);
  let c1a = v128.load(tile, 32), c1b = v128.load(tile, 48);
  for (let p = 0; p < kc; p++) {
    const a0 = v128.load(pa0);
    const a1 = v128.load(pa1);
    const b0 = v128.load32_splat(pb);
    c0a = madd(a0, b0, c0a); c0b = madd(a1, b0, c0b);
    const b1 = v128.load32_splat(pb, 4);
    c1a = madd(a0, b1, c1a); c1b = madd(a1, b1, c1b);
    pa0 += 16;
    pa1 += 16;
    pb += <usize>NW << 2;
  }
  v128.store(tile, c0a); v128.store(tile, c0b, 16);
  v128.store(tile, c1a, 32); v128.store(tile, c1b, 48);
}

/**
 * The narrow driver. B's few columns fit the scratch whole, so blocks are deep (kn ≤ KN steps)
 * and every 16 rows of A are packed once per block: a tile is gathered from and scattered
 * to C once per kn steps instead of once per KC.
 */
function gemmNarrow(
  c: usize, a: usize, b: usize, bias: usize, m: i32, n: i32, k: i32,
  lda: i32, ldb: i32, ldc: i32, transA: bool, transB: bool, flags: i32, kn: i32,
): void {
  const packedA = scratch_base(); // 16 rows × KN: 64 KiB
  const packedB = packedA + PACK_A_BYTES; // ≤ 4 groups × KN × NW: 64 KiB
  const tile = packedB + PACK_B_BYTES; // 8·NW floats, column-major
  const accumulate = (flags & GEMM_ACCUMULATE) != 0;
  const relu = (flags & GEMM_RELU) != 0;
  const ldcBytes = <usize>ldc << 2;
  for (let pc = 0; pc < k; pc += kn) {
    const kc = min(kn, k - pc);
    const loadC = accumulate || pc > 0;
    const lastK = pc + kc == k;
    packBNarrow(packedB, b, ldb, transB, n, pc, kc);
    for (let i0 = 0; i0 < m; i0 += 16) {
      // 16 rows per packing: a transposed A then yields whole 64-byte lines per step.
      packA(packedA, a, lda, transA, m, i0, 16, pc, kc); // rows past m are zero
      for (let half = 0; half < 2; half++) {
        const i = i0 + half * 8;
        if (i >= m) break;
        const mr = min(8, m - i);
        const pa0 = packedA + (<usize>(half * 8) * <usize>kc << 2);
        const pa1 = pa0 + (<usize>kc << 4);
        for (let j = 0; j < n; j += NW) {
          const nr = min(NW, n - j);
          const cij = c + ((<usize>i * <usize>ldc + <usize>j) << 2);
          for (let q = 0; q < NW; q++) {
            for (let r = 0; r < 8; r++) {
              const v: f32 = loadC && r < mr && q < nr ? load<f32>(cij + <usize>r * ldcBytes + (<usize>q << 2)) : 0;
              store<f32>(tile + (<usize>(q * 8 + r) << 2), v);
            }
          }
          const pb = packedB + (<usize>(j / NW) * <usize>kc * <usize>NW << 2);
          if (nr <= 2) microKernel8x2(tile, pa0, pa1, pb, kc);
          else microKernel8x4(tile, pa0, pa1, pb, kc);
          for (let q = 0; q < nr; q++) {
            const biasQ: f32 = lastK && bias != 0 ? load<f32>(bias + (<usize>(j + q) << 2)) : 0;
            for (let r = 0; r < mr; r++) {
              let v = load<f32>(tile + (<usize>(q * 8 + r) << 2));
              if (lastK && bias != 0) v += biasQ;
              if (lastK && relu) v = max<f32>(v, 0);
              store<f32>(cij + <usize>r * ldcBytes + (<usize>q << 2), v);
            }
          }
        }
      }
    }
  }
}

/** The form's entry: picks the shape class, then runs the plan's candidate for it. */
function gemmPlanned(
  c: usize, a: usize, b: usize, bias: usize, m: i32, n: i32, k: i32,
  lda: i32, ldb: i32, ldc: i32, transA: bool, transB: bool, flags: i32, form: i32,
): void {
  if (m < MR && !transB) {
    // 0: passes over 4 rows of B, two vectors of C per step; 1: 4 rows, one vector; 2: 2 rows; 3: 8 rows
    const row = planOf(form, GEMM_CLASS_ROW);
    gemmRows(c, a, b, bias, m, n, k, lda, ldb, ldc, transA, flags, row == 2 ? 2 : row == 3 ? 8 : 4, row == 0);
    return;
  }
  if (m < MR && transB && !transA && !ASC_FEATURE_RELAXED_SIMD) {
    const group = planOf(form, GEMM_CLASS_ROW); // 0: 8 rows of B per group, 1: 4, 2: 16
    gemmRowsT(c, a, b, bias, m, n, k, lda, ldb, ldc, flags, group == 1 ? 4 : group == 2 ? 16 : 8);
    return;
  }
  if (n < 2 * NR && m >= 8) {
    const narrow = planOf(form, GEMM_CLASS_NARROW); // 0: blocks 1024 deep, 1: 256, 2: 4×8 tiles
    if (narrow != 2) {
      gemmNarrow(c, a, b, bias, m, n, k, lda, ldb, ldc, transA, transB, flags, narrow == 1 ? 256 : KN);
      return;
    }
  }
  const large = planOf(form, GEMM_CLASS_LARGE);
  if (large == 0) gemmBlockedDefault(c, a, b, bias, m, n, k, lda, ldb, ldc, transA, transB, flags);
  else gemmBlockedCandidate(c, a, b, bias, m, n, k, lda, ldb, ldc, transA, transB, flags, large);
}

/**
 * Large candidate 0 (64×256×256, B panel in L1, one step of p per iteration) compiled with
 * its constants: the loop nest of a run-time candidate measured 0.83× the speed of this one
 * in V8 (the block sizes and the micro-kernel's two loops left as variables).
 */
function gemmBlockedDefault(
  c: usize, a: usize, b: usize, bias: usize, m: i32, n: i32, k: i32,
  lda: i32, ldb: i32, ldc: i32, transA: bool, transB: bool, flags: i32,
): void {
  gemmBlocked(c, a, b, bias, m, n, k, lda, ldb, ldc, transA, transB, flags, 64, 256, 256, false, false);
}

/** The other large candidates (1-4, gemm-plan.ts), their blocking read at run time. */
function gemmBlockedCandidate(
  c: usize, a: usize, b: usize, bias: usize, m: i32, n: i32, k: i32,
  lda: i32, ldb: i32, ldc: i32, transA: bool, transB: bool, flags: i32, plan: i32,
): void {
  const MC = plan == 1 ? 128 : plan == 4 ? 32 : 64;
  const KC = plan == 1 ? 128 : plan == 4 ? 512 : 256;
  const NC = plan == 1 ? 512 : plan == 4 ? 128 : 256;
  gemmBlocked(c, a, b, bias, m, n, k, lda, ldb, ldc, transA, transB, flags, MC, KC, NC, plan == 2, plan >= 3);
}

/**
 * The blocked driver shared by the three forms and the large candidates (gemm-plan.ts):
 * MC×KC×NC blocks, the 4×8 tile walking down A's panels under one B panel or (acrossB)
 * across B's panels under one A panel, the micro-kernel taking one or (pairs) two steps of
 * p per iteration. Inlined into each caller so that constant arguments fold away.
 */
// @ts-ignore: decorator
@inline function gemmBlocked(
  c: usize, a: usize, b: usize, bias: usize, m: i32, n: i32, k: i32,
  lda: i32, ldb: i32, ldc: i32, transA: bool, transB: bool, flags: i32,
  MC: i32, KC: i32, NC: i32, acrossB: bool, pairs: bool,
): void {
  const packedA = scratch_base();
  const packedB = packedA + PACK_A_BYTES;
  const tile = packedB + PACK_B_BYTES;
  const biasTile = tile + TILE_BYTES;
  const accumulate = (flags & GEMM_ACCUMULATE) != 0;
  const relu = (flags & GEMM_RELU) != 0;
  for (let jc = 0; jc < n; jc += NC) {
    const nc = min(NC, n - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = min(KC, k - pc);
      const firstK = pc == 0;
      const lastK = pc + kc == k;
      const loadC = accumulate || !firstK;
      const tileBias = lastK ? bias : 0;
      const tileRelu = lastK && relu;
      packB(packedB, b, ldb, transB, n, jc, nc, pc, kc);
      for (let ic = 0; ic < m; ic += MC) {
        const mc = min(MC, m - ic);
        packA(packedA, a, lda, transA, m, ic, mc, pc, kc);
        if (acrossB) {
          for (let ir = 0; ir < mc; ir += MR) {
            const pa = packedA + (<usize>ir * <usize>kc << 2);
            for (let jr = 0; jr < nc; jr += NR) {
              const pb = packedB + (<usize>jr * <usize>kc << 2);
              blockTile(c, ldc, tile, biasTile, pa, pb, ic + ir, jc + jr, m, n, kc, loadC, tileBias, tileRelu, pairs);
            }
          }
        } else {
          for (let jr = 0; jr < nc; jr += NR) {
            const pb = packedB + (<usize>jr * <usize>kc << 2);
            for (let ir = 0; ir < mc; ir += MR) {
              const pa = packedA + (<usize>ir * <usize>kc << 2);
              blockTile(c, ldc, tile, biasTile, pa, pb, ic + ir, jc + jr, m, n, kc, loadC, tileBias, tileRelu, pairs);
            }
          }
        }
      }
    }
  }
}

/**
 * One 4×8 tile of C at (i, j) from packed panels pa, pb over kc steps; bias (0: none) and
 * relu only on the last block of k. An edge tile runs the full kernel on a zero-padded copy
 * and writes back the valid part.
 */
// @ts-ignore: decorator
@inline function blockTile(
  c: usize, ldc: i32, tile: usize, biasTile: usize, pa: usize, pb: usize, i: i32, j: i32, m: i32, n: i32,
  kc: i32, loadC: bool, bias: usize, relu: bool, pairs: bool,
): void {
  const ldcBytes = <usize>ldc << 2;
  const mr = min(MR, m - i);
  const nr = min(NR, n - j);
  const cij = c + ((<usize>i * <usize>ldc + <usize>j) << 2);
  if (mr == MR && nr == NR) {
    microKernel4x8(cij, ldcBytes, pa, pb, kc, loadC, bias != 0 ? bias + (<usize>j << 2) : 0, relu, pairs);
    return;
  }
  for (let r = 0; r < MR; r++) {
    for (let q = 0; q < NR; q++) {
      const v: f32 = loadC && r < mr && q < nr ? load<f32>(cij + <usize>r * ldcBytes + (<usize>q << 2)) : 0;
      store<f32>(tile + (<usize>(r * NR + q) << 2), v);
    }
  }
  if (bias != 0) {
    for (let q = 0; q < NR; q++) {
      store<f32>(biasTile + (<usize>q << 2), q < nr ? load<f32>(bias + (<usize>(j + q) << 2)) : 0);
    }
  }
  microKernel4x8(tile, <usize>NR << 2, pa, pb, kc, loadC, bias != 0 ? biasTile : 0, relu, pairs);
  for (let r = 0; r < mr; r++) {
    for (let q = 0; q < nr; q++) {
      store<f32>(cij + <usize>r * ldcBytes + (<usize>q << 2), load<f32>(tile + (<usize>(r * NR + q) << 2)));
    }
  }
}

/**
 * The plain triple loop: the definition the blocked kernel must reproduce bit for bit
 * (in the relaxed build the blocked kernel fuses multiply-add and only agrees to rounding).
 */
function gemmReference(
  c: usize, a: usize, b: usize, bias: usize, m: i32, n: i32, k: i32,
  lda: i32, ldb: i32, ldc: i32, transA: bool, transB: bool, flags: i32,
): void {
  const accumulate = (flags & GEMM_ACCUMULATE) != 0;
  const relu = (flags & GEMM_RELU) != 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      const cij = c + ((<usize>i * <usize>ldc + <usize>j) << 2);
      let acc: f32 = accumulate ? load<f32>(cij) : 0;
      for (let p = 0; p < k; p++) {
        acc += elemA(a, lda, transA, i, p) * elemB(b, ldb, transB, p, j);
      }
      if (bias) acc += load<f32>(bias + (<usize>j << 2));
      if (relu) acc = max<f32>(acc, 0);
      store<f32>(cij, acc);
    }
  }
}

// @ts-ignore: decorator
@inline function checkArgs(c: usize, a: usize, b: usize, m: i32, n: i32, k: i32, lda: i32, ldb: i32, ldc: i32,
  minLda: i32, minLdb: i32): void {
  assert(m > 0 && n > 0 && k > 0, "gemm: m, n, k must be positive");
  assert(c != 0 && a != 0 && b != 0, "gemm: null pointer");
  assert(((c | a | b) & 3) == 0, "gemm: pointers must be 4-byte aligned");
  assert(lda >= minLda && ldb >= minLdb && ldc >= n, "gemm: leading dimension too small");
}

// ================================================================ exported kernels

/** C(m,n) = A(m,k)·B(k,n) (+ bias)(relu); see the file comment for flags. */
export function gemm_nn(c: usize, a: usize, b: usize, bias: usize, m: i32, n: i32, k: i32,
  lda: i32, ldb: i32, ldc: i32, flags: i32): void {
  checkArgs(c, a, b, m, n, k, lda, ldb, ldc, k, n);
  gemmPlanned(c, a, b, bias, m, n, k, lda, ldb, ldc, false, false, flags, GEMM_FORM_NN);
}

export function gemm_nn_ref(c: usize, a: usize, b: usize, bias: usize, m: i32, n: i32, k: i32,
  lda: i32, ldb: i32, ldc: i32, flags: i32): void {
  checkArgs(c, a, b, m, n, k, lda, ldb, ldc, k, n);
  gemmReference(c, a, b, bias, m, n, k, lda, ldb, ldc, false, false, flags);
}

/** C(m,n) = A(m,k)·B(n,k)ᵀ (+ bias)(relu): the dense forward y = x·wᵀ + b. */
export function gemm_nt(c: usize, a: usize, b: usize, bias: usize, m: i32, n: i32, k: i32,
  lda: i32, ldb: i32, ldc: i32, flags: i32): void {
  checkArgs(c, a, b, m, n, k, lda, ldb, ldc, k, k);
  gemmPlanned(c, a, b, bias, m, n, k, lda, ldb, ldc, false, true, flags, GEMM_FORM_NT);
}

export function gemm_nt_ref(c: usize, a: usize, b: usize, bias: usize, m: i32, n: i32, k: i32,
  lda: i32, ldb: i32, ldc: i32, flags: i32): void {
  checkArgs(c, a, b, m, n, k, lda, ldb, ldc, k, k);
  gemmReference(c, a, b, bias, m, n, k, lda, ldb, ldc, false, true, flags);
}

/** C(m,n) = A(k,m)ᵀ·B(k,n) (+ bias)(relu): the weight gradient dw = dyᵀ·x. */
export function gemm_tn(c: usize, a: usize, b: usize, bias: usize, m: i32, n: i32, k: i32,
  lda: i32, ldb: i32, ldc: i32, flags: i32): void {
  checkArgs(c, a, b, m, n, k, lda, ldb, ldc, m, n);
  gemmPlanned(c, a, b, bias, m, n, k, lda, ldb, ldc, true, false, flags, GEMM_FORM_TN);
}

export function gemm_tn_ref(c: usize, a: usize, b: usize, bias: usize, m: i32, n: i32, k: i32,
  lda: i32, ldb: i32, ldc: i32, flags: i32): void {
  checkArgs(c, a, b, m, n, k, lda, ldb, ldc, m, n);
  gemmReference(c, a, b, bias, m, n, k, lda, ldb, ldc, true, false, flags);
}
