/**
 * Inference on an array of any number of rows, a chunk at a time: the one walk that
 * Sequential's logits / probabilities / predict and distill-wasm/infer's Student share, so
 * that both cut the rows alike and give the same bits. Imports only what distill-wasm/infer
 * already bundles (validate.ts, layers/index.ts).
 */
import { requireArray, requireFinite, rowsOf, type FloatArray } from "../validate.js";
import { checkModelInput, type LayerSpec } from "./layers/index.js";

/** Rows per forward pass. */
export const INFERENCE_CHUNK = 256;

/** What a model gives the walk: its input width and layers, and three steps on its own buffers. */
export interface ChunkedModel {
  readonly inputs: number;
  readonly specs: readonly LayerSpec[];
  /** Makes room for batches of up to `rows`; returns the rows there is room for (it may hold more). */
  reserveRows(rows: number): number;
  /** The input buffer's first n rows (n, inputs), for a chunk to be copied into. */
  inputRows(n: number): Float32Array;
  /** The forward pass at inference of the n rows in the input buffer; returns the outputs' pointer (n, outputs). */
  forwardRows(n: number): number;
}

/**
 * Checks x (rows, inputs) — an array, whole rows, finite, token ids the first layer takes —
 * then runs `fn` on each chunk copied into wasm: fn gets (output pointer, rows, first row).
 * Returns the number of rows.
 */
export function eachChunk(op: string, x: FloatArray, model: ChunkedModel, fn: (out: number, rows: number, first: number) => void): number {
  const inputs = model.inputs;
  const arr = requireArray(op, "x", x);
  const rows = rowsOf(op, "x", arr, inputs);
  requireFinite(op, "x", arr, inputs);
  checkModelInput(model.specs, arr, op, "x");
  const chunk = Math.max(Math.min(model.reserveRows(Math.min(rows, INFERENCE_CHUNK)), INFERENCE_CHUNK), 1);
  for (let first = 0; first < rows; first += chunk) {
    const n = Math.min(chunk, rows - first);
    model
      .inputRows(n)
      .set(
        ArrayBuffer.isView(arr)
          ? (arr as Float32Array).subarray(first * inputs, (first + n) * inputs)
          : Array.prototype.slice.call(arr, first * inputs, (first + n) * inputs),
      );
    fn(model.forwardRows(n), n, first);
  }
  return rows;
}
