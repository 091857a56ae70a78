/**
 * The exports of a WebAssembly binary with each function's type, read straight from its
 * type, import, function and export sections: no compilation, so it works for builds the
 * running engine cannot compile (relaxed SIMD, shared memory).
 */

export type ValueType = "i32" | "i64" | "f32" | "f64" | "v128" | "funcref" | "externref";
export type ExportKind = "function" | "table" | "memory" | "global" | "tag";

export interface WasmExport {
  name: string;
  kind: ExportKind;
  /** For functions: parameter and result types. */
  params?: ValueType[];
  results?: ValueType[];
}

const VALUE_TYPES: Record<number, ValueType> = {
  0x7f: "i32",
  0x7e: "i64",
  0x7d: "f32",
  0x7c: "f64",
  0x7b: "v128",
  0x70: "funcref",
  0x6f: "externref",
};
const KINDS: ExportKind[] = ["function", "table", "memory", "global", "tag"];

export function wasmExports(bytes: Uint8Array): WasmExport[] {
  let at = 0;
  const byte = (): number => {
    if (at >= bytes.length) throw new Error("wasm: unexpected end of the binary");
    return bytes[at++]!;
  };
  const u32 = (): number => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const b = byte();
      value += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) return value;
    }
  };
  const name = (): string => {
    const length = u32();
    at += length;
    return new TextDecoder().decode(bytes.subarray(at - length, at));
  };
  const valueType = (): ValueType => {
    const code = byte();
    const type = VALUE_TYPES[code];
    if (!type) throw new Error(`wasm: unsupported value type 0x${code.toString(16)}`);
    return type;
  };
  const vector = <T>(item: () => T): T[] => Array.from({ length: u32() }, item);
  const limits = (): void => {
    const flags = byte();
    u32();
    if (flags & 1) u32();
  };

  if (bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) throw new Error("wasm: not a WebAssembly binary");
  at = 8;
  const types: { params: ValueType[]; results: ValueType[] }[] = [];
  const functionTypes: number[] = []; // imported functions first, then the module's own
  const exports: { name: string; kind: ExportKind; index: number }[] = [];
  while (at < bytes.length) {
    const id = byte();
    const size = u32();
    const end = at + size;
    if (id === 1) {
      for (let n = u32(); n > 0; n--) {
        const form = byte();
        if (form !== 0x60) throw new Error(`wasm: unsupported type form 0x${form.toString(16)}`);
        types.push({ params: vector(valueType), results: vector(valueType) });
      }
    } else if (id === 2) {
      for (let n = u32(); n > 0; n--) {
        name();
        name();
        const kind = byte();
        if (kind === 0) functionTypes.push(u32());
        else if (kind === 1) (byte(), limits());
        else if (kind === 2) limits();
        else if (kind === 3) (valueType(), byte());
        else if (kind === 4) (byte(), u32());
        else throw new Error(`wasm: unsupported import kind ${kind}`);
      }
    } else if (id === 3) {
      functionTypes.push(...vector(u32));
    } else if (id === 7) {
      exports.push(
        ...vector(() => {
          const exportName = name();
          const code = byte();
          const kind = KINDS[code];
          if (!kind) throw new Error(`wasm: export ${exportName} has the unknown kind ${code}`);
          return { name: exportName, kind, index: u32() };
        }),
      );
    }
    at = end;
  }
  return exports.map(({ name, kind, index }) => {
    if (kind !== "function") return { name, kind };
    const type = types[functionTypes[index] ?? -1];
    if (!type) throw new Error(`wasm: export ${name} names function ${index}, which has no type`);
    return { name, kind, params: type.params, results: type.results };
  });
}
