/**
 * The two halves of a streamed reply, wherever producer and consumer live:
 * the producer writes into a `StreamSink`; the consumer steers the producer through a `StreamControl`
 * (credit-based flow control: the producer may send only as many items as it has been granted).
 */

/** Where a producer writes a stream's items. */
export interface StreamSink {
  item(value: unknown): void;
  end(): void;
  fail(error: unknown): void;
  /**
   * A promise while the sink cannot take more for now (e.g. the network is behind): the producer waits for it
   * before its next item, whatever credit it holds. Undefined when it can take more.
   */
  blocked?(): Promise<void> | undefined;
}

/** How a consumer steers a producer. */
export interface StreamControl {
  /** Grants `n` more items. */
  credit(n: number): void;
  /** Items granted and not yet produced (producers report it, so a receiver of credit can bound it). */
  readonly outstandingCredit?: number;
  /** Stops the producer; no more items are wanted. */
  cancel(reason?: unknown): void;
}

/** Items a consumer buffers by default (Pulsing's `buffer_size`): the initial credit of every stream. */
export const DEFAULT_STREAM_BUFFER = 32;

/**
 * How far a stream's window may grow when no `bufferSize` was given and the reader keeps up (a window of 32 over
 * a 0.3 ms round trip caps a remote stream near 100 k items/s; the window grows until the reader, not the round
 * trip, sets the pace). An explicit `bufferSize` is a fixed window.
 */
export const ADAPTIVE_MAX_WINDOW = 1024;
