import { ErrorCode, PulsingRuntimeError } from "./errors/errors.js";
import { resolve, spawn, type SpawnArgs } from "./global.js";
import { checkOptions } from "./util/options.js";
import { registerClass, REMOTE_OPTIONS, type RemoteOptions } from "./actor/class-registry.js";
import type { ActorClass, ActorProxy } from "./actor/proxy-types.js";
import { DEFAULT_SUPERVISION, resolveSupervision } from "./actor/supervision.js";
import type { ResolveOptions } from "./system/options.js";

/** The statics `@remote` gives a class: `Counter.spawn(...)`, `Counter.resolve(name)` (on the global system). */
export interface RemoteStatics<C extends ActorClass> {
  spawn(...options: SpawnArgs<C>): Promise<ActorProxy<InstanceType<C>>>;
  resolve(name: string, options?: ResolveOptions): Promise<ActorProxy<InstanceType<C>>>;
}

export type RemoteClass<C extends ActorClass> = C & RemoteStatics<C>;

type ClassDecorator = <C extends ActorClass>(cls: C, context?: ClassDecoratorContext<C>) => RemoteClass<C>;

/**
 * Makes a class an actor class: registers it (so other nodes can spawn it by name) and gives it typed
 * `spawn`/`resolve` statics. Use as a decorator (`@remote`, `@remote({ restartPolicy: "on_failure" })`) or as a
 * function (`const Counter = remote(class Counter { … })`), which also types the statics.
 */
export function remote<C extends ActorClass>(cls: C, context?: ClassDecoratorContext<C>): RemoteClass<C>;
export function remote(options: RemoteOptions): ClassDecorator;
export function remote(target: unknown, context?: unknown): unknown {
  if (typeof target === "function") return makeRemote(target as ActorClass, {}, context);
  if (typeof target === "object" && target !== null) {
    const options = checkRemoteOptions(target as RemoteOptions);
    return (cls: ActorClass, ctx?: ClassDecoratorContext) => makeRemote(cls, options, ctx);
  }
  throw new PulsingRuntimeError(
    ErrorCode.INVALID_ARGUMENT,
    `@remote expects a class or an options object, got ${target === null ? "null" : typeof target}`,
  );
}

function makeRemote<C extends ActorClass>(cls: C, options: RemoteOptions, context: unknown): RemoteClass<C> {
  if (typeof cls !== "function") throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, `@remote expects a class, got ${typeof cls}`);
  if (context !== undefined && (context as { kind?: unknown }).kind !== "class") {
    throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, "@remote decorates classes only");
  }
  // A class without a usable name (minifiers drop them) is still an actor class; only a spawn from another node
  // needs a name, and fails then, saying how to give one.
  const contextName = (context as { name?: unknown } | undefined)?.name;
  const name = options.name ?? ((typeof contextName === "string" ? contextName : undefined) || cls.name || undefined);
  registerClass(cls, name, options);
  defineStatic(cls, "spawn", function spawnStatic(this: C, ...args: SpawnArgs<C>) {
    return spawn(cls, ...args);
  });
  defineStatic(cls, "resolve", function resolveStatic(this: C, actorName: string, resolveOptions?: ResolveOptions) {
    return resolve<InstanceType<C>>(actorName, { ...resolveOptions, cls: cls as unknown as new () => InstanceType<C> });
  });
  return cls as RemoteClass<C>;
}

/** Adds a static unless the class defines its own (a class's own `spawn` wins). */
function defineStatic(cls: Function, key: string, value: Function): void {
  if (Object.hasOwn(cls, key)) return;
  Object.defineProperty(cls, key, { value, writable: true, configurable: true, enumerable: false });
}

function checkRemoteOptions(options: RemoteOptions): RemoteOptions {
  checkOptions("@remote", options, REMOTE_OPTIONS);
  resolveSupervision("@remote", options, DEFAULT_SUPERVISION);
  return { ...options };
}
