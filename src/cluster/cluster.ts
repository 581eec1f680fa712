import type { GossipSub } from "@libp2p/gossipsub";
import type { Member } from "../actor/system.js";
import type { RuntimeKind } from "../platform/platform.js";
import type { Mesh } from "../transport/mesh.js";
import { GossipMembership } from "./gossip-membership.js";
import { gossipsubTopic } from "./membership-topic.js";
import { CLUSTER_LIMITS, CLUSTER_PROTOCOL, parseClusterRequest, toRegistrySnapshot, type ClusterRequest } from "./cluster-protocol.js";
import { HeadMembership, parseHeadReport, WorkerMembership, type HeadAnswer } from "./head-membership.js";
import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import { DEFAULT_MEMBERSHIP, type MemberEventType, type MemberLoad, type Membership, type MembershipHost, type MembershipOptions } from "./membership.js";
import type { NameEntry, RegistrySnapshot } from "./registry.js";
import { Resolver, type ResolvePolicy } from "./resolve-policy.js";

/** What the cluster needs from the actor system. */
export interface ClusterSystem {
  readonly nodeId: string;
  readonly runtime: RuntimeKind;
  localSnapshot(): RegistrySnapshot;
  load(): Omit<MemberLoad, "lag">;
  /** Calls a method of `nodeId`'s system actor. */
  callSystemActor(nodeId: string, method: string, args: unknown[], timeoutMs: number): Promise<unknown>;
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
    this.#probe = (target, timeoutMs) => mesh.ping(target, timeoutMs);
    this.#localSnapshot = () => system.localSnapshot();
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
      ping: (nodeId, timeoutMs) => mesh.ping(nodeId, timeoutMs),
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
      const topic = gossipsubTopic(mesh.node.services.pubsub as GossipSub, `/pulsing/${cluster}/members/1`, isAdmitted);
      this.membership = new GossipMembership(host, topic, isAdmitted, options.membership);
    }
    mesh.onPeerDisconnected((peer) => this.membership.peerDisconnected(peer));
    const membership = this.membership;
    if (membership.heard !== undefined) mesh.onPeerHeard((peer) => membership.heard!(peer));
    if (membership.peerConnected !== undefined) mesh.onPeerAdmitted((peer) => membership.peerConnected!(peer));
  }

  readonly #mesh: Mesh;
  readonly #probe: (target: string, timeoutMs: number) => Promise<boolean>;
  readonly #localSnapshot: () => RegistrySnapshot;

  /** Starts answering the cluster protocol (before membership starts: a joiner's first pull may come at once). */
  async listen(): Promise<void> {
    await this.#mesh.handleRequests(CLUSTER_PROTOCOL, CLUSTER_LIMITS, async (peer, value) => {
      const request = parseClusterRequest(value);
      if (request === undefined) throw new PulsingRuntimeError(ErrorCode.PROTOCOL_ERROR, "not a cluster request");
      return this.#answer(peer, request);
    });
  }

  async #answer(peer: string, request: ClusterRequest): Promise<unknown> {
    const membership = this.membership;
    switch (request.t) {
      case "members":
        // A peer of another cluster (same network and secret, another membership topic) gets nothing and gives nothing.
        if (!(membership instanceof GossipMembership) || request.cluster !== membership.cluster) return [];
        return membership.digestFor({ joiner: request.self, sender: peer, hash: request.hash });
      case "probe":
        return this.#probe(request.target, request.timeoutMs);
      case "names":
        return this.#localSnapshot();
      case "head": {
        if (!(membership instanceof HeadMembership)) throw new PulsingRuntimeError(ErrorCode.UNSUPPORTED, "this node is not a head node");
        const report = parseHeadReport(request.report, peer);
        if (report === undefined) throw new PulsingRuntimeError(ErrorCode.PROTOCOL_ERROR, "not a worker report of the sender");
        return membership.report(report);
      }
    }
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
