/**
 * Splits a byte stream into length-prefixed frames (unsigned LEB128 varint length, then the bytes), holding at
 * most one frame in memory. A frame longer than `maxFrameSize` is never buffered: its first bytes are kept (so
 * the call it belongs to can be answered) and the rest is skipped as it arrives.
 */
export interface FrameReaderEvents {
  frame(bytes: Uint8Array): void;
  /** A frame over the limit was skipped; `head` holds its first bytes. */
  oversized(length: number, head: Uint8Array): void;
}

const MAX_VARINT_BYTES = 5; // lengths up to 2^35 can be told apart from garbage
const OVERSIZED_HEAD = 32;

type Chunk = Uint8Array | { subarray(): Uint8Array };

export class FrameReader {
  readonly #maxFrameSize: number;
  readonly #events: FrameReaderEvents;
  /** length-prefix bytes read so far, when a prefix is split across chunks */
  #prefix: number[] = [];
  /** the frame being filled, when a frame is split across chunks (allocated once at its full size) */
  #frame: Uint8Array | undefined;
  #filled = 0;
  /** bytes still to skip of an oversized frame */
  #skip = 0;
  #broken: string | undefined;

  constructor(maxFrameSize: number, events: FrameReaderEvents) {
    this.#maxFrameSize = maxFrameSize;
    this.#events = events;
  }

  /** Set when the stream cannot be framed any more (a length prefix that is not a varint). */
  get broken(): string | undefined {
    return this.#broken;
  }

  push(chunk: Chunk): void {
    const data = chunk instanceof Uint8Array ? chunk : chunk.subarray();
    let at = 0;
    while (at < data.length && this.#broken === undefined) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, data.length - at);
        this.#skip -= n;
        at += n;
        continue;
      }
      const frame = this.#frame;
      if (frame !== undefined) {
        const n = Math.min(frame.length - this.#filled, data.length - at);
        frame.set(data.subarray(at, at + n), this.#filled);
        this.#filled += n;
        at += n;
        if (this.#filled === frame.length) {
          this.#frame = undefined;
          this.#events.frame(frame);
        }
        continue;
      }
      // The length prefix: an unsigned LEB128 varint.
      const byte = data[at++]!;
      this.#prefix.push(byte);
      if (byte & 0x80) {
        if (this.#prefix.length >= MAX_VARINT_BYTES) this.#broken = "invalid length prefix";
        continue;
      }
      let length = 0;
      for (let i = 0; i < this.#prefix.length; i++) length += (this.#prefix[i]! & 0x7f) * 2 ** (7 * i);
      this.#prefix = [];
      const available = data.length - at;
      if (length > this.#maxFrameSize) {
        this.#events.oversized(length, data.slice(at, at + Math.min(OVERSIZED_HEAD, available, length)));
        this.#skip = length;
        continue;
      }
      if (available >= length) {
        // The common case: the whole frame is in this chunk, no copy.
        this.#events.frame(data.subarray(at, at + length));
        at += length;
      } else {
        this.#frame = new Uint8Array(length);
        this.#filled = 0;
      }
    }
  }
}

/** Bytes the varint length prefix of `length` takes. */
export function varintLength(length: number): number {
  let bytes = 1;
  for (let n = length; n >= 0x80; n = Math.floor(n / 128)) bytes++;
  return bytes;
}

/** Writes the varint length prefix of `length` at `at`; returns where it ends. */
export function writeVarint(target: Uint8Array, at: number, length: number): number {
  let n = length;
  while (n >= 0x80) {
    target[at++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  target[at++] = n;
  return at;
}

/** The varint length prefix for `length`. */
export function lengthPrefix(length: number): Uint8Array {
  const out = new Uint8Array(varintLength(length));
  writeVarint(out, 0, length);
  return out;
}
