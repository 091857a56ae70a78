/**
 * init({ plan }): the probe's plan, the default, a saved plan reused as is, malformed plans
 * refused with an OptionError naming the key, a plan of another version ignored (measured
 * instead, with a warning and a note), and the threaded engine's workers set to the plan.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { createEngine, OptionError, type GemmPlan } from "../../src/index.js";
import { PLAN_VERSION, SLOTS } from "../../src/runtime/gemm-plan/candidates.js";
import { defaultPlan } from "../../src/runtime/gemm-plan/plan.js";
import { SCRATCH_BYTES } from "../../src/runtime/abi.js";
import { embeddedModule } from "../../src/runtime/source.js";
import { ThreadPool } from "../../src/runtime/threads/pool.js";
import { instantiateKernels } from "../../src/runtime/loader.js";

/** The module's slots read back with gemm_plan_get, as candidate names. */
function modulePlan(kernels: { gemm_plan_get(form: number, shapeClass: number): number }): Record<string, string> {
  return Object.fromEntries(SLOTS.map((s) => [`${s.form}.${s.shapeClass}`, s.candidates[kernels.gemm_plan_get(s.formId, s.classId)]!]));
}
const planSlots = (plan: GemmPlan) => Object.fromEntries(SLOTS.map((s) => [`${s.form}.${s.shapeClass}`, plan.gemm[s.form][s.shapeClass]!]));

/** A valid plan that differs from the default in every slot. */
function otherPlan(): GemmPlan {
  const plan = defaultPlan();
  for (const s of SLOTS) plan.gemm[s.form][s.shapeClass] = s.candidates.at(-1)!;
  return { ...plan, source: "measured", machine: "test", probeMs: 1 };
}

afterEach(() => {
  vi.restoreAllMocks();
});

/**
 * The probe ran: a measured plan, or (on a machine so loaded that the wasm engine had not
 * optimised the candidates after the warm-up's time limit) the default plan with that reason.
 */
function expectProbed(plan: GemmPlan, note: string): void {
  if (plan.source === "measured") expect(note).toMatch(/^measured (at init in \d|by an earlier engine of this build)/);
  else expect(note).toMatch(/^the default plan: the candidates' code was still being optimised after/);
}

describe("init({ plan })", () => {
  it("measures when no plan is asked for", async () => {
    const engine = await createEngine();
    expectProbed(engine.gemmPlan!, engine.gemmPlanNote);
    expect(modulePlan(engine.kernels)).toEqual(planSlots(engine.gemmPlan!));
  });

  it('"measure": engine.gemmPlan is what the module runs, a plain JSON object', async () => {
    const engine = await createEngine({ plan: "measure" });
    const plan = engine.gemmPlan!;
    expect(plan.format).toBe("distill-wasm/gemm-plan");
    expect(plan.version).toBe(PLAN_VERSION);
    expectProbed(plan, engine.gemmPlanNote);
    expect(JSON.parse(JSON.stringify(plan))).toEqual(plan);
    expect(modulePlan(engine.kernels)).toEqual(planSlots(plan));
  });

  it('"default" skips the probe and sets candidate 0 everywhere', async () => {
    const engine = await createEngine({ plan: "default" });
    expect(engine.gemmPlan).toEqual(defaultPlan());
    expect(engine.gemmPlanNote).toMatch(/no probe/);
    for (const s of SLOTS) expect(engine.kernels.gemm_plan_get(s.formId, s.classId)).toBe(0);
  });

  it("a saved plan is used as is, after a JSON round trip", async () => {
    const saved = JSON.parse(JSON.stringify(otherPlan())) as GemmPlan;
    const engine = await createEngine({ plan: saved });
    expect(engine.gemmPlan).toEqual(saved);
    expect(engine.gemmPlanNote).toBe("the given plan (measured on test): no probe");
    expect(modulePlan(engine.kernels)).toEqual(planSlots(saved));
  });

  it("malformed plans are OptionErrors naming the key", async () => {
    const bad = (mutate: (p: Record<string, any>) => void) => {
      const p = JSON.parse(JSON.stringify(defaultPlan()));
      mutate(p);
      return p;
    };
    const cases: [unknown, RegExp][] = [
      ["fastest", /init: plan must be "measure", "default" or a plan object/],
      [42, /init: plan must be "measure"/],
      [bad((p) => delete p.format), /init: plan\.format must be "distill-wasm\/gemm-plan"/],
      [bad((p) => (p.version = 3)), /init: plan\.version must be a string; got 3/],
      [bad((p) => (p.gemm.nt.large = "64x256")), /init: plan\.gemm\.nt\.large must be one of "64x256x256"/],
      [bad((p) => (p.gemm.nn.row = "group8")), /init: plan\.gemm\.nn\.row must be one of "pass4x2", "pass4", "pass2", "pass8"/],
      [bad((p) => delete p.gemm.tn.narrow), /init: plan\.gemm\.tn: narrow is required/],
      [bad((p) => (p.gemm.panels.large = "64x256x256")), /unknown option "large"/],
      [bad((p) => (p.gemm.nnn = {})), /unknown option "nnn"; did you mean "nn"\?/],
      [bad((p) => (p.sorce = "measured")), /unknown option "sorce"; did you mean "source"\?/],
      [bad((p) => (p.probeMs = -1)), /init: plan\.probeMs must be a finite number ≥ 0/],
    ];
    for (const [plan, message] of cases) {
      await expect(createEngine({ plan: plan as GemmPlan }), String(message)).rejects.toThrow(OptionError);
      await expect(createEngine({ plan: plan as GemmPlan })).rejects.toThrow(message);
    }
  });

  it("a plan of another version is ignored: measured instead, with a warning and a note", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const old = { ...otherPlan(), version: "0.0.9+gemm-plan.1", gemm: { nn: { large: "no-such-candidate" } } };
    const engine = await createEngine({ plan: old as unknown as GemmPlan });
    expect(engine.gemmPlan!.source).toBe("measured");
    expect(engine.gemmPlanNote).toMatch(/^ignored the given plan was made for "0\.0\.9\+gemm-plan\.1", not this build's "0\.1\.0\+gemm-plan\.\d+"; measured/);
    expect(warn).toHaveBeenCalledOnce();
    expect(String(warn.mock.calls[0]![0])).toMatch(/it is ignored and the plan is measured instead/);
  });

  it("the threaded engine reports the plan and starts its workers with it", async () => {
    const plan = otherPlan();
    const engine = await createEngine({ threads: 2, plan });
    try {
      expect(engine.threads, engine.threadsNote).toBe(2);
      expect(engine.gemmPlan).toEqual(plan);
      expect(modulePlan(engine.kernels)).toEqual(planSlots(plan));
    } finally {
      engine.dispose();
    }
  });

  it("a worker that cannot set the plan fails the pool's start (so workers do apply it)", async () => {
    const module = await embeddedModule("threads");
    const memory = new WebAssembly.Memory({ initial: 32, maximum: 4096, shared: true });
    const kernels = await instantiateKernels(module, memory);
    const scratch = [kernels.heap_alloc(SCRATCH_BYTES) >>> 0];
    await expect(ThreadPool.start(module, memory, scratch, kernels, [[0, 0, 99]])).rejects.toThrow();
    const pool = await ThreadPool.start(module, memory, scratch, kernels, [[0, 0, 1]]);
    pool.stop();
  });
});
