#!/usr/bin/env node
/**
 * The `distill-wasm` command. Usage mistakes exit with code 2 and a one-line message,
 * failures with code 1 (a typed library error: its message, no stack trace). Ctrl-C
 * (SIGINT) and SIGTERM both stop after the current batch and save what was trained, then
 * exit 128 + the signal's number as a shell reports it: 130 and 143 (a second signal
 * quits at once). A closed stdout (`… | head -1`) only stops the printing (see host.ts).
 *
 * An OptionError the library raises before the first training batch comes from checking
 * the options the flags made (a batch larger than the data, lr 0, T 0, …): a usage
 * mistake, exit 2. After the first batch it is a failure like any other, exit 1.
 */
import { DistillError, OptionError } from "../errors.js";
import { nodeHost, type Host, type StopSignal } from "../runtime/host.js";
import { helpText, parseFlags, UsageError, type Flags, type FlagSpec } from "./args.js";
import { BENCH_SPEC, BENCH_USAGE, runBench } from "./commands/bench.js";
import { DEMO_SPEC, DEMO_USAGE, runDemo } from "./commands/demo.js";
import { DISTILL_SPEC, DISTILL_USAGE, runDistill } from "./commands/distill.js";
import { EVAL_SPEC, EVAL_USAGE, runEval } from "./commands/eval.js";
import { EXPORT_SPEC, EXPORT_USAGE, runExport } from "./commands/export.js";
import { QUANTIZE_SPEC, QUANTIZE_USAGE, runQuantize } from "./commands/quantize.js";
import { runSearch, SEARCH_SPEC, SEARCH_USAGE } from "./commands/search.js";
import { runTrain, TRAIN_SPEC, TRAIN_USAGE } from "./commands/train.js";
import { makeContext, type Context } from "./context.js";
import { stopEngine } from "./engine.js";

interface Command {
  usage: string;
  spec: Record<string, FlagSpec>;
  run(ctx: Context, flags: Flags): Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  demo: { usage: DEMO_USAGE, spec: DEMO_SPEC, run: runDemo },
  train: { usage: TRAIN_USAGE, spec: TRAIN_SPEC, run: runTrain },
  distill: { usage: DISTILL_USAGE, spec: DISTILL_SPEC, run: runDistill },
  eval: { usage: EVAL_USAGE, spec: EVAL_SPEC, run: runEval },
  search: { usage: SEARCH_USAGE, spec: SEARCH_SPEC, run: runSearch },
  quantize: { usage: QUANTIZE_USAGE, spec: QUANTIZE_SPEC, run: runQuantize },
  export: { usage: EXPORT_USAGE, spec: EXPORT_SPEC, run: runExport },
  bench: { usage: BENCH_USAGE, spec: BENCH_SPEC, run: runBench },
};

const OVERVIEW = `usage: distill-wasm <command> [options]

commands:
  demo      teacher, scratch student and distilled student on the built-in MNIST digits; writes a report
  train     train a model on labels and save it (.safetensors)
  distill   distil a student from saved teachers or teacher logits
  eval      accuracy, top-5, NLL and calibration of a saved model
  search    try temperatures and α, ranked on a validation split
  quantize  a saved model as an int8 (or fp16) model file; size and accuracy before and after
  export    a saved model as ONNX or as a TensorFlow.js layers model
  bench     measure this machine and runtime

distill-wasm <command> --help shows a command's options.`;

export async function main(host: Host): Promise<number> {
  const [name, ...rest] = host.args;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    host.out(`${OVERVIEW}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) throw new UsageError(`unknown command ${JSON.stringify(name)}; the commands are ${Object.keys(COMMANDS).join(", ")}`);
  if (rest.includes("--help") || rest.includes("-h")) {
    host.out(helpText(command.usage, command.spec));
    return 0;
  }
  const flags = parseFlags(name, rest, command.spec);
  warnAboutThreads(host, flags);
  const controller = new AbortController();
  const ctx = makeContext(host, Boolean(flags.json), controller.signal);
  let interrupts = 0;
  const stop = host.onInterrupt((signal: StopSignal) => {
    controller.abort(signal); // the first signal's name stays the reason: it sets the exit code
    if (++interrupts > 1) host.exitNow(ctx.stopped().code);
    const again = signal === "SIGINT" ? "Ctrl-C again" : "SIGTERM again";
    host.err(`\n${signal === "SIGINT" ? "" : "SIGTERM: "}stopping after the current batch (${again} to quit now)\n`);
  });
  try {
    return await command.run(ctx, flags);
  } catch (err) {
    if (err instanceof OptionError && !ctx.trainingStarted) throw new UsageError(err.message);
    throw err;
  } finally {
    stop();
    stopEngine();
  }
}

/** --threads N above the cores: allowed (the results do not change), but oversubscribed workers run much slower. */
function warnAboutThreads(host: Host, flags: Flags): void {
  const threads = Number(flags.threads);
  if (Number.isInteger(threads) && threads > host.cores && threads <= 64) {
    host.err(`distill-wasm: warning: --threads ${threads} is more than the ${host.cores} cores of this machine; more threads than cores runs much slower\n`);
  }
}

const host = await nodeHost();
main(host).then(
  (code) => host.setExitCode(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      host.err(`distill-wasm: ${err.message}\n`);
      host.setExitCode(2);
    } else if (err instanceof DistillError) {
      host.err(`distill-wasm: ${err.message}\n`);
      host.setExitCode(1);
    } else {
      host.err(`distill-wasm: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      host.setExitCode(1);
    }
  },
);
