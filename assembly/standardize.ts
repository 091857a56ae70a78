// Per-feature standardisation of (rows, cols) row-major f32 data, as a layer applies it to
// raw inputs:
//
//   forward   y[r, c] = (x[r, c] − mean[c]) / std[c]
//   backward  dx[r, c] = dy[r, c] / std[c]          (mean and std are not trained)
//
// mean and std are (cols). One f32 subtraction and one f32 division per element, in that
// order, so the result is the same in every lane arrangement: the SIMD kernels (four
// columns at a time, then the tail one by one) and the `_ref` twins agree bit for bit,
// and an ONNX Sub then Div gives the same bits too. dx may alias dy, y may alias x.

/** y (rows, cols) = (x − mean) / std, per column. */
export function standardize_forward(y: usize, x: usize, mean: usize, std: usize, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    const row = <usize>r * <usize>cols << 2;
    let c = 0;
    for (; c + 4 <= cols; c += 4) {
      const o = <usize>c << 2;
      const v = f32x4.div(f32x4.sub(v128.load(x + row + o), v128.load(mean + o)), v128.load(std + o));
      v128.store(y + row + o, v);
    }
    for (; c < cols; c++) {
      const o = <usize>c << 2;
      store<f32>(y + row + o, (load<f32>(x + row + o) - load<f32>(mean + o)) / load<f32>(std + o));
    }
  }
}

export function standardize_forward_ref(y: usize, x: usize, mean: usize, std: usize, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const o = <usize>c << 2;
      const i = (<usize>r * <usize>cols << 2) + o;
      store<f32>(y + i, (load<f32>(x + i) - load<f32>(mean + o)) / load<f32>(std + o));
    }
  }
}

/** dx (rows, cols) = dy / std, per column. */
export function standardize_backward(dx: usize, dy: usize, std: usize, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    const row = <usize>r * <usize>cols << 2;
    let c = 0;
    for (; c + 4 <= cols; c += 4) {
      const o = <usize>c << 2;
      v128.store(dx + row + o, f32x4.div(v128.load(dy + row + o), v128.load(std + o)));
    }
    for (; c < cols; c++) {
      const o = <usize>c << 2;
      store<f32>(dx + row + o, load<f32>(dy + row + o) / load<f32>(std + o));
    }
  }
}

export function standardize_backward_ref(dx: usize, dy: usize, std: usize, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const o = <usize>c << 2;
      const i = (<usize>r * <usize>cols << 2) + o;
      store<f32>(dx + i, load<f32>(dy + i) / load<f32>(std + o));
    }
  }
}
