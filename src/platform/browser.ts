import { SyncContextStore } from "../actor/context-store.js";
import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import { seedAddr, seedGroups } from "../transport/addresses.js";
import { leaveInitChannelToDialer } from "../transport/webrtc-init-channel.js";
import type { Platform } from "./platform.js";

/**
 * How many relay reservations a tab keeps (one per seed, when it has that many): two, so that others can still reach
 * it (and its WebRTC signalling still runs) while one seed restarts; more would only take slots on more seeds.
 */
const RESERVATIONS = 2;

/**
 * Browsers (and any runtime without async context tracking). A tab dials its seeds over WebSockets, reserves a
 * slot on the circuit relays of up to two of them, and listens on `/webrtc` so other tabs can reach it directly
 * (signalling goes through the relay; the relayed connection stays as the fallback).
 */
export const platform: Platform = {
  runtime: "browser",
  createContextStore: () => new SyncContextStore(),
  transports: async ({ addr, seeds, webrtc }) => {
    if (addr !== undefined) throw new PulsingRuntimeError(ErrorCode.INVALID_OPTION, "a browser node cannot listen on an address: give it only 'seeds'");
    const [{ webSockets }, { webRTC }, { circuitRelayTransport }] = await Promise.all([
      import("@libp2p/websockets"),
      import("@libp2p/webrtc"),
      import("@libp2p/circuit-relay-v2"),
    ]);
    // Each `/p2p-circuit` listener holds one reservation, on a relay of its own (libp2p's relay discovery picks
    // connected peers that speak the hop protocol: the seeds); one lost with its seed is sought again on another.
    const reservations = Math.max(1, Math.min(RESERVATIONS, seedGroups(seeds.map((seed) => seedAddr(seed, "ws"))).length));
    const relayed = Array.from({ length: reservations }, () => "/p2p-circuit");
    return {
      transports: [
        webSockets(),
        // leaveInitChannelToDialer: a race in @libp2p/webrtc 6.0.x that stalled one direct dial in six, worked around
        ...(webrtc ? [leaveInitChannelToDialer(webRTC({ rtcConfiguration: { iceServers: [] } }))] : []),
        circuitRelayTransport({ reservationConcurrency: 2 }),
      ],
      listen: webrtc ? [...relayed, "/webrtc"] : relayed,
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
