import type { Connection } from "@libp2p/interface";

/** How a connection reaches its peer, as `system.connections()` reports it. */
export type ConnectionTransport = "tcp" | "websocket" | "webrtc" | "relay" | "other";

export function transportOf(connection: Connection): ConnectionTransport {
  const addr = connection.remoteAddr.toString();
  if (/\/webrtc(\/|$)/.test(addr)) return "webrtc";
  if (addr.includes("/p2p-circuit")) return "relay";
  if (/\/wss?(\/|$)/.test(addr)) return "websocket";
  if (addr.includes("/tcp/")) return "tcp";
  return "other";
}

/** A tab's address through a relay reservation: `…/p2p-circuit/p2p/<tab>`. */
export const RELAYED_ADDR = /\/p2p-circuit\/p2p\//;
/** A tab's WebRTC address, signalled through a relay: `…/p2p-circuit/webrtc/p2p/<tab>`. */
export const RELAYED_WEBRTC_ADDR = /\/p2p-circuit\/webrtc\//;

/** Whether a connection goes through a relay (limited, slower) rather than directly. */
export function isRelayed(connection: Connection): boolean {
  // A WebRTC address names the relay it was signalled through, but the connection itself is direct.
  if (transportOf(connection) === "webrtc") return false;
  return connection.limits !== undefined || connection.remoteAddr.toString().includes("/p2p-circuit");
}
