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
 * - Ping: 32 bytes each way (libp2p ping's payload) + 12 (a yamux frame): 44 bytes, one message each way.
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
 */
import { GossipMembership } from "../../src/cluster/gossip-membership.js";
import type { MemberEventType, Membership, MembershipHost, MembershipOptions } from "../../src/cluster/membership.js";
import type { MembershipTopic } from "../../src/cluster/membership-topic.js";
import type { RegistrySnapshot } from "../../src/cluster/registry.js";
import type { Clock, TimerHandle } from "../../src/util/clock.js";
import { decode, encode } from "../../src/wire/codec.js";
import { SimClock } from "./sim-clock.js";

/** What the simulation uses of a membership (GossipMembership, or a scratch copy of it for mutation checks). */
export interface SimMembership extends Membership {
  digestFor(request: { joiner?: unknown; sender?: string; hash?: unknown }): unknown[];
  watched(): string[];
  readonly antiEntropy: { rounds: number; repairs: number };
  readonly incarnation: number;
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
}

interface NodeTimer {
  inner: TimerHandle | undefined;
  cleared: boolean;
}

const flow = (): Flow => ({ msgsIn: 0, msgsOut: 0, bytesIn: 0, bytesOut: 0 });
const PING_BYTES = 44;

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
  redialing = false;
  startedAt = NaN;
  joinedAt = NaN;
  readonly connections = new Set<string>();
  readonly traffic: Traffic = { topic: flow(), rpc: flow(), ping: flow() };
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
  ) {
    this.addrs = [`/ip4/10.${(index >> 16) & 255}.${(index >> 8) & 255}.${index & 255}/tcp/4001/p2p/${id}`];
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
      copy.set(node.id, { topic: { ...node.traffic.topic }, rpc: { ...node.traffic.rpc }, ping: { ...node.traffic.ping } });
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

  #create(): SimNode {
    const index = this.nodes.length;
    let id = "12D3KooW";
    while (id.length < 52) id += BASE58[Math.floor(this.random() * BASE58.length)];
    const node = new SimNode(id, index, 1_750_000_000_000 + index, this.clock);
    const host = this.#hostOf(node);
    const topic = this.#topicOf(node);
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

  /** The two can exchange packets now (both up, neither frozen, same side). */
  #canTalk(a: SimNode, b: SimNode): boolean {
    return a.up && b.up && !a.frozen && !b.frozen && a.group === b.group;
  }

  #hostOf(node: SimNode): MembershipHost {
    return {
      nodeId: node.id,
      runtime: "node",
      addrs: () => node.addrs,
      load: (lag) => ({ actors: 0, mailbox: 0, inflight: 0, lag }),
      localSnapshot: () => ({ incarnation: node.incarnation, version: 0, names: [] }),
      fetchSnapshot: (nodeId) =>
        this.#rpc(node, nodeId, { m: "registrySnapshot" }, (target) => ({ incarnation: target.incarnation, version: 0, names: [] }), 5_000) as Promise<RegistrySnapshot>,
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

  #publish(node: SimNode, data: Uint8Array): number {
    if (!node.up || node.connections.size === 0) return 0;
    const recipients: SimNode[] = [];
    for (const other of this.nodes) {
      if (other !== node && other.up && other.group === node.group && other.connections.size > 0 && other.onMessage !== undefined) recipients.push(other);
    }
    const D = this.options.meshDegree;
    const size = data.byteLength + this.options.envelopeBytes;
    if (recipients.length === 0) {
      const sent = Math.min(D, node.connections.size);
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
              a.exec(() => a.subscribed.forEach((listener) => listener()));
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
      this.clock.setTimeout(() => {
        if (reaches) peer.exec(() => peer.membership.peerDisconnected(node.id));
      }, this.#link());
    }
    node.connections.clear();
  }

  /** Every up node that lost its connection to its seed dials it again (the mesh keeps seeds connected). */
  #redialSeeds(): void {
    for (const node of this.nodes) {
      const seed = node.seed;
      if (seed !== undefined && node.up && !node.frozen && seed.up && !node.connections.has(seed.id) && !Number.isNaN(node.joinedAt)) {
        if (node.redialing) continue;
        node.redialing = true;
        this.#connect(node, seed.id)
          .catch(() => {})
          .finally(() => (node.redialing = false));
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
}

/** Per-node averages over a window of `seconds`, of nodes up throughout (and the busiest node's total). */
export function rates(
  before: Map<string, Traffic>,
  after: Map<string, Traffic>,
  nodes: SimNode[],
  seconds: number,
): { msgsPerSec: number; bytesPerSec: number; maxBytesPerSec: number; byKind: Record<keyof Traffic, { msgsPerSec: number; bytesPerSec: number }> } {
  const kinds: Array<keyof Traffic> = ["topic", "rpc", "ping"];
  const byKind = Object.fromEntries(kinds.map((k) => [k, { msgsPerSec: 0, bytesPerSec: 0 }])) as Record<keyof Traffic, { msgsPerSec: number; bytesPerSec: number }>;
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
