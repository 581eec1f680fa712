import type { StreamControl, StreamSink } from "./stream-control.js";

/**
 * How the caller wants the outcome of a call:
 * - `ask`: one reply (a streamed reply arrives as a streaming `Message`), as `ActorRef.ask`;
 * - `call`: one reply or a stream, whichever the method produces, as proxy calls;
 * - `stream`: a stream (iterables are streamed item by item), as `askStream` and generator methods;
 * - `tell`: no reply; an error counts as an actor failure.
 */
export type CallMode = "ask" | "call" | "stream" | "tell";

/** Options every call accepts. */
export interface CallOptions {
  /** Aborting rejects the call with the signal's reason and cancels it on the actor's side. */
  signal?: AbortSignal;
  /** Milliseconds until the call rejects with `PulsingTimeoutError` (for streams: until the stream ends). */
  timeout?: number;
  /** Items a streamed reply may run ahead of the reader (the stream's credit window). @default 32 */
  bufferSize?: number;
}

/** What kind of stream a reply is: a generator/iterable, or a streaming `Message`. */
export type StreamKind = "iterator" | "message";

/**
 * One call as the actor cell sees it, local or from the network. The cell reads the request fields, sets
 * `cell`/`controller`/`pump` while it runs the call, and answers through exactly one of the `respond*` methods.
 */
export interface InboundCall {
  readonly method: string | undefined;
  readonly args: readonly unknown[];
  readonly mode: CallMode;
  /** Epoch milliseconds after which the caller no longer waits; 0 = none. */
  readonly deadline: number;
  /** The calling node, for remote calls. */
  readonly sender: string | undefined;
  /** Credit a streamed reply starts with. */
  readonly initialCredit: number;
  /** Set once the caller has given up; a call not yet started is then skipped. */
  cancelled: boolean;
  cancelReason: unknown;
  /** @internal per-call abort controller, created on first use of `ctx.signal` */
  controller: AbortController | undefined;
  /** @internal the producer of a streamed reply */
  pump: StreamControl | undefined;
  /** @internal the cell running the call (for `currentContext()`) */
  cell: unknown;
  /** @internal whether the cell is running it (method or streamed reply in progress) */
  running: boolean;
  /** @internal cached ActorContext of this call */
  context: unknown;

  respond(value: unknown): void;
  respondError(error: unknown): void;
  /** Opens a streamed reply; returns where the producer writes. */
  respondStream(pump: StreamControl, kind: StreamKind, msgType: string): StreamSink;
}

/** Marks an inbound call cancelled and stops whatever runs it. */
export function cancelInbound(call: InboundCall, reason: unknown): void {
  if (call.cancelled) return;
  call.cancelled = true;
  call.cancelReason = reason;
  call.controller?.abort(reason);
  call.pump?.cancel(reason);
}

/** The signal of one running call: aborted when its caller cancels or when the actor stops. */
export function callSignal(call: InboundCall, actorSignal: AbortSignal): AbortSignal {
  let controller = call.controller;
  if (controller === undefined) {
    controller = call.controller = new AbortController();
    if (call.cancelled) controller.abort(call.cancelReason);
  }
  return AbortSignal.any([controller.signal, actorSignal]);
}
