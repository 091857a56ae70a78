/**
 * bench/torch/step.py draws its weights and batches from Python twins of the suite's
 * seeded streams (bench/lib/native-params.ts seededParams, bench/lib/mlp.ts makeBatch);
 * the native suite's agreement check depends on it. Small networks through the driver
 * against the naive JavaScript MLP (bench/lib/naive-mlp.ts) on the same streams: the
 * logits, and the losses of the first two training steps of each kind (distillation with
 * cached logits, with a teacher forward, supervised). No timing is checked.
 * Skipped, with the reason printed, where Python with torch is not installed.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { makeBatch } from "../../bench/lib/mlp.js";
import { crossEntropyJs, distillLossJs, NaiveMlp } from "../../bench/lib/naive-mlp.js";
import { seededParams } from "../../bench/lib/native-params.js";
import { runTorchDriver } from "../../bench/lib/node-native.js";
import type { TorchScenario, TorchSpec } from "../../bench/lib/torch.js";

const DRIVER = fileURLToPath(new URL("../../bench/torch/step.py", import.meta.url));
const PYTHON = process.env.DISTILL_BENCH_PYTHON ?? "/usr/bin/python3";
const probe = spawnSync(PYTHON, ["-c", "import torch, numpy"], { encoding: "utf8" });
const HAS_TORCH = probe.status === 0;
if (!HAS_TORCH)
  console.log(`[bench] ${PYTHON} cannot import torch (${probe.error?.message ?? probe.stderr.trim().split("\n").at(-1)}): driver twin tests skipped`);

const [LR, MOMENTUM, T, ALPHA] = [0.05, 0.9, 4, 0.1];
const SCENARIOS: TorchScenario[] = [
  { id: "distill", kind: "distill", widths: [7, 5, 4, 3], seed: 3, batch: 6, batchSeed: 4 },
  { id: "distill-teacher", kind: "distill-teacher", widths: [7, 5, 3], seed: 5, teacherWidths: [7, 9, 3], teacherSeed: 6, batch: 5, batchSeed: 7 },
  { id: "ce", kind: "ce", widths: [7, 6, 3], seed: 8, batch: 4, batchSeed: 9 },
  { id: "infer", kind: "infer", widths: [7, 5, 4, 3], seed: 10, batch: 3, batchSeed: 11 },
];

/** What the driver must report for a scenario, from the naive JS MLP on the same streams. */
function expected(sc: TorchScenario): number[] {
  const classes = sc.widths.at(-1)!;
  const b = makeBatch(sc.batch, sc.widths[0]!, classes, sc.batchSeed);
  const net = new NaiveMlp(seededParams(sc.widths, sc.seed), sc.batch);
  if (sc.kind === "infer") return Array.from(net.forward(b.x, sc.batch).slice(0, Math.min(4, sc.batch) * classes));
  const teacherLogits =
    sc.kind === "distill-teacher" ? new NaiveMlp(seededParams(sc.teacherWidths!, sc.teacherSeed!), sc.batch).forward(b.x, sc.batch).slice() : b.teacherLogits;
  const grad = new Float32Array(sc.batch * classes);
  const step = () => {
    const s = net.forward(b.x, sc.batch);
    const loss = sc.kind === "ce" ? crossEntropyJs(grad, s, b.y, sc.batch, classes) : distillLossJs(grad, s, teacherLogits, b.y, sc.batch, classes, T, ALPHA);
    net.backward(grad, sc.batch);
    net.step(LR, MOMENTUM);
    return loss;
  };
  return [step(), step()];
}

describe.skipIf(!HAS_TORCH)("the PyTorch driver on the suite's seeded streams", () => {
  it("gives the naive JS logits and first two losses for every kind of scenario", async () => {
    const spec: TorchSpec = { threads: 1, quick: true, lr: LR, momentum: MOMENTUM, temperature: T, alpha: ALPHA, scenarios: SCENARIOS };
    const out = await runTorchDriver({ python: PYTHON, driver: DRIVER, spec, variant: { requested: "default BLAS" }, env: process.env });
    if ("skipped" in out) throw new Error(`the driver skipped: ${out.skipped}`);
    expect(out.env.threads).toBe(1);
    for (const [i, sc] of SCENARIOS.entries()) {
      const row = out.rows[i]!;
      const got = sc.kind === "infer" ? row.logits! : row.losses!;
      const want = expected(sc);
      expect(got.length, sc.id).toBe(want.length);
      const scale = Math.max(...want.map(Math.abs));
      got.forEach((g, j) => expect(Math.abs(g - want[j]!) / scale, `${sc.id} value ${j}: ${g} vs ${want[j]}`).toBeLessThan(1e-5));
      expect(row.samplesMs.length, `${sc.id}: --quick times three calls`).toBe(3);
    }
    // The second loss follows one update: it must differ from the first for the check to mean anything.
    expect(out.rows[0]!.losses![1]).not.toBe(out.rows[0]!.losses![0]);
  }, 120_000);
});
