import { platform } from "#platform";
import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import type { ActorId } from "./actor-id.js";
import type { InboundCall } from "./call-types.js";
import type { ContextStore } from "./context-store.js";

/**
 * What an actor knows about where and why it runs. `receive(msg, ctx)` gets one; methods call `currentContext()`.
 * (`system` and `actorRef` are declared by the system layer, src/system/actor-system.ts, whose types they use.)
 */
export interface ActorContext {
  readonly actorId: ActorId;
  readonly nodeId: string;
  /** Aborted when this call's caller cancels or the actor stops (in `onStart`: when the actor stops). */
  readonly signal: AbortSignal;
  /** Stops this actor after the current message (a `restartPolicy: "always"` actor is restarted). */
  stop(): void;
}

/** @internal The one store of running calls, shared by every system in this realm. */
export const contextStore: ContextStore<InboundCall> = platform.createContextStore<InboundCall>();

/** @internal What a cell exposes to the contexts of its calls. */
export interface ContextOwner {
  contextFor(call: InboundCall | undefined): ActorContext;
}

/**
 * The context of the actor method that is running. Valid across `await`s where the runtime tracks async
 * context (Node, Deno); elsewhere (browsers) until the method's first `await`, so read it first thing.
 */
export function currentContext(): ActorContext {
  const call = contextStore.get();
  if (call === undefined || call.cell === undefined) {
    throw new PulsingRuntimeError(
      ErrorCode.INVALID_STATE,
      contextStore.tracksAsync
        ? "currentContext() called outside an actor method"
        : "currentContext() called outside an actor method, or after its first await (this runtime has no async context tracking: read the context before awaiting)",
    );
  }
  return (call.context ??= (call.cell as ContextOwner).contextFor(call)) as ActorContext;
}
