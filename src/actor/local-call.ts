import { CallHandle, type CallTarget } from "./call-handle.js";
import { cancelInbound, type CallMode, type CallOptions, type InboundCall, type StreamKind } from "./call-types.js";
import type { StreamControl, StreamSink } from "./stream-control.js";

/**
 * A call between two actors of the same system: one object is both the caller's handle and the cell's inbound
 * call, so a local ask allocates one call object and one promise. Values pass by reference (no encoding).
 */
export class LocalCall<T = unknown> extends CallHandle<T> implements InboundCall {
  readonly args: readonly unknown[];
  readonly deadline: number;
  readonly sender: string | undefined = undefined;
  cancelled = false;
  cancelReason: unknown = undefined;
  controller: AbortController | undefined = undefined;
  pump: StreamControl | undefined = undefined;
  cell: unknown = undefined;
  running = false;
  context: unknown = undefined;
  #pendingCredit = 0;

  constructor(target: CallTarget, method: string | undefined, args: readonly unknown[], mode: CallMode, options: CallOptions | undefined) {
    super(mode, target, method, options);
    this.args = args;
    this.deadline = options?.timeout !== undefined ? Date.now() + options.timeout : 0;
  }

  get initialCredit(): number {
    return this.bufferSize;
  }

  respond(value: unknown): void {
    this.settleValue(value);
  }

  respondError(error: unknown): void {
    this.settleError(error);
  }

  respondStream(pump: StreamControl, kind: StreamKind, msgType: string): StreamSink {
    this.pump = pump;
    if (this.#pendingCredit > 0) {
      pump.credit(this.#pendingCredit);
      this.#pendingCredit = 0;
    }
    return this.settleStream(kind, msgType);
  }

  protected sendCredit(n: number): void {
    if (this.pump !== undefined) this.pump.credit(n);
    else this.#pendingCredit += n;
  }

  protected sendCancel(reason: unknown): void {
    cancelInbound(this, reason);
  }
}
