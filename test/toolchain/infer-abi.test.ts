/**
 * The inference module (assembly/infer.ts → build/distill.infer.wasm, embedded in
 * src/infer/wasm-bytes.generated.ts) exports exactly INFER_KERNEL_NAMES and its memory,
 * with the signatures of the same kernels in the full ABI; the generated names file is
 * current; abi-gen refuses an inference entry that is not a plain subset of index.ts; and
 * each kernel, compiled in this entry, computes the bits the full release build computes.
 */
import { Buffer as Buffer_ } from "node:buffer";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateInferAbi, INFER_OUTPUT, readAbi, readInferAbi, ROOT } from "../../assembly/abi-gen.mjs";
import { INFER_KERNEL_NAMES, type InferKernelExports } from "../../src/infer/abi.generated.js";
import { INFER_WASM_BASE64 } from "../../src/infer/wasm-bytes.generated.js";
import { GEMM_RELU, KERNEL_NAMES } from "../../src/runtime/abi.js";
import { decodeBase64 } from "../../src/runtime/base64.js";
import { instantiateExports, instantiateKernels } from "../../src/runtime/loader.js";
import { expectSameBits } from "../helpers/compare.js";
import { TestRandom } from "../helpers/rand.js";
import { wasmExports, type ValueType } from "../helpers/wasm-exports.js";

const inferBytes = readFileSync(join(ROOT, "build/distill.infer.wasm"));
const releaseBytes = readFileSync(join(ROOT, "build/distill.release.wasm"));

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

describe("the inference module's ABI", () => {
  it(`${INFER_OUTPUT} is what assembly/abi-gen.mjs makes of assembly/infer.ts now`, () => {
    expect(readFileSync(join(ROOT, INFER_OUTPUT), "utf8")).toBe(generateInferAbi());
  });

  it("is a subset of the full ABI with no reference twins and no training kernels", () => {
    expect(INFER_KERNEL_NAMES.every((name) => (KERNEL_NAMES as readonly string[]).includes(name))).toBe(true);
    expect(INFER_KERNEL_NAMES.filter((name) => /_ref$|backward|_train|adam|sgd|loss|rng_|_step/.test(name))).toEqual([]);
  });

  it("build/distill.infer.wasm exports exactly memory + INFER_KERNEL_NAMES, typed as in the full ABI; the embedded copy is that file", () => {
    const exports = wasmExports(inferBytes);
    const functions = exports.filter((e) => e.kind === "function");
    expect(functions.map((f) => f.name).sort()).toEqual([...INFER_KERNEL_NAMES].sort());
    expect(exports.filter((e) => e.kind !== "function")).toEqual([{ name: "memory", kind: "memory" }]);
    const signatures = new Map(readAbi().kernels.map((k) => [k.name, k]));
    for (const f of functions) {
      const s = signatures.get(f.name)!;
      expect([f.params, f.results], f.name).toEqual([s.params.map((p) => WASM_TYPE[p.type]), s.result === "void" ? [] : [WASM_TYPE[s.result]]]);
    }
    expect(Buffer.from(INFER_WASM_BASE64, "base64").equals(inferBytes)).toBe(true);
  });

  it("decodeBase64 gives the file's bytes through the runtime's decoder and through atob where there is none", () => {
    expect(Buffer.from(decodeBase64(INFER_WASM_BASE64)).equals(inferBytes)).toBe(true);
    const saved = Object.getOwnPropertyDescriptor(globalThis, "Buffer")!;
    const savedFrom = Object.getOwnPropertyDescriptor(Uint8Array, "fromBase64");
    try {
      delete (globalThis as { Buffer?: unknown }).Buffer;
      if (savedFrom) delete (Uint8Array as { fromBase64?: unknown }).fromBase64;
      expect("Buffer" in globalThis).toBe(false);
      expect(Buffer_.from(decodeBase64(INFER_WASM_BASE64)).equals(inferBytes)).toBe(true);
    } finally {
      Object.defineProperty(globalThis, "Buffer", saved);
      if (savedFrom) Object.defineProperty(Uint8Array, "fromBase64", savedFrom);
    }
  });
});

describe("assembly/abi-gen.mjs on a made-up inference entry", () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  function tree(infer: string): string {
    const root = mkdtempSync(join(tmpdir(), "abi-gen-infer-"));
    dirs.push(root);
    mkdirSync(join(root, "assembly"));
    writeFileSync(join(root, "assembly/index.ts"), 'export { f, f_ref, g } from "./k";\nexport { h as g2 } from "./other";\n');
    writeFileSync(
      join(root, "assembly/k.ts"),
      "export function f(x: usize): void {}\nexport function f_ref(x: usize): void {}\nexport function g(): void {}\nexport function h(): void {}\n",
    );
    writeFileSync(join(root, "assembly/other.ts"), "export function h(): void {}\n");
    writeFileSync(join(root, "assembly/infer.ts"), infer);
    return root;
  }

  it("accepts a subset and writes its names", () => {
    const root = tree('// forward only\nexport { f } from "./k";\nexport { h as g2 } from "./other";\n');
    expect(readInferAbi(root).map((k) => k.name)).toEqual(["f", "g2"]);
    expect(generateInferAbi(root)).toContain('export const INFER_KERNEL_NAMES = [\n  "f", "g2",\n] as const');
  });

  it.each([
    ["a reference twin", 'export { f_ref } from "./k";', /reference twin/],
    ["a kernel index.ts lacks", 'export { h } from "./k";', /h is not a kernel of assembly\/index\.ts/],
    [
      "another function under an ABI name",
      'export { h as g2 } from "./k";',
      /g2 is h in assembly\/k\.ts, but assembly\/index\.ts exports h in assembly\/other\.ts/,
    ],
    ["a local declaration", "export function f(): void {}", /assembly\/infer\.ts may only hold/],
  ])("refuses %s", (_what, infer, message) => {
    expect(() => readInferAbi(tree(infer))).toThrow(message);
  });
});

describe("the same kernels, compiled in the inference entry, compute the full build's bits", () => {
  type Kernels = InferKernelExports;
  const modules = Promise.all([
    instantiateKernels(new WebAssembly.Module(releaseBytes)) as Promise<Kernels>,
    instantiateExports<Kernels>(new WebAssembly.Module(inferBytes), INFER_KERNEL_NAMES),
  ]);

  /**
   * Runs `call` in both modules on the same inputs (float32 arrays copied in) and output
   * buffers of the given lengths (NaN-filled), and returns each module's outputs.
   */
  async function both(inputs: Float32Array[], outputs: number[], call: (k: Kernels, ins: number[], outs: number[]) => void): Promise<Float32Array[][]> {
    return (await modules).map((k) => {
      const put = (values: Float32Array) => {
        const ptr = k.heap_alloc(values.length * 4 + 16) >>> 0;
        new Float32Array(k.memory.buffer, ptr, values.length).set(values);
        return ptr;
      };
      const ins = inputs.map(put);
      const outs = outputs.map((n) => put(new Float32Array(n).fill(NaN)));
      call(k, ins, outs);
      return outs.map((ptr, i) => new Float32Array(k.memory.buffer, ptr, outputs[i]!).slice());
    });
  }

  async function expectSame(what: string, inputs: Float32Array[], outputs: number[], call: (k: Kernels, ins: number[], outs: number[]) => void) {
    const [release, infer] = await both(inputs, outputs, call);
    release!.forEach((out, i) => expectSameBits(infer![i]!, out, `${what}: output ${i}`));
  }

  const rand = new TestRandom(3);
  const [m, n, k] = [7, 19, 37];

  it("gemm_nt with bias and fused ReLU; gemm_panels on pack_panels' layout", async () => {
    await expectSame("gemm_nt", [rand.uniform(m * k), rand.uniform(n * k), rand.uniform(n)], [m * n], (K, [a, b, bias], [c]) =>
      K.gemm_nt(c!, a!, b!, bias!, m, n, k, k, k, n, GEMM_RELU),
    );
    const panels = 2 * 16 * k;
    await expectSame("gemm_panels", [rand.uniform(3 * k), rand.uniform(n * k), rand.uniform(n)], [panels, 3 * n], (K, [a, b, bias], [p, c]) => {
      K.pack_panels(p!, b!, k, 1, k, n);
      K.gemm_panels(c!, a!, p!, bias!, 3, n, k, k, n, 0);
    });
  });

  it("conv2d_forward, maxpool2d_forward, avgpool2d_forward, batchnorm_forward_eval", async () => {
    const [batch, cin, h, w, cout] = [2, 3, 9, 8, 5];
    const out = (size: number, kernel: number, stride: number, pad: number) => Math.floor((size + 2 * pad - kernel) / stride) + 1;
    const conv = out(h, 3, 1, 1) * out(w, 3, 1, 1);
    await expectSame(
      "conv2d",
      [rand.uniform(batch * cin * h * w), rand.uniform(cout * cin * 9), rand.uniform(cout)],
      [batch * cout * conv, cin * 9 * conv],
      (K, [x, wt, bias], [y, work]) => K.conv2d_forward(y!, x!, wt!, bias!, work!, batch, cin, h, w, cout, 3, 3, 1, 1, GEMM_RELU),
    );
    const maxOut = batch * cin * out(h, 2, 2, 1) * out(w, 2, 2, 1);
    const avgOut = batch * cin * out(h, 3, 2, 1) * out(w, 3, 2, 1);
    await expectSame("pooling", [rand.uniform(batch * cin * h * w)], [maxOut, maxOut, avgOut], (K, [x], [mx, idx, avg]) => {
      K.maxpool2d_forward(mx!, idx!, x!, batch, cin, h, w, 2, 2, 1);
      K.avgpool2d_forward(avg!, x!, batch, cin, h, w, 3, 2, 1);
    });
    await expectSame(
      "batchnorm",
      [rand.uniform(batch * cin * 12), rand.uniform(cin), rand.uniform(cin), rand.uniform(cin), rand.uniform(cin, 0.5, 2)],
      [batch * cin * 12],
      (K, [x, g, b, mean, v], [y]) => K.batchnorm_forward_eval(y!, x!, g!, b!, mean!, v!, batch, cin, 12, 1e-5),
    );
  });

  it("standardize_forward (a regression model's fitted input scaling), 13 columns: four-lane blocks and a tail", async () => {
    const [rows, cols] = [6, 13];
    await expectSame(
      "standardize",
      [rand.uniform(rows * cols, -50, 50), rand.uniform(cols, -5, 5), rand.uniform(cols, 0.5, 9)],
      [rows * cols],
      (K, [x, mean, std], [y]) => K.standardize_forward(y!, x!, mean!, std!, rows, cols),
    );
  });

  it("the activations, softmax with temperature and argmax", async () => {
    const size = 103;
    await expectSame("activations", [rand.uniform(size, -6, 6)], [size, size, size, size, size], (K, [x], [a, b, c, d, e]) => {
      K.relu_forward(a!, x!, size);
      K.leaky_relu_forward(b!, x!, size, 0.07);
      K.tanh_forward(c!, x!, size);
      K.sigmoid_forward(d!, x!, size);
      K.gelu_forward(e!, x!, size);
    });
    await expectSame("softmax, argmax", [rand.uniform(9 * 13, -8, 8)], [9 * 13, 9], (K, [x], [y, ids]) => {
      K.softmax_forward(y!, x!, 9, 13, 1.7);
      K.argmax(ids!, x!, 9, 13);
    });
  });
});
