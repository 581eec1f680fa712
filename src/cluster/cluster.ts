import type { GossipSub } from "@libp2p/gossipsub";
import type { RuntimeKind } from "../platform/platform.js";
import type { Mesh } from "../transport/mesh.js";
import { GossipMembership } from "./gossip-membership.js";
import { homeCandidates, homeFeedTopic, serveFeeds, type HomeFeedTopic } from "./member-feed.js";
import { gossipsubTopic } from "./membership-topic.js";
import {
  CLUSTER_LIMITS,
  CLUSTER_PROTOCOL,
  parseClusterRequest,
  toRegistrySnapshot,
  toSpawnAnswer,
  type ClusterRequest,
  type SpawnAnswer,
  type SpawnRequestOptions,
} from "./cluster-protocol.js";
import { HeadMembership, parseHeadReport, WorkerMembership, type HeadAnswer } from "./head-membership.js";
import { ErrorCode, PulsingError, PulsingRuntimeError, PulsingTimeoutError, raceSignal } from "../errors/errors.js";
import { DEFAULT_MEMBERSHIP, type Member, type MemberEventType, type MemberLoad, type Membership, type MembershipHost, type MembershipOptions } from "./membership.js";
import type { NameEntry, RegistrySnapshot } from "./registry.js";
import { Prober } from "./prober.js";
import { Resolver, type ResolvePolicy } from "./resolve-policy.js";

/**
 * How long a remote spawn may take: an actor's `onStart` may load a model for minutes. The caller's `signal` bounds
 * it sooner; a node that goes away fails it at once (its connection closes).
 */
const SPAWN_TIMEOUT_MS = 600_000;

/** What the cluster needs from the node's actors (given by the node's composition, src/system/start-node.ts). */
export interface ClusterSystem {
  readonly nodeId: string;
  readonly runtime: RuntimeKind;
  localSnapshot(): RegistrySnapshot;
  load(): Omit<MemberLoad, "lag">;
  /** Another node's `spawn(Cls, { node: <this node> })`: builds the class registered here as `className`. */
  spawn(className: string, options: SpawnRequestOptions): Promise<SpawnAnswer>;
  emit(type: MemberEventType, member: Member): void;
  report(message: string, error?: unknown): void;
}

export interface ClusterOptions {
  membership: MembershipOptions;
  resolvePolicy: ResolvePolicy | undefined;
  /** `gossip` (default), or head-node mode as the head or as a worker. */
  mode: "gossip" | "head" | "worker";
}

/**
 * The cluster side of a networked system: membership (who is alive), the replicated registry of named actors,
 * and the policy that picks among several instances of a name.
 */
export class Cluster {
  readonly membership: Membership;
  readonly resolver: Resolver;

  constructor(system: ClusterSystem, mesh: Mesh, options: ClusterOptions) {
    this.resolver = new Resolver(options.resolvePolicy, system.nodeId);
    this.#mesh = mesh;
    this.#runtime = system.runtime;
    // An inbound probe is a sign of life of the prober (set once the membership exists, below).
    let heard: ((peer: string) => void) | undefined;
    this.#prober = new Prober(mesh, (peer) => heard?.(peer));
    this.#localSnapshot = () => system.localSnapshot();
    this.#spawn = (className, spawnOptions) => system.spawn(className, spawnOptions);
    const ask = (peer: string, request: ClusterRequest, timeoutMs: number): Promise<unknown> =>
      mesh.request(peer, CLUSTER_PROTOCOL, request, CLUSTER_LIMITS, timeoutMs);
    const host: MembershipHost = {
      nodeId: system.nodeId,
      runtime: system.runtime,
      addrs: () => mesh.addrs,
      load: (lag) => ({ ...system.load(), lag: Math.round(lag) }),
      localSnapshot: () => system.localSnapshot(),
      fetchSnapshot: async (nodeId) => {
        const snapshot = toRegistrySnapshot(await ask(nodeId, { t: "names" }, 5_000));
        if (snapshot === undefined) throw new PulsingRuntimeError(ErrorCode.PROTOCOL_ERROR, `node ${nodeId} answered a names request with something else`);
        return snapshot;
      },
      fetchMembers: (nodeId, { cluster, self, hash }, timeoutMs = 5_000) =>
        ask(nodeId, { t: "members", cluster, ...(self !== undefined ? { self } : {}), ...(hash !== undefined ? { hash } : {}) }, timeoutMs),
      ping: (nodeId, timeoutMs) => this.#prober.probe(nodeId, timeoutMs),
      probeVia: async (via, target, timeoutMs) => (await ask(via, { t: "probe", target, timeoutMs }, timeoutMs + 250)) === true,
      connect: (nodeId, addrs) => mesh.connect(nodeId, addrs),
      learn: (nodeId, addrs) => mesh.learn(nodeId, addrs),
      connectedPeers: () => mesh.connectedPeers(),
      memberGone: (nodeId, why) => mesh.memberGone(nodeId, why),
      emit: (type, member) => system.emit(type, member),
      report: (message, error) => system.report(message, error),
    };
    if (options.mode === "head") {
      this.membership = new HeadMembership(host, options.membership);
    } else if (options.mode === "worker") {
      this.membership = new WorkerMembership(
        host,
        () => mesh.seedPeers()[0],
        async (report) => {
          const head = mesh.seedPeers()[0]!;
          const answer = await ask(head, { t: "head", report }, options.membership.probeTimeout ?? 2_000);
          if (typeof answer !== "object" || answer === null || !Number.isSafeInteger((answer as HeadAnswer).viewVersion)) {
            throw new PulsingRuntimeError(ErrorCode.PROTOCOL_ERROR, "the head answered a report with something else");
          }
          return answer as HeadAnswer;
        },
        options.membership,
      );
    } else {
      const isAdmitted = (peer: string): boolean => mesh.isAdmitted(peer);
      const cluster = options.membership.cluster ?? DEFAULT_MEMBERSHIP.cluster;
      // A tab is a light member: it follows a full node's feed instead of joining the topic's gossip.
      const topic =
        system.runtime === "browser"
          ? (this.#homeFeed = homeFeedTopic(mesh, cluster, () => this.#homeCandidates()))
          : gossipsubTopic(mesh.node.services.pubsub as GossipSub, `/pulsing/${cluster}/members/1`, isAdmitted);
      this.membership = new GossipMembership(host, topic, isAdmitted, options.membership);
    }
    mesh.onPeerDisconnected((peer) => this.membership.peerDisconnected(peer));
    const membership = this.membership;
    if (membership.heard !== undefined) {
      heard = (peer) => membership.heard!(peer);
      mesh.onPeerHeard(heard);
    }
    mesh.onPeerAdmitted((peer) => {
      membership.peerConnected?.(peer);
      this.#homeFeed?.peerConnected(peer);
    });
  }

  #homeFeed: HomeFeedTopic | undefined;

  /** Full nodes a tab may follow (see `homeCandidates`). */
  #homeCandidates(): string[] {
    const admitted = [...this.#mesh.seedPeers(), ...this.#mesh.connectedPeers()].filter((peer) => this.#mesh.isAdmitted(peer));
    return homeCandidates(this.#mesh.nodeId, admitted, this.membership.members());
  }

  readonly #mesh: Mesh;
  readonly #runtime: RuntimeKind;
  readonly #prober: Prober;
  readonly #localSnapshot: () => RegistrySnapshot;
  readonly #spawn: ClusterSystem["spawn"];

  /** Starts answering the cluster protocol (before membership starts: a joiner's first pull may come at once). */
  async listen(): Promise<void> {
    // Full nodes serve the membership feed to the tabs that follow them.
    if (this.membership instanceof GossipMembership && this.#runtime !== "browser") await serveFeeds(this.#mesh, this.membership);
    // Probes are echoed in every mode (a head probes its workers; a tab's home probes it).
    await this.#prober.listen();
    // A request that is not one, or that fails, is answered with the error (src/transport/request-stream.ts).
    await this.#mesh.handleRequests(CLUSTER_PROTOCOL, CLUSTER_LIMITS, async (peer, value) => this.#answer(peer, parseClusterRequest(value)));
  }

  async #answer(peer: string, request: ClusterRequest): Promise<unknown> {
    const membership = this.membership;
    switch (request.t) {
      case "members":
        // A peer of another cluster (same network and secret, another membership topic) gets nothing and gives nothing.
        if (!(membership instanceof GossipMembership) || request.cluster !== membership.cluster) return [];
        return membership.digestFor({ joiner: request.self, sender: peer, hash: request.hash });
      case "probe":
        return this.#prober.probe(request.target, request.timeoutMs);
      case "names":
        return this.#localSnapshot();
      case "head": {
        if (!(membership instanceof HeadMembership)) throw new PulsingRuntimeError(ErrorCode.UNSUPPORTED, "this node is not a head node");
        const report = parseHeadReport(request.report, peer);
        if (report === undefined) throw new PulsingRuntimeError(ErrorCode.PROTOCOL_ERROR, "not a worker report of the sender");
        return membership.report(report);
      }
      case "spawn":
        return this.#spawn(request.className, request.options);
    }
  }

  /** Leaves the cluster (the membership says goodbye), then stops probing. */
  async leave(): Promise<void> {
    try {
      await this.membership.stop();
    } finally {
      this.#prober.stop();
    }
  }

  /**
   * `spawn(Cls, { node })`: asks `nodeId` to build the class it registered as `className`. Its refusal comes back as
   * the error it threw (`CLASS_NOT_REGISTERED`, `NAME_TAKEN`, …); aborting `signal` rejects with its reason (an actor
   * the node starts all the same keeps running there).
   */
  async spawnOn(nodeId: string, className: string, options: SpawnRequestOptions, signal?: AbortSignal): Promise<SpawnAnswer> {
    if (this.membership.isDead(nodeId)) throw new PulsingRuntimeError(ErrorCode.NODE_DEAD, `spawn(): node ${nodeId} is dead`);
    const timeoutMs = SPAWN_TIMEOUT_MS;
    const asking = this.#mesh.request(nodeId, CLUSTER_PROTOCOL, { t: "spawn", className, options }, CLUSTER_LIMITS, timeoutMs);
    let answer: unknown;
    try {
      answer = await (signal === undefined ? asking : raceSignal(asking, signal, () => void asking.catch(() => {})));
    } catch (error) {
      if (error instanceof PulsingError || signal?.aborted) throw error;
      // The exchange itself failed: no answer came.
      const name = (error as { name?: unknown } | null)?.name;
      if (name === "TimeoutError" || name === "AbortError") throw new PulsingTimeoutError(`spawn() on node ${nodeId}`, timeoutMs);
      const known = this.membership.members().some((m) => m.nodeId === nodeId);
      throw new PulsingRuntimeError(
        known ? ErrorCode.NODE_UNREACHABLE : ErrorCode.NODE_UNKNOWN,
        `spawn(): ${known ? "cannot reach" : "unknown"} node ${nodeId}: ${(error as Error)?.message ?? String(error)}`,
        error,
      );
    }
    const spawned = toSpawnAnswer(answer, nodeId);
    if (spawned === undefined) throw new PulsingRuntimeError(ErrorCode.PROTOCOL_ERROR, `node ${nodeId} answered a spawn request with something else`);
    return spawned;
  }

  /** The instance of `name` to use (by the resolve policy), alive nodes only; undefined when there is none. */
  lookup(name: string, nodeId: string | undefined, policy?: ResolvePolicy): NameEntry | undefined {
    const candidates = this.membership.registry
      .instances(name)
      .filter((e) => (nodeId === undefined || e.nodeId === nodeId) && !this.membership.isDead(e.nodeId));
    if (candidates.length === 0) return undefined;
    return this.resolver.pick(name, candidates, policy);
  }
}
