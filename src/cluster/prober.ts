import type { Stream } from "@libp2p/interface";
import { openFrameStream } from "../transport/frame-stream.js";
import type { FrameWriter } from "../transport/frame-writer.js";

/**
 * Probes of members, `/pulsing/cluster/probe/1.0.0`: one stream per probed member, kept open, carrying small
 * numbered frames that the member echoes. A probe is then two small frames (a new stream per probe, as libp2p's
 * ping does, also negotiates the protocol and opens and closes a yamux stream: several times the bytes, and most of
 * a node's membership CPU in steady state). An echo is also a sign of life of the prober: a member that probes us
 * need not be probed back (see `heard`).
 *
 * Frames are length-prefixed (varint, src/wire/frame-reader.ts) with a body of at most `MAX_PROBE_FRAME` bytes,
 * echoed as they are; a longer one ends the stream.
 */
export const PROBE_PROTOCOL = "/pulsing/cluster/probe/1.0.0";

const MAX_PROBE_FRAME = 8;
/** A link not used for this long is closed (the member is no longer watched). */
const IDLE_MS = 30_000;
/** Echoes waiting to be sent beyond which a peer's probes go unanswered (one that floods us). */
const MAX_PENDING_ECHO = 1024;

/** What the prober needs of the mesh. */
export interface ProbeMesh {
  openStream(peer: string, protocol: string, timeoutMs: number): Promise<Stream>;
  handleStreams(protocol: string, accept: (peer: string, stream: Stream) => void, maxInboundStreams?: number): Promise<void>;
}

interface ProbeLink {
  readonly stream: Stream;
  readonly writer: FrameWriter;
  /** Probes waiting for their echo: told `false` at once when the stream ends (a killed member's reset). */
  readonly waiting: Map<number, (echoed: boolean) => void>;
  lastUsed: number;
  closed: boolean;
}

export class Prober {
  readonly #mesh: ProbeMesh;
  readonly #heard: (peer: string) => void;
  /** Links being opened, and open ones. */
  readonly #opening = new Map<string, Promise<ProbeLink>>();
  readonly #links = new Map<string, ProbeLink>();
  readonly #probing = new Map<string, Promise<boolean>>();
  #seq = 0;
  #stopped = false;

  /** `heard(peer)`: a probe arrived from `peer` (it is alive). */
  constructor(mesh: ProbeMesh, heard: (peer: string) => void) {
    this.#mesh = mesh;
    this.#heard = heard;
  }

  /** Starts answering probes (from admitted peers only: the mesh's admission). */
  async listen(): Promise<void> {
    // One stream per prober and connection; a second while a failed one is still closing.
    await this.#mesh.handleStreams(PROBE_PROTOCOL, (peer, stream) => this.#answer(peer, stream), 4);
  }

  /**
   * Whether `peer` echoes a probe within `timeoutMs` (dialing it if needed). Concurrent probes of one peer share
   * one. A probe that fails closes the link: the next one starts afresh on a new stream.
   */
  probe(peer: string, timeoutMs: number): Promise<boolean> {
    if (this.#stopped) return Promise.resolve(false);
    const inFlight = this.#probing.get(peer);
    if (inFlight !== undefined) return inFlight;
    const probing = this.#probeOnce(peer, timeoutMs).finally(() => this.#probing.delete(peer));
    this.#probing.set(peer, probing);
    return probing;
  }

  async #probeOnce(peer: string, timeoutMs: number): Promise<boolean> {
    this.#closeIdle(Date.now());
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), Math.max(1, Math.round(timeoutMs)));
    });
    let link: ProbeLink | undefined;
    const echoed = (async (): Promise<boolean> => {
      link = await this.#link(peer, timeoutMs);
      if (link.closed) return false;
      const seq = (this.#seq = (this.#seq + 1) >>> 0);
      const echo = new Promise<boolean>((resolve) => link!.waiting.set(seq, resolve));
      link.lastUsed = Date.now();
      link.writer.write(encodeSeq(seq));
      return await echo;
    })().catch(() => false);
    try {
      const ok = await Promise.race([echoed, timedOut]);
      if (!ok && link !== undefined) this.#drop(peer, link);
      return ok;
    } finally {
      clearTimeout(timer);
    }
  }

  async #link(peer: string, timeoutMs: number): Promise<ProbeLink> {
    const open = this.#links.get(peer);
    if (open !== undefined && !open.closed) return open;
    let opening = this.#opening.get(peer);
    if (opening === undefined) {
      opening = this.#open(peer, timeoutMs).finally(() => this.#opening.delete(peer));
      this.#opening.set(peer, opening);
    }
    return opening;
  }

  async #open(peer: string, timeoutMs: number): Promise<ProbeLink> {
    const stream = await this.#mesh.openStream(peer, PROBE_PROTOCOL, timeoutMs);
    const waiting = new Map<number, (echoed: boolean) => void>();
    let link: ProbeLink | undefined;
    const writer = openFrameStream(
      stream,
      MAX_PROBE_FRAME,
      peer,
      {
        frame: (body) => {
          const seq = decodeSeq(body);
          const resolve = seq === undefined ? undefined : waiting.get(seq);
          if (resolve === undefined) return; // a late echo of a probe that timed out
          waiting.delete(seq!);
          resolve(true);
        },
        oversized: () => link !== undefined && this.#drop(peer, link),
      },
      () => {
        if (link !== undefined) this.#forget(peer, link);
      },
    );
    link = { stream, writer, waiting, lastUsed: Date.now(), closed: false };
    this.#links.set(peer, link);
    if (this.#stopped) this.#drop(peer, link);
    return link;
  }

  #forget(peer: string, link: ProbeLink): void {
    link.closed = true;
    if (this.#links.get(peer) === link) this.#links.delete(peer);
    for (const resolve of link.waiting.values()) resolve(false);
    link.waiting.clear();
  }

  /** Closes a link that failed or idles (and forgets it): a late echo cannot answer a later probe. */
  #drop(peer: string, link: ProbeLink): void {
    if (link.closed) return;
    this.#forget(peer, link);
    link.writer.close();
    link.stream.abort(new Error("probe link closed"));
  }

  #closeIdle(now: number): void {
    for (const [peer, link] of this.#links) {
      if (now - link.lastUsed > IDLE_MS && !this.#probing.has(peer)) this.#drop(peer, link);
    }
  }

  /** Echoes every probe of `peer`: each is also a sign of its life. */
  #answer(peer: string, stream: Stream): void {
    if (this.#stopped) {
      stream.abort(new Error("this node is shutting down"));
      return;
    }
    const writer = openFrameStream(
      stream,
      MAX_PROBE_FRAME,
      peer,
      {
        frame: (body) => {
          this.#heard(peer);
          if (writer.pendingBytes < MAX_PENDING_ECHO) writer.write(body.slice());
        },
        oversized: () => stream.abort(new Error(`probe frame over ${MAX_PROBE_FRAME} bytes`)),
      },
      () => writer.close(),
    );
  }

  /** Closes every link (the node is stopping). */
  stop(): void {
    this.#stopped = true;
    for (const [peer, link] of [...this.#links]) this.#drop(peer, link);
  }
}

function encodeSeq(seq: number): Uint8Array {
  const body = new Uint8Array(4);
  new DataView(body.buffer).setUint32(0, seq);
  return body;
}

function decodeSeq(body: Uint8Array): number | undefined {
  return body.length === 4 ? new DataView(body.buffer, body.byteOffset, 4).getUint32(0) : undefined;
}
