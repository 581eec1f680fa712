import {
  NotFoundError,
  peerRoutingSymbol,
  type AbortOptions,
  type Connection,
  type Libp2p,
  type PeerId,
  type PeerInfo,
  type PeerRouting,
  type PeerStore,
  type Startable,
  type Stream,
  type StreamHandler,
  type StreamHandlerOptions,
} from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { lpStream } from "@libp2p/utils";
import type { Multiaddr } from "@multiformats/multiaddr";
import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import { hintOf, MAX_HINT_ADDR_LENGTH, MAX_HINT_ADDRS } from "../wire/addr-hint.js";
import { decode, encode } from "../wire/codec.js";
import { addrsFromHint } from "./addresses.js";
import { isRelayed } from "./connection-kind.js";
import { timeoutSignal } from "../util/deadline.js";

/**
 * Finding a node this node has no address for (an id received out of band, a node that joined a moment ago):
 * `/pulsing/find-node/1.0.0`, asked of the admitted peers this node is connected to, and answered from each one's
 * peer store (which holds every member's addresses, learnt from membership, identify and the address hints of
 * actor refs). It is a libp2p `PeerRouting`: libp2p's dialer consults it when it has no address for a peer, and
 * `locate()` below asks it, with a deadline, before a call's link dials.
 *
 *   asker  → answerer   { id: "<peer id>" }                  (one length-prefixed MessagePack map, ≤ 256 bytes)
 *   answerer → asker    { addrs: ["/ip4/…/tcp/…", …] }       (an address hint: ≤ 8 strings of ≤ 256 characters;
 *                                                              empty when it does not know the node)
 *
 * An answerer serves only peers that passed admission (it waits for admission first; a refused peer gets its
 * stream aborted and learns nothing), and only connections' own questions: it never asks further itself.
 */
export const FIND_NODE_PROTOCOL = "/pulsing/find-node/1.0.0";

/** How long a call to a node this node does not know waits for its addresses, when the call has no timeout. */
export const UNKNOWN_NODE_WAIT_MS = 5_000;

const MAX_REQUEST_BYTES = 256;
const MAX_ANSWER_BYTES = 32 + MAX_HINT_ADDRS * (MAX_HINT_ADDR_LENGTH + 3);
/** Peers asked at once (direct connections first). */
const FANOUT = 8;
/** One question, both ways (answering is a peer store lookup). */
const ASK_TIMEOUT_MS = 2_000;
/** Pauses between rounds of questions while a node stays unknown (news of it wakes the wait at once). */
const ROUND_PAUSE_MS = [100, 250, 500, 1_000];

interface FindNodeComponents {
  peerId: PeerId;
  peerStore: PeerStore;
  registrar: {
    handle(protocol: string, handler: StreamHandler, options?: StreamHandlerOptions): Promise<void>;
    unhandle(protocol: string): Promise<void>;
  };
  connectionManager: { getConnections(peerId?: PeerId): Connection[] };
}

export interface FindNodeInit {
  /** Resolves once `connection` passed admission (the cluster secret); rejects when it is refused. */
  admitted(connection: Connection): Promise<void>;
  /** Whether some open connection to `peer` passed admission. */
  isAdmitted(peer: string): boolean;
}

class FindNode implements PeerRouting, Startable {
  readonly #components: FindNodeComponents;
  readonly #init: FindNodeInit;
  readonly [Symbol.toStringTag] = "@pulsing/find-node";

  constructor(components: FindNodeComponents, init: FindNodeInit) {
    this.#components = components;
    this.#init = init;
  }

  get [peerRoutingSymbol](): PeerRouting {
    return this;
  }

  async start(): Promise<void> {
    await this.#components.registrar.handle(FIND_NODE_PROTOCOL, (stream, connection) => this.#answer(stream, connection), {
      maxInboundStreams: 4,
      runOnLimitedConnection: true,
    });
  }

  async stop(): Promise<void> {
    await this.#components.registrar.unhandle(FIND_NODE_PROTOCOL);
  }

  /** Asks up to 8 admitted connected peers at once; the first that knows an address wins. */
  async findPeer(peerId: PeerId, options: AbortOptions = {}): Promise<PeerInfo> {
    const target = peerId.toString();
    const askable = this.#askable(target);
    if (askable.length === 0) throw new NotFoundError(`no admitted peer to ask for node ${target}`);
    const done = new AbortController();
    const signals = [done.signal, AbortSignal.timeout(ASK_TIMEOUT_MS)];
    if (options.signal !== undefined) signals.push(options.signal);
    const signal = AbortSignal.any(signals);
    try {
      const multiaddrs = await Promise.any(
        askable.map(async (connection) => {
          const found = await this.#ask(connection, target, signal);
          if (found.length === 0) throw new NotFoundError("unknown there");
          return found;
        }),
      );
      return { id: peerId, multiaddrs };
    } catch {
      throw new NotFoundError(`none of ${askable.length} connected peers knows node ${target}`);
    } finally {
      done.abort(); // the questions still out
    }
  }

  /**
   * Not a DHT: nothing is "closest", so nothing is ever found. The answer comes when the caller stops asking:
   * libp2p's random walk (relay discovery in browsers) asks again at once on an empty answer, and spun a tab's
   * main thread when this returned at once.
   */
  async *getClosestPeers(_key: Uint8Array, options: AbortOptions = {}): AsyncGenerator<PeerInfo> {
    const signal = options.signal;
    if (signal === undefined || signal.aborted) return;
    await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
  }

  /** One open admitted connection per peer (a direct one if there is), the target's excepted, at most `FANOUT`. */
  #askable(target: string): Connection[] {
    const byPeer = new Map<string, Connection>();
    for (const connection of this.#components.connectionManager.getConnections()) {
      const peer = connection.remotePeer.toString();
      if (peer === target || connection.status !== "open" || !this.#init.isAdmitted(peer)) continue;
      const had = byPeer.get(peer);
      if (had === undefined || (isRelayed(had) && !isRelayed(connection))) byPeer.set(peer, connection);
    }
    return [...byPeer.values()].sort((a, b) => Number(isRelayed(a)) - Number(isRelayed(b))).slice(0, FANOUT);
  }

  async #ask(connection: Connection, target: string, signal: AbortSignal): Promise<Multiaddr[]> {
    const stream = await connection.newStream(FIND_NODE_PROTOCOL, { signal, runOnLimitedConnection: true });
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_ANSWER_BYTES });
      await lp.write(encode({ id: target }), { signal });
      const answer = decode((await lp.read({ signal })).subarray());
      void stream.close({ signal: AbortSignal.timeout(1_000) }).catch(() => {});
      return addrsFromHint(target, typeof answer === "object" && answer !== null ? (answer as { addrs?: unknown }).addrs : undefined);
    } catch (error) {
      stream.abort(error instanceof Error ? error : new Error(String(error)));
      throw error;
    }
  }

  async #answer(stream: Stream, connection: Connection): Promise<void> {
    try {
      await this.#init.admitted(connection);
    } catch (error) {
      stream.abort(error instanceof Error ? error : new Error("not admitted"));
      return;
    }
    const signal = AbortSignal.timeout(ASK_TIMEOUT_MS);
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_REQUEST_BYTES });
      const request = decode((await lp.read({ signal })).subarray());
      const id = typeof request === "object" && request !== null ? (request as { id?: unknown }).id : undefined;
      await lp.write(encode({ addrs: typeof id === "string" ? await this.#known(id) : [] }), { signal });
      await stream.close({ signal });
    } catch (error) {
      stream.abort(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** What this node knows of `id`'s addresses, as a hint (empty when nothing, or when `id` is not a peer id). */
  async #known(id: string): Promise<string[]> {
    let peerId: PeerId;
    try {
      peerId = peerIdFromString(id);
    } catch {
      return [];
    }
    if (peerId.equals(this.#components.peerId)) return [];
    const peer = await this.#components.peerStore.get(peerId).catch(() => undefined);
    return hintOf(id, (peer?.addresses ?? []).map((a) => a.multiaddr.toString()));
  }
}

/** The libp2p service: `services: { findNode: findNode({ admitted, isAdmitted }) }`. */
export function findNode(init: FindNodeInit): (components: FindNodeComponents) => FindNode {
  return (components) => new FindNode(components, init);
}

/**
 * Resolves once this node can dial `peer`: it is connected, or its peer store holds an address for it (after
 * `pending`, a merge of addresses under way). Until then it asks its connected peers (find-node), in rounds with
 * short pauses, and wakes at once on news of the peer (a peer store update — membership learnt it, a hint
 * arrived — or a connection). Rejects with `NODE_UNKNOWN` once `until()` (a `performance.now()` time, which the
 * caller may push back while it waits) has passed, or when `signal` aborts.
 */
export async function locate(
  node: Libp2p,
  peer: string,
  until: () => number,
  signal: AbortSignal,
  pending?: Promise<unknown>,
): Promise<void> {
  let peerId: PeerId;
  try {
    peerId = peerIdFromString(peer);
  } catch {
    throw new PulsingRuntimeError(ErrorCode.NODE_UNKNOWN, `'${peer}' is not a node id`);
  }
  const known = async (): Promise<boolean> => {
    if (node.getConnections(peerId).some((c) => c.status === "open")) return true;
    const stored = await node.peerStore.get(peerId).catch(() => undefined);
    return (stored?.addresses.length ?? 0) > 0;
  };
  await pending?.catch(() => {});
  if (await known()) return; // (the common case: no listeners needed)
  const started = performance.now();
  let wake = Promise.withResolvers<void>();
  const onUpdate = (event: CustomEvent<{ peer: { id: PeerId } }>): void => {
    if (event.detail.peer.id.equals(peerId)) wake.resolve();
  };
  const onConnect = (event: CustomEvent<PeerId>): void => {
    if (event.detail.equals(peerId)) wake.resolve();
  };
  const onAbort = (): void => wake.resolve();
  node.addEventListener("peer:update", onUpdate);
  node.addEventListener("peer:connect", onConnect);
  signal.addEventListener("abort", onAbort);
  try {
    for (let round = 0; ; round++) {
      if (await known()) return;
      const left = until() - performance.now();
      if (left <= 0 || signal.aborted) throw unknownNode(peer, performance.now() - started);
      wake = Promise.withResolvers<void>();
      const thisRound = new AbortController();
      const asking = AbortSignal.any([signal, thisRound.signal, timeoutSignal(Math.min(left, ASK_TIMEOUT_MS))]);
      // DefaultPeerRouting puts what is found into the peer store.
      const found = await Promise.race([
        node.peerRouting.findPeer(peerId, { signal: asking }).then(
          () => true,
          () => false,
        ),
        wake.promise.then(() => true),
      ]);
      thisRound.abort(); // questions still out when news arrived
      if (found) continue;
      const pause = Math.min(ROUND_PAUSE_MS[Math.min(round, ROUND_PAUSE_MS.length - 1)]!, until() - performance.now());
      if (pause > 0) await sleepUnless(pause, wake.promise);
    }
  } finally {
    node.removeEventListener("peer:update", onUpdate);
    node.removeEventListener("peer:connect", onConnect);
    signal.removeEventListener("abort", onAbort);
  }
}

/** The error of a call to a node nobody could say where it is, after waiting `waitedMs`. */
export function unknownNode(peer: string, waitedMs: number): PulsingRuntimeError {
  return new PulsingRuntimeError(
    ErrorCode.NODE_UNKNOWN,
    `node ${peer} is unknown: it is not in this node's member table and no connected peer knew its address within ${Math.round(waitedMs)} ms`,
  );
}

function sleepUnless(ms: number, wake: Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    void wake.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
