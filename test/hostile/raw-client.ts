/**
 * A hostile peer: plain js-libp2p (TCP, noise, yamux; identify and gossipsub when an attack needs them) that
 * speaks Pulsing's protocols as docs/PROTOCOL.md describes them, with no Pulsing code. It can pass admission
 * (`/pulsing/admit/1.0.0`, with the right passphrase), do part of it, or skip it; write raw length-prefixed
 * MessagePack frames on `/pulsing/rpc/1.0.0` and choose not to read the answers; ask for identify; subscribe to
 * the membership topic; ask a node's circuit relay for a reservation; open many connections.
 */
import "../../src/util/polyfills.js"; // Promise.withResolvers for libp2p on Node 20 (a runtime shim, not Pulsing code)
import { gossipsub } from "@libp2p/gossipsub";
import { identify } from "@libp2p/identify";
import type { Connection, Libp2p, PeerId, Stream } from "@libp2p/interface";
import { noise } from "@libp2p/noise";
import { tcp } from "@libp2p/tcp";
import { lpStream } from "@libp2p/utils";
import { yamux } from "@libp2p/yamux";
import { multiaddr } from "@multiformats/multiaddr";
import { createLibp2p } from "libp2p";
import { addExtension, Packr, Unpackr } from "msgpackr";

export const ADMIT_PROTOCOL = "/pulsing/admit/1.0.0";
export const RPC_PROTOCOL = "/pulsing/rpc/1.0.0";
export const IDENTIFY_PROTOCOL = "/ipfs/id/1.0.0";
export const HOP_PROTOCOL = "/libp2p/circuit/relay/0.2.0/hop";
export const membershipTopic = (cluster = "default"): string => `/pulsing/${cluster}/members/1`;

/** Frame kinds (docs/PROTOCOL.md, "Frames"). */
export const Kind = { Call: 1, Tell: 2, Reply: 3, Error: 4, StreamOpen: 5, Items: 6, End: 7, Credit: 8, Cancel: 9, GoAway: 10 } as const;
/** Call modes on the wire. */
export const Mode = { ask: 0, call: 1, stream: 2 } as const;

// --- MessagePack -------------------------------------------------------------------------------------------------

/** A Pulsing extension value (ext types 0x01–0x05: a `fixext1 <type> 0` tag followed by an ordinary value). */
export class PulsingExt {
  constructor(
    readonly type: number,
    readonly value: unknown,
  ) {}
}
for (let type = 0x01; type <= 0x05; type++) addExtension({ type, read: (value: unknown) => new PulsingExt(type, value) } as never);

const packr = new Packr({ useRecords: false, structuredClone: false, encodeUndefinedAsNil: false });
const unpackr = new Unpackr({ useRecords: false, structuredClone: false, moreTypes: true, mapsAsObjects: true });

export const pack = (value: unknown): Uint8Array => packr.pack(value);
export const unpack = (bytes: Uint8Array): unknown => unpackr.unpack(bytes);

export function varint(n: number): Uint8Array {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return Uint8Array.from(out);
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

/** One frame on the wire: a varint length, then the MessagePack array. */
export function frame(fields: readonly unknown[]): Uint8Array {
  const body = pack(fields);
  return concat([varint(body.byteLength), body]);
}

// --- nodes -------------------------------------------------------------------------------------------------------

export interface RawNodeOptions {
  /** Run identify (on connection open, as libp2p does by default): gossipsub needs it to open its stream. */
  identify?: boolean;
  /** Run gossipsub (signed messages, as the cluster's). */
  gossip?: boolean;
  /** Listen on a loopback TCP port (a stand-in seed), instead of only dialing. */
  listen?: boolean;
}

export type RawNode = Libp2p<Record<string, unknown>>;

/** A plain js-libp2p node that only dials (no listen address, unless `listen`). */
export async function rawNode(options: RawNodeOptions = {}): Promise<RawNode> {
  const services: Record<string, (components: never) => unknown> = {};
  if (options.identify === true || options.gossip === true) services.identify = identify() as never;
  if (options.gossip === true) services.pubsub = gossipsub({ allowPublishToZeroTopicPeers: true, emitSelf: false }) as never;
  return (await createLibp2p({
    ...(options.listen === true ? { addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] } } : {}),
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { maxConnections: 1_000 },
    // No pings of our own: an attacker does not give up on a node that stops answering (libp2p would abort it).
    connectionMonitor: { enabled: false },
    services,
  } as never)) as RawNode;
}

/** `count` fresh nodes (each its own peer id), made `batch` at a time. */
export async function rawNodes(count: number, options: RawNodeOptions = {}, batch = 32): Promise<RawNode[]> {
  const nodes: RawNode[] = [];
  while (nodes.length < count) {
    nodes.push(...(await Promise.all(Array.from({ length: Math.min(batch, count - nodes.length) }, () => rawNode(options)))));
  }
  return nodes;
}

/**
 * A new connection to `addr` (a multiaddr with /p2p/), never reusing one already open. Dials of one node to the
 * same peer that overlap share one connection (libp2p joins a dial in progress): dial one after the other for
 * several connections.
 */
export async function dialRaw(node: RawNode, addr: string, timeoutMs = 5_000): Promise<Connection> {
  return node.dial(multiaddr(addr), { signal: AbortSignal.timeout(timeoutMs), force: true });
}

/** Resolves with how long after `since` the connection closed (either side), or undefined after `timeoutMs`. */
export function closedWithin(connection: Connection, since: number, timeoutMs: number): Promise<number | undefined> {
  if (connection.status !== "open") return Promise.resolve(performance.now() - since);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), timeoutMs);
    connection.addEventListener(
      "close",
      () => {
        clearTimeout(timer);
        resolve(performance.now() - since);
      },
      { once: true },
    );
  });
}

// --- admission (docs/PROTOCOL.md, "Admission") ---------------------------------------------------------------------

const utf8 = new TextEncoder();

async function admissionKey(passphrase: string): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey("raw", utf8.encode(passphrase), "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: utf8.encode("pulsing/cluster/v1"), info: utf8.encode("admission") },
    base,
    { name: "HMAC", hash: "SHA-256", length: 256 },
    false,
    ["sign", "verify"],
  );
}

function transcript(role: "D" | "L", nd: Uint8Array, nl: Uint8Array, dialer: string, listener: string): Uint8Array<ArrayBuffer> {
  return concat([utf8.encode(`pulsing-admit-v1|${role}|`), nd, nl, utf8.encode(`${dialer}|${listener}`)]) as Uint8Array<ArrayBuffer>;
}

function message(bytes: { subarray(): Uint8Array }): Record<string, unknown> {
  const value = unpack(bytes.subarray());
  if (typeof value !== "object" || value === null) throw new Error(`not an admission message: ${String(value)}`);
  return value as Record<string, unknown>;
}

export interface AdmitOptions {
  timeoutMs?: number;
  /** Check the listener's proof (a hostile dialer may not bother). @default true */
  verifyListener?: boolean;
}

/**
 * The dialer's side of admission on `connection` (which `self` dialed). Resolves once the listener says
 * `{ ok: true }`; rejects with the listener's refusal reason otherwise. `passphrase` undefined: a dialer without
 * a secret.
 */
export async function admit(self: PeerId, connection: Connection, passphrase: string | undefined, options: AdmitOptions = {}): Promise<void> {
  const signal = AbortSignal.timeout(options.timeoutMs ?? 5_000);
  const stream = await connection.newStream(ADMIT_PROTOCOL, { signal });
  const lp = lpStream(stream, { maxDataLength: 1024 });
  const dialer = self.toString();
  const listener = connection.remotePeer.toString();
  const nd = crypto.getRandomValues(new Uint8Array(32));
  await lp.write(pack({ v: 1, n: nd, s: passphrase !== undefined }), { signal });
  const reply = message(await lp.read({ signal }));
  if (reply.ok === false) throw new Error(`admission refused: ${String(reply.reason)}`);
  if (reply.ok === true) {
    if (passphrase !== undefined) throw new Error("the listener has no secret");
    await stream.close({ signal }).catch(() => {});
    return;
  }
  if (passphrase === undefined) throw new Error("the listener wants a secret");
  const nl = reply.n as Uint8Array;
  const key = await admissionKey(passphrase);
  if (options.verifyListener !== false) {
    const good = await crypto.subtle.verify("HMAC", key, new Uint8Array(reply.mac as Uint8Array), transcript("L", nd, nl, dialer, listener));
    if (!good) throw new Error("the listener's proof is wrong");
  }
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, transcript("D", nd, nl, dialer, listener)));
  await lp.write(pack({ mac }), { signal });
  const verdict = message(await lp.read({ signal }));
  if (verdict.ok !== true) throw new Error(`admission refused: ${String(verdict.reason)}`);
  await stream.close({ signal }).catch(() => {});
}

/**
 * Part of admission: sends the hello (claiming a secret), reads what the listener answers, then stalls with the
 * stream open. Resolves with the listener's answer (or the error that ended it).
 */
export async function admitHelloOnly(
  connection: Connection,
  timeoutMs = 5_000,
): Promise<{ answer?: Record<string, unknown>; error?: string; stream?: Stream }> {
  try {
    const signal = AbortSignal.timeout(timeoutMs);
    const stream = await connection.newStream(ADMIT_PROTOCOL, { signal });
    const lp = lpStream(stream, { maxDataLength: 1024 });
    await lp.write(pack({ v: 1, n: crypto.getRandomValues(new Uint8Array(32)), s: true }), { signal });
    return { answer: message(await lp.read({ signal })), stream };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

// --- the RPC protocol ---------------------------------------------------------------------------------------------

export interface RawRpcOptions {
  /** Read the node's answers (decode and count them). false: pause the stream at once and never read. */
  read: boolean;
  /** Keep at most this many decoded frames (the rest are counted by kind only). @default 1000 */
  keep?: number;
}

/** One raw `/pulsing/rpc/1.0.0` stream. */
export class RawRpc {
  readonly frames: unknown[][] = [];
  /** The raw bytes (body) of the first error frames, for looking inside them. */
  readonly errorBodies: Uint8Array[] = [];
  readonly kinds = new Map<number, number>();
  bytesIn = 0;
  bytesOut = 0;
  closed = false;
  closedAt: number | undefined;
  closeError: string | undefined;
  #pending: Uint8Array = new Uint8Array(0);
  readonly #keep: number;

  private constructor(
    readonly stream: Stream,
    options: RawRpcOptions,
  ) {
    this.#keep = options.keep ?? 1_000;
    stream.addEventListener(
      "close",
      (event) => {
        this.closed = true;
        this.closedAt = performance.now();
        const error = (event as { error?: unknown }).error;
        this.closeError = error === undefined ? undefined : String((error as Error).message ?? error);
      },
      { once: true },
    );
    if (options.read) {
      stream.addEventListener("message", (event) => {
        const data = event.data;
        if (data instanceof Uint8Array) this.#push(data);
        else for (const part of data) this.#push(part);
      });
    } else if (stream.readStatus === "readable") {
      // No window updates from here on: the node's send window fills and what it sends stays with it.
      stream.pause();
    }
    if (stream.status !== "open") {
      this.closed = true;
      this.closedAt = performance.now();
      this.closeError = `${stream.status} as soon as opened`;
    }
  }

  static async open(connection: Connection, options: RawRpcOptions, timeoutMs = 5_000): Promise<RawRpc> {
    return new RawRpc(await connection.newStream(RPC_PROTOCOL, { signal: AbortSignal.timeout(timeoutMs) }), options);
  }

  /**
   * Writes bytes, honouring the stream's backpressure: waits (up to `timeoutMs`) until what was written before has
   * drained, then hands `bytes` to the stream (yamux sends them as the node's window allows) and resolves true;
   * false, without writing, when the node took nothing within `timeoutMs` or the stream is gone. `bytesOut` counts
   * what was handed over.
   */
  async write(bytes: Uint8Array, timeoutMs = 5_000): Promise<boolean> {
    try {
      await this.stream.onDrain({ signal: AbortSignal.timeout(timeoutMs) });
      if (this.stream.status !== "open" || this.stream.writeStatus !== "writable") return false;
      this.stream.send(bytes);
      this.bytesOut += bytes.byteLength;
      return true;
    } catch {
      return false;
    }
  }

  /** The decoded frames whose call id is `id`. */
  answersTo(id: number): unknown[][] {
    return this.frames.filter((f) => f[1] === id);
  }

  abort(): void {
    if (this.stream.status === "open") this.stream.abort(new Error("attacker done"));
  }

  #push(chunk: Uint8Array): void {
    this.bytesIn += chunk.byteLength;
    const data = this.#pending.byteLength === 0 ? chunk : concat([this.#pending, chunk]);
    let at = 0;
    for (;;) {
      let length = 0;
      let shift = 0;
      let i = at;
      let complete = false;
      while (i < data.byteLength && shift < 56) {
        const byte = data[i++]!;
        length += (byte & 0x7f) * 2 ** shift;
        shift += 7;
        if ((byte & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete || i + length > data.byteLength) break;
      this.#frame(data.subarray(i, i + length));
      at = i + length;
    }
    this.#pending = data.slice(at);
  }

  #frame(body: Uint8Array): void {
    let decoded: unknown;
    try {
      decoded = unpack(body);
    } catch (error) {
      decoded = [-1, undefined, `undecodable: ${(error as Error).message}`];
    }
    const fields = Array.isArray(decoded) ? decoded : [-1, undefined, decoded];
    const kind = typeof fields[0] === "number" ? fields[0] : -1;
    this.kinds.set(kind, (this.kinds.get(kind) ?? 0) + 1);
    if (this.frames.length < this.#keep) this.frames.push(fields);
    if (kind === Kind.Error && this.errorBodies.length < 100) this.errorBodies.push(body.slice());
  }
}

// --- identify ----------------------------------------------------------------------------------------------------

/**
 * Asks for the node's identify record on `/ipfs/id/1.0.0` by hand. `bytes` > 0: the node answered (its protocols,
 * addresses and public key).
 */
export async function askIdentify(connection: Connection, timeoutMs = 3_000): Promise<{ bytes: number; error?: string }> {
  try {
    const signal = AbortSignal.timeout(timeoutMs);
    const stream = await connection.newStream(IDENTIFY_PROTOCOL, { signal });
    const lp = lpStream(stream, { maxDataLength: 64 * 1024 });
    const answer = await lp.read({ signal });
    await stream.close({ signal }).catch(() => {});
    return { bytes: answer.byteLength };
  } catch (error) {
    return { bytes: 0, error: (error as Error).message };
  }
}

// --- circuit relay v2 (a hand-made HopMessage; see libp2p's circuit v2 spec) ----------------------------------------

/** Circuit relay v2 status codes (`OK` = 100, `RESERVATION_REFUSED` = 200, `PERMISSION_DENIED` = 202, …). */
export const RelayStatus = { OK: 100, RESERVATION_REFUSED: 200, RESOURCE_LIMIT_EXCEEDED: 201, PERMISSION_DENIED: 202 } as const;

export interface ReserveOutcome {
  /** The relay's status code, when it answered. */
  status?: number;
  /** Why there was no answer (stream refused or reset, timeout, connection gone). */
  error?: string;
  ms: number;
}

/** Top-level varint fields of a protobuf message (enough to read a HopMessage's `type` (1) and `status` (5)). */
function protobufVarints(bytes: Uint8Array): Map<number, number> {
  const out = new Map<number, number>();
  let at = 0;
  const readVarint = (): number => {
    let value = 0;
    let shift = 0;
    for (;;) {
      if (at >= bytes.byteLength) throw new Error("truncated protobuf");
      const byte = bytes[at++]!;
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if ((byte & 0x80) === 0) return value;
    }
  };
  while (at < bytes.byteLength) {
    const key = readVarint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) out.set(field, readVarint());
    else if (wire === 2) {
      const length = readVarint(); // (not `at += readVarint()`: that adds to the position before the varint)
      at += length;
    }
    else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else throw new Error(`protobuf wire type ${wire}`);
  }
  return out;
}

/** Asks the node's relay for a reservation (HopMessage { type: RESERVE }). */
export async function reserve(connection: Connection, timeoutMs = 3_000): Promise<ReserveOutcome> {
  const started = performance.now();
  try {
    const signal = AbortSignal.timeout(timeoutMs);
    const stream = await connection.newStream(HOP_PROTOCOL, { signal });
    const lp = lpStream(stream, { maxDataLength: 16 * 1024 });
    await lp.write(Uint8Array.of(0x08, 0x00), { signal }); // field 1 (type), varint 0 (RESERVE)
    const answer = protobufVarints((await lp.read({ signal })).subarray());
    await stream.close({ signal }).catch(() => {});
    return { status: answer.get(5), ms: performance.now() - started };
  } catch (error) {
    return { error: (error as Error).message, ms: performance.now() - started };
  }
}

// --- watching what comes in ----------------------------------------------------------------------------------------

/** Protocols a node might open a stream for; an outsider answers them only to learn their names. */
export const WELL_KNOWN_PROTOCOLS = [
  "/ipfs/ping/1.0.0",
  IDENTIFY_PROTOCOL,
  "/ipfs/id/push/1.0.0",
  "/libp2p/circuit/relay/0.2.0/stop",
  HOP_PROTOCOL,
  RPC_PROTOCOL,
  "/pulsing/find-node/1.0.0",
  "/meshsub/1.2.0",
  "/meshsub/1.1.0",
  "/meshsub/1.0.0",
  "/floodsub/1.0.0",
];

/**
 * Names the protocols of the streams the remote side opens to `node`: handles each of WELL_KNOWN_PROTOCOLS the
 * node does not handle itself, recording the stream (by id) and aborting it. Call before dialing; pass the result
 * to `watchInboundStreams`.
 */
export async function nameInboundStreams(node: RawNode): Promise<Map<string, string>> {
  const named = new Map<string, string>();
  const handled = new Set(node.getProtocols());
  for (const protocol of WELL_KNOWN_PROTOCOLS) {
    if (handled.has(protocol)) continue;
    await node.handle(
      protocol,
      (stream) => {
        named.set(stream.id, protocol);
        stream.abort(new Error("an outsider only wanted to know"));
      },
      { runOnLimitedConnection: true },
    );
  }
  return named;
}

/**
 * Records every stream the remote side opens on `connection` (polled, so long-lived ones cannot be missed), by
 * protocol: as negotiated, else as named by `nameInboundStreams`, else "(unnamed)" (negotiation failed: a protocol
 * this node does not speak).
 */
export function watchInboundStreams(connection: Connection, named = new Map<string, string>(), intervalMs = 10): { protocols: Set<string>; stop(): void } {
  const seen = new Map<string, string>();
  const look = (): void => {
    for (const stream of connection.streams) {
      if (stream.direction !== "inbound") continue;
      if (stream.protocol !== undefined && stream.protocol !== "") seen.set(stream.id, stream.protocol);
      else if (!seen.has(stream.id)) seen.set(stream.id, "");
    }
  };
  const protocols = new Set<string>();
  look();
  const timer = setInterval(look, intervalMs);
  return {
    protocols,
    stop: () => {
      look();
      clearInterval(timer);
      for (const [id, protocol] of seen) protocols.add(protocol !== "" ? protocol : (named.get(id) ?? "(unnamed)"));
      // Streams our handlers took before the polling saw them (a node with one connection: ids are that connection's).
      for (const [id, protocol] of named) if (!seen.has(id)) protocols.add(protocol);
    },
  };
}

/** Gossip an outsider receives: messages on `topic`, and whether the node told it what it subscribes to. */
export interface GossipWatch {
  messages: number;
  messageBytes: number;
  /** Peers that told us their subscriptions (each a gossipsub RPC from them). */
  subscriptionsFrom: Set<string>;
}

export function watchGossip(node: RawNode, topic: string): GossipWatch {
  const pubsub = node.services.pubsub as {
    subscribe(topic: string): void;
    addEventListener(type: string, listener: (event: CustomEvent) => void): void;
  };
  const watch: GossipWatch = { messages: 0, messageBytes: 0, subscriptionsFrom: new Set() };
  pubsub.addEventListener("message", (event) => {
    const detail = event.detail as { topic: string; data: Uint8Array };
    if (detail.topic !== topic) return;
    watch.messages++;
    watch.messageBytes += detail.data.byteLength;
  });
  pubsub.addEventListener("subscription-change", (event) => {
    watch.subscriptionsFrom.add(String((event.detail as { peerId: PeerId }).peerId));
  });
  pubsub.subscribe(topic);
  return watch;
}

/** Closes `connection` gracefully within `ms`, else aborts it. */
export async function leave(connection: Connection, ms = 1_000): Promise<void> {
  await connection.close({ signal: AbortSignal.timeout(ms) }).catch(() => connection.abort(new Error("attacker left")));
}

/**
 * Runs `fn` over `items`, `concurrency` at a time. An attacker paces itself this way: libp2p resets inbound
 * connections beyond 10 whose upgrade (noise, yamux) is still under way (`maxIncomingPendingConnections`).
 */
export async function pool<T, R>(items: readonly T[], concurrency: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await fn(items[index]!, index);
      }
    }),
  );
  return results;
}
