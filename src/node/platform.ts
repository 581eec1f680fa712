import { AsyncLocalStorage } from "node:async_hooks";
import { SyncContextStore, type ContextStore } from "../actor/context-store.js";
import type { Platform, RuntimeKind } from "../platform/platform.js";
import { listenAddrs } from "../transport/addresses.js";

/** The sync slot for sync methods, AsyncLocalStorage for async ones (see `ContextStore`). */
class AsyncContextStore<T> extends SyncContextStore<T> implements ContextStore<T> {
  readonly #storage = new AsyncLocalStorage<T>();
  override readonly tracksAsync = true;

  override runTracked<R>(value: T, fn: (...args: never[]) => R, self: unknown, args: readonly unknown[]): R {
    return this.#storage.run(value, () => Reflect.apply(fn, self, args));
  }

  override get(): T | undefined {
    return super.get() ?? this.#storage.getStore();
  }
}

const runtime: RuntimeKind = typeof (globalThis as { Deno?: unknown }).Deno === "object" ? "deno" : "node";

/**
 * Node and Deno: AsyncLocalStorage keeps `currentContext()` valid across the awaits of async methods; nodes
 * listen on TCP and WebSockets and dial seeds over TCP.
 */
export const platform: Platform = {
  runtime,
  createContextStore: () => new AsyncContextStore(),
  // child_process and the process runner are loaded only by those who use them.
  processes: async () => (await import("./processes.js")).processSupport,
  transports: async ({ addr, seeds }) => {
    // Node 20 has no global WebSocket, which @libp2p/websockets dials with. `ws` sockets are EventEmitters: an
    // 'error' (a refused dial) with no EventEmitter listener would crash the process, so one is always there.
    if (typeof globalThis.WebSocket !== "function") {
      const { WebSocket } = await import("ws");
      class QuietWebSocket extends WebSocket {
        constructor(...args: ConstructorParameters<typeof WebSocket>) {
          super(...args);
          this.on("error", () => {});
        }
      }
      (globalThis as { WebSocket?: unknown }).WebSocket = QuietWebSocket;
    }
    const [{ tcp }, { webSockets }, { circuitRelayServer, circuitRelayTransport }] = await Promise.all([
      import("@libp2p/tcp"),
      import("@libp2p/websockets"),
      import("@libp2p/circuit-relay-v2"),
    ]);
    // A node that joins without an address still listens (on free ports) so that others can dial it.
    const listen = addr !== undefined ? listenAddrs(addr) : seeds.length > 0 ? listenAddrs("0.0.0.0:0") : [];
    return {
      // The relay transport lets this node reach browser tabs through a seed's relay.
      transports: [tcp(), webSockets(), circuitRelayTransport()],
      listen,
      seedTransport: "tcp",
      // Every listening node relays for browser tabs (signalling for their WebRTC, and the fallback path).
      // Relayed connections carry admitted cluster traffic, so libp2p's default data/time limits are off.
      services:
        listen.length > 0 ? { relay: circuitRelayServer({ reservations: { maxReservations: 256, applyDefaultLimit: false } }) } : {},
      gater: {},
      maxConnections: 300,
      targetPeers: 6,
      directWebRTC: false,
      ...(runtime === "deno" ? { release: (await import("./deno-channels.js")).holdUnrefdChannels() } : {}),
    };
  },
};
