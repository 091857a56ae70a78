/**
 * The kernel ABI has one source, the AssemblyScript kernels: assembly/abi-gen.mjs writes
 * src/runtime/abi.generated.ts (KernelExports and KERNEL_NAMES for what ships,
 * ReferenceKernelExports and REFERENCE_KERNEL_NAMES for the `_ref` twins, the constants) from
 * them in `npm run build:wasm`. These tests fail when the pieces drift apart:
 *   - the generated file is not what the generator makes of the sources now (a kernel was
 *     changed without rebuilding, or the file was edited by hand);
 *   - a compiled build (all five, read from the binary) exports a function that is not in
 *     KERNEL_NAMES or REFERENCE_KERNEL_NAMES, lacks one, exports anything but its memory besides, or has parameter or
 *     result types other than its generated signature's (usize, i32, u32, bool are wasm i32);
 *   - an instantiated module's exports are not exactly memory + both name lists, or a
 *     function's arity (`.length`) is not its generated signature's parameter count;
 *   - an embedded (shipped) build exports anything but memory + KERNEL_NAMES: no twin ships;
 * and they pin the generator's rules on small made-up sources.
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ts from "typescript";
import { afterAll, describe, expect, it } from "vitest";
import { generateAbi, OUTPUT, readAbi, ROOT } from "../../assembly/abi-gen.mjs";
import { DISTILL_SOFT_CROSS_ENTROPY, GEMM_ACCUMULATE, GEMM_RELU, KERNEL_NAMES, REFERENCE_KERNEL_NAMES } from "../../src/runtime/abi.js";
import { decodeBase64 } from "../../src/runtime/base64.js";
import { instantiateKernels } from "../../src/runtime/loader.js";
import { wasmExports, type ValueType } from "../helpers/wasm-exports.js";

const BUILDS = ["release", "relaxed", "threads", "relaxed-threads", "debug"] as const;
const buildBytes = (build: string) => readFileSync(join(ROOT, `build/distill.${build}.wasm`));

/** What each AssemblyScript type is at the wasm boundary. */
const WASM_TYPE: Record<string, ValueType> = {
  i8: "i32",
  u8: "i32",
  i16: "i32",
  u16: "i32",
  i32: "i32",
  u32: "i32",
  isize: "i32",
  usize: "i32",
  bool: "i32",
  i64: "i64",
  u64: "i64",
  f32: "f32",
  f64: "f64",
};

interface Signature {
  name: string;
  params: { name: string; type: string }[];
  result: string;
}

/** The methods of an interface (KernelExports, ReferenceKernelExports) in the generated file, as written there. */
function generatedSignatures(text: string, name: string): Signature[] {
  const source = ts.createSourceFile(OUTPUT, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found = source.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === name);
  if (!found) throw new Error(`${OUTPUT} declares no ${name}`);
  return found.members.filter(ts.isMethodSignature).map((method) => ({
    name: method.name.getText(source),
    params: method.parameters.map((p) => ({ name: p.name.getText(source), type: p.type!.getText(source) })),
    result: method.type!.getText(source),
  }));
}

const generatedText = readFileSync(join(ROOT, OUTPUT), "utf8");
const shipped = generatedSignatures(generatedText, "KernelExports");
const twins = generatedSignatures(generatedText, "ReferenceKernelExports");
const signatures = [...shipped, ...twins];
const byName = new Map(signatures.map((s) => [s.name, s]));
const ALL_NAMES = [...KERNEL_NAMES, ...REFERENCE_KERNEL_NAMES];

describe("the TypeScript ABI is generated from the AssemblyScript sources", () => {
  it(`${OUTPUT} is what assembly/abi-gen.mjs makes of the sources now`, () => {
    expect(generatedText, `${OUTPUT} is stale or edited by hand: run npm run build:wasm (or node assembly/abi-gen.mjs)`).toBe(generateAbi());
  });

  it("KernelExports has one method per name in KERNEL_NAMES (no twin), ReferenceKernelExports one per twin, each in order", () => {
    expect(shipped.map((s) => s.name)).toEqual([...KERNEL_NAMES]);
    expect(twins.map((s) => s.name)).toEqual([...REFERENCE_KERNEL_NAMES]);
    expect(KERNEL_NAMES.filter((name) => name.endsWith("_ref"))).toEqual([]);
    expect(REFERENCE_KERNEL_NAMES.every((name) => name.endsWith("_ref") && (KERNEL_NAMES as readonly string[]).includes(name.slice(0, -4)))).toBe(true);
    expect(generatedText).toMatch(/export interface KernelExports \{\n {2}memory: WebAssembly\.Memory;\n/);
  });

  it("every generated parameter and result type is a wasm value type; the flag constants come from the kernels", () => {
    for (const s of signatures) {
      for (const p of s.params) expect(WASM_TYPE[p.type], `${s.name}(${p.name}: ${p.type})`).toBeDefined();
      expect(s.result === "void" || WASM_TYPE[s.result] !== undefined, `${s.name}(): ${s.result}`).toBe(true);
    }
    const constants = new Map(readAbi().constants.map((c) => [c.name, c]));
    expect(constants.get("GEMM_ACCUMULATE")).toMatchObject({ file: "assembly/gemm.ts", value: GEMM_ACCUMULATE });
    expect(constants.get("GEMM_RELU")).toMatchObject({ file: "assembly/gemm.ts", value: GEMM_RELU });
    expect(constants.get("DISTILL_SOFT_CROSS_ENTROPY")).toMatchObject({ file: "assembly/loss.ts", value: DISTILL_SOFT_CROSS_ENTROPY });
  });
});

describe("every compiled build exports exactly the generated ABI", () => {
  it.each(BUILDS)("%s: function names and types match KernelExports; memory is the only other export", (build) => {
    const exports = wasmExports(buildBytes(build));
    const functions = exports.filter((e) => e.kind === "function");
    expect(functions.map((f) => f.name).sort(), "exported functions").toEqual([...ALL_NAMES].sort());
    expect(
      exports.filter((e) => e.kind !== "function"),
      "other exports",
    ).toEqual([{ name: "memory", kind: "memory" }]);
    const wrong: string[] = [];
    for (const f of functions) {
      const s = byName.get(f.name)!;
      const params = s.params.map((p) => WASM_TYPE[p.type]);
      const results = s.result === "void" ? [] : [WASM_TYPE[s.result]];
      if (JSON.stringify([f.params, f.results]) !== JSON.stringify([params, results])) {
        wrong.push(`${f.name}: wasm (${f.params!.join(", ")}) → [${f.results!.join(", ")}], generated (${params.join(", ")}) → [${results.join(", ")}]`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it.each(["release", "debug"] as const)("%s, instantiated: exports are memory + both name lists, each function's arity is its signature's", async (build) => {
    const exports = (await instantiateKernels(await WebAssembly.compile(buildBytes(build)))) as unknown as Record<string, unknown>;
    expect(Object.keys(exports).sort()).toEqual(["memory", ...ALL_NAMES].sort());
    const wrong = ALL_NAMES.flatMap((name) => {
      const arity = (exports[name] as (...args: number[]) => unknown).length;
      const count = byName.get(name)!.params.length;
      return arity === count ? [] : [`${name}: .length ${arity}, generated ${count} parameters`];
    });
    expect(wrong).toEqual([]);
  });
});

describe("the embedded builds ship without the _ref twins", () => {
  it.each(["release", "relaxed", "threads", "relaxed-threads"] as const)(
    "%s: exports exactly memory + KERNEL_NAMES, each with its build/ signature, and is smaller",
    (build) => {
      const source = readFileSync(join(ROOT, `src/runtime/wasm-${build}.generated.ts`), "utf8");
      const WASM_BASE64 = /WASM_BASE64 =\s*"([A-Za-z0-9+/=]+)"/.exec(source)![1]!;
      const embedded = decodeBase64(WASM_BASE64);
      const exports = wasmExports(embedded);
      const full = new Map(wasmExports(buildBytes(build)).map((e) => [e.name, e]));
      expect(
        exports
          .filter((e) => e.kind === "function")
          .map((e) => e.name)
          .sort(),
      ).toEqual([...KERNEL_NAMES].sort());
      expect(exports.filter((e) => e.kind !== "function").map((e) => e.name)).toEqual(["memory"]);
      for (const e of exports) expect(e, e.name).toEqual(full.get(e.name));
      expect(embedded.length).toBeLessThan(buildBytes(build).length);
    },
  );
});

describe("assembly/abi-gen.mjs on made-up sources", () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  /** A checkout holding only the given assembly/ files. */
  function tree(files: Record<string, string>): string {
    const root = mkdtempSync(join(tmpdir(), "abi-gen-"));
    dirs.push(root);
    mkdirSync(join(root, "assembly"));
    for (const [path, text] of Object.entries(files)) writeFileSync(join(root, "assembly", path), text);
    return root;
  }

  const KERNELS = `import { BASE } from "./base";
/** A flag. */
export const FLAG: i32 = BASE << 2 | 1;
export const SIZE: usize = (64 - 1) * 1024;
/**
 * y(n) = x(n) · s
 *   y may alias x.
 */
export function scale(y: usize, x: usize, n: i32, s: f32): void {}
export function scale_ref(y: usize, x: usize, n: i32, s: f32): void {}
export function total(x: usize, n: i32, ordered: bool): f64 { return 0; }
function internal(a: v128): void {}
`;

  it("reads names (and renames), parameters, results, doc comments and computed constants", () => {
    const root = tree({
      "index.ts": `// The ABI.\nexport { scale, scale_ref, total as sum } from "./kernels";\n`,
      "kernels.ts": KERNELS,
      "base.ts": "export const BASE: i32 = 3;\n",
    });
    const abi = readAbi(root);
    expect(abi.kernels.map((k) => [k.name, k.params.map((p) => `${p.name}: ${p.type}`).join(", "), k.result])).toEqual([
      ["scale", "y: usize, x: usize, n: i32, s: f32", "void"],
      ["scale_ref", "y: usize, x: usize, n: i32, s: f32", "void"],
      ["sum", "x: usize, n: i32, ordered: bool", "f64"],
    ]);
    expect(abi.kernels[0]!.doc).toEqual(["y(n) = x(n) · s", "  y may alias x."]);
    expect(abi.kernels[1]!.doc).toEqual(["The plain scalar reference twin of `scale`."]);
    expect(abi.constants.map((c) => [c.name, c.value])).toEqual([
      ["FLAG", 13],
      ["SIZE", 64_512],
    ]);
    const text = generateAbi(root);
    expect(text).toContain("  sum(x: usize, n: i32, ordered: bool): f64;\n");
    expect(text).toContain("/** A flag. */\nexport const FLAG = 13; // BASE << 2 | 1\n");
    expect(text).toContain('export const KERNEL_NAMES = [\n  "scale", "sum",\n]');
    expect(text).toContain('export const REFERENCE_KERNEL_NAMES = [\n  "scale_ref",\n]');
    expect(text).toContain("type bool = number;");
    expect(text).not.toContain("type i64");
  });

  it.each([
    ["an optional parameter", `export { f } from "./k";`, "export function f(x: usize, n: i32 = 0): void {}", /must be required/],
    ["a non-boundary type", `export { f } from "./k";`, "export function f(x: v128): void {}", /f\(x: v128\) is not one of/],
    ["a missing result type", `export { f } from "./k";`, "export function f(x: usize) {}", /f returns \(no type\)/],
    ["export *", `export * from "./k";`, "export function f(): void {}", /export \*/],
    ["a local declaration", "export function f(): void {}", "", /may only hold/],
    ["an exported constant", `export { C } from "./k";`, "export const C: i32 = 1;", /a constant/],
    ["an unknown name", `export { g } from "./k";`, "export function f(): void {}", /g in assembly\/k\.ts is not an exported function/],
    ["a float constant", `export { f } from "./k";`, "export const E: f32 = 0.5;\nexport function f(): void {}", /constant E has type f32/],
    ["a constant out of range", `export { f } from "./k";`, "export const E: u32 = -1;\nexport function f(): void {}", /E = -1 is not a u32/],
    ["a call in a constant", `export { f } from "./k";`, "export const E: i32 = g();\nexport function f(): void {}", /cannot compute `g\(\)`/],
  ])("rejects %s", (_what, index, kernels, message) => {
    expect(() => readAbi(tree({ "index.ts": index, "k.ts": kernels }))).toThrow(message);
  });
});
