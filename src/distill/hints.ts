/**
 * FitNets hints (Romero et al. 2015): the output of a student layer, passed through a
 * learned linear regressor when its width differs from the teacher layer's, is pulled
 * towards the teacher layer's output with loss β·mean((r(h_s) − h_t)²). The gradient is
 * injected into the student's backward pass at that layer.
 */
import type { Engine } from "../engine.js";
import { OptionError } from "../errors.js";
import type { Sequential } from "../nn/sequential.js";

export interface HintSpec {
  /** Index of the student layer whose output is guided. */
  student: number;
  /** Index of the teacher layer whose output is the target. */
  teacher: number;
  /** β, the hint loss weight (default 1). */
  weight?: number;
}

interface HintState {
  spec: Required<HintSpec>;
  ds: number;
  dt: number;
  /** Regressor (dt, ds) weight + (dt) bias in `params` at these float offsets, or -1 with no regressor. */
  w: number;
  b: number;
  /** (batch, dt) regressor output and its gradient; (batch, ds) gradient injected into the student. */
  r: number;
  dr: number;
  inject: number;
}

/** Rounds up to a multiple of 4 floats (16 bytes); arithmetic, not bit operations, which wrap at 2^31. */
const align4 = (n: number) => Math.ceil(n / 4) * 4;

function checkHints(specs: readonly HintSpec[], student: Sequential, teacher: Sequential): void {
  const guided = new Set<number>();
  specs.forEach((s, i) => {
    for (const [key, model] of [["student", student], ["teacher", teacher]] as const) {
      const idx = s?.[key];
      if (!Number.isInteger(idx) || idx < 0 || idx >= model.layerCount) {
        throw new OptionError(`distill: hints[${i}].${key} = ${idx} is not a layer of the ${key} (0..${model.layerCount - 1})`);
      }
    }
    const weight = s.weight ?? 1;
    if (!(weight > 0 && Number.isFinite(weight))) throw new OptionError(`distill: hints[${i}].weight must be a finite number > 0; got ${weight}`);
    if (guided.has(s.student)) throw new OptionError(`distill: two hints guide student layer ${s.student}; use one per layer`);
    guided.add(s.student);
  });
}

export class Hints {
  readonly inject = new Map<number, number>();
  /** Flat regressor parameters and gradients (present when some widths differ). */
  readonly params: number = 0;
  readonly grads: number = 0;
  readonly length: number = 0;
  private readonly hints: HintState[];
  private readonly engine: Engine;
  private readonly owned: number[] = [];

  constructor(engine: Engine, specs: readonly HintSpec[], student: Sequential, teacher: Sequential, batch: number, seed: number) {
    this.engine = engine;
    const alloc = (bytes: number) => {
      const p = engine.allocOwned(bytes);
      this.owned.push(p);
      return p;
    };
    checkHints(specs, student, teacher); // before any allocation, so that a bad hint leaks nothing
    let offset = 0;
    this.hints = specs.map((s) => {
      const weight = s.weight ?? 1;
      // Hints read these layers' outputs: keep a dense layer's pre-activation output observable.
      student.keepPreActivation(s.student);
      teacher.keepPreActivation(s.teacher);
      const ds = student.layerWidth(s.student);
      const dt = teacher.layerWidth(s.teacher);
      const state: HintState = { spec: { ...s, weight }, ds, dt, w: -1, b: -1, r: 0, dr: 0, inject: alloc(batch * ds * 4) };
      if (ds !== dt) {
        state.w = offset;
        offset = align4(offset + ds * dt);
        state.b = offset;
        offset = align4(offset + dt);
        state.r = alloc(batch * dt * 4);
        state.dr = alloc(batch * dt * 4);
      }
      this.inject.set(s.student, state.inject);
      return state;
    });
    if (offset > 0) {
      const k = engine.kernels;
      this.length = offset;
      this.params = alloc(offset * 4);
      this.grads = alloc(offset * 4);
      k.zero_bytes(this.params, offset * 4);
      k.zero_bytes(this.grads, offset * 4);
      const rng = alloc(16);
      k.rng_seed(rng, seed >>> 0, 0x68696e74); // a stream of its own: "hint"
      for (const h of this.hints) {
        if (h.w < 0) continue;
        const limit = Math.sqrt(6 / (h.ds + h.dt)); // Glorot uniform
        k.rng_uniform(rng, this.params + h.w * 4, h.ds * h.dt, -limit, limit);
      }
    }
  }

  /** Σ β·mse of the last compute() (a field, not a return value, so that it is never boxed). */
  loss = 0;

  /**
   * After both forward passes on the same batch: computes every hint loss into `loss` and
   * writes the gradients to inject (and the regressor gradients).
   */
  compute(student: Sequential, teacher: Sequential, rows: number): void {
    const k = this.engine.kernels;
    let total = 0;
    for (const h of this.hints) {
      const hs = student.layerOutput(h.spec.student);
      const ht = teacher.layerOutput(h.spec.teacher);
      if (h.w < 0) {
        total += k.mse(h.inject, hs, ht, rows * h.ds, h.spec.weight / (rows * h.ds));
        continue;
      }
      const w = this.params + h.w * 4;
      // r = hs·Wᵀ + b: (rows, dt)
      k.gemm_nt(h.r, hs, w, this.params + h.b * 4, rows, h.dt, h.ds, h.ds, h.ds, h.dt, 0);
      total += k.mse(h.dr, h.r, ht, rows * h.dt, h.spec.weight / (rows * h.dt));
      k.gemm_tn(this.grads + h.w * 4, h.dr, hs, 0, h.dt, h.ds, rows, h.dt, h.ds, h.ds, 0); // dW = drᵀ·hs
      k.bias_grad(this.grads + h.b * 4, h.dr, rows, h.dt, 0);
      k.gemm_nn(h.inject, h.dr, w, 0, rows, h.ds, h.dt, h.dt, h.ds, h.ds, 0); // dhs = dr·W
    }
    this.loss = total;
  }

  dispose(): void {
    for (const p of this.owned) this.engine.free(p);
    this.owned.length = 0;
  }
}
