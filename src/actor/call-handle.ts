import { abortReason, ErrorCode, PulsingRuntimeError, PulsingTimeoutError } from "../errors/errors.js";
import { ReplyStream } from "./actor-stream.js";
import type { CallMode, CallOptions, StreamKind } from "./call-types.js";
import { Message } from "./message.js";
import { DEFAULT_STREAM_BUFFER, type StreamControl, type StreamSink } from "./stream-control.js";

/**
 * What a proxy call returns when the caller cannot know whether the method streams: `await` it for a single
 * reply, or `for await` over it for a stream. Typed proxies present it as `Promise<R>` or `ActorStream<T>`.
 */
export interface ActorCall<T = any> extends Promise<T>, AsyncIterable<any> {
  /** Gives up on the call: the actor's side is cancelled; a pending `await` rejects with an `AbortError`. */
  cancel(reason?: unknown): void;
}

const noop = (): void => {};

/** What a call handle knows of the actor it calls (an `ActorRef` is one). */
export interface CallTarget {
  readonly name: string | undefined;
  readonly actorId: { toString(): string };
}

const HANDLE = Symbol("pulsing.callHandle");

// Shared by every ActorCall: a native promise with these two own properties awaits as fast as a plain one,
// where a thenable wrapper would cost two extra microtask hops per call.
function cancelCall(this: ActorCall & { [HANDLE]: CallHandle }, reason?: unknown): void {
  this[HANDLE].cancel(reason);
}
function iterateCall(this: ActorCall & { [HANDLE]: CallHandle }): AsyncIterator<unknown> {
  return this[HANDLE].iterate();
}

/**
 * The caller's side of one call, local or remote: settles the reply promise or feeds the reply stream,
 * enforces the timeout and abort signal, and steers the producer (credit, cancel) through `sendCredit` /
 * `sendCancel`, which the local and remote call classes implement.
 */
export abstract class CallHandle<T = unknown> implements StreamControl, StreamSink {
  readonly mode: CallMode;
  /** The actor called, for error messages. */
  readonly target: CallTarget;
  /** The method called; undefined for `receive(msg)`. */
  readonly method: string | undefined;
  readonly bufferSize: number;
  /** No `bufferSize` was given: the stream's window may grow (see `ReplyStream`). */
  readonly #adaptive: boolean;
  readonly promise: Promise<T>;
  #resolve!: (value: T) => void;
  #reject!: (error: unknown) => void;
  #stream: ReplyStream<unknown> | undefined;
  #done = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #signal: AbortSignal | undefined;
  #onAbort: (() => void) | undefined;

  protected constructor(mode: CallMode, target: CallTarget, method: string | undefined, options: CallOptions | undefined) {
    this.mode = mode;
    this.target = target;
    this.method = method;
    this.bufferSize = options?.bufferSize ?? DEFAULT_STREAM_BUFFER;
    this.#adaptive = options?.bufferSize === undefined;
    this.promise = new Promise<T>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    if (mode === "tell") this.promise.catch(noop);
    if (mode === "stream") {
      this.#stream = new ReplyStream(this, this.bufferSize, this.#adaptive);
      // Errors reach a stream's reader; the promise is only for `await`, so it must not count as unhandled.
      this.promise.catch(noop);
    }
    if (options !== undefined && (options.timeout !== undefined || options.signal !== undefined)) this.#arm(options);
  }

  /** `actor.method`, for messages (built only when needed: it is off the hot path). */
  get label(): string {
    return `${this.target.name ?? String(this.target.actorId)}.${this.method ?? "receive"}`;
  }

  /** The stream of a `stream`-mode call (returned to the caller at once). */
  get stream(): ReplyStream<unknown> {
    return (this.#stream ??= this.#openConsumer());
  }

  get settled(): boolean {
    return this.#done;
  }

  // --- outcome, delivered by the actor's side ---------------------------------------------------------------

  /** A single reply. */
  settleValue(value: unknown): void {
    if (this.#done) return;
    if (this.mode === "stream") {
      this.settleError(new PulsingRuntimeError(ErrorCode.NOT_A_STREAM, `${this.label} returned a single value, not a stream`));
      return;
    }
    this.#finish();
    this.#resolve(value as T);
  }

  settleError(error: unknown): void {
    if (this.#done) return;
    this.#finish();
    this.#stream?.fail(error);
    this.#reject(error);
  }

  /** A streamed reply begins: returns the sink its items go to. */
  settleStream(kind: StreamKind, msgType: string): StreamSink {
    if (this.#done) return this;
    const stream = this.stream;
    if (this.mode === "ask" || (this.mode === "call" && kind === "message")) {
      this.#resolve(Message.fromSource(msgType, stream) as T);
    } else if (this.mode === "call") {
      this.#resolve(stream as T);
    }
    return this;
  }

  // --- StreamSink: items of a streamed reply -----------------------------------------------------------------

  item(value: unknown): void {
    this.#stream?.item(value);
  }

  end(): void {
    if (this.#done) return;
    this.#finish();
    this.#stream?.end();
  }

  fail(error: unknown): void {
    this.settleError(error);
  }

  // --- StreamControl: the consumer steers the producer -------------------------------------------------------

  credit(n: number): void {
    if (!this.#done) this.sendCredit(n);
  }

  /** Gives up on the call (also what breaking out of a stream does). */
  cancel(reason?: unknown): void {
    if (this.#done) return;
    const error = reason ?? new DOMException("The call was cancelled", "AbortError");
    this.#finish();
    this.#stream?.cancel(error);
    this.#reject(error);
    this.promise.catch(noop);
    this.sendCancel(error);
  }

  protected abstract sendCredit(n: number): void;
  protected abstract sendCancel(reason: unknown): void;
  /** Called once when the call is over (settled, ended, failed or cancelled). */
  protected onDone(): void {}
  /** What the call fails with when its `timeout` runs out (a remote call still looking for its node says so). */
  protected timeoutError(timeout: number): unknown {
    return new PulsingTimeoutError(this.label, timeout);
  }

  // --- ActorCall: what the caller holds ----------------------------------------------------------------------

  /** The reply promise, made an `ActorCall` (cancellable, iterable for streams). */
  asCall(): ActorCall<T> {
    const call = this.promise as ActorCall<T> & { [HANDLE]: CallHandle };
    call[HANDLE] = this as CallHandle;
    call.cancel = cancelCall;
    call[Symbol.asyncIterator] = iterateCall;
    return call;
  }

  /** Iterates a streamed reply. */
  iterate(): AsyncIterator<unknown> {
    if (this.mode === "stream") return this.stream;
    // The caller iterates rather than awaits: errors surface through the iterator.
    this.promise.catch(noop);
    return this.#iterateReply();
  }

  async *#iterateReply(): AsyncGenerator<unknown> {
    const reply = await this.promise;
    if (reply instanceof ReplyStream) {
      yield* reply;
    } else if (reply instanceof Message && reply.isStream) {
      yield* reply.streamReader();
    } else {
      throw new PulsingRuntimeError(
        ErrorCode.NOT_A_STREAM,
        `${this.label} returned a single value, not a stream: await it instead of iterating`,
      );
    }
  }

  // --- internals ---------------------------------------------------------------------------------------------

  #openConsumer(): ReplyStream<unknown> {
    return new ReplyStream(this, this.bufferSize, this.#adaptive);
  }

  #arm(options: CallOptions): void {
    const { timeout, signal } = options;
    if (signal !== undefined) {
      if (signal.aborted) {
        queueMicrotask(() => this.#abortWith(abortReason(signal)));
        return;
      }
      this.#signal = signal;
      this.#onAbort = () => this.#abortWith(abortReason(signal));
      signal.addEventListener("abort", this.#onAbort, { once: true });
    }
    if (timeout !== undefined) {
      this.#timer = setTimeout(() => this.#abortWith(this.timeoutError(timeout)), timeout);
    }
  }

  #abortWith(error: unknown): void {
    if (this.#done) return;
    this.settleError(error);
    this.sendCancel(error);
  }

  #finish(): void {
    this.#done = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#onAbort !== undefined) this.#signal?.removeEventListener("abort", this.#onAbort);
    this.onDone();
  }
}

/** A call that failed before it could be sent (bad options, unknown node, system shut down). */
export class FailedCall extends CallHandle<unknown> {
  constructor(mode: CallMode, target: CallTarget, method: string | undefined, error: unknown) {
    super(mode, target, method, undefined);
    this.settleError(error);
  }

  protected sendCredit(): void {}
  protected sendCancel(): void {}
}
