import type { GossipSub } from "@libp2p/gossipsub";
import type { Member } from "../actor/system.js";
import type { MemberDigestRequest } from "../actor/system-actor.js";
import type { RuntimeKind } from "../platform/platform.js";
import type { Mesh } from "../transport/mesh.js";
import { GossipMembership } from "./gossip-membership.js";
import { HeadMembership, WorkerMembership, type HeadAnswer, type HeadReport } from "./head-membership.js";
import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import type { MemberEventType, MemberLoad, Membership, MembershipHost, MembershipOptions } from "./membership.js";
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
    const host: MembershipHost = {
      nodeId: system.nodeId,
      runtime: system.runtime,
      addrs: () => mesh.addrs,
      load: (lag) => ({ ...system.load(), lag: Math.round(lag) }),
      localSnapshot: () => system.localSnapshot(),
      fetchSnapshot: async (nodeId) => (await system.callSystemActor(nodeId, "registrySnapshot", [], 5_000)) as RegistrySnapshot,
      fetchMembers: async (nodeId, { cluster, self }, timeoutMs = 5_000) =>
        await system.callSystemActor(nodeId, "memberDigest", [self ?? null, cluster], timeoutMs),
      ping: (nodeId, timeoutMs) => mesh.ping(nodeId, timeoutMs),
      probeVia: async (via, target, timeoutMs) =>
        (await system.callSystemActor(via, "probe", [target, timeoutMs], timeoutMs + 250)) === true,
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
          return (await system.callSystemActor(head, "headReport", [report], options.membership.probeTimeout ?? 2_000)) as HeadAnswer;
        },
        options.membership,
      );
    } else {
      this.membership = new GossipMembership(
        host,
        mesh.node.services.pubsub as GossipSub,
        (peer) => mesh.isAdmitted(peer),
        options.membership,
      );
    }
    mesh.onPeerDisconnected((peer) => this.membership.peerDisconnected(peer));
  }

  /** On the head: a worker's heartbeat. */
  headReport(report: HeadReport): HeadAnswer {
    if (!(this.membership instanceof HeadMembership)) throw new PulsingRuntimeError(ErrorCode.UNSUPPORTED, "this node is not a head node");
    return this.membership.report(report);
  }

  /**
   * The members this node sees alive, for a peer that pulls them (gossip mode; head-node mode has its own sync).
   * A joining peer sends its own entry along (`joiner`), taken in when it is the `sender`'s. A peer of another
   * cluster (same network and secret, another membership topic) gets nothing and gives nothing.
   */
  memberDigest({ joiner, cluster, sender }: MemberDigestRequest): unknown[] {
    if (!(this.membership instanceof GossipMembership)) return [];
    if (cluster !== undefined && cluster !== this.membership.cluster) return [];
    if (joiner !== undefined && sender !== undefined) this.membership.introduce(joiner, sender);
    return this.membership.digest();
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
