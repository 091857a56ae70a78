// Token embeddings, as PyTorch's F.embedding and F.embedding_bag(mode = "mean"):
//
//   ids is (rows, seqLen) f32        token ids, integers in [0, vocab), exact in f32
//                                    (the TypeScript layer checks them before any call)
//   w, dw are (vocab, dim)           the embedding table (PyTorch's `weight`) and its gradient
//   embedding:   y, dy are (rows, seqLen, dim)    y[r, t, :] = w[ids[r, t], :]
//   bag (mean):  y, dy are (rows, dim)            y[r, :] = Σ w[id, :] / count over the
//                                                 ids of row r that are not paddingIdx
//
// paddingIdx is a token id or −1 for none. As in PyTorch, the embedding's forward returns
// the padding row like any other, and its backward gives that row no gradient; the bag
// leaves padding out of both the sum and the count, and a row of padding only is zeros.
//
// The weight gradient is a scatter-add, so its order is fixed here and shared by the fast
// and `_ref` kernels: dw is zeroed, then rows r = 0, 1, … and, within a row, positions
// t = 0, 1, … are visited in order, each non-padding token adding its gradient row to
// dw[id, :] one element at a time (embedding: dy[r, t, j]; bag: dy[r, j] / count, an f32
// division). Every element of dw thus sums its terms in (r, t) order whatever the lane
// arrangement: the SIMD kernels (four columns at a time, then the tail one by one) and the
// twins agree bit for bit. The bag's forward sums its rows in t order too, then divides
// by the count. Backward kernels overwrite dw.

// @ts-ignore: decorator
@inline function checkDims(rows: i32, seqLen: i32, dim: i32): void {
  assert(rows > 0 && seqLen > 0 && dim > 0, "embedding: dimensions must be positive");
}

// @ts-ignore: decorator
@inline function tokenAt(ids: usize, i: i32): i32 {
  return <i32>load<f32>(ids + (<usize>i << 2));
}

// @ts-ignore: decorator
@inline function rowOf(p: usize, i: i32, dim: i32): usize {
  return p + ((<usize>i * <usize>dim) << 2);
}

/** The non-padding tokens of row r. */
// @ts-ignore: decorator
@inline function countTokens(ids: usize, r: i32, seqLen: i32, paddingIdx: i32): i32 {
  let count = 0;
  for (let t = 0; t < seqLen; t++) if (tokenAt(ids, r * seqLen + t) != paddingIdx) count++;
  return count;
}

/** dst[0..dim) = src[0..dim). */
// @ts-ignore: decorator
@inline function copyRow(dst: usize, src: usize, dim: i32): void {
  let j = 0;
  for (; j + 4 <= dim; j += 4) v128.store(dst + (<usize>j << 2), v128.load(src + (<usize>j << 2)));
  for (; j < dim; j++) store<f32>(dst + (<usize>j << 2), load<f32>(src + (<usize>j << 2)));
}

/** dst[0..dim) += src[0..dim). */
// @ts-ignore: decorator
@inline function addRow(dst: usize, src: usize, dim: i32): void {
  let j = 0;
  for (; j + 4 <= dim; j += 4) {
    const o = <usize>j << 2;
    v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
  }
  for (; j < dim; j++) {
    const o = <usize>j << 2;
    store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
  }
}

/** dst[0..dim) += src[0..dim) / count. */
// @ts-ignore: decorator
@inline function addRowDivided(dst: usize, src: usize, count: f32, dim: i32): void {
  const cv = f32x4.splat(count);
  let j = 0;
  for (; j + 4 <= dim; j += 4) {
    const o = <usize>j << 2;
    v128.store(dst + o, f32x4.add(v128.load(dst + o), f32x4.div(v128.load(src + o), cv)));
  }
  for (; j < dim; j++) {
    const o = <usize>j << 2;
    store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o) / count);
  }
}

/** dst[0..dim) /= count. */
// @ts-ignore: decorator
@inline function divideRow(dst: usize, count: f32, dim: i32): void {
  const cv = f32x4.splat(count);
  let j = 0;
  for (; j + 4 <= dim; j += 4) {
    const o = <usize>j << 2;
    v128.store(dst + o, f32x4.div(v128.load(dst + o), cv));
  }
  for (; j < dim; j++) {
    const o = <usize>j << 2;
    store<f32>(dst + o, load<f32>(dst + o) / count);
  }
}

// @ts-ignore: decorator
@inline function zeroFloats(p: usize, n: i32): void {
  memory.fill(p, 0, <usize>n << 2);
}

// ================================================================ embedding

/** y (rows, seqLen, dim) = w[ids]: overwrites y. */
export function embedding_forward(y: usize, ids: usize, w: usize, rows: i32, seqLen: i32, dim: i32): void {
  checkDims(rows, seqLen, dim);
  const n = rows * seqLen;
  for (let i = 0; i < n; i++) copyRow(rowOf(y, i, dim), rowOf(w, tokenAt(ids, i), dim), dim);
}

export function embedding_forward_ref(y: usize, ids: usize, w: usize, rows: i32, seqLen: i32, dim: i32): void {
  checkDims(rows, seqLen, dim);
  for (let i = 0; i < rows * seqLen; i++) {
    const id = tokenAt(ids, i);
    for (let j = 0; j < dim; j++) store<f32>(y + ((<usize>(i * dim + j)) << 2), load<f32>(w + ((<usize>(id * dim + j)) << 2)));
  }
}

/** dw (vocab, dim) = Σ over non-padding tokens of dy[r, t, :] into row ids[r, t]: overwrites dw (order: file header). */
export function embedding_backward(dw: usize, dy: usize, ids: usize, rows: i32, seqLen: i32, dim: i32, vocab: i32, paddingIdx: i32): void {
  checkDims(rows, seqLen, dim);
  assert(vocab > 0, "embedding_backward: vocab must be positive");
  zeroFloats(dw, vocab * dim);
  const n = rows * seqLen;
  for (let i = 0; i < n; i++) {
    const id = tokenAt(ids, i);
    if (id != paddingIdx) addRow(rowOf(dw, id, dim), rowOf(dy, i, dim), dim);
  }
}

export function embedding_backward_ref(dw: usize, dy: usize, ids: usize, rows: i32, seqLen: i32, dim: i32, vocab: i32, paddingIdx: i32): void {
  checkDims(rows, seqLen, dim);
  for (let k = 0; k < vocab * dim; k++) store<f32>(dw + (<usize>k << 2), 0);
  for (let i = 0; i < rows * seqLen; i++) {
    const id = tokenAt(ids, i);
    if (id == paddingIdx) continue;
    for (let j = 0; j < dim; j++) {
      const d = dw + ((<usize>(id * dim + j)) << 2);
      store<f32>(d, load<f32>(d) + load<f32>(dy + ((<usize>(i * dim + j)) << 2)));
    }
  }
}

// ================================================================ embedding bag (mean)

/** y (rows, dim) = mean of w[id] over the non-padding ids of each row (0 for none): overwrites y. */
export function embedding_bag_forward(y: usize, ids: usize, w: usize, rows: i32, seqLen: i32, dim: i32, paddingIdx: i32): void {
  checkDims(rows, seqLen, dim);
  for (let r = 0; r < rows; r++) {
    const out = rowOf(y, r, dim);
    zeroFloats(out, dim);
    let count = 0;
    for (let t = 0; t < seqLen; t++) {
      const id = tokenAt(ids, r * seqLen + t);
      if (id == paddingIdx) continue;
      addRow(out, rowOf(w, id, dim), dim);
      count++;
    }
    if (count > 0) divideRow(out, <f32>count, dim);
  }
}

export function embedding_bag_forward_ref(y: usize, ids: usize, w: usize, rows: i32, seqLen: i32, dim: i32, paddingIdx: i32): void {
  checkDims(rows, seqLen, dim);
  for (let r = 0; r < rows; r++) {
    const count = countTokens(ids, r, seqLen, paddingIdx);
    for (let j = 0; j < dim; j++) {
      let sum: f32 = 0;
      for (let t = 0; t < seqLen; t++) {
        const id = tokenAt(ids, r * seqLen + t);
        if (id != paddingIdx) sum += load<f32>(w + ((<usize>(id * dim + j)) << 2));
      }
      store<f32>(y + ((<usize>(r * dim + j)) << 2), count > 0 ? sum / <f32>count : 0);
    }
  }
}

/** dw (vocab, dim) = Σ over non-padding tokens of dy[r, :] / count into row ids[r, t]: overwrites dw (order: file header). */
export function embedding_bag_backward(dw: usize, dy: usize, ids: usize, rows: i32, seqLen: i32, dim: i32, vocab: i32, paddingIdx: i32): void {
  checkDims(rows, seqLen, dim);
  assert(vocab > 0, "embedding_bag_backward: vocab must be positive");
  zeroFloats(dw, vocab * dim);
  for (let r = 0; r < rows; r++) {
    const count = countTokens(ids, r, seqLen, paddingIdx);
    if (count == 0) continue;
    const g = rowOf(dy, r, dim);
    for (let t = 0; t < seqLen; t++) {
      const id = tokenAt(ids, r * seqLen + t);
      if (id != paddingIdx) addRowDivided(rowOf(dw, id, dim), g, <f32>count, dim);
    }
  }
}

export function embedding_bag_backward_ref(dw: usize, dy: usize, ids: usize, rows: i32, seqLen: i32, dim: i32, vocab: i32, paddingIdx: i32): void {
  checkDims(rows, seqLen, dim);
  for (let k = 0; k < vocab * dim; k++) store<f32>(dw + (<usize>k << 2), 0);
  for (let r = 0; r < rows; r++) {
    const count = countTokens(ids, r, seqLen, paddingIdx);
    for (let t = 0; t < seqLen; t++) {
      const id = tokenAt(ids, r * seqLen + t);
      if (id == paddingIdx) continue;
      for (let j = 0; j < dim; j++) {
        const d = dw + ((<usize>(id * dim + j)) << 2);
        store<f32>(d, load<f32>(d) + load<f32>(dy + ((<usize>(r * dim + j)) << 2)) / <f32>count);
      }
    }
  }
}
