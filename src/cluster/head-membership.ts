import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import type { RuntimeKind } from "../platform/platform.js";
import { every, realClock, type Clock, type TimerHandle } from "../util/clock.js";
import { LocalHealth } from "./local-health.js";
import {
  DEFAULT_MEMBERSHIP,
  JOIN_SYNC_MS,
  type GossipCounters,
  type Member,
  type MemberLoad,
  type Membership,
  type MembershipHost,
  type MembershipOptions,
} from "./membership.js";
import { Registry, type RegistrySnapshot } from "./registry.js";

/**
 * Head-node mode (Pulsing's alternative to gossip): one head holds the authoritative membership and registry;
 * workers report to it with a heartbeat call and get the cluster view back in the answer. Same user API.
 *
 * The head declares a worker dead when its heartbeats stop and a direct ping fails (after `suspectAfter` and
 * `suspicionTimeout`). A worker that cannot reach the head keeps its last view, marks the head suspect then dead,
 * and keeps retrying; the head takes it back when it reappears (the worker re-registers with a new incarnation).
 * Time comes from an injected `Clock` (the real one by default), as in gossip mode.
 */

/** What a worker sends the head every heartbeat. */
export interface HeadReport {
  nodeId: string;
  incarnation: number;
  runtime: RuntimeKind;
  addrs: string[];
  load: MemberLoad;
  /** The worker's registry; only sent when the head does not have this version yet. */
  registry: RegistrySnapshot | { incarnation: number; version: number; names?: undefined };
  /** The view version the worker has. */
  viewVersion: number;
}

/** A worker's report as the head takes it from the wire, from `sender`: undefined when it is not one. */
export function parseHeadReport(value: unknown, sender: string): HeadReport | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const r = value as Partial<HeadReport>;
  const registry = r.registry as Partial<RegistrySnapshot> | undefined;
  const ok =
    r.nodeId === sender &&
    Number.isSafeInteger(r.incarnation) &&
    typeof r.runtime === "string" &&
    Array.isArray(r.addrs) &&
    r.addrs.every((a) => typeof a === "string") &&
    typeof r.load === "object" &&
    r.load !== null &&
    Number.isSafeInteger(r.viewVersion) &&
    typeof registry === "object" &&
    registry !== null &&
    Number.isSafeInteger(registry.incarnation) &&
    Number.isSafeInteger(registry.version) &&
    (registry.names === undefined || Array.isArray(registry.names));
  if (!ok) return undefined;
  const names = registry!.names?.filter((e): e is [string, number] => Array.isArray(e) && typeof e[0] === "string" && Number.isSafeInteger(e[1]));
  return { ...(r as HeadReport), registry: names === undefined ? { incarnation: registry!.incarnation!, version: registry!.version! } : { incarnation: registry!.incarnation!, version: registry!.version!, names } };
}

/** The head's answer: the view, when the worker's is out of date. */
export interface HeadAnswer {
  viewVersion: number;
  /** The head's registry version for this worker: the worker resends its names when they differ. */
  registryVersion: { incarnation: number; version: number } | null;
  view?: { members: Member[]; registry: Array<[string, RegistrySnapshot]> };
}

interface WorkerRecord {
  member: Member;
  incarnation: number;
  lastHeard: number;
  suspicion: TimerHandle | undefined;
  probing: boolean;
}

/** The head's side. */
export class HeadMembership implements Membership {
  readonly registry = new Registry();
  readonly counters: GossipCounters = { bytesOut: 0, bytesIn: 0, messagesOut: 0, messagesIn: 0 };
  readonly #host: MembershipHost;
  readonly #options: Required<MembershipOptions>;
  readonly #workers = new Map<string, WorkerRecord>();
  /** The registry version the head holds of each worker. */
  readonly #versions = new Map<string, { incarnation: number; version: number }>();
  readonly #clock: Clock;
  readonly #health: LocalHealth;
  #viewVersion = 1;
  #stopDetector: (() => void) | undefined;

  constructor(host: MembershipHost, options: MembershipOptions, { clock = realClock }: { clock?: Clock } = {}) {
    this.#host = host;
    this.#options = { ...DEFAULT_MEMBERSHIP, ...options };
    this.#clock = clock;
    this.#health = new LocalHealth(100, 8, clock);
  }

  async start(): Promise<void> {
    this.registry.replace(this.#host.nodeId, this.#host.localSnapshot());
    this.#health.start();
    this.#stopDetector = every(this.#clock, Math.max(50, this.#options.heartbeatInterval / 2), () => this.#detect());
  }

  async joined(): Promise<void> {
    // The head joins nothing: workers come to it.
  }

  async stop(): Promise<void> {
    this.#stopDetector?.();
    this.#health.stop();
    for (const worker of this.#workers.values()) this.#clock.clearTimeout(worker.suspicion);
  }

  members(): Member[] {
    return [this.#self(), ...[...this.#workers.values()].map((w) => this.#withActors(w.member))];
  }

  isDead(nodeId: string): boolean {
    return this.#workers.get(nodeId)?.member.status === "dead";
  }

  localRegistryChanged(snapshot: RegistrySnapshot): void {
    this.registry.replace(this.#host.nodeId, snapshot);
    this.#viewVersion++;
  }

  peerDisconnected(nodeId: string): void {
    const worker = this.#workers.get(nodeId);
    if (worker !== undefined && worker.member.status === "alive") void this.#probe(worker);
  }

  /** A worker's heartbeat (a `head` cluster request). */
  report(report: HeadReport): HeadAnswer {
    this.counters.messagesIn++;
    const now = this.#clock.now();
    let worker = this.#workers.get(report.nodeId);
    const member: Member = { nodeId: report.nodeId, addrs: report.addrs, status: "alive", runtime: report.runtime, actors: [] };
    if (worker === undefined || (worker.member.status === "dead" && report.incarnation > worker.incarnation)) {
      this.#clock.clearTimeout(worker?.suspicion);
      this.#versions.delete(report.nodeId);
      worker = { member, incarnation: report.incarnation, lastHeard: now, suspicion: undefined, probing: false };
      this.#workers.set(report.nodeId, worker);
      this.#viewVersion++;
      void this.#host.learn(report.nodeId, report.addrs).catch(() => {});
      this.#host.emit("member:up", this.#withActors(member));
    } else if (worker.member.status === "dead") {
      return { viewVersion: this.#viewVersion, registryVersion: null, view: this.#view() }; // it must rejoin with a new incarnation
    } else {
      if (worker.member.status === "suspect") {
        this.#clock.clearTimeout(worker.suspicion);
        worker.suspicion = undefined;
        this.#host.emit("member:up", this.#withActors(member));
        this.#viewVersion++;
      }
      worker.member = member;
      worker.incarnation = Math.max(worker.incarnation, report.incarnation);
      worker.lastHeard = now;
    }
    if (report.registry.names !== undefined) {
      this.registry.replace(report.nodeId, report.registry as RegistrySnapshot);
      this.#versions.set(report.nodeId, { incarnation: report.registry.incarnation, version: report.registry.version });
      this.#viewVersion++;
    }
    const answer: HeadAnswer = { viewVersion: this.#viewVersion, registryVersion: this.#registryVersionOf(report.nodeId) };
    if (report.viewVersion !== this.#viewVersion) answer.view = this.#view();
    this.counters.messagesOut++;
    return answer;
  }

  #registryVersionOf(nodeId: string): { incarnation: number; version: number } | null {
    const snapshot = this.#snapshotOf(nodeId);
    return snapshot === undefined ? null : { incarnation: snapshot.incarnation, version: snapshot.version };
  }

  #snapshotOf(nodeId: string): RegistrySnapshot | undefined {
    const names = this.registry.namesOf(nodeId);
    const versions = this.#versions.get(nodeId);
    if (versions === undefined && names.length === 0) return undefined;
    return {
      incarnation: versions?.incarnation ?? 0,
      version: versions?.version ?? 0,
      names: names.map((name) => [name, this.registry.instances(name).find((e) => e.nodeId === nodeId)!.localId]),
    };
  }

  #view(): { members: Member[]; registry: Array<[string, RegistrySnapshot]> } {
    const registry: Array<[string, RegistrySnapshot]> = [];
    for (const member of this.members()) {
      if (member.status === "dead") continue;
      const snapshot = member.nodeId === this.#host.nodeId ? this.#host.localSnapshot() : this.#snapshotOf(member.nodeId);
      if (snapshot !== undefined) registry.push([member.nodeId, snapshot]);
    }
    return { members: this.members(), registry };
  }

  #detect(): void {
    const now = this.#clock.now();
    for (const worker of this.#workers.values()) {
      if (worker.member.status !== "alive" || worker.probing) continue;
      if (now - worker.lastHeard > this.#options.suspectAfter * this.#health.multiplier) void this.#probe(worker);
    }
  }

  async #probe(worker: WorkerRecord): Promise<void> {
    worker.probing = true;
    try {
      const alive = await this.#host.ping(worker.member.nodeId, this.#options.probeTimeout * this.#health.multiplier);
      if (worker.member.status !== "alive") return;
      if (alive) {
        worker.lastHeard = this.#clock.now();
        return;
      }
      worker.member = { ...worker.member, status: "suspect" };
      this.#viewVersion++;
      this.#host.emit("member:suspect", this.#withActors(worker.member));
      worker.suspicion = this.#clock.setTimeout(() => {
        if (worker.member.status !== "suspect") return;
        worker.member = { ...worker.member, status: "dead" };
        this.registry.drop(worker.member.nodeId);
        this.#versions.delete(worker.member.nodeId);
        this.#viewVersion++;
        this.#host.memberGone(worker.member.nodeId, "stopped reporting to the head");
        this.#host.emit("member:down", worker.member);
      }, this.#options.suspicionTimeout * this.#health.multiplier);
    } finally {
      worker.probing = false;
    }
  }

  #self(): Member {
    return {
      nodeId: this.#host.nodeId,
      addrs: this.#host.addrs(),
      status: "alive",
      runtime: this.#host.runtime,
      actors: this.registry.namesOf(this.#host.nodeId),
    };
  }

  #withActors(member: Member): Member {
    return { ...member, actors: member.status === "dead" ? [] : this.registry.namesOf(member.nodeId) };
  }
}

/** A worker's side: reports to the head and mirrors its view. */
export class WorkerMembership implements Membership {
  readonly registry = new Registry();
  readonly counters: GossipCounters = { bytesOut: 0, bytesIn: 0, messagesOut: 0, messagesIn: 0 };
  readonly #host: MembershipHost;
  readonly #head: () => string | undefined;
  readonly #callHead: (report: HeadReport) => Promise<HeadAnswer>;
  readonly #options: Required<MembershipOptions>;
  readonly #clock: Clock;
  readonly #health: LocalHealth;
  #members = new Map<string, Member>();
  #viewVersion = 0;
  #incarnation: number;
  #headSent: { incarnation: number; version: number } | null = null;
  #timer: TimerHandle | undefined;
  #lastAnswer: number;
  #stopped = false;

  constructor(
    host: MembershipHost,
    head: () => string | undefined,
    callHead: (report: HeadReport) => Promise<HeadAnswer>,
    options: MembershipOptions,
    { clock = realClock, incarnation = Date.now() }: { clock?: Clock; incarnation?: number } = {},
  ) {
    this.#host = host;
    this.#head = head;
    this.#callHead = callHead;
    this.#options = { ...DEFAULT_MEMBERSHIP, ...options };
    this.#clock = clock;
    this.#health = new LocalHealth(100, 8, clock);
    this.#incarnation = incarnation;
    this.#lastAnswer = clock.now();
  }

  async start(): Promise<void> {
    this.registry.replace(this.#host.nodeId, this.#host.localSnapshot());
    this.#health.start();
    await this.#beat().catch(() => {});
  }

  /** Reports to the head at once (rather than at the next beat): its answer carries the whole view. */
  async joined(): Promise<void> {
    if (this.#head() === undefined || this.#stopped) return;
    await this.#beating;
    if (this.#viewVersion !== 0) return; // a beat since admission already brought the view
    this.#clock.clearTimeout(this.#timer);
    let timer: TimerHandle | undefined;
    await Promise.race([this.#beat(), new Promise<void>((resolve) => (timer = this.#clock.setTimeout(resolve, JOIN_SYNC_MS)))]);
    this.#clock.clearTimeout(timer);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#clock.clearTimeout(this.#timer);
    this.#health.stop();
  }

  members(): Member[] {
    const self: Member = {
      nodeId: this.#host.nodeId,
      addrs: this.#host.addrs(),
      status: "alive",
      runtime: this.#host.runtime,
      actors: this.registry.namesOf(this.#host.nodeId),
    };
    return [self, ...[...this.#members.values()].filter((m) => m.nodeId !== this.#host.nodeId)];
  }

  isDead(nodeId: string): boolean {
    return this.#members.get(nodeId)?.status === "dead";
  }

  localRegistryChanged(snapshot: RegistrySnapshot): void {
    this.registry.replace(this.#host.nodeId, snapshot);
    // Report at once rather than at the next beat: names should be resolvable quickly.
    this.#clock.clearTimeout(this.#timer);
    void this.#beat().catch(() => {});
  }

  peerDisconnected(nodeId: string): void {
    if (nodeId === this.#head()) {
      this.#clock.clearTimeout(this.#timer);
      void this.#beat().catch(() => {});
    }
  }

  /** The beat under way, if any. */
  #beating: Promise<void> | undefined;

  #beat(): Promise<void> {
    const beat = this.#doBeat().finally(() => {
      if (this.#beating === beat) this.#beating = undefined;
    });
    this.#beating = beat;
    return beat;
  }

  async #doBeat(): Promise<void> {
    if (this.#stopped) return;
    try {
      const head = this.#head();
      if (head === undefined) throw new PulsingRuntimeError(ErrorCode.UNSUPPORTED, "head not connected yet");
      const snapshot = this.#host.localSnapshot();
      const known = this.#headSent;
      const current = known !== null && known.incarnation === snapshot.incarnation && known.version === snapshot.version;
      this.counters.messagesOut++;
      const answer = await this.#callHead({
        nodeId: this.#host.nodeId,
        incarnation: this.#incarnation,
        runtime: this.#host.runtime,
        addrs: this.#host.addrs(),
        load: this.#host.load(this.#health.lagMs),
        registry: current ? { incarnation: snapshot.incarnation, version: snapshot.version } : snapshot,
        viewVersion: this.#viewVersion,
      });
      this.counters.messagesIn++;
      this.#lastAnswer = this.#clock.now();
      this.#headSent = answer.registryVersion;
      if (answer.view !== undefined) this.#apply(answer.viewVersion, answer.view);
      const headMember = this.#members.get(head);
      if (headMember !== undefined && headMember.status !== "alive") this.#members.set(head, { ...headMember, status: "alive" });
    } catch {
      this.#headSilent();
    } finally {
      // One timer at a time, whichever beat ends last (beats also run off-schedule: names changed, head lost, join).
      this.#clock.clearTimeout(this.#timer);
      if (!this.#stopped) this.#timer = this.#clock.setTimeout(() => void this.#beat(), this.#options.heartbeatInterval);
    }
  }

  /** The head does not answer: after `suspectAfter` it is suspect, after `suspicionTimeout` more, dead. */
  #headSilent(): void {
    const head = this.#head();
    if (head === undefined) return;
    const member = this.#members.get(head);
    if (member === undefined) return;
    const silent = this.#clock.now() - this.#lastAnswer;
    const wide = this.#health.multiplier;
    if (member.status === "alive" && silent > this.#options.suspectAfter * wide) {
      this.#members.set(head, { ...member, status: "suspect" });
      this.#host.emit("member:suspect", { ...member, status: "suspect" });
    } else if (member.status === "suspect" && silent > (this.#options.suspectAfter + this.#options.suspicionTimeout) * wide) {
      this.#members.set(head, { ...member, status: "dead", actors: [] });
      this.registry.drop(head);
      this.#host.memberGone(head, "the head stopped answering");
      this.#host.emit("member:down", { ...member, status: "dead", actors: [] });
      this.#viewVersion = 0; // take the whole view again once it answers
      this.#incarnation++; // and re-register as new
    }
  }

  #apply(version: number, view: { members: Member[]; registry: Array<[string, RegistrySnapshot]> }): void {
    this.#viewVersion = version;
    const next = new Map(view.members.filter((m) => m.nodeId !== this.#host.nodeId).map((m) => [m.nodeId, m]));
    const seen = new Set<string>();
    for (const [nodeId, snapshot] of view.registry) {
      if (nodeId === this.#host.nodeId) continue;
      seen.add(nodeId);
      this.registry.replace(nodeId, snapshot);
    }
    for (const [nodeId, member] of next) {
      const before = this.#members.get(nodeId);
      if (before === undefined || before.status !== member.status) {
        if (member.status === "alive") {
          void this.#host.learn(nodeId, member.addrs).catch(() => {});
          this.#host.emit("member:up", member);
        } else if (member.status === "suspect") {
          this.#host.emit("member:suspect", member);
        } else {
          this.registry.drop(nodeId);
          this.#host.memberGone(nodeId, "declared dead by the head");
          this.#host.emit("member:down", member);
        }
      }
      if (member.status === "dead" || !seen.has(nodeId)) this.registry.drop(nodeId);
    }
    for (const [nodeId, member] of this.#members) {
      if (!next.has(nodeId) && member.status !== "dead") {
        this.registry.drop(nodeId);
        this.#host.emit("member:down", { ...member, status: "dead" });
      }
    }
    this.#members = next;
  }
}
