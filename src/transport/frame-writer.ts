import { nextMacrotask } from "../util/macrotask.js";
import { varintLength, writeVarint } from "../wire/frame-reader.js";

/** The part of a libp2p stream a writer needs. */
export interface ByteSink {
  send(data: Uint8Array): boolean;
  onDrain(options?: { signal?: AbortSignal }): Promise<void>;
}

/**
 * Writes length-prefixed frames to a stream adaptively (it takes frame bodies and writes the varint prefixes
 * itself, building each send in one buffer): a frame written while the stream is idle goes out at once (lowest
 * latency); frames written while it is busy — in the same macrotask as a send, or while the stream drains — are
 * concatenated into one `send()` (measured here: ~13× the throughput of one send per frame). Honours
 * `send() === false` by waiting for `onDrain()`, so the stream's own buffer never grows past its window.
 */
export class FrameWriter {
  readonly #sink: ByteSink;
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  /** A send happened in this macrotask: coalesce what follows. */
  #hot = false;
  #scheduled = false;
  #draining = false;
  #closed = false;
  #onError: (error: unknown) => void;
  readonly #tick = (): void => this.#onTick();

  constructor(sink: ByteSink, onError: (error: unknown) => void) {
    this.#sink = sink;
    this.#onError = onError;
  }

  /** Bytes waiting to be sent (for callers that want to bound themselves). */
  get pendingBytes(): number {
    return this.#queuedBytes;
  }

  /** Resolves once at most `bytes` wait to be sent (at once if so now; also when the writer closes). */
  whenBelow(bytes: number): Promise<void> {
    if (this.#queuedBytes <= bytes || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ bytes, resolve }));
  }

  #waiters: Array<{ bytes: number; resolve: () => void }> = [];

  #wake(): void {
    if (this.#waiters.length === 0) return;
    const waiting = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiting) {
      if (this.#queuedBytes <= waiter.bytes || this.#closed) waiter.resolve();
      else this.#waiters.push(waiter);
    }
  }

  /** Queues one frame body (without its length prefix). */
  write(body: Uint8Array): void {
    if (this.#closed) return;
    if (!this.#hot && !this.#draining && this.#queue.length === 0) {
      this.#hot = true;
      this.#schedule();
      this.#send(prefixed([body], varintLength(body.byteLength) + body.byteLength));
      return;
    }
    this.#queue.push(body);
    this.#queuedBytes += varintLength(body.byteLength) + body.byteLength;
    this.#schedule();
  }

  close(): void {
    this.#closed = true;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#wake();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    nextMacrotask(this.#tick);
  }

  #onTick(): void {
    this.#scheduled = false;
    if (this.#queue.length > 0) {
      this.#flush();
      this.#schedule(); // stay hot for one more macrotask: under load the next burst coalesces too
    } else {
      this.#hot = false;
    }
  }

  #flush(): void {
    if (this.#draining || this.#closed || this.#queue.length === 0) return;
    const frames = this.#queue;
    const bytes = this.#queuedBytes;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#send(prefixed(frames, bytes));
    this.#wake();
  }

  #send(data: Uint8Array): void {
    let ok: boolean;
    try {
      ok = this.#sink.send(data);
    } catch (error) {
      this.close();
      this.#onError(error);
      return;
    }
    if (!ok) {
      this.#draining = true;
      this.#sink.onDrain().then(
        () => {
          this.#draining = false;
          this.#flush();
        },
        (error: unknown) => {
          this.close();
          this.#onError(error);
        },
      );
    }
  }
}

/** The frames, each behind its varint length prefix, in one buffer of `total` bytes. */
function prefixed(bodies: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const body of bodies) {
    at = writeVarint(out, at, body.byteLength);
    out.set(body, at);
    at += body.byteLength;
  }
  return out;
}
