import type { Connection, Libp2p, PeerId } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import type { Multiaddr } from "@multiformats/multiaddr";
import { isRelayed, RELAYED_ADDR, RELAYED_WEBRTC_ADDR } from "./connection-kind.js";

/** How long a call waits for a direct WebRTC connection before it goes over the relayed one instead (default). */
const DIRECT_WAIT_MS = 1_000;
/** One WebRTC dial, signalling included (they take 0.1–1 s here). */
const WEBRTC_DIAL_MS = 3_000;
/**
 * Rounds of WebRTC dials per attempt at a direct connection: a dial may fail (`@libp2p/webrtc` 6.0.33 hangs now and
 * then when the far side closes the `init` channel early: Pulsing nodes no longer do, see
 * src/transport/webrtc-init-channel.ts, but other peers may); a fresh dial then goes through.
 */
const WEBRTC_ROUNDS = 2;
/**
 * Pauses before each attempt while a tab's calls go over the relay (the first joins an attempt under way, if any):
 * an attempt whose rounds all failed is not the end, or one unlucky dial would leave a pair of tabs relayed (5–6×
 * the RTT) for good.
 */
const UPGRADE_BACKOFF_MS = [0, 1_000, 2_000, 4_000, 8_000, 15_000, 30_000];

/**
 * Finds the connection a peer's calls go over: an admitted one (cluster secret), direct whenever possible.
 * Node and Deno peers are reached directly (TCP, WebSockets). Between browser tabs, a direct WebRTC connection
 * is dialed (signalled through a seed's relay); if it is not up within `directWaitMs` (1 s by default) the call
 * takes the relayed connection, and the WebRTC dial carries on: once a direct connection is admitted, the mesh
 * offers it to the peer's link, which moves to it (see `PeerLink.offerDirect`). While the relayed connection stays
 * up and no direct one is, further attempts follow with backoff.
 */
export class PeerDialer {
  readonly #node: Libp2p;
  readonly #admitted: (connection: Connection) => Promise<void>;
  readonly #webrtc: boolean;
  readonly #directWaitMs: number;
  /** The WebRTC attempt under way per peer, shared by every call that wants one. */
  readonly #attempts = new Map<string, Promise<Connection | undefined>>();
  /** Peers whose calls went relayed and that get further attempts at a direct connection. */
  readonly #upgrading = new Set<string>();
  readonly #stopped = new AbortController();
  /** Calls waiting on a direct connection to a peer, woken when one is admitted (whoever dialed it). */
  readonly #directWaiters = new Map<string, Set<(connection: Connection) => void>>();

  /** `webrtc`: this node dials WebRTC (a browser tab with WebRTC on). */
  constructor(node: Libp2p, admitted: (connection: Connection) => Promise<void>, webrtc: boolean, directWaitMs = DIRECT_WAIT_MS) {
    this.#node = node;
    this.#admitted = admitted;
    this.#webrtc = webrtc;
    this.#directWaitMs = directWaitMs;
    node.addEventListener("stop", () => this.#stopped.abort(), { once: true });
  }

  async dial(peer: string, signal: AbortSignal): Promise<Connection> {
    const peerId = peerIdFromString(peer);
    // Tabs do not wait on a direct connection still in admission: the WebRTC attempt below does, hedged.
    const direct = await this.#admittedDirect(peerId, this.#webrtc ? 0 : 3_000);
    if (direct !== undefined) return direct;
    if (this.#webrtc && this.#directWaitMs === 0) {
      // Relay first: a connection through a relay now, WebRTC dialed in the background (it signals over this one).
      const relayed = (await this.#admittedRelayed(peerId)) ?? (await this.#dialThroughRelay(peerId, signal));
      if (relayed !== undefined) return isRelayed(relayed) ? this.#relayedFor(peer, peerId, relayed) : relayed;
    } else if (this.#webrtc) {
      // Two tabs that call each other at once dial each other at once: whichever connection is admitted first
      // serves both directions (the other dial then lags it by ~0.5 s, measured).
      const arrived = this.#nextDirect(peer);
      try {
        const attempt = Promise.race([this.#directAttempt(peer, peerId), arrived.promise]);
        const first = await Promise.race([attempt, delay(this.#directWaitMs, signal).then(() => "slow" as const)]);
        if (first !== "slow" && first !== undefined) return first;
        if (first === "slow") {
          // The WebRTC dial opened a relayed connection for its signalling: the call takes that.
          const relayed = await this.#admittedRelayed(peerId);
          if (relayed !== undefined) return this.#relayedFor(peer, peerId, relayed);
          const late = await attempt;
          if (late !== undefined) return late;
        }
      } finally {
        arrived.cancel();
      }
    }
    // Whatever libp2p finds: a direct dial for Node and Deno peers, the relayed connection for tabs.
    const relayed = await this.#admittedRelayed(peerId);
    if (relayed !== undefined) return this.#relayedFor(peer, peerId, relayed);
    const connection = await this.#node.dial(peerId, { signal });
    await this.#admitted(connection); // bounded by the gate's own timeout; a refusal names its reason
    return isRelayed(connection) ? this.#relayedFor(peer, peerId, connection) : connection;
  }

  /** The mesh admitted a direct connection (either side may have dialed it): wakes calls waiting for one. */
  directAdmitted(connection: Connection): void {
    const peer = connection.remotePeer.toString();
    for (const wake of this.#directWaiters.get(peer) ?? []) wake(connection);
  }

  #nextDirect(peer: string): { promise: Promise<Connection>; cancel(): void } {
    const { promise, resolve } = Promise.withResolvers<Connection>();
    let waiters = this.#directWaiters.get(peer);
    if (waiters === undefined) this.#directWaiters.set(peer, (waiters = new Set()));
    waiters.add(resolve);
    const cancel = (): void => {
      waiters.delete(resolve);
      if (waiters.size === 0 && this.#directWaiters.get(peer) === waiters) this.#directWaiters.delete(peer);
    };
    return { promise, cancel };
  }

  /** Calls go over `relayed` for now; a tab keeps trying for a direct connection meanwhile. */
  #relayedFor(peer: string, peerId: PeerId, relayed: Connection): Connection {
    if (this.#webrtc) this.#keepTryingDirect(peer, peerId);
    return relayed;
  }

  /**
   * Attempts at a direct connection, with backoff, for as long as the peer is reached only through a relay.
   * A success needs nothing more here: the admitted connection is offered to the peer's link, which moves to it.
   */
  #keepTryingDirect(peer: string, peerId: PeerId): void {
    if (this.#upgrading.has(peer)) return;
    this.#upgrading.add(peer);
    void (async () => {
      for (let i = 0; !this.#stopped.signal.aborted; i++) {
        await delay(UPGRADE_BACKOFF_MS[Math.min(i, UPGRADE_BACKOFF_MS.length - 1)]!, this.#stopped.signal);
        if (this.#stopped.signal.aborted || this.#node.status !== "started") return;
        // Done when the peer is gone (no relayed connection left) or reached directly.
        if (!this.#open(peerId).some(isRelayed) || (await this.#admittedDirect(peerId, 0)) !== undefined) return;
        if ((await this.#directAttempt(peer, peerId)) !== undefined) return;
      }
    })()
      .catch(() => {})
      .finally(() => this.#upgrading.delete(peer));
  }

  #open(peerId: PeerId): Connection[] {
    return this.#node.getConnections(peerId).filter((c) => c.status === "open");
  }

  async #admittedDirect(peerId: PeerId, waitMs: number): Promise<Connection | undefined> {
    for (const connection of this.#open(peerId).filter((c) => !isRelayed(c))) {
      if (await this.#isAdmitted(connection, waitMs)) return connection;
    }
    return undefined;
  }

  async #admittedRelayed(peerId: PeerId): Promise<Connection | undefined> {
    for (const connection of this.#open(peerId).filter(isRelayed)) {
      if (await this.#isAdmitted(connection, 1_000)) return connection;
    }
    return undefined;
  }

  /**
   * A connection to a tab through a relay in one of its circuit addresses, admitted; undefined if none answers.
   * (libp2p joins a dial already under way to the same peer: that one may be direct, and serves as well.)
   */
  async #dialThroughRelay(peerId: PeerId, signal: AbortSignal): Promise<Connection | undefined> {
    for (const multiaddr of await this.#knownAddrs(peerId, RELAYED_ADDR)) {
      try {
        const connection = await this.#node.dial(multiaddr, { signal: AbortSignal.any([signal, AbortSignal.timeout(WEBRTC_DIAL_MS)]) });
        if (connection.remotePeer.equals(peerId) && (await this.#isAdmitted(connection, 3_000))) return connection;
      } catch {
        // the next relay
      }
    }
    return undefined;
  }

  /** The addresses the peer store knows for `peerId` that match `shape`. */
  async #knownAddrs(peerId: PeerId, shape: RegExp): Promise<Multiaddr[]> {
    const known = await this.#node.peerStore.get(peerId).catch(() => undefined);
    return (known?.addresses ?? []).map((a) => a.multiaddr).filter((ma) => shape.test(ma.toString()));
  }

  #isAdmitted(connection: Connection, ms: number): Promise<boolean> {
    return withTimeout(this.#admitted(connection), ms).then(
      () => true,
      () => false,
    );
  }

  #directAttempt(peer: string, peerId: PeerId): Promise<Connection | undefined> {
    let attempt = this.#attempts.get(peer);
    if (attempt === undefined) {
      attempt = this.#dialWebRTC(peer, peerId).finally(() => this.#attempts.delete(peer));
      this.#attempts.set(peer, attempt);
    }
    return attempt;
  }

  /** An admitted direct connection to a tab, or undefined when it has no WebRTC address or none answers. */
  async #dialWebRTC(peer: string, peerId: PeerId): Promise<Connection | undefined> {
    const addrs = await this.#knownAddrs(peerId, RELAYED_WEBRTC_ADDR);
    for (let round = 0; round < WEBRTC_ROUNDS; round++) {
      for (const addr of addrs) {
        if (this.#node.status !== "started") return undefined;
        // The peer may have dialed this node meanwhile.
        const direct = await this.#admittedDirect(peerId, 3_000);
        if (direct !== undefined) return direct;
        try {
          const connection = await this.#node.dial(addr, { signal: AbortSignal.timeout(WEBRTC_DIAL_MS) });
          // libp2p may hand back an existing connection (to the relay in the address, or the relayed one).
          if (connection.remotePeer.toString() !== peer || isRelayed(connection)) continue;
          if (await this.#isAdmitted(connection, 3_000)) return connection;
        } catch {
          // the next address, or the next round
        }
      }
    }
    return undefined;
  }
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`admission on the connection took longer than ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
