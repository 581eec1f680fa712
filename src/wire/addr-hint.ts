/**
 * Address hints: a few multiaddr strings of a node, carried where another node may need to dial it without
 * knowing it yet (an actor ref's fifth field, a `/pulsing/find-node/1.0.0` answer). They are bounded and come from
 * anyone, so they are checked for shape here (cheap, at decode time) and parsed as multiaddrs only when used.
 */

/** At most this many addresses travel in one hint. */
export const MAX_HINT_ADDRS = 8;
/** Longer address strings are left out of (or make a receiver drop) a hint: a circuit address with two ids is ~200. */
export const MAX_HINT_ADDR_LENGTH = 256;

/** Whether `value` has the shape of a hint: an array of at most 8 non-empty strings of at most 256 characters. */
export function isAddrHint(value: unknown): value is string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_HINT_ADDRS) return false;
  for (const addr of value) {
    if (typeof addr !== "string" || addr.length === 0 || addr.length > MAX_HINT_ADDR_LENGTH) return false;
  }
  return true;
}

/**
 * `node`'s addresses as a hint: without the trailing `/p2p/<node>` (the receiver knows the id), deduplicated,
 * over-long ones left out, at most `MAX_HINT_ADDRS`.
 */
export function hintOf(node: string, addrs: readonly string[]): string[] {
  const suffix = `/p2p/${node}`;
  const hint: string[] = [];
  for (const full of addrs) {
    const addr = full.endsWith(suffix) ? full.slice(0, -suffix.length) : full;
    if (addr.length === 0 || addr.length > MAX_HINT_ADDR_LENGTH || hint.includes(addr)) continue;
    hint.push(addr);
    if (hint.length === MAX_HINT_ADDRS) break;
  }
  return hint;
}
