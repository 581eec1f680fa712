import { PulsingActorError, ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import { decode, defineExtension, encode, EXT } from "../wire/codec.js";
import { BoundedChannel } from "./bounded-channel.js";
import { DEFAULT_STREAM_BUFFER } from "./stream-control.js";

/** A readable stream of items, as carried by a streaming `Message`. */
interface ItemSource extends AsyncIterator<unknown> {
  cancel(reason?: unknown): void;
}

const utf8Decoder = new TextDecoder();

/**
 * The message level of Pulsing (its seed API): a typed envelope around a binary payload, or a stream of items.
 * Actors written with `receive(msg, ctx)` can exchange these; they cross the wire as themselves.
 */
export class Message {
  readonly msgType: string;
  readonly payload: Uint8Array;
  readonly #source: ItemSource | undefined;
  #reading = false;

  private constructor(msgType: string, payload: Uint8Array, source: ItemSource | undefined) {
    this.msgType = msgType;
    this.payload = payload;
    this.#source = source;
  }

  /** A single message carrying raw bytes. */
  static single(msgType: string, payload: Uint8Array): Message {
    if (typeof msgType !== "string")
      throw new PulsingRuntimeError(ErrorCode.INVALID_OPTION, `Message.single: msgType must be a string, got ${typeof msgType}`);
    if (!(payload instanceof Uint8Array)) {
      throw new PulsingRuntimeError(
        ErrorCode.INVALID_ARGUMENT,
        `Message.single: payload must be a Uint8Array, got ${payload === null ? "null" : typeof payload}`,
      );
    }
    return new Message(msgType, payload, undefined);
  }

  /** A single message whose payload is `value` encoded with the wire codec (read it back with `toObject()`). */
  static pack(msgType: string, value: unknown): Message {
    return Message.single(msgType, encode(value, "Message.pack value"));
  }

  /** @internal A streaming message reading from `source`. */
  static fromSource(msgType: string, source: ItemSource): Message {
    return new Message(msgType, new Uint8Array(0), source);
  }

  get isStream(): boolean {
    return this.#source !== undefined;
  }

  /** Parses the payload as UTF-8 JSON. */
  toJson(): unknown {
    try {
      return JSON.parse(utf8Decoder.decode(this.payload));
    } catch (error) {
      throw new PulsingRuntimeError(
        ErrorCode.INVALID_STATE,
        `Message '${this.msgType}': payload is not UTF-8 JSON: ${(error as Error).message}`,
        error,
      );
    }
  }

  /** Decodes the payload with the wire codec. */
  toObject(): unknown {
    return decode(this.payload);
  }

  /** The items of a streaming message. Can be taken once. */
  streamReader(): StreamReader {
    if (this.#source === undefined) throw new PulsingRuntimeError(ErrorCode.NOT_A_STREAM, `Message '${this.msgType}' is not a stream`);
    if (this.#reading)
      throw new PulsingRuntimeError(ErrorCode.INVALID_STATE, `the stream of Message '${this.msgType}' is already being read`);
    this.#reading = true;
    return new StreamReader(this.#source);
  }
}

/** Reads the items of a streaming message: `for await (const item of msg.streamReader())`. */
export class StreamReader implements AsyncIterableIterator<unknown> {
  readonly #source: ItemSource;

  /** @internal */
  constructor(source: ItemSource) {
    this.#source = source;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<unknown>> {
    return this.#source.next();
  }

  return(): Promise<IteratorResult<unknown>> {
    this.#source.cancel();
    return Promise.resolve({ value: undefined, done: true });
  }

  /** Stops reading; the producer is told to stop. */
  cancel(reason?: unknown): void {
    this.#source.cancel(reason);
  }
}

/** Writes the items of a streaming message. `write` waits while the reader is `bufferSize` items behind. */
export class StreamWriter {
  readonly #channel: BoundedChannel<unknown>;

  /** @internal */
  constructor(channel: BoundedChannel<unknown>) {
    this.#channel = channel;
  }

  /** Appends an item; waits while the buffer is full. Rejects once the reader has cancelled. */
  write(item: unknown): Promise<void> {
    return this.#channel.write(item);
  }

  /** Ends the stream normally. */
  async close(): Promise<void> {
    this.#channel.close();
  }

  /** Ends the stream with an error the reader receives as a `PulsingActorError`. */
  async error(message: string): Promise<void> {
    this.#channel.fail(new PulsingActorError(String(message)));
  }

  /** Whether the reader has stopped reading (further writes reject). */
  get cancelled(): boolean {
    return this.#channel.cancelled;
  }
}

/** Streaming replies at the message level: `const [msg, writer] = StreamMessage.create("tokens")`. */
export const StreamMessage = {
  create(msgType = "", bufferSize = DEFAULT_STREAM_BUFFER): [Message, StreamWriter] {
    if (!Number.isInteger(bufferSize) || bufferSize < 1) {
      throw new PulsingRuntimeError(
        ErrorCode.INVALID_OPTION,
        `StreamMessage.create: bufferSize must be an integer ≥ 1, got ${String(bufferSize)}`,
      );
    }
    const channel = new BoundedChannel<unknown>(bufferSize);
    return [Message.fromSource(msgType, channel), new StreamWriter(channel)];
  },
};

/** @internal The item source of a streaming message (the runtime pumps it when the message is a reply). */
export function messageSource(message: Message): AsyncIterator<unknown> {
  return message.streamReader();
}

defineExtension({
  type: EXT.message,
  Class: Message as unknown as abstract new (...args: never[]) => Message,
  encode: (message: Message) => {
    if (message.isStream) {
      throw new PulsingRuntimeError(
        ErrorCode.INVALID_STATE,
        "a streaming Message can only be returned as a reply, not sent inside a value",
      );
    }
    return [message.msgType, message.payload];
  },
  decode: (data) => {
    if (!Array.isArray(data) || typeof data[0] !== "string" || !(data[1] instanceof Uint8Array)) {
      throw new PulsingRuntimeError(ErrorCode.PROTOCOL_ERROR, "malformed Message on the wire");
    }
    return Message.single(data[0], data[1]);
  },
});
