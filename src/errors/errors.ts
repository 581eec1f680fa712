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

/**
 * The kinds of framework failure, as the `code` of a `PulsingRuntimeError`: stable across versions and across the
 * wire, so callers branch on them rather than on messages.
 */
export const ErrorCode = {
  /** An option or argument is missing, of the wrong type, out of range, or unknown. */
  INVALID_OPTION: "INVALID_OPTION",
  /** An argument that is not an options object is not what the function takes (a name, an id, a class…). */
  INVALID_ARGUMENT: "INVALID_ARGUMENT",
  /** The global system is used before `init()`. */
  NOT_INITIALIZED: "NOT_INITIALIZED",
  /** This system, or the node a call went to, is shutting down or shut down. */
  SHUTDOWN: "SHUTDOWN",
  /** No actor with that name or id (on that node). */
  ACTOR_NOT_FOUND: "ACTOR_NOT_FOUND",
  /** The actor stopped (or is restarting) before it could take the call. */
  ACTOR_STOPPED: "ACTOR_STOPPED",
  /** The actor has no such method, or it cannot be called remotely. */
  METHOD_NOT_FOUND: "METHOD_NOT_FOUND",
  /** A name is already taken on this node. */
  NAME_TAKEN: "NAME_TAKEN",
  /** A spawn on another node names a class that node has not registered (or registered twice). */
  CLASS_NOT_REGISTERED: "CLASS_NOT_REGISTERED",
  /** A stream was expected and a single value came, or the reverse. */
  NOT_A_STREAM: "NOT_A_STREAM",
  /** A stream was written after it closed or was cancelled by its reader. */
  STREAM_CLOSED: "STREAM_CLOSED",
  /** An object is used in a way its state does not allow (a stream read twice, a context outside a method…). */
  INVALID_STATE: "INVALID_STATE",
  /** The node is not in this node's member table and none of its peers could say where it is. */
  NODE_UNKNOWN: "NODE_UNKNOWN",
  /** The node was declared dead (or left the cluster). */
  NODE_DEAD: "NODE_DEAD",
  /** The node could not be dialed. */
  NODE_UNREACHABLE: "NODE_UNREACHABLE",
  /** The connection (or stream) to the node went away while the call was under way. */
  CONNECTION_LOST: "CONNECTION_LOST",
  /** The cluster secret did not match, was missing, or admission did not complete. */
  ADMISSION_REFUSED: "ADMISSION_REFUSED",
  /** A frame is over the sender's or the receiver's `maxFrameSize`. */
  FRAME_TOO_LARGE: "FRAME_TOO_LARGE",
  /** A value cannot be encoded for the wire (a function, a class instance, a cycle…). */
  ENCODING: "ENCODING",
  /** A peer sent something the protocol does not allow (a malformed frame, a duplicate id, too many items…). */
  PROTOCOL_ERROR: "PROTOCOL_ERROR",
  /** The operation is not available here (e.g. a head-node call on a node that is not one). */
  UNSUPPORTED: "UNSUPPORTED",
  /** Persistent storage could not be opened, read or written (a queue's `level` database in use by another process…). */
  STORAGE_FAILED: "STORAGE_FAILED",
  /**
   * A process could not be started (no such command, a bad `cwd`…), or `subprocess.run(…, { check: true })` saw it
   * end with a non-zero code or a signal (the error carries `exitCode`, `signal`, `stdout`, `stderr`).
   */
  PROCESS_FAILED: "PROCESS_FAILED",
  /**
   * No node runs the process: the node named did not opt in (`init({ serveProcesses: true })`), or no node that
   * did has the `resources` asked for.
   */
  PROCESSES_NOT_SERVED: "PROCESSES_NOT_SERVED",
  /** An outside service the node called (an LLM endpoint of `pulsing/agent`) failed or answered with an error status. */
  UPSTREAM_FAILED: "UPSTREAM_FAILED",
  /** A framework wait ran out of time (calls that time out reject with `PulsingTimeoutError`, whose code this is too). */
  TIMEOUT: "TIMEOUT",
  /** Raised without a code (e.g. constructed by user code). */
  UNSPECIFIED: "UNSPECIFIED",
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode));

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && CODES.has(value);
}

/**
 * A framework failure: unknown actor, stopped actor, lost connection, bad configuration, unencodable value... Its
 * `code` says which (`ErrorCode`): `if (error instanceof PulsingRuntimeError && error.code === "NODE_DEAD") …`.
 */
export class PulsingRuntimeError extends PulsingError {
  readonly code: ErrorCode;
  constructor(message: string, cause?: unknown);
  constructor(code: ErrorCode, message: string, cause?: unknown);
  constructor(first: string, second?: unknown, third?: unknown) {
    const coded = typeof second === "string" && isErrorCode(first);
    super(coded ? second : first, causeOption(coded ? third : second));
    this.code = coded ? first : ErrorCode.UNSPECIFIED;
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
  readonly code = ErrorCode.TIMEOUT;
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
  readonly code = ErrorCode.UNSUPPORTED;
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

/**
 * Settles like `promise`, or rejects with `signal`'s reason when it aborts first (then `abandoned` runs: what the
 * promise still does must be undone by it).
 */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal, abandoned: () => void): Promise<T> {
  if (signal.aborted) {
    abandoned();
    return Promise.reject(abortReason(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      abandoned();
      reject(abortReason(signal));
    };
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
