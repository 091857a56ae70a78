/**
 * `distill-wasm export`: a saved model as ONNX (one file) or as a TensorFlow.js layers
 * model (a folder receiving model.json and its weights file). The exporters (and
 * protobufjs) are loaded by `import()` when the command runs, so the other commands never
 * load them. Every flag, the outputs against the input and the options are checked before
 * the model is read.
 */
import { modelFromSafetensors } from "../../io/model-file.js";
import { decodeSafetensors } from "../../io/safetensors.js";
import { isQuantizedFile } from "../../quantize/file.js";
import { quantizedFromSafetensors } from "../../quantize/model.js";
import { joinPath, makeDirectory, readBytes, writeBytesAtomic, writeTextFile } from "../../runtime/files.js";
import { ENGINE_FLAGS, startEngine } from "../engine.js";
import { UsageError, type Flags, type FlagSpec } from "../args.js";
import type { Context } from "../context.js";
import { checkOutputs, type FlagPath } from "../outputs.js";

export const EXPORT_USAGE = "usage: distill-wasm export --model m.safetensors --format onnx|tfjs --out PATH [--opset N] [--float16] [--json]";
export const EXPORT_SPEC: Record<string, FlagSpec> = {
  ...ENGINE_FLAGS,
  model: { kind: "string", help: "the model file to export (.safetensors, float or quantized)" },
  format: { kind: "string", help: "onnx (one .onnx file) | tfjs (a folder: model.json and its weights)", default: "onnx" },
  out: { kind: "string", help: "the .onnx file to write, or (tfjs) the folder to write model.json and model.weights.bin into" },
  opset: { kind: "int", help: "onnx: the ai.onnx opset, 13 to 21 (default 17)" },
  float16: { kind: "boolean", help: "tfjs: store the weights as half-precision floats (half the size)" },
  json: { kind: "boolean", help: "print one JSON document" },
};

const FORMATS = ["onnx", "tfjs"];

export async function runExport(ctx: Context, flags: Flags): Promise<number> {
  const file = flags.model as string | undefined;
  const out = flags.out as string | undefined;
  const format = flags.format as string;
  if (!file) throw new UsageError("--model is required: the model file to export, e.g. --model student.safetensors");
  if (!out) throw new UsageError("--out is required: the .onnx file to write, or (--format tfjs) a folder, e.g. --out student.onnx");
  if (!FORMATS.includes(format)) throw new UsageError(`--format must be onnx or tfjs; got ${JSON.stringify(format)}`);
  if (format !== "onnx" && flags.opset !== undefined) throw new UsageError("--opset applies to --format onnx only");
  if (format !== "tfjs" && flags.float16) throw new UsageError("--float16 applies to --format tfjs only");
  const exporter = await import("../../export/index.js");
  // The library's option checks (an OptionError here is a usage mistake: exit 2).
  const onnxOptions = format === "onnx" ? exporter.checkOnnxOptions(flags.opset === undefined ? {} : { opset: flags.opset as number }) : undefined;
  const tfjsOptions = format === "tfjs" ? exporter.checkTfjsOptions({ float16: Boolean(flags.float16) }) : undefined;
  let outputs: FlagPath[];
  if (format === "tfjs") {
    // The folder is made now, so that the files it will hold can be checked before the model is read.
    await makeDirectory(out, "--out");
    outputs = ["model.json", exporter.TFJS_WEIGHTS_FILE].map((name) => ({ flag: "out", path: String(joinPath(out, name)) }));
  } else {
    outputs = [{ flag: "out", path: out }];
  }
  await checkOutputs(flags, outputs);
  await startEngine(flags);
  // A quantized file (int8 or fp16 student) becomes a QDQ graph; toTfjs refuses it (ArgumentError).
  const bytes = await readBytes(file, "--model");
  const quantized = isQuantizedFile(decodeSafetensors(bytes, file, { copy: false }).metadata);
  const model = quantized ? quantizedFromSafetensors(bytes, {}, file) : modelFromSafetensors(bytes, {}, file);
  const written: { path: string; bytes: number }[] = [];
  let architecture: string;
  try {
    architecture = "architecture" in model ? model.architecture : `quantized (${model.weights} weights, ${model.activations} activations)`;
    if (onnxOptions) {
      const bytes = exporter.toOnnx(model, onnxOptions);
      await writeBytesAtomic(out, bytes, "--out");
      written.push({ path: out, bytes: bytes.length });
    } else {
      const { modelJson, weights } = exporter.toTfjs(model, tfjsOptions);
      // The weights first: model.json names them, so a reader never finds it without them.
      await writeBytesAtomic(outputs[1]!.path, weights, "--out");
      const json = JSON.stringify(modelJson);
      await writeTextFile(outputs[0]!.path, json, "--out");
      written.push({ path: outputs[0]!.path, bytes: new TextEncoder().encode(json).length }, { path: outputs[1]!.path, bytes: weights.length });
    }
  } finally {
    model.dispose();
  }
  const detail = onnxOptions ? `ONNX opset ${onnxOptions.opset}` : `TensorFlow.js layers model, ${tfjsOptions!.float16 ? "float16" : "float32"} weights`;
  if (ctx.mode === "json") {
    ctx.json({ command: "export", model: file, architecture, format, ...(onnxOptions ?? {}), ...(tfjsOptions ?? {}), out, files: written });
  } else {
    ctx.say(`${file}: ${architecture} → ${detail}`);
    for (const w of written) ctx.say(`wrote ${w.path} (${w.bytes.toLocaleString("en-US")} bytes)`);
  }
  return 0;
}
