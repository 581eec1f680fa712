import type { RuntimeKind } from "../platform/platform.js";
import { durationAtLeast, integer, string, type OptionSchema } from "../util/options.js";
import type { Registry, RegistrySnapshot } from "./registry.js";

/** One node of the cluster, as `system.members()` reports it. */
export interface Member {
  nodeId: string;
  addrs: string[];
  status: "alive" | "suspect" | "dead";
  runtime: RuntimeKind;
  /** Its public named actors. */
  actors: string[];
}

/** Timings of membership and failure detection (ms). */
export interface MembershipOptions {
  /** Cluster name: nodes only see members of the same cluster. @default "default" */
  cluster?: string;
  /** Head-node mode: how often a worker reports to the head (gossip mode sends no heartbeats). @default 500 */
  heartbeatInterval?: number;
  /** Silence of a watched member after which it is probed. @default 1000 */
  suspectAfter?: number;
  /** How long a direct or indirect probe may take. @default 500 */
  probeTimeout?: number;
  /** How long a suspect has to refute before it is declared dead. @default 1000 */
  suspicionTimeout?: number;
  /** Members asked to probe a silent member on our behalf. @default 2 */
  indirectProbes?: number;
  /** Connections to other members a node keeps (more are made on demand for calls). @default 6 */
  targetPeers?: number;
  /** Gossip mode: how many members each full node watches (its nearest on a ring of node ids, both sides). @default 3 */
  watch?: number;
}

/** The checks of `MembershipOptions` (timings of at least 10 ms). */
export const MEMBERSHIP_OPTIONS = {
  cluster: string,
  heartbeatInterval: durationAtLeast(10),
  suspectAfter: durationAtLeast(10),
  probeTimeout: durationAtLeast(10),
  suspicionTimeout: durationAtLeast(10),
  indirectProbes: integer(0),
  targetPeers: integer(1),
  watch: integer(1),
} satisfies OptionSchema<MembershipOptions>;

/** How long `init()` waits for a seed's member table (one RPC on the connection it just opened). */
export const JOIN_SYNC_MS = 3_000;

export const DEFAULT_MEMBERSHIP: Required<MembershipOptions> = {
  cluster: "default",
  heartbeatInterval: 500,
  suspectAfter: 1_000,
  probeTimeout: 500,
  suspicionTimeout: 1_000,
  indirectProbes: 2,
  targetPeers: 6,
  watch: 3,
};

/** What a node reports about its load in heartbeats. */
export interface MemberLoad {
  actors: number;
  mailbox: number;
  inflight: number;
  /** Event-loop lag, ms */
  lag: number;
}

/** A membership event's detail. */
export type MemberEventType = "member:up" | "member:suspect" | "member:down";

/** Byte counts of membership traffic, for the benchmark of its cost. */
export interface GossipCounters {
  bytesOut: number;
  bytesIn: number;
  messagesOut: number;
  messagesIn: number;
}

/** The membership service as the actor system uses it (gossip or head-node mode). */
export interface Membership {
  readonly registry: Registry;
  readonly counters: GossipCounters;
  start(): Promise<void>;
  /**
   * This node was admitted by `seeds` (the seed peers it reached, in seed order): take in what one of them knows
   * of the cluster before `init()` returns — at most `JOIN_SYNC_MS`; gossip repairs what it misses.
   */
  joined(seeds: string[]): Promise<void>;
  /** Leaves the cluster (others see the node go at once). */
  stop(): Promise<void>;
  members(): Member[];
  /** Whether calls to `nodeId` should fail fast (declared dead). */
  isDead(nodeId: string): boolean;
  /** This node's names changed: tell the others. */
  localRegistryChanged(snapshot: RegistrySnapshot, added: Array<[string, number]>, removed: string[]): void;
  /** A connection to `nodeId` dropped: check on it now rather than at the next silence. */
  peerDisconnected(nodeId: string): void;
  /** An admitted connection to `nodeId` opened (a member back from a partition, a restart, a newcomer). */
  peerConnected?(nodeId: string): void;
  /** Traffic from `nodeId` arrived: a sign of life (no probe needed for a while). */
  heard?(nodeId: string): void;
  /**
   * A caller waits for a name on `nodeId` (`resolve(name, { nodeId })`): pull that member's names now instead of
   * waiting for gossip, which may have lost the change or be slow under load.
   */
  refreshNames?(nodeId: string): void;
}

/** What membership needs from its node. */
export interface MembershipHost {
  readonly nodeId: string;
  readonly runtime: RuntimeKind;
  addrs(): string[];
  load(lag: number): MemberLoad;
  localSnapshot(): RegistrySnapshot;
  /** Pulls a member's registry (over RPC, reliable). */
  fetchSnapshot(nodeId: string): Promise<RegistrySnapshot>;
  /**
   * Pulls the members `nodeId` sees alive in `cluster` (over RPC): untrusted shape, checked by the caller. `self`:
   * this node's own entry, for `nodeId` to take in (a joiner's push-pull). `hash`: of this node's table, for an
   * empty answer when `nodeId`'s is the same (anti-entropy).
   */
  fetchMembers(nodeId: string, request: { cluster: string; self?: unknown; hash?: string }, timeoutMs?: number): Promise<unknown>;
  /** A direct probe of `nodeId` (src/cluster/prober.ts): whether it answered within `timeoutMs`. */
  ping(nodeId: string, timeoutMs: number): Promise<boolean>;
  /** Asks `via` to ping `target` for us. */
  probeVia(via: string, target: string, timeoutMs: number): Promise<boolean>;
  /** Makes sure there is a connection to `nodeId` (at `addrs`) when below the target degree. */
  connect(nodeId: string, addrs: string[]): Promise<void>;
  /** Remembers where `nodeId` listens, so that calls to it can dial it. */
  learn(nodeId: string, addrs: string[]): Promise<void>;
  connectedPeers(): string[];
  /** A member was declared dead or left: fail what waits on it. */
  memberGone(nodeId: string, why: string): void;
  emit(type: MemberEventType, member: Member): void;
  report(message: string, error?: unknown): void;
}
