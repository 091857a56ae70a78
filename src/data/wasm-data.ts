/** A dataset copied into wasm memory for the duration of a run (the training loop, the teacher, the metrics). */
import type { Engine } from "../engine.js";
import type { Dataset } from "./dataset.js";

/**
 * Pointers to x (rows, features) f32 and y (rows) i32 in wasm memory, and for a
 * regression or multi-label dataset its targets (rows, targetWidth) f32 (t = 0 and
 * targetWidth = 0 otherwise; multiLabel says which).
 */
export interface WasmData {
  x: number;
  y: number;
  t: number;
  rows: number;
  features: number;
  targetWidth: number;
  multiLabel: boolean;
}

/** Copies data into blocks that the caller frees (they are pushed on `owned`). */
export function copyToWasm(engine: Engine, data: Dataset, owned: number[]): WasmData {
  const x = engine.allocOwned(data.x.length * 4);
  owned.push(x);
  engine.f32(x, data.x.length).set(data.x);
  const y = engine.allocOwned(data.length * 4);
  owned.push(y);
  engine.i32(y, data.length).set(data.y);
  let t = 0;
  if (data.targets) {
    t = engine.allocOwned(data.targets.length * 4);
    owned.push(t);
    engine.f32(t, data.targets.length).set(data.targets);
  }
  return { x, y, t, rows: data.length, features: data.features, targetWidth: data.targetWidth, multiLabel: data.multiLabel };
}
