import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";

/**
 * A single-producer, single-consumer queue holding at most `capacity` items: `write` waits while it is full,
 * which is what gives `StreamWriter` its backpressure. The reader can cancel, after which writes fail so the
 * producer stops.
 */
export class BoundedChannel<T> implements AsyncIterableIterator<T> {
  readonly #capacity: number;
  #items: T[] = [];
  #closed = false;
  #cancelled = false;
  #error: unknown;
  #failed = false;
  #reader: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | undefined;
  #writers: Array<() => void> = [];

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  async write(item: T): Promise<void> {
    while (!this.#cancelled && !this.#closed && this.#items.length >= this.#capacity) {
      await new Promise<void>((resolve) => this.#writers.push(resolve));
    }
    if (this.#cancelled) throw new PulsingRuntimeError(ErrorCode.STREAM_CLOSED, "stream was cancelled by its reader");
    if (this.#closed) throw new PulsingRuntimeError(ErrorCode.STREAM_CLOSED, "stream writer is already closed");
    const reader = this.#reader;
    if (reader !== undefined) {
      this.#reader = undefined;
      reader.resolve({ value: item, done: false });
    } else {
      this.#items.push(item);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#wakeReader();
    this.#wakeWriters();
  }

  fail(error: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#failed = true;
    this.#error = error;
    this.#wakeReader();
    this.#wakeWriters();
  }

  get cancelled(): boolean {
    return this.#cancelled;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#items.length > 0) {
      const value = this.#items.shift() as T;
      this.#writers.shift()?.();
      return Promise.resolve({ value, done: false });
    }
    if (this.#cancelled) return Promise.resolve({ value: undefined, done: true });
    if (this.#closed) {
      return this.#failed ? Promise.reject(this.#error) : Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => {
      this.#reader = { resolve, reject };
      this.#writers.shift()?.();
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.cancel();
    return Promise.resolve({ value: undefined, done: true });
  }

  cancel(): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.#items = [];
    this.#wakeReader();
    this.#wakeWriters();
  }

  #wakeReader(): void {
    const reader = this.#reader;
    if (reader === undefined) return;
    this.#reader = undefined;
    if (this.#failed && !this.#cancelled) reader.reject(this.#error);
    else reader.resolve({ value: undefined, done: true });
  }

  #wakeWriters(): void {
    const writers = this.#writers;
    this.#writers = [];
    for (const wake of writers) wake();
  }
}
