#!/usr/bin/env node
/**
 * The `distill-wasm` command. Usage errors exit with code 2 and a one-line message;
 * failures exit with code 1.
 */
import { runDemo } from "./demo.js";
import { DistillError } from "../errors.js";

const USAGE = `usage: distill-wasm demo [--epochs N] [--seed S]

commands:
  demo    train a teacher and distil a small student on generated data, printing the loss and accuracy`;

class UsageError extends Error {}

function intFlag(args: string[], name: string, fallback: number, min: number): number {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const text = args[i + 1];
  const value = Number(text);
  if (text === undefined || !Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`${name} needs an integer ≥ ${min}; got ${text === undefined ? "nothing" : JSON.stringify(text)}`);
  }
  args.splice(i, 2);
  return value;
}

async function main(argv: string[]): Promise<number> {
  const args = [...argv];
  const command = args.shift();
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command !== "demo") throw new UsageError(`unknown command ${JSON.stringify(command)}; the commands are: demo`);
  const epochs = intFlag(args, "--epochs", 8, 1);
  const seed = intFlag(args, "--seed", 1, 0);
  if (args.length > 0) throw new UsageError(`unknown option ${JSON.stringify(args[0])} for demo`);
  await runDemo({ epochs, seed, log: (line) => console.log(line) });
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      console.error(`distill-wasm: ${err.message}\n\n${USAGE}`);
      process.exitCode = 2;
    } else if (err instanceof DistillError) {
      console.error(`distill-wasm: ${err.message}`);
      process.exitCode = 1;
    } else {
      console.error(err);
      process.exitCode = 1;
    }
  },
);
