/**
 * Section 7, whole epochs on MNIST: what a user experiences, beside the bare step of
 * section 2. One thread, batch 128, momentum SGD lr 0.05 / 0.9, seed 1, one epoch over the
 * first ROWS training images (default 10,000; --full-epochs: all 60,000; --quick: 1,024)
 * of the MNIST IDX files (--mnist=DIR, $DISTILL_BENCH_MNIST, or ../shared/data/mnist
 * beside the repository; skipped with the reason when none is found).
 *
 * - teacher 784-1200-1200-10 trained on the labels: `train()`, and `distill-wasm train` in a
 *   child process;
 * - student 784-800-800-10 distilled from that teacher (T = 4, α = 0.1): `distill()` with
 *   the teacher model, and `distill-wasm distill --teacher` (the teacher saved by `train()`);
 * each plain, and with dropout (0.2 on the inputs, 0.5 after each hidden layer) and random
 * shifts of up to 2 pixels. Without augmentation distill() computes the teacher's logits
 * once before the first epoch; with it, the teacher runs forward on every augmented batch.
 *
 * Columns: the epoch's seconds as the training loop records them (history[].seconds, the
 * CLI's --json history), the samples/s that gives, the whole call (train() / distill(),
 * including the teacher's logits; for the CLI the process from spawn to exit: start-up,
 * reading the IDX files, training, evaluating 1,000 test images, saving), and the
 * epoch's samples/s as a fraction of the bare step's (section 2's WasmStep on the same
 * network, timed here). The API and CLI runs start from the same seed: their epoch losses
 * are printed side by side.
 */
import { distill, loadIdx, mlp, saveModel, train, type Dataset, type EpochRecord, type Sequential } from "distill-wasm";
import { msCell, ratioCell, type Context } from "../lib/context.js";
import { makeBatch, paramsOf } from "../lib/mlp.js";
import { progress } from "../lib/progress.js";
import type { Timing } from "../lib/stats.js";
import { fmtNum, renderTable, type Column } from "../lib/table.js";
import { budgetFor, measure, once } from "../lib/timing.js";
import { ALPHA, BATCH, LR, MOMENTUM, TEMPERATURE, WasmStep } from "./steps.js";

const TEACHER = [784, 1200, 1200, 10];
const STUDENT = [784, 800, 800, 10];
const QUICK_TEACHER = [784, 96, 96, 10];
const QUICK_STUDENT = [784, 64, 64, 10];
export const EPOCH_ROWS = { default: 10_000, quick: 1_024, test: 1_000, quickTest: 100 };
const SEED = 1;
const DROPOUT = { input: 0.2, hidden: 0.5 };
const SHIFT = 2;

export type Regularisation = "none" | "dropout + shift";
export type Role = "teacher" | "student";

export interface EpochRow {
  role: Role;
  regularisation: Regularisation;
  /** "train()" / "distill()" or "CLI train" / "CLI distill". */
  through: string;
  epochSeconds: number;
  samplesPerSecond: number;
  /** train() / distill() call, or the CLI process from spawn to exit. */
  wallSeconds: number;
  /** Mean training loss of the epoch. */
  loss: number;
  /** samplesPerSecond / the bare step's samples/s. */
  ofBareStep: number;
}

export interface EpochsResult {
  rows?: number;
  testRows?: number;
  source?: string;
  bareStep?: Record<Role, { timing: Timing; samplesPerSecond: number }>;
  epochRows: EpochRow[];
  skipped?: string;
  failures: string[];
}

/** --full-epochs: every training image; --quick: 1,024; else EPOCH_ROWS.default. */
export function epochRowsOf(argv: readonly string[], quick: boolean): number | "all" {
  if (argv.includes("--full-epochs")) return "all";
  return quick ? EPOCH_ROWS.quick : EPOCH_ROWS.default;
}

/** The CLI flags of one run (beside --data, --out and --json). */
export function cliFlags(role: Role, regularisation: Regularisation, widths: readonly number[]): string[] {
  const flags = [
    "--arch",
    widths.join("-"),
    "--epochs",
    "1",
    "--batch-size",
    String(BATCH),
    "--optimizer",
    "momentum",
    "--lr",
    String(LR),
    "--seed",
    String(SEED),
  ];
  if (role === "student") flags.push("--temperature", String(TEMPERATURE), "--alpha", String(ALPHA));
  if (regularisation !== "none") flags.push("--dropout", `${DROPOUT.input},${DROPOUT.hidden}`, "--augment", `shift=${SHIFT}`);
  return flags;
}

/** The epoch record from a CLI --json document, or a message saying what is wrong. */
export function cliEpoch(stdout: string): EpochRecord | string {
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch {
    return `its output is not one JSON document: ${stdout.slice(0, 120)}`;
  }
  const history = (doc as { history?: unknown }).history;
  if (!Array.isArray(history) || history.length !== 1) return `its --json output has no one-epoch history`;
  const epoch = history[0] as EpochRecord;
  if (!(typeof epoch.seconds === "number" && epoch.seconds > 0) || typeof epoch.loss !== "number") return "its epoch record has no seconds or loss";
  return epoch;
}

export async function runEpochs(ctx: Context): Promise<EpochsResult> {
  console.log("\n## 7. Whole epochs on MNIST (one thread, batch 128, momentum SGD lr 0.05 / 0.9)\n");
  const native = ctx.platform.native;
  const failures: string[] = [];
  const skip = (skipped: string): EpochsResult => {
    console.log(`SKIPPED: ${skipped}`);
    return { epochRows: [], skipped, failures };
  };
  if (!native) return skip("this runtime cannot read the MNIST files or start the CLI (a browser page)");
  const wanted = epochRowsOf(ctx.argv, ctx.quick);
  const subset = await native.mnistSubset(ctx.argv, wanted, ctx.quick ? EPOCH_ROWS.quickTest : EPOCH_ROWS.test);
  if ("skipped" in subset) return skip(subset.skipped);
  const [teacherWidths, studentWidths] = ctx.quick ? [QUICK_TEACHER, QUICK_STUDENT] : [TEACHER, STUDENT];
  const engine = ctx.engine;
  const data: Dataset = await loadIdx(subset.dir, { split: "train" });
  console.log(`${subset.rows.toLocaleString("en-US")} training images from ${subset.source}; one epoch per row (--full-epochs: all of them).\n`);

  try {
    // ---- the bare step on these networks (section 2's WasmStep), for the last column
    const bareStep = {} as Record<Role, { timing: Timing; samplesPerSecond: number }>;
    for (const [role, widths] of [
      ["teacher", teacherWidths],
      ["student", studentWidths],
    ] as const) {
      const init = mlp(widths, { engine, seed: SEED });
      const step = WasmStep.mlp(engine, widths, paramsOf(init), makeBatch(BATCH, 784, 10, 5), role === "teacher" ? "ce" : "distill");
      init.dispose();
      const timing = await measure(`bare ${role} step`, step.step, budgetFor(await once(step.step)));
      step.dispose();
      bareStep[role] = { timing, samplesPerSecond: (BATCH * 1000) / timing.medianMs };
    }

    const epochRows: EpochRow[] = [];
    const add = (role: Role, regularisation: Regularisation, through: string, epoch: EpochRecord, wallSeconds: number) => {
      const samplesPerSecond = subset.rows / epoch.seconds;
      epochRows.push({
        role,
        regularisation,
        through,
        epochSeconds: epoch.seconds,
        samplesPerSecond,
        wallSeconds,
        loss: epoch.loss,
        ofBareStep: samplesPerSecond / bareStep[role].samplesPerSecond,
      });
    };
    const optimizer = { type: "sgd" as const, lr: LR, momentum: MOMENTUM };
    const common = { epochs: 1, batchSize: BATCH, seed: SEED, optimizer };
    const teacherFile = native.scratchPath("teacher.safetensors");
    const build = (widths: number[], regularisation: Regularisation): Sequential =>
      mlp(widths, { engine, seed: SEED, ...(regularisation === "none" ? {} : { inputDropout: DROPOUT.input, dropout: DROPOUT.hidden }) });
    const augment = (regularisation: Regularisation) => (regularisation === "none" ? {} : { augment: { shift: SHIFT } });
    let teacher: Sequential | undefined;
    try {
      for (const regularisation of ["none", "dropout + shift"] as const) {
        progress(`epochs: teacher ${teacherWidths.join("-")}, train(), ${regularisation}\n`);
        const model = build(teacherWidths, regularisation);
        let started = performance.now();
        const trained = await train(model, data, { ...common, ...augment(regularisation) });
        add("teacher", regularisation, "train()", trained.history[0]!, (performance.now() - started) / 1000);
        if (regularisation === "none") {
          await saveModel(model, teacherFile);
          teacher = model;
        } else model.dispose();

        progress(`epochs: student ${studentWidths.join("-")}, distill(), ${regularisation}\n`);
        const student = build(studentWidths, regularisation);
        started = performance.now();
        const distilled = await distill({ ...common, ...augment(regularisation), student, teacher: teacher!, data, temperature: TEMPERATURE, alpha: ALPHA });
        add("student", regularisation, "distill()", distilled.history[0]!, (performance.now() - started) / 1000);
        student.dispose();

        for (const role of ["teacher", "student"] as const) {
          const command = role === "teacher" ? "train" : "distill";
          progress(`epochs: distill-wasm ${command} (CLI), ${regularisation}\n`);
          const widths = role === "teacher" ? teacherWidths : studentWidths;
          const args = [command, "--data", `idx:${subset.dir}`, ...cliFlags(role, regularisation, widths)];
          if (role === "student") args.push("--teacher", teacherFile);
          args.push("--out", native.scratchPath(`${command}-${regularisation === "none" ? "plain" : "regularised"}.safetensors`), "--json");
          const run = await native.runCli(args);
          const epoch = run.code === 0 ? cliEpoch(run.stdout) : `exit code ${run.code}: ${run.stderr.trim().split("\n").slice(-3).join(" / ")}`;
          if (typeof epoch === "string") failures.push(`distill-wasm ${args.join(" ")}: ${epoch}`);
          else add(role, regularisation, `CLI ${command}`, epoch, run.ms / 1000);
        }
      }
    } finally {
      teacher?.dispose();
    }

    printEpochs(epochRows, bareStep, teacherWidths, studentWidths);
    for (const f of failures) console.log(`FAILED: ${f}`);
    const plain = (role: Role, through: string) => epochRows.find((r) => r.role === role && r.regularisation === "none" && r.through === through);
    const d = plain("student", "distill()");
    const c = plain("student", "CLI distill");
    if (d) {
      ctx.summary.push(
        `One MNIST epoch (${subset.rows.toLocaleString("en-US")} images) distilling ${studentWidths.join("-")}: distill() ${fmtNum(d.samplesPerSecond)} samples/s ` +
          `(${ratioCell(d.ofBareStep)} the bare step's ${fmtNum(bareStep.student.samplesPerSecond)})` +
          (c ? `, CLI ${fmtNum(c.samplesPerSecond)} samples/s in its epoch, ${fmtNum(c.wallSeconds)} s for the whole command` : ""),
      );
    }
    return { rows: subset.rows, testRows: subset.testRows, source: subset.source, bareStep, epochRows, failures };
  } finally {
    native.cleanup();
  }
}

function printEpochs(rows: readonly EpochRow[], bare: Record<Role, { timing: Timing; samplesPerSecond: number }>, teacher: number[], student: number[]): void {
  const columns: Column<EpochRow>[] = [
    { header: "network", cell: (r) => (r.role === "teacher" ? `teacher ${teacher.join("-")}` : `student ${student.join("-")}`), align: "left" },
    { header: "regularisation", cell: (r) => r.regularisation, align: "left" },
    { header: "through", cell: (r) => r.through, align: "left" },
    { header: "epoch s", cell: (r) => fmtNum(r.epochSeconds) },
    { header: "samples/s", cell: (r) => fmtNum(r.samplesPerSecond) },
    { header: "÷ bare step", cell: (r) => ratioCell(r.ofBareStep) },
    { header: "whole call s", cell: (r) => fmtNum(r.wallSeconds) },
    { header: "epoch loss", cell: (r) => r.loss.toPrecision(6) },
  ];
  console.log(renderTable(columns, rows));
  console.log();
  console.log(
    `Bare step (section 2's WasmStep, batch 128): teacher ${msCell(bare.teacher.timing)} ms = ${fmtNum(bare.teacher.samplesPerSecond)} samples/s, ` +
      `student distillation ${msCell(bare.student.timing)} ms = ${fmtNum(bare.student.samplesPerSecond)} samples/s. ` +
      `÷ bare step = the epoch's samples/s / the bare step's. Whole call: train() / distill() (with the teacher's logits) or the CLI process from spawn to exit ` +
      `(start-up, reading the files, the epoch, evaluating the test images, saving).`,
  );
  console.log(
    `Dropout: ${DROPOUT.input} on the inputs, ${DROPOUT.hidden} after each hidden layer; shift: up to ${SHIFT} pixels. With augmentation distill() runs the teacher forward on every batch.\n`,
  );
}
