import type { Connection, Libp2p, PeerId, Stream, StreamMiddleware } from "@libp2p/interface";
import { lpStream } from "@libp2p/utils";
import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import { concatBytes } from "../util/bytes.js";
import { lagTolerantSignal, lagTolerantTimeout } from "../util/deadline.js";
import { decode, encode } from "../wire/codec.js";
import { isRelayed as isRelayedConnection } from "./connection-kind.js";

/**
 * Admission: the cluster secret for every transport (TCP, WebSockets and WebRTC alike, which `@libp2p/pnet`
 * does not cover). Right after a connection opens, the dialer runs a challenge–response on
 * `/pulsing/admit/1.0.0`; until it succeeds neither side serves the other (RPC streams wait on `wait()`, gossip
 * from unadmitted peers is rejected). The proofs are HMACs, keyed by HKDF(passphrase), over fresh nonces from
 * both sides and both peer ids (authenticated by noise/DTLS), so a proof cannot be replayed for another peer or
 * connection. The listener proves first; a refusal carries a reason the other side reports.
 *
 *   dialer → listener   { v: 1, n: Nd, s: hasSecret }
 *   listener → dialer   { ok: false, reason } | { ok: true } (neither has a secret) | { n: Nl, mac: HMAC("L"…) }
 *   dialer → listener   { ok: false, reason } | { mac: HMAC("D"…) }
 *   listener → dialer   { ok: true } | { ok: false, reason }
 */
export const ADMIT_PROTOCOL = "/pulsing/admit/1.0.0";

/** Why admission failed, as both sides name it. */
export type RefusalReason = "secret-mismatch" | "secret-required" | "no-secret" | "bad-hello" | "timeout" | "not-admitted";

const NONCE_BYTES = 32;
const MAX_MESSAGE = 1024;
const utf8 = new TextEncoder();

export class AdmissionError extends PulsingRuntimeError {
  constructor(
    readonly reason: RefusalReason | "closed",
    readonly peer: string,
    readonly byRemote: boolean,
  ) {
    super(ErrorCode.ADMISSION_REFUSED, describeRefusal(reason, peer, byRemote));
  }
}

function describeRefusal(reason: RefusalReason | "closed", peer: string, byRemote: boolean): string {
  const who = `node ${peer}`;
  switch (reason) {
    case "secret-mismatch":
      return `${byRemote ? `${who} refused this node` : `this node refused ${who}`}: the cluster secret (passphrase) does not match`;
    // Reasons describe the refusing side: "secret-required" = it has a secret the other lacks,
    // "no-secret" = it lacks the secret the other has.
    case "secret-required":
      return byRemote
        ? `${who} requires a cluster secret (passphrase) and this node has none`
        : `this node requires a cluster secret (passphrase) and ${who} has none`;
    case "no-secret":
      return byRemote
        ? `${who} has no cluster secret (passphrase) but this node has one`
        : `${who} has a cluster secret (passphrase) but this node has none`;
    case "bad-hello":
      return `admission with ${who} failed: it does not speak ${ADMIT_PROTOCOL}`;
    case "timeout":
      return `admission with ${who} timed out`;
    case "not-admitted":
      return `${who} has not passed admission on this connection: only the admission protocol may run on it`;
    case "closed":
      return `the connection to ${who} closed before admission completed`;
  }
}

interface ConnectionState {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: AdmissionError) => void;
  done: boolean;
  admitted: boolean;
  /**
   * The peer proved it knows the secret (or neither side has one): its streams may be served. Set before this
   * side answers, so the peer never opens a stream this side would still refuse.
   */
  proven: boolean;
}

/** How long a connection may take to pass admission before it is cut off. */
export const ADMISSION_TIMEOUT_MS = 2_500;
/**
 * Connections still in admission this node keeps at once, from one peer and in all: more are refused at the
 * handshake (a peer id costs nothing to make, so the total is what bounds an outsider).
 */
export const MAX_UNADMITTED_PER_PEER = 2;
export const MAX_UNADMITTED = 64;

export interface AdmissionInit {
  passphrase: string | undefined;
  timeoutMs?: number;
  /** Called once per admitted connection (e.g. to run identify only for admitted peers). */
  onAdmitted?(connection: Connection): void;
  /** Called when a connection is refused (for logs and for callers waiting to join). */
  onRefused?(connection: Connection, error: AdmissionError): void;
}

type Message = Record<string, unknown>;

export class AdmissionGate {
  readonly #key: CryptoKey | undefined;
  readonly #init: AdmissionInit;
  readonly #timeoutMs: number;
  readonly #states = new Map<string, ConnectionState>();
  /** Admitted open connections per peer (gossip validation asks for every message). */
  readonly #admitted = new Map<string, number>();
  readonly #self: string;

  private constructor(node: Libp2p, key: CryptoKey | undefined, init: AdmissionInit) {
    this.#key = key;
    this.#init = init;
    this.#timeoutMs = init.timeoutMs ?? ADMISSION_TIMEOUT_MS;
    this.#self = node.peerId.toString();
  }

  /** Installs the protocol handler and the `connection:open` hook. */
  static async install(node: Libp2p, init: AdmissionInit): Promise<AdmissionGate> {
    const key = init.passphrase === undefined ? undefined : await deriveKey(init.passphrase);
    const gate = new AdmissionGate(node, key, init);
    await node.handle(ADMIT_PROTOCOL, (stream, connection) => gate.#listen(stream, connection), {
      maxInboundStreams: 2,
      runOnLimitedConnection: true,
    });
    node.addEventListener("connection:open", (event) => {
      const connection = event.detail;
      gate.#state(connection);
      if (connection.direction === "outbound") void gate.#dial(connection);
    });
    return gate;
  }

  /** Resolves once `connection` is admitted; rejects with an `AdmissionError` when refused or closed. */
  wait(connection: Connection): Promise<void> {
    return this.#state(connection).promise;
  }

  /**
   * Refuses, at the handshake, a connection from `peer` past the limits of connections still in admission (for
   * the connection gater's `denyInboundEncryptedConnection`).
   */
  tooManyUnadmitted(peer: PeerId): boolean {
    let total = 0;
    let fromPeer = 0;
    const id = peer.toString();
    for (const [, state] of this.#pending) {
      total++;
      if (state === id) fromPeer++;
    }
    return total >= MAX_UNADMITTED || fromPeer >= MAX_UNADMITTED_PER_PEER;
  }

  /** Connections in admission, by connection id: their peer. */
  readonly #pending = new Map<string, string>();

  /**
   * Guards every protocol but admission's (call once the node has started, when every service has registered its
   * protocols): a stream, inbound or outbound, on a connection whose peer has not proved it knows the secret is
   * refused — nothing but the admission exchange flows to or from an outsider, and nothing it sends is held. A
   * relayed connection (the signalling of a WebRTC connection between tabs starts on one alongside its admission)
   * waits for admission instead: relays carry only admitted peers.
   */
  guard(node: Libp2p): void {
    copyMiddlewareOnUse(node);
    for (const protocol of node.getProtocols()) {
      if (protocol !== ADMIT_PROTOCOL) node.use(protocol, this.#middleware);
    }
    this.#guarding = true;
  }

  /** Guards a protocol registered after `guard()` (by a layer above the mesh). */
  guardProtocol(node: Libp2p, protocol: string): void {
    if (!this.#guarding) throw new Error("guardProtocol() before guard()");
    node.use(protocol, this.#middleware);
  }

  #guarding = false;

  readonly #middleware: StreamMiddleware = async (stream, connection, next) => {
    const state = this.#state(connection);
    if (!state.proven && connection.limits === undefined && !isRelayedConnection(connection)) {
      throw new AdmissionError(state.done ? "closed" : "not-admitted", connection.remotePeer.toString(), false);
    }
    if (!state.proven) await state.promise; // rejects with the refusal
    next(stream, connection);
  };

  /** Whether some open connection to `peer` has been admitted. */
  isAdmitted(peer: string): boolean {
    return (this.#admitted.get(peer) ?? 0) > 0;
  }

  #state(connection: Connection): ConnectionState {
    let state = this.#states.get(connection.id);
    if (state !== undefined) return state;
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    promise.catch(() => {}); // observed through wait()
    // Without a secret every peer is admitted (the exchange only refuses a peer that has one): nothing to wait for.
    state = { promise, resolve, reject, done: false, admitted: false, proven: this.#key === undefined };
    this.#states.set(connection.id, state);
    this.#pending.set(connection.id, connection.remotePeer.toString());
    // Time this node's event loop lost does not count (a busy node would cut off its peers, which dial again: a
    // hundred nodes on two cores churned through connections that way and never settled).
    const cancelTimer = lagTolerantTimeout(() => {
      if (state!.done) return;
      this.#finish(connection, new AdmissionError("timeout", connection.remotePeer.toString(), false));
      connection.abort(new PulsingRuntimeError(ErrorCode.ADMISSION_REFUSED, "admission timed out"));
    }, this.#timeoutMs);
    connection.addEventListener(
      "close",
      () => {
        cancelTimer();
        this.#pending.delete(connection.id);
        // Let a refusal that already arrived be read first: it names the reason, a bare close does not.
        setTimeout(() => {
          this.#finish(connection, new AdmissionError("closed", connection.remotePeer.toString(), false));
          if (this.#states.get(connection.id)?.admitted === true) {
            const peer = connection.remotePeer.toString();
            const left = (this.#admitted.get(peer) ?? 1) - 1;
            if (left > 0) this.#admitted.set(peer, left);
            else this.#admitted.delete(peer);
          }
          this.#states.delete(connection.id);
        }, 0);
      },
      { once: true },
    );
    return state;
  }

  #finish(connection: Connection, error?: AdmissionError): void {
    const state = this.#state(connection);
    if (state.done) return;
    state.done = true;
    this.#pending.delete(connection.id);
    if (error === undefined) {
      state.admitted = true;
      state.proven = true;
      const peer = connection.remotePeer.toString();
      this.#admitted.set(peer, (this.#admitted.get(peer) ?? 0) + 1);
      state.resolve();
      this.#init.onAdmitted?.(connection);
    } else {
      state.proven = false;
      state.reject(error);
      if (error.reason !== "closed") this.#init.onRefused?.(connection, error);
    }
  }

  // --- dialer side -------------------------------------------------------------------------------------------

  async #dial(connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString();
    const signal = lagTolerantSignal(this.#timeoutMs);
    let stream: Stream;
    try {
      stream = await connection.newStream(ADMIT_PROTOCOL, { signal, runOnLimitedConnection: true });
    } catch {
      // No admission stream: the peer does not speak admission (not a Pulsing node), or was too busy to take one in time.
      this.#finish(connection, new AdmissionError(signal.aborted ? "timeout" : "bad-hello", peer, false));
      await connection.close().catch(() => {});
      return;
    }
    const lp = lpStream(stream, { maxDataLength: MAX_MESSAGE });
    try {
      const nd = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
      await lp.write(encode({ v: 1, n: nd, s: this.#key !== undefined }), { signal });
      const reply = read(await lp.read({ signal }));
      if (reply.ok === false) return this.#refusedByRemote(connection, reply.reason);
      if (reply.ok === true) {
        // The listener has no secret and accepted us: fine only if we have none either.
        if (this.#key !== undefined) return this.#refuse(connection, stream, lp, "secret-required");
        this.#finish(connection);
        return;
      }
      const nl = reply.n;
      const mac = reply.mac;
      if (this.#key === undefined || !(nl instanceof Uint8Array) || !(mac instanceof Uint8Array)) {
        return this.#refuse(connection, stream, lp, "bad-hello");
      }
      const good = await crypto.subtle.verify("HMAC", this.#key, buffer(mac), transcript("L", nd, nl, this.#self, peer));
      if (!good) return this.#refuse(connection, stream, lp, "secret-mismatch");
      this.#state(connection).proven = true; // the listener proved itself; it serves us once it has our proof
      const proof = new Uint8Array(await crypto.subtle.sign("HMAC", this.#key, transcript("D", nd, nl, this.#self, peer)));
      await lp.write(encode({ mac: proof }), { signal });
      const verdict = read(await lp.read({ signal }));
      if (verdict.ok !== true) return this.#refusedByRemote(connection, verdict.reason);
      this.#finish(connection);
      await stream.close().catch(() => {});
    } catch {
      this.#finish(connection, new AdmissionError("closed", peer, false));
      connection.abort(new PulsingRuntimeError(ErrorCode.ADMISSION_REFUSED, "admission failed"));
    }
  }

  // --- listener side -----------------------------------------------------------------------------------------

  async #listen(stream: Stream, connection: Connection): Promise<void> {
    this.#state(connection);
    const peer = connection.remotePeer.toString();
    const signal = lagTolerantSignal(this.#timeoutMs);
    const lp = lpStream(stream, { maxDataLength: MAX_MESSAGE });
    try {
      const hello = read(await lp.read({ signal }));
      const nd = hello.n;
      if (hello.v !== 1 || !(nd instanceof Uint8Array) || nd.byteLength !== NONCE_BYTES || typeof hello.s !== "boolean") {
        return this.#refuse(connection, stream, lp, "bad-hello");
      }
      if (hello.s !== (this.#key !== undefined)) {
        return this.#refuse(connection, stream, lp, hello.s ? "no-secret" : "secret-required");
      }
      if (this.#key === undefined) {
        await lp.write(encode({ ok: true }), { signal });
        this.#finish(connection);
        await stream.close().catch(() => {});
        return;
      }
      const nl = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
      const mac = new Uint8Array(await crypto.subtle.sign("HMAC", this.#key, transcript("L", nd, nl, peer, this.#self)));
      await lp.write(encode({ n: nl, mac }), { signal });
      const answer = read(await lp.read({ signal }));
      if (answer.ok === false) return this.#refusedByRemote(connection, answer.reason);
      const proof = answer.mac;
      const good =
        proof instanceof Uint8Array &&
        (await crypto.subtle.verify("HMAC", this.#key, buffer(proof), transcript("D", nd, nl, peer, this.#self)));
      if (!good) return this.#refuse(connection, stream, lp, "secret-mismatch");
      // Admitted before the dialer hears so: the streams it opens once it has our answer are served.
      this.#finish(connection);
      await lp.write(encode({ ok: true }), { signal });
      await stream.close().catch(() => {});
    } catch {
      this.#finish(connection, new AdmissionError("closed", peer, false));
      connection.abort(new PulsingRuntimeError(ErrorCode.ADMISSION_REFUSED, "admission failed"));
    }
  }

  // --- refusals ----------------------------------------------------------------------------------------------

  /**
   * Tells the peer why, then closes. The reason must be read before the connection goes, so: write it, half-close
   * (flushes), give the peer up to a second to close first, then close.
   */
  async #refuse(connection: Connection, stream: Stream, lp: ReturnType<typeof lpStream<Stream>>, reason: RefusalReason): Promise<void> {
    this.#finish(connection, new AdmissionError(reason, connection.remotePeer.toString(), false));
    try {
      const signal = AbortSignal.timeout(1_000);
      await lp.write(encode({ ok: false, reason }), { signal });
      await stream.close({ signal });
      if (connection.status === "open") {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 1_000);
          connection.addEventListener("close", () => (clearTimeout(timer), resolve()), { once: true });
        });
      }
    } catch {
      // the peer went first
    }
    await connection.close().catch(() => {});
  }

  async #refusedByRemote(connection: Connection, reason: unknown): Promise<void> {
    const known: RefusalReason[] = ["secret-mismatch", "secret-required", "no-secret", "bad-hello", "timeout"];
    const why = known.includes(reason as RefusalReason) ? (reason as RefusalReason) : "bad-hello";
    this.#finish(connection, new AdmissionError(why, connection.remotePeer.toString(), true));
    await connection.close().catch(() => {});
  }
}

/**
 * libp2p 3.3.11 (the newest) appends each inbound stream's handler to the registered middleware array itself
 * (`Connection.onIncomingStream` pushes onto what `registrar.getMiddleware()` returns): the n-th stream of a guarded
 * protocol then ran n handlers, and an outbound stream ran the inbound handler — pings and gossip broke at once.
 * Each use gets its own copy. The registrar is reached through libp2p's components (not a public API): if it moves,
 * this fails loudly rather than leaving protocols unguarded or broken.
 */
function copyMiddlewareOnUse(node: Libp2p): void {
  type Registrar = { getMiddleware?(protocol: string): StreamMiddleware[] };
  const registrar = (node as unknown as { components?: { registrar?: Registrar } }).components?.registrar;
  const original = registrar?.getMiddleware;
  if (registrar === undefined || typeof original !== "function") {
    throw new Error("libp2p's registrar is not where this version of Pulsing expects it (see copyMiddlewareOnUse)");
  }
  registrar.getMiddleware = (protocol) => [...original.call(registrar, protocol)];
}

function read(bytes: { subarray(): Uint8Array }): Message {
  const value = decode(bytes.subarray());
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new PulsingRuntimeError(ErrorCode.ADMISSION_REFUSED, "bad admission message");
  return value as Message;
}

async function deriveKey(passphrase: string): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey("raw", utf8.encode(passphrase), "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: utf8.encode("pulsing/cluster/v1"), info: utf8.encode("admission") },
    base,
    { name: "HMAC", hash: "SHA-256", length: 256 },
    false,
    ["sign", "verify"],
  );
}

/** What the HMAC covers: the role, both nonces and both peer ids (dialer first). */
function transcript(role: "D" | "L", nd: Uint8Array, nl: Uint8Array, dialer: string, listener: string): Uint8Array<ArrayBuffer> {
  return concatBytes([utf8.encode(`pulsing-admit-v1|${role}|`), nd, nl, utf8.encode(`${dialer}|${listener}`)]);
}

function buffer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes) as Uint8Array<ArrayBuffer>;
}
