/**
 * Floor 2: the same echo RPC on a plain `node:net` socket (no encryption, no multiplexing). The `FrameWriter`
 * batches what a macrotask writes into one `socket.write()` per `setImmediate`, as it does on libp2p streams.
 */
import { connect, createServer, type Server, type Socket } from "node:net";
import { once } from "node:events";
import { EchoClient, serveEcho, type Duplex } from "./echo-rpc.js";

function socketDuplex(socket: Socket): Duplex {
  socket.setNoDelay(true);
  return {
    sink: {
      send: (data) => socket.write(data),
      onDrain: () =>
        new Promise<void>((resolve, reject) => {
          const drained = (): void => {
            socket.off("close", closed);
            resolve();
          };
          const closed = (): void => {
            socket.off("drain", drained);
            reject(new Error("socket closed"));
          };
          socket.once("drain", drained);
          socket.once("close", closed);
        }),
    },
    listen(onData, onClose) {
      socket.on("data", (chunk: Buffer) => {
        try {
          onData(chunk);
        } catch (error) {
          onClose(error);
          socket.destroy();
        }
      });
      socket.on("error", () => {}); // 'close' follows and reports it
      socket.once("close", (hadError) => onClose(hadError ? new Error("socket error") : undefined));
    },
    close: () => void socket.destroy(),
  };
}

/** The far side: an echo server on a free loopback port. */
export async function serveNetFloor(): Promise<Server> {
  const server = createServer((socket) => serveEcho(socketDuplex(socket)));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return server;
}

export async function openNetFloor(port: number): Promise<EchoClient> {
  const socket = connect(port, "127.0.0.1");
  await Promise.race([
    once(socket, "connect"),
    new Promise((_, reject) => setTimeout(() => reject(new Error(`cannot connect to 127.0.0.1:${port}`)), 10_000).unref()),
  ]);
  return new EchoClient(socketDuplex(socket));
}
