/**
 * What lets every runtime load the package by a plain import: deno.json stays in step with
 * package.json, the generated modules exist, and dist/ imports nothing a browser cannot
 * resolve (only relative static imports; `node:` modules only through lazy `import()`).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { ROOT } from "./helpers.js";

const readJson = (path: string) => JSON.parse(readFileSync(join(ROOT, path), "utf8"));
const pkg = readJson("package.json");
const deno = readJson("deno.json");

const GENERATED = [
  "src/runtime/wasm-release.generated.ts",
  "src/runtime/wasm-relaxed.generated.ts",
  "src/runtime/wasm-threads.generated.ts",
  "src/runtime/wasm-relaxed-threads.generated.ts",
  "src/runtime/abi.generated.ts",
  "src/runtime/vendor/assemblyscript-loader.ts",
  "src/runtime/vendor/LICENSE-assemblyscript-loader.txt",
  "src/infer/wasm-bytes.generated.ts",
  "src/infer/abi.generated.ts",
];

function jsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? jsFiles(path) : entry.name.endsWith(".js") ? [path] : [];
  });
}

/** Static import / export-from specifiers and dynamic import() specifiers of a module. */
function specifiers(path: string): { static: string[]; dynamic: string[] } {
  const source = ts.createSourceFile(path, readFileSync(path, "utf8"), ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
  const found = { static: [] as string[], dynamic: [] as string[] };
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      found.static.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      found.dynamic.push(arg && ts.isStringLiteral(arg) ? arg.text : `<computed: ${arg?.getText(source)}>`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe("package metadata for Deno / JSR", () => {
  it("deno.json has package.json's name (under a JSR scope), version and license, and exports the TypeScript source", () => {
    expect(deno.name).toMatch(new RegExp(`^@[a-z0-9-]+/${pkg.name}$`));
    expect(deno.version).toBe(pkg.version);
    expect(deno.license).toBe(pkg.license);
    expect(deno.exports).toEqual({ ".": "./src/index.ts", "./infer": "./src/infer/index.ts" });
    expect(Object.keys(pkg.exports), "every JSR entry point is an npm one").toEqual(expect.arrayContaining(Object.keys(deno.exports)));
  });

  it("deno.json publishes the generated modules by explicit path (they are gitignored)", () => {
    const gitignore = readFileSync(join(ROOT, ".gitignore"), "utf8").split("\n");
    for (const path of GENERATED) {
      expect(deno.publish.include, path).toContain(path);
      expect(
        gitignore.some((line) => line && (path === line || path.startsWith(line))),
        `${path} in .gitignore`,
      ).toBe(true);
    }
  });

  it("the build wrote the generated modules, and the vendored loader keeps its Apache-2.0 notice", () => {
    for (const path of GENERATED) expect(existsSync(join(ROOT, path)), `${path} (run npm run build:wasm)`).toBe(true);
    const loaderVersion = readJson("node_modules/@assemblyscript/loader/package.json").version;
    for (const path of ["src/runtime/vendor/assemblyscript-loader.ts", "dist/runtime/vendor/assemblyscript-loader.js"]) {
      const head = readFileSync(join(ROOT, path), "utf8").slice(0, 2000);
      expect(head, path).toContain(`@assemblyscript/loader ${loaderVersion}`);
      expect(head, path).toContain("Apache License, Version 2.0");
    }
  });
});

describe("dist/ loads in a browser without a bundler or import map", () => {
  const files = jsFiles(join(ROOT, "dist"));

  it("has modules to check", () => {
    expect(files.length).toBeGreaterThan(10);
    expect(files).toContain(join(ROOT, "dist/runtime/vendor/assemblyscript-loader.js"));
  });

  it("every static import is relative; import() names only relative or node: modules", () => {
    const bad: string[] = [];
    for (const file of files) {
      const where = relative(join(ROOT, "dist"), file);
      if (where.startsWith("cli")) continue; // the Node command-line tool
      // distill-wasm/export depends on protobufjs, which a browser resolves through an import map or a bundler.
      const allowed = where.startsWith("export") ? ["protobufjs"] : [];
      const { static: statics, dynamic } = specifiers(file);
      for (const s of statics) if (!s.startsWith("./") && !s.startsWith("../") && !allowed.includes(s)) bad.push(`${relative(ROOT, file)}: import "${s}"`);
      for (const s of dynamic) if (!/^(\.\.?\/|node:)/.test(s)) bad.push(`${relative(ROOT, file)}: import("${s}")`);
    }
    expect(bad).toEqual([]);
  });
});
