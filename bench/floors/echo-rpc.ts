/**
 * The floors' minimal RPC: the least a request/reply over one byte stream can do with the runtime's framing.
 * Frames are `varint length ‖ msgpack([id, value])`, read with the runtime's `FrameReader` and written with its
 * adaptive `FrameWriter` (so a floor differs from the runtime by what sits above the byte stream: no actor
 * layer, no call options, no frame validation, no safety scan of incoming msgpack, leaner frame encoding).
 * The server decodes each request and encodes the reply, as an actor's side decodes args and encodes the result.
 */
import { Packr, Unpackr } from "msgpackr";
import { FrameWriter, type ByteSink } from "../../src/transport/frame-writer.js";
import { FrameReader } from "../../src/wire/frame-reader.js";

/** One bidirectional byte stream (a libp2p stream or a TCP socket), reduced to what the floors use. */
export interface Duplex {
  readonly sink: ByteSink;
  /** Feeds received bytes, in order, to `onData`; calls `onClose` once when the transport goes. */
  listen(onData: (chunk: Uint8Array) => void, onClose: (error?: unknown) => void): void;
  close(): void;
}

const MAX_FRAME = 1 << 20;
const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

/** A frame body; the shared `FrameWriter` writes the varint length prefix in front of it (as in the runtime). */
function encodeFrame(id: number, value: unknown): Uint8Array {
  return packr.pack([id, value]);
}

function decodeFrame(bytes: Uint8Array): [number, unknown] {
  return unpackr.unpack(bytes) as [number, unknown];
}

/** Answers every request on `duplex` with its own value. */
export function serveEcho(duplex: Duplex): void {
  const writer = new FrameWriter(duplex.sink, () => duplex.close());
  const reader = new FrameReader(MAX_FRAME, {
    frame: (bytes) => {
      const [id, value] = decodeFrame(bytes);
      writer.write(encodeFrame(id, value));
    },
    oversized: () => duplex.close(),
  });
  duplex.listen(
    (chunk) => reader.push(chunk),
    () => writer.close(),
  );
}

interface Waiter {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** The calling side: any number of calls in flight, matched to replies by id. */
export class EchoClient {
  readonly #duplex: Duplex;
  readonly #writer: FrameWriter;
  readonly #pending = new Map<number, Waiter>();
  #nextId = 1;
  #closed: Error | undefined;

  constructor(duplex: Duplex) {
    this.#duplex = duplex;
    this.#writer = new FrameWriter(duplex.sink, (error) => this.#fail(error));
    const reader = new FrameReader(MAX_FRAME, {
      frame: (bytes) => {
        const [id, value] = decodeFrame(bytes);
        const waiter = this.#pending.get(id);
        this.#pending.delete(id);
        waiter?.resolve(value);
      },
      oversized: () => this.#fail(new Error("oversized reply")),
    });
    duplex.listen(
      (chunk) => reader.push(chunk),
      (error) => this.#fail(error ?? new Error("floor stream closed")),
    );
  }

  call(value: unknown): Promise<unknown> {
    if (this.#closed !== undefined) return Promise.reject(this.#closed);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#writer.write(encodeFrame(id, value));
    });
  }

  close(): void {
    this.#fail(new Error("floor client closed"));
    this.#duplex.close();
  }

  #fail(error: unknown): void {
    if (this.#closed !== undefined) return;
    this.#closed = error instanceof Error ? error : new Error(String(error));
    this.#writer.close();
    for (const waiter of this.#pending.values()) waiter.reject(this.#closed);
    this.#pending.clear();
  }
}
