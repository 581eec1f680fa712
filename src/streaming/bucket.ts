import { md5 } from "@noble/hashes/legacy.js";
import { sha256 } from "@noble/hashes/sha2.js";

const utf8 = new TextEncoder();

/**
 * The bucket of a record whose bucket column holds `key`: the MD5 of `String(key)` read as a big-endian integer,
 * modulo `numBuckets` — Pulsing's rule (`int(md5(str(v)).hexdigest(), 16) % n`), so string and integer keys land in
 * the same buckets as in Pulsing. (`String` and Python's `str` differ for floats with no fraction, `1.0`, and for
 * booleans.)
 */
export function bucketOf(key: unknown, numBuckets: number): number {
  const digest = md5(utf8.encode(String(key)));
  // (a·2^8 + b) mod n, byte by byte: the 128-bit integer never needs building.
  let rest = 0;
  for (const byte of digest) rest = (rest * 256 + byte) % numBuckets;
  return rest;
}

/** The key a queue bucket is placed by (DESIGN.md, "Placement by distance"). */
export const bucketKey = (topic: string, bucketId: number): string => `${topic}/${bucketId}`;

/**
 * The `count` members closest to `key` by XOR distance between `sha256(nodeId)` and `sha256(key)` (UTF-8 bytes of
 * each), closest first: a one-hop DHT over the membership. Every node computes the same answer from the same view.
 */
export function closestNodes(key: string, nodeIds: readonly string[], count: number): string[] {
  const target = sha256(utf8.encode(key));
  const distance = (nodeId: string): Uint8Array => {
    const id = sha256(utf8.encode(nodeId));
    return id.map((byte, i) => byte ^ target[i]!);
  };
  return [...new Set(nodeIds)]
    .map((nodeId) => ({ nodeId, d: distance(nodeId) }))
    .sort((a, b) => compareBytes(a.d, b.d) || (a.nodeId < b.nodeId ? -1 : 1))
    .slice(0, count)
    .map((entry) => entry.nodeId);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}
