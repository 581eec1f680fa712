import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import { integer, string, type OptionSchema } from "../util/options.js";
import { SUPERVISION_OPTIONS, type SupervisionOptions } from "./supervision.js";

/** Class-level defaults given to `@remote({...})`. */
export interface RemoteOptions extends SupervisionOptions {
  /**
   * The name other nodes know this class by (for `spawn(Cls, { node })`). Give one when the code is minified:
   * minifiers drop or shorten class names. @default the class name
   */
  name?: string;
  /** How many async calls may be in flight at once. @default Infinity */
  concurrency?: number;
}

/** The checks of `RemoteOptions`. */
export const REMOTE_OPTIONS = {
  name: string,
  concurrency: integer(1, true),
  ...SUPERVISION_OPTIONS,
} satisfies OptionSchema<RemoteOptions>;

interface RemoteInfo {
  /** Undefined for a class without a usable name (a minified anonymous class): it cannot be spawned remotely. */
  readonly name: string | undefined;
  readonly options: RemoteOptions;
}

const INFO = Symbol.for("pulsing.remote");

/** A name two different classes were registered under: neither is spawned by it (which one would be a guess). */
interface Ambiguous {
  readonly ambiguous: true;
}
const byName = new Map<string, Function | Ambiguous>();

/**
 * Registers a class under `name` so other nodes can spawn it by that name (without a name it is still an actor
 * class, for everything but a spawn from another node). A later registration of the same class source under the
 * same name replaces the earlier (module reloads, HMR); a *different* class under a taken name — two classes a
 * minifier named alike — makes the name ambiguous, and a remote spawn by it fails saying so.
 */
export function registerClass(cls: Function, name: string | undefined, options: RemoteOptions): void {
  Object.defineProperty(cls, INFO, { value: { name, options } satisfies RemoteInfo, configurable: true });
  if (name === undefined) return;
  const known = byName.get(name);
  if (known === undefined || known === cls || (typeof known === "function" && sameSource(known, cls))) byName.set(name, cls);
  else byName.set(name, { ambiguous: true });
}

export function remoteInfo(cls: Function): RemoteInfo | undefined {
  return Object.hasOwn(cls, INFO) ? ((cls as unknown as Record<symbol, RemoteInfo>)[INFO] ?? undefined) : undefined;
}

/**
 * The class registered under `name`, for a spawn from another node on node `nodeId`; a `PulsingRuntimeError`
 * (`CLASS_NOT_REGISTERED`) that says how to fix it otherwise.
 */
export function classByName(name: string, nodeId: string): Function {
  const cls = byName.get(name);
  if (typeof cls === "function") return cls;
  if (cls !== undefined) {
    throw new PulsingRuntimeError(
      ErrorCode.CLASS_NOT_REGISTERED,
      `two different classes are registered as '${name}' on node ${nodeId} (a minifier may have given them the same name):` +
        ` give each its own with remote({ name: "…" })`,
    );
  }
  throw new PulsingRuntimeError(
    ErrorCode.CLASS_NOT_REGISTERED,
    `class '${name}' is not registered on node ${nodeId}: decorate it with @remote (or call remote()) in code that node runs` +
      ` (registered: ${registeredClassNames().join(", ") || "none"})`,
  );
}

/**
 * The name a class is spawned by on another node; a `PulsingRuntimeError` (`CLASS_NOT_REGISTERED`) when it has
 * none or the name is ambiguous here.
 */
export function remoteClassName(cls: Function): string {
  const info = remoteInfo(cls);
  const name = info !== undefined ? info.name : cls.name || undefined;
  if (name === undefined) {
    throw new PulsingRuntimeError(
      ErrorCode.CLASS_NOT_REGISTERED,
      "spawn() on another node needs a class registered under a name, and this one has none (a minifier drops class names):" +
        ' name it with remote({ name: "Counter" })(class { … }) or @remote({ name: "Counter" }), the same on both nodes',
    );
  }
  if (info !== undefined) classByName(name, "this node"); // refuses an ambiguous name
  return name;
}

export function registeredClassNames(): string[] {
  return [...byName.keys()].sort();
}

function sameSource(a: Function, b: Function): boolean {
  try {
    return Function.prototype.toString.call(a) === Function.prototype.toString.call(b);
  } catch {
    return false;
  }
}
