import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";

/**
 * Which names can be invoked on an actor from outside: its own and inherited methods, except
 * `constructor`, `_`-prefixed names, `Object.prototype` members, symbols, and the lifecycle hooks.
 * The same rule shapes the proxy types (`ActorProxy<T>`), so what compiles is what the runtime accepts.
 */

/** Names that are never dispatched as methods: lifecycle hooks and the proxy's own members. */
export const RESERVED_METHOD_NAMES: ReadonlySet<string> = new Set([
  "constructor",
  "onStart",
  "onStop",
  "then",
  "ref",
  "asAny",
  "withOptions",
  "toJSON",
]);

const OBJECT_PROTOTYPE_NAMES: ReadonlySet<string> = new Set(Object.getOwnPropertyNames(Object.prototype));

/** Whether `name` may be called remotely at all, before looking at any particular object. */
export function isCallableName(name: unknown): name is string {
  return (
    typeof name === "string" &&
    name.length > 0 &&
    name.charCodeAt(0) !== 95 /* "_" */ &&
    !RESERVED_METHOD_NAMES.has(name) &&
    !OBJECT_PROTOTYPE_NAMES.has(name)
  );
}

/**
 * Finds the function `name` names on `target` (own or inherited, not from `Object.prototype`), without invoking
 * getters. Returns undefined when there is none or the name is not callable.
 */
export function findMethod(target: object, name: string): ((...args: unknown[]) => unknown) | undefined {
  if (!isCallableName(name)) return undefined;
  for (let o: object | null = target; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    const descriptor = Object.getOwnPropertyDescriptor(o, name);
    if (descriptor === undefined) continue;
    return typeof descriptor.value === "function" ? (descriptor.value as (...args: unknown[]) => unknown) : undefined;
  }
  return undefined;
}

/** Every callable method name of `target`, sorted. */
export function listMethods(target: object): string[] {
  const names = new Set<string>();
  for (let o: object | null = target; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const name of Object.getOwnPropertyNames(o)) {
      if (isCallableName(name) && findMethod(target, name) !== undefined) names.add(name);
    }
  }
  return [...names].sort();
}

/** The error a refused or unknown method name gets, naming it. */
export function unknownMethodError(name: unknown, actor: string): PulsingRuntimeError {
  const shown = typeof name === "string" ? `'${name}'` : `of type ${typeof name}`;
  if (typeof name === "string" && name.length > 0 && !isCallableName(name)) {
    return new PulsingRuntimeError(
      ErrorCode.METHOD_NOT_FOUND,
      `method ${shown} of actor '${actor}' cannot be called remotely (constructor, '_'-prefixed names, lifecycle hooks and Object.prototype members are not callable)`,
    );
  }
  return new PulsingRuntimeError(ErrorCode.METHOD_NOT_FOUND, `actor '${actor}' has no method ${shown}`);
}

const GeneratorFunction = Object.getPrototypeOf(function* () {}).constructor as unknown;
const AsyncGeneratorFunction = Object.getPrototypeOf(async function* () {}).constructor as unknown;

/** Whether `fn` is a (sync or async) generator function, i.e. a method whose calls stream. */
export function isGeneratorFunction(fn: unknown): boolean {
  if (typeof fn !== "function") return false;
  const ctor = Object.getPrototypeOf(fn)?.constructor;
  return ctor === GeneratorFunction || ctor === AsyncGeneratorFunction;
}
