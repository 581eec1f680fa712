import { SyncContextStore } from "../actor/context-store.js";
import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import { leaveInitChannelToDialer } from "../transport/webrtc-init-channel.js";
import type { Platform } from "./platform.js";

/**
 * Browsers (and any runtime without async context tracking). A tab dials its seeds over WebSockets, reserves a
 * slot on their circuit relays, and listens on `/webrtc` so other tabs can reach it directly (signalling goes
 * through the relay; the relayed connection stays as the fallback).
 */
export const platform: Platform = {
  runtime: "browser",
  createContextStore: () => new SyncContextStore(),
  transports: async ({ addr, webrtc }) => {
    if (addr !== undefined) throw new PulsingRuntimeError(ErrorCode.INVALID_OPTION, "a browser node cannot listen on an address: give it only 'seeds'");
    const [{ webSockets }, { webRTC }, { circuitRelayTransport }] = await Promise.all([
      import("@libp2p/websockets"),
      import("@libp2p/webrtc"),
      import("@libp2p/circuit-relay-v2"),
    ]);
    return {
      transports: [
        webSockets(),
        // leaveInitChannelToDialer: a race in @libp2p/webrtc 6.0.x that stalled one direct dial in six, worked around
        ...(webrtc ? [leaveInitChannelToDialer(webRTC({ rtcConfiguration: { iceServers: [] } }))] : []),
        circuitRelayTransport({ reservationConcurrency: 2 }),
      ],
      listen: webrtc ? ["/p2p-circuit", "/webrtc"] : ["/p2p-circuit"],
      seedTransport: "ws",
      services: {},
      // The browser default refuses ws:// and private or loopback addresses, which is where clusters on a LAN or
      // this machine live; admission (the cluster secret) is what guards connections here.
      gater: { denyDialMultiaddr: async () => false },
      maxConnections: 24,
      targetPeers: 3,
      directWebRTC: webrtc,
    };
  },
};
