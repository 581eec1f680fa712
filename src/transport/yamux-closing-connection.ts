import type { MessageStream, StreamMuxer, StreamMuxerFactory } from "@libp2p/interface";

/**
 * `@libp2p/yamux` (8.0.3, the newest release) with a crash worked around: a stream opened on a connection that is
 * closing at that moment sends its opening window update from a bare `queueMicrotask`, and the closed connection's
 * `send` throws `StreamStateError` there — outside any caller's try/catch, so the process dies with an uncaught
 * exception (seen here in the membership benchmark, 50 nodes: a probe's ping stream opened while a connection went
 * down). The same class of bug as js-libp2p#3512 (fixed in @libp2p/utils), in yamux's own microtask.
 *
 * The wrapper drops what the muxer writes once its connection no longer takes writes, instead of throwing: nothing
 * sent then would arrive anyway, and the connection's close ends every stream on it (their callers see that). The
 * same for a relayed connection whose carrier stream closed first (seen as Node seeds crashing when dashboard tabs
 * closed). Only the muxers this factory makes are touched. Drop it once yamux guards its microtask.
 */
export function tolerateClosingConnection<A extends unknown[], T extends StreamMuxer>(
  factory: (...args: A) => StreamMuxerFactory<T>,
): (...args: A) => StreamMuxerFactory<T> {
  return (...args) => {
    const inner = factory(...args);
    return {
      get protocol() {
        return inner.protocol;
      },
      createStreamMuxer(maConn: MessageStream): T {
        const muxer = inner.createStreamMuxer(maConn);
        const send = (muxer as unknown as { send?: (data: unknown) => boolean }).send;
        if (typeof send === "function") {
          (muxer as unknown as { send: (data: unknown) => boolean }).send = (data) => {
            // (`writeStatus` is AbstractMessageStream's, which every libp2p connection stream is)
            const status = (maConn as { writeStatus?: string }).writeStatus;
            if (status === "closed" || status === "closing") {
              maConn.log.trace("connection closing: dropped a muxer frame");
              return true;
            }
            try {
              return send.call(muxer, data);
            } catch (error) {
              // A relayed connection (circuit relay) writes into a stream of the relay's connection, which may be
              // closed while the relayed one still looks writable: its send throws, the relayed connection aborts
              // itself, and the throw would escape yamux's microtask the same way.
              if ((error as { name?: unknown } | null)?.name !== "StreamStateError") throw error;
              maConn.log.trace("connection's carrier closed: dropped a muxer frame");
              return true;
            }
          };
        }
        return muxer;
      },
    };
  };
}
