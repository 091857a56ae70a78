/**
 * distill --quantize int8: quantization-aware distillation from the command line. The int8
 * student is saved to --out (a quantized file that loadQuantized and distill-wasm/infer read),
 * its test accuracy recorded in the file and the --json document; --class-bias is refused.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { decodeSafetensors, init, loadQuantized } from "../../src/index.js";
import { loadStudent } from "../../src/infer/index.js";
import { expectSameBits } from "../helpers/compare.js";
import { blobs } from "../helpers/tiny-data.js";

const CLI = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));

function cli(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: "utf8", timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

let dir: string;
beforeAll(async () => {
  await init();
  dir = mkdtempSync(join(tmpdir(), "distill-cli-quantize-"));
  const data = blobs({ rows: 300, features: 8, classes: 3, seed: 4, spread: 1.5 });
  const lines = ["label,f0,f1,f2,f3,f4,f5,f6,f7"];
  for (let r = 0; r < data.length; r++) lines.push([data.y[r], ...data.x.subarray(r * 8, r * 8 + 8)].join(","));
  writeFileSync(join(dir, "blobs.csv"), `${lines.join("\n")}\n`);
  expect(cli(["train", "--data", "csv:blobs.csv", "--arch", "8-16-3", "--epochs", "3", "--out", "teacher.safetensors"], dir).code).toBe(0);
});

describe("distill --quantize int8", () => {
  const common = ["distill", "--data", "csv:blobs.csv", "--test-split", "0.2", "--teacher", "teacher.safetensors", "--arch", "8-12-3", "--epochs", "3"];

  it("saves the int8 student, with its test accuracy, loadable by both packages with the same bits", async () => {
    const r = cli([...common, "--quantize", "int8", "--json", "--out", "int8.safetensors"], dir);
    expect(r.code, r.err).toBe(0);
    const doc = JSON.parse(r.out) as { quantize: string; accuracy: number };
    expect(doc.quantize).toBe("int8");
    expect(doc.accuracy).toBeGreaterThan(0.8);
    const bytes = new Uint8Array(readFileSync(join(dir, "int8.safetensors")));
    const { metadata, tensors } = decodeSafetensors(bytes);
    expect(JSON.parse(metadata.quantization!)).toEqual({ weights: "int8", activations: "int8", scheme: "symmetric" });
    expect(Number(metadata.test_accuracy)).toBe(doc.accuracy);
    expect(tensors.get("0.weight")!.dtype).toBe("I8");
    const model = await loadQuantized(join(dir, "int8.safetensors"));
    const student = await loadStudent(bytes);
    const x = Float32Array.from({ length: 8 * 20 }, (_, i) => Math.sin(i));
    expectSameBits(student.logits(x), model.logits(x));
    model.dispose();
    student.dispose();
  });

  it("--class-bias cannot follow --quantize (exit 2, nothing written)", () => {
    const r = cli([...common, "--quantize", "int8", "--class-bias", "1:2", "--out", "never.safetensors"], dir);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--class-bias .* cannot follow --quantize/);
    expect(existsSync(join(dir, "never.safetensors"))).toBe(false);
  });
});
