import type { Stream } from "@libp2p/interface";
import { lpStream } from "@libp2p/utils";
import type { Mesh } from "../transport/mesh.js";
import { every, realClock, type Clock } from "../util/clock.js";
import { decode, encode } from "../wire/codec.js";
import type { Member } from "./membership.js";
import type { MembershipTopic } from "./membership-topic.js";

/**
 * The membership feed, `/pulsing/cluster/feed/1.0.0`: how a browser tab follows the cluster without being part of
 * its gossip. A tab is a light member: it does not subscribe to the membership topic (so it relays nobody's
 * messages); it holds one long-lived stream to a full node, its *home*, which forwards every membership message it
 * sends or receives, and publishes the tab's own changes (its arrival, names, refutations, leave) for it.
 *
 * Frames are length-prefixed MessagePack values:
 *   tab → home   `{ t: "follow", cluster }` first, then `{ t: "m", d: <a change batch> }`
 *   home → tab   `{ t: "ok" }` first (or the stream is aborted: refused), then `{ t: "m", a: <author>, d: <batch> }`,
 *                and `{ t: "k" }` after 2 s without anything to forward (a tab whose home is silent for 6 s moves)
 */
export const FEED_PROTOCOL = "/pulsing/cluster/feed/1.0.0";

/** A membership message is small (≤ 64 changes); anything larger is not one. */
const MAX_FEED_FRAME = 1 << 20;
/** Frames a home holds for a follower that does not read; past it the follower is dropped (it follows again and catches up). */
const MAX_PENDING_FRAMES = 512;
/** A home has this long to accept a follower. */
const FOLLOW_TIMEOUT_MS = 5_000;
/** Without a home, a tab tries again this often (and at once when a connection to a candidate opens). */
const RETRY_MS = 1_000;
/** A home with nothing to forward says so this often: a frozen home (its connection stays open) is noticed. */
const KEEPALIVE_MS = 2_000;
/** A tab whose home said nothing for this long follows another. */
const SILENT_HOME_MS = 3 * KEEPALIVE_MS;

/** The home side, as the membership offers it. */
export interface FeedHome {
  /** Takes `peer` as a follower of `cluster` (`forward` gets every membership message from now on); false: refused. */
  addFollower(peer: string, cluster: string, forward: (author: string, data: Uint8Array) => void): boolean;
  removeFollower(peer: string, forward: (author: string, data: Uint8Array) => void): void;
  /** A batch of changes from follower `peer` (untrusted): those about itself are taken in and published for it. */
  fromFollower(peer: string, data: Uint8Array): void;
}

/** Serves followers (full nodes). */
export async function serveFeeds(mesh: Mesh, home: FeedHome): Promise<void> {
  await mesh.handleStreams(FEED_PROTOCOL, (peer, stream) => void serveFollower(peer, stream, home), 4);
}

async function serveFollower(peer: string, stream: Stream, home: FeedHome): Promise<void> {
  const lp = lpStream(stream, { maxDataLength: MAX_FEED_FRAME });
  const out = new FrameQueue(lp, stream);
  let forward: ((author: string, data: Uint8Array) => void) | undefined;
  let keepalive: ReturnType<typeof setInterval> | undefined;
  try {
    const hello = decode((await lp.read({ signal: AbortSignal.timeout(FOLLOW_TIMEOUT_MS) })).subarray()) as { t?: unknown; cluster?: unknown };
    if (hello?.t !== "follow" || typeof hello.cluster !== "string") throw new Error("not a follow request");
    const f = (author: string, data: Uint8Array): void => out.push({ t: "m", a: author, d: data });
    if (!home.addFollower(peer, hello.cluster, f)) throw new Error("not followed here");
    forward = f;
    out.push({ t: "ok" });
    keepalive = setInterval(() => {
      if (performance.now() - out.lastPush >= KEEPALIVE_MS) out.push({ t: "k" });
    }, KEEPALIVE_MS);
    for (;;) {
      const frame = decode((await lp.read()).subarray()) as { t?: unknown; d?: unknown };
      if (frame?.t !== "m" || !(frame.d instanceof Uint8Array)) throw new Error("not a feed frame");
      home.fromFollower(peer, frame.d);
    }
  } catch (error) {
    if (stream.status === "open") stream.abort(error instanceof Error ? error : new Error(String(error)));
  } finally {
    clearInterval(keepalive);
    if (forward !== undefined) home.removeFollower(peer, forward);
  }
}

/** Writes frames in order, one at a time; a reader that falls too far behind has its stream aborted. */
class FrameQueue {
  readonly #lp: ReturnType<typeof lpStream<Stream>>;
  readonly #stream: Stream;
  readonly #pending: Uint8Array[] = [];
  #writing = false;
  /** When a frame was last queued (`performance.now()`). */
  lastPush = performance.now();

  constructor(lp: ReturnType<typeof lpStream<Stream>>, stream: Stream) {
    this.#lp = lp;
    this.#stream = stream;
  }

  push(frame: unknown): void {
    if (this.#stream.status !== "open") return;
    if (this.#pending.length >= MAX_PENDING_FRAMES) {
      this.#stream.abort(new Error("the follower does not read its feed"));
      return;
    }
    this.#pending.push(encode(frame, "a membership feed frame"));
    this.lastPush = performance.now();
    if (!this.#writing) void this.#drain();
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#pending.length > 0) await this.#lp.write(this.#pending.shift()!);
    } catch (error) {
      if (this.#stream.status === "open") this.#stream.abort(error instanceof Error ? error : new Error(String(error)));
    } finally {
      this.#writing = false;
    }
  }
}

/**
 * The full nodes a tab may follow: `reachable` (its seeds, then other peers it is connected to) less
 * those known as tabs or dead; with none of those, every full member it knows alive (dialed when followed: a tab
 * whose seeds are all gone still finds a way back).
 */
export function homeCandidates(self: string, reachable: string[], members: ReadonlyArray<Pick<Member, "nodeId" | "runtime" | "status">>): string[] {
  const known = new Map(members.map((m) => [m.nodeId, m]));
  const connected = [...new Set(reachable)].filter((peer) => {
    const member = known.get(peer);
    return peer !== self && (member === undefined || (member.runtime !== "browser" && member.status !== "dead"));
  });
  if (connected.length > 0) return connected;
  return members.filter((m) => m.nodeId !== self && m.runtime !== "browser" && m.status === "alive").map((m) => m.nodeId);
}

/** The membership topic of a light member (a tab): the feed of its home node, moved to another when it goes. */
export interface HomeFeedTopic extends MembershipTopic {
  /** Calls `listener` with each home this member starts following (the first, and each after a move). */
  onHome(listener: (home: string) => void): void;
  /** An admitted connection opened: a candidate home, when there is none. */
  peerConnected(peer: string): void;
}

/**
 * A tab's feed. `candidates()` lists the full nodes it may follow (its seeds and other connected members, see
 * `homeCandidates`), tried in random order; one that refuses or does not answer is skipped.
 */
export function homeFeedTopic(
  mesh: Mesh,
  cluster: string,
  candidates: () => string[],
  { clock = realClock, random = Math.random }: { clock?: Clock; random?: () => number } = {},
): HomeFeedTopic {
  let deliver: ((author: string, data: Uint8Array) => void) | undefined;
  let current: { home: string; stream: Stream; out: FrameQueue; lastHeard: number } | undefined;
  let connecting = false;
  let stopped = true;
  let stopRetrying: (() => void) | undefined;
  const homeListeners: Array<(home: string) => void> = [];

  const follow = async (peer: string): Promise<boolean> => {
    let stream: Stream | undefined;
    try {
      stream = await mesh.openStream(peer, FEED_PROTOCOL, FOLLOW_TIMEOUT_MS);
      const lp = lpStream(stream, { maxDataLength: MAX_FEED_FRAME });
      await lp.write(encode({ t: "follow", cluster }, "a follow request"));
      const answer = decode((await lp.read({ signal: AbortSignal.timeout(FOLLOW_TIMEOUT_MS) })).subarray()) as { t?: unknown };
      if (answer?.t !== "ok") throw new Error("not followed");
      if (stopped) throw new Error("stopped");
      const out = new FrameQueue(lp, stream);
      current = { home: peer, stream, out, lastHeard: clock.now() };
      void read(lp, stream, peer);
      for (const listener of homeListeners) listener(peer);
      return true;
    } catch (error) {
      if (stream !== undefined && stream.status === "open") stream.abort(error instanceof Error ? error : new Error(String(error)));
      return false;
    }
  };

  const read = async (lp: ReturnType<typeof lpStream<Stream>>, stream: Stream, peer: string): Promise<void> => {
    try {
      for (;;) {
        const frame = decode((await lp.read()).subarray()) as { t?: unknown; a?: unknown; d?: unknown };
        if (current?.stream === stream) current.lastHeard = clock.now();
        if (frame?.t === "k") continue;
        if (frame?.t !== "m" || typeof frame.a !== "string" || !(frame.d instanceof Uint8Array)) throw new Error("not a feed frame");
        deliver?.(frame.a, frame.d);
      }
    } catch (error) {
      if (stream.status === "open") stream.abort(error instanceof Error ? error : new Error(String(error)));
    }
    if (current?.stream === stream) {
      current = undefined;
      if (!stopped) void findHome(peer);
    }
  };

  /** Follows the first candidate that accepts (`lost`, the home just gone, last). */
  const findHome = async (lost?: string): Promise<void> => {
    if (connecting || stopped || current !== undefined) return;
    connecting = true;
    try {
      // In random order (tabs spread over their seeds: a home forwards every change to each of its tabs), the home
      // just lost last.
      const list = [...new Set(candidates())]
        .map((peer) => ({ peer, key: peer === lost ? 2 : random() }))
        .sort((a, b) => a.key - b.key)
        .map((c) => c.peer);
      for (const peer of list) if (!stopped && (await follow(peer))) return;
    } finally {
      connecting = false;
    }
  };

  return {
    start(onMessage) {
      deliver = onMessage;
      stopped = false;
      stopRetrying = every(clock, RETRY_MS, () => {
        if (current === undefined) void findHome();
        // A home that stopped talking (frozen, cut off: its connection may stay open for long) is left.
        else if (clock.now() - current.lastHeard > SILENT_HOME_MS) current.stream.abort(new Error("the home node went silent"));
      });
      void findHome();
    },
    stop() {
      stopped = true;
      stopRetrying?.();
      const stream = current?.stream;
      current = undefined;
      if (stream !== undefined) void stream.close({ signal: AbortSignal.timeout(1_000) }).catch(() => stream.abort(new Error("stopped")));
    },
    async publish(data) {
      if (current === undefined) return 0;
      current.out.push({ t: "m", d: data });
      return 1;
    },
    // A tab's messages reach the cluster once it has a home: `onHome` says when (and the membership announces then).
    onPeerSubscribed() {},
    onHome(listener) {
      homeListeners.push(listener);
    },
    peerConnected() {
      if (current === undefined) void findHome();
    },
  };
}
