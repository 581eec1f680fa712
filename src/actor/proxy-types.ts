import type { ActorRef } from "./actor-ref.js";
import type { ActorStream } from "./actor-stream.js";
import type { ActorCall } from "./call-handle.js";
import type { CallOptions } from "./call-types.js";

/**
 * The types of actor proxies: a phantom over an untyped runtime `Proxy` (see `./proxy.ts`).
 *
 * - methods become `(...args) => Promise<Awaited<R>>`;
 * - methods returning a generator or an async iterable (directly or through a promise) become
 *   `(...args) => ActorStream<T>`;
 * - fields, `_`-prefixed and symbol members, the lifecycle hooks and `receive` are not exposed
 *   (the runtime refuses the same names);
 * - every proxy has `ref`, `asAny()`, `withOptions()` and `toJSON()`.
 */

/** Names a proxy keeps for itself, or that are never remotely callable. */
export type ReservedName = "then" | "ref" | "asAny" | "withOptions" | "toJSON" | "constructor" | "onStart" | "onStop" | "receive";

type IsAny<T> = 0 extends 1 & T ? true : false;

/** The names of `T`'s remotely callable methods. */
export type MethodNames<T> = {
  [K in keyof T]-?: K extends string
    ? K extends ReservedName | `_${string}`
      ? never
      : T[K] extends (...args: never[]) => unknown
        ? K
        : never
    : never;
}[keyof T];

/** What one item of a stream-returning method is, or `never` when the method does not stream. */
type StreamItem<R> = R extends AsyncIterable<infer Y> ? Y : R extends Generator<infer Y, unknown, never> ? Y : never;

// Wrapped in tuples so a union return type (`string | AsyncIterable<T>`) is not split (it is not a stream),
// and so `never` (a method that always throws) is not taken for a stream.
type Streams<R> = [R] extends [never]
  ? false
  : [R] extends [AsyncIterable<unknown> | Generator<unknown, unknown, never>]
    ? true
    : false;

/** The proxy form of one method. */
export type ProxyMethod<F> = F extends (...args: infer A) => infer R
  ? Streams<Awaited<R>> extends true
    ? (...args: A) => ActorStream<StreamItem<Awaited<R>>>
    : (...args: A) => Promise<Awaited<R>>
  : never;

/** Members every proxy has. */
export interface ProxyBase<T> {
  /** The reference behind this proxy. */
  readonly ref: ActorRef;
  /** An untyped proxy to the same actor: any method name, checked by the actor's side. */
  asAny(): ActorProxy<any>;
  /** A proxy whose calls all carry `options` (signal, timeout, bufferSize). */
  withOptions(options: CallOptions): ActorProxy<T>;
  /** `{ actorId }`, so proxies can be logged and serialised as references. */
  toJSON(): { actorId: string };
}

/** A typed proxy to an actor whose class is `T`. */
export type TypedActorProxy<T> = { readonly [K in MethodNames<T>]: ProxyMethod<T[K]> } & ProxyBase<T>;

/** An untyped proxy: every method call returns an `ActorCall` (await it, or iterate it for a stream). */
export type AnyActorProxy = ProxyBase<any> & { readonly [method: string]: (...args: any[]) => ActorCall<any> };

/** A proxy to an actor: typed when `T` is known, untyped (`ActorProxy<any>`) otherwise. */
export type ActorProxy<T = any> = IsAny<T> extends true ? AnyActorProxy : TypedActorProxy<T>;

/** Anything that constructs actors of type `T`. */
export type ActorClass<T extends object = object, A extends readonly unknown[] = any[]> = new (...args: A) => T;
