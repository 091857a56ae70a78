/**
 * Step 4 of distill, run the stages: a built DistillRun → the main stage's result with
 * the others attached. The stages, in order:
 *   hint       hintEpochs epochs on the hint loss alone (skipped when resuming the main stage);
 *   main       the distillation loss, T and α set at each epoch's start;
 *   fine-tune  plain training on the labelled rows (fineTune), unless the main stage was aborted.
 * A checkpoint records its stage; resuming the main stage skips the (finished) hint stage.
 */
import type { Dataset } from "../data/dataset.js";
import { runLoop, type TrainResult } from "../train/loop.js";
import { train } from "../train/train.js";
import type { DistillResult } from "./options.js";
import type { DistillRun } from "./run.js";

export async function runStages(run: DistillRun): Promise<DistillResult> {
  const { plan, losses, hookBase, hints } = run;
  const { student, trainSet, validation, options } = plan;
  const resumeStage = options.resume?.stage;
  let hintStage: TrainResult | undefined;
  if (plan.hintEpochs > 0 && resumeStage !== "main") {
    hintStage = await runLoop(
      student,
      trainSet,
      validation,
      { ...options, epochs: plan.hintEpochs, steps: undefined, earlyStopping: undefined },
      {
        ...hookBase,
        inject: hints?.inject, // only the hints are computed in this stage
        loss: (batch) => losses.withTeacher(batch, losses.hintOnly),
      },
      "hint",
    );
  }

  const mainOptions = resumeStage === "main" ? options : { ...options, resume: undefined };
  const main = await runLoop(
    student,
    trainSet,
    validation,
    mainOptions,
    {
      ...hookBase,
      epochStart: (epoch) => {
        losses.temperature = plan.temperatureAt(epoch);
        losses.alpha = plan.alphaAt(epoch);
      },
      loss: (batch) => losses.withTeacher(batch, losses.main),
    },
    "main",
  );

  const result: DistillResult = { ...main };
  if (hintStage) result.hintStage = hintStage;
  if (options.fineTune && main.stopReason !== "aborted") {
    // The fine-tuning stage takes no checkpoints of its own (pass options.fineTune.checkpoint for that).
    // A StreamDataset is refused a fine-tuning stage (stream-checks.ts), so the data is in memory here.
    const data = plan.data as Dataset;
    const labelled = data.labelled === data.length ? data : data.labelledRows();
    result.fineTune = await train(student, labelled, { seed: plan.seed, batchSize: plan.batch, validation: options.validation, ...options.fineTune });
  }
  return result;
}
