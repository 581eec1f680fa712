import type { ContextStore } from "../actor/context-store.js";

/** The kinds of runtime a node can be. */
export type RuntimeKind = "node" | "browser" | "deno";

/**
 * What differs between runtimes, chosen by package `imports` conditions (`#platform`), never by `if (isNode)`:
 * `src/node/platform.ts` for Node and Deno, `src/platform/browser.ts` elsewhere.
 */
export interface Platform {
  readonly runtime: RuntimeKind;
  createContextStore<T>(): ContextStore<T>;
}
