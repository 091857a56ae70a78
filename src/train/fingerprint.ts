/**
 * What identifies a training run for its checkpoints: a hash of the data's content (not
 * only its size), so that resuming with another file of the same row count is refused.
 * Two independent 32-bit FNV-1a hashes over the 32-bit words (and the trailing bytes) of
 * each array, in order, written as 16 hex digits: not cryptographic, but any change of a
 * value changes it, and it reads 60,000 MNIST images in a few tens of milliseconds.
 */
type Bytes = ArrayBufferView;

export function contentHash(...arrays: readonly Bytes[]): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  const mix = (word: number) => {
    a = Math.imul(a ^ word, 0x01000193);
    b = Math.imul(b ^ word, 0x5bd1e995) ^ (b >>> 15);
  };
  for (const array of arrays) {
    const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
    const whole = bytes.byteLength >>> 2;
    // A Uint32Array needs a 4-byte aligned offset; copy the rare unaligned view.
    const words = bytes.byteOffset % 4 === 0 ? new Uint32Array(bytes.buffer, bytes.byteOffset, whole) : new Uint32Array(bytes.slice(0, whole * 4).buffer);
    for (let i = 0; i < words.length; i++) mix(words[i]!);
    for (let i = whole * 4; i < bytes.byteLength; i++) mix(bytes[i]!);
    mix(bytes.byteLength);
  }
  const hex = (x: number) => (x >>> 0).toString(16).padStart(8, "0");
  return hex(a) + hex(b);
}
