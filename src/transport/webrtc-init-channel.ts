import type { MessageStream, StreamMuxer, StreamMuxerFactory, Transport, Upgrader } from "@libp2p/interface";

/** The label of the data channel a WebRTC dialer opens only so that ICE has something to gather candidates for. */
const INIT_LABEL = "init";
/** How long an `init` channel the dialer has not closed stays open (its dial has long timed out by then). */
const INIT_CHANNEL_GRACE_MS = 10_000;

/**
 * `@libp2p/webrtc`'s private-to-private transport (`webRTC()`) with a race of its 6.0.x releases worked around.
 *
 * The dialer opens an `init` data channel; once ICE reports connected it waits for that channel's `open` event,
 * then closes it. The answering side (its muxer) closes `init` as soon as the channel arrives. When the dialer's
 * tab was busy, both `open` and `close` had fired by the time it looked, and it waited for an `open` that never
 * came until its dial timed out, while the answering side already had its connection up (and closed it later,
 * when admission timed out). Measured: 10 of 143 dials between pairs of fresh tabs calling each other at once.
 *
 * The fix here is on the answering side, which is what this node controls without touching the browser's
 * WebRTC classes: the muxer of each inbound WebRTC connection leaves `init` open for the dialer to close, as
 * the dialer expects. Every Pulsing tab runs it, so between Pulsing nodes the dialer always sees `open`. Scope:
 * only the connections of this transport instance (the wrapper hands the transport its own view of the node's
 * upgrader, which passes everything through but the muxer of inbound connections).
 *
 * If `@libp2p/webrtc` changes the internals this relies on (the muxer's `onDataChannel`), the wrapper does
 * nothing and the library's own behaviour stands (test/webrtc-init-channel.test.ts notices). Drop this once
 * upstream fixes the race (docs/DEPENDENCIES.md).
 */
export function leaveInitChannelToDialer<Components extends { upgrader: Upgrader }, T extends Transport>(
  transport: (components: Components) => T,
): (components: Components) => T {
  return (components) => {
    let seen: Upgrader | undefined;
    let wrapped: Upgrader | undefined;
    const view = new Proxy(components, {
      get(target, prop) {
        if (prop !== "upgrader") return Reflect.get(target, prop);
        const upgrader = target.upgrader;
        if (upgrader !== seen) {
          seen = upgrader;
          wrapped = withInboundMuxerHook(upgrader);
        }
        return wrapped;
      },
    });
    return transport(view);
  };
}

/** `upgrader`, except that the muxer factory a transport brings for an inbound connection leaves `init` alone. */
function withInboundMuxerHook(upgrader: Upgrader): Upgrader {
  const upgradeInbound = (maConn: unknown, opts: { muxerFactory?: StreamMuxerFactory }): Promise<void> =>
    (upgrader.upgradeInbound as (maConn: unknown, opts: unknown) => Promise<void>)(
      maConn,
      opts.muxerFactory === undefined ? opts : { ...opts, muxerFactory: leavingInitChannel(opts.muxerFactory) },
    );
  return new Proxy(upgrader, {
    get(target, prop) {
      if (prop === "upgradeInbound") return upgradeInbound;
      const value: unknown = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** The muxer's hook for a data channel the remote side opened (called for early channels and later ones alike). */
interface DataChannelAdopter {
  onDataChannel(channel: RTCDataChannel, earlyMessages?: unknown): void;
}

function leavingInitChannel(factory: StreamMuxerFactory): StreamMuxerFactory {
  return {
    get protocol() {
      return factory.protocol;
    },
    createStreamMuxer(maConn): StreamMuxer {
      const muxer = factory.createStreamMuxer(maConn);
      const adopt = (muxer as unknown as Partial<DataChannelAdopter>).onDataChannel;
      if (typeof adopt === "function") {
        // Set before the muxer adopts its early channels (it does so in a microtask).
        (muxer as unknown as DataChannelAdopter).onDataChannel = (channel, earlyMessages) => {
          if (channel.label !== INIT_LABEL) return adopt.call(muxer, channel, earlyMessages);
          maConn.log.trace("leaving init channel %d for the dialer to close", channel.id);
          leaveToDialer(channel, maConn);
        };
      }
      return muxer;
    },
  };
}

/**
 * The dialer closes `init` once it has seen it open. Should it not, the channel closes after a grace period, or
 * with its connection at the latest (nothing else would close it: the muxer does not know it).
 */
function leaveToDialer(channel: RTCDataChannel, connection: MessageStream): void {
  channel.onmessage = null; // drops the muxer's early-channel buffer: nothing is sent on `init`
  if (channel.readyState === "closing" || channel.readyState === "closed") return;
  const close = (): void => {
    try {
      channel.close();
    } catch {
      // already gone with its connection
    }
  };
  const timer = setTimeout(close, INIT_CHANNEL_GRACE_MS);
  (timer as { unref?: () => void }).unref?.(); // (Node) a process does not stay up for it
  connection.addEventListener("close", close, { once: true });
  channel.addEventListener(
    "close",
    () => {
      clearTimeout(timer);
      connection.removeEventListener("close", close);
    },
    { once: true },
  );
}
