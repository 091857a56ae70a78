// Build step, run after `tsc` by `npm run build`: dist/export/browser.js, distill-wasm/export
// for pages without a bundler. protobufjs is CommonJS, which a browser cannot import, so this
// module inlines it (as an ES module) together with dist/export/*.js; every other module of
// the library stays an import of its own by the same relative path ("../errors.js",
// "../nn/sequential.js", …), so a page that loads dist/index.js and this file shares one copy
// of the library (one engine, one Sequential class, one set of error classes).
// package.json's "./export" names it under the "browser" condition.
// Usage: node assembly/bundle-export.mjs   (after tsc; esbuild is a devDependency)
import { build } from "esbuild";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../", import.meta.url));

await build({
  absWorkingDir: root,
  entryPoints: ["dist/export/index.js"],
  outfile: "dist/export/browser.js",
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  legalComments: "inline",
  banner: { js: "// distill-wasm/export for browsers: dist/export/*.js and protobufjs, bundled by assembly/bundle-export.mjs. Generated; do not edit." },
  logLevel: "warning",
  plugins: [
    {
      name: "library-modules",
      setup(b) {
        // Imports from dist/export/ that leave it are the library's own modules: kept as they are.
        const exportDir = `${root}dist/export/`;
        b.onResolve({ filter: /^\.\.\// }, (args) => (args.importer.startsWith(exportDir) ? { path: args.path, external: true } : undefined));
      },
    },
  ],
});
console.log("bundled dist/export/index.js and protobufjs into dist/export/browser.js");
