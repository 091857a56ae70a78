/**
 * Registers tfjs-core's gradient functions, which training needs and tfjs-core alone does
 * not register (the @tensorflow/tfjs umbrella package imports
 * `@tensorflow/tfjs-core/dist/register_all_gradients` for that).
 *
 * That module and its imports are ES modules written for bundlers: relative imports
 * without file extensions, which Node's and Deno's ESM loaders refuse. So the first run
 * copies the module's import closure from node_modules into bench/dist/vendor/, adding
 * the extensions (`./x` → `./x.js` or `./x/index.js`) and changing nothing else, then
 * imports the copy. tfjs-core keeps its engine and its kernel and gradient registries on
 * the global object, so the copy registers its gradients with the same engine the
 * tfjs-core package uses (tfjs supports several copies of itself this way).
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { packageDir, packageVersion } from "./paths.js";

const VENDOR_DIR = fileURLToPath(new URL("../vendor/", import.meta.url));
const ENTRY = "register_all_gradients.js";

const isFile = (p: string) => existsSync(p) && statSync(p).isFile();

/** Copies the import closure of tfjs-core's dist/register_all_gradients.js; returns the copy's entry path. */
export function vendorGradients(): string {
  const version = packageVersion("@tensorflow/tfjs-core");
  const src = path.join(packageDir("@tensorflow/tfjs-core"), "dist");
  const dst = path.join(VENDOR_DIR, `tfjs-core-${version}`);
  const entry = path.join(dst, ENTRY);
  const stamp = path.join(dst, ".complete");
  if (isFile(stamp)) return entry;

  const pattern = /(\b(?:import|export)\b[^'";]*?\bfrom\s*|\bimport\s*)(['"])(\.{1,2}\/[^'"]+)\2/g;
  const seen = new Set<string>();
  const queue = [path.join(src, ENTRY)];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, "utf8").replace(pattern, (_m, head: string, quote: string, spec: string) => {
      const base = path.resolve(path.dirname(file), spec);
      let target: string;
      let rewritten: string;
      if (isFile(base) && spec.endsWith(".js")) [target, rewritten] = [base, spec];
      else if (isFile(`${base}.js`)) [target, rewritten] = [`${base}.js`, `${spec}.js`];
      else if (isFile(path.join(base, "index.js"))) [target, rewritten] = [path.join(base, "index.js"), `${spec}/index.js`];
      else throw new Error(`tfjs gradients: cannot resolve ${spec} from ${path.relative(src, file)}`);
      queue.push(target);
      return `${head}${quote}${rewritten}${quote}`;
    });
    const out = path.join(dst, path.relative(src, file));
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, text);
  }
  // Mark the directory as ES modules (tfjs-core's package.json does not).
  writeFileSync(path.join(dst, "package.json"), JSON.stringify({ type: "module", private: true }) + "\n");
  writeFileSync(stamp, `${seen.size} files from @tensorflow/tfjs-core ${version}\n`);
  return entry;
}

/** Registers every tfjs-core gradient with the running tfjs engine. */
export async function registerTfjsGradients(): Promise<void> {
  await import(pathToFileURL(vendorGradients()).href);
}
