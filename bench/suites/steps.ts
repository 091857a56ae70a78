/**
 * Section 2, end-to-end training steps at batch 128, momentum SGD (lr 0.05, momentum 0.9):
 *
 * (a) the knowledge-distillation step of a 784-800-800-10 ReLU student with cached
 *     teacher logits: loss α·CE(labels) + (1 − α)·T²·KL(softmax(t/T) ‖ softmax(s/T)),
 *     T = 4, α = 0.1 (distill's defaults);
 * (b) the teacher's supervised step, 784-1200-1200-10, cross-entropy on the labels.
 *
 * Implementations, and what one timed call is:
 * - distill-wasm step: the library's pieces driven directly, exactly one step on a
 *   wasm-resident batch: Sequential.forward (gemm_nt with fused bias + ReLU), the fused
 *   distill_loss (or cross_entropy) kernel, Sequential.backward (gemm_tn, bias_grad,
 *   relu_backward, gemm_nn), sgd_step over the flat parameter block.
 * - distill-wasm step, relaxed SIMD: the same on the relaxed-SIMD build (fused multiply-add;
 *   results may differ in the last bits between CPUs), where the runtime has relaxed SIMD.
 * - distill-wasm distill() / train(): the public API with a step budget on 1,024 samples
 *   (precomputed teacher logits for distill()), timed per step from onBatch timestamps
 *   after 5 warm-up steps. Adds what the loop does per step: gathering the shuffled batch,
 *   counting accuracy, snapshotting the weights for divergence recovery.
 * - tfjs-wasm / tfjs-cpu: the same model in tfjs-core (bench/lib/tfjs.ts): tf.variableGrads
 *   of the loss, tf.train.momentum(0.05, 0.9).applyGradients, loss read with dataSync,
 *   inside tf.tidy; input, one-hot labels and teacher logits are tensors created once.
 * - naive JS: bench/lib/naive-mlp.ts on Float32Arrays.
 *
 * Before timing, every implementation takes one step from the same initial weights on the
 * same batch; its loss and weight update must match the naive JS step's.
 */
import { Dataset, distill, mlp, train, type Engine, type Sequential } from "distill-wasm";
import { abortDisagreement, msCell, ratioCell, speedPhrase, type Context } from "../lib/context.js";
import { agreement, makeBatch, paramsOf, setParams, trainingFlops, type Agreement, type Batch, type MlpParams, type StepOutcome } from "../lib/mlp.js";
import { crossEntropyJs, distillLossJs, NaiveMlp } from "../lib/naive-mlp.js";
import { progress } from "../lib/progress.js";
import type { Timing } from "../lib/stats.js";
import { fmtNum, renderTable, type Column } from "../lib/table.js";
import { budgetFor, measure, once, timingOfSamples } from "../lib/timing.js";
import { TF_LIBS, TfMlp, useBackend, type TfBackend } from "../lib/tfjs.js";

export const LR = 0.05;
export const MOMENTUM = 0.9;
export const TEMPERATURE = 4;
export const ALPHA = 0.1;
export const BATCH = 128;
/** Relative loss difference and relative update difference allowed before anything is timed. */
export const LOSS_TOLERANCE = 1e-4;
export const UPDATE_TOLERANCE = 1e-3;
/** distill() / train() runs: warm-up steps, timed steps, dataset size (full run, --quick). */
const API_FULL = { warmup: 5, timed: 30, samples: 1024 };
const API_QUICK = { warmup: 1, timed: 3, samples: 256 };

export type Kind = "distill" | "ce";

/** The row of the relaxed-SIMD build (fused multiply-add): same kernels, not bit-identical across CPUs. */
export const RELAXED_STEP = "distill-wasm step, relaxed SIMD";

interface Scenario {
  id: "distillation" | "teacher";
  title: string;
  widths: number[];
  kind: Kind;
  seed: number;
}

function scenarios(distillWidths: number[], teacherWidths: number[]): Scenario[] {
  return [
    {
      id: "distillation",
      title: `(a) distillation step, student ${distillWidths.join("-")}, batch 128, T = 4, α = 0.1, cached teacher logits`,
      widths: distillWidths,
      kind: "distill",
      seed: 11,
    },
    { id: "teacher", title: `(b) teacher supervised step, ${teacherWidths.join("-")}, batch 128, cross-entropy`, widths: teacherWidths, kind: "ce", seed: 12 },
  ];
}
const SCENARIOS = scenarios([784, 800, 800, 10], [784, 1200, 1200, 10]);
/** --quick: narrow hidden layers, so that naive JS and tfjs-cpu take milliseconds. */
const QUICK_SCENARIOS = scenarios([784, 64, 64, 10], [784, 96, 96, 10]);

export interface StepRow {
  scenario: Scenario["id"];
  library: string;
  /** What one timed call is. */
  timed: string;
  timing: Timing;
  samplesPerSecond: number;
  /** GEMM FLOPs of a step / median */
  gflops: number;
  /** This row's median / the distill-wasm step's median. */
  distillSpeedup: number;
  finalLoss?: number;
}

export interface StepCheck {
  scenario: Scenario["id"];
  library: string;
  loss: number;
  agreement: Agreement;
}

export interface StepsResult {
  hyperparameters: Record<string, number>;
  rows: StepRow[];
  checks: StepCheck[];
  tolerances: { loss: number; update: number };
  skipped: Record<string, string>;
}

/** distill-wasm driven directly: one step per call on a wasm-resident batch. */
export class WasmStep {
  private readonly owned: number[] = [];
  /** The batch's inputs (rows, features) in wasm memory. */
  readonly x: number;
  private readonly y: number;
  /** The teacher logits (rows, classes) the distillation loss reads. */
  readonly t: number;
  private readonly grad: number;
  private readonly parts: number;
  private readonly velocity: number;

  /** An MLP of these widths, starting from `params`. */
  static mlp(engine: Engine, widths: number[], params: MlpParams, batch: Batch, kind: Kind): WasmStep {
    const model = mlp(widths, { engine });
    setParams(model, params);
    return new WasmStep(engine, model, batch, kind);
  }

  /** Steps `model` (which the step then owns and disposes) on `batch`. */
  constructor(
    private readonly engine: Engine,
    readonly model: Sequential,
    private readonly batch: Batch,
    private readonly kind: Kind,
  ) {
    this.model.reserve(batch.rows);
    const own = (bytes: number) => {
      const p = engine.allocOwned(bytes);
      this.owned.push(p);
      engine.kernels.zero_bytes(p, bytes);
      return p;
    };
    this.x = own(batch.x.length * 4);
    engine.f32(this.x, batch.x.length).set(batch.x);
    this.y = own(batch.rows * 4);
    engine.i32(this.y, batch.rows).set(batch.y);
    this.t = own(batch.teacherLogits.length * 4);
    engine.f32(this.t, batch.teacherLogits.length).set(batch.teacherLogits);
    this.grad = own(batch.rows * batch.classes * 4);
    this.parts = own(24);
    this.velocity = own(this.model.blockLength * 4);
  }

  readonly step = (): number => {
    const k = this.engine.kernels;
    const { rows, classes } = this.batch;
    const logits = this.model.forward(this.x, rows, true);
    const loss =
      this.kind === "distill"
        ? k.distill_loss(this.parts, this.grad, logits, this.t, this.y, rows, classes, TEMPERATURE, ALPHA, 0)
        : k.cross_entropy(this.grad, logits, this.y, rows, classes);
    this.model.backward(this.grad, rows);
    k.sgd_step(this.model.paramsPtr, this.model.gradsPtr, this.velocity, this.model.blockLength, LR, MOMENTUM, 0, 0);
    return loss;
  };

  dispose(): void {
    for (const p of this.owned) this.engine.free(p);
    this.model.dispose();
  }
}

/** distill() (kind "distill", precomputed logits) or train() with a step budget; returns the per-step losses and times. */
async function apiRun(
  engine: Engine,
  widths: number[],
  params: MlpParams,
  data: Batch,
  kind: Kind,
  steps: number,
): Promise<{ losses: number[]; stepMs: number[]; params: MlpParams }> {
  const model = mlp(widths, { engine });
  setParams(model, params);
  const losses: number[] = [];
  const stamps: number[] = [performance.now()];
  const dataset = Dataset.from(data.x, data.y, { features: data.features, classes: data.classes });
  const common = {
    steps,
    batchSize: BATCH,
    seed: 1,
    optimizer: { type: "sgd" as const, momentum: MOMENTUM, lr: LR },
    onBatch: (info: { loss: number }) => {
      stamps.push(performance.now());
      losses.push(info.loss);
    },
  };
  try {
    if (kind === "distill") {
      await distill({ ...common, student: model, data: dataset, teacher: data.teacherLogits, temperature: TEMPERATURE, alpha: ALPHA });
    } else {
      await train(model, dataset, common);
    }
    const stepMs = stamps.slice(1).map((t, i) => t - stamps[i]!);
    return { losses, stepMs, params: paramsOf(model) };
  } finally {
    model.dispose();
  }
}

export async function runSteps(ctx: Context): Promise<StepsResult> {
  console.log("\n## 2. Training steps (batch 128, momentum SGD lr 0.05 / 0.9, single thread)\n");
  const rows: StepRow[] = [];
  const checks: StepCheck[] = [];
  const skipped: Record<string, string> = {};
  const engine = ctx.engine;
  const tf = ctx.tfjs.tf;
  if (ctx.relaxed && "skipped" in ctx.relaxed) skipped[RELAXED_STEP] = ctx.relaxed.skipped;

  const { warmup: API_WARMUP_STEPS, timed: API_TIMED_STEPS, samples: API_SAMPLES } = ctx.quick ? API_QUICK : API_FULL;
  for (const sc of ctx.quick ? QUICK_SCENARIOS : SCENARIOS) {
    const arch = sc.widths.join("-");
    progress(`${sc.id} step\n`);
    const [inputs, classes] = [sc.widths[0]!, sc.widths[sc.widths.length - 1]!];
    const batch = makeBatch(BATCH, inputs, classes, sc.seed);
    const initModel = mlp(sc.widths, { engine, seed: sc.seed });
    const initial = paramsOf(initModel);
    initModel.dispose();
    const flops = trainingFlops(sc.widths, BATCH);

    // ---- one step of each implementation from the same weights, then compared
    const naive = new NaiveMlp(initial, BATCH);
    const naiveGrad = new Float32Array(BATCH * classes);
    const naiveStep = () => {
      const logits = naive.forward(batch.x, BATCH);
      const loss =
        sc.kind === "distill"
          ? distillLossJs(naiveGrad, logits, batch.teacherLogits, batch.y, BATCH, classes, TEMPERATURE, ALPHA)
          : crossEntropyJs(naiveGrad, logits, batch.y, BATCH, classes);
      naive.backward(naiveGrad, BATCH);
      naive.step(LR, MOMENTUM);
      return loss;
    };
    const reference: StepOutcome = { loss: naiveStep(), params: naive.params() };
    const outcomes: [string, StepOutcome][] = [];

    const wasmStep = WasmStep.mlp(engine, sc.widths, initial, batch, sc.kind);
    outcomes.push(["distill-wasm step", { loss: wasmStep.step(), params: paramsOf(wasmStep.model) }]);
    const relaxedStep = ctx.relaxed && "engine" in ctx.relaxed ? WasmStep.mlp(ctx.relaxed.engine, sc.widths, initial, batch, sc.kind) : undefined;
    if (relaxedStep) outcomes.push([RELAXED_STEP, { loss: relaxedStep.step(), params: paramsOf(relaxedStep.model) }]);
    const api = await apiRun(engine, sc.widths, initial, batch, sc.kind, 1);
    const apiName = sc.kind === "distill" ? "distill-wasm distill()" : "distill-wasm train()";
    outcomes.push([apiName, { loss: api.losses[0]!, params: api.params }]);

    const tfSteps = new Map<TfBackend, { run: () => number; dispose: () => void; numTensors: () => number }>();
    for (const backend of ["wasm", "cpu"] as TfBackend[]) {
      const lib = TF_LIBS[backend];
      if (!tf || !ctx.tfjs.available.includes(backend)) {
        skipped[lib] = ctx.tfjs.skipped[backend] ?? "not loaded";
        continue;
      }
      await useBackend(tf, backend);
      const model = new TfMlp(tf, initial);
      const x = tf.tensor2d(batch.x, [BATCH, inputs]);
      const onehot = tf.tensor2d(batch.onehot, [BATCH, classes]);
      const tl = sc.kind === "distill" ? tf.tensor2d(batch.teacherLogits, [BATCH, classes]) : undefined;
      const run = model.trainStep(x, onehot, tl, { lr: LR, momentum: MOMENTUM, temperature: TEMPERATURE, alpha: ALPHA });
      outcomes.push([lib, { loss: run(), params: model.params() }]);
      tfSteps.set(backend, {
        run,
        numTensors: () => tf.memory().numTensors,
        dispose: () => {
          model.dispose();
          for (const t of [x, onehot, tl]) t?.dispose();
        },
      });
    }

    const bad: string[] = [];
    for (const [library, outcome] of outcomes) {
      const a = agreement(initial, reference, outcome);
      checks.push({ scenario: sc.id, library, loss: outcome.loss, agreement: a });
      progress(
        `  check ${library}: loss ${outcome.loss.toPrecision(8)} (naive JS ${reference.loss.toPrecision(8)}, rel. diff ${a.lossRelErr.toExponential(1)}), ` +
          `update rel. diff ${a.updateRelErr.toExponential(1)} (${a.worstTensor})\n`,
      );
      if (!(a.lossRelErr <= LOSS_TOLERANCE) || !(a.updateRelErr <= UPDATE_TOLERANCE)) {
        bad.push(
          `${library}: loss ${outcome.loss} vs naive JS ${reference.loss} (relative ${a.lossRelErr.toExponential(2)}, allowed ${LOSS_TOLERANCE}); ` +
            `max |Δw − Δw_ref| / max |Δw_ref| = ${a.updateRelErr.toExponential(2)} in ${a.worstTensor} (allowed ${UPDATE_TOLERANCE})`,
        );
      }
    }
    if (bad.length > 0) abortDisagreement(`${sc.id} step: implementations disagree with the naive JS step`, bad.join("\n"));

    // ---- timing
    const timed: { library: string; timed: string; timing: Timing; finalLoss?: number }[] = [];
    let last = 0;
    const wasmTiming = await measure(`distill-wasm ${sc.id} step`, () => (last = wasmStep.step()), budgetFor(await once(wasmStep.step)));
    timed.push({ library: "distill-wasm step", timed: "forward + loss + backward + sgd_step kernels", timing: wasmTiming, finalLoss: last });
    wasmStep.dispose();
    if (relaxedStep) {
      const timing = await measure(`${RELAXED_STEP} ${sc.id}`, () => (last = relaxedStep.step()), budgetFor(await once(relaxedStep.step)));
      timed.push({ library: RELAXED_STEP, timed: "the same kernels, relaxed-SIMD build (fused multiply-add)", timing, finalLoss: last });
      relaxedStep.dispose();
    }

    const apiData = makeBatch(API_SAMPLES, inputs, classes, sc.seed + 1000);
    const timedApi = await apiRun(engine, sc.widths, initial, apiData, sc.kind, API_WARMUP_STEPS + API_TIMED_STEPS);
    const apiTiming = timingOfSamples(timedApi.stepMs.slice(API_WARMUP_STEPS));
    progress(`  ${`${apiName} (onBatch intervals)`.padEnd(52)} ${fmtNum(apiTiming.medianMs).padStart(7)} ms  (${apiTiming.samples} steps)\n`);
    timed.push({
      library: apiName,
      timed: `one step of ${sc.kind === "distill" ? "distill" : "train"}({ steps }) on ${API_SAMPLES} samples`,
      timing: apiTiming,
      finalLoss: timedApi.losses.at(-1),
    });

    for (const [backend, s] of tfSteps) {
      const lib = TF_LIBS[backend];
      await useBackend(tf!, backend);
      const tensors = s.numTensors();
      const timing = await measure(`${lib} ${sc.id} step`, () => (last = s.run()), budgetFor(await once(s.run)));
      if (s.numTensors() !== tensors) throw new Error(`${lib}: tensors leaked during the ${sc.id} step timing`);
      timed.push({ library: lib, timed: "variableGrads + momentum.applyGradients + dataSync", timing, finalLoss: last });
      s.dispose();
    }

    const naiveTiming = await measure(`naive JS ${sc.id} step`, () => (last = naiveStep()), budgetFor(await once(naiveStep)));
    timed.push({ library: "naive JS", timed: "Float32Array loops: forward, loss, backward, update", timing: naiveTiming, finalLoss: last });

    const base = wasmTiming.medianMs;
    const scRows = timed.map((t): StepRow => ({
      scenario: sc.id,
      library: t.library,
      timed: t.timed,
      timing: t.timing,
      samplesPerSecond: (BATCH * 1000) / t.timing.medianMs,
      gflops: flops / (t.timing.medianMs * 1e6),
      distillSpeedup: t.timing.medianMs / base,
      ...(t.finalLoss !== undefined ? { finalLoss: t.finalLoss } : {}),
    }));
    rows.push(...scRows);
    for (const r of scRows) {
      ctx.chart.push({
        group: sc.id === "distillation" ? `distillation step ${arch}, batch 128` : `teacher step ${arch}, batch 128`,
        library: r.library,
        samplesPerSecond: r.samplesPerSecond,
      });
    }
    printScenario(
      sc,
      scRows,
      checks.filter((c) => c.scenario === sc.id),
      reference.loss,
      flops,
    );

    const relaxedRow = scRows.find((r) => r.library === RELAXED_STEP);
    if (relaxedRow) {
      ctx.summary.push(
        `${sc.id === "distillation" ? "Distillation" : "Teacher"} step, relaxed SIMD (FMA, not bit-identical across CPUs): ` +
          `${fmtNum(relaxedRow.timing.medianMs)} ms, ${ratioCell(1 / relaxedRow.distillSpeedup)} the baseline build's speed`,
      );
    }
    const tfw = scRows.find((r) => r.library === "tfjs-wasm");
    const apiRow = scRows.find((r) => r.library === apiName)!;
    ctx.summary.push(
      `${sc.id === "distillation" ? `Distillation step (${arch})` : `Teacher step (${arch})`}, batch 128: ` +
        `distill-wasm ${fmtNum(base)} ms` +
        (tfw
          ? ` vs tfjs-wasm ${fmtNum(tfw.timing.medianMs)} ms → ${speedPhrase(tfw.distillSpeedup)}` +
            ` (through ${apiName}: ${fmtNum(apiRow.timing.medianMs)} ms, ${ratioCell(tfw.timing.medianMs / apiRow.timing.medianMs)})`
          : " (tfjs-wasm skipped)"),
    );
  }
  for (const [lib, reason] of Object.entries(skipped)) console.log(`SKIPPED ${lib}: ${reason}`);
  return {
    hyperparameters: {
      lr: LR,
      momentum: MOMENTUM,
      temperature: TEMPERATURE,
      alpha: ALPHA,
      batch: BATCH,
      apiWarmupSteps: API_WARMUP_STEPS,
      apiTimedSteps: API_TIMED_STEPS,
      apiSamples: API_SAMPLES,
    },
    rows,
    checks,
    tolerances: { loss: LOSS_TOLERANCE, update: UPDATE_TOLERANCE },
    skipped,
  };
}

function printScenario(sc: Scenario, rows: readonly StepRow[], checks: readonly StepCheck[], refLoss: number, flops: number): void {
  const check = (lib: string) => checks.find((c) => c.library === lib);
  const columns: Column<StepRow>[] = [
    { header: "library", cell: (r) => r.library, align: "left" },
    { header: "median ms ±IQR", cell: (r) => msCell(r.timing) },
    { header: "samples/s", cell: (r) => fmtNum(r.samplesPerSecond) },
    { header: "GFLOP/s", cell: (r) => fmtNum(r.gflops) },
    { header: "distill-wasm ÷", cell: (r) => ratioCell(r.distillSpeedup) },
    { header: "1-step loss", cell: (r) => (r.library === "naive JS" ? refLoss.toPrecision(7) : (check(r.library)?.loss.toPrecision(7) ?? "")) },
    { header: "Δw rel. diff", cell: (r) => (r.library === "naive JS" ? "(reference)" : (check(r.library)?.agreement.updateRelErr.toExponential(1) ?? "")) },
    { header: "timed call", cell: (r) => r.timed, align: "left" },
  ];
  console.log(sc.title);
  console.log();
  console.log(renderTable(columns, rows));
  console.log();
  console.log(
    `GFLOP/s counts the step's GEMMs (${(flops / 1e9).toFixed(3)} GFLOP: forward, weight gradients, input gradients but the first layer's). ` +
      `distill-wasm ÷ = median / distill-wasm step median.`,
  );
  console.log(
    `Agreement (before timing): one step from identical weights on the same batch; loss within ${LOSS_TOLERANCE} (relative) and ` +
      `max |Δw − Δw_naive| / max |Δw_naive| within ${UPDATE_TOLERANCE} per tensor, for every implementation.\n`,
  );
}
