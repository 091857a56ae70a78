/**
 * Step 3 of distill, build the run: a DistillPlan → a DistillRun holding what the stages
 * share: the student marked with the data's task, fake quantization started (when asked)
 * and room reserved for a batch; the teacher prepared (its logits cached once unless each
 * batch needs it: augmentation, hints, attention); the hint and attention pairs; the
 * losses' buffers; the loss hooks common to both stages (hookBase). dispose() frees all of
 * it, after a finished run or a failed build alike.
 */
import { copyToWasm } from "../data/wasm-data.js";
import { isStream, type StreamDataset } from "../data/stream/stream-dataset.js";
import type { Dataset } from "../data/dataset.js";
import type { Engine } from "../engine.js";
import { augmentHook } from "../train/augment.js";
import type { LossHooks } from "../train/loop.js";
import { copyWeights } from "../train/train.js";
import { AttentionTransfer } from "./attention.js";
import { Hints } from "./hints.js";
import { DistillLosses } from "./losses.js";
import type { DistillPlan } from "./plan.js";
import type { TeacherSource } from "./teacher.js";

/**
 * Lets the teacher allocate its buffers (and cache its logits) from a copy of the data in
 * wasm, freed afterwards: the training loop keeps a copy of its own, so that distillation
 * does not hold the data twice.
 */
async function prepareTeacher(engine: Engine, teacher: TeacherSource, data: Dataset | StreamDataset, batch: number, cache: boolean): Promise<void> {
  // A stream is never cached: the teacher runs on every batch (or its outputs come with the rows).
  if (isStream(data)) return teacher.prepare({ x: 0, y: 0, t: 0, rows: 0, features: data.features, targetWidth: 0, multiLabel: false }, batch, false);
  const owned: number[] = [];
  try {
    await teacher.prepare(copyToWasm(engine, data, owned), batch, cache);
  } finally {
    for (const p of owned) engine.free(p);
  }
}

export class DistillRun {
  hints?: Hints;
  attention?: AttentionTransfer;
  /** The per-batch losses, once built. */
  losses!: DistillLosses;
  /** The hooks both stages share (each adds its loss; the main stage its epochStart). */
  hookBase!: Omit<LossHooks, "loss">;
  /** Blocks of wasm memory the run allocated (freed by dispose). */
  private readonly owned: number[] = [];

  constructor(readonly plan: DistillPlan) {}

  /** Takes the memory and prepares the teacher; on a throw, dispose() still frees what was taken. */
  async build(): Promise<void> {
    const { plan, owned } = this;
    const { engine, student, teacher, trainSet, batch, seed, hintSpecs, attentionSpecs, options } = plan;
    plan.studentTask.mark();
    if (plan.quantize) student.startFakeQuantization({ activations: plan.quantize.activations === "int8" });
    student.reserve(Math.min(batch, trainSet.length));
    const perBatch = options.augment !== undefined || hintSpecs.length > 0 || attentionSpecs.length > 0;
    await prepareTeacher(engine, teacher, trainSet, Math.min(batch, trainSet.length), !perBatch);
    if (hintSpecs.length > 0) this.hints = new Hints(engine, hintSpecs, student, teacher.model!, batch, seed);
    if (attentionSpecs.length > 0) this.attention = new AttentionTransfer(engine, attentionSpecs, student, teacher.model!, batch);
    const { hints, attention } = this;
    const inject = new Map([...(hints?.inject ?? []), ...(attention?.inject ?? [])]);
    const take = (bytes: number) => {
      const p = engine.allocOwned(bytes);
      owned.push(p);
      return p;
    };
    const teacherLogits = take(batch * student.outputs * 4);
    const mseGrad = take(batch * student.outputs * 4);
    const parts = take(24);
    const augment = options.augment ? augmentHook(student, options.augment, student.inputs, seed, owned) : undefined;
    const weights = plan.weights ? copyWeights(student, plan.weights, owned) : 0;
    const losses = (this.losses = new DistillLosses(plan, { teacherLogits, mseGrad, parts, weights }, hints, attention));
    const sums = losses.sums;
    this.hookBase = {
      augment: augment?.apply,
      rngs: augment?.rng ? [augment.rng] : [],
      state: {
        save: () => ({ ...sums }),
        load: (v) => Object.assign(sums, { hard: v.hard ?? 0, soft: v.soft ?? 0, hint: v.hint ?? 0, attention: v.attention ?? 0, rows: v.rows ?? 0 }),
      },
      inject: inject.size > 0 ? inject : undefined,
      extraParameters: hints && hints.length > 0 ? [[hints.params, hints.grads, hints.length]] : [],
      takeParts: losses.takeParts,
      temperature: () => losses.temperature,
      fingerprint: () => ({
        teacher: teacher.identity(),
        softLoss: plan.softLoss,
        hints: hintSpecs,
        attention: attentionSpecs,
        hintEpochs: plan.hintEpochs,
        ...(plan.weights ? { classWeights: Array.from(plan.weights) } : {}),
        // Every epoch's T and α, so that a schedule given as a function is compared by what it gives.
        temperature: Array.from({ length: plan.epochCount }, (_, e) => plan.temperatureAt(e)),
        alpha: Array.from({ length: plan.epochCount }, (_, e) => plan.alphaAt(e)),
      }),
    };
  }

  /** Stops fake quantization and frees the teacher's, the pairs' and the run's memory. */
  dispose(): void {
    const { plan } = this;
    if (plan.quantize) plan.student.stopFakeQuantization();
    plan.teacher.dispose();
    this.hints?.dispose();
    this.attention?.dispose();
    for (const p of this.owned) plan.engine.free(p);
  }
}
