import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";

/**
 * Checks an options object against the keys it may have, so a misspelt option fails loudly
 * (`unknown option 'restart_policy' for spawn(); did you mean 'restartPolicy'?`) instead of being ignored.
 */
export function checkOptionKeys(where: string, options: unknown, allowed: readonly string[]): void {
  if (options === undefined || options === null) return;
  if (typeof options !== "object" || Array.isArray(options)) {
    throw new PulsingRuntimeError(ErrorCode.INVALID_OPTION, `${where}: options must be an object, got ${typeName(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (allowed.includes(key)) continue;
    const hint = closest(key, allowed);
    throw new PulsingRuntimeError(
      ErrorCode.INVALID_OPTION,
      `${where}: unknown option '${key}'${hint ? `; did you mean '${hint}'?` : ""} (allowed: ${allowed.join(", ")})`,
    );
  }
}

export function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

/** A non-negative number of milliseconds (or undefined), else a typed error naming the option. */
export function optionalDuration(where: string, name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new PulsingRuntimeError(
      ErrorCode.INVALID_OPTION,
      `${where}: '${name}' must be a non-negative number of milliseconds, got ${show(value)}`,
    );
  }
  return value;
}

export function optionalInteger(where: string, name: string, value: unknown, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw new PulsingRuntimeError(ErrorCode.INVALID_OPTION, `${where}: '${name}' must be an integer ≥ ${min}, got ${show(value)}`);
  }
  return value;
}

export function optionalBoolean(where: string, name: string, value: unknown): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "boolean")
    throw new PulsingRuntimeError(ErrorCode.INVALID_OPTION, `${where}: '${name}' must be a boolean, got ${show(value)}`);
  return value;
}

export function optionalString(where: string, name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string")
    throw new PulsingRuntimeError(ErrorCode.INVALID_OPTION, `${where}: '${name}' must be a string, got ${show(value)}`);
  return value;
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
