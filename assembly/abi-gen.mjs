// Build step, run first by `npm run build:wasm`: writes src/runtime/abi.generated.ts (gitignored),
// the TypeScript side of the kernel ABI, from the AssemblyScript sources, so that the ABI is
// written once. src/runtime/abi.ts re-exports it; test/toolchain/abi.test.ts fails when the file, the
// sources and the compiled builds disagree.
//
// What it reads (with the TypeScript parser: AssemblyScript is TypeScript syntax):
//   - assembly/index.ts, which may hold only comments and `export { f, g as h } from "./file";`
//     statements. Each name is the wasm export of a function that ./file.ts declares with
//     `export function`. (No `export *`, no local declarations, no constants: a constant
//     exported here would become a wasm global.)
//   - each such function's signature. Parameter and result types must be wasm value types:
//     i8 u8 i16 u16 i32 u32 isize usize bool f32 f64 (a JavaScript number) or i64 u64 (a
//     bigint); the result may also be void. No optional, default or rest parameters (the
//     compiler would add a hidden argument count to the ABI) and no type parameters.
//   - the `/** … */` comment right before each function, copied as its doc comment (a `_ref`
//     function without one is described as its kernel's reference twin).
//   - every `export const` of an integer type in the files index.ts exports from, listed in
//     index.ts or not (GEMM_RELU, SCRATCH_BYTES, …). Its initializer may use integer literals,
//     other constants (declared in the same file or imported from another assembly file),
//     parentheses and + - * / % << >> >>> & | ^ ~ (the bitwise ones on 32-bit values); the
//     value is computed here and must fit the constant's type. Any other exported constant
//     is an error, so that nothing is left out silently: make it non-exported or teach this
//     script its type.
//
// What it writes: one local type alias per AssemblyScript type used (`type usize = number`),
// so the TypeScript signatures read as the AssemblyScript ones; the constants with their
// values; `interface KernelExports` (memory, then every kernel in index.ts's order, grouped
// by source file, with parameter names, types and doc comments); and `KERNEL_NAMES`, the
// export names in the same order. The output depends on nothing but the sources.
//
// Adding a kernel: write it (with its doc comment) in its assembly file, add its name to
// assembly/index.ts and run `npm run build:wasm`; the TypeScript side follows.
//
// The inference entry, assembly/infer.ts (the module of `distill-wasm/infer`), follows the same
// rules and may only re-export kernels of index.ts, from the same functions and without `_ref`
// twins; its names go to src/infer/abi.generated.ts as INFER_KERNEL_NAMES and its type is a
// Pick of KernelExports, so both modules share one set of signatures.
//
// Usage: node assembly/abi-gen.mjs           writes src/runtime/abi.generated.ts and src/infer/abi.generated.ts
//        node assembly/abi-gen.mjs --check   exits 1 if either is missing or out of date
// As a module: generateAbi(root?) returns the first file's text, generateInferAbi(root?) the
// second's; readAbi(root?, entry?) the parsed ABI, readInferAbi(root?) the inference kernels.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import ts from "typescript";

export const ROOT = fileURLToPath(new URL("../", import.meta.url));
export const ENTRY = "assembly/index.ts";
export const OUTPUT = "src/runtime/abi.generated.ts";
/** The inference entry (distill-wasm/infer): a subset of ENTRY's kernels, and the file its names are written to. */
export const INFER_ENTRY = "assembly/infer.ts";
export const INFER_OUTPUT = "src/infer/abi.generated.ts";

/** AssemblyScript types allowed at the boundary, and how JavaScript sees them. */
export const BOUNDARY_TYPES = {
  i8: "number",
  u8: "number",
  i16: "number",
  u16: "number",
  i32: "number",
  u32: "number",
  isize: "number",
  usize: "number",
  bool: "number",
  f32: "number",
  f64: "number",
  i64: "bigint",
  u64: "bigint",
};

/** Integer types a constant may have, with their ranges. */
const INTEGER_RANGES = {
  i8: [-(2 ** 7), 2 ** 7 - 1],
  u8: [0, 2 ** 8 - 1],
  i16: [-(2 ** 15), 2 ** 15 - 1],
  u16: [0, 2 ** 16 - 1],
  i32: [-(2 ** 31), 2 ** 31 - 1],
  u32: [0, 2 ** 32 - 1],
  isize: [-(2 ** 31), 2 ** 31 - 1],
  usize: [0, 2 ** 32 - 1],
};

class AbiError extends Error {}

/** A parsed source file under root, with a `where(node)` for error messages. */
function parseFile(root, path, cache) {
  let file = cache.get(path);
  if (!file) {
    const full = join(root, path);
    if (!existsSync(full)) throw new AbiError(`abi-gen: ${path} does not exist`);
    const source = ts.createSourceFile(path, readFileSync(full, "utf8"), ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
    const where = (node) => `${path}:${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1}`;
    file = { path, source, where };
    cache.set(path, file);
  }
  return file;
}

/** assembly/x.ts for the specifier "./x" in the file at `from`. */
function resolveModule(root, from, specifier, where) {
  if (!specifier.startsWith("./") && !specifier.startsWith("../")) {
    throw new AbiError(`abi-gen: ${where}: "${specifier}" is not a relative import of an assembly file`);
  }
  const path = relative(root, resolve(root, dirname(from), `${specifier}.ts`))
    .split(sep)
    .join("/");
  if (!path.startsWith("assembly/")) throw new AbiError(`abi-gen: ${where}: "${specifier}" leaves assembly/`);
  return path;
}

const isExported = (node) => (node.modifiers ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);

/** The name of a plain type reference (`usize`), or `void`; anything else is undefined. */
function typeName(type) {
  if (!type) return undefined;
  if (type.kind === ts.SyntaxKind.VoidKeyword) return "void";
  if (ts.isTypeReferenceNode(type) && ts.isIdentifier(type.typeName) && !type.typeArguments) return type.typeName.text;
  return undefined;
}

/** The lines of the `/** … *\/` comment right before `node`, without the comment markers. */
function docLines(source, node) {
  const ranges = ts.getLeadingCommentRanges(source.text, node.getFullStart()) ?? [];
  const last = ranges.at(-1);
  if (!last || last.kind !== ts.SyntaxKind.MultiLineCommentTrivia) return undefined;
  const text = source.text.slice(last.pos, last.end);
  if (!text.startsWith("/**")) return undefined;
  const lines = text
    .slice(3, -2)
    .split("\n")
    .map((line) => line.replace(/^\s*\*? ?/, "").trimEnd());
  while (lines.length && !lines[0]) lines.shift();
  while (lines.length && !lines.at(-1)) lines.pop();
  return lines.length ? lines : undefined;
}

/** The exported functions and the top-level constants of a file, by name. */
function declarations(file) {
  if (!file.declarations) {
    const functions = new Map();
    const constants = new Map();
    const imports = new Map();
    for (const statement of file.source.statements) {
      if (ts.isFunctionDeclaration(statement) && statement.name && isExported(statement)) {
        functions.set(statement.name.text, statement);
      } else if (ts.isVariableStatement(statement) && statement.declarationList.flags & ts.NodeFlags.Const) {
        for (const declaration of statement.declarationList.declarations) {
          if (ts.isIdentifier(declaration.name)) {
            constants.set(declaration.name.text, { declaration, statement, exported: isExported(statement) });
          }
        }
      } else if (ts.isImportDeclaration(statement) && ts.isStringLiteral(statement.moduleSpecifier)) {
        const bindings = statement.importClause?.namedBindings;
        if (bindings && ts.isNamedImports(bindings)) {
          for (const element of bindings.elements) {
            imports.set(element.name.text, { specifier: statement.moduleSpecifier.text, name: (element.propertyName ?? element.name).text });
          }
        }
      }
    }
    file.declarations = { functions, constants, imports };
  }
  return file.declarations;
}

/** The value of the integer constant `name` as seen from `file`. */
function constantValue(root, cache, file, name, where, visiting = new Set()) {
  const { constants, imports } = declarations(file);
  const key = `${file.path}#${name}`;
  if (visiting.has(key)) throw new AbiError(`abi-gen: ${where}: ${name} refers to itself`);
  const local = constants.get(name);
  if (local) {
    const type = typeName(local.declaration.type);
    const range = INTEGER_RANGES[type];
    const at = file.where(local.declaration);
    if (!range)
      throw new AbiError(
        `abi-gen: ${at}: constant ${name} has type ${type ?? "(none)"}; only ${Object.keys(INTEGER_RANGES).join(" ")} constants are supported`,
      );
    if (!local.declaration.initializer) throw new AbiError(`abi-gen: ${at}: constant ${name} has no value`);
    const value = evaluate(root, cache, file, local.declaration.initializer, at, new Set([...visiting, key]));
    if (!Number.isSafeInteger(value) || value < range[0] || value > range[1]) {
      throw new AbiError(`abi-gen: ${at}: constant ${name} = ${value} is not a ${type}`);
    }
    return value;
  }
  const imported = imports.get(name);
  if (imported) {
    const target = parseFile(root, resolveModule(root, file.path, imported.specifier, where), cache);
    return constantValue(root, cache, target, imported.name, where, visiting);
  }
  throw new AbiError(`abi-gen: ${where}: ${name} is not a constant declared in or imported into ${file.path}`);
}

const BINARY = {
  [ts.SyntaxKind.PlusToken]: (a, b) => a + b,
  [ts.SyntaxKind.MinusToken]: (a, b) => a - b,
  [ts.SyntaxKind.AsteriskToken]: (a, b) => a * b,
  [ts.SyntaxKind.SlashToken]: (a, b) => Math.trunc(a / b),
  [ts.SyntaxKind.PercentToken]: (a, b) => a % b,
  [ts.SyntaxKind.LessThanLessThanToken]: (a, b) => a * 2 ** b,
  [ts.SyntaxKind.GreaterThanGreaterThanToken]: (a, b) => Math.floor(a / 2 ** b),
  [ts.SyntaxKind.GreaterThanGreaterThanGreaterThanToken]: (a, b) => a >>> b,
  [ts.SyntaxKind.AmpersandToken]: (a, b) => a & b,
  [ts.SyntaxKind.BarToken]: (a, b) => a | b,
  [ts.SyntaxKind.CaretToken]: (a, b) => a ^ b,
};

/** An integer constant expression (see the header comment for what it may contain). */
function evaluate(root, cache, file, node, where, visiting) {
  if (ts.isParenthesizedExpression(node)) return evaluate(root, cache, file, node.expression, where, visiting);
  if (ts.isNumericLiteral(node)) {
    const value = Number(node.text);
    if (!Number.isSafeInteger(value)) throw new AbiError(`abi-gen: ${where}: ${node.text} is not an integer literal`);
    return value;
  }
  if (ts.isIdentifier(node)) return constantValue(root, cache, file, node.text, where, visiting);
  if (ts.isPrefixUnaryExpression(node)) {
    const value = evaluate(root, cache, file, node.operand, where, visiting);
    if (node.operator === ts.SyntaxKind.MinusToken) return -value;
    if (node.operator === ts.SyntaxKind.PlusToken) return value;
    if (node.operator === ts.SyntaxKind.TildeToken) return ~value;
  }
  if (ts.isBinaryExpression(node) && BINARY[node.operatorToken.kind]) {
    const a = evaluate(root, cache, file, node.left, where, visiting);
    const b = evaluate(root, cache, file, node.right, where, visiting);
    return BINARY[node.operatorToken.kind](a, b);
  }
  throw new AbiError(`abi-gen: ${where}: cannot compute \`${node.getText(file.source)}\` (integer literals, constants and + - * / % << >> >>> & | ^ ~ only)`);
}

/** The signature of an exported kernel. */
function kernelSignature(file, node, exportName) {
  const at = file.where(node);
  if (node.typeParameters) throw new AbiError(`abi-gen: ${at}: ${exportName} has type parameters`);
  const params = node.parameters.map((parameter) => {
    const name = ts.isIdentifier(parameter.name) ? parameter.name.text : undefined;
    const type = typeName(parameter.type);
    const where = file.where(parameter);
    if (!name) throw new AbiError(`abi-gen: ${where}: ${exportName} has a destructured parameter`);
    if (parameter.questionToken || parameter.initializer || parameter.dotDotDotToken) {
      throw new AbiError(`abi-gen: ${where}: ${exportName}(${name}) is optional or rest; every kernel parameter must be required`);
    }
    if (!type || !(type in BOUNDARY_TYPES)) {
      throw new AbiError(
        `abi-gen: ${where}: ${exportName}(${name}: ${parameter.type?.getText(file.source) ?? "(no type)"}) is not one of ${Object.keys(BOUNDARY_TYPES).join(" ")}`,
      );
    }
    return { name, type };
  });
  const result = typeName(node.type);
  if (!result || (result !== "void" && !(result in BOUNDARY_TYPES))) {
    throw new AbiError(
      `abi-gen: ${at}: ${exportName} returns ${node.type?.getText(file.source) ?? "(no type)"}, not void or one of ${Object.keys(BOUNDARY_TYPES).join(" ")}`,
    );
  }
  return { params, result };
}

/**
 * The ABI as the sources declare it:
 *   kernels: { name, file, local, params: { name, type }[], result, doc?: string[] }[]  in index.ts's order
 *   constants: { name, file, type, value, expression, doc?: string[] }[]                in file, then source order
 * `entryPath` is the entry file (ENTRY, or INFER_ENTRY: see readInferAbi); `local` is the function's name in `file`.
 */
export function readAbi(root = ROOT, entryPath = ENTRY) {
  const cache = new Map();
  const entry = parseFile(root, entryPath, cache);
  const kernels = [];
  const files = [];
  for (const statement of entry.source.statements) {
    const at = entry.where(statement);
    if (!ts.isExportDeclaration(statement) || !statement.moduleSpecifier || !ts.isStringLiteral(statement.moduleSpecifier)) {
      throw new AbiError(`abi-gen: ${at}: ${entryPath} may only hold \`export { name, … } from "./file";\` statements`);
    }
    if (!statement.exportClause || !ts.isNamedExports(statement.exportClause)) {
      throw new AbiError(`abi-gen: ${at}: \`export *\` hides the ABI; list the names`);
    }
    if (statement.isTypeOnly) throw new AbiError(`abi-gen: ${at}: type-only exports are not part of the ABI`);
    const path = resolveModule(root, entryPath, statement.moduleSpecifier.text, at);
    const file = parseFile(root, path, cache);
    if (!files.includes(path)) files.push(path);
    const { functions, constants } = declarations(file);
    for (const element of statement.exportClause.elements) {
      const name = element.name.text;
      const local = (element.propertyName ?? element.name).text;
      const node = functions.get(local);
      if (!node) {
        const what = constants.has(local) ? "a constant (it would be a wasm global; constants reach TypeScript by themselves)" : "not an exported function";
        throw new AbiError(`abi-gen: ${entry.where(element)}: ${local} in ${path} is ${what}`);
      }
      if (kernels.some((k) => k.name === name)) throw new AbiError(`abi-gen: ${entry.where(element)}: ${name} is exported twice`);
      kernels.push({ name, file: path, local, ...kernelSignature(file, node, name), doc: docLines(file.source, node) });
    }
  }
  for (const kernel of kernels) {
    const twin = kernel.name.endsWith("_ref") ? kernel.name.slice(0, -4) : undefined;
    if (!kernel.doc && twin && kernels.some((k) => k.name === twin)) {
      kernel.doc = [`The plain scalar reference twin of \`${twin}\`.`];
    }
  }

  const constants = [];
  for (const path of files) {
    const file = parseFile(root, path, cache);
    for (const [name, { declaration, statement, exported }] of declarations(file).constants) {
      if (!exported) continue;
      if (constants.some((c) => c.name === name)) throw new AbiError(`abi-gen: ${file.where(declaration)}: constant ${name} is declared twice`);
      if (kernels.some((k) => k.name === name)) throw new AbiError(`abi-gen: ${file.where(declaration)}: constant ${name} has a kernel's name`);
      const value = constantValue(root, cache, file, name, file.where(declaration));
      const expression = declaration.initializer.getText(file.source);
      constants.push({ name, file: path, type: typeName(declaration.type), value, expression, doc: docLines(file.source, statement) });
    }
  }
  return { kernels, constants };
}

/** Longest generated line (but doc comments, copied as they are). */
const WIDTH = 120;

function comment(lines, indent) {
  if (!lines) return [];
  if (lines.length === 1 && !lines[0].includes("*/")) return [`${indent}/** ${lines[0]} */`];
  return [`${indent}/**`, ...lines.map((line) => (line ? `${indent} * ${line}` : `${indent} *`)), `${indent} */`];
}

/** Names joined with ", " into lines no longer than `width`. */
function wrap(items, indent, width) {
  const lines = [];
  let line = "";
  for (const item of items) {
    if (line && indent.length + line.length + 1 + item.length > width) {
      lines.push(indent + line);
      line = "";
    }
    line += line ? ` ${item}` : item;
  }
  if (line) lines.push(indent + line);
  return lines;
}

/** The text of src/runtime/abi.generated.ts for a parsed ABI. */
export function renderAbi({ kernels, constants }) {
  const used = new Set(kernels.flatMap((k) => [...k.params.map((p) => p.type), k.result]));
  const aliases = Object.keys(BOUNDARY_TYPES).filter((type) => used.has(type));
  const out = [
    `// Generated by assembly/abi-gen.mjs from ${ENTRY} and the files it exports from. Do not edit:`,
    "// change the AssemblyScript sources and run `npm run build:wasm` (or `node assembly/abi-gen.mjs`).",
    "// test/toolchain/abi.test.ts checks this file against the sources and against every compiled build.",
    "",
    "// The AssemblyScript types of the signatures below, as JavaScript sees them. Pointers are",
    "// usize byte offsets into the module's memory; a returned usize or u32 arrives as a signed",
    "// i32 and must be read with `>>> 0`. A bool argument is passed as 0 or 1.",
    ...aliases.map((type) => `type ${type} = ${BOUNDARY_TYPES[type]};`),
  ];

  let file;
  for (const constant of constants) {
    if (constant.file !== file) {
      file = constant.file;
      out.push("", `// ${file}`);
    }
    const note = String(constant.value) === constant.expression ? "" : ` // ${constant.expression}`;
    out.push(...comment(constant.doc, ""), `export const ${constant.name} = ${constant.value};${note}`);
  }

  const shipped = kernels.filter((k) => !k.name.endsWith("_ref"));
  const twins = kernels.filter((k) => k.name.endsWith("_ref"));
  const members = (list) => {
    const lines = [];
    let file;
    for (const kernel of list) {
      if (kernel.file !== file) {
        file = kernel.file;
        lines.push("", `  // ${file}`);
      }
      const params = kernel.params.map((p) => `${p.name}: ${p.type}`);
      const line = `  ${kernel.name}(${params.join(", ")}): ${kernel.result};`;
      lines.push(...comment(kernel.doc, "  "));
      if (line.length <= WIDTH) lines.push(line);
      else
        lines.push(
          `  ${kernel.name}(`,
          ...wrap(
            params.map((p) => `${p},`),
            "    ",
            WIDTH,
          ),
          `  ): ${kernel.result};`,
        );
    }
    return lines;
  };
  out.push(
    "",
    `/** What the shipped builds export: the module's memory and one function per kernel of ${ENTRY} but the \`_ref\` twins. */`,
    "export interface KernelExports {",
    "  memory: WebAssembly.Memory;",
    ...members(shipped),
    "}",
    "",
    "/** The `_ref` twins: the plain scalar references, exported by build/*.wasm (the tests' builds) and left out of what ships. */",
    "export interface ReferenceKernelExports {",
    ...members(twins).slice(0),
    "}",
    "",
  );

  out.push(
    `/** The names of the shipped kernels, in ${ENTRY}'s order; the loader checks them against the module. */`,
    "export const KERNEL_NAMES = [",
    ...wrap(
      shipped.map((k) => `"${k.name}",`),
      "  ",
      WIDTH,
    ),
    "] as const satisfies readonly (keyof KernelExports)[];",
    "",
    "/** The names of the `_ref` twins, in the same order. */",
    "export const REFERENCE_KERNEL_NAMES = [",
    ...wrap(
      twins.map((k) => `"${k.name}",`),
      "  ",
      WIDTH,
    ),
    "] as const satisfies readonly (keyof ReferenceKernelExports)[];",
    "",
  );
  return out.join("\n");
}

/** The text src/runtime/abi.generated.ts should have for the sources under `root`. */
export function generateAbi(root = ROOT) {
  return renderAbi(readAbi(root));
}

// ---------------------------------------------------------------- the inference entry

/**
 * The kernels of INFER_ENTRY, in its order. Each must be a kernel of ENTRY under the same
 * name, exported from the same function of the same file (so the two builds compile the
 * same source), and none may be a `_ref` twin: the inference module ships forward kernels only.
 */
export function readInferAbi(root = ROOT) {
  const main = new Map(readAbi(root).kernels.map((k) => [k.name, k]));
  const { kernels } = readAbi(root, INFER_ENTRY);
  for (const kernel of kernels) {
    const twin = main.get(kernel.name);
    if (kernel.name.endsWith("_ref"))
      throw new AbiError(`abi-gen: ${INFER_ENTRY}: ${kernel.name} is a reference twin; the inference module ships forward kernels only`);
    if (!twin) throw new AbiError(`abi-gen: ${INFER_ENTRY}: ${kernel.name} is not a kernel of ${ENTRY}; export it there too`);
    if (twin.file !== kernel.file || twin.local !== kernel.local) {
      throw new AbiError(
        `abi-gen: ${INFER_ENTRY}: ${kernel.name} is ${kernel.local} in ${kernel.file}, but ${ENTRY} exports ${twin.local} in ${twin.file} under that name`,
      );
    }
  }
  return kernels;
}

/** The text of src/infer/abi.generated.ts for the inference entry's kernels. */
export function renderInferAbi(kernels) {
  return [
    `// Generated by assembly/abi-gen.mjs from ${INFER_ENTRY}. Do not edit: change that file and run`,
    "// `npm run build:wasm` (or `node assembly/abi-gen.mjs`). Every kernel here is one of",
    `// ${ENTRY}'s, from the same function, so its signature is KernelExports'.`,
    'import type { KernelExports } from "../runtime/abi.generated.js";',
    "",
    `/** The kernels of the inference module, in ${INFER_ENTRY}'s order; the loader checks them against the module. */`,
    "export const INFER_KERNEL_NAMES = [",
    ...wrap(
      kernels.map((k) => `"${k.name}",`),
      "  ",
      WIDTH,
    ),
    "] as const satisfies readonly (keyof KernelExports)[];",
    "",
    `/** Everything ${INFER_ENTRY} exports: the module's memory and the kernels above, typed as in KernelExports. */`,
    'export type InferKernelExports = Pick<KernelExports, "memory" | (typeof INFER_KERNEL_NAMES)[number]>;',
    "",
  ].join("\n");
}

/** The text src/infer/abi.generated.ts should have for the sources under `root`. */
export function generateInferAbi(root = ROOT) {
  return renderInferAbi(readInferAbi(root));
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    const abi = readAbi();
    const inferKernels = readInferAbi();
    const outputs = [
      [OUTPUT, renderAbi(abi), `${abi.kernels.length} kernels and ${abi.constants.length} constants`],
      [INFER_OUTPUT, renderInferAbi(inferKernels), `${inferKernels.length} kernel names`],
    ];
    for (const [path, text, what] of outputs) {
      const output = join(ROOT, path);
      if (process.argv.includes("--check")) {
        const current = existsSync(output) ? readFileSync(output, "utf8") : undefined;
        if (current !== text) {
          console.error(`abi-gen: ${path} is ${current === undefined ? "missing" : "out of date"}; run node assembly/abi-gen.mjs`);
          process.exit(1);
        }
        console.log(`abi-gen: ${path} is up to date`);
      } else {
        mkdirSync(dirname(output), { recursive: true });
        writeFileSync(output, text);
        console.log(`abi-gen: wrote ${what} to ${path}`);
      }
    }
  } catch (error) {
    if (!(error instanceof AbiError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
}
