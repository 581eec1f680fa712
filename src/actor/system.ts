import { platform } from "#platform";
import { abortReason, ErrorCode, PulsingRuntimeError, toActorError } from "../errors/errors.js";
import type { RuntimeKind } from "../platform/platform.js";
import {
  array,
  boolean,
  bytes,
  checkOptions,
  duration,
  integer,
  invalid,
  nested,
  show,
  signal as signalOption,
  string,
  stringArray,
  type Check,
  type OptionSchema,
} from "../util/options.js";
import type { Cluster, ClusterSystem } from "../cluster/cluster.js";
import { MEMBERSHIP_OPTIONS, type MembershipOptions } from "../cluster/membership.js";
import type { RegistrySnapshot } from "../cluster/registry.js";
import { resolvePolicyOption, type ResolvePolicy } from "../cluster/resolve-policy.js";
import { ActorCell, type CellHost } from "./actor-cell.js";
import { ActorId } from "./actor-id.js";
import { ActorRef, type CallRouter } from "./actor-ref.js";
import "./ref-codec.js";
import { isBehavior } from "./behavior.js";
import { FailedCall, type CallHandle } from "./call-handle.js";
import type { CallMode, CallOptions, InboundCall } from "./call-types.js";
import type { PrivateKey } from "@libp2p/interface";
import type { ConnectionInfo, Mesh } from "../transport/mesh.js";
import { classByName, registeredClassNames, remoteClassName, remoteInfo, type RemoteOptions } from "./class-registry.js";
import { LocalCall } from "./local-call.js";
import { DEFAULT_SUPERVISION, resolveSupervision, SUPERVISION_OPTIONS, type SupervisionOptions } from "./supervision.js";
import {
  SYSTEM_ACTOR_LOCAL_ID,
  SYSTEM_ACTOR_NAME,
  SystemActor,
  type ActorInfo,
  type HealthStatus,
  type NodeInfo,
  type NodeMetrics,
} from "./system-actor.js";

export const VERSION = "0.1.0";

/** Options of `init()` and `actorSystem()`. */
export interface ActorSystemOptions {
  /** Listen address (`"host:port"` or a multiaddr). Absent: the node only dials (browsers) or, without seeds, is standalone. */
  addr?: string;
  /** Nodes to join through (`"host:port"` or multiaddrs, with or without `/p2p/<peerId>`). */
  seeds?: string[];
  /** The cluster secret: only nodes that know it can connect and be served. */
  passphrase?: string;
  /** Run as the head node of a head-node cluster. */
  isHeadNode?: boolean;
  /** Join the head-node cluster whose head listens here. */
  headAddr?: string;
  /** Largest frame (bytes) this node sends or accepts; larger calls fail with a `PulsingRuntimeError`. @default 8 MiB */
  maxFrameSize?: number;
  /** This node's libp2p private key (protobuf bytes), for a stable `nodeId` across restarts. @default a fresh key */
  privateKey?: Uint8Array;
  /** Cluster name and failure-detection timings (ms). */
  membership?: MembershipOptions;
  /** Which instance `resolve(name)` picks when several nodes host the name. @default "round-robin" */
  resolvePolicy?: ResolvePolicy;
  /**
   * Browser tabs: connect to other tabs directly over WebRTC (signalled through a seed's relay). `false` keeps
   * tab↔tab traffic on the relayed connection, for networks that block WebRTC; options tune it. @default true
   */
  webrtc?: boolean | WebRTCOptions;
  /** Aborting it stops a start still under way (dialing seeds, pulling the member table): `init()` rejects with its reason. */
  signal?: AbortSignal;
  /**
   * Errors sent to callers on other nodes carry their stack traces. A development option: a stack shows the
   * node's file paths and code to whoever called it. @default false
   */
  errorStacks?: boolean;
}

/** How a browser tab reaches other tabs over WebRTC. */
export interface WebRTCOptions {
  /**
   * How long a call to another tab waits for a direct connection before it goes over the relayed one (it moves to
   * the direct one once that is up). `0` sends first calls over the relay at once. @default 1000
   */
  directWaitMs?: number;
}

/** Options of `resolve()`. */
export interface ResolveOptions {
  /** Wait up to this many ms for the name to appear; without it the lookup happens once. */
  timeout?: number;
  /** Only an instance on this node. */
  nodeId?: string;
  /** Overrides the system's `resolvePolicy` for this lookup. */
  policy?: ResolvePolicy;
  /** Aborting it stops the wait: `resolve()` rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Options of `spawn()`. `args` are the constructor's arguments (classes only). */
export interface SpawnOptions<A extends readonly unknown[] = readonly unknown[]> extends SupervisionOptions {
  /** Registers the actor under this name (hierarchical names like `services/llm/router` are fine). */
  name?: string;
  /** Whether a named actor is discoverable cluster-wide. @default true */
  public?: boolean;
  /** Constructor arguments. */
  args?: A;
  /** Spawn on this node (a nodeId) instead of here; the class must be registered there too. */
  node?: string;
  /** How many async calls may be in flight at once (1 = strictly serial). @default Infinity */
  concurrency?: number;
  /** Aborting it before the actor has started stops it: `spawn()` rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Options of `mount()`. */
export interface MountOptions {
  /** The name it is reachable under (required). */
  name: string;
  /** Whether it is discoverable cluster-wide. @default true */
  public?: boolean;
}

/** One node of the cluster, as `system.members()` reports it. */
export interface Member {
  nodeId: string;
  addrs: string[];
  status: "alive" | "suspect" | "dead";
  runtime: RuntimeKind;
  /** Its public named actors. */
  actors: string[];
}

const webrtcOption: Check<boolean | WebRTCOptions> = (where, name, value) => {
  if (typeof value === "boolean") return value;
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    return checkOptions(`${where}: ${name}`, value, { directWaitMs: duration } satisfies OptionSchema<WebRTCOptions>);
  }
  throw invalid(`${where}: '${name}' must be a boolean or an options object, got ${show(value)}`);
};

/** The checks of `ActorSystemOptions` (`init()`, `actorSystem()`). */
export const SYSTEM_OPTIONS = {
  addr: string,
  seeds: stringArray,
  passphrase: string,
  isHeadNode: boolean,
  headAddr: string,
  maxFrameSize: integer(1024),
  privateKey: bytes,
  membership: nested(MEMBERSHIP_OPTIONS),
  resolvePolicy: resolvePolicyOption,
  webrtc: webrtcOption,
  signal: signalOption,
  errorStacks: boolean,
} satisfies OptionSchema<ActorSystemOptions>;

/** The checks of `SpawnOptions`. */
export const SPAWN_OPTIONS = {
  name: string,
  public: boolean,
  args: array,
  node: string,
  concurrency: integer(1, true),
  ...SUPERVISION_OPTIONS,
  signal: signalOption,
} satisfies OptionSchema<SpawnOptions>;

/** The checks of `ResolveOptions`. */
export const RESOLVE_OPTIONS = {
  timeout: duration,
  nodeId: string,
  policy: resolvePolicyOption,
  signal: signalOption,
} satisfies OptionSchema<ResolveOptions>;

/** The checks of `MountOptions`. */
export const MOUNT_OPTIONS = { name: string, public: boolean } satisfies OptionSchema<MountOptions>;

const MAX_NAME_LENGTH = 256;

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
  readonly runtime: RuntimeKind = platform.runtime;
  readonly startedAt = Date.now();
  #cells = new Map<number, ActorCell>();
  #names = new Map<string, ActorCell>();
  #nameWaiters = new Map<string, Set<() => void>>();
  #nextLocalId = SYSTEM_ACTOR_LOCAL_ID + 1;
  #state: "running" | "stopping" | "stopped" = "running";
  #shutdown: Promise<void> | undefined;
  #shutdownListeners = new Set<() => void>();

  readonly #router: CallRouter = {
    route: (target, method, args, mode, options) => this.#route(target, method, args, mode, options),
    addrHint: (nodeId) => this.#mesh?.addrHint(nodeId),
  };

  readonly #host: CellHost = {
    nodeId: "",
    system: this,
    resolve: (name, options) => this.resolve(name, options),
    cellStopped: (cell) => this.#forget(cell),
    reportError: (message, error) => reportError(message, error),
  };

  /** Use `actorSystem()` or `init()`. */
  private constructor(nodeId: string) {
    super();
    this.nodeId = nodeId;
    (this.#host as { nodeId: string }).nodeId = nodeId;
  }

  /** @internal */
  static async create(options: ActorSystemOptions = {}): Promise<ActorSystem> {
    checkSystemOptions(options);
    const signal = options.signal;
    signal?.throwIfAborted();
    if (options.isHeadNode && options.addr === undefined) {
      throw new PulsingRuntimeError(ErrorCode.INVALID_OPTION, "actorSystem(): a head node needs 'addr' to listen on");
    }
    const seeds = [...(options.headAddr !== undefined ? [options.headAddr] : []), ...(options.seeds ?? [])];
    const networked = options.addr !== undefined || seeds.length > 0;
    if (!networked) {
      if (options.passphrase !== undefined) {
        throw new PulsingRuntimeError(ErrorCode.INVALID_OPTION, "actorSystem(): 'passphrase' needs a network: give 'addr' and/or 'seeds'");
      }
      const system = new ActorSystem(await nodeIdOf(options.privateKey));
      await system.#spawnSystemActor();
      return system;
    }
    const privateKey = await loadPrivateKey(options.privateKey);
    const { peerIdFromPrivateKey } = await import("@libp2p/peer-id");
    const system = new ActorSystem(peerIdFromPrivateKey(privateKey).toString());
    await system.#spawnSystemActor();
    const { Mesh } = await import("../transport/mesh.js");
    // Each step of the start races the signal: an abort shuts down what was started and rejects with its reason.
    const step = <T>(promise: Promise<T>): Promise<T> => (signal === undefined ? promise : raceSignal(promise, signal, () => {}));
    try {
      system.#mesh = await Mesh.start({
        privateKey,
        addr: options.addr,
        seeds,
        passphrase: options.passphrase,
        maxFrameSize: options.maxFrameSize,
        errorStacks: options.errorStacks === true,
        webrtc: options.webrtc !== false,
        directWaitMs: typeof options.webrtc === "object" ? options.webrtc.directWaitMs : undefined,
        refs: { refFor: (id, name) => system.#refFor(id, name), hint: (nodeId, addrs) => system.#mesh?.hinted(nodeId, addrs) },
        deliver: (localId, call) => system.#deliver(localId, call),
        report: (message, error) => reportError(message, error),
      });
      const { Cluster } = await import("../cluster/cluster.js");
      system.#cluster = new Cluster(system.#clusterSide(), system.#mesh, {
        membership: { targetPeers: system.#mesh.targetPeers, ...options.membership },
        resolvePolicy: options.resolvePolicy,
        mode: options.isHeadNode ? "head" : options.headAddr !== undefined ? "worker" : "gossip",
      });
      system.#cluster.membership.registry.onChange((name) => system.#notifyName(name));
      await step(system.#cluster.listen());
      await step(system.#cluster.membership.start());
      await step(system.#mesh.join());
      // Hold a seed's member table before returning: every member it knew is callable at once (bounded).
      await step(system.#cluster.membership.joined(system.#mesh.seedPeers()));
    } catch (error) {
      await system.shutdown();
      throw error;
    }
    return system;
  }

  #cluster: Cluster | undefined;
  /** This node's public names: numbered changes, for the cluster registry. */
  readonly #registryEpoch = Date.now();
  #registryVersion = 0;

  #clusterSide(): ClusterSystem {
    return {
      nodeId: this.nodeId,
      runtime: this.runtime,
      localSnapshot: () => this.#localSnapshot(),
      load: () => {
        const m = this.#metrics();
        return { actors: m.actors, mailbox: m.mailboxDepth, inflight: m.inflight };
      },
      callSystemActor: (nodeId, method, args, timeoutMs) =>
        new ActorRef(this.#router, new ActorId(nodeId, SYSTEM_ACTOR_LOCAL_ID), SYSTEM_ACTOR_NAME).invoke(method, args, "ask", {
          timeout: timeoutMs,
        }).promise,
      emit: (type, member) => this.dispatchEvent(new CustomEvent(type, { detail: member })),
      report: (message, error) => reportError(message, error),
    };
  }

  #localSnapshot(): RegistrySnapshot {
    const names: Array<[string, number]> = [];
    for (const cell of this.#names.values()) {
      if (cell.isPublic && cell.alive && cell.status !== "starting") names.push([cell.name!, cell.id.localId]);
    }
    return { incarnation: this.#registryEpoch, version: this.#registryVersion, names };
  }

  /** A public name appeared or went on this node: number the change and tell the cluster. */
  #publicNamesChanged(added: Array<[string, number]>, removed: string[]): void {
    this.#registryVersion++;
    this.#cluster?.membership.localRegistryChanged(this.#localSnapshot(), added, removed);
  }

  /** The multiaddrs this node listens on (with `/p2p/<nodeId>`); empty for a standalone system. */
  get addrs(): string[] {
    return this.#mesh?.addrs ?? [];
  }

  #mesh: Mesh | undefined;

  /** @internal The network side, when there is one. */
  get mesh(): Mesh | undefined {
    return this.#mesh;
  }

  get isRunning(): boolean {
    return this.#state === "running";
  }

  // --- actors ------------------------------------------------------------------------------------------------

  /**
   * Starts an actor and returns its ref. `target` is a class (built with `args`; restartable), a factory
   * `() => instance` (restartable), an instance (not restartable), or a `stateful()` behavior.
   */
  async spawn(target: unknown, options: SpawnOptions = {}): Promise<ActorRef> {
    this.#assertRunning("spawn()");
    checkOptions("spawn()", options, SPAWN_OPTIONS);
    const name = checkName("spawn()", options.name);
    const signal = options.signal;
    signal?.throwIfAborted();
    if (options.node !== undefined && options.node !== this.nodeId) return this.#spawnRemote(target, options, name);
    const isPublic = options.public ?? true;
    const plan = planActor(target, options.args, name);
    const supervision = resolveSupervision("spawn()", options, resolveSupervision("spawn()", plan.defaults, DEFAULT_SUPERVISION));
    const concurrency = options.concurrency ?? plan.defaults.concurrency ?? (plan.serial ? 1 : Infinity);
    if (supervision.restartPolicy !== "never" && plan.rebuild === undefined) {
      throw new PulsingRuntimeError(
        ErrorCode.INVALID_OPTION,
        `spawn(): restartPolicy "${supervision.restartPolicy}" needs a class or a factory to rebuild the actor; an instance cannot be rebuilt`,
      );
    }
    if (name !== undefined && this.#names.has(name)) {
      throw new PulsingRuntimeError(ErrorCode.NAME_TAKEN, `spawn(): an actor named '${name}' already exists on this node`);
    }
    const instance = plan.build();
    const cell = new ActorCell(this.#host, {
      id: new ActorId(this.nodeId, this.#nextLocalId++),
      name,
      isPublic: name !== undefined && isPublic,
      className: plan.className,
      instance,
      rebuild: plan.rebuild,
      supervision,
      concurrency,
    });
    const started = this.#register(cell);
    if (signal === undefined) return started;
    // Aborted while it starts: it is stopped once started (a start cannot be interrupted half-way).
    return raceSignal(started, signal, () => void started.then(() => cell.stop("stopped: its spawn() was aborted"), () => {}));
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
    this.#assertRunning("resolve()");
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
      await this.#nameAppears(name, left, signal);
      this.#assertRunning("resolve()");
    }
  }

  /** A ref from an `ActorId` or its string form `"<nodeId>:<localId>"`, local or remote. */
  async refer(actorId: ActorId | string): Promise<ActorRef> {
    this.#assertRunning("refer()");
    const id = ActorId.from(actorId);
    if (id.nodeId === this.nodeId) {
      const cell = this.#cells.get(id.localId);
      if (cell === undefined) throw new PulsingRuntimeError(ErrorCode.ACTOR_NOT_FOUND, `no actor with id ${String(id)} on this node`);
      return new ActorRef(this.#router, cell.id, cell.name, cell);
    }
    return new ActorRef(this.#router, id);
  }

  /** Whether a named actor exists on this node or (when clustered) anywhere in the cluster. */
  async hasActor(name: string): Promise<boolean> {
    checkName("hasActor()", name);
    const local = this.#names.get(name);
    if (local !== undefined && local.alive) return true;
    const membership = this.#cluster?.membership;
    return membership !== undefined && membership.registry.instances(name).some((e) => !membership.isDead(e.nodeId));
  }

  /** Stops a local actor by name, id or ref; resolves after its `onStop` ran. */
  async stop(actor: string | ActorId | ActorRef): Promise<void> {
    const cell = this.#findCell(actor);
    if (cell === undefined)
      throw new PulsingRuntimeError(ErrorCode.ACTOR_NOT_FOUND, `stop(): no actor ${describeTarget(actor)} on this node`);
    if (cell.id.localId === SYSTEM_ACTOR_LOCAL_ID)
      throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, "stop(): the system actor cannot be stopped");
    await cell.stop();
  }

  /** A snapshot of the cluster's members (just this node when standalone). */
  members(): Member[] {
    if (this.#cluster !== undefined) return this.#cluster.membership.members();
    return [
      {
        nodeId: this.nodeId,
        addrs: this.addrs,
        status: "alive",
        runtime: this.runtime,
        actors: this.#publicNames(),
      },
    ];
  }

  /** @internal Bytes and messages of membership traffic this node sent and received so far (for the cost benchmark). */
  membershipTraffic(): { bytesIn: number; bytesOut: number; messagesIn: number; messagesOut: number } {
    return { ...(this.#cluster?.membership.counters ?? { bytesIn: 0, bytesOut: 0, messagesIn: 0, messagesOut: 0 }) };
  }

  /** This node's open connections to other nodes, with their kind (empty when standalone). */
  connections(): ConnectionInfo[] {
    return this.#mesh?.connections() ?? [];
  }

  /** Stops every actor and leaves the cluster. Idempotent. */
  shutdown(): Promise<void> {
    this.#shutdown ??= this.#doShutdown();
    return this.#shutdown;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  /** @internal Called once when the system has shut down. */
  onShutdown(listener: () => void): void {
    this.#shutdownListeners.add(listener);
  }

  /** Spawns on another node by class name: the node's system actor builds it from its own class registry. */
  async #spawnRemote(target: unknown, options: SpawnOptions, name: string | undefined): Promise<ActorRef> {
    const node = options.node!;
    if (typeof target !== "function") {
      throw new PulsingRuntimeError(
        ErrorCode.CLASS_NOT_REGISTERED,
        "spawn() on another node takes a class registered with @remote on both nodes",
      );
    }
    const className = remoteClassName(target);
    if (this.#mesh === undefined) {
      throw new PulsingRuntimeError(ErrorCode.NODE_UNKNOWN, `spawn(): unknown node '${node}' (this system is not connected to a cluster)`);
    }
    const { node: _node, signal, ...rest } = options;
    const remoteSystem = new ActorRef(this.#router, new ActorId(node, SYSTEM_ACTOR_LOCAL_ID), SYSTEM_ACTOR_NAME);
    const call = remoteSystem.invoke("spawnActor", [className, rest], "ask", signal !== undefined ? { signal } : undefined);
    const spawned = (await call.promise) as {
      actorId: string;
      name?: string;
    };
    return new ActorRef(this.#router, ActorId.from(spawned.actorId), name);
  }

  // --- routing -----------------------------------------------------------------------------------------------

  #route(
    target: ActorRef,
    method: string | undefined,
    args: readonly unknown[],
    mode: CallMode,
    options: CallOptions | undefined,
  ): CallHandle {
    if (this.#state === "stopped") {
      const what = `${target.name ?? String(target.actorId)}.${method ?? "receive"}`;
      return new FailedCall(
        mode,
        target,
        method,
        new PulsingRuntimeError(ErrorCode.SHUTDOWN, `cannot call ${what}: the actor system is shut down`),
      );
    }
    if (target.actorId.nodeId !== this.nodeId) {
      if (this.#cluster?.membership.isDead(target.actorId.nodeId)) {
        return new FailedCall(mode, target, method, new PulsingRuntimeError(ErrorCode.NODE_DEAD, `node ${target.actorId.nodeId} is dead`));
      }
      if (this.#mesh !== undefined) return this.#mesh.call(target, method, args, mode, options);
      return new FailedCall(
        mode,
        target,
        method,
        new PulsingRuntimeError(
          ErrorCode.NODE_UNREACHABLE,
          `cannot reach node ${target.actorId.nodeId}: this actor system is not connected to a cluster`,
        ),
      );
    }
    let cell = target.route as ActorCell | undefined;
    if (cell === undefined) {
      cell = this.#cells.get(target.actorId.localId);
      if (cell === undefined) {
        return new FailedCall(
          mode,
          target,
          method,
          new PulsingRuntimeError(ErrorCode.ACTOR_NOT_FOUND, `actor ${String(target.actorId)} not found on this node`),
        );
      }
      target.route = cell;
    }
    const call = new LocalCall(target, method, args, mode, options);
    cell.enqueue(call);
    if (mode === "tell") call.settleValue(undefined); // handed over (a stopped actor has already rejected it)
    return call;
  }

  /** A call from the network for the local actor `localId`. */
  #deliver(localId: number, call: InboundCall): void {
    const cell = this.#state === "running" || localId === SYSTEM_ACTOR_LOCAL_ID ? this.#cells.get(localId) : undefined;
    if (cell === undefined) {
      call.respondError(
        new PulsingRuntimeError(
          ErrorCode.SHUTDOWN,
          this.#state === "running"
            ? `actor ${this.nodeId}:${localId} not found on node ${this.nodeId}`
            : `node ${this.nodeId} is shutting down`,
        ),
      );
      return;
    }
    cell.enqueueNow(call);
  }

  /** A ref to `id` bound to this system (refs arriving in messages). */
  #refFor(id: ActorId, name: string | undefined): ActorRef {
    const cell = id.nodeId === this.nodeId ? this.#cells.get(id.localId) : undefined;
    return new ActorRef(this.#router, cell?.id ?? id, name ?? cell?.name, cell);
  }

  // --- registry ----------------------------------------------------------------------------------------------

  async #register(cell: ActorCell): Promise<ActorRef> {
    this.#cells.set(cell.id.localId, cell);
    if (cell.name !== undefined) this.#names.set(cell.name, cell);
    try {
      await cell.start();
    } catch (error) {
      this.#forget(cell);
      throw error;
    }
    if (cell.name !== undefined) {
      if (cell.isPublic && cell.id.localId !== SYSTEM_ACTOR_LOCAL_ID) this.#publicNamesChanged([[cell.name, cell.id.localId]], []);
      this.#notifyName(cell.name);
    }
    return new ActorRef(this.#router, cell.id, cell.name, cell);
  }

  #forget(cell: ActorCell): void {
    if (this.#cells.get(cell.id.localId) === cell) this.#cells.delete(cell.id.localId);
    if (cell.name !== undefined && this.#names.get(cell.name) === cell) {
      this.#names.delete(cell.name);
      if (cell.isPublic && cell.id.localId !== SYSTEM_ACTOR_LOCAL_ID) this.#publicNamesChanged([], [cell.name]);
    }
  }

  /** A named actor: a public one anywhere in the cluster (by the resolve policy), else a private one here. */
  #lookup(name: string, nodeId: string | undefined, policy?: ResolvePolicy): ActorRef | undefined {
    const entry = this.#cluster?.lookup(name, nodeId, policy);
    if (entry !== undefined) {
      const cell = entry.nodeId === this.nodeId ? this.#cells.get(entry.localId) : undefined;
      if (entry.nodeId !== this.nodeId || (cell !== undefined && cell.alive)) {
        return new ActorRef(this.#router, cell?.id ?? new ActorId(entry.nodeId, entry.localId), name, cell);
      }
    }
    if (nodeId === undefined || nodeId === this.nodeId) {
      const cell = this.#names.get(name);
      if (cell !== undefined && cell.alive && cell.status !== "starting") return new ActorRef(this.#router, cell.id, cell.name, cell);
    }
    return undefined;
  }

  #findCell(actor: string | ActorId | ActorRef): ActorCell | undefined {
    if (actor instanceof ActorRef) return actor.actorId.nodeId === this.nodeId ? this.#cells.get(actor.actorId.localId) : undefined;
    if (actor instanceof ActorId) return actor.nodeId === this.nodeId ? this.#cells.get(actor.localId) : undefined;
    if (typeof actor !== "string")
      throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, `stop(): expected a name, ActorId or ActorRef, got ${show(actor)}`);
    const byName = this.#names.get(actor);
    if (byName !== undefined) return byName;
    if (/:\d+$/.test(actor)) {
      const id = ActorId.from(actor);
      return id.nodeId === this.nodeId ? this.#cells.get(id.localId) : undefined;
    }
    return undefined;
  }

  #publicNames(): string[] {
    const names: string[] = [];
    for (const cell of this.#names.values()) if (cell.isPublic && cell.alive) names.push(cell.name!);
    return names.sort();
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

  // --- system actor and introspection ----------------------------------------------------------------------

  async #spawnSystemActor(): Promise<void> {
    const actor = new SystemActor({
      nodeId: this.nodeId,
      spawn: (className, options) => this.#spawnForPeer(className, options),
      listActors: () => this.#listActors(),
      nodeInfo: () => this.#nodeInfo(),
      metrics: () => this.#metrics(),
      health: () => this.#health(),
    });
    const cell = new ActorCell(this.#host, {
      id: new ActorId(this.nodeId, SYSTEM_ACTOR_LOCAL_ID),
      name: SYSTEM_ACTOR_NAME,
      isPublic: false,
      className: "SystemActor",
      instance: actor,
      rebuild: undefined,
      supervision: DEFAULT_SUPERVISION,
      concurrency: Infinity,
    });
    await this.#register(cell);
  }

  /** A peer's `spawn(Cls, { node: <this node> })`: build the class registered here under `className`. */
  async #spawnForPeer(className: unknown, options: unknown): Promise<{ actorId: string; name?: string }> {
    if (typeof className !== "string") throw new PulsingRuntimeError(ErrorCode.PROTOCOL_ERROR, "spawnActor: className must be a string");
    const cls = classByName(className, this.nodeId);
    const spawnOptions = (typeof options === "object" && options !== null ? options : {}) as SpawnOptions;
    if (spawnOptions.node !== undefined) throw new PulsingRuntimeError(ErrorCode.PROTOCOL_ERROR, "spawnActor: 'node' cannot be forwarded");
    const ref = await this.spawn(cls, spawnOptions);
    return ref.name !== undefined ? { actorId: String(ref.actorId), name: ref.name } : { actorId: String(ref.actorId) };
  }

  #listActors(): ActorInfo[] {
    return [...this.#cells.values()].map((cell) => {
      const stats = cell.stats;
      const info: ActorInfo = {
        actorId: String(cell.id),
        public: cell.isPublic,
        status: cell.status,
        ...stats,
        createdAt: cell.createdAt,
      };
      if (cell.name !== undefined) info.name = cell.name;
      if (cell.className !== undefined) info.className = cell.className;
      return info;
    });
  }

  #nodeInfo(): NodeInfo {
    return {
      nodeId: this.nodeId,
      addrs: this.addrs,
      runtime: this.runtime,
      version: VERSION,
      startedAt: this.startedAt,
      classes: registeredClassNames(),
    };
  }

  #metrics(): NodeMetrics {
    const totals = { messagesProcessed: 0, messageFailures: 0, restarts: 0, mailboxDepth: 0, inflight: 0 };
    for (const cell of this.#cells.values()) {
      const s = cell.stats;
      totals.messagesProcessed += s.processed;
      totals.messageFailures += s.failures;
      totals.restarts += s.restarts;
      totals.mailboxDepth += s.mailbox;
      totals.inflight += s.inflight;
    }
    const members = { alive: 0, suspect: 0, dead: 0 };
    for (const m of this.members()) members[m.status]++;
    const transport = {
      connections: this.#mesh?.node.getConnections().length ?? 0,
      malformedFrames: this.#mesh?.counters.malformedFrames ?? 0,
      oversizedFrames: this.#mesh?.counters.oversizedFrames ?? 0,
    };
    return { nodeId: this.nodeId, uptimeMs: Date.now() - this.startedAt, actors: this.#cells.size, ...totals, members, transport };
  }

  #health(): HealthStatus {
    return {
      status: this.#state === "running" ? "healthy" : "stopping",
      nodeId: this.nodeId,
      uptimeMs: Date.now() - this.startedAt,
      actors: this.#cells.size,
    };
  }

  // --- lifecycle ---------------------------------------------------------------------------------------------

  #assertRunning(what: string): void {
    if (this.#state !== "running") throw new PulsingRuntimeError(ErrorCode.SHUTDOWN, `${what}: the actor system is shut down`);
  }

  async #doShutdown(): Promise<void> {
    this.#state = "stopping";
    await this.#cluster?.membership.stop().catch((error: unknown) => reportError("leaving the cluster failed", error));
    const cells = [...this.#cells.values()].filter((c) => c.id.localId !== SYSTEM_ACTOR_LOCAL_ID);
    await Promise.all(cells.map((cell) => cell.stop("stopped: the actor system shut down")));
    await this.#mesh?.stop().catch((error: unknown) => reportError("stopping the network failed", error));
    await this.#cells.get(SYSTEM_ACTOR_LOCAL_ID)?.stop("stopped: the actor system shut down");
    this.#state = "stopped";
    for (const wake of [...this.#nameWaiters.values()].flatMap((set) => [...set])) wake();
    for (const listener of this.#shutdownListeners) listener();
    this.#shutdownListeners.clear();
  }
}

// --- helpers -----------------------------------------------------------------------------------------------

interface ActorPlan {
  build(): object;
  rebuild: (() => object) | undefined;
  className: string | undefined;
  defaults: RemoteOptions;
  /** Behaviors handle one message at a time by default. */
  serial: boolean;
}

function planActor(target: unknown, args: unknown, name: string | undefined): ActorPlan {
  const label = name !== undefined ? `'${name}'` : "an anonymous actor";
  if (args !== undefined && !Array.isArray(args)) {
    throw new PulsingRuntimeError(ErrorCode.INVALID_OPTION, `spawn(): 'args' must be an array of constructor arguments, got ${show(args)}`);
  }
  const wrap = (make: () => unknown, what: string) => (): object => {
    let instance: unknown;
    try {
      instance = make();
    } catch (error) {
      throw toActorError(error, name);
    }
    if (typeof instance !== "object" || instance === null) {
      throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, `spawn(): ${what} for ${label} returned ${show(instance)}, not an object`);
    }
    return instance;
  };
  if (isBehavior(target)) {
    if (args !== undefined)
      throw new PulsingRuntimeError(ErrorCode.INVALID_OPTION, "spawn(): 'args' only apply to classes, not to behaviors");
    const build = wrap(() => target.create(), "the behavior");
    return { build, rebuild: build, className: "Behavior", defaults: {}, serial: true };
  }
  if (typeof target === "function") {
    if (isClass(target)) {
      const ctor = target as new (...a: unknown[]) => object;
      const list = (args ?? []) as unknown[];
      const build = wrap(() => new ctor(...list), "the constructor");
      const info = remoteInfo(target);
      const className = info !== undefined ? info.name : target.name || undefined;
      return { build, rebuild: build, className, defaults: info?.options ?? {}, serial: false };
    }
    if (args !== undefined)
      throw new PulsingRuntimeError(ErrorCode.INVALID_OPTION, "spawn(): 'args' only apply to classes, not to factory functions");
    const build = wrap(target as () => unknown, "the factory");
    return { build, rebuild: build, className: undefined, defaults: {}, serial: false };
  }
  if (typeof target === "object" && target !== null) {
    if (args !== undefined)
      throw new PulsingRuntimeError(ErrorCode.INVALID_OPTION, "spawn(): 'args' only apply to classes, not to instances");
    const ctor = (target as { constructor?: Function }).constructor;
    const info = typeof ctor === "function" ? remoteInfo(ctor) : undefined;
    return {
      build: () => target,
      rebuild: undefined,
      className: info !== undefined ? info.name : typeof ctor === "function" && ctor !== Object ? ctor.name || undefined : undefined,
      defaults: info?.options ?? {},
      serial: false,
    };
  }
  throw new PulsingRuntimeError(
    ErrorCode.INVALID_ARGUMENT,
    `spawn(): expected an actor class, a factory function, an object or a behavior, got ${show(target)}`,
  );
}

/** Classes (and old-style constructor functions with methods) are constructed; other functions are factories. */
function isClass(fn: Function): boolean {
  if (remoteInfo(fn) !== undefined) return true;
  if (!Object.hasOwn(fn, "prototype")) return false;
  if (/^class[\s{]/.test(Function.prototype.toString.call(fn))) return true;
  return Object.getOwnPropertyNames(fn.prototype).length > 1;
}

export function checkName(where: string, name: unknown): string | undefined {
  if (name === undefined) return undefined;
  if (typeof name !== "string" || name.length === 0 || name.length > MAX_NAME_LENGTH || /[\s\u0000-\u001f]/.test(name)) {
    throw new PulsingRuntimeError(
      ErrorCode.INVALID_ARGUMENT,
      `${where}: invalid actor name ${show(name)} (a non-empty string of at most ${MAX_NAME_LENGTH} characters without whitespace)`,
    );
  }
  return name;
}

export function checkSystemOptions(options: ActorSystemOptions): void {
  checkOptions("actorSystem()", options, SYSTEM_OPTIONS);
  if (options.isHeadNode && options.headAddr !== undefined) {
    throw invalid("actorSystem(): 'isHeadNode' and 'headAddr' are mutually exclusive");
  }
}

/**
 * Settles like `promise`, or rejects with `signal`'s reason when it aborts first (then `abandoned` runs: what the
 * promise still does must be undone by it).
 */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal, abandoned: () => void): Promise<T> {
  if (signal.aborted) {
    abandoned();
    return Promise.reject(abortReason(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      abandoned();
      reject(abortReason(signal));
    };
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

function describeTarget(actor: unknown): string {
  return typeof actor === "string" ? `'${actor}'` : String(actor);
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

async function nodeIdOf(bytes: Uint8Array | undefined): Promise<string> {
  const { peerIdFromPrivateKey } = await import("@libp2p/peer-id");
  return peerIdFromPrivateKey(await loadPrivateKey(bytes)).toString();
}

function reportError(message: string, error?: unknown): void {
  if (error === undefined) {
    console.warn(`[pulsing] ${message}`);
    return;
  }
  const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  console.warn(`[pulsing] ${message}: ${detail}`);
}
