/**
 * `loadStudent(source)`: a model file (the `.safetensors` that `saveModel` writes) → a
 * `Student` that predicts. The source is the file's bytes, or where to read them: a URL (or
 * a URL string: http(s), blob:, data:) is fetched; any other string is a path, read from
 * disk in Node, Deno and Bun (file: URLs too) and fetched relative to the page in browsers.
 * `node:` modules are imported lazily (src/runtime/files.ts), so a browser bundle holds none.
 */
import { ArgumentError } from "../errors.js";
import { planModelFile } from "../io/model-plan.js";
import { decodeSafetensors } from "../io/safetensors.js";
import { ACTIVATIONS, type ActivationName } from "../nn/layers/index.js";
import { checkOptions, oneOf } from "../options/schema.js";
import { readBytes } from "../runtime/files.js";
import { inferKernels } from "./kernels.js";
import { isQuantizedFile, readQuantizedFile } from "../quantize/file.js";
import { Student } from "./student.js";

/** A model file's bytes, or its location (a URL, a URL string or a path). */
export type StudentSource = Uint8Array | ArrayBuffer | URL | string;

export interface LoadStudentOptions {
  /**
   * Only for files without `architecture` metadata (a PyTorch `nn.Sequential` of Linear
   * layers): the activation assumed between two Linear layers (default "relu"), or "none".
   */
  activation?: ActivationName | "none";
}

const OPTIONS = { activation: oneOf([...ACTIVATIONS, "none"]) };

/**
 * Reads a model file and loads it on a fresh instance of the inference kernels: a float
 * model, or a quantized one (int8 weights, `quantization` metadata: `student.quantization`
 * says which), as a `Student`. A file that is not a model (bad bytes, missing
 * or misshapen tensors, a dtype other than F32, F16, BF16 or F64, or I8 outside a quantized
 * file) is a FormatError naming the problem; an unreadable location an ArgumentError.
 */
export async function loadStudent(source: StudentSource, options: LoadStudentOptions = {}): Promise<Student> {
  const op = "loadStudent";
  const { activation = "relu" } = checkOptions(op, OPTIONS, options);
  // The kernels compile while the file is read; a failure of either is reported, the file's first.
  const kernels = inferKernels();
  kernels.catch(() => {});
  const [bytes, name] = await read(op, source);
  const file = decodeSafetensors(bytes, name, { copy: false }); // the weights are copied into wasm
  if (isQuantizedFile(file.metadata)) {
    const net = readQuantizedFile(file, name);
    return new Student(await kernels, { net }, file.metadata);
  }
  // The values' finiteness is checked by the Student once they are in wasm memory (faster than a cold JavaScript loop).
  const { plan, tensors, metadata } = planModelFile(file, activation, name, "caller");
  return new Student(await kernels, { plan, tensors, checkFinite: { name } }, metadata);
}

/** The file's bytes and the name its errors give it. */
async function read(op: string, source: StudentSource): Promise<[Uint8Array, string]> {
  if (source instanceof Uint8Array) return [source, "model file"];
  if (source instanceof ArrayBuffer) return [new Uint8Array(source), "model file"];
  if (source instanceof URL || (typeof source === "string" && source.length > 0)) {
    return [await readBytes(source, op), source instanceof URL ? source.href : source];
  }
  throw new ArgumentError(
    `${op}: source must be a Uint8Array, an ArrayBuffer, a URL or a non-empty path or URL string; got ${source === null ? "null" : typeof source}`,
  );
}
