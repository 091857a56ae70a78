/**
 * The engine a command runs on: `--threads N|auto` becomes `init({ threads })`, and main()
 * stops the engine's workers when the command ends (Deno would otherwise wait for them).
 */
import type { Engine } from "../engine.js";
import { init } from "../init.js";
import { UsageError, type Flags, type FlagSpec } from "./args.js";

export const ENGINE_FLAGS: Record<string, FlagSpec> = {
  threads: { kind: "string", help: "threads for matrix products: a number or auto (results are the same for any count)", default: "1" },
};

let current: Engine | undefined;

/** Initialises the default engine with the command's --threads. */
export async function startEngine(flags: Flags): Promise<Engine> {
  const text = String(flags.threads ?? "1");
  const count = Number(text);
  if (text !== "auto" && !(Number.isInteger(count) && count >= 1 && count <= 64)) {
    throw new UsageError(`--threads must be a whole number from 1 to 64 or auto; got ${JSON.stringify(text)}`);
  }
  current = await init({ threads: text === "auto" ? "auto" : count });
  return current;
}

/** Stops the workers of the engine startEngine made, if any. */
export function stopEngine(): void {
  current?.dispose();
  current = undefined;
}
