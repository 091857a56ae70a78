/**
 * A small, strict flag parser for the command-line tool: `--name value` and `--flag`;
 * every unknown flag, missing value or malformed number is a UsageError naming it.
 */

export class UsageError extends Error {}

export type FlagKind = "string" | "int" | "number" | "boolean" | "list";

export interface FlagSpec {
  kind: FlagKind;
  /** One line for the help text. */
  help: string;
  default?: string | number | boolean;
  /** Smallest allowed value for int / number flags. */
  min?: number;
  max?: number;
}

export type Flags = Record<string, string | number | boolean | string[] | undefined>;

function parseValue(name: string, spec: FlagSpec, text: string): string | number | string[] {
  if (spec.kind === "string") return text;
  if (spec.kind === "list")
    return text
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
  const value = Number(text);
  const integer = spec.kind === "int";
  if (text.trim() === "" || !Number.isFinite(value) || (integer && !Number.isSafeInteger(value))) {
    throw new UsageError(`--${name} needs ${integer ? "an integer" : "a number"}; got ${JSON.stringify(text)}`);
  }
  if (spec.min !== undefined && value < spec.min) throw new UsageError(`--${name} must be ≥ ${spec.min}; got ${text}`);
  if (spec.max !== undefined && value > spec.max) throw new UsageError(`--${name} must be ≤ ${spec.max}; got ${text}`);
  return value;
}

/** Parses argv against the command's flags; defaults fill what was not given. */
export function parseFlags(command: string, argv: readonly string[], specs: Record<string, FlagSpec>): Flags {
  const flags: Flags = {};
  for (const [name, spec] of Object.entries(specs)) if (spec.default !== undefined) flags[name] = spec.default;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--")) throw new UsageError(`unexpected argument ${JSON.stringify(arg)} for ${command}`);
    let name = arg.slice(2);
    let inline: string | undefined;
    const eq = name.indexOf("=");
    if (eq >= 0) {
      inline = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    const spec = specs[name];
    if (!spec) throw new UsageError(`unknown option --${name} for ${command} (see distill-wasm ${command} --help)`);
    if (spec.kind === "boolean") {
      if (inline !== undefined) throw new UsageError(`--${name} takes no value`);
      flags[name] = true;
      continue;
    }
    const text = inline ?? argv[++i];
    if (text === undefined || (inline === undefined && text.startsWith("--"))) throw new UsageError(`--${name} needs a value`);
    flags[name] = parseValue(name, spec, text);
  }
  return flags;
}

/** The help text of one command. */
export function helpText(usage: string, specs: Record<string, FlagSpec>): string {
  const rows = Object.entries(specs).map(([name, spec]) => {
    const value = spec.kind === "boolean" ? "" : ` ${spec.kind === "list" ? "A,B,…" : spec.kind === "string" ? "VALUE" : "N"}`;
    const def = spec.default !== undefined && spec.kind !== "boolean" ? ` (default ${spec.default})` : "";
    return [`  --${name}${value}`, `${spec.help}${def}`] as const;
  });
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return `${usage}\n\noptions:\n${rows.map(([left, right]) => left.padEnd(width) + right).join("\n")}\n`;
}
