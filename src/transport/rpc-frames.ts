import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import { decode, encode, type DecodeContext, type EncodeOptions } from "../wire/codec.js";
import { varintLength, writeVarint } from "../wire/frame-reader.js";
import { frameFromWire, frameToWire, FrameError, type Frame } from "../wire/frames.js";

/** The RPC protocol id; the version changes when frames change incompatibly (docs/PROTOCOL.md). */
export const RPC_PROTOCOL = "/pulsing/rpc/1.0.0";

/** Default largest frame either side accepts (bytes). */
export const DEFAULT_MAX_FRAME_SIZE = 8 * 1024 * 1024;

/** A frame's body (its length prefix is the writer's job); `what` names the encoded value in errors. */
export function encodeFrameBody(frame: Frame, maxFrameSize: number, what: string, options?: EncodeOptions): Uint8Array {
  const body = encode(frameToWire(frame), what, options);
  if (body.byteLength > maxFrameSize) {
    throw new PulsingRuntimeError(
      ErrorCode.FRAME_TOO_LARGE,
      `${what} take ${body.byteLength} bytes encoded, over the frame limit of ${maxFrameSize} bytes (maxFrameSize)`,
    );
  }
  return body;
}

/** A frame with its length prefix, as it goes on the wire. */
export function encodeFrame(frame: Frame, maxFrameSize: number, what: string): Uint8Array {
  const body = encodeFrameBody(frame, maxFrameSize, what);
  const out = new Uint8Array(varintLength(body.byteLength) + body.byteLength);
  out.set(body, writeVarint(out, 0, body.byteLength));
  return out;
}

/** Decodes and checks one frame; `FrameError` (typed, with the call id when readable) otherwise. */
export function decodeFrame(bytes: Uint8Array, context: DecodeContext): Frame {
  let value: unknown;
  try {
    value = decode(bytes, context);
  } catch (error) {
    const { kind, id } = peekFrameHeader(bytes);
    throw new FrameError((error as Error).message, kind === 1 || kind === 3 || kind === 4 || kind === 5 || kind === 6 ? id : undefined);
  }
  return frameFromWire(value);
}

/**
 * Reads the kind and call id from the first bytes of an encoded frame without decoding it, so an oversized or
 * undecodable frame can still be answered: `[kind, id, …]` is a MessagePack array whose first two elements are
 * small unsigned integers.
 */
export function peekFrameHeader(bytes: Uint8Array): { kind: number | undefined; id: number | undefined } {
  let at = 0;
  const token = bytes[at++];
  if (token === undefined) return { kind: undefined, id: undefined };
  if (token >= 0x90 && token <= 0x9f) {
    // fixarray
  } else if (token === 0xdc) at += 2;
  else if (token === 0xdd) at += 4;
  else return { kind: undefined, id: undefined };
  const kind = readUint(bytes, at);
  if (kind === undefined) return { kind: undefined, id: undefined };
  const id = readUint(bytes, kind.next);
  return { kind: kind.value, id: id?.value };
}

function readUint(bytes: Uint8Array, at: number): { value: number; next: number } | undefined {
  const token = bytes[at];
  if (token === undefined) return undefined;
  if (token <= 0x7f) return { value: token, next: at + 1 };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    switch (token) {
      case 0xcc:
        return { value: view.getUint8(at + 1), next: at + 2 };
      case 0xcd:
        return { value: view.getUint16(at + 1), next: at + 3 };
      case 0xce:
        return { value: view.getUint32(at + 1), next: at + 5 };
      case 0xcb: {
        const value = view.getFloat64(at + 1);
        return Number.isSafeInteger(value) && value >= 0 ? { value, next: at + 9 } : undefined;
      }
    }
  } catch {
    // truncated
  }
  return undefined;
}
