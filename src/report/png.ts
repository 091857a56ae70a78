/**
 * A minimal PNG encoder for small grayscale images (the report's digit thumbnails), so the
 * report stays a single self-contained file: 8-bit grayscale, one IDAT chunk holding a
 * zlib stream of stored (uncompressed) deflate blocks, CRC-32 and Adler-32 computed here.
 * No platform APIs are needed (no Buffer, no btoa, no canvas).
 */

let crcTable: Uint32Array | undefined;

function crc32(bytes: Uint8Array, start: number, end: number): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = crcTable[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function adler32(bytes: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (let i = 0; i < bytes.length; i++) {
    a = (a + bytes[i]!) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** zlib stream (RFC 1950) of stored deflate blocks (RFC 1951, BTYPE 00). */
function zlibStored(data: Uint8Array): Uint8Array {
  const blocks = Math.max(1, Math.ceil(data.length / 65535));
  const out = new Uint8Array(2 + blocks * 5 + data.length + 4);
  const view = new DataView(out.buffer);
  out[0] = 0x78; // deflate, 32 KB window
  out[1] = 0x01; // no dictionary, fastest; (0x78 << 8 | 0x01) % 31 === 0
  let at = 2;
  for (let b = 0; b < blocks; b++) {
    const start = b * 65535;
    const length = Math.min(65535, data.length - start);
    out[at++] = b === blocks - 1 ? 1 : 0; // BFINAL, BTYPE = 00
    view.setUint16(at, length, true);
    view.setUint16(at + 2, ~length & 0xffff, true);
    at += 4;
    out.set(data.subarray(start, start + length), at);
    at += length;
  }
  view.setUint32(at, adler32(data));
  return out;
}

/**
 * A PNG file of an 8-bit grayscale image.
 * @param gray width × height bytes, row-major, 0 = black, 255 = white
 */
export function encodeGrayscalePng(gray: Uint8Array, width: number, height: number): Uint8Array {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0) || gray.length !== width * height) {
    throw new RangeError(`encodeGrayscalePng: expected ${width}×${height} = ${width * height} bytes; got ${gray.length}`);
  }
  const raw = new Uint8Array(height * (width + 1)); // each scanline: filter type 0, then the row
  for (let y = 0; y < height; y++) raw.set(gray.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  const idat = zlibStored(raw);
  const chunks: [string, Uint8Array][] = [
    ["IHDR", new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0])], // size filled below; depth 8, grayscale
    ["IDAT", idat],
    ["IEND", new Uint8Array(0)],
  ];
  new DataView(chunks[0]![1].buffer).setUint32(0, width);
  new DataView(chunks[0]![1].buffer).setUint32(4, height);
  const total = 8 + chunks.reduce((sum, [, body]) => sum + 12 + body.length, 0);
  const png = new Uint8Array(total);
  const view = new DataView(png.buffer);
  png.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  let at = 8;
  for (const [type, body] of chunks) {
    view.setUint32(at, body.length);
    for (let i = 0; i < 4; i++) png[at + 4 + i] = type.charCodeAt(i);
    png.set(body, at + 8);
    view.setUint32(at + 8 + body.length, crc32(png, at + 4, at + 8 + body.length));
    at += 12 + body.length;
  }
  return png;
}

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

export function base64(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += BASE64[(n >> 18) & 63]! + BASE64[(n >> 12) & 63]!;
    out += i + 1 < bytes.length ? BASE64[(n >> 6) & 63]! : "=";
    out += i + 2 < bytes.length ? BASE64[n & 63]! : "=";
  }
  return out;
}

/**
 * A `data:image/png;base64,…` URL of a square digit image with values in [0, 1]
 * (MNIST: 0 = background), drawn as dark ink on white paper.
 */
export function digitDataUrl(pixels: ArrayLike<number>, side: number = Math.round(Math.sqrt(pixels.length))): string {
  const gray = new Uint8Array(side * side);
  for (let i = 0; i < gray.length; i++) {
    const v = Math.min(1, Math.max(0, Number(pixels[i]) || 0));
    gray[i] = Math.round(255 * (1 - v));
  }
  return `data:image/png;base64,${base64(encodeGrayscalePng(gray, side, side))}`;
}
