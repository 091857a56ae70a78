/**
 * What the suites need from the runtime they run in, injected through the context so that
 * the suites themselves use no `node:` module and run unchanged in Node, Deno, Bun and a
 * browser page. `node-platform.ts` implements it with the file system (today's behaviour);
 * `../browser/platform.ts` with fetch, navigator and a POST to the serving process.
 */
import type { MachineInfo } from "./machine.js";
import type { NativeTools } from "./native-tools.js";

export interface Platform {
  /** The machine and runtime of this run (date = now). */
  machineInfo(): MachineInfo;
  /** Progress text for the operator (Node: stderr); never part of the printed tables. */
  progress(text: string): void;
  /** The version of an installed package ("?" when unknown). */
  packageVersion(name: string): string;
  /** The version of distill-wasm itself. */
  projectVersion(): string;
  /** The prefix given to tfjs-backend-wasm's setWasmPaths: where its .wasm files are. */
  tfjsWasmPaths: string;
  /** ort.env.wasm.wasmPaths: where onnxruntime-web's .wasm / .mjs files are. */
  ortWasmPaths: string;
  /** Registers tfjs-core's gradient functions with the running tfjs engine. */
  registerTfjsGradients(): Promise<void>;
  /**
   * Saves one output file (a result JSON or the chart) under the name given, e.g.
   * "node-2026-11-28.json"; resolves to the location to print after "wrote ".
   */
  saveFile(name: string, text: string): Promise<string>;
  /** Child processes and files (PyTorch, the CLI, MNIST): Node, Deno and Bun; absent in a page. */
  native?: NativeTools;
  /** Starts recording how busy the machine is; the function returned ends it (Node, Deno, Bun; absent in a page). */
  startLoadRecord?: () => () => SuiteLoad;
}

/** The machine's load while one suite ran (lib/node-load.ts). */
export interface SuiteLoad {
  /** One-minute load average at the suite's start and end. */
  loadAverageStart: number;
  loadAverageEnd: number;
  /** Of all CPU time on the machine during the suite: % stolen by the hypervisor for other guests, % busy (Linux). */
  stealPercent?: number;
  busyPercent?: number;
}
