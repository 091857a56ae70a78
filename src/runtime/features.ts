/**
 * WebAssembly feature detection by validating tiny modules (no compilation, no I/O).
 * Each probe is a module with one function `() -> v128` using the feature.
 */

// prettier-ignore
const HEADER_AND_TYPE = [
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b,       // type section: () -> v128
  0x03, 0x02, 0x01, 0x00,                         // function section: one function of type 0
];

/** Code section around one function body (body excludes its size byte; no locals). */
function moduleWithBody(body: number[]): Uint8Array<ArrayBuffer> {
  const fn = [0x00, ...body, 0x0b]; // 0 local groups, body, end
  const code = [0x01, fn.length, ...fn];
  return new Uint8Array([...HEADER_AND_TYPE, 0x0a, code.length, ...code]);
}

// i32.const 0; i8x16.splat; i8x16.popcnt
const SIMD_PROBE = moduleWithBody([0x41, 0x00, 0xfd, 0x0f, 0xfd, 0x62]);
// i32.const 1; i8x16.splat; i32.const 2; i8x16.splat; i8x16.relaxed_swizzle
const RELAXED_SIMD_PROBE = moduleWithBody([0x41, 0x01, 0xfd, 0x0f, 0x41, 0x02, 0xfd, 0x0f, 0xfd, 0x80, 0x02]);

export interface WasmFeatures {
  webAssembly: boolean;
  simd: boolean;
  relaxedSimd: boolean;
}

let cached: WasmFeatures | undefined;

/** What this engine supports (cached after the first call). */
export function detectFeatures(): WasmFeatures {
  if (cached) return cached;
  const hasWasm = typeof WebAssembly === "object" && typeof WebAssembly.validate === "function";
  cached = {
    webAssembly: hasWasm,
    simd: hasWasm && WebAssembly.validate(SIMD_PROBE),
    relaxedSimd: hasWasm && WebAssembly.validate(RELAXED_SIMD_PROBE),
  };
  return cached;
}

/** The minimum versions with fixed-width WebAssembly SIMD, for error messages. */
export const SIMD_MINIMUM_VERSIONS = "Node 16.4, Deno 1.9, Bun 1.0, Chrome 91, Edge 91, Firefox 89, Safari 16.4";

/** Logical cores this process may use: navigator.hardwareConcurrency, or Node's os module (loaded only where it exists); 1 if neither says. */
export async function coreCount(): Promise<number> {
  const fromNavigator = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  if (typeof fromNavigator === "number" && fromNavigator > 0) return fromNavigator;
  try {
    const os = await import("node:os");
    return Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
  } catch {
    return 1;
  }
}
