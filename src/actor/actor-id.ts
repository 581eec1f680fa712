import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";

/**
 * The address of an actor: the node it lives on and its id there.
 * `String(id)` is `"<nodeId>:<localId>"`, the form `system.refer()` accepts.
 */
export class ActorId {
  constructor(
    readonly nodeId: string,
    readonly localId: number,
  ) {}

  /** Parses `"<nodeId>:<localId>"` (or returns an `ActorId` as is); a malformed id is a `PulsingRuntimeError`. */
  static from(value: ActorId | string): ActorId {
    if (value instanceof ActorId) return value;
    if (typeof value !== "string") {
      throw new PulsingRuntimeError(
        ErrorCode.INVALID_ARGUMENT,
        `invalid actor id: expected "<nodeId>:<localId>" or an ActorId, got ${typeof value}`,
      );
    }
    const colon = value.lastIndexOf(":");
    const nodeId = value.slice(0, colon);
    const local = value.slice(colon + 1);
    if (colon <= 0 || !/^\d{1,15}$/.test(local)) {
      throw new PulsingRuntimeError(
        ErrorCode.INVALID_ARGUMENT,
        `invalid actor id '${value}': expected "<nodeId>:<localId>" with a numeric localId`,
      );
    }
    return new ActorId(nodeId, Number(local));
  }

  equals(other: ActorId): boolean {
    return this.nodeId === other.nodeId && this.localId === other.localId;
  }

  toString(): string {
    return `${this.nodeId}:${this.localId}`;
  }

  toJSON(): string {
    return this.toString();
  }
}
