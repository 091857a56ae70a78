// Types for abi-gen.mjs (plain JavaScript: the build runs it before anything is compiled).

/** The checkout's root directory (this file's parent's parent). */
export declare const ROOT: string;
/** "assembly/index.ts", relative to the root. */
export declare const ENTRY: string;
/** "src/runtime/abi.generated.ts", relative to the root. */
export declare const OUTPUT: string;
/** "assembly/infer.ts", the inference entry, relative to the root. */
export declare const INFER_ENTRY: string;
/** "src/infer/abi.generated.ts", relative to the root. */
export declare const INFER_OUTPUT: string;
/** The AssemblyScript types allowed in a kernel signature, and their JavaScript types. */
export declare const BOUNDARY_TYPES: Readonly<Record<string, "number" | "bigint">>;

export interface AbiKernel {
  /** The wasm export name. */
  name: string;
  /** The assembly file that declares the function, relative to the root. */
  file: string;
  /** The function's name in that file (the export may rename it). */
  local: string;
  params: { name: string; type: string }[];
  /** An AssemblyScript type, or "void". */
  result: string;
  doc: string[] | undefined;
}

export interface AbiConstant {
  name: string;
  file: string;
  type: string;
  value: number;
  /** The initializer as written. */
  expression: string;
  doc: string[] | undefined;
}

export interface Abi {
  /** In assembly/index.ts's order. */
  kernels: AbiKernel[];
  /** By file (in assembly/index.ts's order), then in source order. */
  constants: AbiConstant[];
}

/** Parses the ABI from assembly/index.ts (or `entry`) and the files it exports from, under `root`. */
export declare function readAbi(root?: string, entry?: string): Abi;
/** The kernels of assembly/infer.ts, each checked to be one of index.ts's, from the same function; no `_ref` twins. */
export declare function readInferAbi(root?: string): AbiKernel[];
/** The text of src/infer/abi.generated.ts for those kernels. */
export declare function renderInferAbi(kernels: AbiKernel[]): string;
/** renderInferAbi(readInferAbi(root)). */
export declare function generateInferAbi(root?: string): string;
/** The text of src/runtime/abi.generated.ts for an ABI. */
export declare function renderAbi(abi: Abi): string;
/** renderAbi(readAbi(root)). */
export declare function generateAbi(root?: string): string;
