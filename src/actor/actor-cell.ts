import {
  PulsingActorError,
  ErrorCode,
  PulsingRuntimeError,
  PulsingSystemError,
  PulsingTimeoutError,
  toActorError,
} from "../errors/errors.js";
import type { ActorId } from "./actor-id.js";
import type { ActorRef } from "./actor-ref.js";
import { TIMED_MASK, type CallStats } from "./call-stats.js";
import { callSignal, type InboundCall, type StreamKind } from "./call-types.js";
import { contextStore, type ActorContext, type ContextOwner } from "./context.js";
import { Message, messageSource } from "./message.js";
import { findMethod, unknownMethodError } from "./methods.js";
import { StreamPump, type PumpOutcome, type Stepper } from "./stream-pump.js";
import { backoffDelay, type Supervision } from "./supervision.js";
import { Deque } from "../util/deque.js";

/** What a cell needs from its system. */
export interface CellHost {
  readonly nodeId: string;
  /** The public system (what `ctx.system` is; its type is the system layer's, see context.ts). */
  readonly system: object;
  resolve(name: string, options?: unknown): Promise<ActorRef>;
  /** The cell has stopped for good: forget it. */
  cellStopped(cell: ActorCell): void;
  /** Something failed with nobody to tell (an `onStop` error, a failed `tell`). */
  reportError(message: string, error: unknown): void;
}

export interface CellInit {
  readonly id: ActorId;
  readonly name: string | undefined;
  readonly isPublic: boolean;
  readonly className: string | undefined;
  /** The instance it starts with. */
  readonly instance: object;
  /** Builds a fresh instance for a restart; undefined when the actor cannot be rebuilt. */
  readonly rebuild: (() => object) | undefined;
  readonly supervision: Supervision;
  readonly concurrency: number;
  /** Its class's call counters and latency (shared by the actors of that class on this node). */
  readonly calls: CallStats;
}

export type CellStatus = "starting" | "running" | "restarting" | "stopping" | "stopped";

interface Lifecycle {
  onStart?(ctx: ActorContext): unknown;
  onStop?(): unknown;
  receive?(msg: unknown, ctx: ActorContext): unknown;
}

/**
 * One actor: its mailbox, dispatch, concurrency limit, lifecycle and supervision.
 *
 * Messages start in the order they arrive. A method runs until it returns or awaits: sync methods therefore
 * complete before the next message; async methods interleave at their awaits unless `concurrency` limits how
 * many may be in flight (1 = strictly serial). A streamed reply occupies a slot until it ends.
 */
export class ActorCell implements ContextOwner {
  readonly id: ActorId;
  readonly name: string | undefined;
  readonly isPublic: boolean;
  readonly className: string | undefined;
  readonly createdAt = Date.now();
  readonly #host: CellHost;
  readonly #rebuild: (() => object) | undefined;
  readonly #supervision: Supervision;
  readonly #concurrency: number;
  #instance: Lifecycle & object;
  #methods = new Map<string, ((...args: unknown[]) => unknown) | null>();
  #status: CellStatus = "starting";
  #lifetime = new AbortController();
  #started = false;
  #queue = new Deque<InboundCall>();
  #inflight = 0;
  #scheduled = false;
  #restarts = 0;
  #restartTimer: ReturnType<typeof setTimeout> | undefined;
  /** `ctx.stop()` was called: no new messages start; the actor stops once this call completes. */
  #stopAfter: InboundCall | null | undefined = undefined;
  #stopped: Promise<void>;
  #markStopped!: () => void;
  #processed = 0;
  #failures = 0;
  readonly #calls: CallStats;
  readonly #drainFn = (): void => this.#drain();

  constructor(host: CellHost, init: CellInit) {
    this.#host = host;
    this.id = init.id;
    this.name = init.name;
    this.isPublic = init.isPublic;
    this.className = init.className;
    this.#instance = init.instance;
    this.#rebuild = init.rebuild;
    this.#supervision = init.supervision;
    this.#concurrency = init.concurrency;
    this.#calls = init.calls;
    this.#stopped = new Promise((resolve) => (this.#markStopped = resolve));
  }

  /** The actor's name, or its id when anonymous (for messages). */
  get label(): string {
    return this.name ?? String(this.id);
  }

  get status(): CellStatus {
    return this.#status;
  }

  get alive(): boolean {
    return this.#status !== "stopping" && this.#status !== "stopped";
  }

  /** @internal The instance currently serving (changes on restart). */
  get instance(): object {
    return this.#instance;
  }

  get stats(): { processed: number; failures: number; restarts: number; mailbox: number; inflight: number } {
    return {
      processed: this.#processed,
      failures: this.#failures,
      restarts: this.#restarts,
      mailbox: this.#queue.length,
      inflight: this.#inflight,
    };
  }

  /**
   * First start: runs `onStart`. Rejects (and the actor is gone) when it fails and no restart will follow;
   * with a restart policy the actor restarts in the background and this resolves.
   */
  async start(): Promise<void> {
    const error = await this.#boot();
    if (error !== undefined && !this.alive) throw toActorError(error, this.label);
  }

  /** Stops the actor (no restart): queued calls fail, in-flight calls see their signal abort, `onStop` runs. */
  stop(reason = "stopped"): Promise<void> {
    this.#terminate(reason);
    return this.#stopped;
  }

  /** Delivers a call. A stopped actor answers with a `PulsingRuntimeError` at once. */
  enqueue(call: InboundCall): void {
    if (!this.alive) {
      call.respondError(this.#stoppedError());
      return;
    }
    this.#queue.push(call);
    if (!this.#scheduled && this.#status === "running") {
      this.#scheduled = true;
      RESOLVED.then(this.#drainFn);
    }
  }

  /**
   * Delivers a call from the network: when the actor is idle it runs at once, inside the network event, rather
   * than a microtask later — its reply then leaves in the same write as the transport's own bookkeeping (measured:
   * one socket read per call fewer). Order is kept: only an empty mailbox lets a call skip it.
   */
  enqueueNow(call: InboundCall): void {
    if (
      this.#status === "running" &&
      this.#queue.length === 0 &&
      !this.#scheduled &&
      this.#inflight < this.#concurrency &&
      this.#stopAfter === undefined &&
      !call.cancelled &&
      (call.deadline === 0 || call.deadline >= Date.now())
    ) {
      this.#invoke(call);
      return;
    }
    this.enqueue(call);
  }

  contextFor(call: InboundCall | undefined): ActorContext {
    return new CellContext(this, this.#host, call);
  }

  /** @internal `ctx.stop()` */
  requestStop(call: InboundCall | undefined): void {
    if (!this.alive || this.#stopAfter !== undefined) return;
    // Calls that already completed (or the start) cannot be waited for: stop right away.
    if (call === undefined ? this.#status !== "starting" : call.cell !== this || !call.running) {
      this.#stopAfter = null;
      queueMicrotask(() => this.#selfStop());
      return;
    }
    this.#stopAfter = call ?? null;
  }

  /** @internal */
  get lifetimeSignal(): AbortSignal {
    return this.#lifetime.signal;
  }

  // --- dispatch ----------------------------------------------------------------------------------------------

  #drain(): void {
    this.#scheduled = false;
    const queue = this.#queue;
    while (queue.length > 0 && this.#inflight < this.#concurrency && this.#status === "running" && this.#stopAfter === undefined) {
      const call = queue.shift()!;
      if (call.cancelled) continue;
      if (call.deadline !== 0 && call.deadline < Date.now()) {
        call.respondError(new PulsingTimeoutError(`${this.label}.${call.method ?? "receive"}`, 0));
        continue;
      }
      this.#invoke(call);
    }
  }

  #drainSoon(): void {
    if (!this.#scheduled && this.#queue.length > 0 && this.#status === "running") {
      this.#scheduled = true;
      RESOLVED.then(this.#drainFn);
    }
  }

  #invoke(call: InboundCall): void {
    const instance = this.#instance;
    const method = call.method;
    let fn: ((...args: unknown[]) => unknown) | null | undefined;
    let args = call.args;
    if (method === undefined || method === "receive") {
      fn = typeof instance.receive === "function" ? (instance.receive as (...args: unknown[]) => unknown) : null;
      if (fn === null) {
        call.respondError(
          new PulsingRuntimeError(ErrorCode.METHOD_NOT_FOUND, `actor '${this.label}' has no receive(msg, ctx) method to take messages`),
        );
        return;
      }
      args = [args[0], (call.context ??= this.contextFor(call))];
    } else {
      fn = this.#methods.get(method);
      if (fn === undefined) {
        fn = findMethod(instance, method) ?? null;
        this.#methods.set(method, fn);
      }
      if (fn === null) {
        call.respondError(unknownMethodError(method, this.label));
        return;
      }
    }
    call.cell = this;
    const stats = this.#calls;
    stats.calls++;
    // A sample of the calls is timed (see TIMED_EVERY): -1 marks an untimed one.
    const start = (++this.#processed & TIMED_MASK) === 1 ? performance.now() : -1;
    let result: unknown;
    call.running = true;
    try {
      result = isAsyncFunction(fn) ? contextStore.runTracked(call, fn, instance, args) : contextStore.run(call, fn, instance, args);
    } catch (error) {
      if (start !== -1) stats.observe(performance.now() - start);
      call.running = false;
      this.#fail(call, error);
      return;
    }
    if (result !== null && typeof result === "object" && typeof (result as PromiseLike<unknown>).then === "function") {
      this.#inflight++;
      (result as PromiseLike<unknown>).then(
        (value) => {
          if (start !== -1) stats.observe(performance.now() - start);
          this.#inflight--;
          call.running = false;
          this.#complete(call, value);
          this.#drainSoon();
        },
        (error: unknown) => {
          if (start !== -1) stats.observe(performance.now() - start);
          this.#inflight--;
          call.running = false;
          this.#fail(call, error);
          this.#drainSoon();
        },
      );
    } else {
      if (start !== -1) stats.observe(performance.now() - start);
      call.running = false;
      this.#complete(call, result);
    }
  }

  #complete(call: InboundCall, value: unknown): void {
    if (call.mode !== "tell") {
      const source = streamSource(value, call.mode === "stream");
      if (source !== undefined) {
        this.#openStream(call, source.iterator, source.kind, source.msgType);
      } else if (call.mode === "stream") {
        call.respondError(
          new PulsingRuntimeError(
            ErrorCode.NOT_A_STREAM,
            `${this.label}.${call.method ?? "receive"} did not return a stream (an iterable or async iterable)`,
          ),
        );
      } else {
        call.respond(value);
      }
    }
    this.#afterCall(call);
  }

  #openStream(call: InboundCall, iterator: AsyncIterator<unknown> | Iterator<unknown>, kind: StreamKind, msgType: string): void {
    this.#inflight++;
    call.running = true;
    const pump = new StreamPump(
      iterator,
      call.initialCredit,
      (outcome: PumpOutcome, error?: unknown) => {
        this.#inflight--;
        call.running = false;
        if (outcome === "failed") {
          this.#failures++;
          this.#calls.errors++;
          sink.fail(toActorError(error, this.label));
          if (error instanceof PulsingSystemError) this.#failure(error);
        }
        this.#afterCall(call);
        this.#drainSoon();
      },
      stepperFor(call, iterator),
    );
    call.pump = pump;
    const sink = call.respondStream(pump, kind, msgType);
    if (call.cancelled) pump.cancel();
    else pump.start(sink);
  }

  #fail(call: InboundCall, error: unknown): void {
    this.#failures++;
    this.#calls.errors++;
    if (call.mode !== "tell") call.respondError(toActorError(error, this.label));
    if (call.mode === "tell") {
      this.#host.reportError(`actor '${this.label}' failed on a told message`, error);
      this.#failure(error);
    } else if (error instanceof PulsingSystemError) {
      this.#failure(error);
    }
    this.#afterCall(call);
  }

  #afterCall(call: InboundCall): void {
    if (this.#stopAfter === call && !call.running) this.#selfStop();
  }

  // --- lifecycle and supervision ----------------------------------------------------------------------------

  /** Runs `onStart` on the current instance; returns the error if it failed (already handled). */
  async #boot(): Promise<unknown> {
    this.#status = "starting";
    const ctx = this.contextFor(undefined);
    try {
      if (typeof this.#instance.onStart === "function") await this.#instance.onStart(ctx);
    } catch (error) {
      this.#status = "running"; // so the failure is handled as one
      this.#failure(error);
      return error;
    }
    if (this.#status !== "starting") return undefined;
    this.#status = "running";
    this.#started = true;
    if (this.#stopAfter === null) {
      this.#selfStop();
      return undefined;
    }
    this.#drainSoon();
    return undefined;
  }

  #failure(error: unknown): void {
    if (this.#status !== "running" && this.#status !== "starting") return;
    const fatal = error instanceof PulsingSystemError && !error.recoverable;
    if (!fatal && this.#supervision.restartPolicy !== "never" && this.#restarts < this.#supervision.maxRestarts) {
      this.#restart();
      return;
    }
    const why = fatal
      ? "a non-recoverable PulsingSystemError"
      : this.#supervision.restartPolicy === "never"
        ? 'a failure (restartPolicy "never")'
        : `a failure after ${this.#restarts} restarts (maxRestarts ${this.#supervision.maxRestarts})`;
    this.#host.reportError(`actor '${this.label}' stopped after ${why}`, error);
    this.#terminate(`stopped after ${why}: ${describe(error)}`);
  }

  #selfStop(): void {
    this.#stopAfter = undefined;
    if (!this.alive) return;
    if (this.#supervision.restartPolicy === "always" && this.#restarts < this.#supervision.maxRestarts) {
      this.#restart();
    } else {
      this.#terminate("stopped itself");
    }
  }

  #restart(): void {
    if (this.#rebuild === undefined) {
      this.#terminate("failed and cannot be rebuilt (spawned from an instance)");
      return;
    }
    this.#status = "restarting";
    const previous = this.#instance;
    const wasStarted = this.#started;
    this.#started = false;
    this.#lifetime.abort(new PulsingRuntimeError(ErrorCode.ACTOR_STOPPED, `actor '${this.label}' is restarting`));
    if (wasStarted) void this.#runOnStop(previous);
    const delay = backoffDelay(this.#supervision, this.#restarts++);
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      if (this.#status !== "restarting") return;
      this.#lifetime = new AbortController();
      try {
        this.#instance = this.#rebuild!() as Lifecycle & object;
        this.#methods.clear();
      } catch (error) {
        this.#status = "running";
        this.#failure(error);
        return;
      }
      void this.#boot();
    }, delay);
  }

  #terminate(reason: string): void {
    if (!this.alive) return;
    this.#status = "stopping";
    this.#stopReason = reason;
    if (this.#restartTimer !== undefined) clearTimeout(this.#restartTimer);
    this.#lifetime.abort(new PulsingRuntimeError(ErrorCode.ACTOR_STOPPED, `actor '${this.label}' ${reason}`));
    const error = this.#stoppedError();
    for (const call of this.#queue.drain()) {
      if (!call.cancelled) call.respondError(error);
    }
    const instance = this.#instance;
    const finish = (): void => {
      this.#status = "stopped";
      this.#host.cellStopped(this);
      this.#markStopped();
    };
    if (this.#started) {
      this.#started = false;
      void this.#runOnStop(instance).then(finish);
    } else {
      finish();
    }
  }

  #stopReason = "";

  #stoppedError(): PulsingRuntimeError {
    return new PulsingRuntimeError(
      ErrorCode.ACTOR_STOPPED,
      `actor '${this.label}' has stopped${this.#stopReason ? ` (${this.#stopReason})` : ""}`,
    );
  }

  async #runOnStop(instance: Lifecycle): Promise<void> {
    try {
      if (typeof instance.onStop === "function") await instance.onStop();
    } catch (error) {
      this.#host.reportError(`onStop of actor '${this.label}' failed`, error);
    }
  }
}

/** The context handed to `receive`/`onStart` and returned by `currentContext()`. */
class CellContext implements ActorContext {
  readonly #cell: ActorCell;
  readonly #host: CellHost;
  readonly #call: InboundCall | undefined;

  constructor(cell: ActorCell, host: CellHost, call: InboundCall | undefined) {
    this.#cell = cell;
    this.#host = host;
    this.#call = call;
  }

  get actorId(): ActorId {
    return this.#cell.id;
  }

  get nodeId(): string {
    return this.#host.nodeId;
  }

  get system(): ActorContext["system"] {
    return this.#host.system as ActorContext["system"];
  }

  get signal(): AbortSignal {
    const lifetime = this.#cell.lifetimeSignal;
    return this.#call === undefined ? lifetime : callSignal(this.#call, lifetime);
  }

  actorRef(name: string, options?: unknown): Promise<ActorRef> {
    return this.#host.resolve(name, options);
  }

  stop(): void {
    this.#cell.requestStop(this.#call);
  }
}

/** A reply that is a stream: a streaming Message, an async iterable, a generator, or (when a stream was asked
 * for) any iterable other than a string. */
function streamSource(
  value: unknown,
  streamWanted: boolean,
): { iterator: AsyncIterator<unknown> | Iterator<unknown>; kind: StreamKind; msgType: string } | undefined {
  if (value === null || typeof value !== "object") return undefined;
  if (value instanceof Message) {
    return value.isStream ? { iterator: messageSource(value), kind: "message", msgType: value.msgType } : undefined;
  }
  const asyncIterate = (value as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator];
  if (typeof asyncIterate === "function") {
    return { iterator: asyncIterate.call(value), kind: "iterator", msgType: "" };
  }
  const iterate = (value as Partial<Iterable<unknown>>)[Symbol.iterator];
  if (typeof iterate === "function" && (streamWanted || isGenerator(value))) {
    return { iterator: iterate.call(value), kind: "iterator", msgType: "" };
  }
  return undefined;
}

const NO_ARGS: readonly unknown[] = [];
// Scheduling through a resolved promise: Node's queueMicrotask wraps every callback in an AsyncResource.
const RESOLVED = Promise.resolve();

/** Runs each step of a streamed reply inside its call's context, so generator bodies can `currentContext()`. */
function stepperFor(call: InboundCall, iterator: object): Stepper {
  return Symbol.asyncIterator in iterator
    ? (it) => contextStore.runTracked(call, it.next as () => Promise<IteratorResult<unknown>>, it, NO_ARGS)
    : (it) => contextStore.run(call, it.next as () => IteratorResult<unknown>, it, NO_ARGS);
}
const AsyncFunction = (async () => {}).constructor;
const AsyncGeneratorFunction = Object.getPrototypeOf(async function* () {}).constructor as unknown;

/** Async functions and async generators await, so only they need async context tracking. */
function isAsyncFunction(fn: Function): boolean {
  const ctor = fn.constructor;
  return ctor === AsyncFunction || ctor === AsyncGeneratorFunction;
}

function isGenerator(value: object): boolean {
  return Object.prototype.toString.call(value) === "[object Generator]";
}

function describe(error: unknown): string {
  if (error instanceof PulsingActorError || error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
