import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import { concatBytes } from "../util/bytes.js";

/**
 * A process's stdout or stderr: an async iterable of byte chunks, read at the reader's pace (the process waits when
 * the reader does; nothing is buffered beyond a small window), or of lines with `lines()`. It can be read once;
 * breaking out of the loop stops reading (the process may then fail writing to a closed pipe).
 */
export class ProcessOutput implements AsyncIterable<Uint8Array> {
  readonly #open: (() => AsyncIterable<Uint8Array>) | undefined;
  readonly #label: string;
  readonly #encoding: string;
  #taken = false;

  /**
   * @internal `open` is undefined when the stream is not piped; `encoding` is what `lines()` and `text()` decode
   * with when given none (the handle's `encoding`).
   */
  constructor(open: (() => AsyncIterable<Uint8Array>) | undefined, label: string, encoding = "utf8") {
    this.#open = open;
    this.#label = label;
    this.#encoding = encoding;
  }

  /** Whether the stream is piped (can be read). */
  get piped(): boolean {
    return this.#open !== undefined;
  }

  /** @internal Whether it is being (or was) read: it can be read once. */
  get taken(): boolean {
    return this.#taken;
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    if (this.#open === undefined) {
      throw new PulsingRuntimeError(ErrorCode.INVALID_STATE, `${this.#label} is not piped (spawn with ${this.#label}: "pipe")`);
    }
    if (this.#taken) throw new PulsingRuntimeError(ErrorCode.INVALID_STATE, `${this.#label} can be read once`);
    this.#taken = true;
    return this.#open()[Symbol.asyncIterator]();
  }

  /** The output as lines (split on `\n`, a trailing `\r` dropped), decoded with `encoding` (default: the spawn's, else UTF-8). */
  async *lines(encoding = this.#encoding): AsyncGenerator<string, void, undefined> {
    const decoder = new TextDecoder(encoding);
    let partial = "";
    for await (const chunk of this) {
      partial += decoder.decode(chunk, { stream: true });
      let newline: number;
      while ((newline = partial.indexOf("\n")) >= 0) {
        yield stripCr(partial.slice(0, newline));
        partial = partial.slice(newline + 1);
      }
    }
    partial += decoder.decode();
    if (partial.length > 0) yield stripCr(partial);
  }

  /** All of it, as one byte array (read to the end). */
  async bytes(): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    for await (const chunk of this) chunks.push(chunk);
    return concat(chunks);
  }

  /** All of it, decoded (with the spawn's `encoding` by default, else UTF-8). */
  async text(encoding = this.#encoding): Promise<string> {
    return new TextDecoder(encoding).decode(await this.bytes());
  }
}

function stripCr(line: string): string {
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}

export function concat(chunks: readonly Uint8Array[]): Uint8Array {
  return chunks.length === 1 ? chunks[0]! : concatBytes(chunks);
}
