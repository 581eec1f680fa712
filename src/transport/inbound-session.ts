import type { Connection, Stream } from "@libp2p/interface";
import { cancelInbound, type CallMode, type InboundCall, type StreamKind } from "../actor/call-types.js";
import type { StreamControl, StreamSink } from "../actor/stream-control.js";
import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import { nextMacrotask } from "../util/macrotask.js";
import { FrameError, FrameKind, MAX_STREAM_CREDIT, type Frame } from "../wire/frames.js";
import type { FrameWriter } from "./frame-writer.js";
import { openFrameStream } from "./frame-stream.js";
import type { MeshContext } from "./mesh-context.js";
import { describe } from "./peer-link.js";
import { decodeFrame, encodeFrameBody, peekFrameHeader } from "./rpc-frames.js";

/** Inbound calls in progress at which a session stops reading from the peer (and resumes at half). */
const MAX_INFLIGHT = 8_192;
/**
 * Answers waiting to be sent at which a session stops reading from the peer (and resumes at half): a peer that
 * does not read its answers must not make this node hold them without bound. Past `UNREAD_RESET_BYTES` the stream
 * is reset (a paused stream still takes what the peer already sent, up to libp2p's read buffer).
 */
const UNREAD_PAUSE_BYTES = 4 * 1024 * 1024;
const UNREAD_RESET_BYTES = 64 * 1024 * 1024;
/** Bytes waiting to be sent at which a stream's producer waits (whatever credit it holds), and resumes at half. */
const STREAM_BACKLOG_BYTES = 1024 * 1024;
/** Stream items sent in one frame at most. */
const MAX_ITEMS_PER_FRAME = 256;

/**
 * The calls one peer makes to this node, on one inbound RPC stream: decodes frames, hands calls to the local
 * actors in arrival order (FIFO per caller), routes credit and cancel to the calls they are about, and writes
 * the answers back on the same stream. When the stream goes, every call it started is cancelled (signals abort,
 * generators stop).
 */
export class InboundSession {
  readonly peer: string;
  readonly #ctx: MeshContext;
  readonly #stream: Stream;
  readonly #writer: FrameWriter;
  readonly #calls = new Map<number, RemoteInboundCall>();
  #paused = false;
  /** Reading paused because answers pile up unsent (the peer does not read them). */
  #unread = false;
  #closed = false;

  constructor(ctx: MeshContext, stream: Stream, connection: Connection) {
    this.#ctx = ctx;
    this.#stream = stream;
    this.peer = connection.remotePeer.toString();
    this.#writer = openFrameStream(
      stream,
      ctx.maxFrameSize,
      this.peer,
      {
        frame: (bytes) => {
          this.#ctx.heard(this.peer);
          this.#onFrame(bytes);
        },
        oversized: (length, head) => this.#onOversized(length, head),
      },
      (cause) => this.close(cause),
    );
  }

  get inflight(): number {
    return this.#calls.size;
  }

  /** Cancels every call this stream started. */
  close(cause?: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#writer.close();
    const reason = new PulsingRuntimeError(
      ErrorCode.CONNECTION_LOST,
      `connection to node ${this.peer} lost${cause ? `: ${describe(cause)}` : ""}`,
    );
    for (const call of this.#calls.values()) cancelInbound(call, reason);
    this.#calls.clear();
  }

  /** Tells the caller this node is going away. */
  async goAway(reason: string): Promise<void> {
    this.#send({ kind: FrameKind.GoAway, reason }, "a goaway frame");
    await this.#stream.close({ signal: AbortSignal.timeout(500) }).catch(() => {});
    this.close();
  }

  // --- frames in ---------------------------------------------------------------------------------------------

  #onFrame(bytes: Uint8Array): void {
    let frame: Frame;
    try {
      frame = decodeFrame(bytes, this.#ctx.refs);
    } catch (error) {
      this.#ctx.counters.malformedFrames++;
      const id = error instanceof FrameError ? error.id : undefined;
      if (id !== undefined) this.#send({ kind: FrameKind.Error, id, error }, "an error");
      return;
    }
    switch (frame.kind) {
      case FrameKind.Call: {
        if (this.#calls.has(frame.id)) {
          this.#send(
            {
              kind: FrameKind.Error,
              id: frame.id,
              error: new PulsingRuntimeError(ErrorCode.PROTOCOL_ERROR, `duplicate call id ${frame.id}`),
            },
            "an error",
          );
          return;
        }
        const call = new RemoteInboundCall(this, frame.id, frame.method, frame.args, frame.mode, frame.timeout, frame.credit);
        this.#calls.set(frame.id, call);
        this.#backpressure();
        this.#ctx.deliver(frame.to, call);
        return;
      }
      case FrameKind.Tell:
        this.#ctx.deliver(frame.to, new TellCall(this.peer, frame.method, frame.args, this.#ctx));
        return;
      case FrameKind.Credit:
        this.#calls.get(frame.id)?.credit(frame.n);
        return;
      case FrameKind.Cancel: {
        const call = this.#calls.get(frame.id);
        if (call !== undefined) {
          this.forget(frame.id);
          cancelInbound(call, new DOMException("The caller cancelled the call", "AbortError"));
        }
        return;
      }
      case FrameKind.GoAway:
        this.close(new PulsingRuntimeError(ErrorCode.SHUTDOWN, `node ${this.peer} is shutting down: ${frame.reason}`));
        return;
      default:
        this.#ctx.counters.malformedFrames++;
    }
  }

  #onOversized(length: number, head: Uint8Array): void {
    this.#ctx.counters.oversizedFrames++;
    const { kind, id } = peekFrameHeader(head);
    if (kind === FrameKind.Call && id !== undefined) {
      const error = new PulsingRuntimeError(
        ErrorCode.FRAME_TOO_LARGE,
        `the call is ${length} bytes, over the frame limit of ${this.#ctx.maxFrameSize} bytes of node ${this.#ctx.nodeId} (maxFrameSize)`,
      );
      this.#send({ kind: FrameKind.Error, id, error }, "an error");
    }
  }

  /** Stops reading from a peer that keeps more calls in flight than we take (yamux itself never pushes back). */
  #backpressure(): void {
    if (!this.#paused && this.#calls.size >= MAX_INFLIGHT) {
      this.#paused = true;
      this.#stream.pause();
    } else if (this.#paused && this.#calls.size <= MAX_INFLIGHT / 2) {
      this.#paused = false;
      if (!this.#unread) this.#stream.resume();
    }
  }

  /** Answers pile up because the peer does not read them: stop reading its calls until they drain; reset past a bound. */
  #watchBacklog(): void {
    const pending = this.#writer.pendingBytes;
    if (pending > UNREAD_RESET_BYTES) {
      const error = new PulsingRuntimeError(
        ErrorCode.PROTOCOL_ERROR,
        `node ${this.peer} does not read its answers (${pending} bytes unsent): its call stream is reset`,
      );
      this.close(error);
      if (this.#stream.status === "open") this.#stream.abort(error);
      return;
    }
    if (this.#unread || pending <= UNREAD_PAUSE_BYTES) return;
    this.#unread = true;
    this.#stream.pause();
    void this.#writer.whenBelow(UNREAD_PAUSE_BYTES / 2).then(() => {
      this.#unread = false;
      if (!this.#closed && !this.#paused) this.#stream.resume();
    });
  }

  /** @internal A stream's producer waits while answers pile up unsent. */
  backlogged(): Promise<void> | undefined {
    return this.#writer.pendingBytes > STREAM_BACKLOG_BYTES ? this.#writer.whenBelow(STREAM_BACKLOG_BYTES / 2) : undefined;
  }

  // --- frames out --------------------------------------------------------------------------------------------

  /** @internal */
  forget(id: number): void {
    this.#calls.delete(id);
    if (this.#paused) this.#backpressure();
  }

  /**
   * @internal Sends a frame; a value that cannot be encoded becomes an error frame for the same call, and the
   * result is false.
   */
  send(frame: Frame, what: string): boolean {
    return this.#send(frame, what);
  }

  #send(frame: Frame, what: string): boolean {
    if (this.#closed) return false;
    try {
      this.#writer.write(encodeFrameBody(frame, this.#ctx.maxFrameSize, what, this.#ctx.encoding));
      if (this.#writer.pendingBytes > UNREAD_PAUSE_BYTES) this.#watchBacklog();
      return true;
    } catch (error) {
      if ("id" in frame && frame.kind !== FrameKind.Error) {
        this.#send({ kind: FrameKind.Error, id: frame.id, error }, "an error");
      } else if (frame.kind === FrameKind.Error) {
        // The error itself could not be encoded (e.g. unencodable `details`): send what can be.
        const plain = new PulsingRuntimeError(ErrorCode.ENCODING, describe(frame.error));
        try {
          this.#writer.write(encodeFrameBody({ kind: FrameKind.Error, id: frame.id, error: plain }, this.#ctx.maxFrameSize, what, this.#ctx.encoding));
        } catch {
          this.#ctx.report(`could not answer call ${frame.id} of node ${this.peer}`, error);
        }
      }
      return false;
    }
  }
}

/** A call from another node, as the actor cell sees it. */
class RemoteInboundCall implements InboundCall {
  readonly sender: string;
  readonly deadline: number;
  cancelled = false;
  cancelReason: unknown = undefined;
  controller: AbortController | undefined = undefined;
  pump: StreamControl | undefined = undefined;
  cell: unknown = undefined;
  context: unknown = undefined;
  running = false;
  #pendingCredit = 0;
  #done = false;

  constructor(
    readonly session: InboundSession,
    readonly id: number,
    readonly method: string | undefined,
    readonly args: readonly unknown[],
    readonly mode: CallMode,
    timeout: number,
    readonly initialCredit: number,
  ) {
    this.sender = session.peer;
    this.deadline = timeout > 0 ? Date.now() + timeout : 0;
  }

  respond(value: unknown): void {
    if (this.#finish()) this.session.send({ kind: FrameKind.Reply, id: this.id, value }, "the reply");
  }

  respondError(error: unknown): void {
    if (this.#finish()) this.session.send({ kind: FrameKind.Error, id: this.id, error }, "an error");
  }

  respondStream(pump: StreamControl, kind: StreamKind, msgType: string): StreamSink {
    this.pump = pump;
    if (this.#pendingCredit > 0) pump.credit(this.#pendingCredit);
    this.session.send({ kind: FrameKind.StreamOpen, id: this.id, stream: kind, msgType }, "a stream header");
    return new BatchingSink(this);
  }

  /** More credit from the caller; past `MAX_STREAM_CREDIT` outstanding, the call fails (a producer must not run unbounded). */
  credit(n: number): void {
    const outstanding = this.pump?.outstandingCredit ?? this.#pendingCredit;
    if (outstanding + n > MAX_STREAM_CREDIT) {
      const error = new PulsingRuntimeError(
        ErrorCode.PROTOCOL_ERROR,
        `stream credit over the limit of ${MAX_STREAM_CREDIT} items outstanding (${outstanding} + ${n})`,
      );
      if (this.#finish()) this.session.send({ kind: FrameKind.Error, id: this.id, error }, "an error");
      cancelInbound(this, error);
      return;
    }
    if (this.pump !== undefined) this.pump.credit(n);
    else this.#pendingCredit += n;
  }

  /** @internal */
  finishStream(): boolean {
    return this.#finish();
  }

  #finish(): boolean {
    if (this.#done || this.cancelled) return false;
    this.#done = true;
    this.session.forget(this.id);
    return true;
  }
}

/** Writes a stream's items in batches: those produced in one macrotask (up to 256) share a frame. */
class BatchingSink implements StreamSink {
  readonly #call: RemoteInboundCall;
  #batch: unknown[] = [];
  #scheduled = false;
  readonly #flush = (): void => {
    this.#scheduled = false;
    this.#send();
  };

  constructor(call: RemoteInboundCall) {
    this.#call = call;
  }

  item(value: unknown): void {
    if (this.#call.cancelled) return;
    this.#batch.push(value);
    if (this.#batch.length >= MAX_ITEMS_PER_FRAME) this.#send();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      nextMacrotask(this.#flush);
    }
  }

  end(): void {
    this.#send();
    if (this.#call.finishStream()) this.#call.session.send({ kind: FrameKind.End, id: this.#call.id }, "a stream end");
  }

  fail(error: unknown): void {
    this.#send();
    if (this.#call.finishStream()) this.#call.session.send({ kind: FrameKind.Error, id: this.#call.id, error }, "an error");
  }

  blocked(): Promise<void> | undefined {
    return this.#call.session.backlogged();
  }

  #send(): void {
    if (this.#batch.length === 0 || this.#call.cancelled) return;
    const items = this.#batch;
    this.#batch = [];
    const call = this.#call;
    if (!call.session.send({ kind: FrameKind.Items, id: call.id, items }, "a streamed item")) {
      // The caller got an error frame naming the item that could not be encoded: stop the producer.
      call.finishStream();
      call.pump?.cancel();
    }
  }
}

/** A told message from another node: no answer goes back; failures are the actor's (supervision). */
class TellCall implements InboundCall {
  readonly mode: CallMode = "tell";
  readonly deadline = 0;
  readonly initialCredit = 0;
  cancelled = false;
  cancelReason: unknown = undefined;
  controller: AbortController | undefined = undefined;
  pump: StreamControl | undefined = undefined;
  cell: unknown = undefined;
  context: unknown = undefined;
  running = false;

  constructor(
    readonly sender: string,
    readonly method: string | undefined,
    readonly args: readonly unknown[],
    readonly ctx: MeshContext,
  ) {}

  respond(): void {}

  respondError(error: unknown): void {
    // Only happens before the actor runs (unknown or stopped actor): the sender has already moved on.
    this.ctx.report(`a message told by node ${this.sender} was not delivered`, error);
  }

  respondStream(pump: StreamControl): StreamSink {
    pump.cancel();
    return { item() {}, end() {}, fail() {} };
  }
}
