import type { RuntimeKind } from "../platform/platform.js";

/** One actor as `listActors()` reports it. */
export interface ActorInfo {
  /** `"<nodeId>:<localId>"` */
  actorId: string;
  name?: string;
  className?: string;
  public: boolean;
  status: string;
  /** Messages taken from the mailbox so far. */
  processed: number;
  failures: number;
  restarts: number;
  mailbox: number;
  inflight: number;
  /** Epoch ms */
  createdAt: number;
}

export interface NodeInfo {
  nodeId: string;
  addrs: string[];
  runtime: RuntimeKind;
  version: string;
  /** Epoch ms */
  startedAt: number;
  /** Classes this node can spawn for others (registered with `@remote`). */
  classes: string[];
}

export interface NodeMetrics {
  nodeId: string;
  uptimeMs: number;
  actors: number;
  /** Messages processed by all actors of this node. */
  messagesProcessed: number;
  messageFailures: number;
  restarts: number;
  mailboxDepth: number;
  inflight: number;
  /** Members this node sees, by status. */
  members: { alive: number; suspect: number; dead: number };
  /** Open connections, and frames from peers that could not be used. */
  transport: { connections: number; malformedFrames: number; oversizedFrames: number };
}

export interface HealthStatus {
  status: "healthy" | "stopping";
  nodeId: string;
  uptimeMs: number;
  actors: number;
}

export interface PingReply {
  pong: true;
  nodeId: string;
  /** Epoch ms on the answering node */
  time: number;
}

/** What the system actor reads from its system. */
export interface SystemActorSource {
  listActors(): ActorInfo[];
  nodeInfo(): NodeInfo;
  metrics(): NodeMetrics;
  health(): HealthStatus;
  readonly nodeId: string;
}

/**
 * The system actor every node runs (local id 0, name "system"): inspection and liveness, the same on every node.
 * Reach it with `pul.getSystemActor(system, nodeId?)`.
 */
export class SystemActor {
  readonly #source: SystemActorSource;

  constructor(source: SystemActorSource) {
    this.#source = source;
  }

  listActors(): ActorInfo[] {
    return this.#source.listActors();
  }

  getMetrics(): NodeMetrics {
    return this.#source.metrics();
  }

  getNodeInfo(): NodeInfo {
    return this.#source.nodeInfo();
  }

  healthCheck(): HealthStatus {
    return this.#source.health();
  }

  ping(): PingReply {
    return { pong: true, nodeId: this.#source.nodeId, time: Date.now() };
  }
}

/** The local id of every node's system actor. */
export const SYSTEM_ACTOR_LOCAL_ID = 0;
export const SYSTEM_ACTOR_NAME = "system";
