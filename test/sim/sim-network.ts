/**
 * A simulated cluster for the membership protocol: N real `GossipMembership` instances, each with a simulated
 * `MembershipHost` and `MembershipTopic`, on one `SimClock`. No libp2p, no sockets, no sleeps; everything random
 * comes from one seeded generator, so a run is reproducible.
 *
 * ## Network model
 * - Latency: a direct stream (RPC, ping) takes `linkMs` one way (uniform, default 5–20 ms). A topic message takes
 *   one `hopMs` (uniform 5–20 ms) per gossipsub hop; a recipient's hop count comes from a breadth-first tree of
 *   branching D over a random order of the recipients (D at 1 hop, D² at 2, …), so the farthest are
 *   ⌈log_D(n)⌉ hops away.
 * - Topic: a message published by a node with at least one connection reaches every other node that is up (not
 *   killed, membership started), has a connection, and is on the same side of any partition, both at publishing and
 *   at delivery; `publish` resolves to their number. A node without connections reaches nobody (0, like
 *   gossipsub before its first peer subscribes). A node whose every reachable peer is across a partition "sends"
 *   to its mesh peers (resolves to min(D, connections)) and nobody gets it, as over a blackholed link.
 * - Topic traffic (gossipsub, mesh degree D = 3): the publisher sends D copies; every recipient receives D copies
 *   (its first one and D − 1 duplicates from its other mesh peers) and forwards D (to its mesh peers), all capped
 *   at n − 1. Each copy costs the membership payload plus `envelopeBytes` (default 160: a signed gossipsub message's
 *   from, seqno, topic, 64-byte signature and protobuf/RPC framing). This is an upper bound for the mesh itself:
 *   real forwarders skip the peer they got it from, and IDONTWANT cuts duplicates. Gossip control (IHAVE/IWANT
 *   about recent messages, heartbeats with GRAFT/PRUNE) is not counted: it exists with any topic and is constant
 *   per node.
 * - RPC (`fetchMembers`, `fetchSnapshot`, `probeVia`): request and answer are encoded with the wire codec
 *   (src/wire/codec.ts: exact msgpack sizes; the answer is decoded again, so the caller sees an untrusted copy)
 *   plus `rpcOverheadBytes` each (default 64: stream framing, method name, call id). `probeVia` also costs the
 *   helper's ping.
 * - Probe (src/cluster/prober.ts): a 4-byte numbered frame and its varint length + 12 (a yamux frame): 17 bytes, one
 *   message each way on a stream kept open. An arriving probe is a sign of life of the prober (`heard`), as on a node.
 * - Connections: symmetric; `connect` takes three one-way latencies (TCP and noise handshakes), one more and both
 *   sides' `onPeerSubscribed` listeners fire (subscriptions exchanged). Setup bytes are not counted. The mesh's
 *   seed loop is modelled too: a node that lost its connection to the node it joined through dials it again
 *   (checked every second). A killed node's connections
 *   drop at once and each former peer gets `peerDisconnected(killed)` one latency later (a reset). A connection
 *   whose far end stops answering (frozen, or across a partition) is closed by the side that still runs after
 *   `linkTimeoutMs` (libp2p's connection monitor), which then gets `peerDisconnected`.
 * - A frozen node (SIGSTOP) runs nothing: its timers, the messages and answers that reach it wait, and it answers
 *   nothing. Thawed, it runs what waited, in order, late (its `LocalHealth` sees the lateness, as a real one would).
 * - A killed node runs nothing ever again and answers nothing; its membership is not stopped (no `leave`).
 *
 * ## Tabs (light members, `addTab`)
 * - A tab's host runtime is "browser"; its addresses are relayed ones through its seeds. It connects to each of its
 *   seeds (default: node 0 and one other full node), keeps them connected (redialed like a full node's seed), and
 *   its membership's topic is a home feed (src/cluster/member-feed.ts `homeFeedTopic`, ported onto sim streams).
 * - The feed follows the first candidate that accepts, as cluster.ts lists them: its seeds, then other peers it is
 *   connected to, not tabs, not members it holds dead (the one just lost goes last). Following: multistream-select
 *   (a round trip, not counted), `follow` → the home's `addFollower` → `ok` → the `onHome` listeners; then the home's
 *   `forward`s arrive as frames, and the tab's `publish` goes to the home's `fromFollower`. 5 s for each step, a
 *   retry every second without a home, and at once when a connection opens.
 * - A stream is two ordered pipes: a frame takes one `linkMs` (never overtaking the previous one), waits while a
 *   partition separates the ends (TCP retransmits), and is lost when the stream ends. Traffic: the "feed" bucket,
 *   the encoded frame + its length prefix + `feedOverheadBytes` (default 12, a yamux header), in and out.
 * - A stream ends with its connection: a kill or a leave resets it (the other side hears one latency later, or
 *   after `linkTimeoutMs` across a partition), the link timeout closes it (both sides hear at once); the tab's
 *   `stop()` closes it after what it queued (its `leave`); a home that refuses aborts it.
 * - Tabs are not on the topic: full nodes do not count them as recipients nor as subscribed peers, and a full node
 *   connected only to tabs reaches nobody.
 */
import { GossipMembership } from "../../src/cluster/gossip-membership.js";
import type { MemberEventType, Membership, MembershipHost, MembershipOptions } from "../../src/cluster/membership.js";
import type { MembershipTopic } from "../../src/cluster/membership-topic.js";
import { homeCandidates, type HomeFeedTopic } from "../../src/cluster/member-feed.js";
import type { RegistrySnapshot } from "../../src/cluster/registry.js";
import type { RuntimeKind } from "../../src/platform/platform.js";
import { every, type Clock, type TimerHandle } from "../../src/util/clock.js";
import { decode, encode } from "../../src/wire/codec.js";
import { SimClock } from "./sim-clock.js";

/** What the simulation uses of a membership (GossipMembership, or a scratch copy of it for mutation checks). */
export interface SimMembership extends Membership {
  digestFor(request: { joiner?: unknown; sender?: string; hash?: unknown }): unknown[];
  watched(): string[];
  readonly antiEntropy: { rounds: number; repairs: number };
  readonly incarnation: number;
  /** The feed's home side (src/cluster/member-feed.ts `FeedHome`): full nodes serve tabs with it. */
  addFollower(peer: string, cluster: string, forward: (author: string, data: Uint8Array) => void): boolean;
  removeFollower(peer: string, forward: (author: string, data: Uint8Array) => void): void;
  fromFollower(peer: string, data: Uint8Array): void;
  readonly cluster: string;
  /** A tab: the home it follows, as its membership knows it. */
  readonly home: string | undefined;
  readonly followers: number;
}
export type SimMembershipClass = new (
  host: MembershipHost,
  topic: MembershipTopic,
  isAdmitted: (peer: string) => boolean,
  options: MembershipOptions,
  deps: { clock?: Clock; random?: () => number; incarnation?: number },
) => SimMembership;

export interface SimNetworkOptions {
  membership?: MembershipOptions;
  /** Seed of the random generator (latencies, ids, and every membership's `random`). */
  seed?: number;
  /** One gossipsub hop, ms (uniform). */
  hopMs?: [number, number];
  /** One way over a direct stream, ms (uniform). */
  linkMs?: [number, number];
  /** Gossipsub mesh degree. */
  meshDegree?: number;
  envelopeBytes?: number;
  rpcOverheadBytes?: number;
  /** Per feed frame, on top of the encoded frame and its length prefix (a yamux frame header). */
  feedOverheadBytes?: number;
  /** A connection to a peer that stopped answering is closed after this long. */
  linkTimeoutMs?: number;
  /** How long a dial may take before it fails. */
  dialTimeoutMs?: number;
  /** The membership implementation (default: the real one). */
  Membership?: SimMembershipClass;
  /** Forwarded to `SimClock` (an event-loop turn every this many timers). */
  yieldEvery?: number;
}

export type Status = "alive" | "suspect" | "dead";
type NodeState = "new" | "up" | "killed" | "left";

/** Messages and bytes, in and out. */
export interface Flow {
  msgsIn: number;
  msgsOut: number;
  bytesIn: number;
  bytesOut: number;
}
export interface Traffic {
  topic: Flow;
  rpc: Flow;
  ping: Flow;
  /** The membership feed (a tab and its home): frames both ways. */
  feed: Flow;
}
export const TRAFFIC_KINDS: ReadonlyArray<keyof Traffic> = ["topic", "rpc", "ping", "feed"];

interface NodeTimer {
  inner: TimerHandle | undefined;
  cleared: boolean;
}

const flow = (): Flow => ({ msgsIn: 0, msgsOut: 0, bytesIn: 0, bytesOut: 0 });
const PING_BYTES = 17;

/** A membership event seen by a node: suspicions, deaths and `memberGone` (arrivals are counted, not listed). */
export interface SimEvent {
  t: number;
  observer: string;
  subject: string;
  type: "member:suspect" | "member:down" | "gone";
  why?: string;
}

export class SimNode {
  state: NodeState = "new";
  frozen = false;
  group = 0;
  /** The node it joined through: kept connected, redialed when the connection drops (as the mesh does). */
  seed: SimNode | undefined;
  /** A tab's seeds (its candidate homes, in order): all kept connected, redialed when they drop. */
  seeds: SimNode[] = [];
  /** Seeds being redialed. */
  readonly redialing = new Set<string>();
  startedAt = NaN;
  joinedAt = NaN;
  readonly connections = new Set<string>();
  readonly traffic: Traffic = { topic: flow(), rpc: flow(), ping: flow(), feed: flow() };
  /** Its public names (what `localSnapshot` gives; `SimNetwork.register` adds one). */
  names: Array<[string, number]> = [];
  namesVersion = 0;
  /** A tab's feed (undefined for full nodes). */
  feed: SimHomeFeed | undefined;
  /** Feed streams this node is an end of (a tab: the one it follows, or tries; a full node: its followers'). */
  readonly streams = new Set<FeedStream>();
  /** Its view of the others, from its membership's events (not reset by tombstone expiry). */
  readonly view = new Map<string, Status>();
  aliveCount = 0;
  reports = 0;
  lastReport = "";
  membership!: SimMembership;
  onMessage: ((author: string, data: Uint8Array) => void) | undefined;
  readonly subscribed: Array<() => void> = [];
  readonly deferred: Array<() => void> = [];
  readonly clock: Clock;
  readonly addrs: string[];

  constructor(
    readonly id: string,
    readonly index: number,
    readonly incarnation: number,
    sim: SimClock,
    readonly runtime: RuntimeKind = "node",
    seeds: SimNode[] = [],
  ) {
    // A tab listens nowhere: it is reached through a relay reservation on each seed (and WebRTC set up over it).
    this.addrs =
      runtime === "browser"
        ? seeds.flatMap((s) => [`${s.addrs[0]}/p2p-circuit/p2p/${id}`, `${s.addrs[0]}/p2p-circuit/webrtc/p2p/${id}`])
        : [`/ip4/10.${(index >> 16) & 255}.${(index >> 8) & 255}.${index & 255}/tcp/4001/p2p/${id}`];
    this.seeds = seeds;
    // The node's own clock: what it schedules runs only while it is up, and waits while it is frozen.
    // A timer cleared after it fired but before it ran (while frozen) must not run: the handle remembers.
    this.clock = {
      now: () => sim.now(),
      setTimeout: (fn, ms) => {
        const handle: NodeTimer = { inner: undefined, cleared: false };
        handle.inner = sim.setTimeout(() => this.exec(() => handle.cleared || fn()), ms);
        return handle;
      },
      clearTimeout: (handle) => {
        if (handle === undefined) return;
        (handle as NodeTimer).cleared = true;
        sim.clearTimeout((handle as NodeTimer).inner);
      },
    };
  }

  /** Runs `fn` as this node: not at all once it is killed, at thaw while it is frozen. */
  exec(fn: () => void): void {
    if (this.state === "killed" || this.state === "left") return;
    if (this.frozen) this.deferred.push(fn);
    else fn();
  }

  get up(): boolean {
    return this.state === "up";
  }

  get isTab(): boolean {
    return this.runtime === "browser";
  }
}

/**
 * One feed stream (`/pulsing/cluster/feed/1.0.0`) from a tab to a full node: two ordered pipes. It ends when either
 * side aborts or closes it, or when the connection under it drops (each side hears of the end as it would of a
 * reset: one latency later, or when the link times out).
 */
export interface FeedStream {
  readonly tab: SimNode;
  readonly home: SimNode;
  open: boolean;
  /** The home took the follower (its `forward`, to remove it at the end). */
  forward: ((author: string, data: Uint8Array) => void) | undefined;
  readonly toHome: Pipe;
  readonly toTab: Pipe;
  /** Each side's end-of-stream handler (the tab's read loop, the home's serving loop), called once. */
  readonly onEnd: Map<SimNode, () => void>;
  /** Each side's frame handler. */
  readonly receive: Map<SimNode, (frame: FeedFrame) => void>;
}

/** One direction of a stream: frames arrive in order, one latency after they were sent (or later, behind others). */
export interface Pipe {
  from: SimNode;
  to: SimNode;
  lastDue: number;
  readonly queue: Array<{ due: number; bytes: number; deliver: () => void }>;
  pumping: boolean;
}

/** A tab's side of the feed, as src/cluster/member-feed.ts `homeFeedTopic` runs it (the sim's streams under it). */
export interface SimHomeFeed extends HomeFeedTopic {
  /** The home it follows now (undefined between homes). */
  readonly current: string | undefined;
  /** How many times it started following a home. */
  readonly follows: number;
}

/** mulberry32: a small seeded generator. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

export class SimNetwork {
  readonly clock: SimClock;
  readonly nodes: SimNode[] = [];
  readonly byId = new Map<string, SimNode>();
  readonly events: SimEvent[] = [];
  /** Per subject: how many up nodes see it alive, suspect, dead. */
  readonly #counts = new Map<string, { alive: number; suspect: number; dead: number }>();
  /** Subjects whose arrival times are recorded, per observer (first `member:up`). */
  readonly #tracked = new Map<string, Map<string, number>>();
  readonly random: () => number;
  readonly options: Required<Omit<SimNetworkOptions, "membership" | "seed" | "yieldEvery">> & { membership: MembershipOptions };
  #nextGroup = 1;
  readonly #broken = new Map<string, number>();
  readonly #stopMaintenance: () => void;

  constructor(options: SimNetworkOptions = {}) {
    this.clock = new SimClock(options.yieldEvery);
    this.random = seededRandom(options.seed ?? 1);
    this.options = {
      membership: options.membership ?? {},
      hopMs: options.hopMs ?? [5, 20],
      linkMs: options.linkMs ?? [5, 20],
      meshDegree: options.meshDegree ?? 3,
      envelopeBytes: options.envelopeBytes ?? 160,
      rpcOverheadBytes: options.rpcOverheadBytes ?? 64,
      feedOverheadBytes: options.feedOverheadBytes ?? 12,
      linkTimeoutMs: options.linkTimeoutMs ?? 10_000,
      dialTimeoutMs: options.dialTimeoutMs ?? 5_000,
      Membership: options.Membership ?? (GossipMembership as unknown as SimMembershipClass),
    };
    // Connections to a peer that stopped answering are closed after linkTimeoutMs (checked every second).
    let stopped = false;
    const maintain = (): void => {
      if (stopped) return;
      this.#closeDeadLinks();
      this.#redialSeeds();
      this.clock.setTimeout(maintain, 1_000);
    };
    this.clock.setTimeout(maintain, 1_000);
    this.#stopMaintenance = () => {
      stopped = true;
    };
  }

  // --- operations --------------------------------------------------------------------------------------------

  /**
   * Adds a node and starts it: membership started, a connection to `via` (default: the seed, node 0; none for the
   * first node), then `joined([via])`. Runs as the clock runs; `joinedAt` is set when `joined` returns.
   */
  addNode(via?: SimNode): SimNode {
    const node = this.#create();
    const through = via ?? (this.nodes[0] !== node ? this.nodes[0] : undefined);
    void this.#join(node, through);
    return node;
  }

  /**
   * Adds a browser tab (a light member) and starts it: its membership follows the feed of the first of `homes` that
   * is up (default: the seed, node 0, and one other full node picked at random), it connects to every one of them
   * (as a tab holds a connection to each of its seeds), then `joined(seeds)`. Runs as the clock runs.
   */
  addTab(homes?: SimNode[]): SimNode {
    let seeds = homes;
    if (seeds === undefined) {
      const first = this.nodes[0];
      if (first === undefined || first.isTab) throw new Error("addTab: start full nodes first");
      const others = this.nodes.filter((n) => n !== first && !n.isTab && n.up);
      const second = others[Math.floor(this.random() * others.length)];
      seeds = second === undefined ? [first] : [first, second];
    }
    if (seeds.length === 0 || seeds.some((s) => s.isTab)) throw new Error("addTab: a tab's seeds are full nodes");
    const node = this.#create("browser", seeds);
    void this.#joinTab(node);
    return node;
  }

  /** `node` registers a public name: its snapshot changes and its membership hears of it (as the registry tells it). */
  register(node: SimNode, name: string): void {
    const entry: [string, number] = [name, node.namesVersion + 1];
    node.names = [...node.names, entry];
    node.namesVersion++;
    node.exec(() => node.membership.localRegistryChanged(this.#snapshotOf(node), [entry], []));
  }

  /**
   * Starts `count` nodes: the seed (node 0) when there is none yet, then waves of `waveSize` nodes every `waveMs`
   * of sim time joining through the seed. Returns once the last wave has been added and has had `waveMs` to join.
   */
  async grow(count: number, { waveSize = 20, waveMs = 250 }: { waveSize?: number; waveMs?: number } = {}): Promise<void> {
    let left = count;
    if (this.nodes.length === 0 && left > 0) {
      this.addNode();
      left--;
      await this.clock.runFor(waveMs);
    }
    while (left > 0) {
      const wave = Math.min(waveSize, left);
      for (let i = 0; i < wave; i++) this.addNode();
      left -= wave;
      await this.clock.runFor(waveMs);
    }
  }

  /** Kills a node: nothing of it runs again, its connections reset. */
  kill(node: SimNode): void {
    if (!node.up) return;
    this.#forgetViews(node);
    node.state = "killed";
    this.#dropConnections(node);
  }

  /** Freezes a node (SIGSTOP): it runs and answers nothing until `thaw`. */
  freeze(node: SimNode): void {
    node.frozen = true;
  }

  /** Thaws a frozen node: what waited runs now, in order (late). */
  thaw(node: SimNode): void {
    if (!node.frozen) return;
    node.frozen = false;
    const waiting = node.deferred.splice(0);
    for (const fn of waiting) this.clock.setTimeout(() => node.exec(fn), 0);
  }

  /** Cuts `members` off from everyone else (they still reach each other). */
  partition(members: SimNode[]): void {
    const group = this.#nextGroup++;
    for (const node of members) node.group = group;
  }

  /** Ends every partition. */
  heal(): void {
    for (const node of this.nodes) node.group = 0;
  }

  /** A graceful leave: `stop()` (announces `leave`), then its connections close. */
  async leave(node: SimNode): Promise<void> {
    if (!node.up) return;
    const stopping = node.membership.stop();
    await this.clock.runFor(200);
    await stopping;
    this.#forgetViews(node);
    node.state = "left";
    this.#dropConnections(node);
  }

  /** Stops the network's own timers (the nodes' are left to die with the clock). */
  dispose(): void {
    this.#stopMaintenance();
  }

  // --- what the nodes see ------------------------------------------------------------------------------------

  /** Up nodes (not killed or left; frozen ones included), joined. */
  upNodes(): SimNode[] {
    return this.nodes.filter((n) => n.up && !Number.isNaN(n.joinedAt));
  }

  /** Up, joined and not frozen: the nodes that can be expected to see things. */
  liveNodes(): SimNode[] {
    return this.nodes.filter((n) => n.up && !n.frozen && !Number.isNaN(n.joinedAt));
  }

  /** How many up nodes see `subject` with `status`. */
  seenAs(subject: SimNode, status: Status): number {
    return this.#counts.get(subject.id)?.[status] ?? 0;
  }

  /** Every live node (but `subject`) sees `subject` with `status`. */
  everyoneSees(subject: SimNode, status: Status, among: SimNode[] = this.liveNodes()): boolean {
    for (const node of among) if (node !== subject && node.view.get(subject.id) !== status) return false;
    return true;
  }

  /** Every live node (up, joined, not frozen) sees every other live node alive. */
  converged(): boolean {
    const live = this.liveNodes();
    const expected = live.length - 1;
    for (const node of live) if (node.aliveCount < expected) return false;
    for (const node of live) {
      for (const other of live) if (other !== node && node.view.get(other.id) !== "alive") return false;
    }
    return true;
  }

  /** Records, for `subject`, when each observer first sees it alive from now on. */
  track(subject: SimNode): void {
    this.#tracked.set(subject.id, new Map());
  }

  /** Observer → sim time of its first `member:up` of a tracked subject since `track`. */
  arrivals(subject: SimNode): Map<string, number> {
    return this.#tracked.get(subject.id) ?? new Map();
  }

  /** Events about `subject` since `since`. */
  eventsAbout(subject: SimNode, since = 0): SimEvent[] {
    return this.events.filter((e) => e.subject === subject.id && e.t >= since);
  }

  /** Per-node traffic, a copy (for differences over a window). */
  trafficSnapshot(): Map<string, Traffic> {
    const copy = new Map<string, Traffic>();
    for (const node of this.nodes) {
      copy.set(node.id, { topic: { ...node.traffic.topic }, rpc: { ...node.traffic.rpc }, ping: { ...node.traffic.ping }, feed: { ...node.traffic.feed } });
    }
    return copy;
  }

  // --- internals ---------------------------------------------------------------------------------------------

  #uniform([low, high]: [number, number]): number {
    return low + (high - low) * this.random();
  }

  #link(): number {
    return this.#uniform(this.options.linkMs);
  }

  #create(runtime: RuntimeKind = "node", seeds: SimNode[] = []): SimNode {
    const index = this.nodes.length;
    let id = "12D3KooW";
    while (id.length < 52) id += BASE58[Math.floor(this.random() * BASE58.length)];
    const node = new SimNode(id, index, 1_750_000_000_000 + index, this.clock, runtime, seeds);
    const host = this.#hostOf(node);
    const topic = runtime === "browser" ? (node.feed = this.#feedOf(node)) : this.#topicOf(node);
    const seed = Math.floor(this.random() * 2 ** 32);
    node.membership = new this.options.Membership(host, topic, (peer) => this.byId.has(peer), this.options.membership, {
      clock: node.clock,
      random: seededRandom(seed),
      incarnation: node.incarnation,
    });
    this.nodes.push(node);
    this.byId.set(id, node);
    return node;
  }

  async #join(node: SimNode, via: SimNode | undefined): Promise<void> {
    node.state = "up";
    node.startedAt = this.clock.now();
    await node.membership.start();
    node.seed = via;
    if (via !== undefined) {
      try {
        await this.#connect(node, via.id);
      } catch {
        node.lastReport = `could not connect to ${via.id}`;
        node.reports++;
        return;
      }
      await node.membership.joined([via.id]);
    }
    node.joinedAt = this.clock.now();
  }

  /**
   * A tab starts as src/system/start-node.ts starts one: membership first (its feed has no candidate yet), then the
   * mesh dials every seed (all of them, in parallel; here `joined` waits for every dial to settle, where the mesh
   * returns at the first admitted seed and then waits for its relay reservation), then `joined(seeds reached)`.
   */
  async #joinTab(node: SimNode): Promise<void> {
    node.state = "up";
    node.startedAt = this.clock.now();
    await node.membership.start();
    const outcomes = await Promise.allSettled(node.seeds.map((seed) => this.#connect(node, seed.id)));
    const reached = node.seeds.filter((_, i) => outcomes[i]!.status === "fulfilled");
    if (reached.length === 0) {
      node.lastReport = "could not connect to any seed";
      node.reports++;
      return;
    }
    await node.membership.joined(reached.map((seed) => seed.id));
    node.joinedAt = this.clock.now();
  }

  /** The two can exchange packets now (both up, neither frozen, same side). */
  #canTalk(a: SimNode, b: SimNode): boolean {
    return a.up && b.up && !a.frozen && !b.frozen && a.group === b.group;
  }

  #hostOf(node: SimNode): MembershipHost {
    return {
      nodeId: node.id,
      runtime: node.runtime,
      addrs: () => node.addrs,
      load: (lag) => ({ actors: 0, mailbox: 0, inflight: 0, lag }),
      localSnapshot: () => this.#snapshotOf(node),
      fetchSnapshot: (nodeId) => this.#rpc(node, nodeId, { m: "registrySnapshot" }, (target) => this.#snapshotOf(target), 5_000) as Promise<RegistrySnapshot>,
      fetchMembers: (nodeId, request, timeoutMs = 5_000) =>
        this.#rpc(node, nodeId, { m: "memberDigest", ...request }, (target) => target.membership.digestFor({ joiner: request.self, sender: node.id, hash: request.hash }), timeoutMs),
      ping: (nodeId, timeoutMs) => this.#ping(node, nodeId, timeoutMs),
      probeVia: async (via, target, timeoutMs) =>
        (await this.#rpc(node, via, { m: "probe", target, timeoutMs }, (helper) => this.#ping(helper, target, timeoutMs), timeoutMs + 250)) === true,
      connect: (nodeId) => this.#connect(node, nodeId),
      learn: async () => {},
      connectedPeers: () => [...node.connections],
      memberGone: (nodeId, why) => {
        this.events.push({ t: this.clock.now(), observer: node.id, subject: nodeId, type: "gone", why });
      },
      emit: (type, member) => this.#onEvent(node, type, member.nodeId),
      report: (message) => {
        node.reports++;
        node.lastReport = message;
      },
    };
  }

  #topicOf(node: SimNode): MembershipTopic {
    return {
      start: (onMessage) => {
        node.onMessage = onMessage;
      },
      stop: () => {
        node.onMessage = undefined;
      },
      publish: async (data) => this.#publish(node, data),
      onPeerSubscribed: (listener) => {
        node.subscribed.push(listener);
      },
    };
  }

  #snapshotOf(node: SimNode): RegistrySnapshot {
    return { incarnation: node.incarnation, version: node.namesVersion, names: [...node.names] };
  }

  #onEvent(node: SimNode, type: MemberEventType, subject: string): void {
    const before = node.view.get(subject);
    const after: Status = type === "member:up" ? "alive" : type === "member:suspect" ? "suspect" : "dead";
    if (before === after) return;
    node.view.set(subject, after);
    if (before === "alive") node.aliveCount--;
    if (after === "alive") node.aliveCount++;
    let counts = this.#counts.get(subject);
    if (counts === undefined) this.#counts.set(subject, (counts = { alive: 0, suspect: 0, dead: 0 }));
    if (before !== undefined) counts[before]--;
    counts[after]++;
    if (type === "member:up") {
      const arrivals = this.#tracked.get(subject);
      if (arrivals !== undefined && !arrivals.has(node.id)) arrivals.set(node.id, this.clock.now());
    } else {
      this.events.push({ t: this.clock.now(), observer: node.id, subject, type });
    }
  }

  /** A node that is no longer up stops counting as an observer. */
  #forgetViews(node: SimNode): void {
    for (const [subject, status] of node.view) {
      const counts = this.#counts.get(subject);
      if (counts !== undefined) counts[status]--;
    }
  }

  /** How many of `node`'s connections are to full nodes (its topic peers: tabs do not subscribe). */
  #topicPeers(node: SimNode): number {
    let n = 0;
    for (const id of node.connections) if (!this.byId.get(id)!.isTab) n++;
    return n;
  }

  /** Whether `node` has a topic peer (a connection to a full node). */
  #onTopic(node: SimNode): boolean {
    for (const id of node.connections) if (!this.byId.get(id)!.isTab) return true;
    return false;
  }

  #publish(node: SimNode, data: Uint8Array): number {
    if (!node.up || !this.#onTopic(node)) return 0;
    const recipients: SimNode[] = [];
    for (const other of this.nodes) {
      if (other !== node && other.up && !other.isTab && other.group === node.group && other.onMessage !== undefined && this.#onTopic(other)) recipients.push(other);
    }
    const D = this.options.meshDegree;
    const size = data.byteLength + this.options.envelopeBytes;
    if (recipients.length === 0) {
      const sent = Math.min(D, this.#topicPeers(node));
      node.traffic.topic.msgsOut += sent;
      node.traffic.topic.bytesOut += sent * size;
      return sent;
    }
    const copies = Math.min(D, recipients.length);
    node.traffic.topic.msgsOut += copies;
    node.traffic.topic.bytesOut += copies * size;
    // A random breadth-first tree of branching D: D recipients at 1 hop, D² at 2, …
    for (let i = recipients.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [recipients[i], recipients[j]] = [recipients[j]!, recipients[i]!];
    }
    let hops = 1;
    let levelEnd = D;
    for (let i = 0; i < recipients.length; i++) {
      if (i >= levelEnd) {
        hops++;
        levelEnd += D ** hops;
      }
      let latency = 0;
      for (let h = 0; h < hops; h++) latency += this.#uniform(this.options.hopMs);
      const recipient = recipients[i]!;
      this.clock.setTimeout(() => {
        if (!recipient.up || recipient.group !== node.group) return;
        recipient.traffic.topic.msgsIn += copies;
        recipient.traffic.topic.bytesIn += copies * size;
        recipient.traffic.topic.msgsOut += copies;
        recipient.traffic.topic.bytesOut += copies * size;
        recipient.exec(() => recipient.onMessage?.(node.id, data));
      }, latency);
    }
    return recipients.length;
  }

  /**
   * A request from `caller` to `targetId`, answered by `handle` on the target (encoded both ways); rejects after
   * `timeoutMs` on the caller's clock when no answer came.
   */
  #rpc(caller: SimNode, targetId: string, request: unknown, handle: (target: SimNode) => unknown, timeoutMs: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      let done = false;
      const requestBytes = encode(request).byteLength + this.options.rpcOverheadBytes;
      caller.traffic.rpc.msgsOut++;
      caller.traffic.rpc.bytesOut += requestBytes;
      const timer = caller.clock.setTimeout(() => {
        if (done) return;
        done = true;
        reject(new Error(`no answer from ${targetId} within ${timeoutMs} ms`));
      }, timeoutMs);
      const target = this.byId.get(targetId);
      if (target === undefined) return;
      this.clock.setTimeout(() => {
        if (!this.#canTalk(caller, target)) return;
        target.traffic.rpc.msgsIn++;
        target.traffic.rpc.bytesIn += requestBytes;
        let answering: Promise<unknown>;
        try {
          answering = Promise.resolve(handle(target));
        } catch (error) {
          answering = Promise.reject(error);
        }
        answering.then(
          (answer) => {
            const bytes = encode(answer);
            this.#answer(caller, target, bytes.byteLength + this.options.rpcOverheadBytes, () => {
              if (done) return;
              done = true;
              caller.clock.clearTimeout(timer);
              resolve(decode(bytes));
            });
          },
          (error: unknown) => {
            this.#answer(caller, target, 64 + this.options.rpcOverheadBytes, () => {
              if (done) return;
              done = true;
              caller.clock.clearTimeout(timer);
              reject(error instanceof Error ? error : new Error(String(error)));
            });
          },
        );
      }, this.#link());
    });
  }

  /** `target` answers `caller` (it is running: it just handled the request); the answer takes one latency. */
  #answer(caller: SimNode, target: SimNode, bytes: number, deliver: () => void): void {
    if (!target.up || target.frozen) return;
    target.traffic.rpc.msgsOut++;
    target.traffic.rpc.bytesOut += bytes;
    this.clock.setTimeout(() => {
      if (!caller.up || !target.up || caller.group !== target.group) return;
      caller.traffic.rpc.msgsIn++;
      caller.traffic.rpc.bytesIn += bytes;
      caller.exec(deliver);
    }, this.#link());
  }

  #ping(caller: SimNode, targetId: string, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      let done = false;
      caller.traffic.ping.msgsOut++;
      caller.traffic.ping.bytesOut += PING_BYTES;
      const timer = caller.clock.setTimeout(() => {
        if (done) return;
        done = true;
        resolve(false);
      }, timeoutMs);
      const target = this.byId.get(targetId);
      if (target === undefined) return;
      this.clock.setTimeout(() => {
        if (!this.#canTalk(caller, target)) return;
        target.traffic.ping.msgsIn++;
        target.traffic.ping.bytesIn += PING_BYTES;
        target.traffic.ping.msgsOut++;
        target.traffic.ping.bytesOut += PING_BYTES;
        target.exec(() => target.membership.heard?.(caller.id));
        this.clock.setTimeout(() => {
          if (!caller.up || !target.up || caller.group !== target.group) return;
          caller.traffic.ping.msgsIn++;
          caller.traffic.ping.bytesIn += PING_BYTES;
          caller.exec(() => {
            if (done) return;
            done = true;
            caller.clock.clearTimeout(timer);
            resolve(true);
          });
        }, this.#link());
      }, this.#link());
    });
  }

  #connect(caller: SimNode, targetId: string): Promise<void> {
    if (caller.connections.has(targetId)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      let done = false;
      const timer = caller.clock.setTimeout(() => {
        if (done) return;
        done = true;
        reject(new Error(`could not dial ${targetId}`));
      }, this.options.dialTimeoutMs);
      const target = this.byId.get(targetId);
      if (target === undefined || target === caller) return;
      this.clock.setTimeout(() => {
        if (!this.#canTalk(caller, target)) return;
        this.clock.setTimeout(() => {
          if (!this.#canTalk(caller, target)) return;
          const fresh = !caller.connections.has(target.id);
          caller.connections.add(target.id);
          target.connections.add(caller.id);
          caller.exec(() => {
            if (done) return;
            done = true;
            caller.clock.clearTimeout(timer);
            resolve();
          });
          if (!fresh) return;
          // Subscriptions are exchanged over the new connection: both sides learn the other is on the topic. The
          // connection passed admission: each side's membership hears of it (as the mesh tells it).
          this.clock.setTimeout(() => {
            for (const [a, b] of [
              [caller, target],
              [target, caller],
            ] as const) {
              if (!a.connections.has(b.id)) continue;
              a.exec(() => a.membership.peerConnected?.(b.id));
              if (!b.isTab) a.exec(() => a.subscribed.forEach((listener) => listener()));
              if (a.feed !== undefined) a.exec(() => a.feed!.peerConnected(b.id));
            }
          }, this.#link());
        }, 2 * this.#link());
      }, this.#link());
    });
  }

  /** Drops every connection of `node`; its peers hear of it one latency later (when the reset can reach them). */
  #dropConnections(node: SimNode): void {
    for (const peerId of node.connections) {
      const peer = this.byId.get(peerId)!;
      peer.connections.delete(node.id);
      const reaches = peer.group === node.group;
      const delay = this.#link();
      this.clock.setTimeout(() => {
        if (reaches) peer.exec(() => peer.membership.peerDisconnected(node.id));
      }, delay);
      // Its feed streams end with the connection: the reset reaches the peer with the disconnection (across a
      // partition it does not: the peer's connection monitor ends it after the link timeout).
      for (const stream of [...node.streams]) {
        if (stream.tab === peer || stream.home === peer) this.#endStream(stream, (side) => (side === node ? 0 : reaches ? delay : this.options.linkTimeoutMs));
      }
    }
    node.connections.clear();
    for (const stream of [...node.streams]) this.#endStream(stream, (side) => (side === node ? 0 : this.#link()));
  }

  /** Every up node that lost its connection to its seed dials it again (the mesh keeps seeds connected). */
  #redialSeeds(): void {
    for (const node of this.nodes) {
      const seeds = node.isTab ? node.seeds : node.seed !== undefined ? [node.seed] : [];
      for (const seed of seeds) {
        if (node.up && !node.frozen && seed.up && !node.connections.has(seed.id) && !Number.isNaN(node.joinedAt)) {
          if (node.redialing.has(seed.id)) continue;
          node.redialing.add(seed.id);
          this.#connect(node, seed.id)
            .catch(() => {})
            .finally(() => node.redialing.delete(seed.id));
        }
      }
    }
  }

  /** Closes connections whose far end has not answered for `linkTimeoutMs`; the running side hears of it. */
  #closeDeadLinks(): void {
    const now = this.clock.now();
    const troubled = this.nodes.filter((n) => n.up && (n.frozen || n.group !== 0));
    const seen = new Set<string>();
    for (const node of troubled) {
      for (const peerId of [...node.connections]) {
        const peer = this.byId.get(peerId)!;
        const key = node.id < peerId ? `${node.id}|${peerId}` : `${peerId}|${node.id}`;
        seen.add(key);
        if (this.#canTalk(node, peer)) continue;
        const since = this.#broken.get(key) ?? now;
        this.#broken.set(key, since);
        if (now - since < this.options.linkTimeoutMs) continue;
        node.connections.delete(peerId);
        peer.connections.delete(node.id);
        this.#broken.delete(key);
        // Feed streams over it end too: each side hears of it now (a frozen one at thaw).
        for (const stream of [...node.streams]) if (stream.tab === peer || stream.home === peer) this.#endStream(stream, () => 0);
        for (const [side, other] of [
          [node, peer],
          [peer, node],
        ] as const) {
          if (side.up) side.exec(() => side.membership.peerDisconnected(other.id)); // a frozen side: at thaw
        }
      }
    }
    for (const key of this.#broken.keys()) if (!seen.has(key)) this.#broken.delete(key);
  }

  // --- the membership feed (src/cluster/member-feed.ts) -------------------------------------------------------

  /**
   * A tab's feed, `homeFeedTopic` over sim streams: follows the first candidate that accepts (its seeds, then other
   * full nodes it is connected to; one it holds dead or a tab is no candidate), moves when the stream ends (the
   * home just lost goes last), tries again every second while it has no home and at once when a connection opens.
   */
  #feedOf(tab: SimNode): SimHomeFeed {
    let deliver: ((author: string, data: Uint8Array) => void) | undefined;
    let current: FeedStream | undefined;
    let connecting = false;
    let stopped = true;
    let stopRetrying: (() => void) | undefined;
    let follows = 0;
    const homeListeners: Array<(home: string) => void> = [];

    // As cluster.ts lists them: seeds first, then connected peers (see homeCandidates).
    const candidates = (): string[] => {
      const admitted = [...tab.seeds.map((s) => s.id), ...tab.connections].filter((peer) => tab.connections.has(peer));
      return homeCandidates(tab.id, admitted, tab.membership.members());
    };

    const follow = async (peer: string): Promise<boolean> => {
      const home = this.byId.get(peer);
      if (home === undefined || home === tab) return false;
      // mesh.openStream dials a peer it is not connected to (cluster.ts's candidates are connected ones).
      if (!tab.connections.has(peer)) {
        try {
          await this.#connect(tab, peer);
        } catch {
          return false;
        }
      }
      return new Promise<boolean>((resolve) => {
        const stream = this.#openStream(tab, home);
        let phase: "negotiating" | "following" | "done" = "negotiating";
        let timer: TimerHandle | undefined;
        const finish = (ok: boolean): void => {
          if (phase === "done") return;
          phase = "done";
          tab.clock.clearTimeout(timer);
          resolve(ok);
        };
        const deadline = (): void => {
          tab.clock.clearTimeout(timer);
          timer = tab.clock.setTimeout(() => {
            if (phase === "done") return;
            this.#abortStream(stream, tab);
            finish(false);
          }, FOLLOW_TIMEOUT_MS);
        };
        stream.onEnd.set(tab, () => {
          if (phase !== "done") {
            finish(false); // refused, or the connection went
            return;
          }
          if (current === stream) {
            current = undefined;
            if (!stopped) void findHome(peer);
          }
        });
        stream.receive.set(tab, (frame) => {
          if (frame.t === "selected" && phase === "negotiating") {
            phase = "following";
            deadline();
            this.#sendFrame(stream, stream.toHome, { t: "follow", cluster: tab.membership.cluster });
          } else if (frame.t === "ok" && phase === "following") {
            if (stopped) {
              this.#abortStream(stream, tab);
              finish(false);
              return;
            }
            current = stream;
            follows++;
            for (const listener of homeListeners) listener(peer);
            finish(true);
          } else if (frame.t === "m" && frame.a !== undefined) {
            deliver?.(frame.a, frame.d);
          }
        });
        deadline(); // mesh.openStream's timeout
        // multistream-select: the protocol proposed, the home's answer (a round trip; not counted, like dials)
        this.#sendFrame(stream, stream.toHome, { t: "select" });
      });
    };

    const findHome = async (lost?: string): Promise<void> => {
      if (connecting || stopped || current !== undefined) return;
      connecting = true;
      try {
        const list = [...new Set(candidates())].sort((a, b) => Number(a === lost) - Number(b === lost));
        for (const peer of list) if (!stopped && (await follow(peer))) return;
      } finally {
        connecting = false;
      }
    };

    return {
      get current() {
        return current?.home.id;
      },
      get follows() {
        return follows;
      },
      start(onMessage) {
        deliver = onMessage;
        stopped = false;
        stopRetrying = every(tab.clock, RETRY_MS, () => {
          if (current === undefined) void findHome();
        });
        void findHome();
      },
      stop: () => {
        stopped = true;
        stopRetrying?.();
        const stream = current;
        current = undefined;
        if (stream !== undefined) this.#sendFrame(stream, stream.toHome, { t: "close" }); // after what is queued
      },
      publish: async (data) => {
        if (current === undefined) return 0;
        this.#sendFrame(current, current.toHome, { t: "m", d: data });
        return 1;
      },
      onPeerSubscribed() {},
      onHome(listener) {
        homeListeners.push(listener);
      },
      peerConnected() {
        if (current === undefined) void findHome();
      },
    };
  }

  #openStream(tab: SimNode, home: SimNode): FeedStream {
    const pipe = (from: SimNode, to: SimNode): Pipe => ({ from, to, lastDue: 0, queue: [], pumping: false });
    const stream: FeedStream = { tab, home, open: true, forward: undefined, toHome: pipe(tab, home), toTab: pipe(home, tab), onEnd: new Map(), receive: new Map() };
    tab.streams.add(stream);
    home.streams.add(stream);
    // The home's side, as serveFollower runs it: a follow request, then the follower's own changes.
    stream.onEnd.set(home, () => {
      if (stream.forward !== undefined) home.membership.removeFollower(tab.id, stream.forward);
    });
    stream.receive.set(home, (frame) => {
      if (frame.t === "select") {
        this.#sendFrame(stream, stream.toTab, { t: "selected" });
      } else if (frame.t === "follow" && stream.forward === undefined) {
        const forward = (author: string, data: Uint8Array): void => this.#sendFrame(stream, stream.toTab, { t: "m", a: author, d: data });
        if (!home.membership.addFollower(tab.id, frame.cluster, forward)) {
          this.#abortStream(stream, home); // "not followed here"
          return;
        }
        stream.forward = forward;
        this.#sendFrame(stream, stream.toTab, { t: "ok" });
      } else if (frame.t === "m" && stream.forward !== undefined) {
        home.membership.fromFollower(tab.id, frame.d);
      } else if (frame.t === "close") {
        this.#endStream(stream, (side) => (side === home ? 0 : this.#link()));
      } else {
        this.#abortStream(stream, home); // "not a feed frame"
      }
    });
    return stream;
  }

  /**
   * Writes `frame` to one direction of `stream`: counted at both ends as the encoded frame, its length prefix and
   * `feedOverheadBytes` (negotiation and the close are not counted); read by the far end in order, one latency
   * later. A frame for the other side of a partition waits (TCP retransmits) until the heal or the link timeout.
   */
  #sendFrame(stream: FeedStream, pipe: Pipe, frame: FeedFrame): void {
    if (!stream.open) return;
    let bytes = 0;
    if (frame.t !== "select" && frame.t !== "selected" && frame.t !== "close") {
      const encoded = encode(frame).byteLength;
      bytes = encoded + varintLength(encoded) + this.options.feedOverheadBytes;
      pipe.from.traffic.feed.msgsOut++;
      pipe.from.traffic.feed.bytesOut += bytes;
    }
    const due = Math.max(this.clock.now() + this.#link(), pipe.lastDue);
    pipe.lastDue = due;
    pipe.queue.push({
      due,
      bytes,
      deliver: () => {
        if (stream.open) stream.receive.get(pipe.to)?.(frame);
      },
    });
    if (!pipe.pumping) {
      pipe.pumping = true;
      this.clock.setTimeout(() => this.#pump(stream, pipe), due - this.clock.now());
    }
  }

  #pump(stream: FeedStream, pipe: Pipe): void {
    pipe.pumping = false;
    while (pipe.queue.length > 0) {
      if (!stream.open) {
        pipe.queue.length = 0;
        return;
      }
      const head = pipe.queue[0]!;
      const wait = head.due > this.clock.now() ? head.due - this.clock.now() : pipe.from.group !== pipe.to.group ? 100 : 0;
      if (wait > 0) {
        pipe.pumping = true;
        this.clock.setTimeout(() => this.#pump(stream, pipe), wait);
        return;
      }
      pipe.queue.shift();
      if (head.bytes > 0) {
        pipe.to.traffic.feed.msgsIn++;
        pipe.to.traffic.feed.bytesIn += head.bytes;
      }
      pipe.to.exec(head.deliver);
    }
  }

  /** `by` aborts `stream`: its side ends now, the other hears of the reset one latency later. */
  #abortStream(stream: FeedStream, by: SimNode): void {
    this.#endStream(stream, (side) => (side === by ? 0 : this.#link()));
  }

  /** Ends `stream`: what is in flight is lost; each side's end handler runs `heardAfter(side)` ms from now. */
  #endStream(stream: FeedStream, heardAfter: (side: SimNode) => number): void {
    if (!stream.open) return;
    stream.open = false;
    stream.tab.streams.delete(stream);
    stream.home.streams.delete(stream);
    stream.toHome.queue.length = 0;
    stream.toTab.queue.length = 0;
    for (const side of [stream.tab, stream.home]) {
      const handler = stream.onEnd.get(side);
      if (handler === undefined) continue;
      const delay = heardAfter(side);
      if (delay <= 0) side.exec(handler);
      else this.clock.setTimeout(() => side.exec(handler), delay);
    }
  }
}

/** member-feed.ts's constants. */
const FOLLOW_TIMEOUT_MS = 5_000;
const RETRY_MS = 1_000;

/** Feed frames (`select`/`selected`: the protocol negotiation; `close`: the tab's end of the stream). */
export type FeedFrame =
  | { t: "select" }
  | { t: "selected" }
  | { t: "follow"; cluster: string }
  | { t: "ok" }
  | { t: "m"; a: string; d: Uint8Array }
  | { t: "m"; d: Uint8Array; a?: undefined }
  | { t: "close" };

const varintLength = (n: number): number => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : 4);

/** Per-node averages over a window of `seconds`, of nodes up throughout (and the busiest node's total). */
export function rates(
  before: Map<string, Traffic>,
  after: Map<string, Traffic>,
  nodes: SimNode[],
  seconds: number,
  kinds: ReadonlyArray<keyof Traffic> = TRAFFIC_KINDS,
): { msgsPerSec: number; bytesPerSec: number; maxBytesPerSec: number; byKind: Record<keyof Traffic, { msgsPerSec: number; bytesPerSec: number }> } {
  const byKind = Object.fromEntries(TRAFFIC_KINDS.map((k) => [k, { msgsPerSec: 0, bytesPerSec: 0 }])) as Record<keyof Traffic, { msgsPerSec: number; bytesPerSec: number }>;
  let maxBytes = 0;
  for (const node of nodes) {
    const a = before.get(node.id)!;
    const b = after.get(node.id)!;
    let total = 0;
    for (const k of kinds) {
      const msgs = b[k].msgsIn + b[k].msgsOut - a[k].msgsIn - a[k].msgsOut;
      const bytes = b[k].bytesIn + b[k].bytesOut - a[k].bytesIn - a[k].bytesOut;
      byKind[k].msgsPerSec += msgs / seconds / nodes.length;
      byKind[k].bytesPerSec += bytes / seconds / nodes.length;
      total += bytes / seconds;
    }
    maxBytes = Math.max(maxBytes, total);
  }
  return {
    msgsPerSec: kinds.reduce((s, k) => s + byKind[k].msgsPerSec, 0),
    bytesPerSec: kinds.reduce((s, k) => s + byKind[k].bytesPerSec, 0),
    maxBytesPerSec: maxBytes,
    byKind,
  };
}

/** The `q` quantile (0..1) of `values` (nearest rank), NaN when empty. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
