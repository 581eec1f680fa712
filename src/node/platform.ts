import { AsyncLocalStorage } from "node:async_hooks";
import { SyncContextStore, type ContextStore } from "../actor/context-store.js";
import type { Platform, RuntimeKind } from "../platform/platform.js";

/** The sync slot for sync methods, AsyncLocalStorage for async ones (see `ContextStore`). */
class AsyncContextStore<T> extends SyncContextStore<T> implements ContextStore<T> {
  readonly #storage = new AsyncLocalStorage<T>();
  override readonly tracksAsync = true;

  override runTracked<R>(value: T, fn: (...args: never[]) => R, self: unknown, args: readonly unknown[]): R {
    return this.#storage.run(value, () => Reflect.apply(fn, self, args));
  }

  override get(): T | undefined {
    return super.get() ?? this.#storage.getStore();
  }
}

const runtime: RuntimeKind = typeof (globalThis as { Deno?: unknown }).Deno === "object" ? "deno" : "node";

/** Node and Deno: AsyncLocalStorage keeps `currentContext()` valid across the awaits of async methods. */
export const platform: Platform = {
  runtime,
  createContextStore: () => new AsyncContextStore(),
};
