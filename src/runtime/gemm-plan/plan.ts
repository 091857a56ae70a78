/**
 * A GEMM plan as a plain JSON object: which candidate each form runs in each shape class
 * (candidates.ts). `init({ plan })` takes one back (saved from `engine.gemmPlan`), checked
 * here: a malformed plan is an OptionError naming the key; a plan made by another
 * version of the library is not an error but is ignored (its candidates may mean other
 * loop nests), and the engine measures its own instead and says so in `gemmPlanNote`.
 *
 *   {
 *     "format": "distill-wasm/gemm-plan",
 *     "version": "0.1.0+gemm-plan.2",
 *     "source": "measured",                       // or "default"
 *     "gemm": {
 *       "nn": { "large": "64x256x256", "narrow": "8x4-deep1024", "row": "pass4x2" },
 *       "nt": { "large": "64x256x256", "narrow": "8x4-deep1024", "row": "group8" },
 *       "tn": { "large": "64x256x256", "narrow": "8x4-deep1024", "row": "pass4x2" },
 *       "panels": { "row": "steps2" }
 *     },
 *     "machine": "x64, 2 cores, Node 20.20.2", // informative, optional
 *     "probeMs": 6.2                              // measured plans: the probe's time
 *   }
 */
import { OptionError } from "../../errors.js";
import { checkOptions, number, oneOf, shape, show, type Schema } from "../../options/schema.js";
import type { KernelExports } from "../abi.js";
import { FORM_CLASSES, PLAN_VERSION, SLOTS, type GemmForm, type ShapeClass } from "./candidates.js";

export const PLAN_FORMAT = "distill-wasm/gemm-plan";

export type FormPlan = Partial<Record<ShapeClass, string>>;

export interface GemmPlan {
  format: typeof PLAN_FORMAT;
  /** The library version and candidate numbering it was made for (PLAN_VERSION). */
  version: string;
  /** "measured": timed at init on this machine; "default": the candidates as first tuned. */
  source: "measured" | "default";
  /** Per form, per shape class, the candidate's name. */
  gemm: Record<GemmForm, FormPlan>;
  /** Where it was measured (informative). */
  machine?: string;
  /** Milliseconds the probe took (informative). */
  probeMs?: number;
}

/** The plan every module starts with: candidate 0 in every slot. */
export function defaultPlan(): GemmPlan {
  const gemm = { nn: {}, nt: {}, tn: {}, panels: {} } as Record<GemmForm, FormPlan>;
  for (const s of SLOTS) gemm[s.form][s.shapeClass] = s.candidates[0]!;
  return { format: PLAN_FORMAT, version: PLAN_VERSION, source: "default", gemm };
}

function gemmSchema(): Schema {
  const forms: Record<string, ReturnType<typeof shape>> = {};
  for (const form of Object.keys(FORM_CLASSES) as GemmForm[]) {
    const classes: Record<string, ReturnType<typeof oneOf>> = {};
    for (const s of SLOTS.filter((x) => x.form === form)) classes[s.shapeClass] = oneOf(s.candidates);
    forms[form] = shape(classes, FORM_CLASSES[form]);
  }
  return forms;
}

const text = (v: unknown, name: string) => {
  if (typeof v !== "string") throw new OptionError(`${name} must be a string; got ${show(v)}`);
  return v;
};

/**
 * Checks a plan given to init. Returns it, or `ignored` (why) when it is well formed but
 * was made for another version; throws OptionError when it is malformed.
 */
export function checkPlan(value: unknown, op = "init: plan"): { plan: GemmPlan } | { ignored: string } {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new OptionError(`${op} must be "measure", "default" or a plan object (engine.gemmPlan); got ${show(value)}`);
  }
  const given = value as Record<string, unknown>;
  if (given.format !== PLAN_FORMAT) {
    throw new OptionError(`${op}.format must be ${JSON.stringify(PLAN_FORMAT)} (a plan object comes from engine.gemmPlan); got ${show(given.format)}`);
  }
  const version = text(given.version, `${op}.version`);
  if (version !== PLAN_VERSION) {
    return { ignored: `the given plan was made for ${JSON.stringify(version)}, not this build's ${JSON.stringify(PLAN_VERSION)}` };
  }
  const schema: Schema = {
    format: (v) => v,
    version: (v) => v,
    source: oneOf(["measured", "default"]),
    gemm: shape(gemmSchema(), Object.keys(FORM_CLASSES)),
    machine: text,
    probeMs: number({ min: 0 }),
  };
  const plan = checkOptions(op, schema, given, ["source", "gemm"]) as unknown as GemmPlan;
  return { plan };
}

/** Sets every slot of the module instance behind `kernels` to the plan's candidate. */
export function applyPlan(kernels: Pick<KernelExports, "gemm_plan_set">, plan: GemmPlan): void {
  for (const s of SLOTS) {
    const name = plan.gemm[s.form][s.shapeClass]!;
    const index = s.candidates.indexOf(name);
    if (index < 0 || kernels.gemm_plan_set(s.formId, s.classId, index) !== 1) {
      throw new OptionError(`GEMM plan: ${s.form}.${s.shapeClass} = ${JSON.stringify(name)} is not a candidate of this module`);
    }
  }
}

/** The plan as gemm_plan_set's arguments, [form, class, candidate] per slot (what a worker thread is sent). */
export function planSettings(plan: GemmPlan): [number, number, number][] {
  return SLOTS.map((s) => [s.formId, s.classId, s.candidates.indexOf(plan.gemm[s.form][s.shapeClass]!)]);
}

/** One line for reports: "nn 64x256x256/8x4-deep1024/pass4x2, nt …, panels steps2". */
export function describePlan(plan: GemmPlan): string {
  return (Object.keys(FORM_CLASSES) as GemmForm[]).map((form) => `${form} ${FORM_CLASSES[form].map((c) => plan.gemm[form][c]).join("/")}`).join(", ");
}
