import type { Connection, Stream } from "@libp2p/interface";
import type { ActorRef } from "../actor/actor-ref.js";
import { CallHandle, FailedCall } from "../actor/call-handle.js";
import type { CallMode, CallOptions } from "../actor/call-types.js";
import { PulsingRuntimeError } from "../errors/errors.js";
import { FrameError, FrameKind, type Frame } from "../wire/frames.js";
import { isRelayed } from "./connection-kind.js";
import type { FrameWriter } from "./frame-writer.js";
import { openFrameStream } from "./frame-stream.js";
import type { MeshContext } from "./mesh-context.js";
import { decodeFrame, encodeFrameBody, peekFrameHeader, RPC_PROTOCOL } from "./rpc-frames.js";

/**
 * The calls this node makes to one peer: one long-lived RPC stream (opened on the first call, reopened after a
 * loss), frames tagged with call ids, and the table of calls waiting for answers. Calls sent while the stream
 * opens wait in order, so FIFO per caller holds across a dial. When the stream or connection goes, every waiting
 * call fails at once with a `PulsingRuntimeError`; the next call dials again.
 *
 * A link that went over a relayed connection (to a browser tab, before a direct WebRTC one was up) moves to a
 * direct connection when offered one, at a moment when that cannot reorder anything: no call is waiting and the
 * peer has answered the last frame written, so it has read everything sent on the old stream.
 */
export class PeerLink {
  readonly peer: string;
  readonly #ctx: MeshContext;
  #stream: Stream | undefined;
  #writer: FrameWriter | undefined;
  /** The connection `#stream` runs on. */
  #connection: Connection | undefined;
  /** A direct connection to move to from a relayed one, when it is safe. */
  #offered: Connection | undefined;
  /** The stream being left for a direct one (aborted if the link closes meanwhile). */
  #leaving: Stream | undefined;
  /** The last call request written, and whether the peer has answered it (everything before it was read). */
  #lastCallId = 0;
  #lastCallAnswered = true;
  #opening: Promise<void> | undefined;
  /** Frames written before the stream was open, in order. */
  #backlog: Uint8Array[] = [];
  readonly #pending = new Map<number, RemoteCall>();
  #nextId = 1;
  #closed = false;

  constructor(ctx: MeshContext, peer: string) {
    this.#ctx = ctx;
    this.peer = peer;
  }

  /** The id of the connection this link's calls go over, while it has a stream. */
  get connectionId(): string | undefined {
    return this.#stream !== undefined ? this.#connection?.id : undefined;
  }

  get pendingCalls(): number {
    return this.#pending.size;
  }

  /** Starts a call to `target` (an actor on this link's peer). */
  call(target: ActorRef, method: string | undefined, args: readonly unknown[], mode: CallMode, options: CallOptions | undefined): CallHandle {
    if (this.#closed) {
      return new FailedCall(mode, target, method, new PulsingRuntimeError(`cannot call node ${this.peer}: this node is shutting down`));
    }
    const localId = target.actorId.localId;
    const what = "args";
    if (mode === "tell") {
      const frame: Frame = { kind: FrameKind.Tell, to: localId, method, args: args as unknown[] };
      let bytes: Uint8Array;
      try {
        bytes = encodeFrameBody(frame, this.#ctx.maxFrameSize, what);
      } catch (error) {
        return new FailedCall(mode, target, method, error);
      }
      const tell = new RemoteCall(this, 0, target, method, mode, options);
      this.#lastCallAnswered = false;
      this.#write(bytes, tell);
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
      bytes = encodeFrameBody(frame, this.#ctx.maxFrameSize, what);
    } catch (error) {
      call.settleError(error);
      return call;
    }
    this.#pending.set(id, call);
    this.#lastCallId = id;
    this.#lastCallAnswered = false;
    this.#write(bytes, undefined);
    return call;
  }

  /** @internal */
  sendControl(frame: Frame): void {
    let bytes: Uint8Array;
    try {
      bytes = encodeFrameBody(frame, this.#ctx.maxFrameSize, "a control frame");
    } catch (error) {
      this.#ctx.report("could not send a control frame", error);
      return;
    }
    if (this.#writer !== undefined) this.#writer.write(bytes);
    // While the stream opens, control frames follow the call they are about; without a stream nothing of that
    // call runs remotely any more, so they are moot.
    else if (this.#opening !== undefined) this.#backlog.push(bytes);
  }

  /** @internal */
  forget(id: number): void {
    this.#pending.delete(id);
    if (this.#offered !== undefined) this.#moveIfSafe();
  }

  /** A direct connection to this link's peer is up and admitted: move to it if the link is on a relayed one. */
  offerDirect(connection: Connection): void {
    if (this.#closed || connection.remotePeer.toString() !== this.peer) return;
    this.#offered = connection;
    this.#moveIfSafe();
  }

  #moveIfSafe(): void {
    const target = this.#offered;
    const current = this.#connection;
    if (target === undefined || this.#writer === undefined || this.#stream === undefined || current === undefined) return;
    if (!isRelayed(current) || target.status !== "open") {
      this.#offered = undefined;
      return;
    }
    if (this.#pending.size > 0 || !this.#lastCallAnswered || this.#opening !== undefined) return;
    this.#offered = undefined;
    const oldStream = this.#stream;
    const oldWriter = this.#writer;
    // Frames written from now on wait in the backlog, in order, for the new stream.
    this.#stream = undefined;
    this.#writer = undefined;
    this.#leaving = oldStream;
    this.#opening = this.#move(target, oldStream, oldWriter).finally(() => {
      this.#opening = undefined;
      this.#leaving = undefined;
    });
  }

  async #move(target: Connection, oldStream: Stream, oldWriter: FrameWriter): Promise<void> {
    let stream: Stream;
    try {
      stream = await target.newStream(RPC_PROTOCOL, { signal: AbortSignal.timeout(5_000) });
    } catch {
      // Stay where we were; if that is gone too, dial again.
      if (!this.#closed && oldStream.status === "open") this.#use(oldStream, oldWriter);
      else if (!this.#closed) await this.#open();
      return;
    }
    if (this.#closed) {
      stream.abort(new PulsingRuntimeError("shutting down"));
      return;
    }
    this.#connection = target;
    this.#attach(stream);
    await oldStream.close({ signal: AbortSignal.timeout(2_000) }).catch(() => {
      if (oldStream.status === "open") oldStream.abort(new PulsingRuntimeError("moved to a direct connection"));
    });
  }

  /** Fails every waiting call and drops the stream; a later call reopens it unless `final`. */
  close(error: PulsingRuntimeError, final = false): void {
    if (final) this.#closed = true;
    const stream = this.#stream;
    this.#stream = undefined;
    this.#connection = undefined;
    this.#offered = undefined;
    this.#writer?.close();
    this.#writer = undefined;
    this.#backlog = [];
    this.#leaving?.abort(error);
    const calls = [...this.#pending.values()];
    this.#pending.clear();
    for (const call of calls) call.settleError(error);
    if (stream !== undefined && stream.status === "open") stream.abort(error);
  }

  /** Tells the peer this node is going away, then closes the stream gently. */
  async goAway(reason: string): Promise<void> {
    const stream = this.#stream;
    if (this.#writer !== undefined) this.sendControl({ kind: FrameKind.GoAway, reason });
    this.close(new PulsingRuntimeError(`this node is shutting down (${reason})`), true);
    await stream?.close({ signal: AbortSignal.timeout(500) }).catch(() => {});
  }

  // --- stream ------------------------------------------------------------------------------------------------

  #write(bytes: Uint8Array, tell: RemoteCall | undefined): void {
    if (this.#writer !== undefined) {
      this.#writer.write(bytes);
      tell?.settleValue(undefined);
      return;
    }
    this.#backlog.push(bytes);
    if (tell !== undefined) this.#tells.push(tell);
    this.#opening ??= this.#open().finally(() => {
      this.#opening = undefined;
      // A direct connection may have come up while a relayed one was dialed.
      if (this.#offered !== undefined) this.#moveIfSafe();
    });
  }

  /** Tells waiting for the stream: they resolve once handed to it. */
  #tells: RemoteCall[] = [];

  async #open(): Promise<void> {
    let stream: Stream;
    try {
      const connection = await this.#ctx.dial(this.peer, AbortSignal.timeout(10_000));
      if (connection.remotePeer.toString() !== this.peer) {
        throw new PulsingRuntimeError(`dialing it reached node ${connection.remotePeer.toString()} instead`);
      }
      stream = await connection.newStream(RPC_PROTOCOL, { signal: AbortSignal.timeout(10_000), runOnLimitedConnection: true });
      this.#connection = connection;
    } catch (error) {
      const reason = error instanceof PulsingRuntimeError ? error.message : describe(error);
      const failure = new PulsingRuntimeError(`cannot reach node ${this.peer}: ${reason}`, error);
      for (const tell of this.#tells) tell.settleError(failure);
      this.#tells = [];
      this.close(failure);
      return;
    }
    if (this.#closed) {
      stream.abort(new PulsingRuntimeError("shutting down"));
      return;
    }
    this.#attach(stream);
  }

  #attach(stream: Stream): void {
    const writer = openFrameStream(
      stream,
      this.#ctx.maxFrameSize,
      this.peer,
      { frame: (bytes) => this.#onFrame(bytes), oversized: (length, head) => this.#onOversized(length, head) },
      (cause) => this.#lost(stream, cause),
    );
    this.#use(stream, writer);
  }

  /** Makes `stream` the link's stream and sends what waited for it. */
  #use(stream: Stream, writer: FrameWriter): void {
    this.#stream = stream;
    this.#writer = writer;
    const backlog = this.#backlog;
    this.#backlog = [];
    for (const bytes of backlog) writer.write(bytes);
    for (const tell of this.#tells) tell.settleValue(undefined);
    this.#tells = [];
  }

  #lost(stream: Stream, cause: unknown): void {
    if (this.#stream !== stream) return;
    this.close(new PulsingRuntimeError(`connection to node ${this.peer} lost${cause ? `: ${describe(cause)}` : ""}`, cause));
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
    if ("id" in frame && frame.id === this.#lastCallId) this.#lastCallAnswered = true;
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
        this.close(new PulsingRuntimeError(`node ${this.peer} is shutting down: ${frame.reason}`));
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
      `a reply from node ${this.peer} is ${length} bytes, over this node's frame limit of ${this.#ctx.maxFrameSize} bytes (maxFrameSize)`,
    );
    if (id !== undefined) this.#pending.get(id)?.settleError(error);
  }
}

/** A call to an actor on another node, as its caller holds it. */
class RemoteCall extends CallHandle {
  readonly #link: PeerLink;
  readonly id: number;

  constructor(link: PeerLink, id: number, target: ActorRef, method: string | undefined, mode: CallMode, options: CallOptions | undefined) {
    super(mode, target, method, options);
    this.#link = link;
    this.id = id;
  }

  protected sendCredit(n: number): void {
    this.#link.sendControl({ kind: FrameKind.Credit, id: this.id, n });
  }

  protected sendCancel(): void {
    if (this.id !== 0) this.#link.sendControl({ kind: FrameKind.Cancel, id: this.id });
  }

  protected override onDone(): void {
    if (this.id !== 0) this.#link.forget(this.id);
  }
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new PulsingRuntimeError(`remote error: ${String(value)}`);
}

export function describe(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  if (typeof error === "object" && error !== null && "message" in error) return String((error as { message: unknown }).message);
  return String(error);
}
