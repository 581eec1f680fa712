import type { Stream } from "@libp2p/interface";
import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import { FrameReader, type FrameReaderEvents } from "../wire/frame-reader.js";
import { FrameWriter } from "./frame-writer.js";

/**
 * Sets a libp2p stream up for frames, the same way on both ends of an RPC stream: a write-buffer tripwire, a
 * `FrameReader` fed from the stream's `message` events, and one `onEnd(cause)` when the stream closes or can no
 * longer be read (a length prefix that is not a varint, a handler that throws: the stream is then aborted).
 * Returns the stream's `FrameWriter`.
 */
export function openFrameStream(
  stream: Stream,
  maxFrameSize: number,
  peer: string,
  events: FrameReaderEvents,
  onEnd: (cause: unknown) => void,
): FrameWriter {
  let ended = false;
  const end = (cause: unknown): void => {
    if (ended) return;
    ended = true;
    onEnd(cause);
  };
  // A tripwire only: the writer waits for `drain` long before a buffer this size.
  stream.maxWriteBufferLength = Math.max(32 * 1024 * 1024, maxFrameSize * 2);
  const writer = new FrameWriter(stream, end);
  const reader = new FrameReader(maxFrameSize, events);
  stream.addEventListener("message", (event) => {
    try {
      for (const part of chunks(event.data)) reader.push(part);
      if (reader.broken !== undefined)
        throw new PulsingRuntimeError(ErrorCode.PROTOCOL_ERROR, `protocol error from node ${peer}: ${reader.broken}`);
    } catch (error) {
      // An exception escaping a 'message' listener would crash the process.
      end(error);
      if (stream.status === "open") stream.abort(error instanceof Error ? error : new PulsingRuntimeError(String(error)));
    }
  });
  stream.addEventListener("close", (event) => end((event as { error?: unknown }).error), { once: true });
  return writer;
}

/** The parts of a `message` event's data (a Uint8ArrayList with yamux), without copying them together. */
function* chunks(data: Uint8Array | Iterable<Uint8Array>): Iterable<Uint8Array> {
  if (data instanceof Uint8Array) yield data;
  else yield* data;
}
