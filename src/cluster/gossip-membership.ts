import type { RuntimeKind } from "../platform/platform.js";
import { every, realClock, type Clock, type TimerHandle } from "../util/clock.js";
import { decode, encode } from "../wire/codec.js";
import { LocalHealth } from "./local-health.js";
import {
  DEFAULT_MEMBERSHIP,
  JOIN_SYNC_MS,
  type GossipCounters,
  type Member,
  type Membership,
  type MembershipHost,
  type MembershipOptions,
} from "./membership.js";
import type { FeedHome, HomeFeedTopic } from "./member-feed.js";
import type { MembershipTopic } from "./membership-topic.js";
import { Registry, type RegistrySnapshot } from "./registry.js";

/**
 * Membership over gossipsub (in place of Pulsing's SWIM over UDP), at a cost per node that does not grow with the
 * cluster: the membership topic carries *changes* only — a node's arrival or new addresses (`alive`), its names
 * (`reg`), suspicions, deaths and leaves, each with the subject's incarnation, batched — never periodic
 * heartbeats, so its traffic grows with churn, not with the number of members.
 *
 * Failure detection (SWIM with Lifeguard's care) by a constant number of probes: every full node (Node, Deno)
 * watches its `watch` nearest members on a ring of hashed node ids, both sides (and the tabs connected to it: a tab's home node
 * watches it; tabs watch nobody). A watched member silent for `suspectAfter` is probed directly and through
 * `indirectProbes` others at once; when all fail it is *suspect*, announced with its incarnation; a live node that
 * hears it is suspected refutes with a higher incarnation; a suspect that does not refute within
 * `suspicionTimeout` (shorter the more members accuse it, longer while this node is itself slow) is *dead*. A
 * dropped connection has its member probed at once, whoever watches it. Only accusers announce the death.
 *
 * Joining: `init()` pulls the member table of the seed it joined through (one round trip, push-pull: the seed takes
 * the joiner in and announces it), then follows the topic. Anti-entropy heals what a lost message left behind:
 * now and then (rarer as the cluster grows) a node sends a hash of its table to a random connected member, which
 * answers with its table only when the hashes differ.
 *
 * Time comes from an injected `Clock`, so the whole protocol runs on a simulated clock in tests.
 */

/** A member as the topic and pulled tables carry it (its full state). */
interface AliveChange {
  k: "alive";
  id: string;
  inc: number;
  rt: RuntimeKind;
  addrs: string[];
  /** Epoch and version of its public names; `names` when there are few (else pulled over RPC when they move). */
  ep: number;
  rv: number;
  names?: Array<[string, number]>;
  /** A tab's home node: the full node that publishes the tab's changes for it (tabs are not on the topic). */
  home?: string;
}
interface RegistryChange {
  k: "reg";
  id: string;
  ep: number;
  rv: number;
  add: Array<[string, number]>;
  del: string[];
}
interface Accusation {
  k: "sus" | "dead";
  id: string;
  inc: number;
}
interface Leave {
  k: "leave";
  id: string;
  inc: number;
}
type Change = AliveChange | RegistryChange | Accusation | Leave;

/** A message of the membership topic: a batch of changes. */
interface ChangeBatch {
  t: "ch";
  ev: Change[];
}

/** At most this many entries of a pulled member table are looked at (a bound on what a peer can make us do). */
const MAX_DIGEST_ENTRIES = 10_000;
/** At most this many changes per message (and per received message looked at). */
const MAX_BATCH = 64;
/** Changes wait this long for company before they go out (a refutation does not wait). */
const BATCH_MS = 20;
/** Up to this many public names travel in `alive` changes: no RPC (and no connection) needed to learn them. */
const NAMES_IN_ALIVE = 32;
/** A dead member's record is kept this long, so late news of it is recognised as stale. */
const TOMBSTONE_MS = 120_000;
/** How long a leaving node keeps its connections after publishing `leave`, for gossipsub to send it. */
const LEAVE_FLUSH_MS = 150;
/** Anti-entropy: every node, about this often in a cluster of ≤ 4, × log2(members / 4) beyond. */
const ANTI_ENTROPY_BASE_MS = 5_000;

interface MemberRecord {
  nodeId: string;
  addrs: string[];
  runtime: RuntimeKind;
  incarnation: number;
  status: "alive" | "suspect" | "dead";
  /** Last sign of life (a probe answered, a change it authored), clock ms. */
  lastHeard: number;
  epoch: number;
  rv: number;
  probing: boolean;
  suspicion: TimerHandle | undefined;
  /** Distinct members that announced this suspicion (more of them shorten it). */
  accusers: Set<string>;
  suspicionStarted: number;
  fetching: boolean;
  lastDial: number;
  /** When this node last told it that it is dead (rate limit). */
  lastToldDead: number;
  diedAt: number;
  /** Position on the ring of hashed node ids. */
  ring: number;
  /** A tab's home node (its changes come published by it). */
  home: string | undefined;
}

/** FNV-1a, 32 bits: a node id's place on the ring (ids are already random; this only spreads them evenly). */
function fnv1a(text: string, hash = 0x811c9dc5): number {
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

const isString = (value: unknown): value is string => typeof value === "string";
const isCount = (value: unknown): value is number => typeof value === "number" && Number.isSafeInteger(value) && value >= 0;

function isNameEntry(entry: unknown): entry is [string, number] {
  return Array.isArray(entry) && typeof entry[0] === "string" && Number.isSafeInteger(entry[1]);
}

/** An `alive` change of the shape this node sends (untrusted input is checked with it). */
function isAlive(value: unknown): value is AliveChange {
  if (typeof value !== "object" || value === null) return false;
  const c = value as Partial<AliveChange>;
  return (
    c.k === "alive" &&
    isString(c.id) &&
    isCount(c.inc) &&
    isString(c.rt) &&
    Array.isArray(c.addrs) &&
    c.addrs.every(isString) &&
    isCount(c.ep) &&
    isCount(c.rv) &&
    (c.names === undefined || Array.isArray(c.names)) &&
    (c.home === undefined || isString(c.home))
  );
}

function isAccusation(value: unknown): value is Accusation | Leave {
  if (typeof value !== "object" || value === null) return false;
  const c = value as Partial<Accusation | Leave>;
  return (c.k === "sus" || c.k === "dead" || c.k === "leave") && isString(c.id) && isCount(c.inc);
}

function isRegistryChange(value: unknown): value is RegistryChange {
  if (typeof value !== "object" || value === null) return false;
  const c = value as Partial<RegistryChange>;
  return c.k === "reg" && isString(c.id) && isCount(c.ep) && isCount(c.rv) && Array.isArray(c.add) && Array.isArray(c.del);
}

/** The changes of a membership message (untrusted: checked one by one), at most `MAX_BATCH`; undefined when it is not one. */
function changesIn(data: Uint8Array): unknown[] | undefined {
  let batch: ChangeBatch;
  try {
    batch = decode(data) as ChangeBatch;
  } catch {
    return undefined;
  }
  if (typeof batch !== "object" || batch === null || batch.t !== "ch" || !Array.isArray(batch.ev)) return undefined;
  return (batch.ev as unknown[]).slice(0, MAX_BATCH);
}

export class GossipMembership implements Membership, FeedHome {
  readonly registry = new Registry();
  readonly counters: GossipCounters = { bytesOut: 0, bytesIn: 0, messagesOut: 0, messagesIn: 0 };
  readonly #host: MembershipHost;
  readonly #topic: MembershipTopic | HomeFeedTopic;
  readonly #isAdmitted: (peer: string) => boolean;
  readonly #options: Required<MembershipOptions>;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #records = new Map<string, MemberRecord>();
  readonly #health: LocalHealth;
  readonly #ringPosition: number;
  #incarnation: number;
  /** A tab: the full node whose feed it follows. */
  #home: string | undefined;
  #stopTicking: (() => void) | undefined;
  #stopped = false;

  constructor(
    host: MembershipHost,
    topic: MembershipTopic | HomeFeedTopic,
    isAdmitted: (peer: string) => boolean,
    options: MembershipOptions,
    { clock = realClock, random = Math.random, incarnation = Date.now() }: { clock?: Clock; random?: () => number; incarnation?: number } = {},
  ) {
    this.#host = host;
    this.#topic = topic;
    this.#isAdmitted = isAdmitted;
    this.#options = { ...DEFAULT_MEMBERSHIP, ...options };
    this.#clock = clock;
    this.#random = random;
    this.#incarnation = incarnation;
    this.#health = new LocalHealth(100, 8, clock);
    this.#ringPosition = fnv1a(host.nodeId);
  }

  async start(): Promise<void> {
    this.registry.replace(this.#host.nodeId, this.#host.localSnapshot());
    this.#topic.start((author, data) => this.#receive(author, data));
    // A change that reached nobody (no subscribed peer yet) goes out again when one subscribes.
    this.#topic.onPeerSubscribed(() => {
      if (this.#unheard && !this.#stopped) this.#announce();
    });
    // A tab follows a home node: others learn it (its changes come published by that node), and the tables are
    // compared at once (what went by while it had no home). The new home comes with a new incarnation: which of two
    // entries of the tab is newer must be plain (anti-entropy takes the newer; with the same incarnation and
    // another home, two members could each keep their own and never agree).
    if ("onHome" in this.#topic) {
      this.#topic.onHome((home) => {
        if (this.#stopped) return;
        this.#home = home;
        this.#incarnation++;
        this.#announce();
        void this.#pushPull(home);
      });
    }
    this.#health.start();
    const tickMs = Math.max(10, Math.min(250, this.#options.suspectAfter / 4));
    this.#stopTicking = every(this.#clock, tickMs, () => this.#tick());
    this.#nextAntiEntropy = this.#clock.now() + this.#antiEntropyInterval() * (0.5 + this.#random());
    this.#announce();
  }

  async joined(seeds: string[]): Promise<void> {
    const admitted = seeds.filter((peer) => this.#isAdmitted(peer));
    const seed = admitted[0];
    if (seed === undefined || this.#stopped) return;
    // The first seed's table; every other seed it reached gets our entry too (a tab keeps two seeds: both know its
    // addresses when init() returns), and sends its table only where it differs.
    const others = admitted.slice(1).map((peer) => this.#pushPull(peer, JOIN_SYNC_MS));
    try {
      this.#takeIn(await this.#host.fetchMembers(seed, { cluster: this.cluster, self: this.#selfEntry() }, JOIN_SYNC_MS), seed);
    } catch (error) {
      this.#host.report(`could not pull the member table of seed ${seed} (anti-entropy will bring it)`, error);
    }
    await Promise.all(others);
    // Now connected: our arrival goes out on the topic (the seed announces it too).
    this.#announce();
  }

  /**
   * A member's pull of our table (join or anti-entropy). A joiner sends its own entry, taken in when it is the
   * caller's (`sender`), and announced for it. With `hash` equal to our table's, the answer is empty: nothing
   * differs.
   */
  digestFor(request: { joiner?: unknown; sender?: string; hash?: unknown }): unknown[] {
    if (this.#stopped) return [];
    const { joiner, sender } = request;
    if (joiner !== undefined && sender !== undefined && isAlive(joiner) && joiner.id === sender && joiner.id !== this.#host.nodeId) {
      const known = this.#records.get(joiner.id);
      if (known === undefined || joiner.inc > known.incarnation) {
        this.#onAlive(joiner, sender);
        this.#queue(joiner); // announced for it: it may not reach the topic's mesh for a moment
      } else if (joiner.inc === known.incarnation && known.status !== "dead") {
        // Known already (its first `alive` came before its addresses: a tab's arrive with its relay reservation):
        // its own word, so its addresses and names now are taken.
        this.#onAlive(joiner, sender);
      }
    }
    if (request.hash !== undefined && request.hash === this.#tableHash()) return [];
    return this.digest();
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#stopTicking?.();
    this.#health.stop();
    for (const record of this.#records.values()) this.#clock.clearTimeout(record.suspicion);
    this.#clock.clearTimeout(this.#flushTimer);
    this.#outbox = [];
    await this.#send([{ k: "leave", id: this.#host.nodeId, inc: this.#incarnation }]);
    // gossipsub writes the message to its peers' streams a moment later: the node's shutdown closing connections
    // right away lost it now and then (the others then took a second and a half to find the node gone).
    await new Promise<void>((resolve) => this.#clock.setTimeout(resolve, LEAVE_FLUSH_MS));
    this.#topic.stop();
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
    const others = [...this.#records.values()].map((r) => this.#member(r));
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
    this.#queue({ k: "reg", id: this.#host.nodeId, ep: snapshot.incarnation, rv: snapshot.version, add: added, del: removed });
  }

  /**
   * An admitted connection to `nodeId` opened. A member held dead (a healed partition, a restart) or not known
   * at all: compare tables with it at once, at most every 5 s per peer.
   */
  peerConnected(nodeId: string): void {
    if (this.#stopped || nodeId === this.#host.nodeId) return;
    const record = this.#records.get(nodeId);
    if (record !== undefined && record.status !== "dead") return;
    const now = this.#clock.now();
    if (now - (this.#lastWelcome.get(nodeId) ?? -Infinity) < 5_000) return;
    this.#lastWelcome.set(nodeId, now);
    if (this.#lastWelcome.size > 1_000) this.#lastWelcome.delete(this.#lastWelcome.keys().next().value!);
    void this.#pushPull(nodeId);
  }

  readonly #lastWelcome = new Map<string, number>();

  peerDisconnected(nodeId: string): void {
    // A tab probes nobody (and accuses nobody): its connections come and go with its seeds and calls.
    if (this.#host.runtime === "browser") return;
    const record = this.#records.get(nodeId);
    if (record !== undefined && record.status === "alive" && !this.#stopped) void this.#probe(record);
  }

  refreshNames(nodeId: string): void {
    const record = this.#records.get(nodeId);
    if (record !== undefined && record.status !== "dead" && !this.#stopped) void this.#fetchRegistry(record);
  }

  heard(nodeId: string): void {
    const record = this.#records.get(nodeId);
    if (record !== undefined && record.status === "alive") record.lastHeard = this.#clock.now();
  }

  // --- the feed: tabs following this node (see member-feed.ts) ----------------------------------------------

  readonly #followers = new Map<string, (author: string, data: Uint8Array) => void>();

  addFollower(peer: string, cluster: string, forward: (author: string, data: Uint8Array) => void): boolean {
    if (this.#stopped || this.#host.runtime === "browser" || cluster !== this.cluster || peer === this.#host.nodeId) return false;
    this.#followers.set(peer, forward);
    return true;
  }

  removeFollower(peer: string, forward: (author: string, data: Uint8Array) => void): void {
    if (this.#followers.get(peer) === forward) this.#followers.delete(peer);
  }

  /** A follower's own changes (its arrival, names, a refutation, its leave): taken in here, published for it. */
  fromFollower(peer: string, data: Uint8Array): void {
    if (this.#stopped || !this.#followers.has(peer)) return;
    const changes = changesIn(data);
    if (changes === undefined) return;
    for (const change of changes) {
      let relayed: Change | undefined;
      if (isAlive(change) && change.id === peer && change.rt === "browser") relayed = { ...change, home: this.#host.nodeId };
      else if (isRegistryChange(change) && change.id === peer) relayed = change;
      else if (isAccusation(change) && change.k === "leave" && change.id === peer) relayed = change;
      if (relayed === undefined) continue; // a follower speaks for itself only
      this.#apply(relayed, peer);
      this.#queue(relayed, relayed.k === "alive");
    }
  }

  /** Followers get every membership message this node sends or takes in. */
  #forward(author: string, data: Uint8Array): void {
    for (const forward of this.#followers.values()) forward(author, data);
  }

  /** Whether `author` is the home node of tab `nodeId` (it publishes the tab's changes). */
  #isHomeOf(author: string, nodeId: string): boolean {
    return this.#records.get(nodeId)?.home === author;
  }

  /** The home node this tab follows (undefined for full nodes, and for a tab between homes). */
  get home(): string | undefined {
    return this.#home;
  }

  /** How many tabs follow this node (for tests and the benchmark). */
  get followers(): number {
    return this.#followers.size;
  }

  /** Members this node watches (for tests and the benchmark): ring neighbours, and tabs connected to it. */
  watched(): string[] {
    return this.#watched().map((r) => r.nodeId);
  }

  /**
   * Every member this node knows, itself included: the alive and suspect ones in full, the dead ones as
   * tombstones (so that a node that missed a death learns it).
   */
  digest(): Change[] {
    const entries: Change[] = [this.#selfEntry()];
    for (const r of this.#records.values()) {
      entries.push(r.status === "dead" ? { k: "dead", id: r.nodeId, inc: r.incarnation } : this.#entryOf(r));
    }
    return entries;
  }

  // --- out ---------------------------------------------------------------------------------------------------

  #selfEntry(): AliveChange {
    const snapshot = this.#host.localSnapshot();
    return {
      k: "alive",
      id: this.#host.nodeId,
      inc: this.#incarnation,
      rt: this.#host.runtime,
      addrs: this.#host.addrs(),
      ep: snapshot.incarnation,
      rv: snapshot.version,
      ...(snapshot.names.length <= NAMES_IN_ALIVE ? { names: snapshot.names } : {}),
      ...(this.#home !== undefined ? { home: this.#home } : {}),
    };
  }

  #entryOf(r: MemberRecord): AliveChange {
    const replica = this.registry.snapshotOf(r.nodeId);
    return {
      k: "alive",
      id: r.nodeId,
      inc: r.incarnation,
      rt: r.runtime,
      addrs: r.addrs,
      ep: replica?.incarnation ?? r.epoch,
      rv: replica?.version ?? r.rv,
      ...(replica !== undefined && replica.names.length <= NAMES_IN_ALIVE ? { names: replica.names } : {}),
      ...(r.home !== undefined ? { home: r.home } : {}),
    };
  }

  /** Queues this node's own `alive` (its arrival, new addresses, a refutation). */
  #announce(now = false): void {
    const entry = this.#selfEntry();
    this.#sentAddrs = entry.addrs.join(" ");
    this.#outbox = this.#outbox.filter((c) => !(c.k === "alive" && c.id === entry.id));
    this.#queue(entry, now);
  }

  /** Addresses as last announced: a change is announced (a tab's relayed and WebRTC addresses come late). */
  #sentAddrs = "";
  /** Our own `alive` last went out to nobody: announce again when a peer subscribes. */
  #unheard = false;
  #outbox: Change[] = [];
  #flushTimer: TimerHandle | undefined;

  #queue(change: Change, now = false): void {
    if (this.#stopped) return;
    this.#outbox.push(change);
    if (now || this.#outbox.length >= MAX_BATCH) {
      this.#flush();
    } else if (this.#flushTimer === undefined) {
      this.#flushTimer = this.#clock.setTimeout(() => this.#flush(), BATCH_MS);
    }
  }

  #flush(): void {
    this.#clock.clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    while (this.#outbox.length > 0) void this.#send(this.#outbox.splice(0, MAX_BATCH));
  }

  async #send(changes: Change[]): Promise<void> {
    const batch: ChangeBatch = { t: "ch", ev: changes };
    let bytes: Uint8Array;
    try {
      bytes = encode(batch, "a membership message");
    } catch (error) {
      this.#host.report("could not encode a membership message", error);
      return;
    }
    this.counters.bytesOut += bytes.byteLength;
    this.counters.messagesOut++;
    this.#forward(this.#host.nodeId, bytes);
    const ownAlive = changes.some((c) => c.k === "alive" && c.id === this.#host.nodeId);
    try {
      const recipients = await this.#topic.publish(bytes);
      if (ownAlive) this.#unheard = recipients === 0;
    } catch (error) {
      if (ownAlive) this.#unheard = true;
      // Best effort: anti-entropy repairs what a lost message leaves behind.
      if (!this.#stopped) this.#host.report("a membership message was not published", error);
    }
  }

  // --- in ----------------------------------------------------------------------------------------------------

  #receive(author: string, data: Uint8Array): void {
    if (this.#stopped) return;
    this.counters.bytesIn += data.byteLength;
    this.counters.messagesIn++;
    const changes = changesIn(data);
    if (changes === undefined) return;
    this.#forward(author, data);
    const authorRecord = this.#records.get(author);
    if (authorRecord !== undefined) this.#heardFrom(authorRecord);
    this.#takingIn++;
    try {
      for (const change of changes) this.#apply(change, author);
    } finally {
      this.#takingIn--;
    }
    this.#keepConnected();
  }

  #apply(change: unknown, author: string): void {
    if (isAlive(change)) {
      this.#onAlive(change, author);
    } else if (isRegistryChange(change)) {
      if (change.id === author || this.#isHomeOf(author, change.id)) this.#onRegistryChange(change);
    } else if (isAccusation(change)) {
      if (change.k === "leave") {
        if (change.id === author || this.#isHomeOf(author, change.id)) this.#onLeave(change);
      } else {
        this.#onAccusation(change, author);
      }
    }
  }

  /**
   * A sign of life from a member. A dead one does not know it was declared dead: it is told, by a suspicion it
   * refutes with a new incarnation — by the members that accused it or would watch it only (not by everyone who
   * hears it: that was one message per member, and a stale member's own verdicts then spread), at most every
   * 2 × `suspectAfter`.
   */
  #heardFrom(record: MemberRecord): void {
    const now = this.#clock.now();
    if (record.status !== "dead") {
      record.lastHeard = now;
    } else if (now - record.lastToldDead > 2 * this.#options.suspectAfter && (record.accusers.has(this.#host.nodeId) || this.#wouldWatch(record))) {
      this.#tellDead(record, now);
    }
  }

  #tellDead(record: MemberRecord, now = this.#clock.now()): void {
    record.lastToldDead = now;
    this.#queue({ k: "sus", id: record.nodeId, inc: record.incarnation }, true);
  }

  /** Whether `record` would be among this node's watched members if it were alive. */
  #wouldWatch(record: MemberRecord): boolean {
    if (this.#host.runtime === "browser") return false;
    if (record.runtime === "browser") return record.home === this.#host.nodeId || this.#host.connectedPeers().includes(record.nodeId);
    const ring = [...this.#fullRing(), record].sort(byRing);
    return ringNeighbours(ring, this.#ringPosition, this.#options.watch).includes(record);
  }

  /**
   * A member's full state. From the member itself (its signed author) it is authoritative; from others (a seed
   * announcing a joiner, a pulled table) it only introduces members this node does not know at all.
   */
  #onAlive(change: AliveChange, author: string): void {
    if (change.id === this.#host.nodeId) {
      // News of ourselves with our incarnation or later that we did not send: someone holds an old view; refute.
      if (change.inc > this.#incarnation) {
        this.#incarnation = change.inc + 1;
        this.#announce(true);
      }
      return;
    }
    // A tab's own word comes published by its home node.
    const own = change.id === author || (change.rt === "browser" && change.home !== undefined && change.home === author);
    const record = this.#records.get(change.id);
    if (record === undefined) {
      this.#add(change);
      return;
    }
    if (!own || change.inc < record.incarnation) return;
    const now = this.#clock.now();
    // A restart (a node that keeps its identity, like a seed with a key file) knows nobody: its watchers tell it.
    const restarted = change.inc > record.incarnation;
    if (change.inc > record.incarnation && record.status !== "alive") {
      // Refuted a suspicion, or back after being declared dead.
      this.#clock.clearTimeout(record.suspicion);
      record.suspicion = undefined;
      record.accusers.clear();
      record.status = "alive";
      this.#ringChanged();
      this.#host.emit("member:up", this.#member(record));
    } else if (record.status === "dead") {
      return; // same incarnation: still dead (#heardFrom has told it)
    }
    record.incarnation = change.inc;
    record.lastHeard = now;
    record.runtime = change.rt;
    record.home = change.home;
    if (change.addrs.join(" ") !== record.addrs.join(" ")) {
      record.addrs = change.addrs;
      void this.#host.learn(record.nodeId, record.addrs).catch(() => {});
    }
    this.#namesFrom(record, change);
    if (restarted && this.#watched().includes(record)) void this.#pushPull(record.nodeId);
  }

  #add(change: AliveChange): void {
    const record: MemberRecord = {
      nodeId: change.id,
      addrs: change.addrs,
      runtime: change.rt,
      incarnation: change.inc,
      status: "alive",
      lastHeard: this.#clock.now(),
      epoch: change.ep,
      rv: change.rv,
      probing: false,
      suspicion: undefined,
      accusers: new Set(),
      suspicionStarted: 0,
      fetching: false,
      lastDial: -Infinity,
      lastToldDead: -Infinity,
      diedAt: 0,
      ring: fnv1a(change.id),
      home: change.home,
    };
    this.#records.set(change.id, record);
    this.#ringChanged();
    void this.#host.learn(change.id, record.addrs).catch(() => {});
    this.#host.emit("member:up", this.#member(record));
    this.#namesFrom(record, change);
    if (this.#takingIn === 0) this.#keepConnected();
  }

  /** Inside a loop over many changes (a pulled table, a batch): connections are seen to once, after it. */
  #takingIn = 0;

  #namesFrom(record: MemberRecord, change: AliveChange): void {
    record.epoch = change.ep;
    record.rv = change.rv;
    if (this.registry.isCurrent(record.nodeId, change.ep, change.rv)) return;
    if (Array.isArray(change.names)) {
      this.registry.replace(record.nodeId, { incarnation: change.ep, version: change.rv, names: change.names.filter(isNameEntry) });
    } else {
      void this.#fetchRegistry(record);
    }
  }

  #onRegistryChange(change: RegistryChange): void {
    const record = this.#records.get(change.id);
    if (record === undefined) {
      this.#antiEntropySoon(); // we missed its arrival
      return;
    }
    if (record.status === "dead") return;
    if (!this.registry.applyDelta(change.id, change.ep, change.rv, change.add, change.del)) {
      record.epoch = change.ep;
      record.rv = change.rv;
      void this.#fetchRegistry(record);
    }
  }

  #onAccusation(accusation: Accusation, author: string): void {
    if (accusation.id === this.#host.nodeId) {
      // Someone thinks we are suspect or dead: refute with a higher incarnation, at once.
      if (accusation.inc >= this.#incarnation) {
        this.#incarnation = accusation.inc + 1;
        this.#announce(true);
      }
      return;
    }
    const record = this.#records.get(accusation.id);
    if (record === undefined || accusation.inc < record.incarnation || record.status === "dead") return;
    if (accusation.k === "dead") {
      record.incarnation = accusation.inc;
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

  #tick(): void {
    if (this.#stopped) return;
    const now = this.#clock.now();
    if (this.#host.addrs().join(" ") !== this.#sentAddrs) this.#announce();
    const silence = this.#options.suspectAfter * this.#health.multiplier;
    for (const record of this.#watched()) {
      if (!record.probing && record.status === "alive" && now - record.lastHeard > silence) void this.#probe(record);
    }
    for (const record of this.#records.values()) {
      if (record.status === "dead" && now - record.diedAt > TOMBSTONE_MS) this.#records.delete(record.nodeId);
    }
    if (now >= this.#nextAntiEntropy) void this.#antiEntropy();
    this.#keepConnected();
  }

  #ring: MemberRecord[] | undefined;

  #ringChanged(): void {
    this.#ring = undefined;
    this.#tabList = undefined;
  }

  #tabList: MemberRecord[] | undefined;

  /** The tabs this node knows (kept like the ring: rebuilt when members come or go). */
  #tabs(): MemberRecord[] {
    this.#tabList ??= [...this.#records.values()].filter((r) => r.runtime === "browser");
    return this.#tabList;
  }

  /** Full members not known dead, by ring position. */
  #fullRing(): MemberRecord[] {
    this.#ring ??= [...this.#records.values()]
      .filter((r) => r.status !== "dead" && r.runtime !== "browser")
      .sort(byRing);
    return this.#ring;
  }

  /** This node's `watch` nearest on the ring (see `ringNeighbours`), and the tabs connected to it. Tabs watch nobody. */
  #watched(): MemberRecord[] {
    if (this.#host.runtime === "browser") return [];
    const watched = ringNeighbours(this.#fullRing(), this.#ringPosition, this.#options.watch);
    const connected = new Set(this.#host.connectedPeers());
    for (const record of this.#tabs()) {
      // A tab's home keeps watching it after its connections drop (a closed page): the probe on the disconnect
      // may not accuse (this node late), and nobody else would look at it again.
      if (record.status !== "dead" && (connected.has(record.nodeId) || record.home === this.#host.nodeId)) watched.push(record);
    }
    return watched;
  }

  /**
   * A direct probe, and indirect ones through connected members when the direct one has not answered within a
   * quarter of the probe timeout (a healthy member answers a ping in milliseconds: indirect probes, the bulk of the
   * traffic when sent every time, go out only for a member that is slow or gone, at most a quarter of the timeout
   * later). Any answer clears the member; none makes it suspect.
   */
  async #probe(record: MemberRecord): Promise<void> {
    if (record.probing) return;
    record.probing = true;
    try {
      const timeout = this.#options.probeTimeout * this.#health.multiplier;
      const answered = (p: Promise<boolean>): Promise<true> => p.then((ok) => (ok ? true : Promise.reject(new Error("no answer"))));
      const direct = this.#host.ping(record.nodeId, timeout).catch(() => false);
      let hedge: TimerHandle | undefined;
      const indirect = new Promise<true>((resolve, reject) => {
        let started = false;
        const start = (): void => {
          if (started) return;
          started = true;
          // Helpers we are connected to: asking others would open connections just to probe.
          const connected = new Set(this.#host.connectedPeers());
          const helpers = [...this.#records.values()]
            .filter((r) => r.status === "alive" && r.nodeId !== record.nodeId && r.runtime !== "browser" && connected.has(r.nodeId))
            .sort(() => this.#random() - 0.5)
            .slice(0, this.#options.indirectProbes);
          Promise.any(helpers.map((h) => answered(this.#host.probeVia(h.nodeId, record.nodeId, timeout * 0.75).catch(() => false)))).then(
            resolve,
            reject,
          );
        };
        hedge = this.#clock.setTimeout(start, timeout / 4);
        // a direct "no" (the dial was refused: nothing listens there) does not wait for the hedge
        void direct.then((ok) => {
          if (!ok && !this.#stopped) {
            this.#clock.clearTimeout(hedge);
            start();
          }
        });
      });
      const alive = await Promise.any([answered(direct), indirect]).catch(() => false);
      this.#clock.clearTimeout(hedge);
      if (this.#stopped || record.status !== "alive") return;
      if (alive) {
        record.lastHeard = this.#clock.now();
        return;
      }
      // Lifeguard: a node that is itself badly late does not accuse (its probes may only have timed out on it).
      if (this.#health.multiplier >= 4) return;
      this.#suspect(record, true);
    } finally {
      record.probing = false;
    }
  }

  #suspect(record: MemberRecord, accuse: boolean): void {
    if (record.status !== "alive") return;
    record.status = "suspect";
    record.suspicionStarted = this.#clock.now();
    if (accuse) record.accusers.add(this.#host.nodeId);
    this.#host.emit("member:suspect", this.#member(record));
    if (accuse) this.#queue({ k: "sus", id: record.nodeId, inc: record.incarnation }, true);
    this.#armSuspicion(record);
  }

  /**
   * (Re)sets the suspicion deadline. Lifeguard: each independent accuser shortens it, from `suspicionTimeout`
   * with one down to a quarter with three or more; a node that is itself late stretches it. Members that did not
   * accuse wait a little longer: the accusers' announcement of the death normally comes first.
   */
  #armSuspicion(record: MemberRecord): void {
    this.#clock.clearTimeout(record.suspicion);
    const base = this.#options.suspicionTimeout;
    const confirmations = Math.max(0, record.accusers.size - 1);
    const accused = record.accusers.has(this.#host.nodeId);
    const timeout = Math.max(base / 4, base * (1 - Math.log(1 + confirmations) / Math.log(3))) * this.#health.multiplier * (accused ? 1 : 1.5);
    const left = Math.max(0, record.suspicionStarted + timeout - this.#clock.now());
    const incarnation = record.incarnation;
    record.suspicion = this.#clock.setTimeout(() => {
      record.suspicion = undefined;
      if (record.status === "suspect" && record.incarnation === incarnation && !this.#stopped) {
        this.#declareDead(record, "did not answer probes");
        if (accused) this.#queue({ k: "dead", id: record.nodeId, inc: record.incarnation }, true);
      }
    }, left);
  }

  #declareDead(record: MemberRecord, why: string): void {
    if (record.status === "dead") return;
    this.#clock.clearTimeout(record.suspicion);
    record.suspicion = undefined;
    record.status = "dead";
    record.diedAt = this.#clock.now();
    this.#ringChanged();
    this.registry.drop(record.nodeId);
    this.#host.memberGone(record.nodeId, why);
    this.#host.emit("member:down", this.#member(record));
  }

  // --- catching up -------------------------------------------------------------------------------------------

  #nextAntiEntropy = Infinity;
  #pulling = false;

  #antiEntropyInterval(): number {
    return ANTI_ENTROPY_BASE_MS * Math.max(1, Math.log2(Math.max(1, this.#records.size + 1) / 4));
  }

  #antiEntropySoon(): void {
    this.#nextAntiEntropy = Math.min(this.#nextAntiEntropy, this.#clock.now() + 2 * this.#options.suspectAfter);
  }

  /** Compares tables with a random connected member (a hash first: the table comes only when they differ). */
  async #antiEntropy(): Promise<void> {
    if (this.#pulling) return;
    this.#nextAntiEntropy = this.#clock.now() + this.#antiEntropyInterval() * (0.5 + this.#random());
    // Any admitted peer: after a long partition the other side is all dead here, and only an exchange heals it.
    // A tab compares with its home only (it has no other part in membership).
    const candidates =
      this.#host.runtime === "browser"
        ? [this.#home].filter((peer): peer is string => peer !== undefined && this.#isAdmitted(peer))
        : this.#host.connectedPeers().filter((peer) => this.#isAdmitted(peer));
    const source = candidates[Math.floor(this.#random() * candidates.length)];
    if (source === undefined) return;
    this.#pulling = true;
    try {
      this.#antiEntropyRounds++;
      if (await this.#pushPull(source)) this.#antiEntropyRepairs++;
    } finally {
      this.#pulling = false;
    }
  }

  /**
   * Compares tables with `peer`: sends our own entry (it takes us in if it did not know us) and our table's hash,
   * and takes in its table when it differs. Whether it did.
   */
  async #pushPull(peer: string, timeoutMs?: number): Promise<boolean> {
    try {
      const answer = await this.#host.fetchMembers(peer, { cluster: this.cluster, self: this.#selfEntry(), hash: this.#tableHash() }, timeoutMs);
      this.#takeIn(answer, peer);
      return Array.isArray(answer) && answer.length > 0;
    } catch {
      return false; // another member next time
    }
  }

  #antiEntropyRounds = 0;
  #antiEntropyRepairs = 0;

  /** Rounds of anti-entropy this node ran, and how many found a difference (for tests and the benchmark). */
  get antiEntropy(): { rounds: number; repairs: number } {
    return { rounds: this.#antiEntropyRounds, repairs: this.#antiEntropyRepairs };
  }

  /**
   * A hash of the table as both sides see it: every member (this node too) with its incarnation, whether it is
   * dead, and its names' version. Equal tables give equal hashes whichever node computes them.
   */
  #tableHash(): string {
    const snapshot = this.#host.localSnapshot();
    const lines = [`${this.#host.nodeId}:${this.#incarnation}:a:${snapshot.incarnation}:${snapshot.version}`];
    for (const r of this.#records.values()) {
      const replica = this.registry.snapshotOf(r.nodeId);
      lines.push(r.status === "dead" ? `${r.nodeId}:${r.incarnation}:d` : `${r.nodeId}:${r.incarnation}:a:${replica?.incarnation ?? r.epoch}:${replica?.version ?? r.rv}`);
    }
    lines.sort();
    let hash = 0x811c9dc5;
    let second = 0x12345678;
    for (const line of lines) {
      hash = fnv1a(line, hash);
      second = fnv1a(line, second ^ 0x5bd1e995);
    }
    return `${lines.length}:${hash.toString(16)}:${second.toString(16)}`;
  }

  /** Takes in a pulled table (untrusted): new members, newer incarnations, deaths this node missed. */
  #takeIn(digest: unknown, source: string): void {
    if (this.#stopped || !Array.isArray(digest)) return;
    const now = this.#clock.now();
    this.#takingIn++;
    try {
      this.#takeInEntries(digest as unknown[], source, now);
    } finally {
      this.#takingIn--;
    }
    this.#keepConnected();
  }

  #takeInEntries(digest: unknown[], source: string, now: number): void {
    for (const entry of digest.slice(0, MAX_DIGEST_ENTRIES)) {
      if (isAlive(entry)) {
        const record = this.#records.get(entry.id);
        if (record === undefined || entry.id === this.#host.nodeId) this.#onAlive(entry, source);
        else if (entry.inc > record.incarnation || (entry.inc === record.incarnation && record.status !== "dead")) {
          // The source heard something newer from the member itself: take it as the member's own word.
          this.#onAlive(entry, entry.id);
        } else if (entry.id === source && record.status === "dead" && entry.inc === record.incarnation && now - record.lastToldDead > 2 * this.#options.suspectAfter) {
          this.#tellDead(record, now); // the member in front of us does not know: it refutes
        }
      } else if (isAccusation(entry) && entry.k === "dead") {
        const record = this.#records.get(entry.id);
        if (record !== undefined && record.status !== "dead" && entry.inc === record.incarnation && entry.id !== this.#host.nodeId) {
          // Dead there, alive here, same incarnation: maybe a death we missed, maybe a stale verdict there. Ask
          // openly (the member refutes if it lives) rather than bury it quietly.
          this.#suspect(record, true);
        } else {
          this.#onAccusation(entry, source);
        }
      }
    }
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
      this.#antiEntropySoon(); // its version stays behind: anti-entropy tries again
    } finally {
      record.fetching = false;
    }
  }

  /**
   * Keeps `targetPeers` connections to members (the topic's mesh runs over them), and one to each watched member
   * (probes go over it). One dial to a member per 5 s at most.
   */
  #keepConnected(): void {
    // A tab keeps no connections for membership (its seeds carry its feed; calls dial what they need).
    if (this.#stopped || this.#host.runtime === "browser") return;
    const now = this.#clock.now();
    const connected = new Set(this.#host.connectedPeers());
    const dial = (record: MemberRecord): void => {
      if (now - record.lastDial < 5_000 || connected.has(record.nodeId)) return;
      record.lastDial = now;
      this.#dialing++;
      void this.#host
        .connect(record.nodeId, record.addrs)
        .catch(() => {})
        .finally(() => this.#dialing--);
    };
    for (const record of this.#watched()) if (record.runtime !== "browser") dial(record);
    if (connected.size + this.#dialing >= this.#options.targetPeers) return;
    // Full members only: the topic's mesh runs over these connections, and tabs are not on the topic.
    const candidates = [...this.#records.values()].filter(
      (r) => r.status === "alive" && r.runtime !== "browser" && !connected.has(r.nodeId) && now - r.lastDial >= 5_000,
    );
    const pick = candidates[Math.floor(this.#random() * candidates.length)];
    if (pick !== undefined) dial(pick);
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

const byRing = (a: { ring: number; nodeId: string }, b: { ring: number; nodeId: string }): number => a.ring - b.ring || (a.nodeId < b.nodeId ? -1 : 1);

/**
 * The `count` members nearest to `position` on `ring` (sorted by ring position, without the node at `position`):
 * the first successor, the first predecessor, the second successor, and so on. Watching is then mostly mutual (my
 * first successor's first predecessor is me), so the probes of a pair of neighbours serve both: an inbound probe is
 * a sign of life, and the one whose turn comes second finds the other recently heard. Every member still has
 * `count` watchers (its `⌈count/2⌉` predecessors and `⌊count/2⌋` successors).
 */
export function ringNeighbours<T extends { ring: number }>(ring: readonly T[], position: number, count: number): T[] {
  const n = ring.length;
  if (n === 0) return [];
  let next = ring.findIndex((r) => r.ring > position);
  if (next < 0) next = 0;
  const picked: T[] = [];
  const seen = new Set<number>();
  for (let step = 0; picked.length < Math.min(count, n) && step < 2 * n; step++) {
    const distance = Math.floor(step / 2);
    const index = step % 2 === 0 ? (next + distance) % n : (((next - 1 - distance) % n) + n) % n;
    if (seen.has(index)) continue;
    seen.add(index);
    picked.push(ring[index]!);
  }
  return picked;
}
