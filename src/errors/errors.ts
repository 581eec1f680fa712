/**
 * The Pulsing error hierarchy. Every class keeps its fields across the wire (see `./wire-error.ts`).
 *
 * ```
 * PulsingError
 * ├── PulsingRuntimeError      framework: not found, stopped, connection, cluster, config, serialization
 * └── PulsingActorError        raised by actor code
 *     ├── PulsingBusinessError
 *     ├── PulsingSystemError
 *     ├── PulsingTimeoutError
 *     └── PulsingUnsupportedError
 * ```
 */

/** Sets `name` on the prototype, so instances carry no own enumerable `name` and subclasses stay distinct. */
function named(cls: { prototype: Error }, name: string): void {
  Object.defineProperty(cls.prototype, "name", { value: name, writable: true, configurable: true, enumerable: false });
}

function causeOption(cause: unknown): ErrorOptions | undefined {
  return cause === undefined ? undefined : { cause };
}

/** Base class of every error Pulsing raises or carries. */
export class PulsingError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}
named(PulsingError, "PulsingError");

/** A framework failure: unknown actor, stopped actor, lost connection, bad configuration, unencodable value... */
export class PulsingRuntimeError extends PulsingError {
  constructor(message: string, cause?: unknown) {
    super(message, causeOption(cause));
  }
}
named(PulsingRuntimeError, "PulsingRuntimeError");

/** An error raised by actor code. Errors of other classes thrown by an actor reach callers wrapped in this class. */
export class PulsingActorError extends PulsingError {
  /** The name (or id) of the actor that raised it, when known. */
  actorName: string | undefined;
  constructor(message: string, actorName?: string, cause?: unknown) {
    super(message, causeOption(cause));
    this.actorName = actorName;
  }
}
named(PulsingActorError, "PulsingActorError");

/** A business-logic failure meant for the caller (bad input, a rule refused). Does not count as an actor failure. */
export class PulsingBusinessError extends PulsingActorError {
  readonly code: number | string;
  readonly details: unknown;
  constructor(code: number | string, message: string, details?: unknown) {
    super(message);
    this.code = code;
    this.details = details;
  }
}
named(PulsingBusinessError, "PulsingBusinessError");

/**
 * An internal failure of the actor. Thrown by a method it counts as an actor failure for supervision;
 * with `recoverable: false` the actor stops whatever its restart policy.
 */
export class PulsingSystemError extends PulsingActorError {
  readonly error: string;
  readonly recoverable: boolean;
  constructor(error: string, recoverable = true) {
    super(error);
    this.error = error;
    this.recoverable = recoverable;
  }
}
named(PulsingSystemError, "PulsingSystemError");

/** An operation that did not finish in time. Calls with a `timeout` reject with it. */
export class PulsingTimeoutError extends PulsingActorError {
  readonly operation: string;
  readonly durationMs: number;
  constructor(operation: string, durationMs = 0) {
    super(`Operation '${operation}' timed out after ${durationMs}ms`);
    this.operation = operation;
    this.durationMs = durationMs;
  }
}
named(PulsingTimeoutError, "PulsingTimeoutError");

/** The actor does not support the requested operation. */
export class PulsingUnsupportedError extends PulsingActorError {
  readonly operation: string;
  constructor(operation: string) {
    super(`Unsupported operation: ${operation}`);
    this.operation = operation;
  }
}
named(PulsingUnsupportedError, "PulsingUnsupportedError");

/**
 * What a caller receives for an error thrown inside an actor: Pulsing errors pass through unchanged; anything else
 * becomes a `PulsingActorError` whose message names the original class and whose `cause` is the original error.
 */
export function toActorError(error: unknown, actorName: string | undefined): PulsingError {
  if (error instanceof PulsingError) {
    if (error instanceof PulsingActorError && error.actorName === undefined) error.actorName = actorName;
    return error;
  }
  if (error instanceof Error) {
    return new PulsingActorError(`${error.name}: ${error.message}`, actorName, error);
  }
  return new PulsingActorError(`non-error value thrown: ${describeThrown(error)}`, actorName, error);
}

function describeThrown(value: unknown): string {
  try {
    const text = typeof value === "string" ? JSON.stringify(value) : String(value);
    return text.length > 200 ? `${text.slice(0, 200)}…` : text;
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** The `AbortError` a signal without a reason aborts with, as in DOM APIs. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The operation was aborted", "AbortError");
}
