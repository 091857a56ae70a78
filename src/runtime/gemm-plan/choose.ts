/**
 * The `plan` option of init: measure (what init does unless told otherwise), the default
 * plan (candidate 0 everywhere), or a saved plan.
 * A measured plan is cached per build for the life of the process (the CPU does not
 * change), so only the first engine of each build pays for the probe.
 */
import type { EnginePlan } from "../../engine.js";
import type { KernelExports } from "../abi.js";
import { describePlan, applyPlan, checkPlan, defaultPlan, type GemmPlan } from "./plan.js";
import { measurePlan } from "./measure.js";

export type PlanOption = "measure" | "default" | GemmPlan;

const measured = new Map<string, EnginePlan>();

/** Checks the option without touching a module: throws OptionError when it is malformed. */
export function checkPlanOption(option: unknown): void {
  if (option === undefined || option === "measure" || option === "default") return;
  checkPlan(option);
}

/**
 * Sets the plan on `kernels` (one instance) and says how it was chosen. `cacheKey` names an
 * embedded build whose measured plan other engines of this process may reuse.
 */
export async function choosePlan(kernels: KernelExports, option: unknown, cacheKey: string | undefined): Promise<EnginePlan> {
  if (option === "default") {
    const plan = defaultPlan();
    applyPlan(kernels, plan);
    return { plan, note: "the default plan: no probe" };
  }
  let ignored = "";
  if (option !== undefined && option !== "measure") {
    const checked = checkPlan(option);
    if ("plan" in checked) {
      applyPlan(kernels, checked.plan);
      const { source, machine } = checked.plan;
      return { plan: checked.plan, note: `the given plan (${source}${machine ? ` on ${machine}` : ""}): no probe` };
    }
    ignored = `ignored ${checked.ignored}; `;
    console.warn(`distill-wasm: init: plan ${checked.ignored}: it is ignored and the plan is measured instead`);
  }
  const cached = cacheKey === undefined ? undefined : measured.get(cacheKey);
  if (cached) {
    applyPlan(kernels, cached.plan);
    return { plan: cached.plan, note: `${ignored}measured by an earlier engine of this build in this process (${cached.plan.probeMs} ms)` };
  }
  const outcome = await measurePlan(kernels);
  if ("skipped" in outcome) {
    const plan = defaultPlan();
    applyPlan(kernels, plan);
    return { plan, note: `${ignored}the default plan: ${outcome.skipped}` };
  }
  const result = { plan: outcome.plan, note: `${ignored}measured at init in ${outcome.plan.probeMs} ms: ${describePlan(outcome.plan)}` };
  if (cacheKey !== undefined) measured.set(cacheKey, result);
  return result;
}
