import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
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
  /** Calls, errors and call latency per actor class, since this node started (actors that stopped included). */
  classes: ClassMetrics[];
}

/** One actor class on one node, as `getMetrics().classes` reports it. */
export interface ClassMetrics {
  /** The class's registered or own name; `"(anonymous)"` for instances of unnamed classes and plain objects. */
  className: string;
  calls: number;
  errors: number;
  /**
   * Latency of a sample of the calls (one in 8 per actor, each actor's first included): from the method's start to
   * its result — for a streamed reply, until the method returned its stream. `counts[i]` are the timed calls that
   * took at most `boundsMs[i]` ms (and more than the bound before); the last count, those above every bound.
   */
  latency: { boundsMs: number[]; counts: number[]; sumMs: number; count: number };
}

/**
 * A node's queue buckets and topics (`getQueuesAndTopics()`). Declared here with what the actor layer knows; the
 * system layer, where queues and topics live, adds `queues` and `topics` (a `declare module` augmentation in
 * src/system/actor-system.ts, as for `ActorContext`).
 */
export interface QueuesAndTopics {
  nodeId: string;
  /** The answering node's uptime (ms): rates from two answers divide by its difference. */
  uptimeMs: number;
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
  /** The node's queues and topics: given by the system layer (absent, the method is unsupported). */
  queuesAndTopics?(): Promise<QueuesAndTopics>;
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

  /** The queue buckets this node holds (owner or replica copies) and the topics it subscribes to or published to. */
  async getQueuesAndTopics(): Promise<QueuesAndTopics> {
    if (this.#source.queuesAndTopics === undefined) {
      throw new PulsingRuntimeError(ErrorCode.UNSUPPORTED, "getQueuesAndTopics(): this node reports no queues or topics");
    }
    return this.#source.queuesAndTopics();
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
