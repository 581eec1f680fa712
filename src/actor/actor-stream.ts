import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import { ADAPTIVE_MAX_WINDOW, type StreamControl, type StreamSink } from "./stream-control.js";

/** A streamed reply as the caller holds it: an `AsyncIterable` that can be cancelled. */
export interface ActorStream<T = unknown> extends AsyncIterable<T> {
  /** Stops the stream: the producer is told to stop (its generator's `finally` runs) and iteration ends. */
  cancel(reason?: unknown): void;
}

/**
 * The consumer end of a streamed reply: an `AsyncIterable` that buffers at most `bufferSize` items and grants the
 * producer more credit as the caller reads. Breaking out of `for await`, calling `return()` or `cancel()` stops
 * the producer.
 */
export class ReplyStream<T = unknown> implements ActorStream<T>, AsyncIterableIterator<T>, StreamSink {
  readonly #control: StreamControl;
  /** The credit window: items the producer may run ahead of the reader. */
  #window: number;
  readonly #maxWindow: number;
  #grantAt: number;
  #items: unknown[] = [];
  #head = 0;
  #consumed = 0;
  #state: "open" | "ended" | "failed" | "cancelled" = "open";
  #error: unknown;
  #waiter: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | undefined;

  /**
   * @internal `bufferSize` is the window. With `adaptive`, the window doubles (up to `ADAPTIVE_MAX_WINDOW`)
   * whenever the reader finds nothing to read — it is faster than the window lets the producer be, as with a
   * long round trip — so a fast reader gets throughput while a slow one never grows it.
   */
  constructor(control: StreamControl, bufferSize: number, adaptive = false) {
    this.#control = control;
    this.#window = bufferSize;
    this.#maxWindow = adaptive ? Math.max(bufferSize, ADAPTIVE_MAX_WINDOW) : bufferSize;
    // Top up in batches of half the window: fewer credit messages, the producer never idles.
    this.#grantAt = Math.max(1, bufferSize >> 1);
  }

  get [Symbol.toStringTag](): string {
    return "ActorStream";
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#head < this.#items.length) return Promise.resolve({ value: this.#take() as T, done: false });
    if (this.#state === "failed") return Promise.reject(this.#error);
    if (this.#state !== "open") return Promise.resolve({ value: undefined, done: true });
    if (this.#waiter !== undefined) {
      return Promise.reject(
        new PulsingRuntimeError(ErrorCode.INVALID_STATE, "ActorStream.next() called again before the previous call settled"),
      );
    }
    if (this.#window < this.#maxWindow) this.#grow();
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  return(value?: unknown): Promise<IteratorResult<T>> {
    this.cancel();
    return Promise.resolve({ value: value as T, done: true });
  }

  /** Stops the stream: the producer is told to stop and buffered items are dropped. */
  cancel(reason?: unknown): void {
    if (this.#state !== "open") return;
    this.#state = "cancelled";
    this.#items = [];
    this.#head = 0;
    this.#control.cancel(reason);
    this.#settleWaiter({ value: undefined, done: true });
  }

  // --- StreamSink: the producer side writes here -------------------------------------------------------------

  /** @internal */
  item(value: unknown): void {
    if (this.#state !== "open") return;
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      this.#consumedOne();
      waiter.resolve({ value: value as T, done: false });
      return;
    }
    if (this.#items.length - this.#head >= this.#window) {
      // The producer sent more than it was granted: a protocol violation, not something to buffer.
      this.fail(new PulsingRuntimeError(ErrorCode.PROTOCOL_ERROR, `stream producer exceeded its credit of ${this.#window} items`));
      this.#control.cancel();
      return;
    }
    this.#items.push(value);
  }

  /** @internal */
  end(): void {
    if (this.#state !== "open") return;
    this.#state = "ended";
    this.#settleWaiter({ value: undefined, done: true });
  }

  /** @internal */
  fail(error: unknown): void {
    if (this.#state !== "open") return;
    this.#state = "failed";
    this.#error = error;
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter.reject(error);
    }
  }

  #take(): unknown {
    const value = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head === this.#items.length) {
      this.#items.length = 0;
      this.#head = 0;
    }
    this.#consumedOne();
    return value;
  }

  /** The reader starved: widen the window (more credit now, larger top-ups from now on). */
  #grow(): void {
    const extra = Math.min(this.#window, this.#maxWindow - this.#window);
    this.#window += extra;
    this.#grantAt = Math.max(1, this.#window >> 1);
    this.#control.credit(extra);
  }

  #consumedOne(): void {
    if (this.#state !== "open") return;
    if (++this.#consumed >= this.#grantAt) {
      const n = this.#consumed;
      this.#consumed = 0;
      this.#control.credit(n);
    }
  }

  #settleWaiter(result: IteratorResult<T>): void {
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter.resolve(result);
    }
  }
}
