import { platform } from "#platform";
import { ErrorCode, PulsingRuntimeError, raceSignal, toActorError } from "../errors/errors.js";
import type { RuntimeKind } from "../platform/platform.js";
import { show } from "../util/options.js";
import { ActorCell, type CellHost } from "./actor-cell.js";
import { ActorId } from "./actor-id.js";
import { CallStats, LATENCY_BOUNDS_MS } from "./call-stats.js";
import { ActorRef, type CallRouter } from "./actor-ref.js";
import "./ref-codec.js";
import { isBehavior } from "./behavior.js";
import { FailedCall, type CallHandle } from "./call-handle.js";
import type { CallMode, CallOptions, InboundCall } from "./call-types.js";
import { registeredClassNames, remoteInfo, type RemoteOptions } from "./class-registry.js";
import { LocalCall } from "./local-call.js";
import { DEFAULT_SUPERVISION, resolveSupervision, type SupervisionOptions } from "./supervision.js";
import {
  SYSTEM_ACTOR_LOCAL_ID,
  SYSTEM_ACTOR_NAME,
  SystemActor,
  type ActorInfo,
  type ClassMetrics,
  type HealthStatus,
  type NodeInfo,
  type NodeMetrics,
  type QueuesAndTopics,
} from "./system-actor.js";

export const VERSION = "0.1.0";

const MAX_NAME_LENGTH = 256;

/** The options of a spawn on this node: `spawn()`'s without `node` (a remote spawn forwards them, without `signal`). */
export interface LocalSpawnOptions extends SupervisionOptions {
  name?: string;
  public?: boolean;
  args?: readonly unknown[];
  concurrency?: number;
  signal?: AbortSignal;
}

/**
 * How the actors of a node reach other nodes: the port a networked node's composition (src/system/start-node.ts)
 * plugs in. The actor layer knows nothing of the transport or the cluster beyond it.
 */
export interface Network {
  /** This node's listen addresses (with `/p2p/<nodeId>`). */
  readonly addrs: string[];
  /** Starts a call to an actor of another node (failing fast when that node is known to be dead). */
  call(target: ActorRef, method: string | undefined, args: readonly unknown[], mode: CallMode, options: CallOptions | undefined): CallHandle;
  /** The address hint refs to `nodeId`'s actors carry (see ref-codec.ts); undefined when none is known. */
  addrHint(nodeId: string): readonly string[] | undefined;
  /** What the system actor's metrics report of the network. */
  stats(): Pick<NodeMetrics, "members" | "transport">;
  /** This node's public names changed: `added` as `[name, localId]`, `removed` by name (the cluster is told). */
  publicNamesChanged(added: Array<[string, number]>, removed: string[]): void;
  /** Leaves the cluster (the others see this node go): the first step of a shutdown, while the actors still run. */
  leave(): Promise<void>;
  /** Stops the network: after the actors have stopped, before the system actor (which answers to the end). */
  stop(): Promise<void>;
}

/** What the actors of a node need from the system they belong to. */
export interface LocalActorsInit {
  readonly nodeId: string;
  /** What `ctx.system` is: the public system these actors belong to. */
  readonly system: object;
  /** What `ctx.actorRef(name, options)` does: the system's resolve, cluster-wide. */
  resolve(name: string, options?: unknown): Promise<ActorRef>;
  /** A named actor started here (resolve's waiters look again). */
  named(name: string): void;
  /** Something failed with nobody to tell. */
  report(message: string, error?: unknown): void;
  /** What the system actor's `getQueuesAndTopics()` answers (the system layer, above this one, knows them). */
  queuesAndTopics?(): Promise<QueuesAndTopics>;
}

/**
 * The actors of one node: their cells, names and ids, spawning and stopping them, routing calls (to a local cell,
 * or to the `Network` for other nodes), calls arriving from the network, and the system actor. The public
 * `ActorSystem` (src/system/actor-system.ts) is built on it.
 */
export class LocalActors {
  readonly nodeId: string;
  readonly runtime: RuntimeKind = platform.runtime;
  readonly startedAt = Date.now();
  readonly #init: LocalActorsInit;
  readonly #cells = new Map<number, ActorCell>();
  readonly #names = new Map<string, ActorCell>();
  #nextLocalId = SYSTEM_ACTOR_LOCAL_ID + 1;
  #state: "running" | "stopping" | "stopped" = "running";
  #network: Network | undefined;
  /** Call counters and latency per actor class (kept after the actors stop: they are counters). */
  readonly #classStats = new Map<string, CallStats>();

  /** What refs of this node call through. */
  readonly router: CallRouter = {
    route: (target, method, args, mode, options) => this.#route(target, method, args, mode, options),
    addrHint: (nodeId) => this.#network?.addrHint(nodeId),
  };

  readonly #host: CellHost;

  constructor(init: LocalActorsInit) {
    this.nodeId = init.nodeId;
    this.#init = init;
    this.#host = {
      nodeId: init.nodeId,
      system: init.system,
      resolve: (name, options) => init.resolve(name, options),
      cellStopped: (cell) => this.#forget(cell),
      reportError: (message, error) => init.report(message, error),
    };
  }

  /** Connects these actors to the other nodes (a networked node, once its transport has started). */
  attach(network: Network): void {
    this.#network = network;
  }

  get isRunning(): boolean {
    return this.#state === "running";
  }

  /** The network's addresses; empty for a standalone node. */
  get addrs(): string[] {
    return this.#network?.addrs ?? [];
  }

  assertRunning(what: string): void {
    if (this.#state !== "running") throw new PulsingRuntimeError(ErrorCode.SHUTDOWN, `${what}: the actor system is shut down`);
  }

  // --- actors ------------------------------------------------------------------------------------------------

  /** Starts an actor on this node (see `ActorSystem.spawn`; options already checked against their schema). */
  async spawn(target: unknown, options: LocalSpawnOptions = {}): Promise<ActorRef> {
    this.assertRunning("spawn()");
    const name = checkName("spawn()", options.name);
    const signal = options.signal;
    signal?.throwIfAborted();
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
      calls: this.#statsOf(plan.className),
    });
    const started = this.#register(cell);
    if (signal === undefined) return started;
    // Aborted while it starts: it is stopped once started (a start cannot be interrupted half-way).
    return raceSignal(started, signal, () => void started.then(() => cell.stop("stopped: its spawn() was aborted"), () => {}));
  }

  /** A ref to the actor `id`: a local one must exist; one of another node is not checked. */
  refer(id: ActorId): ActorRef {
    if (id.nodeId === this.nodeId) {
      const cell = this.#cells.get(id.localId);
      if (cell === undefined) throw new PulsingRuntimeError(ErrorCode.ACTOR_NOT_FOUND, `no actor with id ${String(id)} on this node`);
      return new ActorRef(this.router, cell.id, cell.name, cell);
    }
    return new ActorRef(this.router, id);
  }

  /** A ref to `name` registered at `nodeId`/`localId` (a cluster registry entry); undefined when it is a local actor no longer alive. */
  refAt(nodeId: string, localId: number, name: string | undefined): ActorRef | undefined {
    if (nodeId !== this.nodeId) return new ActorRef(this.router, new ActorId(nodeId, localId), name);
    const cell = this.#cells.get(localId);
    return cell !== undefined && cell.alive ? new ActorRef(this.router, cell.id, name, cell) : undefined;
  }

  /** A ref to the local actor named `name` (public or not), once it has started. */
  named(name: string): ActorRef | undefined {
    const cell = this.#names.get(name);
    return cell !== undefined && cell.alive && cell.status !== "starting" ? new ActorRef(this.router, cell.id, cell.name, cell) : undefined;
  }

  /** Whether a local actor named `name` is alive. */
  has(name: string): boolean {
    return this.#names.get(name)?.alive === true;
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

  /** The names of this node's public actors, sorted. */
  publicNames(): string[] {
    const names: string[] = [];
    for (const cell of this.#names.values()) if (cell.isPublic && cell.alive) names.push(cell.name!);
    return names.sort();
  }

  /** This node's public actors that have started: `[name, localId]`. */
  publicEntries(): Array<[string, number]> {
    const entries: Array<[string, number]> = [];
    for (const cell of this.#names.values()) {
      if (cell.isPublic && cell.alive && cell.status !== "starting") entries.push([cell.name!, cell.id.localId]);
    }
    return entries;
  }

  /** How busy this node's actors are (membership reports it). */
  load(): { actors: number; mailbox: number; inflight: number } {
    const m = this.#metrics();
    return { actors: m.actors, mailbox: m.mailboxDepth, inflight: m.inflight };
  }

  // --- routing -----------------------------------------------------------------------------------------------

  #route(target: ActorRef, method: string | undefined, args: readonly unknown[], mode: CallMode, options: CallOptions | undefined): CallHandle {
    if (this.#state === "stopped") {
      const what = `${target.name ?? String(target.actorId)}.${method ?? "receive"}`;
      return new FailedCall(mode, target, method, new PulsingRuntimeError(ErrorCode.SHUTDOWN, `cannot call ${what}: the actor system is shut down`));
    }
    if (target.actorId.nodeId !== this.nodeId) {
      if (this.#network !== undefined) return this.#network.call(target, method, args, mode, options);
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
  deliver(localId: number, call: InboundCall): void {
    const cell = this.#state === "running" || localId === SYSTEM_ACTOR_LOCAL_ID ? this.#cells.get(localId) : undefined;
    if (cell === undefined) {
      call.respondError(
        new PulsingRuntimeError(
          ErrorCode.SHUTDOWN,
          this.#state === "running" ? `actor ${this.nodeId}:${localId} not found on node ${this.nodeId}` : `node ${this.nodeId} is shutting down`,
        ),
      );
      return;
    }
    cell.enqueueNow(call);
  }

  /** A ref to `id` bound to this node (refs arriving in messages). */
  refFor(id: ActorId, name: string | undefined): ActorRef {
    const cell = id.nodeId === this.nodeId ? this.#cells.get(id.localId) : undefined;
    return new ActorRef(this.router, cell?.id ?? id, name ?? cell?.name, cell);
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
      if (cell.isPublic && cell.id.localId !== SYSTEM_ACTOR_LOCAL_ID) this.#network?.publicNamesChanged([[cell.name, cell.id.localId]], []);
      this.#init.named(cell.name);
    }
    return new ActorRef(this.router, cell.id, cell.name, cell);
  }

  #forget(cell: ActorCell): void {
    if (this.#cells.get(cell.id.localId) === cell) this.#cells.delete(cell.id.localId);
    if (cell.name !== undefined && this.#names.get(cell.name) === cell) {
      this.#names.delete(cell.name);
      if (cell.isPublic && cell.id.localId !== SYSTEM_ACTOR_LOCAL_ID) this.#network?.publicNamesChanged([], [cell.name]);
    }
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

  // --- system actor and introspection ----------------------------------------------------------------------

  /** Starts the system actor (before the network, which delivers calls to it). */
  async startSystemActor(): Promise<void> {
    const actor = new SystemActor({
      nodeId: this.nodeId,
      listActors: () => this.#listActors(),
      nodeInfo: () => this.#nodeInfo(),
      metrics: () => this.#metrics(),
      health: () => this.#health(),
      ...(this.#init.queuesAndTopics !== undefined ? { queuesAndTopics: this.#init.queuesAndTopics } : {}),
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
      calls: this.#statsOf("SystemActor"),
    });
    await this.#register(cell);
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
    const network = this.#network?.stats() ?? {
      members: { alive: 1, suspect: 0, dead: 0 }, // standalone: just this node
      transport: { connections: 0, malformedFrames: 0, oversizedFrames: 0 },
    };
    return {
      nodeId: this.nodeId,
      uptimeMs: Date.now() - this.startedAt,
      actors: this.#cells.size,
      ...totals,
      ...network,
      classes: [...this.#classStats.values()].map(classMetrics),
    };
  }

  #statsOf(className: string | undefined): CallStats {
    const key = className ?? "(anonymous)";
    let stats = this.#classStats.get(key);
    if (stats === undefined) this.#classStats.set(key, (stats = new CallStats(key)));
    return stats;
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

  /** Leaves the cluster, stops every actor, the network, then the system actor. Call once. */
  async shutdown(): Promise<void> {
    this.#state = "stopping";
    const report = this.#init.report;
    await this.#network?.leave().catch((error: unknown) => report("leaving the cluster failed", error));
    const cells = [...this.#cells.values()].filter((c) => c.id.localId !== SYSTEM_ACTOR_LOCAL_ID);
    await Promise.all(cells.map((cell) => cell.stop("stopped: the actor system shut down")));
    await this.#network?.stop().catch((error: unknown) => report("stopping the network failed", error));
    await this.#cells.get(SYSTEM_ACTOR_LOCAL_ID)?.stop("stopped: the actor system shut down");
    this.#state = "stopped";
  }
}

// --- helpers -----------------------------------------------------------------------------------------------

function classMetrics(stats: CallStats): ClassMetrics {
  const counts = [...stats.latency];
  return {
    className: stats.className,
    calls: stats.calls,
    errors: stats.errors,
    latency: { boundsMs: [...LATENCY_BOUNDS_MS], counts, sumMs: stats.latencySumMs, count: counts.reduce((a, b) => a + b, 0) },
  };
}

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

function describeTarget(actor: unknown): string {
  return typeof actor === "string" ? `'${actor}'` : String(actor);
}
