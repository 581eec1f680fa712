import { TopicValidatorResult, type GossipSub, type Message as PubsubMessage } from "@libp2p/gossipsub";
import type { Member } from "../actor/system.js";
import type { RuntimeKind } from "../platform/platform.js";
import { decode, encode } from "../wire/codec.js";
import { LocalHealth } from "./local-health.js";
import {
  DEFAULT_MEMBERSHIP,
  JOIN_SYNC_MS,
  type GossipCounters,
  type MemberLoad,
  type Membership,
  type MembershipHost,
  type MembershipOptions,
} from "./membership.js";
import { Registry, type RegistrySnapshot } from "./registry.js";

/**
 * Membership over gossipsub (in place of Pulsing's SWIM over UDP). Every node publishes a heartbeat on
 * `/pulsing/<cluster>/members/1`; what others learn from it: who is there, at which addresses, which runtime,
 * its incarnation, load, and the version of its named actors (pulled over RPC when it moves).
 *
 * Failure detection, SWIM-style with Lifeguard's care: a member silent for longer than its usual heartbeat
 * rhythm allows (at least `suspectAfter`) — or whose connection just dropped — is probed directly (libp2p ping)
 * and indirectly through a few other members at once. Only when all fail is it *suspect*, announced with its
 * incarnation; a live node that hears it is suspected (or declared dead) refutes by bumping its incarnation. A
 * suspect that does not refute within `suspicionTimeout` is *dead*. A node whose own timers run late (Lifeguard's
 * local health) widens its silence threshold, probe timeout and suspicion timeout by how late it is, up to 8×.
 * A dead member that is heard from again is told so, refutes, and rejoins.
 *
 * Joining: heartbeats carry addresses only now and then, so a node that hears a member it does not know yet pulls
 * the member table of a peer it is connected to (as a full heartbeat per member) rather than waiting for that
 * member's next full heartbeat — a new node learns a large cluster in one round trip (memberlist's push-pull join).
 * `init()` does the same with the seed it joined through before it returns, sending its own full heartbeat along
 * (the seed takes it in): a node that has joined is known to its seed and knows what its seed knew.
 */

interface Heartbeat {
  t: "hb";
  id: string;
  inc: number;
  rt: RuntimeKind;
  /** Sent when they change and every few heartbeats, not every time: they are most of a heartbeat's bytes. */
  addrs?: string[];
  load: MemberLoad;
  ep: number;
  rv: number;
  /** The node's public names, when there are few (otherwise they are pulled over RPC when `rv` moves). */
  names?: Array<[string, number]>;
}

/** At most this many entries of a pulled member table are looked at (a bound on what a peer can make us do). */
const MAX_DIGEST_ENTRIES = 10_000;
/** Up to this many public names travel in heartbeats: no RPC (and no connection) needed to learn them. */
const NAMES_IN_HEARTBEAT = 32;
/** Addresses and names go out with every this-many-th heartbeat, and whenever they change. */
const FULL_HEARTBEAT_EVERY = 8;
interface RegistryDelta {
  t: "reg";
  id: string;
  ep: number;
  rv: number;
  add: Array<[string, number]>;
  del: string[];
}
interface Accusation {
  t: "sus" | "dead";
  id: string;
  inc: number;
}
interface Leave {
  t: "leave";
  id: string;
  inc: number;
}
type Gossip = Heartbeat | RegistryDelta | Accusation | Leave;

interface MemberRecord {
  nodeId: string;
  addrs: string[];
  runtime: RuntimeKind;
  incarnation: number;
  status: "alive" | "suspect" | "dead";
  lastHeard: number;
  /** EWMA of heartbeat gaps and of their deviation, ms */
  gapMean: number;
  gapDev: number;
  load: MemberLoad | undefined;
  epoch: number;
  rv: number;
  probing: boolean;
  suspicion: ReturnType<typeof setTimeout> | undefined;
  /** distinct members that announced this suspicion (more of them shorten it) */
  accusers: Set<string>;
  suspicionStarted: number;
  fetching: boolean;
  lastDial: number;
  /** when this node last told it that it is dead (rate limit) */
  lastToldDead: number;
  diedAt: number;
}

const TOMBSTONE_MS = 120_000;

/** A heartbeat with addresses, of the shape this node sends (pulled member tables come from other nodes). */
function isFullHeartbeat(value: unknown): value is Heartbeat {
  if (typeof value !== "object" || value === null) return false;
  const hb = value as Partial<Heartbeat>;
  return (
    hb.t === "hb" &&
    typeof hb.id === "string" &&
    typeof hb.inc === "number" &&
    typeof hb.rt === "string" &&
    Array.isArray(hb.addrs) &&
    typeof hb.load === "object" &&
    hb.load !== null &&
    typeof hb.ep === "number" &&
    typeof hb.rv === "number" &&
    (hb.names === undefined || Array.isArray(hb.names))
  );
}

function isNameEntry(entry: unknown): entry is [string, number] {
  return Array.isArray(entry) && typeof entry[0] === "string" && Number.isSafeInteger(entry[1]);
}

export class GossipMembership implements Membership {
  readonly registry = new Registry();
  readonly counters: GossipCounters = { bytesOut: 0, bytesIn: 0, messagesOut: 0, messagesIn: 0 };
  readonly #host: MembershipHost;
  readonly #pubsub: GossipSub;
  readonly #isAdmitted: (peer: string) => boolean;
  readonly #options: Required<MembershipOptions>;
  readonly #topic: string;
  readonly #records = new Map<string, MemberRecord>();
  readonly #health = new LocalHealth();
  #incarnation = Date.now();
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #detector: ReturnType<typeof setInterval> | undefined;
  #stopped = false;
  readonly #onMessage = (event: CustomEvent<PubsubMessage>): void => this.#receive(event.detail);

  constructor(host: MembershipHost, pubsub: GossipSub, isAdmitted: (peer: string) => boolean, options: MembershipOptions) {
    this.#host = host;
    this.#pubsub = pubsub;
    this.#isAdmitted = isAdmitted;
    this.#options = { ...DEFAULT_MEMBERSHIP, ...options };
    this.#topic = `/pulsing/${this.#options.cluster}/members/1`;
  }

  async start(): Promise<void> {
    const self = this.#host.localSnapshot();
    this.registry.replace(this.#host.nodeId, self);
    this.#pubsub.topicValidators.set(this.#topic, (source, message) => this.#validate(source.toString(), message));
    this.#pubsub.addEventListener("message", this.#onMessage);
    this.#pubsub.subscribe(this.#topic);
    this.#health.start();
    this.#heartbeat = setInterval(() => this.#publishHeartbeat(), this.#options.heartbeatInterval);
    this.#detector = setInterval(() => this.#detect(), Math.max(50, this.#options.heartbeatInterval / 2));
    this.#publishHeartbeat();
  }

  async joined(seeds: string[]): Promise<void> {
    const seed = seeds.find((peer) => this.#isAdmitted(peer));
    if (seed === undefined || this.#stopped) return;
    this.#lastPull = performance.now();
    try {
      this.#takeIn(await this.#host.fetchMembers(seed, { cluster: this.cluster, self: this.#fullHeartbeat() }, JOIN_SYNC_MS));
    } catch (error) {
      this.#host.report(`could not pull the member table of seed ${seed} (gossip will bring it)`, error);
    }
  }

  /** A joining node's own entry, sent along with its pull (`sender` is the node that called): taken in if it is its own. */
  introduce(entry: unknown, sender: string): void {
    if (this.#stopped || !isFullHeartbeat(entry) || entry.id !== sender) return;
    const record = this.#records.get(entry.id);
    if (record === undefined || (record.status === "dead" && entry.inc > record.incarnation)) this.#onHeartbeat(entry);
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#heartbeat);
    clearInterval(this.#detector);
    this.#health.stop();
    for (const record of this.#records.values()) clearTimeout(record.suspicion);
    await this.#publish({ t: "leave", id: this.#host.nodeId, inc: this.#incarnation });
    this.#pubsub.removeEventListener("message", this.#onMessage);
    this.#pubsub.unsubscribe(this.#topic);
  }

  /** The cluster's name (the membership topic's). */
  get cluster(): string {
    return this.#options.cluster;
  }

  members(): Member[] {
    const self: Member = {
      nodeId: this.#host.nodeId,
      addrs: this.#host.addrs(),
      status: "alive",
      runtime: this.#host.runtime,
      actors: this.registry.namesOf(this.#host.nodeId),
    };
    const others = [...this.#records.values()].map(
      (r): Member => ({ nodeId: r.nodeId, addrs: r.addrs, status: r.status, runtime: r.runtime, actors: this.registry.namesOf(r.nodeId) }),
    );
    return [self, ...others.sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1))];
  }

  isDead(nodeId: string): boolean {
    return this.#records.get(nodeId)?.status === "dead";
  }

  get incarnation(): number {
    return this.#incarnation;
  }

  localRegistryChanged(snapshot: RegistrySnapshot, added: Array<[string, number]>, removed: string[]): void {
    this.registry.replace(this.#host.nodeId, snapshot);
    void this.#publish({ t: "reg", id: this.#host.nodeId, ep: snapshot.incarnation, rv: snapshot.version, add: added, del: removed });
  }

  peerDisconnected(nodeId: string): void {
    const record = this.#records.get(nodeId);
    if (record !== undefined && record.status === "alive" && !this.#stopped) void this.#probe(record);
  }

  /** The members this node sees alive, itself included, as full heartbeats (what a joining peer pulls). */
  digest(): Heartbeat[] {
    const self = this.#fullHeartbeat();
    const others = [...this.#records.values()]
      .filter((r) => r.status === "alive" && r.load !== undefined)
      .map((r): Heartbeat => {
        const replica = this.registry.snapshotOf(r.nodeId);
        return {
          t: "hb",
          id: r.nodeId,
          inc: r.incarnation,
          rt: r.runtime,
          addrs: r.addrs,
          load: r.load!,
          ep: replica?.incarnation ?? r.epoch,
          rv: replica?.version ?? r.rv,
          ...(replica !== undefined && replica.names.length <= NAMES_IN_HEARTBEAT ? { names: replica.names } : {}),
        };
      });
    return [self, ...others];
  }

  // --- out ---------------------------------------------------------------------------------------------------

  #publishHeartbeat(): void {
    const heartbeat = this.#fullHeartbeat();
    const addrsKey = heartbeat.addrs!.join(" ");
    const full =
      this.#beats++ % FULL_HEARTBEAT_EVERY === 0 || this.#newcomer || addrsKey !== this.#sentAddrs || heartbeat.rv !== this.#sentVersion;
    this.#newcomer = false;
    this.#sentAddrs = addrsKey;
    this.#sentVersion = heartbeat.rv;
    if (!full) {
      delete heartbeat.addrs;
      delete heartbeat.names;
    }
    void this.#publish(heartbeat);
  }

  #fullHeartbeat(): Heartbeat {
    const snapshot = this.#host.localSnapshot();
    return {
      t: "hb",
      id: this.#host.nodeId,
      inc: this.#incarnation,
      rt: this.#host.runtime,
      addrs: this.#host.addrs(),
      load: this.#host.load(this.#health.lagMs),
      ep: snapshot.incarnation,
      rv: snapshot.version,
      ...(snapshot.names.length <= NAMES_IN_HEARTBEAT ? { names: snapshot.names } : {}),
    };
  }

  #beats = 0;
  /** Someone new appeared: they need our addresses and names now, not in a few heartbeats. */
  #newcomer = false;
  #sentAddrs = "";
  #sentVersion = -1;

  async #publish(gossip: Gossip): Promise<void> {
    let bytes: Uint8Array;
    try {
      bytes = encode(gossip, "a membership message");
    } catch (error) {
      this.#host.report("could not encode a membership message", error);
      return;
    }
    this.counters.bytesOut += bytes.byteLength;
    this.counters.messagesOut++;
    try {
      await this.#pubsub.publish(this.#topic, bytes);
    } catch (error) {
      // Best effort: heartbeats repeat and missed registry changes are repaired by anti-entropy.
      if (!this.#stopped && !/NoPeersSubscribedToTopic/.test(String(error))) this.#host.report("a membership message was not published", error);
    }
  }

  // --- in ----------------------------------------------------------------------------------------------------

  /**
   * Only admitted peers' gossip is taken or forwarded; a message's node id must be its signed author's (checked on
   * receipt). A peer whose admission is still running is ignored rather than rejected: a rejection would count
   * against its gossipsub score, and in a large cluster joining at once those penalties kept peers out of the mesh.
   */
  #validate(source: string, message: PubsubMessage): TopicValidatorResult {
    if (message.type !== "signed") return TopicValidatorResult.Reject;
    if (!this.#isAdmitted(source)) return TopicValidatorResult.Ignore;
    return TopicValidatorResult.Accept;
  }

  #receive(message: PubsubMessage): void {
    if (message.topic !== this.#topic || message.type !== "signed" || this.#stopped) return;
    this.counters.bytesIn += message.data.byteLength;
    this.counters.messagesIn++;
    let gossip: Gossip;
    try {
      gossip = decode(message.data) as Gossip;
    } catch {
      return;
    }
    const author = message.from.toString();
    if (typeof gossip !== "object" || gossip === null || typeof gossip.id !== "string") return;
    switch (gossip.t) {
      case "hb":
        if (gossip.id === author) this.#onHeartbeat(gossip);
        return;
      case "reg":
        if (gossip.id === author) this.#onRegistryDelta(gossip);
        return;
      case "sus":
      case "dead":
        this.#onAccusation(gossip, author);
        return;
      case "leave":
        if (gossip.id === author) this.#onLeave(gossip);
        return;
    }
  }

  #onHeartbeat(hb: Heartbeat): void {
    if (hb.id === this.#host.nodeId || typeof hb.inc !== "number" || (hb.addrs !== undefined && !Array.isArray(hb.addrs))) return;
    const now = performance.now();
    let record = this.#records.get(hb.id);
    if (record === undefined) {
      // A member is first taken in from a full heartbeat: without addresses nobody could dial it. It is new to
      // us, so we are likely new to it: our next heartbeat is full.
      this.#newcomer = true;
      if (hb.addrs === undefined) {
        void this.#pullMembers();
        return;
      }
      record = {
        nodeId: hb.id,
        addrs: hb.addrs.filter((a) => typeof a === "string"),
        runtime: hb.rt,
        incarnation: hb.inc,
        status: "alive",
        lastHeard: now,
        gapMean: this.#options.heartbeatInterval,
        gapDev: 0,
        load: hb.load,
        epoch: hb.ep,
        rv: hb.rv,
        probing: false,
        suspicion: undefined,
        accusers: new Set(),
        suspicionStarted: 0,
        fetching: false,
        lastDial: 0,
        lastToldDead: 0,
        diedAt: 0,
      };
      this.#records.set(hb.id, record);
      void this.#host.learn(hb.id, record.addrs).catch(() => {});
      this.#host.emit("member:up", this.#member(record));
    } else {
      if (hb.inc < record.incarnation) return; // stale
      if (record.status === "dead") {
        if (hb.inc === record.incarnation) {
          // It does not know it was declared dead: tell it, so it refutes and rejoins.
          if (now - record.lastToldDead > this.#options.heartbeatInterval * 2) {
            record.lastToldDead = now;
            void this.#publish({ t: "dead", id: record.nodeId, inc: record.incarnation });
          }
          return;
        }
        record.status = "alive";
        record.accusers.clear();
        record.gapMean = this.#options.heartbeatInterval;
        record.gapDev = 0;
        this.#host.emit("member:up", this.#member(record));
      } else {
        const gap = now - record.lastHeard;
        record.gapDev = 0.8 * record.gapDev + 0.2 * Math.abs(gap - record.gapMean);
        record.gapMean = 0.8 * record.gapMean + 0.2 * gap;
        if (record.status === "suspect" && hb.inc > record.incarnation) {
          clearTimeout(record.suspicion);
          record.suspicion = undefined;
          record.accusers.clear();
          record.status = "alive";
          this.#host.emit("member:up", this.#member(record));
        }
      }
      record.incarnation = hb.inc;
      record.lastHeard = now;
      if (hb.addrs !== undefined) {
        const addrs = hb.addrs.filter((a) => typeof a === "string");
        if (addrs.join() !== record.addrs.join()) void this.#host.learn(hb.id, addrs).catch(() => {});
        record.addrs = addrs;
      }
      record.runtime = hb.rt;
      record.load = hb.load;
      record.epoch = hb.ep;
      record.rv = hb.rv;
    }
    if (!this.registry.isCurrent(hb.id, hb.ep, hb.rv)) {
      if (Array.isArray(hb.names)) this.registry.replace(hb.id, { incarnation: hb.ep, version: hb.rv, names: hb.names.filter(isNameEntry) });
      else void this.#fetchRegistry(record);
    }
    this.#keepConnected(record);
  }

  #onRegistryDelta(delta: RegistryDelta): void {
    const record = this.#records.get(delta.id);
    if (record === undefined || record.status === "dead" || !Array.isArray(delta.add) || !Array.isArray(delta.del)) return;
    if (!this.registry.applyDelta(delta.id, delta.ep, delta.rv, delta.add, delta.del)) {
      record.epoch = delta.ep;
      record.rv = delta.rv;
      void this.#fetchRegistry(record);
    }
  }

  #onAccusation(accusation: Accusation, author: string): void {
    if (typeof accusation.inc !== "number") return;
    if (accusation.id === this.#host.nodeId) {
      // Someone thinks we are suspect or dead: refute with a higher incarnation.
      if (accusation.inc >= this.#incarnation) {
        this.#incarnation = Math.max(this.#incarnation, accusation.inc) + 1;
        this.#publishHeartbeat();
      }
      return;
    }
    const record = this.#records.get(accusation.id);
    if (record === undefined || accusation.inc < record.incarnation || record.status === "dead") return;
    if (accusation.t === "dead") {
      this.#declareDead(record, "declared dead by another member");
      return;
    }
    record.accusers.add(author);
    if (record.status === "alive") this.#suspect(record, false);
    else this.#armSuspicion(record); // another independent accuser: the deadline comes closer
  }

  #onLeave(leave: Leave): void {
    const record = this.#records.get(leave.id);
    if (record !== undefined && record.status !== "dead" && leave.inc >= record.incarnation) this.#declareDead(record, "left the cluster");
  }

  // --- failure detection -------------------------------------------------------------------------------------

  #detect(): void {
    const now = performance.now();
    const widen = this.#health.multiplier;
    for (const record of this.#records.values()) {
      if (record.status === "dead") {
        if (now - record.diedAt > TOMBSTONE_MS) this.#records.delete(record.nodeId);
        continue;
      }
      if (record.status !== "alive" || record.probing) continue;
      const rhythm = record.gapMean + 6 * record.gapDev;
      const threshold = Math.min(Math.max(rhythm, this.#options.suspectAfter), 2 * this.#options.suspectAfter) * widen;
      if (now - record.lastHeard > threshold) void this.#probe(record);
    }
  }

  /** Direct and indirect probes at once; any answer clears the member, none makes it suspect. */
  async #probe(record: MemberRecord): Promise<void> {
    if (record.probing) return;
    record.probing = true;
    try {
      const timeout = this.#options.probeTimeout * this.#health.multiplier;
      // Helpers we are connected to first: asking others would open connections just to probe.
      const connected = new Set(this.#host.connectedPeers());
      const helpers = [...this.#records.values()]
        .filter((r) => r.status === "alive" && r.nodeId !== record.nodeId)
        .sort(() => Math.random() - 0.5)
        .sort((a, b) => Number(connected.has(b.nodeId)) - Number(connected.has(a.nodeId)))
        .slice(0, this.#options.indirectProbes);
      const attempts = [
        this.#host.ping(record.nodeId, timeout),
        ...helpers.map((h) => this.#host.probeVia(h.nodeId, record.nodeId, timeout).catch(() => false)),
      ];
      const alive = await Promise.any(attempts.map((p) => p.then((ok) => (ok ? true : Promise.reject(new Error("no answer")))))).catch(
        () => false,
      );
      if (this.#stopped || record.status !== "alive") return;
      if (alive) {
        record.lastHeard = performance.now();
        return;
      }
      this.#suspect(record, true);
    } finally {
      record.probing = false;
    }
  }

  #suspect(record: MemberRecord, announce: boolean): void {
    if (record.status !== "alive") return;
    record.status = "suspect";
    record.suspicionStarted = performance.now();
    if (announce) record.accusers.add(this.#host.nodeId);
    this.#host.emit("member:suspect", this.#member(record));
    if (announce) void this.#publish({ t: "sus", id: record.nodeId, inc: record.incarnation });
    this.#armSuspicion(record);
  }

  /**
   * (Re)sets the suspicion deadline. Lifeguard: each independent accuser shortens it, from `suspicionTimeout`
   * with one down to a quarter with three or more; a node that is itself late stretches it.
   */
  #armSuspicion(record: MemberRecord): void {
    clearTimeout(record.suspicion);
    const base = this.#options.suspicionTimeout;
    const confirmations = Math.max(0, record.accusers.size - 1);
    const timeout = Math.max(base / 4, base * (1 - Math.log(1 + confirmations) / Math.log(3)) ) * this.#health.multiplier;
    const left = Math.max(0, record.suspicionStarted + timeout - performance.now());
    const incarnation = record.incarnation;
    record.suspicion = setTimeout(() => {
      record.suspicion = undefined;
      if (record.status === "suspect" && record.incarnation === incarnation && !this.#stopped) {
        this.#declareDead(record, "did not answer probes");
        void this.#publish({ t: "dead", id: record.nodeId, inc: record.incarnation });
      }
    }, left);
  }

  #declareDead(record: MemberRecord, why: string): void {
    if (record.status === "dead") return;
    clearTimeout(record.suspicion);
    record.suspicion = undefined;
    record.status = "dead";
    record.diedAt = performance.now();
    this.registry.drop(record.nodeId);
    this.#host.memberGone(record.nodeId, why);
    this.#host.emit("member:down", this.#member(record));
  }

  // --- registry and connections ------------------------------------------------------------------------------

  async #fetchRegistry(record: MemberRecord): Promise<void> {
    if (record.fetching || record.status === "dead") return;
    record.fetching = true;
    try {
      const snapshot = await this.#host.fetchSnapshot(record.nodeId);
      // The member may have died while we asked.
      if ((record.status as MemberRecord["status"]) !== "dead") this.registry.replace(record.nodeId, snapshot);
    } catch {
      // next heartbeat tries again
    } finally {
      record.fetching = false;
    }
  }

  /**
   * Takes in the members a connected peer sees alive that this node does not know yet (known ones are kept up to
   * date by their own heartbeats). At most one pull at a time, and one per heartbeat interval.
   */
  async #pullMembers(): Promise<void> {
    const now = performance.now();
    if (this.#pulling || now - this.#lastPull < this.#options.heartbeatInterval) return;
    const connected = this.#host.connectedPeers().filter((peer) => this.#isAdmitted(peer) && this.#records.get(peer)?.status !== "dead");
    const source = connected[Math.floor(Math.random() * connected.length)];
    if (source === undefined) return;
    this.#pulling = true;
    this.#lastPull = now;
    try {
      this.#takeIn(await this.#host.fetchMembers(source, { cluster: this.cluster }));
    } catch {
      // the next unknown heartbeat tries another peer
    } finally {
      this.#pulling = false;
    }
  }

  #pulling = false;
  #lastPull = -Infinity;

  /** Takes in the members of a pulled table (untrusted) that this node does not know yet. */
  #takeIn(digest: unknown): void {
    if (this.#stopped || !Array.isArray(digest)) return;
    for (const entry of (digest as unknown[]).slice(0, MAX_DIGEST_ENTRIES)) {
      if (isFullHeartbeat(entry) && !this.#records.has(entry.id)) this.#onHeartbeat(entry);
    }
  }

  /** Dials members until this node has `targetPeers` connections (counting dials still under way). */
  #keepConnected(record: MemberRecord): void {
    const now = performance.now();
    if (now - record.lastDial < 5_000) return;
    const connected = this.#host.connectedPeers();
    if (connected.includes(record.nodeId) || connected.length + this.#dialing >= this.#options.targetPeers) return;
    record.lastDial = now;
    this.#dialing++;
    void this.#host
      .connect(record.nodeId, record.addrs)
      .catch(() => {})
      .finally(() => this.#dialing--);
  }

  #dialing = 0;

  #member(record: MemberRecord): Member {
    return {
      nodeId: record.nodeId,
      addrs: record.addrs,
      status: record.status,
      runtime: record.runtime,
      actors: this.registry.namesOf(record.nodeId),
    };
  }
}
