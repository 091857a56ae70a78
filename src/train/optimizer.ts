/**
 * Optimizers over a flat parameter block: the specification a user writes, and the state
 * (velocity, or Adam's two moments) kept in wasm memory for one training run.
 */
import type { Engine } from "../engine.js";
import { OptionError } from "../errors.js";

export interface SgdSpec {
  type: "sgd";
  lr?: number;
  /** Momentum (0 = plain SGD). */
  momentum?: number;
  nesterov?: boolean;
  /** L2 penalty added to the gradient: g += weightDecay·param. */
  weightDecay?: number;
}

export interface AdamSpec {
  /** "adam": L2 decay added to the gradient; "adamw": decoupled decay param *= 1 − lr·weightDecay. */
  type: "adam" | "adamw";
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

/** "sgd", "momentum" (SGD with momentum 0.9), "adam", "adamw", or a full specification. */
export type OptimizerSpec = "sgd" | "momentum" | "adam" | "adamw" | SgdSpec | AdamSpec;

type Resolved = Required<SgdSpec> | Required<AdamSpec>;

function resolve(spec: OptimizerSpec): Resolved {
  const s: SgdSpec | AdamSpec =
    typeof spec === "string" ? ((spec === "momentum" ? { type: "sgd", momentum: 0.9 } : { type: spec }) as SgdSpec | AdamSpec) : spec;
  if (s?.type === "sgd") {
    return { type: "sgd", lr: s.lr ?? 0.01, momentum: s.momentum ?? 0, nesterov: s.nesterov ?? false, weightDecay: s.weightDecay ?? 0 };
  }
  if (s?.type === "adam" || s?.type === "adamw") {
    return {
      type: s.type,
      lr: s.lr ?? 1e-3,
      beta1: s.beta1 ?? 0.9,
      beta2: s.beta2 ?? 0.999,
      eps: s.eps ?? 1e-8,
      weightDecay: s.weightDecay ?? (s.type === "adamw" ? 0.01 : 0),
    };
  }
  throw new OptionError(`optimizer must be "sgd", "momentum", "adam", "adamw" or { type, ... }; got ${JSON.stringify(spec)}`);
}

function check(name: string, value: number, ok: boolean, expected: string): void {
  if (!ok || !Number.isFinite(value)) throw new OptionError(`optimizer: ${name} must be ${expected}; got ${value}`);
}

/** Validates a specification and returns it with every default filled in. */
export function resolveOptimizer(spec: OptimizerSpec): Resolved {
  const r = resolve(spec);
  check("lr", r.lr, r.lr > 0, "a finite number > 0");
  check("weightDecay", r.weightDecay, r.weightDecay >= 0, "≥ 0");
  if (r.type === "sgd") {
    check("momentum", r.momentum, r.momentum >= 0 && r.momentum < 1, "in [0, 1)");
    if (r.nesterov && r.momentum === 0) throw new OptionError("optimizer: nesterov needs momentum > 0");
  } else {
    check("beta1", r.beta1, r.beta1 >= 0 && r.beta1 < 1, "in [0, 1)");
    check("beta2", r.beta2, r.beta2 >= 0 && r.beta2 < 1, "in [0, 1)");
    check("eps", r.eps, r.eps > 0, "> 0");
  }
  return r;
}

/** An optimizer's state as plain arrays, for checkpoints. */
export interface OptimizerState {
  /** Steps taken (Adam's bias correction depends on it). */
  steps: number;
  /** Velocity (SGD with momentum) or the two moments (Adam), `length` floats each. */
  buffers: Float32Array[];
}

/** One optimizer's state for a parameter block of `length` floats, in wasm memory. */
export class Optimizer {
  readonly spec: Resolved;
  private readonly engine: Engine;
  private readonly length: number;
  private readonly state1: number;
  private readonly state2: number;
  /** Steps taken (Adam's bias correction counts them). */
  steps = 0;
  /** The learning rate of the current step (the threaded step reads it from this object). */
  lr = 0;
  /**
   * The spec's numbers, copied into fields of this one class: read from the SGD- or
   * Adam-shaped spec object at a site that sees both, a double would be boxed (allocated)
   * on every step.
   */
  private readonly adam: boolean;
  readonly momentum: number;
  readonly nesterov: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly decoupled: number;

  constructor(engine: Engine, spec: OptimizerSpec, length: number) {
    this.spec = resolveOptimizer(spec);
    this.engine = engine;
    this.length = length;
    const s = this.spec;
    this.adam = s.type !== "sgd";
    this.momentum = s.type === "sgd" ? s.momentum : 0;
    this.nesterov = s.type === "sgd" && s.nesterov ? 1 : 0;
    this.beta1 = s.type === "sgd" ? 0 : s.beta1;
    this.beta2 = s.type === "sgd" ? 0 : s.beta2;
    this.eps = s.type === "sgd" ? 0 : s.eps;
    this.weightDecay = s.weightDecay;
    this.decoupled = s.type === "adamw" ? 1 : 0;
    const needs = this.spec.type === "sgd" ? (this.spec.momentum > 0 ? 1 : 0) : 2;
    this.state1 = needs >= 1 ? engine.allocOwned(length * 4) : 0;
    this.state2 = needs >= 2 ? engine.allocOwned(length * 4) : 0;
    for (const p of [this.state1, this.state2]) if (p) engine.kernels.zero_bytes(p, length * 4);
  }

  get baseLr(): number {
    return this.spec.lr;
  }

  /**
   * Updates params (in place) from grads at learning rate rate.lr. The rate comes in an
   * object field: a number argument would be boxed (allocated) on every call V8 does not inline.
   */
  step(params: number, grads: number, rate: { readonly lr: number }): void {
    const k = this.engine.kernels;
    const lr = rate.lr;
    this.steps++;
    const parallel = this.engine.parallelOptimizer;
    if (parallel !== undefined && this.length >= parallel.minParameters) {
      // Split over the engine's threads; the numbers travel in this object, like `rate`.
      this.lr = lr;
      if (!this.adam) parallel.sgd(params, grads, this.state1, this.length, this);
      else parallel.adam(params, grads, this.state1, this.state2, this.length, this);
      return;
    }
    if (!this.adam) k.sgd_step(params, grads, this.state1, this.length, lr, this.momentum, this.weightDecay, this.nesterov);
    else k.adam_step(params, grads, this.state1, this.state2, this.length, lr, this.beta1, this.beta2, this.eps, this.weightDecay, this.steps, this.decoupled);
  }

  exportState(): OptimizerState {
    const buffers = [this.state1, this.state2].filter((p) => p !== 0).map((p) => this.engine.readF32(p, this.length));
    return { steps: this.steps, buffers };
  }

  importState(state: OptimizerState): void {
    const own = [this.state1, this.state2].filter((p) => p !== 0);
    if (state.buffers.length !== own.length || state.buffers.some((b) => b.length !== this.length)) {
      throw new OptionError(`optimizer state does not fit: expected ${own.length} buffer(s) of ${this.length} values`);
    }
    own.forEach((p, i) => this.engine.f32(p, this.length).set(state.buffers[i]!));
    this.steps = state.steps;
  }

  dispose(): void {
    if (this.state1) this.engine.free(this.state1);
    if (this.state2) this.engine.free(this.state2);
  }
}
