/**
 * A restore point of a model: copies of its trainable block and of its buffers (batchNorm
 * running statistics) in wasm memory. The training loop keeps a few (the step before, the
 * last healthy epoch, the best epoch); taking or restoring one allocates nothing on the JS
 * heap.
 */
import type { Engine } from "../engine.js";

/** What a snapshot needs of a model (Sequential satisfies it). */
export interface SnapshotSource {
  readonly engine: Engine;
  readonly paramsPtr: number;
  readonly blockLength: number;
  readonly buffersPtr: number;
  readonly bufferLength: number;
  markParametersChanged(): void;
  ensureAlive(): void;
}

export class ParameterSnapshot {
  /** the copy of the trainable block (blockLength floats) */
  readonly paramsPtr: number;
  /** the copy of the buffers (bufferLength floats), 0 when the model has none */
  private readonly buffersPtr: number;
  private disposed = false;

  constructor(private readonly model: SnapshotSource) {
    const e = model.engine;
    this.paramsPtr = e.allocOwned(model.blockLength * 4);
    try {
      this.buffersPtr = model.bufferLength > 0 ? e.allocOwned(model.bufferLength * 4) : 0;
    } catch (err) {
      e.free(this.paramsPtr);
      throw err;
    }
    this.save();
  }

  /** Copies the model's current parameters and buffers into the snapshot. */
  save(): void {
    const m = this.model;
    m.ensureAlive();
    const k = m.engine.kernels;
    k.copy_bytes(this.paramsPtr, m.paramsPtr, m.blockLength * 4);
    if (this.buffersPtr) k.copy_bytes(this.buffersPtr, m.buffersPtr, m.bufferLength * 4);
  }

  /** Puts the snapshot's parameters and buffers back into the model. */
  restore(): void {
    const m = this.model;
    m.ensureAlive();
    const k = m.engine.kernels;
    k.copy_bytes(m.paramsPtr, this.paramsPtr, m.blockLength * 4);
    if (this.buffersPtr) k.copy_bytes(m.buffersPtr, this.buffersPtr, m.bufferLength * 4);
    m.markParametersChanged();
  }

  /** The saved trainable block (a copy). */
  parameters(): Float32Array {
    return this.model.engine.readF32(this.paramsPtr, this.model.blockLength);
  }

  /** Overwrites the saved trainable block (e.g. from a checkpoint). */
  setParameters(values: Float32Array): void {
    this.model.engine.f32(this.paramsPtr, this.model.blockLength).set(values);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.model.engine.free(this.paramsPtr);
    if (this.buffersPtr) this.model.engine.free(this.buffersPtr);
  }
}
