import type { ActorRef } from "../actor/actor-ref.js";
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
export function bucketOwners(host: QueueHost): string[] {
  if (!host.clustered) return [host.nodeId];
  return host
    .members()
    .filter((m) => m.status === "alive" && m.runtime !== "browser")
    .map((m) => m.nodeId);
}
