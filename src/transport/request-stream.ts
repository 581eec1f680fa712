import type { Connection, Stream } from "@libp2p/interface";
import { lpStream } from "@libp2p/utils";
import { decode, encode } from "../wire/codec.js";

/**
 * One request and one answer on a stream of their own: a length-prefixed MessagePack value each way, then the
 * stream closes. For protocols whose exchanges are small and rare (the cluster's), where a stream per exchange
 * costs less than keeping one open.
 */
export interface RequestLimits {
  /** Largest request taken (a longer one aborts the stream). */
  maxRequestBytes: number;
  /** Largest answer taken. */
  maxAnswerBytes: number;
}

/** Sends `request` on a new `protocol` stream of `connection` and returns the answer (an untrusted value). */
export async function askOnce(
  connection: Connection,
  protocol: string,
  request: unknown,
  limits: RequestLimits,
  signal: AbortSignal,
): Promise<unknown> {
  const stream = await connection.newStream(protocol, { signal, runOnLimitedConnection: true });
  try {
    const lp = lpStream(stream, { maxDataLength: limits.maxAnswerBytes });
    await lp.write(encode(request, "a request"), { signal });
    const answer = decode((await lp.read({ signal })).subarray());
    void stream.close({ signal: AbortSignal.timeout(1_000) }).catch(() => {});
    return answer;
  } catch (error) {
    stream.abort(error instanceof Error ? error : new Error(String(error)));
    throw error;
  }
}

/** Reads one request from `stream`, writes what `answer` makes of it, closes. Failures abort the stream. */
export async function answerOnce(
  stream: Stream,
  limits: RequestLimits,
  signal: AbortSignal,
  answer: (request: unknown) => Promise<unknown>,
): Promise<void> {
  try {
    const lp = lpStream(stream, { maxDataLength: limits.maxRequestBytes });
    const request = decode((await lp.read({ signal })).subarray());
    const reply = encode(await answer(request), "an answer");
    if (reply.byteLength > limits.maxAnswerBytes) throw new Error(`answer of ${reply.byteLength} bytes over ${limits.maxAnswerBytes}`);
    await lp.write(reply, { signal });
    await stream.close({ signal });
  } catch (error) {
    stream.abort(error instanceof Error ? error : new Error(String(error)));
  }
}
