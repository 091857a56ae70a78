/**
 * Checkpoints as bytes, in the safetensors container: the arrays as tensors (params, best,
 * optimizer buffers, extra parameters, PRNG states, the epoch's order) and the scalars,
 * history and fingerprint as JSON in `__metadata__`. Any byte store can keep them (a file
 * written atomically in Node / Deno / Bun, IndexedDB in a browser).
 */
import { FormatError } from "../errors.js";
import { decodeSafetensors, encodeSafetensors, type TensorToEncode } from "../io/safetensors.js";
import { readBytesIfExists, writeBytesAtomic, type PathOrUrl } from "../runtime/files.js";
import type { Checkpoint, CheckpointCommon, CheckpointOptions } from "./checkpoint.js";
import { nonFiniteReplacer, parseStateRecord } from "./checkpoint-state.js";
import { contentHash } from "./fingerprint.js";

const KIND = "distill-wasm-checkpoint";

/**
 * The checksum kept in a checkpoint's metadata: a hash of every tensor's name and bytes
 * (by name, whatever order the file lays them out in) and of the state record, so that
 * any changed byte of either is refused on reading.
 */
function checksumOf(tensors: readonly { name: string; data: ArrayBufferView }[], state: string): string {
  const text = new TextEncoder();
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return contentHash(...sorted.flatMap((t) => [text.encode(t.name), t.data]), text.encode(state));
}

export function encodeCheckpoint(c: Checkpoint): Uint8Array {
  const tensors: TensorToEncode[] = [
    { name: "params", shape: [c.params.length], data: c.params },
    { name: "rngs", shape: [c.rngs.length], data: c.rngs },
    { name: "order", shape: [c.order.length], data: c.order },
  ];
  if (c.stream) {
    tensors.push({ name: "stream.blockOrder", shape: [c.stream.blockOrder.length], data: c.stream.blockOrder });
    tensors.push({ name: "stream.rowOrder", shape: [c.stream.rowOrder.length], data: c.stream.rowOrder });
  }
  if (c.best) tensors.push({ name: "best", shape: [c.best.length], data: c.best });
  c.optimizers.forEach((o, i) => o.buffers.forEach((b, j) => tensors.push({ name: `optimizer.${i}.${j}`, shape: [b.length], data: b })));
  c.extraParams.forEach((p, i) => tensors.push({ name: `extra.${i}`, shape: [p.length], data: p }));
  const scalars = {
    fingerprint: c.fingerprint,
    stage: c.stage,
    epoch: c.epoch,
    position: c.position,
    steps: c.steps,
    lossSum: c.lossSum,
    correct: c.correct,
    seen: c.seen,
    labelled: c.labelled,
    history: c.history,
    early: c.early,
    hookState: c.hookState,
    ...(c.health ? { health: c.health } : {}),
    ...(c.stream ? { stream: { block: c.stream.block, offset: c.stream.offset } } : {}),
    optimizers: c.optimizers.map((o) => ({ steps: o.steps, buffers: o.buffers.length })),
    extra: c.extraParams.length,
  };
  const state = JSON.stringify(scalars, nonFiniteReplacer);
  return encodeSafetensors(tensors, { format: KIND, version: String(c.version), state, checksum: checksumOf(tensors, state) });
}

/**
 * A checkpoint's bytes → the checkpoint, after its checksum; a DatasetCheckpoint or a
 * StreamCheckpoint as the file says. A file written before `labelled` existed gives
 * labelled = seen (every row it saw had a label). FormatError for anything else.
 */
export function decodeCheckpoint(bytes: Uint8Array, name = "checkpoint"): Checkpoint {
  const file = decodeSafetensors(bytes, name);
  if (file.metadata.format !== KIND || file.metadata.version !== "1") {
    throw new FormatError(`${name} is not a distill-wasm checkpoint (version 1)`);
  }
  const stored = [...file.tensors].map(([tensorName, t]) => ({ name: tensorName, data: t.data as ArrayBufferView }));
  if (file.metadata.checksum !== checksumOf(stored, file.metadata.state ?? "")) {
    throw new FormatError(`${name}: its checksum does not match its content (the file was damaged or edited); it cannot be resumed`);
  }
  const s = parseStateRecord(file.metadata.state ?? "", file.tensors.size, name);
  const tensor = <T>(key: string, type: new (...args: never[]) => T): T => {
    const t = file.tensors.get(key)?.data;
    if (!(t instanceof type)) throw new FormatError(`${name}: tensor ${key} is missing or has the wrong type`);
    return t;
  };
  const common: CheckpointCommon = {
    format: KIND,
    version: 1,
    fingerprint: s.fingerprint,
    stage: s.stage,
    epoch: s.epoch,
    position: s.position,
    steps: s.steps,
    lossSum: s.lossSum,
    correct: s.correct,
    seen: s.seen,
    labelled: s.labelled ?? s.seen,
    history: s.history,
    early: s.early,
    hookState: s.hookState,
    ...(s.health ? { health: s.health } : {}),
    params: tensor("params", Float32Array),
    best: file.tensors.has("best") ? tensor("best", Float32Array) : null,
    optimizers: s.optimizers.map((o, i) => ({
      steps: o.steps,
      buffers: Array.from({ length: o.buffers }, (_, j) => tensor(`optimizer.${i}.${j}`, Float32Array)),
    })),
    extraParams: Array.from({ length: s.extra }, (_, i) => tensor(`extra.${i}`, Float32Array)),
    rngs: tensor("rngs", Uint8Array),
    order: tensor("order", Int32Array),
  };
  if (!s.stream) return common;
  const stream = {
    block: s.stream.block,
    offset: s.stream.offset,
    blockOrder: tensor("stream.blockOrder", Int32Array),
    rowOrder: tensor("stream.rowOrder", Int32Array),
  };
  return { ...common, stream };
}

/**
 * Checkpoints to a file (Node, Deno, Bun): every `every` steps the file is replaced
 * atomically (written to a temporary file in the same folder, then renamed), so a crash
 * leaves either the previous checkpoint or the new one, never a torn file.
 * In a browser, pass your own `{ every, save }` and store `encodeCheckpoint(c)` yourself.
 */
export function checkpointToFile(path: PathOrUrl, every: number): CheckpointOptions {
  return { every, save: (c) => writeBytesAtomic(path, encodeCheckpoint(c), "checkpoint") };
}

/** Reads a checkpoint file written by checkpointToFile; undefined when there is none yet. */
export async function readCheckpoint(path: PathOrUrl): Promise<Checkpoint | undefined> {
  const bytes = await readBytesIfExists(path, "readCheckpoint");
  return bytes ? decodeCheckpoint(bytes, String(path)) : undefined;
}
