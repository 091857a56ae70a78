/**
 * The committed cross-runtime checksum holds whatever GEMM plan the engine runs: the shared
 * scenario (MLP and CNN, teacher and student; GEMMs of every shape class: hidden layers,
 * the 4-class heads, the 3-row predictions on packed panels) under forced plans that
 * together run every candidate of every slot, on one thread and (one plan) on two.
 */
import { describe, expect, it } from "vitest";
import * as source from "../../src/index.js";
import { SLOTS } from "../../src/runtime/gemm-plan/candidates.js";
import { defaultPlan, type GemmPlan } from "../../src/runtime/gemm-plan/plan.js";
import { EXPECTED } from "./helpers.js";
import { runScenario } from "./scenario.mjs";

/** Plan i: candidate i (modulo the slot's count) in every slot, so plans 0..4 cover all. */
function forcedPlan(i: number): GemmPlan {
  const plan = defaultPlan();
  for (const s of SLOTS) plan.gemm[s.form][s.shapeClass] = s.candidates[i % s.candidates.length]!;
  return plan;
}
const PLANS = Math.max(...SLOTS.map((s) => s.candidates.length));

describe("the scenario's checksum under every GEMM plan", () => {
  for (let i = 0; i < PLANS; i++) {
    it(`forced plan ${i} (${SLOTS.map((s) => s.candidates[i % s.candidates.length]).join(", ")})`, async () => {
      const report = await runScenario(source, { plan: forcedPlan(i) });
      expect(report.checksum).toBe(EXPECTED.sha256);
    });
  }

  it("forced plan 2 on two threads (every worker is given the plan)", async () => {
    const report = await runScenario(source, { plan: forcedPlan(2), threads: 2 });
    expect(report.threads, report.threadsNote).toBe(2);
    expect(report.checksum).toBe(EXPECTED.sha256);
  });
});
