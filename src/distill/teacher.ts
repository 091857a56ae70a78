/**
 * Where the teacher's logits come from: a model, a weighted ensemble of models (their
 * tempered probabilities averaged), a function (sync or async, so any external model can
 * teach), or precomputed logits (n × classes). Logits are cached once per sample unless
 * the inputs are augmented, in which case the teacher sees each augmented batch.
 */
import type { Engine } from "../engine.js";
import { ArgumentError, NonFiniteError, OptionError, ShapeError } from "../errors.js";
import { checkModelInput } from "../nn/layers/index.js";
import type { Sequential } from "../nn/sequential.js";
import { contentHash } from "../train/fingerprint.js";
import type { WasmData } from "../data/wasm-data.js";
import { requireArray } from "../validate.js";

/** Called with a batch of inputs (rows × features, row-major); returns rows × classes logits. */
export type TeacherFunction = (x: Float32Array, rows: number) => ArrayLike<number> | Promise<ArrayLike<number>>;
export interface WeightedTeacher {
  model: Sequential;
  /** Relative weight in the ensemble (default 1). */
  weight?: number;
}
export type Teacher = Sequential | readonly (Sequential | WeightedTeacher)[] | TeacherFunction | Float32Array | Float64Array | readonly number[];

const isModel = (t: unknown): t is Sequential => !!t && typeof (t as Sequential).forward === "function" && typeof (t as Sequential).reserve === "function";

/** The teacher of a StreamDataset that carries the teacher's outputs with its rows (distill's `teacher` omitted). */
export const TEACHER_IN_DATA = Symbol("teacher outputs in the data");

type Kind = "model" | "ensemble" | "function" | "logits" | "data";

export class TeacherSource {
  readonly kind: Kind;
  /** The single model teacher, when there is one (needed for hints). */
  readonly model?: Sequential;
  /** The model teacher or the ensemble's members (none for a function or logits teacher). */
  get models(): Sequential[] {
    return this.members.map((m) => m.model);
  }
  private readonly members: { model: Sequential; weight: number }[] = [];
  private readonly fn?: TeacherFunction;
  private readonly given?: ArrayLike<number>;
  private readonly engine: Engine;
  private readonly classes: number;
  private readonly owned: number[] = [];
  /** Cached logits: one (n, classes) block per member (one for model / function / logits). */
  private caches: number[] = [];
  private work = 0;
  private sum = 0;

  /** Checks the data's rows against every model teacher's first layer (token ids within its vocabulary), before any wasm call. */
  checkInputs(op: string, x: Float32Array): void {
    for (const m of this.members) checkModelInput(m.model.specs, x, op, "data");
  }

  constructor(engine: Engine, teacher: Teacher | typeof TEACHER_IN_DATA, classes: number, features: number) {
    this.engine = engine;
    this.classes = classes;
    const op = "distill";
    const checkModel = (m: Sequential, what: string) => {
      m.ensureAlive();
      if (m.engine !== engine) throw new ArgumentError(`${op}: ${what} runs on a different engine than the student`);
      if (m.inputs !== features) throw new ShapeError(`${op}: ${what} takes ${m.inputs} inputs but the data has ${features} features`);
      if (m.outputs !== classes) throw new ShapeError(`${op}: ${what} has ${m.outputs} outputs but the student has ${classes}; they must match`);
    };
    if (teacher === TEACHER_IN_DATA) {
      this.kind = "data"; // the training loop puts each batch's logits in BatchContext.teacher
    } else if (isModel(teacher)) {
      checkModel(teacher, "the teacher");
      this.kind = "model";
      this.model = teacher;
      this.members.push({ model: teacher, weight: 1 });
    } else if (typeof teacher === "function") {
      this.kind = "function";
      this.fn = teacher as TeacherFunction;
    } else if (Array.isArray(teacher) && teacher.length > 0 && teacher.every((t) => isModel(t) || isModel((t as WeightedTeacher)?.model))) {
      this.kind = "ensemble";
      let total = 0;
      teacher.forEach((t, i) => {
        const m = isModel(t) ? t : (t as WeightedTeacher).model;
        const w = isModel(t) ? 1 : ((t as WeightedTeacher).weight ?? 1);
        if (!(w > 0 && Number.isFinite(w))) throw new OptionError(`${op}: ensemble weight ${i} must be a finite number > 0; got ${w}`);
        checkModel(m, `ensemble member ${i}`);
        this.members.push({ model: m, weight: w });
        total += w;
      });
      for (const m of this.members) m.weight /= total;
    } else if (ArrayBuffer.isView(teacher) || Array.isArray(teacher)) {
      this.kind = "logits";
      this.given = requireArray(op, "teacher logits", teacher);
    } else {
      throw new ArgumentError(`${op}: teacher must be a model, an array of models (ensemble), a function (x, rows) => logits, or precomputed logits`);
    }
  }

  /** Allocates work buffers for batches of up to `batch` rows and, when `cache`, computes every sample's logits once. */
  async prepare(data: WasmData, batch: number, cache: boolean): Promise<void> {
    const e = this.engine;
    const alloc = (bytes: number) => {
      const p = e.allocOwned(bytes);
      this.owned.push(p);
      return p;
    };
    for (const m of this.members) m.model.reserve(batch);
    this.work = alloc(batch * this.classes * 4);
    this.sum = alloc(batch * this.classes * 4);
    if (this.kind === "logits") {
      const expected = data.rows * this.classes;
      if (this.given!.length !== expected) {
        throw new ShapeError(
          `distill: teacher logits have ${this.given!.length} values; expected ${expected} = ${data.rows} samples × ${this.classes} classes`,
        );
      }
      const c = alloc(expected * 4);
      e.f32(c, expected).set(this.given!);
      this.checkFinite(c, expected, "the precomputed teacher logits");
      this.caches = [c];
      return;
    }
    if (!cache) return;
    const count = this.kind === "ensemble" ? this.members.length : 1;
    this.caches = Array.from({ length: count }, () => alloc(data.rows * this.classes * 4));
    for (let first = 0; first < data.rows; first += batch) {
      const rows = Math.min(batch, data.rows - first);
      const x = data.x + first * data.features * 4;
      for (let m = 0; m < count; m++) {
        await this.rawLogits(m, x, rows, data.features, this.caches[m]! + first * this.classes * 4);
      }
    }
  }

  /** Logits of member m (or the function) for rows at x, written to out; a promise only for a function teacher. */
  private rawLogits(m: number, x: number, rows: number, features: number, out: number): void | Promise<void> {
    if (this.kind === "function") return this.functionLogits(x, rows, features, out);
    const logits = this.members[m]!.model.forward(x, rows, false);
    this.engine.kernels.copy_bytes(out, logits, rows * this.classes * 4);
  }

  private async functionLogits(x: number, rows: number, features: number, out: number): Promise<void> {
    const e = this.engine;
    const n = rows * this.classes;
    const input = e.readF32(x, rows * features);
    const result = await this.fn!(input, rows);
    if (!result || typeof (result as ArrayLike<number>).length !== "number") {
      throw new ArgumentError(`distill: the teacher function must return an array of logits; got ${typeof result}`);
    }
    if (result.length !== n) {
      throw new ShapeError(
        `distill: the teacher function returned ${result.length} values for ${rows} rows; expected ${n} = ${rows} × ${this.classes} classes`,
      );
    }
    e.f32(out, n).set(result);
    this.checkFinite(out, n, "the teacher function's logits");
  }

  private checkFinite(ptr: number, n: number, what: string): void {
    const v = this.engine.f32(ptr, n);
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(v[i]!)) {
        throw new NonFiniteError(`distill: ${what} contain ${v[i]} at row ${Math.floor(i / this.classes)}, class ${i % this.classes}`);
      }
    }
  }

  /**
   * Writes the teacher logits for a batch into out (rows, classes): from the cache
   * (rows order[first …]) or by running the teacher on x. Ensembles are combined at
   * temperature T as T·log(Σ w·softmax(z/T)). Returns a promise only when an uncached
   * function teacher must be awaited, so that a step with any other teacher allocates
   * nothing on the JS heap.
   */
  batchLogits(out: number, x: number, rows: number, features: number, order: number, first: number, temperature: number): void | Promise<void> {
    const k = this.engine.kernels;
    if (this.caches.length === 0 && this.kind === "function") return this.rawLogits(0, x, rows, features, out);
    if (this.kind !== "ensemble") {
      this.memberLogits(0, x, rows, features, order, first, out);
      return;
    }
    const n = rows * this.classes;
    k.zero_bytes(this.sum, n * 4);
    for (let m = 0; m < this.members.length; m++) {
      this.memberLogits(m, x, rows, features, order, first, this.work);
      k.softmax_forward(this.work, this.work, rows, this.classes, temperature);
      k.axpby(this.sum, this.work, n, this.members[m]!.weight, 1);
    }
    k.probabilities_to_logits(out, this.sum, n, temperature);
  }

  /** Member m's logits for the batch, from the cache or (a model teacher) computed now. */
  private memberLogits(m: number, x: number, rows: number, features: number, order: number, first: number, out: number): void {
    if (this.caches.length > 0) this.engine.kernels.gather_rows(out, this.caches[m]!, order, first, rows, this.classes * 4);
    else void this.rawLogits(m, x, rows, features, out); // a model: synchronous
  }

  /** What the teacher is, for a checkpoint's fingerprint: its kind and a hash of its weights (or logits, or a function's source). */
  identity(): Record<string, unknown> {
    if (this.kind === "function") return { kind: this.kind, source: String(this.fn) };
    if (this.kind === "data") return { kind: this.kind };
    if (this.kind === "logits") return { kind: this.kind, logits: contentHash(Float32Array.from(this.given!)) };
    return {
      kind: this.kind,
      members: this.members.map((m) => ({ weight: m.weight, architecture: m.model.specs, params: contentHash(m.model.parameterBlock()) })),
    };
  }

  dispose(): void {
    for (const p of this.owned) this.engine.free(p);
    this.owned.length = 0;
    this.caches = [];
  }
}
