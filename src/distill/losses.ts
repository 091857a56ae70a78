/**
 * The distillation losses the training loop calls once per batch, with the epoch's T and α
 * and the epoch's running sums of each part:
 *   hintOnly  the hint-only stage: the hints' loss, no gradient on the logits;
 *   main      α·hard + (1 − α)·soft (+ hints + attention transfer), gradient into ctx.grad.
 * Both first fill the teacher's logits for the batch (withTeacher). Losses are passed in
 * fields (hints.loss, attention.loss, ctx.loss), never as return values: a number returned
 * by a call V8 does not inline is boxed, allocating every step.
 */
import type { Engine } from "../engine.js";
import type { Sequential } from "../nn/sequential.js";
import { DISTILL_SOFT_CROSS_ENTROPY, type KernelExports } from "../runtime/abi.js";
import type { BatchContext } from "../train/loop.js";
import type { AttentionTransfer } from "./attention.js";
import type { Hints } from "./hints.js";
import type { DistillPlan } from "./plan.js";
import type { TeacherSource } from "./teacher.js";

/** Per-batch buffers of the losses (byte offsets in wasm memory). */
export interface LossBuffers {
  /** (batch, outputs) f32: the teacher's logits of the batch */
  teacherLogits: number;
  /** (batch, outputs) f32: the soft MSE term's gradient, mixed into ctx.grad */
  mseGrad: number;
  /** 3 f64: the fused kernels' (total, hard, soft) */
  parts: number;
  /** (outputs) f32 class weights of the hard term, or 0 for none */
  weights: number;
}

export class DistillLosses {
  /** The epoch's softening temperature and hard-loss weight (set by the main stage's epochStart). */
  temperature = 4;
  alpha = 0.1;
  /** Sums over the epoch's batches of each part × rows, and the rows; saved in checkpoints. */
  readonly sums = { hard: 0, soft: 0, hint: 0, attention: 0, rows: 0 };
  private readonly engine: Engine;
  private readonly k: KernelExports;
  private readonly student: Sequential;
  private readonly teacher: TeacherSource;
  private readonly regression: boolean;
  private readonly multiLabel: boolean;
  private readonly softLoss: DistillPlan["softLoss"];
  private partsView: Float64Array;

  constructor(
    plan: DistillPlan,
    private readonly buffers: LossBuffers,
    private readonly hints: Hints | undefined,
    private readonly attention: AttentionTransfer | undefined,
  ) {
    this.engine = plan.engine;
    this.k = plan.engine.kernels;
    this.student = plan.student;
    this.teacher = plan.teacher;
    this.regression = plan.regression;
    this.multiLabel = plan.multiLabel;
    this.softLoss = plan.softLoss;
    this.partsView = plan.engine.f64(buffers.parts, 3);
  }

  /** The epoch's mean of each part (hint and attention when present) with its T and α; resets the sums. */
  readonly takeParts = (): Record<string, number> => {
    const sums = this.sums;
    const n = Math.max(sums.rows, 1);
    const out: Record<string, number> = { hard: sums.hard / n, soft: sums.soft / n, temperature: this.temperature, alpha: this.alpha };
    if (this.hints) out.hint = sums.hint / n;
    if (this.attention) out.attention = sums.attention / n;
    sums.hard = sums.soft = sums.hint = sums.attention = sums.rows = 0;
    return out;
  };

  /** Fills teacherLogits for the batch, then runs `then` (synchronously unless the teacher is an async function). */
  withTeacher(ctx: BatchContext, then: (ctx: BatchContext) => void): void | Promise<void> {
    const teacherLogits = this.buffers.teacherLogits;
    if (ctx.teacher !== 0) {
      this.k.copy_bytes(teacherLogits, ctx.teacher, ctx.rows * this.student.outputs * 4); // the stream's own
      then(ctx);
      return;
    }
    const pending = this.teacher.batchLogits(teacherLogits, ctx.x, ctx.rows, this.student.inputs, ctx.order, ctx.first, this.temperature);
    if (pending) return pending.then(() => then(ctx));
    then(ctx);
  }

  /** The hint-only stage's loss: the logits get no gradient, only the hints drive the student. */
  readonly hintOnly = (ctx: BatchContext): void => {
    const { hints, sums } = this;
    this.k.zero_bytes(ctx.grad, ctx.rows * this.student.outputs * 4);
    hints!.compute(this.student, this.teacher.model!, ctx.rows);
    const h = hints!.loss;
    sums.hint += h * ctx.rows;
    sums.rows += ctx.rows;
    ctx.loss = h;
  };

  /** The main stage's loss: α·hard + (1 − α)·soft (+ hints + attention transfer), gradient into ctx.grad. */
  readonly main = (ctx: BatchContext): void => {
    const { k, student, hints, attention, sums, temperature, alpha } = this;
    const { teacherLogits, mseGrad, parts, weights: weightsPtr } = this.buffers;
    const n = ctx.rows * student.outputs;
    let total: number;
    let hard: number;
    let soft: number;
    if (this.multiLabel) {
      // Rows flagged MISSING_LABEL (transfer rows) get the soft term alone, inside the kernel.
      total = k.distill_bce(parts, ctx.grad, ctx.logits, teacherLogits, ctx.targets, ctx.y, ctx.rows, student.outputs, temperature, alpha);
      if (this.partsView.buffer !== this.engine.kernels.memory.buffer) this.partsView = this.engine.f64(parts, 3); // memory grew
      hard = this.partsView[1]!;
      soft = this.partsView[2]!;
    } else if (this.regression) {
      // A row without a target gets the predictions as its target: no hard loss, no hard gradient.
      // Both terms are means over the batch's rows · outputs values, as in cross_entropy's 1/rows.
      k.fill_missing_rows(ctx.targets, ctx.logits, ctx.y, ctx.rows, student.outputs * 4);
      hard = k.mse(ctx.grad, ctx.logits, ctx.targets, n, 1 / n);
      soft = k.mse(mseGrad, ctx.logits, teacherLogits, n, 1 / n);
      k.axpby(ctx.grad, mseGrad, n, 1 - alpha, alpha); // grad = α·g_hard + (1 − α)·g_soft
      total = alpha * hard + (1 - alpha) * soft;
    } else if (this.softLoss === "mse") {
      hard = weightsPtr
        ? k.cross_entropy_weighted(ctx.grad, ctx.logits, ctx.y, weightsPtr, ctx.rows, student.outputs)
        : k.cross_entropy(ctx.grad, ctx.logits, ctx.y, ctx.rows, student.outputs);
      soft = k.mse(mseGrad, ctx.logits, teacherLogits, n, 1 / n);
      k.axpby(ctx.grad, mseGrad, n, 1 - alpha, alpha); // grad = α·g_hard + (1 − α)·g_soft
      total = alpha * hard + (1 - alpha) * soft;
    } else {
      const flags = this.softLoss === "soft-ce" ? DISTILL_SOFT_CROSS_ENTROPY : 0;
      total = weightsPtr
        ? k.distill_loss_weighted(parts, ctx.grad, ctx.logits, teacherLogits, ctx.y, weightsPtr, ctx.rows, student.outputs, temperature, alpha, flags)
        : k.distill_loss(parts, ctx.grad, ctx.logits, teacherLogits, ctx.y, ctx.rows, student.outputs, temperature, alpha, flags);
      if (this.partsView.buffer !== this.engine.kernels.memory.buffer) this.partsView = this.engine.f64(parts, 3); // memory grew
      hard = this.partsView[1]!;
      soft = this.partsView[2]!;
    }
    if (hints) hints.compute(student, this.teacher.model!, ctx.rows);
    if (attention) attention.compute(student, this.teacher.model!, ctx.rows);
    const h = hints ? hints.loss : 0;
    const at = attention ? attention.loss : 0;
    sums.hard += hard * ctx.rows;
    sums.soft += soft * ctx.rows;
    sums.hint += h * ctx.rows;
    sums.attention += at * ctx.rows;
    sums.rows += ctx.rows;
    ctx.loss = total + h + at;
  };
}
