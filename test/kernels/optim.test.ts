/**
 * Optimizer steps (assembly/optim.ts): SGD (plain, momentum, Nesterov, L2 weight decay)
 * and Adam / AdamW, run for several consecutive steps from zeroed state buffers.
 *
 * Each step of the SIMD kernel must match its `_ref` twin bit for bit (parameters and
 * state), and must agree with a float64 implementation of PyTorch's update rules.
 *
 * Tolerance against float64: a running (first-order, rigorous) error bound. The float64
 * reference carries, for every value, a bound on how far an f32 evaluation of the same
 * expression can be from it: each f32 operation adds at most u·|result| (u = 2^−24) to
 * the errors propagated from its operands, and errors in param / velocity / m / v are
 * carried into the next step, so the bound compounds over steps exactly as the rounding
 * can. The f32 result must lie within that bound (×1.0001, for the reference's own f64
 * rounding, which is ~1e-9 of the bound). The hyper-parameters are compared at their f32
 * values, because those are the kernel's inputs; the scalars the kernel rounds to f32
 * (Adam's step size, √(1 − β2^t) and AdamW's decay factor) enter as exact values with an
 * error of u·|value|.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { KernelAssertionError, type Engine } from "../../src/index.js";
import { EXACT_BUILDS, loadBuild, type TestEngine } from "../helpers/engines.js";
import { expectClose, expectSameBits } from "../helpers/compare.js";
import { TestRandom } from "../helpers/rand.js";
import { kernelBuffers, NAN_BITS, VECTOR_SIZES } from "../helpers/kernel-buffers.js";

const SIZES = VECTOR_SIZES;
const STEPS = 5;
const U = 2 ** -24;
const f32 = Math.fround;

// ---------------------------------------------------------------- running error bounds

/** A float64 value and a bound on the error of the same expression evaluated in f32. */
class Tracked {
  constructor(
    readonly v: number,
    readonly e = 0,
  ) {}

  /** An exact input. */
  static of(x: number): Tracked {
    return new Tracked(x, 0);
  }

  /** The exact value v rounded once to f32. */
  static f32(v: number): Tracked {
    return Tracked.rounded(v, 0);
  }

  /** Rounds a result whose operands carried a propagated error p: |fl(y) − y| ≤ u·|y| ≤ u·(|v| + p). */
  private static rounded(v: number, p: number): Tracked {
    return new Tracked(v, p + U * (Math.abs(v) + p));
  }

  add(o: Tracked): Tracked {
    return Tracked.rounded(this.v + o.v, this.e + o.e);
  }

  sub(o: Tracked): Tracked {
    return Tracked.rounded(this.v - o.v, this.e + o.e);
  }

  mul(o: Tracked): Tracked {
    return Tracked.rounded(this.v * o.v, Math.abs(this.v) * o.e + Math.abs(o.v) * this.e + this.e * o.e);
  }

  div(o: Tracked): Tracked {
    const q = this.v / o.v;
    return Tracked.rounded(q, (this.e + Math.abs(q) * o.e) / (Math.abs(o.v) - o.e));
  }

  sqrt(): Tracked {
    const r = Math.sqrt(this.v);
    const low = Math.sqrt(Math.max(this.v - this.e, 0));
    // |√a − √b| = |a − b| / (√a + √b); at a = 0 it is at most √e.
    return Tracked.rounded(r, r + low > 0 ? this.e / (r + low) : Math.sqrt(this.e));
  }
}

/** Values and error bounds of one buffer after one step. */
interface Expected {
  value: Float64Array;
  bound: Float64Array;
}

function expected(cells: Tracked[]): Expected {
  return { value: Float64Array.from(cells, (c) => c.v), bound: Float64Array.from(cells, (c) => c.e) };
}

/** |f32 result − f64 value| ≤ bound for every element. */
function expectWithinBound(actual: Float32Array, want: Expected, what: string): void {
  expectClose(actual, want.value, { rtol: 1.0001, atol: 0 }, what, want.bound);
}

// ---------------------------------------------------------------- SGD reference (torch.optim.SGD, dampening 0)

interface SgdConfig {
  lr: number;
  momentum: number;
  weightDecay: number;
  nesterov: boolean;
}

const SGD_CONFIGS: SgdConfig[] = [
  { lr: 0.1, momentum: 0, weightDecay: 0, nesterov: false },
  { lr: 0.1, momentum: 0, weightDecay: 0.01, nesterov: false },
  { lr: 0.05, momentum: 0.9, weightDecay: 0, nesterov: false },
  { lr: 0.05, momentum: 0.9, weightDecay: 0, nesterov: true },
  { lr: 0.05, momentum: 0.9, weightDecay: 0.01, nesterov: false },
  { lr: 0.03, momentum: 0.5, weightDecay: 0.1, nesterov: true },
  { lr: 0.1, momentum: 0, weightDecay: 0, nesterov: true }, // Nesterov needs momentum: a plain step
];

function sgdLabel(c: SgdConfig): string {
  const kind = c.momentum === 0 ? "plain" : c.nesterov ? "nesterov" : "momentum";
  return `${kind} (lr ${c.lr}, momentum ${c.momentum}, weight decay ${c.weightDecay}${c.nesterov ? ", nesterov flag" : ""})`;
}

/** PyTorch's SGD in float64 with error bounds; returns param and momentum buffer after each step. */
function sgdReference(c: SgdConfig, param0: Float32Array, grads: Float32Array[]): { param: Expected; velocity: Expected }[] {
  const lr = Tracked.of(f32(c.lr));
  const momentum = Tracked.of(f32(c.momentum));
  const wd = Tracked.of(f32(c.weightDecay));
  let param = Array.from(param0, Tracked.of);
  let buf: Tracked[] | undefined; // torch creates the momentum buffer on the first step
  const out: { param: Expected; velocity: Expected }[] = [];
  for (const grad of grads) {
    const d = Array.from(grad, (g, i) => (c.weightDecay !== 0 ? Tracked.of(g).add(wd.mul(param[i]!)) : Tracked.of(g)));
    let step = d;
    if (c.momentum !== 0) {
      buf = buf === undefined ? d : buf.map((b, i) => momentum.mul(b).add(d[i]!));
      const v = buf;
      step = c.nesterov ? d.map((di, i) => di.add(momentum.mul(v[i]!))) : v;
    }
    param = param.map((p, i) => p.sub(lr.mul(step[i]!)));
    out.push({ param: expected(param), velocity: expected(buf ?? param.map(() => Tracked.of(0))) });
  }
  return out;
}

// ---------------------------------------------------------------- Adam reference (torch.optim.Adam / AdamW)

interface AdamConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  decoupled: boolean;
}

const ADAM_CONFIGS: AdamConfig[] = [
  { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false },
  { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupled: false },
  { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: true },
  { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupled: true },
  { lr: 0.05, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, decoupled: true },
  { lr: 0.01, beta1: 0.5, beta2: 0.9, eps: 1e-6, weightDecay: 0, decoupled: false },
  { lr: 0.002, beta1: 0.8, beta2: 0.99, eps: 1e-3, weightDecay: 0.05, decoupled: false },
];

function adamLabel(c: AdamConfig): string {
  return `${c.decoupled ? "AdamW" : "Adam"} (lr ${c.lr}, betas ${c.beta1}/${c.beta2}, eps ${c.eps}, weight decay ${c.weightDecay})`;
}

interface AdamState {
  param: Expected;
  m: Expected;
  v: Expected;
}

/** PyTorch's Adam / AdamW in float64 with error bounds; returns param, m and v after steps 1, 2, …. */
function adamReference(c: AdamConfig, param0: Float32Array, grads: Float32Array[]): AdamState[] {
  const [lr, beta1, beta2, eps, wd] = [c.lr, c.beta1, c.beta2, c.eps, c.weightDecay].map(f32) as [number, number, number, number, number];
  const b1 = Tracked.of(beta1);
  const b2 = Tracked.of(beta2);
  const c1 = Tracked.of(1).sub(b1);
  const c2 = Tracked.of(1).sub(b2);
  const wdT = Tracked.of(wd);
  const epsT = Tracked.of(eps);
  let param = Array.from(param0, Tracked.of);
  let m = param.map(() => Tracked.of(0));
  let v = param.map(() => Tracked.of(0));
  const out: AdamState[] = [];
  grads.forEach((grad, index) => {
    const t = index + 1;
    const stepSize = Tracked.f32(lr / (1 - beta1 ** t));
    const bc2Sqrt = Tracked.f32(Math.sqrt(1 - beta2 ** t));
    const decay = Tracked.f32(1 - lr * wd);
    const next = param.map((p0, i) => {
      let p = p0;
      let g = Tracked.of(grad[i]!);
      if (!c.decoupled && wd !== 0) g = g.add(wdT.mul(p)); // Adam: L2 penalty in the gradient
      if (c.decoupled && wd !== 0) p = p.mul(decay); // AdamW: param *= 1 − lr·wd
      const mt = b1.mul(m[i]!).add(c1.mul(g));
      const vt = b2.mul(v[i]!).add(c2.mul(g.mul(g)));
      const denom = vt.sqrt().div(bc2Sqrt).add(epsT);
      return { p: p.sub(stepSize.mul(mt.div(denom))), mt, vt };
    });
    param = next.map((x) => x.p);
    m = next.map((x) => x.mt);
    v = next.map((x) => x.vt);
    out.push({ param: expected(param), m: expected(m), v: expected(v) });
  });
  return out;
}

// ---------------------------------------------------------------- wasm runners

/** Pre-step inputs: parameters and one gradient per step, uniform in [−1, 1). */
function makeInputs(n: number, seed: number): { param0: Float32Array; grads: Float32Array[] } {
  const rnd = new TestRandom(seed);
  return { param0: rnd.uniform(n), grads: Array.from({ length: STEPS }, () => rnd.uniform(n)) };
}

function sgd(engine: TestEngine, c: SgdConfig, reference: boolean) {
  const fn = reference ? engine.kernels.sgd_step_ref : engine.kernels.sgd_step;
  return (p: number, g: number, v: number, n: number) => fn(p, g, v, n, c.lr, c.momentum, c.weightDecay, c.nesterov ? 1 : 0);
}

function adam(engine: TestEngine, c: AdamConfig, reference: boolean) {
  const fn = reference ? engine.kernels.adam_step_ref : engine.kernels.adam_step;
  return (p: number, g: number, m: number, v: number, n: number, step: number) =>
    fn(p, g, m, v, n, c.lr, c.beta1, c.beta2, c.eps, c.weightDecay, step, c.decoupled ? 1 : 0);
}

function checkSgd(engine: TestEngine, c: SgdConfig, n: number, seed: number): void {
  const { param0, grads } = makeInputs(n, seed);
  const want = sgdReference(c, param0, grads);
  engine.scoped(() => {
    const fast = { p: engine.putF32(param0), v: engine.allocF32(n), run: sgd(engine, c, false) };
    const slow = { p: engine.putF32(param0), v: engine.allocF32(n), run: sgd(engine, c, true) };
    engine.f32(fast.v, n).fill(0);
    engine.f32(slow.v, n).fill(0);
    grads.forEach((grad, s) => {
      const g = engine.putF32(grad);
      fast.run(fast.p, g, fast.v, n);
      slow.run(slow.p, g, slow.v, n);
      const what = `sgd ${sgdLabel(c)} n=${n} step ${s + 1}`;
      expectSameBits(engine.readF32(fast.p, n), engine.readF32(slow.p, n), `${what}: param, SIMD vs reference`);
      expectSameBits(engine.readF32(fast.v, n), engine.readF32(slow.v, n), `${what}: velocity, SIMD vs reference`);
      expectSameBits(engine.readF32(g, n), grad, `${what}: grad must be read only`);
      expectWithinBound(engine.readF32(fast.p, n), want[s]!.param, `${what}: param vs float64`);
      expectWithinBound(engine.readF32(fast.v, n), want[s]!.velocity, `${what}: velocity vs float64`);
    });
  });
}

function checkAdam(engine: TestEngine, c: AdamConfig, n: number, seed: number): void {
  const { param0, grads } = makeInputs(n, seed);
  const want = adamReference(c, param0, grads);
  engine.scoped(() => {
    const alloc = (reference: boolean) => {
      const bufs = { p: engine.putF32(param0), m: engine.allocF32(n), v: engine.allocF32(n), run: adam(engine, c, reference) };
      engine.f32(bufs.m, n).fill(0);
      engine.f32(bufs.v, n).fill(0);
      return bufs;
    };
    const fast = alloc(false);
    const slow = alloc(true);
    grads.forEach((grad, s) => {
      const g = engine.putF32(grad);
      fast.run(fast.p, g, fast.m, fast.v, n, s + 1);
      slow.run(slow.p, g, slow.m, slow.v, n, s + 1);
      const what = `${adamLabel(c)} n=${n} step ${s + 1}`;
      for (const key of ["p", "m", "v"] as const) {
        expectSameBits(engine.readF32(fast[key], n), engine.readF32(slow[key], n), `${what}: ${key}, SIMD vs reference`);
      }
      expectSameBits(engine.readF32(g, n), grad, `${what}: grad must be read only`);
      expectWithinBound(engine.readF32(fast.p, n), want[s]!.param, `${what}: param vs float64`);
      expectWithinBound(engine.readF32(fast.m, n), want[s]!.m, `${what}: m vs float64`);
      expectWithinBound(engine.readF32(fast.v, n), want[s]!.v, `${what}: v vs float64`);
    });
  });
}

// ---------------------------------------------------------------- tests

describe("running error bound (test reference)", () => {
  it("stays within a few ulps of the parameter scale after five steps, so the float64 comparison is not vacuous", () => {
    const { param0, grads } = makeInputs(257, 99);
    // Largest bound in units of u·max|param| (the parameters are O(1), so absolute errors are what matter).
    const ulps = (e: Expected) => Math.max(...e.bound) / (U * Math.max(...Array.from(e.value, Math.abs)));
    const sgdWorst = Math.max(...SGD_CONFIGS.map((c) => ulps(sgdReference(c, param0, grads)[STEPS - 1]!.param)));
    const adamWorst = Math.max(...ADAM_CONFIGS.map((c) => ulps(adamReference(c, param0, grads)[STEPS - 1]!.param)));
    // Measured: about 5 for SGD; up to about 16 for AdamW, whose rounded decay factor enters every step.
    expect(sgdWorst).toBeLessThan(32);
    expect(adamWorst).toBeLessThan(32);
  });
});

describe.each(EXACT_BUILDS)("optimizers, %s build", (build) => {
  let engine: TestEngine;
  beforeAll(async () => {
    engine = await loadBuild(build);
  });

  describe("sgd_step", () => {
    SGD_CONFIGS.forEach((c, ci) => {
      it(`${sgdLabel(c)}: ${STEPS} steps from zero velocity, SIMD = reference bit for bit and = PyTorch's rule within f32 rounding, n in {${SIZES.join(", ")}}`, () => {
        for (const n of SIZES) checkSgd(engine, c, n, 1000 * ci + n);
      });
    });

    it("lr = 0 leaves the parameters bit for bit unchanged (with momentum, Nesterov and weight decay)", () => {
      for (const c of [SGD_CONFIGS[0]!, SGD_CONFIGS[5]!]) {
        for (const n of SIZES) {
          const { param0, grads } = makeInputs(n, 77 + n);
          engine.scoped(() => {
            const p = engine.putF32(param0);
            const v = engine.putF32(new Float32Array(n));
            for (const grad of grads) engine.kernels.sgd_step(p, engine.putF32(grad), v, n, 0, c.momentum, c.weightDecay, c.nesterov ? 1 : 0);
            expectSameBits(engine.readF32(p, n), param0, `sgd ${sgdLabel(c)} with lr 0, n=${n}`);
          });
        }
      }
    });

    it("momentum = 0 never touches the velocity buffer (NaN there stays bit for bit and does not reach the parameters)", () => {
      for (const c of [SGD_CONFIGS[0]!, SGD_CONFIGS[1]!, SGD_CONFIGS[6]!]) {
        for (const n of SIZES) {
          const { param0, grads } = makeInputs(n, 55 + n);
          engine.scoped(() => {
            const p = engine.putF32(param0);
            const v = kernelBuffers(engine).output(n);
            for (const grad of grads) sgd(engine, c, false)(p, engine.putF32(grad), v, n);
            const velocity = new Uint32Array(engine.kernels.memory.buffer, v, n);
            const changed = velocity.findIndex((bits) => bits !== NAN_BITS);
            expect(changed, `sgd ${sgdLabel(c)} n=${n}: velocity[${changed}] was written`).toBe(-1);
            expectWithinBound(engine.readF32(p, n), sgdReference(c, param0, grads)[STEPS - 1]!.param, `sgd ${sgdLabel(c)} n=${n}: param`);
          });
        }
      }
    });

    it("with momentum, the first step from zero velocity equals a plain step and stores v = g (torch's buffer clone)", () => {
      const n = 17;
      const { param0, grads } = makeInputs(n, 5);
      engine.scoped(() => {
        const pMomentum = engine.putF32(param0);
        const pPlain = engine.putF32(param0);
        const v = engine.putF32(new Float32Array(n));
        const g = engine.putF32(grads[0]!);
        engine.kernels.sgd_step(pMomentum, g, v, n, 0.1, 0.9, 0, 0);
        engine.kernels.sgd_step(pPlain, g, 0, n, 0.1, 0, 0, 0);
        expectSameBits(engine.readF32(pMomentum, n), engine.readF32(pPlain, n), "first momentum step vs plain step");
        expectSameBits(engine.readF32(v, n), grads[0]!, "velocity after the first step");
      });
    });
  });

  describe("adam_step", () => {
    ADAM_CONFIGS.forEach((c, ci) => {
      it(`${adamLabel(c)}: steps 1..${STEPS} from zero moments, SIMD = reference bit for bit and = PyTorch's rule within f32 rounding, n in {${SIZES.join(", ")}}`, () => {
        for (const n of SIZES) checkAdam(engine, c, n, 5000 + 1000 * ci + n);
      });
    });

    it("bias correction: the first step moves every parameter by ≈ lr against the sign of its gradient", () => {
      const n = 129;
      const { param0, grads } = makeInputs(n, 8);
      for (const decoupled of [false, true]) {
        engine.scoped(() => {
          const p = engine.putF32(param0);
          const m = engine.putF32(new Float32Array(n));
          const v = engine.putF32(new Float32Array(n));
          engine.kernels.adam_step(p, engine.putF32(grads[0]!), m, v, n, 0.01, 0.9, 0.999, 1e-8, 0, 1, decoupled ? 1 : 0);
          const moved = Float64Array.from(engine.readF32(p, n), (x, i) => (param0[i]! - x) * Math.sign(grads[0]![i]!));
          // m̂ = g and v̂ = g², so the step is lr·g/(|g| + eps): lr to within eps/|g| and f32 rounding of p.
          const scale = Float64Array.from(param0, (x, i) => Math.abs(x) + 1e-8 / Math.abs(grads[0]![i]!) / U);
          expectClose(moved, new Float64Array(n).fill(0.01), { rtol: 2 * U, atol: 0 }, `first step, decoupled=${decoupled}`, scale);
        });
      }
    });

    it("AdamW with weight decay 0 is Adam bit for bit", () => {
      const n = 67;
      const { param0, grads } = makeInputs(n, 9);
      const trajectory = (decoupled: number) =>
        engine.scoped(() => {
          const p = engine.putF32(param0);
          const m = engine.putF32(new Float32Array(n));
          const v = engine.putF32(new Float32Array(n));
          grads.forEach((g, s) => engine.kernels.adam_step(p, engine.putF32(g), m, v, n, 0.01, 0.9, 0.999, 1e-8, 0, s + 1, decoupled));
          return engine.readF32(p, n);
        });
      expectSameBits(trajectory(1), trajectory(0), "AdamW(wd 0) vs Adam");
    });

    it("with a zero gradient AdamW only decays (p·f32(1 − lr·wd)), while Adam's L2 term moves p by ≈ lr toward 0", () => {
      const n = 33;
      const param0 = new TestRandom(10).uniform(n);
      const zeros = new Float32Array(n);
      const lr = 0.01;
      const wd = 0.1;
      const run = (decoupled: number) =>
        engine.scoped(() => {
          const p = engine.putF32(param0);
          engine.kernels.adam_step(p, engine.putF32(zeros), engine.putF32(zeros), engine.putF32(zeros), n, lr, 0.9, 0.999, 1e-8, wd, 1, decoupled);
          return engine.readF32(p, n);
        });
      const decay = f32(1 - f32(lr) * f32(wd));
      expectSameBits(
        run(1),
        Float32Array.from(param0, (p) => f32(p * decay)),
        "AdamW, zero gradient",
      );
      // Adam: g = wd·p, so the first step is lr·sign(p) (|wd·p| ≫ eps here).
      const adamMoved = Float64Array.from(run(0), (x, i) => (param0[i]! - x) * Math.sign(param0[i]!));
      expectClose(adamMoved, new Float64Array(n).fill(lr), { rtol: 0, atol: 1e-6 }, "Adam, zero gradient");
    });

    it("lr = 0 leaves the parameters bit for bit unchanged (Adam and AdamW, with weight decay)", () => {
      for (const decoupled of [0, 1]) {
        for (const n of SIZES) {
          const { param0, grads } = makeInputs(n, 3 + n);
          engine.scoped(() => {
            const p = engine.putF32(param0);
            const m = engine.putF32(new Float32Array(n));
            const v = engine.putF32(new Float32Array(n));
            grads.forEach((g, s) => engine.kernels.adam_step(p, engine.putF32(g), m, v, n, 0, 0.9, 0.999, 1e-8, 0.1, s + 1, decoupled));
            expectSameBits(engine.readF32(p, n), param0, `${decoupled ? "AdamW" : "Adam"} with lr 0, n=${n}`);
          });
        }
      }
    });

    it.runIf(build === "debug")("debug build: step 0 raises KernelAssertionError (the step counts from 1)", () => {
      engine.scoped(() => {
        const buf = engine.putF32([1, 2, 3, 4]);
        const call = () => engine.kernels.adam_step(buf, buf, buf, buf, 4, 0.01, 0.9, 0.999, 1e-8, 0, 0, 0);
        expect(call).toThrow(KernelAssertionError);
        expect(call).toThrow(/adam_step: step counts from 1/);
      });
    });
  });
});
