import type { ActorRef } from "../actor/actor-ref.js";
import type { RefDecodeContext } from "../actor/ref-codec.js";
import type { Member } from "../cluster/membership.js";
import type { RuntimeKind } from "../platform/platform.js";

/** What the queue layer needs of an actor system (an `ActorSystem`). */
export interface QueueHost {
  readonly nodeId: string;
  readonly runtime: RuntimeKind;
  /** Whether the system is on a network (a cluster), not standalone. */
  readonly clustered: boolean;
  members(): Member[];
  spawn(target: unknown, options: { name?: string; public?: boolean; node?: string }): Promise<ActorRef>;
  resolve(name: string, options?: { nodeId?: string; timeout?: number }): Promise<ActorRef>;
  /** The nodes on which the public name `name` is registered (alive ones; this node's own too). */
  nodesWith(name: string): string[];
  stop(actor: ActorRef): Promise<void>;
  /** Gossipsub on the node's mesh (topics' unacknowledged modes): when `clustered`, else its calls reject. */
  readonly gossip: TopicGossip;
  /** Something failed with nobody to tell (e.g. a reader's handler on a gossiped message). */
  report(message: string, error?: unknown): void;
}

/**
 * Gossipsub as topics use it (src/streaming/topic.ts). `name` is a gossipsub topic under this cluster's namespace
 * (`/pulsing/<cluster>/<name>`); messages are signed by their author and taken only from admitted members.
 */
export interface TopicGossip {
  /** Publishes `data`; resolves to the nodes it was sent to directly (one hop), which may be none. */
  publish(name: string, data: Uint8Array): Promise<string[]>;
  /**
   * Subscribes this node: a message `accepts` takes goes to `onMessage` (and is relayed); one it refuses or throws
   * on is rejected, never delivered. Resolves to the unsubscribe.
   */
  subscribe(name: string, accepts: (data: Uint8Array) => boolean, onMessage: (data: Uint8Array, from: string) => void): Promise<() => void>;
  /** Rebuilds the actor refs in a received message bound to this system. */
  readonly refs: RefDecodeContext;
}

/** The systems of this realm by node id: a node's queue storage (an actor) finds its system's view here. */
const hosts = new Map<string, QueueHost>();

export function registerQueueHost(host: QueueHost): () => void {
  hosts.set(host.nodeId, host);
  return () => {
    if (hosts.get(host.nodeId) === host) hosts.delete(host.nodeId);
  };
}

export function queueHost(nodeId: string): QueueHost | undefined {
  return hosts.get(nodeId);
}

/**
 * The nodes that may own buckets in `host`'s view: the alive full members (Node, Deno) of its cluster — tabs never
 * own buckets of a cluster queue — or the node itself when it is standalone.
 */
export function bucketOwners(host: QueueHost): readonly string[] {
  if (!host.clustered) return [host.nodeId];
  // Asked per batch and per read: one snapshot of the view serves for `OWNERS_FOR_MS` (membership news takes longer
  // than that to spread anyway; a call that reaches a node that is no longer the owner is redirected).
  const now = performance.now();
  const cached = ownersCache.get(host);
  if (cached !== undefined && now - cached.at < OWNERS_FOR_MS) return cached.nodes;
  const nodes = host
    .members()
    .filter((m) => m.status === "alive" && m.runtime !== "browser")
    .map((m) => m.nodeId);
  // The same array while the view is the same: answers memoised per view (closestNodes) stay valid.
  if (cached !== undefined && sameNodes(cached.nodes, nodes)) {
    cached.at = now;
    return cached.nodes;
  }
  ownersCache.set(host, { at: now, nodes });
  return nodes;
}

const OWNERS_FOR_MS = 50;
const ownersCache = new WeakMap<QueueHost, { at: number; nodes: readonly string[] }>();

function sameNodes(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((node, i) => node === b[i]);
}
