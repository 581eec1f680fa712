import type { PrivateKey } from "@libp2p/interface";
import type { ActorRef } from "../actor/actor-ref.js";
import type { CallHandle } from "../actor/call-handle.js";
import type { CallMode, CallOptions } from "../actor/call-types.js";
import { classByName } from "../actor/class-registry.js";
import type { LocalActors, Network } from "../actor/local-actors.js";
import type { NodeMetrics } from "../actor/system-actor.js";
import { FailedCall } from "../actor/call-handle.js";
import { Cluster } from "../cluster/cluster.js";
import type { SpawnAnswer, SpawnRequestOptions } from "../cluster/cluster-protocol.js";
import type { Member, MemberEventType } from "../cluster/membership.js";
import type { NameEntry, RegistrySnapshot } from "../cluster/registry.js";
import type { ResolvePolicy } from "../cluster/resolve-policy.js";
import { ErrorCode, PulsingRuntimeError, raceSignal } from "../errors/errors.js";
import { Mesh, type ConnectionInfo } from "../transport/mesh.js";
import { hubOfNode } from "../transport/port-transport.js";
import type { ActorSystemOptions } from "./options.js";

/**
 * The composition of a networked node, the one place where the layers meet: it starts the transport (`Mesh`) and
 * the cluster (`Cluster`), and wires them to the node's actors (`LocalActors`) through small interfaces — the
 * actors see the network as their `Network` port, the cluster sees the actors as a `ClusterSystem` (their names,
 * load, and a spawn function for remote spawns). Neither layer imports the other's module.
 */

/** What starting a node needs from the system it belongs to. */
export interface NodeInit {
  /** The system's options (checked). */
  options: ActorSystemOptions;
  privateKey: PrivateKey;
  /** The node's actors (their system actor already started: the network delivers calls to it at once). */
  local: LocalActors;
  /** A membership event, for the system to dispatch. */
  emit(type: MemberEventType, member: Member): void;
  /** The instances of `name` in the cluster registry changed (resolve's waiters look again). */
  nameChanged(name: string): void;
  report(message: string, error?: unknown): void;
}

/**
 * Starts the network of a node: the mesh, then the cluster (which answers its protocol before membership starts),
 * dials the seeds and takes in a seed's member table. The node's actors are attached to it as soon as the mesh
 * is up, so a failure part-way is undone by the system's shutdown. Each step races `options.signal`.
 */
export async function startNode(init: NodeInit): Promise<NodeNetwork> {
  const { options, local } = init;
  const signal = options.signal;
  const seeds = [...(options.headAddr !== undefined ? [options.headAddr] : []), ...(options.seeds ?? [])];
  const step = <T>(promise: Promise<T>, abandoned: () => void = () => {}): Promise<T> =>
    signal === undefined ? promise : raceSignal(promise, signal, abandoned);
  let mesh: Mesh | undefined;
  // Starting libp2p takes a moment (more on a busy machine): an abort meanwhile rejects at once, and the mesh is
  // stopped as soon as it is up.
  const meshStarting = Mesh.start({
    privateKey: init.privateKey,
    addr: options.addr,
    seeds,
    passphrase: options.passphrase,
    maxFrameSize: options.maxFrameSize,
    errorStacks: options.errorStacks === true,
    webrtc: options.webrtc !== false,
    directWaitMs: typeof options.webrtc === "object" ? options.webrtc.directWaitMs : undefined,
    refs: { refFor: (id, name) => local.refFor(id, name), hint: (nodeId, addrs) => mesh?.hinted(nodeId, addrs) },
    deliver: (localId, call) => local.deliver(localId, call),
    report: init.report,
  });
  mesh = await step(meshStarting, () => void meshStarting.then((started) => started.stop()).catch(() => {}));
  // What this node's worker threads (`spawnWorkers`) are told to join it with: its secret and cluster.
  const hub = hubOfNode(mesh.nodeId);
  if (hub !== undefined) {
    // (Its first direct address is the one its workers' relayed addresses are built on; the relay adds the others.)
    const direct = mesh.addrs.find((a) => !a.includes("/p2p-circuit"));
    const relayAddr = direct?.replace(/\/p2p\/[^/]+$/, "");
    hub.workerJoin = { hub: hub.id, nodeId: mesh.nodeId, passphrase: options.passphrase, cluster: options.membership?.cluster, relayAddr, seeds };
  }
  let node: NodeNetwork;
  try {
    node = new NodeNetwork(mesh, init);
  } catch (error) {
    await mesh.stop().catch(() => {});
    throw error;
  }
  local.attach(node);
  await step(node.cluster.listen());
  await step(node.cluster.membership.start());
  await step(mesh.join());
  // Hold a seed's member table before returning: every member it knew is callable at once (bounded).
  await step(node.cluster.membership.joined(mesh.seedPeers()));
  return node;
}

/** The network side of a node: its mesh and cluster, as the actors (`Network`) and the public system use them. */
export class NodeNetwork implements Network {
  readonly mesh: Mesh;
  readonly cluster: Cluster;
  readonly #local: LocalActors;
  /** This node's public names: numbered changes, for the cluster registry. */
  readonly #registryEpoch = Date.now();
  #registryVersion = 0;

  constructor(mesh: Mesh, init: NodeInit) {
    const { options, local } = init;
    this.mesh = mesh;
    this.#local = local;
    this.cluster = new Cluster(
      {
        nodeId: local.nodeId,
        runtime: local.runtime,
        localSnapshot: () => this.#localSnapshot(),
        load: () => local.load(),
        spawn: (className, spawnOptions) => this.#spawnForPeer(className, spawnOptions),
        emit: init.emit,
        report: init.report,
      },
      mesh,
      {
        membership: { targetPeers: mesh.targetPeers, ...options.membership },
        resolvePolicy: options.resolvePolicy,
        mode: options.isHeadNode ? "head" : options.headAddr !== undefined ? "worker" : "gossip",
      },
    );
    this.cluster.membership.registry.onChange((name) => init.nameChanged(name));
  }

  // --- the actors' Network port ----------------------------------------------------------------------------

  get addrs(): string[] {
    return this.mesh.addrs;
  }

  call(target: ActorRef, method: string | undefined, args: readonly unknown[], mode: CallMode, options: CallOptions | undefined): CallHandle {
    const nodeId = target.actorId.nodeId;
    if (this.cluster.membership.isDead(nodeId)) {
      return new FailedCall(mode, target, method, new PulsingRuntimeError(ErrorCode.NODE_DEAD, `node ${nodeId} is dead`));
    }
    return this.mesh.call(target, method, args, mode, options);
  }

  addrHint(nodeId: string): readonly string[] | undefined {
    return this.mesh.addrHint(nodeId);
  }

  stats(): Pick<NodeMetrics, "members" | "transport"> {
    const members = { alive: 0, suspect: 0, dead: 0 };
    for (const m of this.cluster.membership.members()) members[m.status]++;
    const transport = {
      connections: this.mesh.node.getConnections().length,
      malformedFrames: this.mesh.counters.malformedFrames,
      oversizedFrames: this.mesh.counters.oversizedFrames,
    };
    return { members, transport };
  }

  /** A public name appeared or went on this node: number the change and tell the cluster. */
  publicNamesChanged(added: Array<[string, number]>, removed: string[]): void {
    this.#registryVersion++;
    this.cluster.membership.localRegistryChanged(this.#localSnapshot(), added, removed);
  }

  leave(): Promise<void> {
    return this.cluster.leave();
  }

  stop(): Promise<void> {
    return this.mesh.stop();
  }

  // --- for the public system -------------------------------------------------------------------------------

  members(): Member[] {
    return this.cluster.membership.members();
  }

  /** The instance of `name` to use (alive nodes only, by the resolve policy). */
  lookup(name: string, nodeId: string | undefined, policy?: ResolvePolicy): NameEntry | undefined {
    return this.cluster.lookup(name, nodeId, policy);
  }

  /** The nodes not known to be dead on which `name` is registered (public names; this node's too). */
  nodesWith(name: string): string[] {
    const membership = this.cluster.membership;
    return membership.registry
      .instances(name)
      .filter((e) => !membership.isDead(e.nodeId))
      .map((e) => e.nodeId);
  }

  /** Someone waits for a name on `nodeId`: ask that member for its names now. */
  refreshNames(nodeId: string): void {
    this.cluster.membership.refreshNames?.(nodeId);
  }

  /** Whether `name` is registered on some node not known to be dead. */
  hasName(name: string): boolean {
    const membership = this.cluster.membership;
    return membership.registry.instances(name).some((e) => !membership.isDead(e.nodeId));
  }

  traffic(): { bytesIn: number; bytesOut: number; messagesIn: number; messagesOut: number } {
    return { ...this.cluster.membership.counters };
  }

  connections(): ConnectionInfo[] {
    return this.mesh.connections();
  }

  /** `spawn(Cls, { node })`: asks `nodeId` (over the cluster protocol) to build its class `className`. */
  spawnOn(nodeId: string, className: string, options: SpawnRequestOptions, signal: AbortSignal | undefined): Promise<SpawnAnswer> {
    return this.cluster.spawnOn(nodeId, className, options, signal);
  }

  #localSnapshot(): RegistrySnapshot {
    return { incarnation: this.#registryEpoch, version: this.#registryVersion, names: this.#local.publicEntries() };
  }

  /** A peer's `spawn(Cls, { node: <this node> })` (request checked by the cluster protocol). */
  async #spawnForPeer(className: string, options: SpawnRequestOptions): Promise<SpawnAnswer> {
    const ref = await this.#local.spawn(classByName(className, this.#local.nodeId), options);
    return ref.name !== undefined ? { actorId: String(ref.actorId), name: ref.name } : { actorId: String(ref.actorId) };
  }
}
