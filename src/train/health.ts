/**
 * Watches a training run for collapse, so that a collapsed model is an error and never a
 * result: a loss that is not finite or has grown by orders of magnitude, a ReLU layer
 * whose every unit is zero for whole batches (dead), outputs that no longer depend on the
 * input (every row of a batch the same although the inputs differ), and training accuracy that falls back to chance
 * after it was above it. Each check reads what the forward pass left in wasm memory; none
 * allocates on the JS heap.
 */
import { DivergenceError } from "../errors.js";
import type { Sequential } from "../nn/sequential.js";

/** Tuning of the collapse checks, or `false` for none but the non-finite loss check. */
export interface DivergenceOptions {
  /** A batch loss above this many times the run's first batch loss is an explosion (default 1e4). */
  lossFactor?: number;
  /** Consecutive batches a ReLU layer must be all zero, or all output rows equal for differing inputs, to count (default 10, or one epoch's batches if fewer). */
  deadSteps?: number;
  /** Stop when an epoch's training accuracy is back at chance after an earlier epoch was above it (default true). */
  chance?: boolean;
}

/** The state that a checkpoint carries so that a resumed run checks the same way. */
export interface HealthState {
  firstLoss: number;
  deadRun: number;
  constantRun: number;
  bestAccuracy: number;
}

const DEFAULTS = { lossFactor: 1e4, deadSteps: 10, chance: true };
/** An epoch is "above chance" at chance + ABOVE and "back at chance" at or below chance + AT (accuracy fractions). */
const ABOVE = 0.1;
const AT = 0.01;

/** Which weights a failed check puts back. */
type Restore = "step" | "epoch";

export class HealthMonitor {
  readonly state: HealthState = { firstLoss: NaN, deadRun: 0, constantRun: 0, bestAccuracy: 0 };
  private readonly enabled: boolean;
  private readonly lossFactor: number;
  private readonly deadSteps: number;
  private readonly chance: boolean;
  /** The largest class's share of the training labels: the accuracy of always guessing it. */
  private readonly chanceAccuracy: number;
  /** Set by a failed check: what went wrong and which weights to put back; the loop restores them and throws `error()`. */
  problem = "";
  restore: Restore = "step";

  constructor(
    private readonly model: Sequential,
    options: DivergenceOptions | false | undefined,
    classCounts: ArrayLike<number>,
    batchesPerEpoch: number,
    /** Learning rate, temperature and the other settings a remedy names. */
    private readonly settings: { lr: number; temperature?: () => number; clipNorm?: number },
  ) {
    this.enabled = options !== false;
    const o = { ...DEFAULTS, ...(options || {}) };
    this.lossFactor = o.lossFactor;
    this.deadSteps = options && options.deadSteps !== undefined ? options.deadSteps : Math.min(o.deadSteps, Math.max(1, batchesPerEpoch));
    this.chance = o.chance;
    let total = 0;
    let largest = 0;
    for (let c = 0; c < classCounts.length; c++) {
      total += classCounts[c]!;
      largest = Math.max(largest, classCounts[c]!);
    }
    this.chanceAccuracy = total > 0 ? largest / total : 0;
  }

  /**
   * Checks a batch's loss (before backward): true when training must stop. Reads it from
   * its field: a changing double passed as an argument to a call V8 does not inline is
   * boxed, allocating on every step.
   */
  lossFailed(batch: { loss: number }): boolean {
    const loss = batch.loss;
    if (!Number.isFinite(loss)) {
      this.problem = `the loss became ${loss}`;
      this.restore = "step";
      return true;
    }
    if (!this.enabled) return false;
    if (Number.isNaN(this.state.firstLoss)) this.state.firstLoss = loss;
    if (loss > this.lossFactor * Math.max(this.state.firstLoss, 1e-3)) {
      this.problem = `the loss exploded to ${loss.toPrecision(3)}, ${(loss / this.state.firstLoss).toExponential(1)} times the first batch's ${this.state.firstLoss.toPrecision(3)}`;
      this.restore = "step";
      return true;
    }
    return false;
  }

  /**
   * Checks the forward pass of a batch of `rows` inputs at x (dead ReLU layers, outputs
   * that ignore the input): true when training must stop. Equal outputs count only when
   * the inputs were not all equal too (a batch of identical rows has identical outputs).
   */
  forwardFailed(x: number, logits: number, rows: number): boolean {
    if (!this.enabled) return false;
    const dead = this.model.deadReluLayer(rows);
    this.state.deadRun = dead >= 0 ? this.state.deadRun + 1 : 0;
    if (this.state.deadRun >= this.deadSteps) {
      this.problem = `every unit of ReLU layer ${dead} was zero for ${this.state.deadRun} batches in a row (a dead network)`;
      this.restore = "epoch";
      return true;
    }
    const k = this.model.engine.kernels;
    const constant = rows > 1 && k.rows_equal(logits, rows, this.model.outputs) === 1 && k.rows_equal(x, rows, this.model.inputs) === 0;
    this.state.constantRun = constant ? this.state.constantRun + 1 : 0;
    if (this.state.constantRun >= this.deadSteps) {
      this.problem = `the outputs were the same for every input for ${this.state.constantRun} batches in a row`;
      this.restore = "epoch";
      return true;
    }
    return false;
  }

  /** Checks an epoch's training accuracy: true when it fell back to chance after an earlier epoch was above it. */
  epochFailed(accuracy: number): boolean {
    // NaN: no accuracy (regression, or no row with a label), so nothing to compare with chance.
    if (!this.enabled || !this.chance || Number.isNaN(accuracy)) return false;
    const failed = this.state.bestAccuracy >= this.chanceAccuracy + ABOVE && accuracy <= this.chanceAccuracy + AT;
    if (failed) {
      this.problem = `training accuracy fell back to chance (${(100 * accuracy).toFixed(2)} %) after reaching ${(100 * this.state.bestAccuracy).toFixed(2)} %`;
      this.restore = "epoch";
    }
    this.state.bestAccuracy = Math.max(this.state.bestAccuracy, accuracy);
    return failed;
  }

  /** The error to throw, naming the problem, where it happened, which weights the model holds and what to try. */
  error(epoch: number, step: number, restored: string): DivergenceError {
    const t = this.settings.temperature?.();
    const scaled = t !== undefined && t > 1 ? ` The soft loss is scaled by T² = ${t * t}, which a smaller learning rate offsets.` : "";
    const remedies = [`a lower learning rate (it was ${this.settings.lr}; ${this.settings.lr / 10}, say)`];
    if (this.settings.clipNorm === undefined) remedies.push("gradient clipping (clipNorm, e.g. 5)");
    const he = this.model.specs.some((l) => (l.type === "dense" || l.type === "conv2d") && l.init === "he");
    if (he) remedies.push(`a gentler initialisation than "he" (init: "torch", the default, or "glorot")`);
    else remedies.push("inputs on a smaller scale (e.g. standardised features or pixels in [0, 1])");
    return new DivergenceError(
      `training collapsed at epoch ${epoch + 1}, step ${step + 1}: ${this.problem}. Training stopped and the model holds ${restored}.${scaled} ` +
        `Try ${remedies.join("; ")}. (To tune or turn off these checks: the divergence option.)`,
    );
  }
}
