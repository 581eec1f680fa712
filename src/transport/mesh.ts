import { gossipsub } from "@libp2p/gossipsub";
import { identify } from "@libp2p/identify";
import { peerIdFromString } from "@libp2p/peer-id";
import { multiaddr } from "@multiformats/multiaddr";
import type { Connection, Libp2p, PrivateKey, Stream } from "@libp2p/interface";
import { noise } from "@libp2p/noise";
import { yamux } from "@libp2p/yamux";
import type { Multiaddr } from "@multiformats/multiaddr";
import { createLibp2p } from "libp2p";
import { platform } from "#platform";
import type { TransportPlan } from "../platform/platform.js";
import type { ActorRef } from "../actor/actor-ref.js";
import type { CallHandle } from "../actor/call-handle.js";
import type { CallMode, CallOptions, InboundCall } from "../actor/call-types.js";
import type { RefDecodeContext } from "../actor/ref-codec.js";
import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import { hintOf } from "../wire/addr-hint.js";
import { addrsFromHint, peerOf, seedAddr, seedGroups } from "./addresses.js";
import { AdmissionError, AdmissionGate } from "./admission.js";
import { isRelayed, RELAYED_ADDR, RELAYED_WEBRTC_ADDR, transportOf, type ConnectionTransport } from "./connection-kind.js";
import { findNode, locate } from "./find-node.js";
import { InboundSession } from "./inbound-session.js";
import { PeerDialer } from "./peer-dialer.js";
import { isPortAddr, newHub, portTransport, registerHub } from "./port-transport.js";
import { reservationStore, reserveAgain } from "./relay-reservations.js";
import { answerOnce, askOnce, type RequestLimits } from "./request-stream.js";
import { tolerateClosingConnection } from "./yamux-closing-connection.js";
import type { MeshContext } from "./mesh-context.js";
import { describe, PeerLink } from "./peer-link.js";
import { DEFAULT_MAX_FRAME_SIZE, RPC_PROTOCOL } from "./rpc-frames.js";
import { timeoutSignal } from "../util/deadline.js";

export interface MeshInit {
  privateKey: PrivateKey;
  addr: string | undefined;
  seeds: readonly string[];
  passphrase: string | undefined;
  maxFrameSize: number | undefined;
  /** Errors sent to other nodes carry their stack traces (a development option). */
  errorStacks: boolean;
  /** Browsers: direct WebRTC between tabs (else relayed only). */
  webrtc: boolean;
  /** Browsers: how long a call to a tab waits for a direct connection before taking the relayed one. */
  directWaitMs: number | undefined;
  /** The local system's side: delivering calls and rebuilding refs. */
  refs: RefDecodeContext;
  deliver(localId: number, call: InboundCall): void;
  report(message: string, error?: unknown): void;
}

/**
 * A received gossip message's identity before validation: its signed author and sequence number (the id gossipsub
 * gives signed messages once they pass). A forged copy that arrives after the authentic one is dropped as a
 * duplicate rather than rejected; one that arrives first fails validation and is not remembered.
 */
function messageIdentity(message: { topic: string; from?: Uint8Array; seqno?: Uint8Array }): string {
  let id = message.topic;
  for (const byte of message.from ?? []) id += String.fromCharCode(byte);
  id += "/";
  for (const byte of message.seqno ?? []) id += String.fromCharCode(byte);
  return id;
}

/** How long `start()` waits for the first round of seed dials before returning (the dials go on). */
const JOIN_WAIT_MS = 5_000;
/**
 * How long joining waits for a node reached only through relays (a browser tab) to hold a relay reservation: until
 * then it has no address anyone could dial, and members that learnt it meanwhile could not call it.
 */
const RELAY_ADDR_WAIT_MS = 3_000;
/**
 * A seed that is down is dialed again after 100 ms, then twice as long each time, up to 2 s (±25 %): a seed that
 * restarts is found again within about 2.5 s of listening, and a dial a second or two to a refused port is cheap.
 */
const SEED_BACKOFF_MIN_MS = 100;
const SEED_BACKOFF_MAX_MS = 2_000;
/** Address hints kept for the refs this node sends (members and nodes learnt from hints); the oldest go first. */
const MAX_HINTS = 4_096;

/**
 * The network of one actor system: its libp2p node (transports per runtime, noise, yamux, identify, ping),
 * admission (the cluster secret), one `PeerLink` per peer for outgoing calls, one `InboundSession` per incoming
 * RPC stream, and the seeds it keeps connected to.
 */
export class Mesh {
  readonly node: Libp2p;
  readonly #ctx: MeshContext;
  readonly #gate: AdmissionGate;
  readonly #links = new Map<string, PeerLink>();
  readonly #sessions = new Set<InboundSession>();
  readonly #disconnectListeners = new Set<(peer: string) => void>();
  #stopping = false;
  readonly #stopped = new AbortController();

  /** Connections to other members this runtime keeps by default (browsers keep few). */
  readonly targetPeers: number;

  private constructor(node: Libp2p, gate: AdmissionGate, ctx: MeshContext, targetPeers: number) {
    this.node = node;
    this.targetPeers = targetPeers;
    this.#gate = gate;
    this.#ctx = ctx;
  }

  static async start(init: MeshInit): Promise<Mesh> {
    // Every node can host worker threads (a hub listening on `/memory/<id>` for their ports); a node started inside
    // a worker joins through its parent's port and, without an address of its own, listens only through the
    // parent's relay (it still dials others with its runtime's transports).
    const { hub, worker, relayed } = newHub();
    const inWorker = worker && init.addr === undefined;
    const plan = inWorker
      ? workerPlan(await platform.transports({ addr: undefined, seeds: [], webrtc: false }), relayed)
      : await platform.transports({ addr: init.addr, seeds: init.seeds, webrtc: init.webrtc });
    let gate: AdmissionGate | undefined;
    let started: Mesh | undefined; // for callbacks that may run before start() returns
    const node = await createLibp2p({
      privateKey: init.privateKey,
      // A hub's address is dialable only by its own workers: it is not announced (nor in relay reservations).
      addresses: { listen: [...plan.listen, hub.listenAddr], announceFilter: (addrs) => addrs.filter((a) => !isPortAddr(a)) },
      transports: [...plan.transports, portTransport(hub)] as never[],
      connectionEncrypters: [noise()],
      // tolerateClosingConnection: a yamux microtask that throws (uncaught) on a closing connection, worked around
      streamMuxers: [tolerateClosingConnection(yamux())],
      // Clusters join through a few seeds: the default of 5 inbound connections per second per IP is too low.
      connectionManager: { inboundConnectionThreshold: 1_000, maxConnections: plan.maxConnections },
      // libp2p's monitor pings every connection every 10 s, those still in admission too (an outsider would get
      // a stream from us, and a legitimate connection pinged during its admission would be aborted). Liveness is
      // membership's job: it probes members and hangs up on the dead.
      connectionMonitor: { enabled: false },
      connectionGater: {
        ...plan.gater,
        // An outsider's connections are cut off after the admission timeout; meanwhile only so many are taken.
        denyInboundEncryptedConnection: async (peer) => gate?.tooManyUnadmitted(peer) ?? false,
      },
      services: {
        ...plan.services,
        // Identify runs once a connection is admitted, so unadmitted peers learn nothing about us.
        identify: identify({ runOnConnectionOpen: false }),
        // Where a node this one has no address for is: asked of connected peers (a PeerRouting libp2p's dialer
        // consults too), answered only to admitted peers.
        findNode: findNode({ admitted: (connection) => gate!.wait(connection), isAdmitted: (peer) => gate?.isAdmitted(peer) ?? false }),
        // Membership gossip: small clusters need a low mesh degree and publishing with no mesh yet.
        // Every membership message is relayed by every node to its mesh peers: a low degree keeps that cost down
        // and still reaches everyone in a few hops. Flood publishing (a node sends its own messages to every
        // subscribed peer it is connected to) stays on: it reaches direct peers even while the mesh forms.
        pubsub: gossipsub({
          allowPublishToZeroTopicPeers: true,
          emitSelf: false,
          D: 3,
          Dlo: 2,
          Dhi: 5,
          Dout: 1,
          Dlazy: 3,
          heartbeatInterval: 700,
          // Each message reaches a node once per mesh peer that relays it; without this, every copy had its
          // signature checked before the seen-cache caught the duplicate (a quarter of a 50-node cluster's CPU).
          fastMsgIdFn: messageIdentity,
          // Gossipsub penalises many peers behind one IP address (a Sybil defence for open networks). Cluster
          // members are admitted by the secret instead, and many share an address: nodes of one machine, and
          // browser tabs behind one NAT — with the penalty a 50-node cluster on one host never formed its mesh.
          scoreParams: { IPColocationFactorWeight: 0 },
        }),
      },
    }).catch((error: unknown) => {
      plan.release?.();
      throw error;
    });
    node.addEventListener("stop", () => plan.release?.(), { once: true });
    const counters = { malformedFrames: 0, oversizedFrames: 0 };
    const dialer = new PeerDialer(node, (connection) => gate!.wait(connection), plan.directWebRTC, init.directWaitMs);
    const ctx: MeshContext = {
      node,
      nodeId: node.peerId.toString(),
      maxFrameSize: init.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE,
      encoding: { errorStacks: init.errorStacks },
      refs: init.refs,
      heard: (peer) => {
        if (started !== undefined) started.#heard?.(peer);
      },
      deliver: init.deliver,
      admitted: (connection) => gate!.wait(connection),
      dial: (peer, signal) => dialer.dial(peer, signal),
      locate: (peer, until) => locate(node, peer, until, started!.#stopped.signal, started!.#learning.get(peer)),
      report: init.report,
      counters,
    };
    gate = await AdmissionGate.install(node, {
      passphrase: init.passphrase,
      // Both sides identify: gossipsub opens its outbound stream to a peer only once it knows (from identify) that
      // the peer speaks it, and a seed that never identified its inbound peers could not send them anything.
      onAdmitted: (connection) => {
        void (node.services.identify as { identify(c: Connection): Promise<unknown> }).identify(connection).catch(() => {});
        if (started !== undefined) started.#admittedListener?.(connection.remotePeer.toString());
        if (!isRelayed(connection)) {
          dialer.directAdmitted(connection);
          // A direct connection to a tab whose calls went over the relay: they move to it.
          if (started !== undefined) started.#links.get(connection.remotePeer.toString())?.offerDirect(connection);
          // A seed (back) in reach, whoever dialed it: a tab reserves a relay slot on it if it still wants one.
          if (started !== undefined && started.#isSeed(connection.remotePeer.toString())) {
            reserveAgain(started.#reservations, connection.remotePeer);
          }
        }
      },
    });
    const mesh = (started = new Mesh(node, gate, ctx, plan.targetPeers));
    mesh.#relayedListen = plan.listen.filter((ma) => ma === "/p2p-circuit" || ma === "/webrtc");
    if (plan.listen.includes("/p2p-circuit")) mesh.#reservations = reservationStore(node);
    await node.handle(RPC_PROTOCOL, (stream, connection) => mesh.#accept(stream, connection), {
      maxInboundStreams: 4,
      runOnLimitedConnection: true,
    });
    // A link notices its own stream closing (and fails its calls then); a link that is dialing again must not be
    // failed by the close of an older connection, or its calls would lose the real reason of a failed dial.
    node.addEventListener("peer:disconnect", (event) => {
      const peer = event.detail.toString();
      for (const listener of mesh.#disconnectListeners) listener(peer);
    });
    // The addresses this node puts in the refs it sends change with its listeners and relay reservations.
    for (const event of ["self:peer:update", "transport:listening", "transport:close"] as const) {
      node.addEventListener(event, () => (mesh.#selfHint = undefined));
    }
    await Promise.resolve(node.start()).catch((error: unknown) => {
      plan.release?.();
      throw error;
    });
    const unregister = registerHub(node.peerId.toString(), hub);
    node.addEventListener("stop", () => (unregister(), hub.close()), { once: true });
    // Every protocol is registered now: before admission, none but admission's may run on a connection.
    gate.guard(node);
    // A relay reservation is freed when its holder leaves (libp2p would keep it for hours, filling the table).
    const relay = (node.services as { relay?: { reservationStore?: { removeReservation?(peer: unknown): void } } }).relay;
    if (typeof relay?.reservationStore?.removeReservation === "function") {
      node.addEventListener("peer:disconnect", (event) => relay.reservationStore!.removeReservation!(event.detail));
    }
    mesh.#seeds = seedGroups(init.seeds.map((seed) => seedAddr(seed, plan.seedTransport)));
    return mesh;
  }

  /** The seeds' addresses, one entry per seed (see `seedGroups`). */
  #seeds: Multiaddr[][] = [];
  /** What this node listens on through a relay reservation (a tab: `/p2p-circuit`, and `/webrtc` signalled over it). */
  #relayedListen: string[] = [];
  /** A tab's relay reservations (see `reserveAgain`). */
  #reservations: ReturnType<typeof reservationStore>;

  /** Whether `peer` is one of this node's seeds (named by id in its address, or reached through one). */
  #isSeed(peer: string): boolean {
    return this.#seedPeers.includes(peer) || this.#seeds.some((addrs) => addrs.some((a) => peerOf(a) === peer));
  }

  /**
   * Dials the seeds (see `#join`). Separate from `start()` so that the cluster subscribes to its topics first:
   * gossipsub drops a subscription announced while a peer's stream is still opening, and a node that joined
   * before subscribing could stay unknown to its seed's mesh.
   */
  async join(): Promise<void> {
    // On failure the caller shuts the whole system down, in order (the cluster first, then this mesh, whose stop
    // also ends the seed loops): stopping the node here left the cluster to leave through a stopped pubsub.
    await this.#join(this.#seeds);
  }

  get nodeId(): string {
    return this.#ctx.nodeId;
  }

  /** The multiaddrs this node listens on, with `/p2p/<nodeId>`. */
  get addrs(): string[] {
    return this.node.getMultiaddrs().map(String);
  }

  get counters(): { malformedFrames: number; oversizedFrames: number } {
    return this.#ctx.counters;
  }

  /** This node's open connections, by peer and kind (a tab↔tab link is "webrtc" when direct, "relay" when not). */
  connections(): ConnectionInfo[] {
    const carrying = new Set([...this.#links.values()].map((link) => link.connectionId));
    return this.node.getConnections().map((c) => ({
      nodeId: c.remotePeer.toString(),
      transport: transportOf(c),
      direction: c.direction,
      relayed: isRelayed(c),
      admitted: this.#gate.isAdmitted(c.remotePeer.toString()),
      carriesCalls: carrying.has(c.id),
    }));
  }

  /** The peers reached through the seeds (in seed order, once known). */
  seedPeers(): string[] {
    return this.#seedPeers.filter((peer): peer is string => peer !== undefined);
  }

  #seedPeers: Array<string | undefined> = [];

  /** Peers this node has an open connection to. */
  connectedPeers(): string[] {
    return [...new Set(this.node.getConnections().map((c) => c.remotePeer.toString()))];
  }

  /** Whether `peer` has passed admission on some open connection. */
  isAdmitted(peer: string): boolean {
    return this.#gate.isAdmitted(peer);
  }

  onPeerDisconnected(listener: (peer: string) => void): void {
    this.#disconnectListeners.add(listener);
  }

  /** `listener` learns of every connection that passes admission (one listener: membership). */
  onPeerAdmitted(listener: (peer: string) => void): void {
    this.#admittedListener = listener;
  }

  #admittedListener: ((peer: string) => void) | undefined;

  /** `listener` learns of every RPC frame that arrives from a peer (one listener: membership's sign of life). */
  onPeerHeard(listener: (peer: string) => void): void {
    this.#heard = listener;
  }

  #heard: ((peer: string) => void) | undefined;

  /**
   * Answers `protocol`'s requests (one per stream, see request-stream.ts) from admitted peers only: a layer above
   * the mesh (the cluster) brings its own protocol. `answer` gets the requesting peer and the untrusted request.
   */
  async handleRequests(
    protocol: string,
    limits: RequestLimits & { timeoutMs: number },
    answer: (peer: string, request: unknown) => Promise<unknown>,
  ): Promise<void> {
    await this.handleStreams(protocol, (peer, stream) => void answerOnce(stream, limits, (request) => answer(peer, request)), 8);
  }

  /**
   * Takes `protocol`'s long-lived streams from admitted peers only (a layer above brings its own framing): `accept`
   * gets the peer and the stream, and owns the stream from then on.
   */
  async handleStreams(protocol: string, accept: (peer: string, stream: Stream) => void, maxInboundStreams = 2): Promise<void> {
    await this.node.handle(
      protocol,
      async (stream, connection) => {
        try {
          await this.#gate.wait(connection);
        } catch (error) {
          stream.abort(error instanceof Error ? error : new PulsingRuntimeError(describe(error)));
          return;
        }
        accept(connection.remotePeer.toString(), stream);
      },
      { maxInboundStreams, runOnLimitedConnection: true },
    );
    this.#gate.guardProtocol(this.node, protocol);
  }

  /** A new `protocol` stream to `peer`, over an admitted connection (dialed if needed). */
  async openStream(peer: string, protocol: string, timeoutMs: number): Promise<Stream> {
    if (this.#stopping) throw new PulsingRuntimeError(ErrorCode.SHUTDOWN, "this node is shutting down");
    const signal = AbortSignal.any([this.#stopped.signal, timeoutSignal(timeoutMs)]);
    const connection = await this.#ctx.dial(peer, signal);
    return await connection.newStream(protocol, { signal, runOnLimitedConnection: true });
  }

  /** One request to `peer` on `protocol` (over an admitted connection, dialed if needed); its untrusted answer. */
  async request(peer: string, protocol: string, request: unknown, limits: RequestLimits, timeoutMs: number): Promise<unknown> {
    if (this.#stopping) throw new PulsingRuntimeError(ErrorCode.SHUTDOWN, "this node is shutting down");
    const signal = AbortSignal.any([this.#stopped.signal, timeoutSignal(timeoutMs)]);
    const connection = await this.#ctx.dial(peer, signal);
    return await askOnce(connection, protocol, request, limits, signal);
  }

  /** Records `addrs` for `peer` and dials it (admission included). */
  async connect(peer: string, addrs: string[]): Promise<void> {
    if (this.#stopping) return;
    const peerId = peerIdFromString(peer);
    await this.learn(peer, addrs);
    const connection = await this.node.dial(peerId, { signal: AbortSignal.timeout(5_000) });
    await this.#gate.wait(connection);
  }

  /** Remembers where `peer` listens, so calls to it can dial it (and refs to its actors carry a hint of it). */
  async learn(peer: string, addrs: string[]): Promise<void> {
    const multiaddrs = addrs.flatMap((a) => {
      try {
        return [multiaddr(a)];
      } catch {
        return [];
      }
    });
    if (multiaddrs.length === 0) return;
    this.#remember(peer, hintOf(peer, addrs));
    await this.#merge(peer, multiaddrs);
  }

  /**
   * The address hint refs to `peer`'s actors carry (this node's own addresses for its own actors, what it knows of
   * other nodes for theirs); undefined when it knows none.
   */
  addrHint(peer: string): readonly string[] | undefined {
    if (peer === this.#ctx.nodeId) {
      this.#selfHint ??= hintOf(peer, this.addrs);
      return this.#selfHint.length > 0 ? this.#selfHint : undefined;
    }
    return this.#hints.get(peer);
  }

  /**
   * A ref to an actor of `peer` arrived with an address hint (untrusted; shape-checked by the codec): a node this
   * node has no address for goes into the peer store, so that calling it can dial. Hints of known nodes are
   * ignored (membership keeps those current), so a ref costs a map lookup.
   */
  hinted(peer: string, hint: readonly string[]): void {
    if (peer === this.#ctx.nodeId || this.#hints.has(peer) || this.#stopping) return;
    const multiaddrs = addrsFromHint(peer, hint);
    if (multiaddrs.length === 0) return;
    try {
      peerIdFromString(peer);
    } catch {
      return; // not a node id: calls to it fail anyway
    }
    this.#remember(peer, hintOf(peer, multiaddrs.map(String)));
    void this.#merge(peer, multiaddrs);
  }

  /** Hints of other nodes by id, most recently learnt last. */
  readonly #hints = new Map<string, string[]>();
  #selfHint: string[] | undefined;
  /** Address merges into the peer store under way, by peer: a link about to dial waits for them. */
  readonly #learning = new Map<string, Promise<void>>();

  #remember(peer: string, hint: string[]): void {
    if (hint.length === 0) return;
    this.#hints.delete(peer);
    this.#hints.set(peer, hint);
    if (this.#hints.size > MAX_HINTS) this.#hints.delete(this.#hints.keys().next().value!);
  }

  #merge(peer: string, multiaddrs: Multiaddr[]): Promise<void> {
    const merging: Promise<void> = this.node.peerStore
      .merge(peerIdFromString(peer), { multiaddrs })
      .then(
        () => {},
        () => {},
      )
      .finally(() => {
        if (this.#learning.get(peer) === merging) this.#learning.delete(peer);
      });
    this.#learning.set(peer, merging);
    return merging;
  }

  /** A member was declared dead: what waits on it fails now, with the reason. */
  memberGone(peer: string, why: string): void {
    this.#links.get(peer)?.close(new PulsingRuntimeError(ErrorCode.NODE_DEAD, `node ${peer} is dead (${why})`));
    // Its connections are of no use (and a silent one would linger: libp2p's connection monitor is off).
    if (!this.#stopping) void Promise.resolve(this.node.hangUp(peerIdFromString(peer))).catch(() => {});
  }

  /** Starts a call to an actor on another node. */
  call(
    target: ActorRef,
    method: string | undefined,
    args: readonly unknown[],
    mode: CallMode,
    options: CallOptions | undefined,
  ): CallHandle {
    return this.link(target.actorId.nodeId).call(target, method, args, mode, options);
  }

  link(peer: string): PeerLink {
    let link = this.#links.get(peer);
    if (link === undefined) {
      link = new PeerLink(this.#ctx, peer);
      this.#links.set(peer, link);
    }
    return link;
  }

  /** Tells every peer we are going, then stops the node (and the seed loops: a refused node must be able to exit). */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#stopped.abort();
    const goodbyes: Promise<void>[] = [];
    for (const link of this.#links.values()) goodbyes.push(link.goAway("shutdown"));
    for (const session of this.#sessions) goodbyes.push(session.goAway("shutdown"));
    await Promise.race([Promise.allSettled(goodbyes), new Promise((resolve) => setTimeout(resolve, 1_000))]);
    await Promise.resolve(this.node.stop());
  }

  // --- inbound -----------------------------------------------------------------------------------------------

  async #accept(stream: Parameters<Parameters<Libp2p["handle"]>[1]>[0], connection: Connection): Promise<void> {
    try {
      await this.#gate.wait(connection);
    } catch (error) {
      stream.abort(error instanceof Error ? error : new PulsingRuntimeError(describe(error)));
      return;
    }
    if (this.#stopping) {
      stream.abort(new PulsingRuntimeError(ErrorCode.SHUTDOWN, "this node is shutting down"));
      return;
    }
    const session = new InboundSession(this.#ctx, stream, connection);
    this.#sessions.add(session);
    stream.addEventListener("close", () => this.#sessions.delete(session), { once: true });
  }

  // --- seeds -------------------------------------------------------------------------------------------------

  /**
   * Dials every seed and keeps dialing (with backoff) those that are down or drop: a node keeps a connection to
   * each of its seeds, so losing one (a seed that restarts) leaves it connected through the others. Resolves when
   * one seed is admitted or every seed has been tried once; rejects when seeds answered and all refused admission
   * (a wrong or missing cluster secret is a configuration error worth failing `init()` for; a seed too busy to
   * finish admission within its timeout is not: it is tried again).
   */
  async #join(seeds: Multiaddr[][]): Promise<void> {
    if (seeds.length === 0) return;
    this.#seedPeers = seeds.map(() => undefined);
    const outcomes: Array<Promise<"admitted" | "unreachable" | AdmissionError>> = seeds.map((addrs, index) => this.#keepSeed(addrs, index));
    const first = await Promise.race([
      settleWhenJoined(outcomes),
      new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), JOIN_WAIT_MS).unref?.()),
    ]);
    if (first instanceof AdmissionError) throw first;
    if (first === "unreachable" || first === "timeout") {
      this.#ctx.report(`no seed reachable yet (${seeds.flat().map(String).join(", ")}); retrying in the background`);
    } else if (this.#relayedListen.length > 0 && !(await this.#relayAddresses(RELAY_ADDR_WAIT_MS))) {
      this.#ctx.report(`no relay reservation on a seed within ${RELAY_ADDR_WAIT_MS} ms: other nodes cannot call this one until it has one`);
    }
  }

  /**
   * Whether this node has (or gets within `ms`) an address through a relay for each of `#relayedListen`: a relay
   * reservation others can dial, and its WebRTC address (announced a moment after the reservation).
   */
  #relayAddresses(ms: number): Promise<boolean> {
    const pattern: Record<string, RegExp> = { "/p2p-circuit": RELAYED_ADDR, "/webrtc": RELAYED_WEBRTC_ADDR };
    const has = (): boolean => {
      const addrs = this.node.getMultiaddrs().map(String);
      return this.#relayedListen.every((listen) => addrs.some((a) => pattern[listen]!.test(a)));
    };
    if (has()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.node.removeEventListener("self:peer:update", check);
        this.#stopped.signal.removeEventListener("abort", done);
        resolve(has());
      };
      const check = (): void => {
        if (has()) done();
      };
      const timer = setTimeout(done, ms);
      this.node.addEventListener("self:peer:update", check);
      this.#stopped.signal.addEventListener("abort", done, { once: true });
    });
  }

  /** Keeps one seed (its addresses) connected; the promise tells how the first attempt went. */
  #keepSeed(addrs: Multiaddr[], index: number): Promise<"admitted" | "unreachable" | AdmissionError> {
    const { promise, resolve } = Promise.withResolvers<"admitted" | "unreachable" | AdmissionError>();
    const signal = this.#stopped.signal;
    void (async () => {
      let attempt = 0;
      let seedPeer: string | undefined;
      // Only a direct connection counts: a tab can also reach a seed through another seed's relay (a call made
      // while the seed was restarting), and neither can it reserve a relay slot over that, nor does the relayed
      // connection survive the other seed's restart.
      const connected = (): boolean =>
        this.node.getConnections().some((c) => c.remotePeer.toString() === seedPeer && c.status === "open" && !isRelayed(c));
      while (!signal.aborted) {
        if (seedPeer !== undefined && connected()) {
          // Connected: wait for the seed to drop.
          await new Promise<void>((wake) => {
            const done = (): void => {
              this.node.removeEventListener("connection:close", onClose);
              signal.removeEventListener("abort", done);
              wake();
            };
            const onClose = (event: CustomEvent<Connection>): void => {
              if (event.detail.remotePeer.toString() === seedPeer && !connected()) done();
            };
            this.node.addEventListener("connection:close", onClose);
            signal.addEventListener("abort", done, { once: true });
          });
          attempt = 0;
          continue;
        }
        try {
          const target = addrs.length === 1 ? addrs[0]! : addrs;
          const connection = await this.node.dial(target, { signal: AbortSignal.any([signal, AbortSignal.timeout(5_000)]) });
          seedPeer = connection.remotePeer.toString();
          await this.#gate.wait(connection);
          this.#seedPeers[index] = seedPeer;
          // (A seed first known by its address is a seed only now: onAdmitted could not tell.)
          reserveAgain(this.#reservations, connection.remotePeer);
          resolve("admitted");
          // A seed this node can only reach through a relay (its addresses are relayed ones) is dialed again after
          // the backoff rather than at once, again and again.
          if (!isRelayed(connection)) {
            attempt = 0;
            continue;
          }
        } catch (error) {
          if (signal.aborted) break;
          if (isSelfDial(error)) {
            resolve("unreachable");
            return; // a seed list that names this node itself
          }
          // A refusal (another secret, not a Pulsing node) fails init(); a seed that closed the connection or was too
          // busy to finish admission in time (a hundred nodes joining through it at once) is tried again.
          resolve(error instanceof AdmissionError && error.reason !== "closed" && error.reason !== "timeout" ? error : "unreachable");
        }
        const delay = Math.min(SEED_BACKOFF_MAX_MS, SEED_BACKOFF_MIN_MS * 2 ** attempt++) * (0.75 + Math.random() / 2);
        await new Promise<void>((wake) => {
          const done = (): void => {
            clearTimeout(timer);
            signal.removeEventListener("abort", done);
            wake();
          };
          const timer = setTimeout(done, delay);
          signal.addEventListener("abort", done, { once: true });
        });
      }
      resolve("unreachable");
    })();
    return promise;
  }
}

/** One open connection, as `system.connections()` reports it. */
export interface ConnectionInfo {
  nodeId: string;
  transport: ConnectionTransport;
  direction: "inbound" | "outbound";
  relayed: boolean;
  admitted: boolean;
  /** This node's calls to that node go over this connection. */
  carriesCalls: boolean;
}

/**
 * The transports of a node inside a worker thread: its runtime's, for dialing, but listening only through a relay
 * (its parent's, when that has a network address) — a worker has no address of its own; few connections.
 */
function workerPlan(plan: TransportPlan, relayed: boolean): TransportPlan {
  return { ...plan, listen: relayed ? ["/p2p-circuit"] : [], services: {}, maxConnections: Math.min(plan.maxConnections, 64), targetPeers: 3, directWebRTC: false };
}

/** Resolves with the first "admitted"; otherwise, once all are in, with an admission error if any, else "unreachable". */
async function settleWhenJoined(
  outcomes: Array<Promise<"admitted" | "unreachable" | AdmissionError>>,
): Promise<"admitted" | "unreachable" | AdmissionError> {
  const admitted = Promise.any(outcomes.map((p) => p.then((o) => (o === "admitted" ? o : Promise.reject(o)))));
  const all = Promise.all(outcomes).then((list) => list.find((o) => o instanceof AdmissionError) ?? "unreachable");
  return admitted.catch(() => all);
}

function isSelfDial(error: unknown): boolean {
  return (error as { name?: string } | null)?.name === "InvalidPeerIdError" || /dial self/i.test(describe(error));
}
