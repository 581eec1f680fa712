import type { PrivateKey } from "@libp2p/interface";
import { platform } from "#platform";
import { ActorId } from "../actor/actor-id.js";
import type { ActorRef } from "../actor/actor-ref.js";
import { remoteClassName } from "../actor/class-registry.js";
import { checkName, LocalActors } from "../actor/local-actors.js";
import type { Member } from "../cluster/membership.js";
import type { ResolvePolicy } from "../cluster/resolve-policy.js";
import { ErrorCode, PulsingRuntimeError, raceSignal } from "../errors/errors.js";
import type { RuntimeKind } from "../platform/platform.js";
import type { ConnectionInfo, Mesh } from "../transport/mesh.js";
import { checkOptions } from "../util/options.js";
import {
  checkSystemOptions,
  MOUNT_OPTIONS,
  RESOLVE_OPTIONS,
  SPAWN_OPTIONS,
  type ActorSystemOptions,
  type MountOptions,
  type ResolveOptions,
  type SpawnOptions,
} from "./options.js";
import type { NodeNetwork } from "./start-node.js";
import { queueApi, type QueueApi } from "../streaming/queue.js";
import { registerQueueHost, type QueueHost } from "../streaming/queue-host.js";
import { handOverQueues, queueInventory, type BucketInventory } from "../streaming/queue-storage.js";
import { topicApi, topicInventory, type TopicApi, type TopicInventory } from "../streaming/topic.js";

declare module "../actor/system-actor.js" {
  interface QueuesAndTopics {
    /** The bucket copies this node holds (as owner or replica), with their counts and write/read counters. */
    queues: BucketInventory[];
    /** The topics this node subscribes to or has published to, with subscribers and counters. */
    topics: TopicInventory[];
  }
}

declare module "../actor/context.js" {
  interface ActorContext {
    /** The actor system the actor runs in. */
    readonly system: ActorSystem;
    /** Resolves a named actor, cluster-wide. */
    actorRef(name: string, options?: ResolveOptions): Promise<ActorRef>;
  }
}

/** While `resolve(name, { nodeId })` waits, it asks that node for its names this often. */
const NAMES_REFRESH_MS = 1_000;

/** The events an `ActorSystem` dispatches (each a `CustomEvent` whose `detail` is the member). */
export interface ActorSystemEvents {
  /** A member joined, or came back (refuted a suspicion, or rejoined after being declared dead). */
  "member:up": CustomEvent<Member>;
  /** A member stopped answering probes: it is suspected, not yet dead. */
  "member:suspect": CustomEvent<Member>;
  /** A member was declared dead or left: calls to it fail, its names are gone. */
  "member:down": CustomEvent<Member>;
}

type SystemListener<K extends keyof ActorSystemEvents> =
  | ((event: ActorSystemEvents[K]) => void)
  | { handleEvent(event: ActorSystemEvents[K]): void };

/** Typed listeners: `system.addEventListener("member:up", (e) => e.detail.nodeId)` needs no cast. */
export interface ActorSystem {
  addEventListener<K extends keyof ActorSystemEvents>(
    type: K,
    listener: SystemListener<K> | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof ActorSystemEvents>(
    type: K,
    listener: SystemListener<K> | null,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}

/**
 * An actor system: the actors of one node and its door to the cluster. Create one with `actorSystem()`.
 * Membership events (`member:up`, `member:suspect`, `member:down`, each a `CustomEvent<Member>`) are dispatched
 * on it: `system.addEventListener("member:down", (e) => e.detail.nodeId)`.
 */
export class ActorSystem extends EventTarget {
  readonly nodeId: string;
  readonly runtime: RuntimeKind;
  readonly startedAt: number;
  readonly #local: LocalActors;
  /** The network side (mesh and cluster), when there is one. */
  #node: NodeNetwork | undefined;
  #nameWaiters = new Map<string, Set<() => void>>();
  #shutdown: Promise<void> | undefined;
  #shutdownListeners = new Set<() => void>();

  /** Use `actorSystem()` or `init()`. */
  private constructor(nodeId: string) {
    super();
    this.nodeId = nodeId;
    this.#local = new LocalActors({
      nodeId,
      system: this,
      resolve: (name, options) => this.resolve(name, options as ResolveOptions | undefined),
      named: (name) => this.#notifyName(name),
      report: reportError,
      // The system actor's getQueuesAndTopics(): the actor layer cannot see queues and topics, this layer can.
      queuesAndTopics: async () => ({
        nodeId,
        uptimeMs: Date.now() - this.startedAt,
        queues: await queueInventory(this.#queueHost),
        topics: topicInventory(this.#queueHost),
      }),
    });
    this.runtime = this.#local.runtime;
    this.startedAt = this.#local.startedAt;
    const system = this;
    this.#queueHost = {
      nodeId,
      runtime: this.runtime,
      get clustered() {
        return system.#node !== undefined;
      },
      members: () => system.members(),
      spawn: (target, options) => system.spawn(target, options),
      resolve: (name, options) => system.resolve(name, options),
      nodesWith: (name) => system.#node?.nodesWith(name) ?? (system.#local.has(name) ? [nodeId] : []),
      stop: (actor) => system.stop(actor),
      report: reportError,
      gossip: (() => {
        // The cluster layer's gossipsub adapter (admission check, signed authors), loaded once, with the network.
        let adapter: Promise<typeof import("../cluster/membership-topic.js")> | undefined;
        const channel = async (name: string, accepts?: (data: Uint8Array) => boolean) => {
          const node = system.#node;
          if (node === undefined) throw new PulsingRuntimeError(ErrorCode.UNSUPPORTED, "gossip needs a network (this system is standalone)");
          const { gossipsubTopic } = await (adapter ??= import("../cluster/membership-topic.js"));
          // Namespaced like membership's topic: a gossip-mode cluster has a name, head mode uses the default one.
          const cluster = (node.cluster.membership as { cluster?: unknown }).cluster;
          const pubsub = node.mesh.node.services.pubsub as Parameters<typeof gossipsubTopic>[0];
          const topic = `/pulsing/${typeof cluster === "string" ? cluster : "default"}/${name}`;
          return gossipsubTopic(pubsub, topic, (peer) => node.mesh.isAdmitted(peer), accepts);
        };
        const gossip: QueueHost["gossip"] = {
          refs: { refFor: (id, name) => system.#local.refFor(id, name), hint: (nodeId, addrs) => system.#node?.mesh.hinted(nodeId, addrs) },
          publish: async (name, data) => (await channel(name)).publishTo(data),
          subscribe: async (name, accepts, onMessage) => {
            const topic = await channel(name, accepts);
            topic.start((from, data) => onMessage(data, from));
            return () => topic.stop();
          },
        };
        return gossip;
      })(),
    };
  }

  /** @internal */
  static async create(options: ActorSystemOptions = {}): Promise<ActorSystem> {
    checkSystemOptions(options);
    options.signal?.throwIfAborted();
    if (options.isHeadNode && options.addr === undefined) {
      throw new PulsingRuntimeError(ErrorCode.INVALID_OPTION, "actorSystem(): a head node needs 'addr' to listen on");
    }
    const networked = options.addr !== undefined || options.headAddr !== undefined || (options.seeds?.length ?? 0) > 0;
    if (!networked && options.passphrase !== undefined) {
      throw new PulsingRuntimeError(ErrorCode.INVALID_OPTION, "actorSystem(): 'passphrase' needs a network: give 'addr' and/or 'seeds'");
    }
    if (options.serveProcesses && platform.processes === undefined) {
      throw new PulsingRuntimeError(ErrorCode.UNSUPPORTED, `actorSystem(): 'serveProcesses' needs Node or Deno (this runtime, ${platform.runtime}, cannot start processes)`);
    }
    const privateKey = await loadPrivateKey(options.privateKey);
    const { peerIdFromPrivateKey } = await import("@libp2p/peer-id");
    const system = new ActorSystem(peerIdFromPrivateKey(privateKey).toString());
    await system.#local.startSystemActor();
    // The node's queue storage (an actor other nodes may start here) finds this system's view through it.
    system.onShutdown(registerQueueHost(system.#queueHost));
    if (!networked) return system.#withProcesses(options);
    try {
      // The transport and the cluster are loaded only by networked systems.
      const loading = import("./start-node.js");
      const { startNode } = await (options.signal === undefined ? loading : raceSignal(loading, options.signal, () => {}));
      system.#node = await startNode({
        options,
        privateKey,
        local: system.#local,
        emit: (type, member) => system.dispatchEvent(new CustomEvent(type, { detail: member })),
        nameChanged: (name) => system.#notifyName(name),
        report: reportError,
      });
    } catch (error) {
      await system.shutdown();
      throw error;
    }
    return system.#withProcesses(options);
  }

  /** With `serveProcesses`: starts this node's process runner (after the network, so its name is announced). */
  async #withProcesses(options: ActorSystemOptions): Promise<ActorSystem> {
    if (!options.serveProcesses) return this;
    try {
      await (await platform.processes!()).serve(this, options.resources ?? {});
    } catch (error) {
      await this.shutdown();
      throw error;
    }
    return this;
  }

  /** The multiaddrs this node listens on (with `/p2p/<nodeId>`); empty for a standalone system. */
  get addrs(): string[] {
    return this.#local.addrs;
  }

  /** @internal The network side, when there is one. */
  get mesh(): Mesh | undefined {
    return this.#node?.mesh;
  }

  get isRunning(): boolean {
    return this.#local.isRunning;
  }

  // --- actors ------------------------------------------------------------------------------------------------

  /**
   * Starts an actor and returns its ref. `target` is a class (built with `args`; restartable), a factory
   * `() => instance` (restartable), an instance (not restartable), or a `stateful()` behavior.
   */
  async spawn(target: unknown, options: SpawnOptions = {}): Promise<ActorRef> {
    this.#local.assertRunning("spawn()");
    checkOptions("spawn()", options, SPAWN_OPTIONS);
    const name = checkName("spawn()", options.name);
    options.signal?.throwIfAborted();
    if (options.node !== undefined && options.node !== this.nodeId) return this.#spawnRemote(target, options, name);
    const { node: _node, ...local } = options;
    return this.#local.spawn(target, local);
  }

  /** Puts an existing object on the mesh under `name` (its own and inherited methods become callable). */
  async mount(instance: object, options: MountOptions): Promise<ActorRef> {
    checkOptions("mount()", options, MOUNT_OPTIONS);
    if (typeof instance !== "object" || instance === null) {
      throw new PulsingRuntimeError(
        ErrorCode.INVALID_ARGUMENT,
        `mount(): expected an object, got ${instance === null ? "null" : typeof instance}`,
      );
    }
    if (options?.name === undefined) throw new PulsingRuntimeError(ErrorCode.INVALID_OPTION, "mount(): 'name' is required");
    return this.spawn(instance, { name: options.name, public: options.public ?? true });
  }

  /** Takes a mounted object off the mesh. */
  async unmount(name: string): Promise<void> {
    await this.stop(name);
  }

  /**
   * Finds a named actor: on this node, then in the cluster. With `timeout`, waits that long for the name to
   * appear; without, looks once and fails at once when the name is unknown.
   */
  async resolve(name: string, options: ResolveOptions = {}): Promise<ActorRef> {
    this.#local.assertRunning("resolve()");
    checkOptions("resolve()", options, RESOLVE_OPTIONS);
    checkName("resolve()", name);
    const { timeout, nodeId, signal } = options;
    const deadline = timeout === undefined ? 0 : Date.now() + timeout;
    for (;;) {
      signal?.throwIfAborted();
      const found = this.#lookup(name, nodeId, options.policy);
      if (found !== undefined) return found;
      const left = deadline - Date.now();
      if (timeout === undefined || left <= 0) {
        throw new PulsingRuntimeError(
          ErrorCode.ACTOR_NOT_FOUND,
          `actor '${name}' not found${nodeId !== undefined ? ` on node ${nodeId}` : ""}${timeout !== undefined ? ` within ${timeout}ms` : ""}`,
        );
      }
      // A name on a given node: ask that node for its names now and again, so that a lost or slow gossip
      // change cannot leave this waiting out its whole timeout.
      const asking = nodeId !== undefined && nodeId !== this.nodeId && this.#node !== undefined;
      if (asking) this.#node!.refreshNames(nodeId);
      await this.#nameAppears(name, asking ? Math.min(left, NAMES_REFRESH_MS) : left, signal);
      this.#local.assertRunning("resolve()");
    }
  }

  /** A ref from an `ActorId` or its string form `"<nodeId>:<localId>"`, local or remote. */
  async refer(actorId: ActorId | string): Promise<ActorRef> {
    this.#local.assertRunning("refer()");
    return this.#local.refer(ActorId.from(actorId));
  }

  /** Whether a named actor exists on this node or (when clustered) anywhere in the cluster. */
  async hasActor(name: string): Promise<boolean> {
    checkName("hasActor()", name);
    return this.#local.has(name) || this.#node?.hasName(name) === true;
  }

  /** Stops a local actor by name, id or ref; resolves after its `onStop` ran. */
  async stop(actor: string | ActorId | ActorRef): Promise<void> {
    await this.#local.stop(actor);
  }

  /** A snapshot of the cluster's members (just this node when standalone). */
  members(): Member[] {
    if (this.#node !== undefined) return this.#node.members();
    return [
      {
        nodeId: this.nodeId,
        addrs: this.addrs,
        status: "alive",
        runtime: this.runtime,
        actors: this.#local.publicNames(),
      },
    ];
  }

  /** @internal Bytes and messages of membership traffic this node sent and received so far (for the cost benchmark). */
  membershipTraffic(): { bytesIn: number; bytesOut: number; messagesIn: number; messagesOut: number } {
    return this.#node?.traffic() ?? { bytesIn: 0, bytesOut: 0, messagesIn: 0, messagesOut: 0 };
  }

  /** This node's open connections to other nodes, with their kind (empty when standalone). */
  connections(): ConnectionInfo[] {
    return this.#node?.connections() ?? [];
  }

  /** Stops every actor and leaves the cluster. Idempotent. */
  shutdown(): Promise<void> {
    this.#shutdown ??= this.#doShutdown();
    return this.#shutdown;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  /** Queues on this system's cluster (`pul.queue` is the global system's): buckets owned by distance. */
  get queue(): QueueApi {
    this.#queue ??= queueApi(this.#queueHost);
    return this.#queue;
  }

  #queue: QueueApi | undefined;

  /** Topics on this system's cluster (`pul.topic` is the global system's). */
  get topic(): TopicApi {
    this.#topic ??= topicApi(this.#queueHost);
    return this.#topic;
  }

  #topic: TopicApi | undefined;

  readonly #queueHost: QueueHost;

  /** @internal Called once when the system has shut down. */
  onShutdown(listener: () => void): void {
    this.#shutdownListeners.add(listener);
  }

  /** Spawns on another node by class name: that node builds it from its own class registry (a cluster request). */
  async #spawnRemote(target: unknown, options: SpawnOptions, name: string | undefined): Promise<ActorRef> {
    const nodeId = options.node!;
    if (typeof target !== "function") {
      throw new PulsingRuntimeError(
        ErrorCode.CLASS_NOT_REGISTERED,
        "spawn() on another node takes a class registered with @remote on both nodes",
      );
    }
    const className = remoteClassName(target);
    if (this.#node === undefined) {
      throw new PulsingRuntimeError(ErrorCode.NODE_UNKNOWN, `spawn(): unknown node '${nodeId}' (this system is not connected to a cluster)`);
    }
    const { node: _node, signal, ...forwarded } = options;
    const spawned = await this.#node.spawnOn(nodeId, className, forwarded, signal);
    const id = ActorId.from(spawned.actorId);
    return this.#local.refAt(id.nodeId, id.localId, name)!;
  }

  /** A named actor: a public one anywhere in the cluster (by the resolve policy), else a private one here. */
  #lookup(name: string, nodeId: string | undefined, policy?: ResolvePolicy): ActorRef | undefined {
    const entry = this.#node?.lookup(name, nodeId, policy);
    if (entry !== undefined) {
      const ref = this.#local.refAt(entry.nodeId, entry.localId, name);
      if (ref !== undefined) return ref;
    }
    return nodeId === undefined || nodeId === this.nodeId ? this.#local.named(name) : undefined;
  }

  /** Resolves when `name` may have appeared, after `timeout` ms, or when `signal` aborts (whichever first). */
  #nameAppears(name: string, timeout: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      let waiters = this.#nameWaiters.get(name);
      if (waiters === undefined) this.#nameWaiters.set(name, (waiters = new Set()));
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        waiters!.delete(done);
        if (waiters!.size === 0 && this.#nameWaiters.get(name) === waiters) this.#nameWaiters.delete(name);
        resolve();
      };
      const timer = setTimeout(done, timeout);
      signal?.addEventListener("abort", done, { once: true });
      waiters.add(done);
    });
  }

  #notifyName(name: string): void {
    const waiters = this.#nameWaiters.get(name);
    if (waiters !== undefined) for (const wake of [...waiters]) wake();
  }

  async #doShutdown(): Promise<void> {
    // While still a member: the buckets this node owns go to their next owners (nothing acknowledged is lost).
    if (this.#local.isRunning) await handOverQueues(this.#queueHost).catch((error: unknown) => reportError("handing queue buckets over failed", error));
    await this.#local.shutdown();
    for (const wake of [...this.#nameWaiters.values()].flatMap((set) => [...set])) wake();
    for (const listener of this.#shutdownListeners) listener();
    this.#shutdownListeners.clear();
  }
}

async function loadPrivateKey(bytes: Uint8Array | undefined): Promise<PrivateKey> {
  const { generateKeyPair, privateKeyFromProtobuf } = await import("@libp2p/crypto/keys");
  if (bytes === undefined) return generateKeyPair("Ed25519");
  try {
    return privateKeyFromProtobuf(bytes);
  } catch (error) {
    throw new PulsingRuntimeError(
      ErrorCode.INVALID_OPTION,
      `actorSystem(): 'privateKey' is not a protobuf-encoded libp2p private key: ${(error as Error).message}`,
    );
  }
}

/** The default report: what has nobody else to tell goes to `console.warn`. */
function reportError(message: string, error?: unknown): void {
  if (error === undefined) {
    console.warn(`[pulsing] ${message}`);
    return;
  }
  const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  console.warn(`[pulsing] ${message}: ${detail}`);
}
