/**
 * `distill({ teacher, student, data, transfer, temperature, alpha, ... })`: trains a student
 * on α·CE(labels) + (1 − α)·soft(teacher, student) with the shared training loop, plus
 * optional FitNets hints (with a hint-only first stage), augmentation the teacher also
 * sees, and a fine-tuning stage on the labels afterwards. Rows without a label (a
 * `transfer` set, or MISSING_LABEL in `data`) get the soft term alone.
 *
 * One call is five steps, each in a file of its own:
 *   1. resolve options     options.ts   given → options checked against DISTILL_SCHEMA
 *   2. resolve data and    plan.ts      options → DistillPlan (data, losses, teacher source,
 *      teacher                          pairs, schedules); every refusal happens here
 *   3. build the run       run.ts       plan → DistillRun (memory, prepared teacher, hooks)
 *   4. run the stages      stages.ts    run → result of the hint, main and fine-tune stages
 *   5. finish              finish.ts    result → with the int8 model of quantize
 */
import { finish } from "./finish.js";
import { resolveDistillOptions, type DistillOptions, type DistillResult } from "./options.js";
import { resolvePlan } from "./plan.js";
import { DistillRun } from "./run.js";
import { runStages } from "./stages.js";

export { DISTILL_SCHEMA, type DistillOptions, type DistillResult, type EpochValue } from "./options.js";

export async function distill(given: DistillOptions): Promise<DistillResult> {
  const op = "distill";
  const options = resolveDistillOptions(op, given);
  const plan = resolvePlan(op, options);
  const run = new DistillRun(plan);
  try {
    await run.build();
    return finish(plan, await runStages(run));
  } finally {
    run.dispose();
  }
}
