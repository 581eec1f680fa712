/**
 * Floor 1: the echo RPC on one long-lived libp2p stream. It runs on the actor systems' own libp2p nodes and
 * connection (TCP + noise + yamux, configured by the mesh), so it differs from a remote ask only by the actor
 * layer above the frames.
 */
import type { Libp2p, Stream } from "@libp2p/interface";
import { EchoClient, serveEcho, type Duplex } from "./echo-rpc.js";

export const FLOOR_PROTOCOL = "/pulsing-bench/echo/1.0.0";

/** As the runtime sets it on its RPC streams: yamux's own write buffer is unbounded otherwise. */
const MAX_WRITE_BUFFER = 32 * 1024 * 1024;

function streamDuplex(stream: Stream): Duplex {
  stream.maxWriteBufferLength = MAX_WRITE_BUFFER;
  return {
    sink: stream,
    listen(onData, onClose) {
      stream.addEventListener("message", (event) => {
        try {
          const data = event.data;
          if (data instanceof Uint8Array) onData(data);
          else for (const part of data) onData(part);
        } catch (error) {
          // A throw out of a 'message' listener would crash the process.
          onClose(error);
          stream.abort(error instanceof Error ? error : new Error(String(error)));
        }
      });
      stream.addEventListener("close", (event) => onClose(event.error), { once: true });
    },
    close: () => {
      if (stream.status === "open") stream.abort(new Error("bench floor closed"));
    },
  };
}

/** The far side: echoes on every stream opened with `FLOOR_PROTOCOL`. */
export async function serveLibp2pFloor(node: Libp2p): Promise<void> {
  await node.handle(FLOOR_PROTOCOL, (stream) => serveEcho(streamDuplex(stream)));
}

/** The calling side, on the connection already open to `peer`. */
export async function openLibp2pFloor(node: Libp2p, peer: string): Promise<EchoClient> {
  const connection = node.getConnections().find((c) => c.remotePeer.toString() === peer && c.status === "open");
  if (connection === undefined) throw new Error(`no open connection to ${peer}`);
  const stream = await connection.newStream(FLOOR_PROTOCOL, { signal: AbortSignal.timeout(10_000) });
  return new EchoClient(streamDuplex(stream));
}
