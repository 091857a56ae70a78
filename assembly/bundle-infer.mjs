// Build step, run after `tsc` by `npm run build`: bundles distill-wasm/infer (dist/infer/index.js
// and the ~30 modules it imports) into one module, dist/infer.js, the file package.json's
// "./infer" export names. Node's ES module loader spends about a millisecond per module
// before any code runs, which was most of a cold start (import → first prediction); one
// module loads in a few. The bundle still imports ./errors.js, so that its error classes are
// the full library's (`instanceof FormatError` holds across both entry points), and imports
// `node:` modules lazily, as the sources do. Minified, because Node parses every byte of a
// module before it runs any (the unminified 169 KB took about 2 ms longer to import); a
// source map (dist/infer.js.map) leads stack traces and debuggers to dist/infer/*.js, which
// ship beside it.
// Usage: node assembly/bundle-infer.mjs   (after tsc; esbuild is a devDependency)
import { build } from "esbuild";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../", import.meta.url));

await build({
  absWorkingDir: root,
  entryPoints: ["dist/infer/index.js"],
  outfile: "dist/infer.js",
  bundle: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  // Whitespace and syntax only: names stay as written, so a Student logs as Student and stack
  // traces name functions (renaming would save 20 KB more, of which a bundler saves its own).
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: "linked",
  sourcesContent: false,
  legalComments: "inline",
  banner: { js: "// distill-wasm/infer: dist/infer/index.js and the modules it imports, bundled by assembly/bundle-infer.mjs. Generated; do not edit." },
  logLevel: "warning",
  plugins: [
    {
      name: "shared-modules",
      setup(b) {
        // dist/errors.js stays a module of its own, imported by the bundle and the full library alike.
        b.onResolve({ filter: /(^|\/)errors\.js$/ }, () => ({ path: "./errors.js", external: true }));
        b.onResolve({ filter: /^node:/ }, (args) => ({ path: args.path, external: true }));
      },
    },
  ],
});
console.log("bundled dist/infer/index.js into dist/infer.js");
