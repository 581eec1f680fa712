import type { Connection, Stream } from "@libp2p/interface";
import { lpStream } from "@libp2p/utils";
import { ErrorCode, PulsingError, PulsingRuntimeError } from "../errors/errors.js";
import { decode, encode } from "../wire/codec.js";
import { timeoutSignal } from "../util/deadline.js";

/**
 * One request and one answer on a stream of their own: a length-prefixed MessagePack value each way, then the
 * stream closes. For protocols whose exchanges are small and rare (the cluster's), where a stream per exchange
 * costs less than keeping one open.
 *
 * A request the answering side refuses or fails on (malformed, not servable, an error of the work it asked for) is
 * answered with the error itself, an `Error` value of the codec (class, message, fields such as `code`; no stack),
 * which `askOnce` throws: the asker gets a `PulsingRuntimeError` with the code the answerer gave (an error of another
 * class goes as one of code `UNSPECIFIED`). Only a stream that breaks the limits (an oversized request, a stalled
 * exchange) is aborted unanswered.
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
    if (answer instanceof Error) throw answer; // a refusal (or a failure) of the answering side
    return answer;
  } catch (error) {
    stream.abort(error instanceof Error ? error : new Error(String(error)));
    throw error;
  }
}

/**
 * Reads one request from `stream`, writes what `answer` makes of it (or the error it threw), closes. A request
 * over the limit, or a stream that fails, is aborted. Reading the request and writing the answer each have
 * `timeoutMs`; the work in between is bounded by the asker (a remote spawn may take minutes to start its actor).
 */
export async function answerOnce(
  stream: Stream,
  limits: RequestLimits & { timeoutMs: number },
  answer: (request: unknown) => Promise<unknown>,
): Promise<void> {
  try {
    const lp = lpStream(stream, { maxDataLength: limits.maxRequestBytes });
    const bytes = (await lp.read({ signal: timeoutSignal(limits.timeoutMs) })).subarray();
    let reply: Uint8Array;
    try {
      reply = encode(await answer(decode(bytes)), "an answer");
      if (reply.byteLength > limits.maxAnswerBytes) {
        throw new PulsingRuntimeError(ErrorCode.FRAME_TOO_LARGE, `the answer (${reply.byteLength} bytes) is over ${limits.maxAnswerBytes} bytes`);
      }
    } catch (error) {
      // Always a Pulsing error: the asker tells an answered failure from a failed exchange by its class.
      const refusal = error instanceof PulsingError ? error : new PulsingRuntimeError(ErrorCode.UNSPECIFIED, describe(error));
      reply = encode(refusal, "a refusal");
    }
    const signal = timeoutSignal(limits.timeoutMs);
    await lp.write(reply, { signal });
    await stream.close({ signal });
  } catch (error) {
    stream.abort(error instanceof Error ? error : new Error(String(error)));
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
