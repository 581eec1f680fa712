import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";

/**
 * Options checking, derived from the options' TypeScript types: each options type has one schema object, a check
 * per key, declared `satisfies OptionSchema<TheOptions>`. The compiler then refuses a schema that lacks a key of
 * the type or has one the type lacks, so what type-checks is exactly what is accepted at run time. A misspelt option
 * fails loudly (`unknown option 'restart_policy' for spawn(); did you mean 'restartPolicy'?`) instead of being
 * ignored, and a bad value is refused with a `PulsingRuntimeError` (code `INVALID_OPTION`) that names it.
 */

/** Checks one option's value (never `undefined`: absent options are not checked) and returns it. */
export type Check<T> = (where: string, name: string, value: unknown) => T;

/** One check per key of `T`, no more, no fewer (use with `satisfies`). */
export type OptionSchema<T> = { readonly [K in keyof T]-?: Check<Exclude<T[K], undefined>> };

/**
 * Checks `options` against `schema`: an object (or undefined) whose keys are all in the schema and whose values
 * pass their checks. Returns the options, typed.
 */
export function checkOptions<T extends object>(where: string, options: T | undefined | null, schema: OptionSchema<T>): T {
  if (options === undefined || options === null) return {} as T;
  if (typeof options !== "object" || Array.isArray(options)) {
    throw invalid(`${where}: options must be an object, got ${typeName(options)}`);
  }
  const checks = schema as unknown as Record<string, Check<unknown>>;
  for (const key of Object.keys(options)) {
    if (!Object.hasOwn(checks, key)) {
      const allowed = Object.keys(checks);
      const hint = closest(key, allowed);
      throw invalid(`${where}: unknown option '${key}'${hint ? `; did you mean '${hint}'?` : ""} (allowed: ${allowed.join(", ")})`);
    }
    const value = (options as Record<string, unknown>)[key];
    if (value !== undefined) checks[key]!(where, key, value);
  }
  return options;
}

/** The keys a schema accepts (for tests and documentation). */
export function optionNames<T>(schema: OptionSchema<T>): string[] {
  return Object.keys(schema);
}

// --- checks ----------------------------------------------------------------------------------------------------

/** A non-negative number of milliseconds. */
export const duration: Check<number> = (where, name, value) => {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw invalid(`${where}: '${name}' must be a non-negative number of milliseconds, got ${show(value)}`);
  }
  return value;
};

/** A number of milliseconds of at least `min`. */
export function durationAtLeast(min: number): Check<number> {
  return (where, name, value) => {
    if (typeof value !== "number" || !Number.isFinite(value) || value < min) {
      throw invalid(`${where}: '${name}' must be a number of milliseconds ≥ ${min}, got ${show(value)}`);
    }
    return value;
  };
}

/** An integer of at least `min` (and `Infinity` when `orInfinity`). */
export function integer(min: number, orInfinity = false): Check<number> {
  return (where, name, value) => {
    if (orInfinity && value === Infinity) return value;
    if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
      throw invalid(`${where}: '${name}' must be an integer ≥ ${min}${orInfinity ? " or Infinity" : ""}, got ${show(value)}`);
    }
    return value;
  };
}

export const boolean: Check<boolean> = (where, name, value) => {
  if (typeof value !== "boolean") throw invalid(`${where}: '${name}' must be a boolean, got ${show(value)}`);
  return value;
};

export const string: Check<string> = (where, name, value) => {
  if (typeof value !== "string") throw invalid(`${where}: '${name}' must be a string, got ${show(value)}`);
  return value;
};

export const stringArray: Check<string[]> = (where, name, value) => {
  if (!Array.isArray(value) || value.some((item) => typeof item !== "string")) {
    throw invalid(`${where}: '${name}' must be an array of strings, got ${show(value)}`);
  }
  return value as string[];
};

export const array: Check<readonly unknown[]> = (where, name, value) => {
  if (!Array.isArray(value)) throw invalid(`${where}: '${name}' must be an array, got ${show(value)}`);
  return value;
};

export const signal: Check<AbortSignal> = (where, name, value) => {
  if (!(value instanceof AbortSignal)) throw invalid(`${where}: '${name}' must be an AbortSignal, got ${show(value)}`);
  return value;
};

export const bytes: Check<Uint8Array> = (where, name, value) => {
  if (!(value instanceof Uint8Array)) throw invalid(`${where}: '${name}' must be a Uint8Array, got ${show(value)}`);
  return value;
};

/** A class (or any constructor). */
export const constructor: Check<abstract new (...args: any[]) => any> = (where, name, value) => {
  if (typeof value !== "function") throw invalid(`${where}: '${name}' must be a class, got ${show(value)}`);
  return value as abstract new (...args: any[]) => any;
};

/** One of a fixed set of strings. */
export function oneOf<const V extends string>(...values: V[]): Check<V> {
  return (where, name, value) => {
    if (typeof value !== "string" || !(values as string[]).includes(value)) {
      throw invalid(`${where}: '${name}' must be one of ${values.map((v) => JSON.stringify(v)).join(", ")}, got ${show(value)}`);
    }
    return value as V;
  };
}

/** A nested options object with its own schema. */
export function nested<T extends object>(schema: OptionSchema<T>): Check<T> {
  return (where, name, value) => {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw invalid(`${where}: '${name}' must be an options object, got ${show(value)}`);
    }
    return checkOptions(`${where}: ${name}`, value as T, schema);
  };
}

/** The first check that accepts the value (for unions such as `boolean | { … }`); the last one's error otherwise. */
export function either<A, B>(first: Check<A>, second: Check<B>): Check<A | B> {
  return (where, name, value) => {
    try {
      return first(where, name, value);
    } catch {
      return second(where, name, value);
    }
  };
}

// --- single values (arguments that are not options objects) ---------------------------------------------------

/** A non-negative number of milliseconds (or undefined), else a typed error naming the option. */
export function optionalDuration(where: string, name: string, value: unknown): number | undefined {
  return value === undefined ? undefined : duration(where, name, value);
}

export function optionalInteger(where: string, name: string, value: unknown, min: number): number | undefined {
  return value === undefined ? undefined : integer(min)(where, name, value);
}

export function optionalBoolean(where: string, name: string, value: unknown): boolean | undefined {
  return value === undefined ? undefined : boolean(where, name, value);
}

export function optionalString(where: string, name: string, value: unknown): string | undefined {
  return value === undefined ? undefined : string(where, name, value);
}

export function invalid(message: string): PulsingRuntimeError {
  return new PulsingRuntimeError(ErrorCode.INVALID_OPTION, message);
}

export function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

export function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || value === undefined || value === null) return String(value);
  return typeName(value);
}

function closest(key: string, candidates: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[_-]/g, "");
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(norm(key), norm(candidate));
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}
