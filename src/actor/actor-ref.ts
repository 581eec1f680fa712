import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import { checkOptions, duration, integer, signal, type OptionSchema } from "../util/options.js";
import type { ActorId } from "./actor-id.js";
import type { ActorStream } from "./actor-stream.js";
import { FailedCall, type CallHandle } from "./call-handle.js";
import type { CallMode, CallOptions } from "./call-types.js";
import { createProxy } from "./proxy.js";
import type { ActorClass, ActorProxy } from "./proxy-types.js";

/** What a ref needs to deliver calls: the system's router. */
export interface CallRouter {
  /** Starts one call to `target` and returns the caller's handle. */
  route(
    target: ActorRef,
    method: string | undefined,
    args: readonly unknown[],
    mode: CallMode,
    options: CallOptions | undefined,
  ): CallHandle;
  /** A few addresses of `nodeId` for refs that leave this node (see ref-codec.ts); none when unknown or standalone. */
  addrHint?(nodeId: string): readonly string[] | undefined;
}

/**
 * A reference to an actor, local or remote: the low-level way to talk to it (`ask`, `tell`, `askStream`) and
 * the source of typed proxies (`asType`, `asAny`). Every call, from a proxy or a ref, goes through `invoke`.
 */
export class ActorRef {
  readonly actorId: ActorId;
  /** The name it was spawned or resolved under, when known. */
  readonly name: string | undefined;
  readonly #router: CallRouter;
  /** @internal The router's per-ref cache (the local cell, or the peer channel). */
  route: unknown;

  /** Refs come from `spawn`, `resolve` and `refer` (and arrive in messages), not from this constructor. */
  constructor(router: CallRouter, actorId: ActorId, name?: string, route?: unknown) {
    this.#router = router;
    this.actorId = actorId;
    this.name = name;
    this.route = route;
  }

  /** Sends `msg` to the actor's `receive(msg, ctx)` and waits for its reply. */
  ask<R = unknown>(msg: unknown, options?: CallOptions): Promise<R> {
    return this.invoke(undefined, [msg], "ask", options).promise as Promise<R>;
  }

  /** Sends `msg` without waiting for a reply; resolves once handed to the transport. */
  tell(msg: unknown, options?: Pick<CallOptions, "signal">): Promise<void> {
    return this.invoke(undefined, [msg], "tell", options).promise as Promise<void>;
  }

  /** Sends `msg` and reads the reply as a stream (when `receive()` returns an iterable, generator or stream Message). */
  askStream<T = unknown>(msg: unknown, options?: CallOptions): ActorStream<T> {
    return this.invoke(undefined, [msg], "stream", options).stream as ActorStream<T>;
  }

  /** A typed proxy to this actor. */
  asType<T extends object>(cls: ActorClass<T>): ActorProxy<T> {
    if (typeof cls !== "function") {
      throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, `asType() expects a class, got ${cls === null ? "null" : typeof cls}`);
    }
    return createProxy<T>(this, cls, undefined);
  }

  /** An untyped proxy to this actor. */
  asAny(): ActorProxy<any> {
    return createProxy<any>(this, undefined, undefined);
  }

  /** @internal Addresses of this actor's node, for the receiver of this ref when it travels (see ref-codec.ts). */
  addrHint(): readonly string[] | undefined {
    return this.#router.addrHint?.(this.actorId.nodeId);
  }

  /** @internal Starts one call; `method` undefined means `receive(msg)`. */
  invoke(method: string | undefined, args: readonly unknown[], mode: CallMode, options: CallOptions | undefined): CallHandle {
    if (options !== undefined) {
      try {
        checkCallOptions(options);
      } catch (error) {
        return new FailedCall(mode, this, method, error);
      }
    }
    return this.#router.route(this, method, args, mode, options);
  }

  toString(): string {
    return `ActorRef(${this.name ?? this.actorId})`;
  }

  toJSON(): { actorId: string } {
    return { actorId: String(this.actorId) };
  }
}

/** The checks of `CallOptions`. */
export const CALL_OPTIONS = { signal, timeout: duration, bufferSize: integer(1) } satisfies OptionSchema<CallOptions>;

function checkCallOptions(options: CallOptions): void {
  checkOptions("call options", options, CALL_OPTIONS);
}
