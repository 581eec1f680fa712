import type { Libp2p, PeerId } from "@libp2p/interface";

/**
 * The part of `@libp2p/circuit-relay-v2`'s client-side reservation store (4.2.x) a tab uses to reserve again on a
 * seed that came back. Not a public API: it is reached through libp2p's components, and every member is checked
 * before use, so a version that moves it leaves libp2p's own discovery in charge (and e2e/seed-restart.e2e.ts,
 * which waits for the tabs' reservations on the restarted seed, then fails about one run in two).
 */
interface ReservationStore {
  hasReservation(peer: PeerId): boolean;
  addRelay(peer: PeerId, type: "discovered"): Promise<unknown>;
  /** Relays whose dial failed, skipped by `addRelay` until the number of reservations changes. */
  relayFilter?: { remove?(item: Uint8Array): boolean };
}

/** The node's relay reservation store (a node with the circuit relay transport), if it is where 4.2.x has it. */
export function reservationStore(node: Libp2p): ReservationStore | undefined {
  const transports = (node as unknown as { components?: { transportManager?: { getTransports?(): unknown[] } } }).components
    ?.transportManager?.getTransports?.();
  for (const transport of transports ?? []) {
    const store = (transport as { reservationStore?: Partial<ReservationStore> }).reservationStore;
    if (typeof store?.hasReservation === "function" && typeof store.addRelay === "function") return store as ReservationStore;
  }
  return undefined;
}

/**
 * Reserves a slot on `relay` (a seed just admitted on a direct connection) when this node still wants a
 * reservation and holds none there. libp2p's relay discovery tries a relay once per connected spell — on the first
 * identify that names the hop protocol — and that one try failed for seeds that restarted (seen in
 * e2e/seed-restart.e2e.ts, the tab then staying off the seed for good): when the first connection to the restarted
 * seed was relayed through the other seed (a call made meanwhile), the try ended in `DoubleRelayError`; and while
 * the seed was down, the search for a replacement relay tried it from the peer store and failed to dial it, which
 * for a `DialError` puts it on a "previously invalid" filter, cleared only when the number of reservations changes.
 * So: off that filter, and try again over the direct connection. Fire and forget: a refusal (enough reservations
 * already, the seed gone again) changes nothing.
 */
export function reserveAgain(store: ReservationStore | undefined, relay: PeerId): void {
  if (store === undefined || store.hasReservation(relay)) return;
  store.relayFilter?.remove?.(relay.toMultihash().bytes);
  store.addRelay(relay, "discovered").catch(() => {});
}
