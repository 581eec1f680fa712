import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import type { ActorRef } from "./actor-ref.js";
import type { CallOptions } from "./call-types.js";
import { isGeneratorFunction } from "./methods.js";
import type { ActorProxy } from "./proxy-types.js";

/**
 * Marks actor proxies: `proxy instanceof ActorProxyMarker`, and what the codec matches to send a proxy as the
 * reference it stands for. Also the shape `util.inspect` shows.
 */
export class ActorProxyMarker {
  constructor(readonly actor: string) {}
}

/** The ref behind a proxy, or undefined for anything else. */
export function proxyRef(value: unknown): ActorRef | undefined {
  return value instanceof ActorProxyMarker ? refs.get(value as object) : undefined;
}

const refs = new WeakMap<object, ActorRef>();

/**
 * Builds the runtime proxy. Untyped at run time: method names are looked up lazily and checked by the actor's
 * side. With `cls` known, generator methods stream (`ActorStream`) and the others return an `ActorCall`.
 * Never thenable, never exposes symbols.
 */
export function createProxy<T>(ref: ActorRef, cls: Function | undefined, options: CallOptions | undefined): ActorProxy<T> {
  const methods = new Map<string, (...args: unknown[]) => unknown>();
  const prototype = cls?.prototype as object | undefined;

  const makeMethod = (name: string): ((...args: unknown[]) => unknown) => {
    const streams = prototype !== undefined && isGeneratorFunction(lookup(prototype, name));
    return streams
      ? (...args: unknown[]) => ref.invoke(name, args, "stream", options).stream
      : (...args: unknown[]) => ref.invoke(name, args, "call", options).asCall();
  };

  const target = new ActorProxyMarker(String(ref.actorId));
  const proxy = new Proxy(target, {
    get(_target, key) {
      if (typeof key !== "string") return undefined;
      switch (key) {
        case "then":
          return undefined;
        case "ref":
          return ref;
        case "asAny":
          return () => createProxy<any>(ref, undefined, options);
        case "withOptions":
          return (more: CallOptions) => createProxy<T>(ref, cls, { ...options, ...more });
        case "toJSON":
          return () => ({ actorId: String(ref.actorId) });
      }
      let method = methods.get(key);
      if (method === undefined) {
        method = makeMethod(key);
        methods.set(key, method);
      }
      return method;
    },
    has: (_target, key) => typeof key === "string" && key !== "then",
    set: (_target, key) => {
      throw new PulsingRuntimeError(
        ErrorCode.INVALID_STATE,
        `cannot set '${String(key)}' on an actor proxy: actor state is reached through methods`,
      );
    },
    defineProperty: (_target, key) => {
      throw new PulsingRuntimeError(ErrorCode.INVALID_STATE, `cannot define '${String(key)}' on an actor proxy`);
    },
    deleteProperty: () => false,
    getPrototypeOf: () => ActorProxyMarker.prototype,
  });
  refs.set(proxy, ref);
  return proxy as unknown as ActorProxy<T>;
}

function lookup(prototype: object, name: string): unknown {
  for (let o: object | null = prototype; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    const descriptor = Object.getOwnPropertyDescriptor(o, name);
    if (descriptor !== undefined) return descriptor.value;
  }
  return undefined;
}
