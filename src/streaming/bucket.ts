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
  const text = String(key);
  let digest = md5s.get(text);
  if (digest === undefined) {
    digest = md5(utf8.encode(text));
    remember(md5s, text, digest);
  }
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
export function closestNodes(key: string, nodeIds: readonly string[], count: number): readonly string[] {
  // Writers and owners ask this per batch against the same view (one array while it holds): answered once per view.
  let answers = closestByView.get(nodeIds);
  if (answers === undefined) closestByView.set(nodeIds, (answers = new Map()));
  const asked = `${count}/${key}`;
  const known = answers.get(asked);
  if (known !== undefined) return known;
  const target = hashOf(key);
  const distance = (nodeId: string): Uint8Array => hashOf(nodeId).map((byte, i) => byte ^ target[i]!);
  const closest = [...new Set(nodeIds)]
    .map((nodeId) => ({ nodeId, d: distance(nodeId) }))
    .sort((a, b) => compareBytes(a.d, b.d) || (a.nodeId < b.nodeId ? -1 : 1))
    .slice(0, count)
    .map((entry) => entry.nodeId);
  if (answers.size < MEMO_LIMIT) answers.set(asked, closest);
  return closest;
}

/** Memo sizes: hashes of keys and node ids, answers per view (cleared when full: they are cheap to recompute). */
const MEMO_LIMIT = 16_384;
const md5s = new Map<string, Uint8Array>();
const sha256s = new Map<string, Uint8Array>();
const closestByView = new WeakMap<readonly string[], Map<string, readonly string[]>>();

function remember(memo: Map<string, Uint8Array>, text: string, digest: Uint8Array): void {
  if (memo.size >= MEMO_LIMIT) memo.clear();
  memo.set(text, digest);
}

function hashOf(text: string): Uint8Array {
  let digest = sha256s.get(text);
  if (digest === undefined) {
    digest = sha256(utf8.encode(text));
    remember(sha256s, text, digest);
  }
  return digest;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}
