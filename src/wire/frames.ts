import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";

/**
 * The frames of the Pulsing wire protocol (`/pulsing/rpc/1.0.0`), as arrays: `[kind, …fields]`.
 * See docs/PROTOCOL.md for what each means and how the protocol evolves.
 */
export const FrameKind = {
  Call: 1,
  Tell: 2,
  Reply: 3,
  Error: 4,
  StreamOpen: 5,
  Items: 6,
  End: 7,
  Credit: 8,
  Cancel: 9,
  GoAway: 10,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

/** Call modes on the wire. */
export const WireMode = { ask: 0, call: 1, stream: 2 } as const;
export type WireModeName = keyof typeof WireMode;
const MODE_NAMES: readonly WireModeName[] = ["ask", "call", "stream"];

/** Stream kinds on the wire. */
export const WireStreamKind = { iterator: 0, message: 1 } as const;

export type Frame =
  /** A call expecting an answer. `to` is the target's local id; `timeout` ms (0: none); `credit` for a stream. */
  | { kind: 1; id: number; to: number; method: string | undefined; args: unknown[]; mode: WireModeName; timeout: number; credit: number }
  /** A call expecting no answer. */
  | { kind: 2; to: number; method: string | undefined; args: unknown[] }
  | { kind: 3; id: number; value: unknown }
  | { kind: 4; id: number; error: unknown }
  | { kind: 5; id: number; stream: "iterator" | "message"; msgType: string }
  | { kind: 6; id: number; items: unknown[] }
  | { kind: 7; id: number }
  | { kind: 8; id: number; n: number }
  | { kind: 9; id: number }
  /** The sender is shutting down: fail what waits on it now. */
  | { kind: 10; reason: string };

/** A frame that could not be understood; `id` names the call it belonged to, when that much was readable. */
export class FrameError extends PulsingRuntimeError {
  constructor(
    message: string,
    readonly id: number | undefined,
  ) {
    super(ErrorCode.PROTOCOL_ERROR, message);
  }
}

/** The array form of a frame, for the codec. */
export function frameToWire(frame: Frame): unknown[] {
  switch (frame.kind) {
    case 1:
      return [1, frame.id, frame.to, frame.method ?? null, frame.args, WireMode[frame.mode], frame.timeout, frame.credit];
    case 2:
      return [2, frame.to, frame.method ?? null, frame.args];
    case 3:
      return [3, frame.id, frame.value];
    case 4:
      return [4, frame.id, frame.error];
    case 5:
      return [5, frame.id, WireStreamKind[frame.stream], frame.msgType];
    case 6:
      return [6, frame.id, frame.items];
    case 7:
    case 9:
      return [frame.kind, frame.id];
    case 8:
      return [8, frame.id, frame.n];
    case 10:
      return [10, frame.reason];
  }
}

function malformed(kind: unknown, id: number | undefined, what: string): never {
  throw new FrameError(`malformed frame (kind ${String(kind)}): ${what}`, kind === FrameKind.Call ? id : undefined);
}

const isId = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= Number.MAX_SAFE_INTEGER;
const isMethod = (v: unknown): v is string | null => v === null || (typeof v === "string" && v.length <= 1024);
const isCount = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 1 << 30;

/**
 * The most stream credit a caller may hold out to a producer, in a call frame or in total after credit frames
 * (callers grant at most their window: 32 by default, 1024 when it grows). More is refused: credit is what lets
 * a producer run, and a producer with a billion items of credit kept a node busy until it ran out of memory.
 */
export const MAX_STREAM_CREDIT = 65_536;
const isCredit = (v: unknown): v is number => isCount(v) && v <= MAX_STREAM_CREDIT;

/** Checks a decoded value is a well-formed frame; throws `FrameError` (with the call id when readable). */
export function frameFromWire(value: unknown): Frame {
  if (!Array.isArray(value) || value.length === 0) throw new FrameError("frame is not a non-empty array", undefined);
  const kind = value[0];
  const id = isId(value[1]) ? value[1] : undefined;
  switch (kind) {
    case FrameKind.Call: {
      const [, , to, method, args, mode, timeout, credit] = value;
      if (id === undefined) malformed(kind, id, "bad id");
      if (!isId(to)) malformed(kind, id, "bad target");
      if (!isMethod(method)) malformed(kind, id, "bad method");
      if (!Array.isArray(args)) malformed(kind, id, "args is not an array");
      const modeName = typeof mode === "number" ? MODE_NAMES[mode] : undefined;
      if (modeName === undefined) malformed(kind, id, "bad mode");
      if (!isCount(timeout)) malformed(kind, id, "bad timeout");
      if (!isCredit(credit)) malformed(kind, id, `bad credit (at most ${MAX_STREAM_CREDIT} items)`);
      return {
        kind,
        id: id!,
        to: to as number,
        method: (method as string | null) ?? undefined,
        args: args as unknown[],
        mode: modeName!,
        timeout: timeout as number,
        credit: credit as number,
      };
    }
    case FrameKind.Tell: {
      const [, to, method, args] = value;
      if (!isId(to)) malformed(kind, id, "bad target");
      if (!isMethod(method)) malformed(kind, id, "bad method");
      if (!Array.isArray(args)) malformed(kind, id, "args is not an array");
      return { kind, to: to as number, method: (method as string | null) ?? undefined, args: args as unknown[] };
    }
    case FrameKind.Reply:
      if (id === undefined) malformed(kind, id, "bad id");
      return { kind, id: id!, value: value[2] };
    case FrameKind.Error:
      if (id === undefined) malformed(kind, id, "bad id");
      return { kind, id: id!, error: value[2] };
    case FrameKind.StreamOpen: {
      if (id === undefined) malformed(kind, id, "bad id");
      const stream = value[2] === 0 ? "iterator" : value[2] === 1 ? "message" : malformed(kind, id, "bad stream kind");
      if (typeof value[3] !== "string") malformed(kind, id, "bad msgType");
      return { kind, id: id!, stream: stream as "iterator" | "message", msgType: value[3] as string };
    }
    case FrameKind.Items:
      if (id === undefined) malformed(kind, id, "bad id");
      if (!Array.isArray(value[2])) malformed(kind, id, "items is not an array");
      return { kind, id: id!, items: value[2] as unknown[] };
    case FrameKind.End:
    case FrameKind.Cancel:
      if (id === undefined) malformed(kind, id, "bad id");
      return { kind, id: id! };
    case FrameKind.Credit:
      if (id === undefined) malformed(kind, id, "bad id");
      if (!isCredit(value[2]) || value[2] === 0) malformed(kind, id, `bad credit (at most ${MAX_STREAM_CREDIT} items)`);
      return { kind, id: id!, n: value[2] as number };
    case FrameKind.GoAway:
      return { kind, reason: typeof value[1] === "string" ? value[1].slice(0, 1024) : "going away" };
    default:
      throw new FrameError(`unknown frame kind ${String(kind)}`, undefined);
  }
}
