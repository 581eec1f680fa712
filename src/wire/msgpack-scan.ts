/**
 * A validating pass over MessagePack bytes, run before msgpackr decodes them, so that decoding a frame from the
 * network can never set a prototype (`__proto__` keys), define records (msgpackr compiles record readers at
 * run time), follow structured-clone references, or recurse without bound. It allocates nothing and only reads.
 */

/** Extension types whose data sits inside the ext (skip it). */
const DATA_EXTENSIONS: ReadonlySet<number> = new Set([
  0x42, // BigInt ('B')
  0x74, // typed arrays, ArrayBuffer, DataView ('t')
  0xff, // Date (timestamp, type -1)
]);

/** `__proto__` as bytes, the one key that would change an object's prototype on assignment. */
const PROTO_KEY = [0x5f, 0x5f, 0x70, 0x72, 0x6f, 0x74, 0x6f, 0x5f, 0x5f];

export class MsgpackScanError extends Error {}

export interface ScanLimits {
  /** Deepest nesting of arrays, maps and tagged values. */
  maxDepth: number;
  /** Tag-style extension types (`fixext1 <type> 0` followed by one value) this codec defines. */
  taggedExtensions: ReadonlySet<number>;
}

/** Throws `MsgpackScanError` naming the first problem; returns normally when `bytes` is exactly one safe value. */
export function scanMsgpack(bytes: Uint8Array, limits: ScanLimits): void {
  const end = scanValue(bytes, 0, 0, limits);
  if (end !== bytes.length) throw new MsgpackScanError(`${bytes.length - end} trailing bytes after the value`);
}

function need(bytes: Uint8Array, at: number, n: number): void {
  if (at + n > bytes.length) throw new MsgpackScanError("truncated value");
}

function uint(bytes: Uint8Array, at: number, size: 1 | 2 | 4): number {
  need(bytes, at, size);
  if (size === 1) return bytes[at]!;
  if (size === 2) return (bytes[at]! << 8) | bytes[at + 1]!;
  return ((bytes[at]! << 24) >>> 0) + ((bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!);
}

function scanValue(bytes: Uint8Array, at: number, depth: number, limits: ScanLimits): number {
  if (depth > limits.maxDepth) throw new MsgpackScanError(`nesting deeper than ${limits.maxDepth}`);
  need(bytes, at, 1);
  const token = bytes[at]!;
  if (token <= 0x7f || token >= 0xe0) return at + 1; // fixints
  if (token <= 0x8f) return scanMap(bytes, at + 1, token & 0x0f, depth, limits);
  if (token <= 0x9f) return scanArray(bytes, at + 1, token & 0x0f, depth, limits);
  if (token <= 0xbf) return skip(bytes, at + 1, token & 0x1f);
  switch (token) {
    case 0xc0: case 0xc2: case 0xc3: return at + 1;
    case 0xc4: return skip(bytes, at + 2, uint(bytes, at + 1, 1));
    case 0xc5: return skip(bytes, at + 3, uint(bytes, at + 1, 2));
    case 0xc6: return skip(bytes, at + 5, uint(bytes, at + 1, 4));
    case 0xc7: return scanExt(bytes, at + 3, uint(bytes, at + 1, 1), bytes[at + 2], depth, limits);
    case 0xc8: return scanExt(bytes, at + 4, uint(bytes, at + 1, 2), bytes[at + 3], depth, limits);
    case 0xc9: return scanExt(bytes, at + 6, uint(bytes, at + 1, 4), bytes[at + 5], depth, limits);
    case 0xca: return skip(bytes, at + 1, 4);
    case 0xcb: return skip(bytes, at + 1, 8);
    case 0xcc: case 0xd0: return skip(bytes, at + 1, 1);
    case 0xcd: case 0xd1: return skip(bytes, at + 1, 2);
    case 0xce: case 0xd2: return skip(bytes, at + 1, 4);
    case 0xcf: case 0xd3: return skip(bytes, at + 1, 8);
    case 0xd4: need(bytes, at, 3); return scanExt(bytes, at + 2, 1, bytes[at + 1], depth, limits);
    case 0xd5: need(bytes, at, 2); return scanExt(bytes, at + 2, 2, bytes[at + 1], depth, limits);
    case 0xd6: need(bytes, at, 2); return scanExt(bytes, at + 2, 4, bytes[at + 1], depth, limits);
    case 0xd7: need(bytes, at, 2); return scanExt(bytes, at + 2, 8, bytes[at + 1], depth, limits);
    case 0xd8: need(bytes, at, 2); return scanExt(bytes, at + 2, 16, bytes[at + 1], depth, limits);
    case 0xd9: return skip(bytes, at + 2, uint(bytes, at + 1, 1));
    case 0xda: return skip(bytes, at + 3, uint(bytes, at + 1, 2));
    case 0xdb: return skip(bytes, at + 5, uint(bytes, at + 1, 4));
    case 0xdc: return scanArray(bytes, at + 3, uint(bytes, at + 1, 2), depth, limits);
    case 0xdd: return scanArray(bytes, at + 5, uint(bytes, at + 1, 4), depth, limits);
    case 0xde: return scanMap(bytes, at + 3, uint(bytes, at + 1, 2), depth, limits);
    case 0xdf: return scanMap(bytes, at + 5, uint(bytes, at + 1, 4), depth, limits);
    default: throw new MsgpackScanError(`invalid MessagePack token 0x${token.toString(16)}`);
  }
}

function skip(bytes: Uint8Array, at: number, n: number): number {
  need(bytes, at, n);
  return at + n;
}

function scanArray(bytes: Uint8Array, at: number, count: number, depth: number, limits: ScanLimits): number {
  // Every element takes at least one byte: a count beyond the remaining bytes is a lie, not a reason to loop.
  if (count > bytes.length - at) throw new MsgpackScanError("truncated array");
  for (let i = 0; i < count; i++) at = scanValue(bytes, at, depth + 1, limits);
  return at;
}

function scanMap(bytes: Uint8Array, at: number, count: number, depth: number, limits: ScanLimits): number {
  if (count * 2 > bytes.length - at) throw new MsgpackScanError("truncated map");
  for (let i = 0; i < count; i++) {
    if (isProtoKey(bytes, at)) throw new MsgpackScanError("refused key '__proto__'");
    at = scanValue(bytes, at, depth + 1, limits);
    at = scanValue(bytes, at, depth + 1, limits);
  }
  return at;
}

/** Whether the key at `at` is the string "__proto__", however it is encoded (fixstr, str8, str16, str32). */
function isProtoKey(bytes: Uint8Array, at: number): boolean {
  const token = bytes[at];
  let start: number;
  let length: number;
  if (token === undefined) return false;
  if (token >= 0xa0 && token <= 0xbf) [start, length] = [at + 1, token & 0x1f];
  else if (token === 0xd9) [start, length] = [at + 2, bytes[at + 1] ?? -1];
  else if (token === 0xda) [start, length] = [at + 3, at + 2 < bytes.length ? (bytes[at + 1]! << 8) | bytes[at + 2]! : -1];
  else if (token === 0xdb && at + 4 < bytes.length) {
    [start, length] = [at + 5, ((bytes[at + 1]! << 24) >>> 0) + ((bytes[at + 2]! << 16) | (bytes[at + 3]! << 8) | bytes[at + 4]!)];
  } else return false;
  if (length !== PROTO_KEY.length || start + length > bytes.length) return false;
  for (let i = 0; i < length; i++) if (bytes[start + i] !== PROTO_KEY[i]) return false;
  return true;
}

function scanExt(
  bytes: Uint8Array,
  at: number,
  length: number,
  type: number | undefined,
  depth: number,
  limits: ScanLimits,
): number {
  need(bytes, at, length);
  if (type === undefined) throw new MsgpackScanError("truncated extension");
  if (type === 0x00 && length === 1) return at + 1; // undefined
  if (DATA_EXTENSIONS.has(type)) return at + length;
  if (limits.taggedExtensions.has(type) && length === 1) return scanValue(bytes, at + 1, depth + 1, limits);
  throw new MsgpackScanError(`refused extension type 0x${type.toString(16)}`);
}
