/**
 * FitNets hints (Romero et al. 2015): the output of a student layer, passed through a
 * learned linear regressor when its width differs from the teacher layer's, is pulled
 * towards the teacher layer's output with loss β·mean((r(h_s) − h_t)²). The gradient is
 * injected into the student's backward pass at that layer.
 */
import type { Engine } from "../engine.js";
import { OptionError } from "../errors.js";
import { dense, DenseLayer } from "../nn/layers/dense.js";
import { align4, type ModelMemory } from "../nn/layers/layer.js";
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
  /** The regressor r(h_s) = h_s·Wᵀ + b, a dense layer (ds → dt) with Glorot weights, when the widths differ. */
  regressor: DenseLayer | undefined;
  /** (batch, dt) gradient of the loss w.r.t. the regressor's output */
  dr: number;
  /** (batch, ds) gradient injected into the student (the regressor's input gradient when there is one) */
  inject: number;
}

function checkHints(specs: readonly HintSpec[], student: Sequential, teacher: Sequential): void {
  const guided = new Set<number>();
  specs.forEach((s, i) => {
    for (const [key, model] of [
      ["student", student],
      ["teacher", teacher],
    ] as const) {
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
    this.hints = specs.map((s, i) => {
      const weight = s.weight ?? 1;
      // Hints read these layers' outputs: keep a dense layer's pre-activation output observable.
      student.keepPreActivation(s.student);
      teacher.keepPreActivation(s.teacher);
      const ds = student.layerWidth(s.student);
      const dt = teacher.layerWidth(s.teacher);
      const state: HintState = { spec: { ...s, weight }, ds, dt, regressor: undefined, dr: 0, inject: 0 };
      if (ds === dt) {
        state.inject = alloc(batch * ds * 4);
      } else {
        const regressor = new DenseLayer(dense(ds, dt, { init: "glorot" }), { index: i, inShape: [ds], outShape: [dt] });
        regressor.placeTensor("weight", offset);
        offset = align4(offset + ds * dt);
        regressor.placeTensor("bias", offset);
        offset = align4(offset + dt);
        regressor.allocate(batch, alloc);
        state.regressor = regressor;
        state.dr = alloc(batch * dt * 4);
        state.inject = regressor.inputGradient;
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
      this.memory = {
        engine,
        kernels: k,
        paramsPtr: this.params,
        gradsPtr: this.grads,
        buffersPtr: 0,
        rngPtr: rng,
        weightPanels: () => 0, // regressors only run in training mode, which never uses panels
      };
      for (const h of this.hints) h.regressor?.initialise(this.memory);
    }
  }

  /** The regressors' memory (their parameter block), when there are regressors. */
  private readonly memory: ModelMemory | undefined;

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
      if (!h.regressor) {
        total += k.mse(h.inject, hs, ht, rows * h.ds, h.spec.weight / (rows * h.ds));
        continue;
      }
      const r = h.regressor;
      r.forward(this.memory!, hs, rows, true); // (rows, dt)
      total += k.mse(h.dr, r.outPtr, ht, rows * h.dt, h.spec.weight / (rows * h.dt));
      r.backward(this.memory!, h.dr, rows, false); // dW, db, and dhs into inject (r.inputGradient)
    }
    this.loss = total;
  }

  dispose(): void {
    for (const p of this.owned) this.engine.free(p);
    this.owned.length = 0;
  }
}
