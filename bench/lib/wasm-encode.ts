/**
 * Just enough of the WebAssembly binary format to write the peak probes (./peak.ts,
 * ./int-peak.ts) byte by byte, without a toolchain: LEB128 numbers, sections, opcodes
 * (core 2.0, SIMD proposal numbering) and a module of one exported function.
 */

export function uleb(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

export function sleb(value: number): number[] {
  const out: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

export function f32Bytes(x: number): number[] {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, x, true);
  return [...b];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

export function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

const name = (s: string) => {
  const bytes = [...new TextEncoder().encode(s)];
  return [...uleb(bytes.length), ...bytes];
};

// Value types and opcodes.
export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;
export const op = {
  block: 0x02,
  loop: 0x03,
  brIf: 0x0d,
  end: 0x0b,
  void: 0x40,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Const: 0x41,
  f32Const: 0x43,
  i32Sub: 0x6b,
  f32Add: 0x92,
};
export const simd = (code: number) => [0xfd, ...uleb(code)];

/** A module whose one export, `exportName`, is a function of these parameter and result types; `code` is its locals vector then its body. */
export function moduleBytes(exportName: string, params: number[], results: number[], code: number[]): Uint8Array<ArrayBuffer> {
  const funcType = [0x60, ...vec(params.map((t) => [t])), ...vec(results.map((t) => [t]))];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // "\0asm", version 1
    ...section(1, vec([funcType])), // type section
    ...section(3, vec([uleb(0)])), // function section: func 0 has type 0
    ...section(7, vec([[...name(exportName), 0x00, ...uleb(0)]])), // export = func 0
    ...section(10, vec([[...uleb(code.length), ...code]])), // code section
  ]);
}
