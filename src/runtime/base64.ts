/**
 * Base64 text (the embedded wasm builds) → bytes. A native decoder where the runtime has
 * one (`Uint8Array.fromBase64`, or Node's and Bun's `Buffer`), else `atob` and a loop, which
 * every runtime the package supports has: on a cold start the loop alone took longer than
 * compiling the module it decodes.
 */
interface NativeDecoders {
  fromBase64?: (text: string) => Uint8Array;
  Buffer?: { from(text: string, encoding: "base64"): Uint8Array };
}

export function decodeBase64(text: string): Uint8Array {
  const typed = Uint8Array as unknown as NativeDecoders;
  if (typeof typed.fromBase64 === "function") return typed.fromBase64(text);
  const buffer = (globalThis as NativeDecoders).Buffer;
  if (typeof buffer?.from === "function") {
    const b = buffer.from(text, "base64");
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  }
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
