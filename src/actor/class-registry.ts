import type { SupervisionOptions } from "./supervision.js";

/** Class-level defaults given to `@remote({...})`. */
export interface RemoteOptions extends SupervisionOptions {
  /** The name remote nodes know this class by (for `spawn(Cls, { node })`). @default the class name */
  name?: string;
  /** How many async calls may be in flight at once. @default Infinity */
  concurrency?: number;
}

interface RemoteInfo {
  readonly name: string;
  readonly options: RemoteOptions;
}

const INFO = Symbol.for("pulsing.remote");
const byName = new Map<string, Function>();

/**
 * Registers a class under `name` so other nodes can spawn it by that name. A later registration of the same name
 * replaces the earlier (module reloads, HMR).
 */
export function registerClass(cls: Function, name: string, options: RemoteOptions): void {
  Object.defineProperty(cls, INFO, { value: { name, options } satisfies RemoteInfo, configurable: true });
  byName.set(name, cls);
}

export function remoteInfo(cls: Function): RemoteInfo | undefined {
  return Object.hasOwn(cls, INFO) ? ((cls as unknown as Record<symbol, RemoteInfo>)[INFO] ?? undefined) : undefined;
}

export function classByName(name: string): Function | undefined {
  return byName.get(name);
}

export function registeredClassNames(): string[] {
  return [...byName.keys()].sort();
}
