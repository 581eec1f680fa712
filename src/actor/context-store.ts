/**
 * Where `currentContext()` finds the running call.
 *
 * Sync methods cannot await, so a synchronous slot serves them in every runtime at no cost. Async methods need
 * async context tracking to keep the context across their awaits: AsyncLocalStorage where the runtime has it
 * (Node, Deno); elsewhere (browsers) the slot, valid until the first `await`. On Node 20 AsyncLocalStorage
 * installs promise hooks that slow every promise in the process, so it is used only for async methods.
 * The platform module (`#platform`) picks the implementation.
 */
export interface ContextStore<T> {
  /** Calls `fn.apply(self, args)` with `value` current during its synchronous part. */
  run<R>(value: T, fn: (...args: never[]) => R, self: unknown, args: readonly unknown[]): R;
  /** Like `run`, keeping `value` current across `fn`'s awaits where the runtime can. */
  runTracked<R>(value: T, fn: (...args: never[]) => R, self: unknown, args: readonly unknown[]): R;
  get(): T | undefined;
  /** Whether `runTracked` keeps the value across awaits. */
  readonly tracksAsync: boolean;
}

/** The synchronous slot, and the whole store where nothing tracks async context. */
export class SyncContextStore<T> implements ContextStore<T> {
  #current: T | undefined;
  readonly tracksAsync: boolean = false;

  run<R>(value: T, fn: (...args: never[]) => R, self: unknown, args: readonly unknown[]): R {
    const previous = this.#current;
    this.#current = value;
    try {
      return Reflect.apply(fn, self, args);
    } finally {
      this.#current = previous;
    }
  }

  runTracked<R>(value: T, fn: (...args: never[]) => R, self: unknown, args: readonly unknown[]): R {
    return this.run(value, fn, self, args);
  }

  get(): T | undefined {
    return this.#current;
  }
}
