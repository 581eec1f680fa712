import { ErrorCode, PulsingRuntimeError } from "./errors/errors.js";
import type { ActorId } from "./actor/actor-id.js";
import { ActorRef } from "./actor/actor-ref.js";
import { proxyRef } from "./actor/proxy.js";
import type { ActorClass, ActorProxy } from "./actor/proxy-types.js";
import { SYSTEM_ACTOR_LOCAL_ID, SystemActor } from "./actor/system-actor.js";
import { ActorSystem } from "./system/actor-system.js";
import { checkSystemOptions, RESOLVE_OPTIONS, type ActorSystemOptions, type MountOptions, type ResolveOptions, type SpawnOptions } from "./system/options.js";
import { checkOptions, constructor, type OptionSchema } from "./util/options.js";
import { registerBackend } from "./streaming/backend.js";
import type { QueueApi } from "./streaming/queue.js";
import type { TopicApi } from "./streaming/topic.js";

/**
 * The global, module-level API (`pul.init()`, `pul.spawn()`, …): one process-wide system set by `init()`.
 * `actorSystem()` makes independent systems for those who want several.
 */

let globalSystem: ActorSystem | undefined;
let starting: Promise<ActorSystem> | undefined;

/** Creates an actor system without making it the global one. */
export async function actorSystem(options: ActorSystemOptions = {}): Promise<ActorSystem> {
  return ActorSystem.create(options);
}

/** Starts the global actor system. Idempotent: a second call returns the running system. */
export async function init(options: ActorSystemOptions = {}): Promise<ActorSystem> {
  checkSystemOptions(options); // a mistake is reported even when the system is already running
  if (globalSystem !== undefined) return globalSystem;
  starting ??= (async () => {
    try {
      const system = await ActorSystem.create(options);
      globalSystem = system;
      system.onShutdown(() => {
        if (globalSystem === system) globalSystem = undefined;
      });
      return system;
    } finally {
      starting = undefined;
    }
  })();
  return starting;
}

/** Shuts the global system down. Idempotent. */
export async function shutdown(): Promise<void> {
  const system = globalSystem ?? (starting !== undefined ? await starting.catch(() => undefined) : undefined);
  globalSystem = undefined;
  await system?.shutdown();
}

export function isInitialized(): boolean {
  return globalSystem !== undefined;
}

/** The global system; a `PulsingRuntimeError` before `init()`. */
export function getSystem(): ActorSystem {
  if (globalSystem === undefined) {
    throw new PulsingRuntimeError(ErrorCode.NOT_INITIALIZED, "the actor system is not initialized: call 'await pul.init()' first");
  }
  return globalSystem;
}

/** Constructor arguments are required in the options exactly when the constructor requires them. */
export type SpawnArgs<C extends ActorClass> =
  [] extends ConstructorParameters<C>
    ? [options?: SpawnOptions<ConstructorParameters<C>>]
    : [options: SpawnOptions<ConstructorParameters<C>> & { args: ConstructorParameters<C> }];

/** Spawns an actor of class `Cls` on the global system and returns a typed proxy. */
export async function spawn<C extends ActorClass>(cls: C, ...options: SpawnArgs<C>): Promise<ActorProxy<InstanceType<C>>> {
  return spawnOn(getSystem(), cls, options[0]);
}

/** @internal */
export async function spawnOn<C extends ActorClass>(
  system: ActorSystem,
  cls: C,
  options: SpawnOptions | undefined,
): Promise<ActorProxy<InstanceType<C>>> {
  if (typeof cls !== "function") {
    throw new PulsingRuntimeError(
      ErrorCode.INVALID_ARGUMENT,
      `spawn(): expected an actor class, got ${cls === null ? "null" : typeof cls}`,
    );
  }
  const ref = await system.spawn(cls, options);
  return ref.asType(cls) as ActorProxy<InstanceType<C>>;
}

/** Options of the global `resolve()`: `cls` makes the proxy typed. */
export interface ResolveProxyOptions<T = any> extends ResolveOptions {
  cls?: abstract new (...args: any[]) => T;
}

/** The checks of `ResolveProxyOptions`. */
export const RESOLVE_PROXY_OPTIONS = { ...RESOLVE_OPTIONS, cls: constructor } satisfies OptionSchema<ResolveProxyOptions>;

/** Finds a named actor anywhere in the cluster and returns a proxy (typed with `cls`). */
export async function resolve<T = any>(name: string, options: ResolveProxyOptions<T> = {}): Promise<ActorProxy<T>> {
  checkOptions("resolve()", options, RESOLVE_PROXY_OPTIONS);
  const { cls, ...rest } = options;
  const ref = await getSystem().resolve(name, rest);
  return (cls !== undefined ? ref.asType(cls as unknown as ActorClass) : ref.asAny()) as ActorProxy<T>;
}

/** A ref from an `ActorId` or `"<nodeId>:<localId>"`, on the global system. */
export async function refer(actorId: ActorId | string): Promise<ActorRef> {
  return getSystem().refer(actorId);
}

/** Puts an existing object on the mesh of the global system. */
export async function mount(instance: object, options: MountOptions): Promise<ActorRef> {
  return getSystem().mount(instance, options);
}

/** Takes a mounted object off the mesh of the global system. */
export async function unmount(name: string): Promise<void> {
  return getSystem().unmount(name);
}

/** `ref.ask(msg, { timeout })`: rejects with `PulsingTimeoutError` after `timeoutMs`. Accepts a ref or a proxy. */
export async function askWithTimeout<R = unknown>(target: ActorRef | ActorProxy<any>, msg: unknown, timeoutMs: number): Promise<R> {
  const ref = target instanceof ActorRef ? target : proxyRef(target);
  if (ref === undefined)
    throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, "askWithTimeout(): expected an ActorRef or an actor proxy");
  if (typeof timeoutMs !== "number" || !(timeoutMs >= 0)) {
    throw new PulsingRuntimeError(
      ErrorCode.INVALID_OPTION,
      `askWithTimeout(): timeout must be a non-negative number of ms, got ${String(timeoutMs)}`,
    );
  }
  return ref.ask<R>(msg, { timeout: timeoutMs });
}

/** A typed proxy to the system actor of `nodeId` (default: this node) of `system` (default: the global one). */
export async function getSystemActor(system?: ActorSystem, nodeId?: string): Promise<ActorProxy<SystemActor>> {
  const sys = system ?? getSystem();
  const ref = await sys.refer(`${nodeId ?? sys.nodeId}:${SYSTEM_ACTOR_LOCAL_ID}`);
  return ref.asType(SystemActor);
}

/**
 * Queues of the global system (`system.queue` for another): `queue.write(name, options)`, `queue.read(name,
 * options)`, and `queue.registerBackend(name, Class)` (which needs no system).
 */
export const queue: QueueApi = {
  write: (topic, options) => getSystem().queue.write(topic, options),
  read: (topic, options) => getSystem().queue.read(topic, options),
  registerBackend,
};

/** Topics of the global system (`system.topic` for another): `topic.write(name)`, `topic.read(name)`. */
export const topic: TopicApi = {
  write: (name) => getSystem().topic.write(name),
  read: (name) => getSystem().topic.read(name),
};
