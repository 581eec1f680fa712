import type { Connection, Stream } from "@libp2p/interface";
import type { ActorRef } from "../actor/actor-ref.js";
import { CallHandle, FailedCall } from "../actor/call-handle.js";
import type { CallMode, CallOptions } from "../actor/call-types.js";
import { SYSTEM_ACTOR_LOCAL_ID } from "../actor/system-actor.js";
import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import { FrameError, FrameKind, type Frame } from "../wire/frames.js";
import { nextMacrotask } from "../util/macrotask.js";
import { isRelayed } from "./connection-kind.js";
import type { FrameWriter } from "./frame-writer.js";
import { UNKNOWN_NODE_WAIT_MS, unknownNode } from "./find-node.js";
import { openFrameStream } from "./frame-stream.js";
import type { MeshContext } from "./mesh-context.js";
import { decodeFrame, encodeFrameBody, peekFrameHeader, RPC_PROTOCOL } from "./rpc-frames.js";

/** One RPC stream of a link, and the calls whose frames went out on it (their control frames follow them). */
interface Route {
  readonly stream: Stream;
  readonly writer: FrameWriter;
  readonly connection: Connection;
  readonly calls: Set<number>;
}

/** A frame waiting for a stream, and the call it starts (which then belongs to that stream's route). */
interface Waiting {
  bytes: Uint8Array;
  call?: RemoteCall;
}

/** How long a move waits for the peer to confirm it read the old stream before it stays there instead. */
const MOVE_BARRIER_MS = 5_000;

/**
 * The calls this node makes to one peer: one long-lived RPC stream (opened on the first call, reopened after a
 * loss), frames tagged with call ids, and the table of calls waiting for answers. Calls sent while the stream
 * opens wait in order, so FIFO per caller holds across a dial. When the stream or connection goes, every waiting
 * call fails at once with a `PulsingRuntimeError`; the next call dials again.
 *
 * A link that went over a relayed connection (to a browser tab, before a direct WebRTC one was up) moves to a
 * direct connection when offered one, also under load, without reordering: new frames wait while a barrier (a
 * `ping` of the peer's system actor) goes out on the old stream; its answer means the peer has read everything
 * before it, and the waiting frames go out on a stream over the direct connection. Calls already under way finish
 * on the old stream (their credit and cancel frames follow them there), which closes after the last of them.
 */
export class PeerLink {
  readonly peer: string;
  readonly #ctx: MeshContext;
  /** Where new frames go; undefined while a stream opens or a move is under way (frames wait in `#backlog`). */
  #route: Route | undefined;
  /** The route a move under way is leaving (its loss fails the link as the current route's would). */
  #leaving: Route | undefined;
  /** Routes left for a direct connection, open until their last call is done. */
  readonly #retired = new Set<Route>();
  /** A direct connection to move to from a relayed one, once the stream being opened is up. */
  #offered: Connection | undefined;
  #opening: Promise<void> | undefined;
  /** Frames written while no stream was open, in order. */
  #backlog: Waiting[] = [];
  readonly #pending = new Map<number, RemoteCall>();
  /** Barrier pings of moves under way, by call id: settled true by any answer, false when the link closes. */
  readonly #barriers = new Map<number, (answered: boolean) => void>();
  #nextId = 1;
  #closed = false;

  constructor(ctx: MeshContext, peer: string) {
    this.#ctx = ctx;
    this.peer = peer;
  }

  /** The id of the connection new calls on this link go over, while it has a stream. */
  get connectionId(): string | undefined {
    return this.#route?.connection.id;
  }

  get pendingCalls(): number {
    return this.#pending.size;
  }

  /** Starts a call to `target` (an actor on this link's peer). */
  call(
    target: ActorRef,
    method: string | undefined,
    args: readonly unknown[],
    mode: CallMode,
    options: CallOptions | undefined,
  ): CallHandle {
    if (this.#closed) {
      return new FailedCall(
        mode,
        target,
        method,
        new PulsingRuntimeError(ErrorCode.SHUTDOWN, `cannot call node ${this.peer}: this node is shutting down`),
      );
    }
    const localId = target.actorId.localId;
    const what = "args";
    if (mode === "tell") {
      const frame: Frame = { kind: FrameKind.Tell, to: localId, method, args: args as unknown[] };
      let bytes: Uint8Array;
      try {
        bytes = encodeFrameBody(frame, this.#ctx.maxFrameSize, what, this.#ctx.encoding);
      } catch (error) {
        return new FailedCall(mode, target, method, error);
      }
      const tell = new RemoteCall(this, 0, target, method, mode, options);
      if (this.#route !== undefined) {
        this.#route.writer.write(bytes);
        tell.settleValue(undefined);
      } else {
        this.#tells.push(tell);
        this.#wait({ bytes }, options);
      }
      return tell;
    }
    const id = this.#nextId++;
    const call = new RemoteCall(this, id, target, method, mode, options);
    const frame: Frame = {
      kind: FrameKind.Call,
      id,
      to: localId,
      method,
      args: args as unknown[],
      mode,
      timeout: options?.timeout !== undefined ? Math.max(1, Math.ceil(options.timeout)) : 0,
      credit: call.bufferSize,
    };
    let bytes: Uint8Array;
    try {
      bytes = encodeFrameBody(frame, this.#ctx.maxFrameSize, what, this.#ctx.encoding);
    } catch (error) {
      call.settleError(error);
      return call;
    }
    this.#pending.set(id, call);
    if (this.#route !== undefined) this.#send(this.#route, bytes, call);
    else this.#wait({ bytes, call }, options);
    return call;
  }

  /** @internal A credit or cancel frame of `call`: it goes where the call went. */
  sendControl(call: RemoteCall, frame: Frame): void {
    let bytes: Uint8Array;
    try {
      bytes = encodeFrameBody(frame, this.#ctx.maxFrameSize, "a control frame");
    } catch (error) {
      this.#ctx.report("could not send a control frame", error);
      return;
    }
    if (call.route !== undefined) {
      if (call.route.stream.status === "open") call.route.writer.write(bytes);
    }
    // Still waiting for a stream: the control frame follows its call. Without a stream nothing of the call runs
    // remotely any more, so it is moot.
    else if (this.#opening !== undefined) this.#backlog.push({ bytes });
  }

  /** @internal */
  forget(call: RemoteCall): void {
    this.#pending.delete(call.id);
    const route = call.route;
    if (route === undefined) return;
    route.calls.delete(call.id);
    if (route.calls.size === 0 && this.#retired.has(route)) this.#closeRetired(route);
  }

  /** A direct connection to this link's peer is up and admitted: move to it if the link is on a relayed one. */
  offerDirect(connection: Connection): void {
    if (this.#closed || connection.remotePeer.toString() !== this.peer) return;
    this.#offered = connection;
    this.#moveIfOffered();
  }

  #moveIfOffered(): void {
    const target = this.#offered;
    const from = this.#route;
    if (target === undefined || from === undefined || this.#opening !== undefined) return;
    this.#offered = undefined;
    if (!isRelayed(from.connection) || target.status !== "open") return;
    // Frames written from now on wait in the backlog, in order, for the new stream.
    this.#route = undefined;
    this.#leaving = from;
    this.#opening = this.#move(target, from).finally(() => {
      this.#opening = undefined;
      this.#leaving = undefined;
    });
  }

  async #move(target: Connection, from: Route): Promise<void> {
    const read = await this.#barrier(from);
    let stream: Stream | undefined;
    if (read && !this.#closed) {
      try {
        stream = await target.newStream(RPC_PROTOCOL, { signal: AbortSignal.timeout(5_000) });
      } catch {
        stream = undefined;
      }
    }
    if (this.#closed) {
      stream?.abort(new PulsingRuntimeError(ErrorCode.SHUTDOWN, "shutting down"));
      return;
    }
    if (stream === undefined) {
      // Stay where we were (the waiting frames go there, still in order); if that is gone too, dial again.
      if (from.stream.status === "open") this.#use(from);
      else if (this.#backlog.length > 0) await this.#open();
      return;
    }
    this.#retire(from);
    this.#attach(stream, target);
  }

  /** Pings the peer's system actor on `route`: true once answered (the peer has read all written before it). */
  #barrier(route: Route): Promise<boolean> {
    const id = this.#nextId++;
    const frame: Frame = {
      kind: FrameKind.Call,
      id,
      to: SYSTEM_ACTOR_LOCAL_ID,
      method: "ping",
      args: [],
      mode: "ask",
      timeout: 0,
      credit: 0,
    };
    return new Promise((resolve) => {
      const done = (answered: boolean): void => {
        clearTimeout(timer);
        this.#barriers.delete(id);
        resolve(answered);
      };
      const timer = setTimeout(() => done(false), MOVE_BARRIER_MS);
      this.#barriers.set(id, done);
      try {
        route.writer.write(encodeFrameBody(frame, this.#ctx.maxFrameSize, "a barrier"));
      } catch {
        done(false);
      }
    });
  }

  #retire(route: Route): void {
    if (route.calls.size === 0) this.#closeRetired(route);
    else this.#retired.add(route);
  }

  #closeRetired(route: Route): void {
    this.#retired.delete(route);
    // After the writer's next flush: a last cancel or credit frame may still be queued.
    nextMacrotask(() => {
      route.writer.close();
      void route.stream.close({ signal: AbortSignal.timeout(2_000) }).catch(() => {
        if (route.stream.status === "open")
          route.stream.abort(new PulsingRuntimeError(ErrorCode.CONNECTION_LOST, "moved to a direct connection"));
      });
    });
  }

  /** Fails every waiting call and drops the streams; a later call reopens one unless `final`. */
  close(error: PulsingRuntimeError, final = false): void {
    if (final) this.#closed = true;
    const routes = [this.#route, this.#leaving, ...this.#retired].filter((r): r is Route => r !== undefined);
    this.#route = undefined;
    this.#leaving = undefined;
    this.#retired.clear();
    this.#offered = undefined;
    this.#backlog = [];
    for (const settle of [...this.#barriers.values()]) settle(false);
    const calls = [...this.#pending.values()];
    this.#pending.clear();
    for (const call of calls) call.settleError(error);
    for (const tell of this.#tells) tell.settleError(error);
    this.#tells = [];
    for (const route of routes) {
      route.writer.close();
      if (route.stream.status === "open") route.stream.abort(error);
    }
  }

  /** Tells the peer this node is going away, then closes the stream gently. */
  async goAway(reason: string): Promise<void> {
    const route = this.#route;
    this.#route = undefined; // so that close() leaves it: it closes gently below
    if (route !== undefined) {
      try {
        route.writer.write(encodeFrameBody({ kind: FrameKind.GoAway, reason }, this.#ctx.maxFrameSize, "a control frame"));
      } catch (error) {
        this.#ctx.report("could not send a control frame", error);
      }
    }
    this.close(new PulsingRuntimeError(ErrorCode.SHUTDOWN, `this node is shutting down (${reason})`), true);
    if (route === undefined) return;
    await new Promise<void>((resolve) => nextMacrotask(resolve)); // the writer flushes the GoAway frame
    route.writer.close();
    await route.stream.close({ signal: AbortSignal.timeout(500) }).catch(() => {});
  }

  // --- stream ------------------------------------------------------------------------------------------------

  #send(route: Route, bytes: Uint8Array, call: RemoteCall): void {
    call.route = route;
    route.calls.add(call.id);
    route.writer.write(bytes);
  }

  /** Queues a frame until a stream is open, opening one if none is on its way. */
  #wait(waiting: Waiting, options: CallOptions | undefined): void {
    this.#backlog.push(waiting);
    // A node not known yet is waited for as long as the longest-waiting call here wants (see `#open`).
    this.#waitUntil = Math.max(this.#waitUntil, performance.now() + (options?.timeout ?? UNKNOWN_NODE_WAIT_MS));
    this.#opening ??= this.#open().finally(() => {
      this.#opening = undefined;
      // A direct connection may have come up while a relayed one was dialed.
      this.#moveIfOffered();
    });
  }

  /** Tells waiting for the stream: they resolve once handed to it. */
  #tells: RemoteCall[] = [];

  /**
   * Until when (`performance.now()`) the stream being opened may wait for a node this node has no address for:
   * each call that waits pushes it to its own deadline (its `timeout`, else `UNKNOWN_NODE_WAIT_MS`).
   */
  #waitUntil = 0;
  #locating = false;

  /** Whether the link is waiting to learn where its peer is (a node not known yet). */
  get locating(): boolean {
    return this.#locating;
  }

  async #open(): Promise<void> {
    let stream: Stream;
    let connection: Connection;
    try {
      this.#locating = true;
      try {
        await this.#ctx.locate(this.peer, () => this.#waitUntil);
      } finally {
        this.#locating = false;
      }
      connection = await this.#ctx.dial(this.peer, AbortSignal.timeout(10_000));
      if (connection.remotePeer.toString() !== this.peer) {
        throw new PulsingRuntimeError(ErrorCode.NODE_UNREACHABLE, `dialing it reached node ${connection.remotePeer.toString()} instead`);
      }
      stream = await connection.newStream(RPC_PROTOCOL, { signal: AbortSignal.timeout(10_000), runOnLimitedConnection: true });
    } catch (error) {
      this.#waitUntil = 0;
      if (error instanceof PulsingRuntimeError && error.code === ErrorCode.NODE_UNKNOWN) {
        this.close(error);
        return;
      }
      const reason = error instanceof PulsingRuntimeError ? error.message : describe(error);
      // A refusal (admission) keeps its code; anything else is a dial that did not get through.
      const code = error instanceof PulsingRuntimeError && error.code !== ErrorCode.UNSPECIFIED ? error.code : ErrorCode.NODE_UNREACHABLE;
      const failure = new PulsingRuntimeError(code, `cannot reach node ${this.peer}: ${reason}`, error);
      this.close(failure);
      return;
    }
    this.#waitUntil = 0;
    if (this.#closed) {
      stream.abort(new PulsingRuntimeError(ErrorCode.SHUTDOWN, "shutting down"));
      return;
    }
    this.#attach(stream, connection);
  }

  #attach(stream: Stream, connection: Connection): void {
    let route: Route | undefined; // the end handler needs the route, which needs the writer
    const writer = openFrameStream(
      stream,
      this.#ctx.maxFrameSize,
      this.peer,
      {
        frame: (bytes) => {
          this.#ctx.heard(this.peer);
          this.#onFrame(bytes);
        },
        oversized: (length, head) => this.#onOversized(length, head),
      },
      (cause) => {
        if (route !== undefined) this.#lost(route, cause);
      },
    );
    route = { stream, writer, connection, calls: new Set() };
    this.#use(route);
  }

  /** Makes `route` where new frames go and sends what waited for a stream. */
  #use(route: Route): void {
    this.#route = route;
    const backlog = this.#backlog;
    this.#backlog = [];
    for (const { bytes, call } of backlog) {
      if (call !== undefined) this.#send(route, bytes, call);
      else route.writer.write(bytes);
    }
    for (const tell of this.#tells) tell.settleValue(undefined);
    this.#tells = [];
  }

  #lost(route: Route, cause: unknown): void {
    const error = new PulsingRuntimeError(
      ErrorCode.CONNECTION_LOST,
      `connection to node ${this.peer} lost${cause ? `: ${describe(cause)}` : ""}`,
      cause,
    );
    if (this.#retired.delete(route)) {
      // A stream left for a direct one: only the calls still finishing on it fail.
      for (const id of route.calls) this.#pending.get(id)?.settleError(error);
      return;
    }
    if (this.#route !== route && this.#leaving !== route) return;
    this.close(error);
  }

  #onFrame(bytes: Uint8Array): void {
    let frame: Frame;
    try {
      frame = decodeFrame(bytes, this.#ctx.refs);
    } catch (error) {
      this.#ctx.counters.malformedFrames++;
      const id = error instanceof FrameError ? error.id : undefined;
      if (id !== undefined) this.#pending.get(id)?.settleError(error);
      else this.#ctx.report(`dropped a malformed frame from node ${this.peer}`, error);
      return;
    }
    // Moves are rare: the per-frame path looks for a barrier's answer only while one is out.
    if (this.#barriers.size > 0 && "id" in frame) {
      const barrier = this.#barriers.get(frame.id);
      if (barrier !== undefined) return barrier(true);
    }
    switch (frame.kind) {
      case FrameKind.Reply:
        this.#pending.get(frame.id)?.settleValue(frame.value);
        return;
      case FrameKind.Error:
        this.#pending.get(frame.id)?.settleError(asError(frame.error));
        return;
      case FrameKind.StreamOpen:
        this.#pending.get(frame.id)?.settleStream(frame.stream, frame.msgType);
        return;
      case FrameKind.Items: {
        const call = this.#pending.get(frame.id);
        if (call !== undefined) for (const item of frame.items) call.item(item);
        return;
      }
      case FrameKind.End:
        this.#pending.get(frame.id)?.end();
        return;
      case FrameKind.GoAway:
        this.close(new PulsingRuntimeError(ErrorCode.SHUTDOWN, `node ${this.peer} is shutting down: ${frame.reason}`));
        return;
      default:
        this.#ctx.counters.malformedFrames++;
        this.#ctx.report(`unexpected frame kind ${frame.kind} on the call stream from node ${this.peer}`);
    }
  }

  #onOversized(length: number, head: Uint8Array): void {
    this.#ctx.counters.oversizedFrames++;
    const { id } = peekFrameHeader(head);
    const error = new PulsingRuntimeError(
      ErrorCode.FRAME_TOO_LARGE,
      `a reply from node ${this.peer} is ${length} bytes, over this node's frame limit of ${this.#ctx.maxFrameSize} bytes (maxFrameSize)`,
    );
    if (id !== undefined) this.#pending.get(id)?.settleError(error);
  }
}

/** A call to an actor on another node, as its caller holds it. */
class RemoteCall extends CallHandle {
  readonly #link: PeerLink;
  readonly id: number;
  /** The stream this call's frame went out on (undefined while it waits for one). */
  route: Route | undefined;

  constructor(link: PeerLink, id: number, target: ActorRef, method: string | undefined, mode: CallMode, options: CallOptions | undefined) {
    super(mode, target, method, options);
    this.#link = link;
    this.id = id;
  }

  protected sendCredit(n: number): void {
    this.#link.sendControl(this, { kind: FrameKind.Credit, id: this.id, n });
  }

  protected sendCancel(): void {
    if (this.id !== 0) this.#link.sendControl(this, { kind: FrameKind.Cancel, id: this.id });
  }

  protected override onDone(): void {
    if (this.id !== 0) this.#link.forget(this);
  }

  /** A call whose timeout runs out while its link still looks for an unknown node learns that, not a bare timeout. */
  protected override timeoutError(timeout: number): unknown {
    return this.route === undefined && this.#link.locating ? unknownNode(this.#link.peer, timeout) : super.timeoutError(timeout);
  }
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new PulsingRuntimeError(ErrorCode.PROTOCOL_ERROR, `remote error: ${String(value)}`);
}

export function describe(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  if (typeof error === "object" && error !== null && "message" in error) return String((error as { message: unknown }).message);
  return String(error);
}
