import {
  ErrorCode,
  isErrorCode,
  PulsingActorError,
  PulsingBusinessError,
  PulsingError,
  PulsingRuntimeError,
  PulsingSystemError,
  PulsingTimeoutError,
  PulsingUnsupportedError,
} from "./errors.js";

/**
 * Errors as plain data, so they cross the wire keeping their class, fields, stack and cause.
 * On receipt only classes from a fixed allow-list are rebuilt; any other name becomes a plain `Error`
 * carrying that name. Field values are data only: nothing from the wire can choose a prototype.
 */
export interface WireError {
  /** class name */
  n: string;
  /** message */
  m: string;
  /** stack, as the thrower saw it */
  s?: string;
  /** class-specific fields, or primitive own fields of other errors (e.g. Node's `code`) */
  f?: Record<string, unknown>;
  /** the cause, as a wire error or a plain value */
  c?: unknown;
}

const MAX_CAUSE_DEPTH = 8;
const MAX_STACK_LENGTH = 16_384;

type Rebuild = (message: string, fields: Record<string, unknown>) => Error;

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const num = (v: unknown, fallback: number): number => (typeof v === "number" ? v : fallback);

const REBUILD: Record<string, Rebuild> = Object.assign(Object.create(null) as Record<string, Rebuild>, {
  PulsingError: (m: string) => new PulsingError(m),
  PulsingRuntimeError: (m: string, f: Record<string, unknown>) =>
    isErrorCode(f.code) ? new PulsingRuntimeError(f.code, m) : new PulsingRuntimeError(m),
  PulsingActorError: (m: string, f: Record<string, unknown>) => new PulsingActorError(m, str(f.actorName)),
  PulsingBusinessError: (m: string, f: Record<string, unknown>) =>
    new PulsingBusinessError(typeof f.code === "string" ? f.code : num(f.code, 0), m, f.details),
  PulsingSystemError: (m: string, f: Record<string, unknown>) => new PulsingSystemError(str(f.error) ?? m, f.recoverable !== false),
  PulsingTimeoutError: (m: string, f: Record<string, unknown>) => new PulsingTimeoutError(str(f.operation) ?? m, num(f.durationMs, 0)),
  PulsingUnsupportedError: (m: string, f: Record<string, unknown>) => new PulsingUnsupportedError(str(f.operation) ?? m),
  Error: (m: string) => new Error(m),
  TypeError: (m: string) => new TypeError(m),
  RangeError: (m: string) => new RangeError(m),
  ReferenceError: (m: string) => new ReferenceError(m),
  SyntaxError: (m: string) => new SyntaxError(m),
  EvalError: (m: string) => new EvalError(m),
  URIError: (m: string) => new URIError(m),
});

/** Fields each Pulsing class carries across the wire, beyond name, message, stack and cause. */
const PULSING_FIELDS = ["actorName", "code", "details", "error", "recoverable", "operation", "durationMs"] as const;

/**
 * An error as plain data. Its stack (file paths, code structure) goes only with `stacks`: a development option,
 * since it tells any caller about the node's internals.
 */
export function errorToWire(error: Error, stacks = false, depth = 0): WireError {
  const wire: WireError = { n: safeName(error), m: String(error.message ?? "") };
  if (stacks && typeof error.stack === "string") wire.s = error.stack.slice(0, MAX_STACK_LENGTH);
  const fields: Record<string, unknown> = {};
  let any = false;
  if (error instanceof PulsingError) {
    for (const key of PULSING_FIELDS) {
      const value = (error as unknown as Record<string, unknown>)[key];
      if (value !== undefined) {
        fields[key] = value;
        any = true;
      }
    }
  } else {
    for (const key of Object.keys(error)) {
      const value = (error as unknown as Record<string, unknown>)[key];
      if (value === null || ["string", "number", "boolean"].includes(typeof value)) {
        fields[key] = value;
        any = true;
      }
    }
  }
  if (any) wire.f = fields;
  if ("cause" in error && error.cause !== undefined) {
    const cause = error.cause;
    if (cause instanceof Error) {
      if (depth < MAX_CAUSE_DEPTH) wire.c = errorToWire(cause, stacks, depth + 1);
    } else if (cause === null || ["string", "number", "boolean"].includes(typeof cause)) {
      wire.c = cause;
    } else {
      wire.c = Object.prototype.toString.call(cause);
    }
  }
  return wire;
}

export function errorFromWire(data: unknown, depth = 0): Error {
  if (typeof data !== "object" || data === null) {
    return new PulsingRuntimeError(ErrorCode.PROTOCOL_ERROR, `malformed error on the wire: ${typeof data}`);
  }
  const wire = data as Partial<WireError>;
  const name = typeof wire.n === "string" ? wire.n : "Error";
  const message = typeof wire.m === "string" ? wire.m : "";
  const fields = (typeof wire.f === "object" && wire.f !== null ? wire.f : {}) as Record<string, unknown>;
  const rebuild = REBUILD[name];
  const error = rebuild !== undefined ? rebuild(message, fields) : new Error(message);
  if (rebuild === undefined) {
    Object.defineProperty(error, "name", { value: name, writable: true, configurable: true, enumerable: false });
  }
  if (rebuild === undefined || !(error instanceof PulsingError)) {
    for (const [key, value] of Object.entries(fields)) {
      if (key !== "name" && key !== "message" && key !== "stack" && key !== "cause") {
        (error as unknown as Record<string, unknown>)[key] = value;
      }
    }
  }
  // Without the sender's stack, no stack: the frames of the decoder here would only mislead.
  const stack = typeof wire.s === "string" ? wire.s : `${name}: ${message}`;
  Object.defineProperty(error, "stack", { value: stack, writable: true, configurable: true, enumerable: false });
  if ("c" in wire && wire.c !== undefined) {
    const cause = typeof wire.c === "object" && wire.c !== null && depth < MAX_CAUSE_DEPTH ? errorFromWire(wire.c, depth + 1) : wire.c;
    Object.defineProperty(error, "cause", { value: cause, writable: true, configurable: true, enumerable: false });
  }
  return error;
}

function safeName(error: Error): string {
  const name = error.name;
  return typeof name === "string" && name.length > 0 && name.length <= 200 ? name : "Error";
}
