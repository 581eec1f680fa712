import { Packr, Unpackr, addExtension } from "msgpackr";
import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import { MsgpackScanError, scanMsgpack, type ScanLimits } from "./msgpack-scan.js";
import { findUnencodable } from "./unencodable.js";
import { errorFromWire, errorToWire } from "../errors/wire-error.js";

/**
 * The one value codec of Pulsing: MessagePack via msgpackr (the fastest codec measured on this stack), with
 * decoding made safe for input from the network (see `./msgpack-scan.ts`) and encoding failures reported with
 * the path of the offending value.
 *
 * Supported values: everything JSON has plus `undefined`, `NaN`/`±Infinity`, BigInt, Date, Set, Uint8Array and
 * the other typed arrays, errors (with their class and fields, see `../errors/wire-error.ts`), and the types the
 * runtime registers with `defineExtension` (actor refs, messages). Class instances travel as plain objects of
 * their own enumerable fields (like JSON and structuredClone); Maps arrive as plain objects.
 * Functions, symbols, promises, weak collections and cycles cannot be encoded.
 */

/** Application extension types this codec defines (msgpackr's own use other numbers). */
export const EXT = {
  actorRef: 0x01,
  error: 0x02,
  message: 0x03,
  actorProxy: 0x04,
  actorId: 0x05,
  /** Never written: matching it means the value cannot be encoded. */
  refused: 0x7e,
} as const;

const MSGPACKR_SET = 0x73;

const taggedExtensions = new Set<number>([MSGPACKR_SET]);
const limits: ScanLimits = { maxDepth: 100, taggedExtensions };

const packr = new Packr({ useRecords: false, structuredClone: false, moreTypes: true, encodeUndefinedAsNil: false });
const unpackr = new Unpackr({ useRecords: false, structuredClone: false, moreTypes: true, mapsAsObjects: true });

/** What a decoder needs to rebuild values bound to a place, e.g. actor refs bound to the receiving system. */
export type DecodeContext = unknown;
let currentDecodeContext: DecodeContext;

/** The decode context of the decode in progress (decoding is synchronous, so one slot is enough). */
export function decodeContext(): DecodeContext {
  return currentDecodeContext;
}

class UnencodableValueError extends Error {}

/**
 * Registers how values of `Class` (and subclasses) are written: `encode` returns an encodable stand-in, `decode`
 * rebuilds the value from it. Registered once per type at module load; the registry is global to msgpackr.
 */
export function defineExtension<T>(spec: {
  type: number;
  Class: abstract new (...args: never[]) => T;
  encode: (value: T) => unknown;
  decode: (data: unknown, context: DecodeContext) => unknown;
}): void {
  taggedExtensions.add(spec.type);
  addExtension({
    Class: spec.Class as unknown as new (...args: unknown[]) => T,
    type: spec.type,
    write: (value: T) => spec.encode(value),
    read: (data: unknown) => spec.decode(data, currentDecodeContext),
  });
}

// Values that msgpackr would silently turn into `{}` or `undefined` must fail instead.
for (const Class of [Function, Promise, WeakMap, WeakSet, ...(typeof WeakRef === "function" ? [WeakRef] : [])]) {
  addExtension({
    Class: Class as unknown as new (...args: unknown[]) => unknown,
    type: EXT.refused,
    write: () => {
      throw new UnencodableValueError();
    },
    read: () => {
      throw new MsgpackScanError("refused extension");
    },
  });
}

/** How values are encoded, beyond the value itself. */
export interface EncodeOptions {
  /** Errors carry their stack traces (a development option: stacks tell the receiver about the sender's code). */
  errorStacks?: boolean;
}

/** The options of the encode in progress (encoding is synchronous, so one slot is enough). */
let currentErrorStacks = false;

/** Encodes one value; a value that cannot be encoded is a `PulsingRuntimeError` naming its path under `what`. */
export function encode(value: unknown, what = "value", options?: EncodeOptions): Uint8Array {
  const previous = currentErrorStacks;
  currentErrorStacks = options?.errorStacks === true;
  try {
    return packr.pack(value);
  } catch (error) {
    if (error instanceof PulsingRuntimeError) throw error;
    const found = findUnencodable(value, what);
    if (found !== undefined) throw new PulsingRuntimeError(ErrorCode.ENCODING, `cannot encode ${found.path}: ${found.reason}`);
    throw new PulsingRuntimeError(ErrorCode.ENCODING, `cannot encode ${what}: ${(error as Error).message}`, error);
  } finally {
    currentErrorStacks = previous;
  }
}

/**
 * Decodes one value from bytes that may come from anyone. Malformed or refused input is a `PulsingRuntimeError`
 * ("malformed frame: …"); nothing is executed and no prototype is set.
 */
export function decode(bytes: Uint8Array, context?: DecodeContext): unknown {
  try {
    scanMsgpack(bytes, limits);
  } catch (error) {
    throw new PulsingRuntimeError(ErrorCode.PROTOCOL_ERROR, `malformed frame: ${(error as Error).message}`);
  }
  const previous = currentDecodeContext;
  currentDecodeContext = context;
  try {
    return unpackr.unpack(bytes);
  } catch (error) {
    if (error instanceof PulsingRuntimeError) throw error;
    throw new PulsingRuntimeError(ErrorCode.PROTOCOL_ERROR, `malformed frame: ${(error as Error).message}`);
  } finally {
    currentDecodeContext = previous;
  }
}

defineExtension({
  type: EXT.error,
  Class: Error,
  encode: (error: Error) => errorToWire(error, currentErrorStacks),
  decode: (data) => errorFromWire(data),
});
