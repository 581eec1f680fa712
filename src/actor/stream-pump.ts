import { nextMacrotask } from "../util/macrotask.js";
import type { StreamControl, StreamSink } from "./stream-control.js";

type AnyIterator = AsyncIterator<unknown> | Iterator<unknown>;
type Step = IteratorResult<unknown> | Promise<IteratorResult<unknown>>;

/** Advances the iterator one step; the actor cell wraps this so a generator body sees its call's context. */
export type Stepper = (iterator: AnyIterator) => Step;

const plainStep: Stepper = (iterator) => iterator.next();

/**
 * Items a pump produces from a synchronous iterator before it lets other work run (a macrotask): with plenty of
 * credit, a generator that never awaits would otherwise keep the thread until its credit ran out.
 */
const STEPS_BEFORE_YIELD = 256;

const yieldToOthers = (): Promise<void> => new Promise((resolve) => nextMacrotask(resolve));

/** How a pump finished: the iterator ended, the consumer cancelled, or the iterator threw (the pump does not
 * write the error to the sink: its owner decides what the caller sees). */
export type PumpOutcome = "ended" | "cancelled" | "failed";

/**
 * The producer end of a streamed reply: pulls from the actor's iterator only while it holds credit,
 * so a consumer that stops reading stops the producer (no buffer grows on either side).
 * `cancel()` calls the iterator's `return()`, which runs the generator's `finally` blocks.
 */
export class StreamPump implements StreamControl {
  readonly #iterator: AnyIterator;
  #sink: StreamSink | undefined;
  readonly #onFinish: (outcome: PumpOutcome, error?: unknown) => void;
  readonly #step: Stepper;
  #credit: number;
  #running = false;
  #finished = false;

  constructor(
    iterator: AnyIterator,
    initialCredit: number,
    onFinish: (outcome: PumpOutcome, error?: unknown) => void,
    step: Stepper = plainStep,
  ) {
    this.#iterator = iterator;
    this.#step = step;
    this.#credit = initialCredit;
    this.#onFinish = onFinish;
  }

  get finished(): boolean {
    return this.#finished;
  }

  /** Items granted and not yet produced. */
  get outstandingCredit(): number {
    return this.#credit;
  }

  /** Starts producing into `sink` (credit granted before this accumulates). */
  start(sink: StreamSink): void {
    this.#sink = sink;
    if (this.#credit > 0 && !this.#finished) void this.#run();
  }

  credit(n: number): void {
    if (this.#finished || !(n > 0)) return;
    this.#credit += n;
    if (!this.#running && this.#sink !== undefined) void this.#run();
  }

  cancel(): void {
    if (this.#finished) return;
    this.#finished = true;
    try {
      const result = this.#iterator.return?.();
      if (isPromiseLike(result)) result.then(undefined, ignore);
    } catch {
      // A generator that throws from `finally` during cancellation has nobody left to tell.
    }
    this.#onFinish("cancelled");
  }

  async #run(): Promise<void> {
    this.#running = true;
    let steps = 0;
    try {
      while (this.#credit > 0 && !this.#finished) {
        const blocked = this.#sink!.blocked?.();
        if (blocked !== undefined) {
          await blocked;
          if (this.#finished) return;
        } else if (++steps % STEPS_BEFORE_YIELD === 0) {
          await yieldToOthers();
          if (this.#finished) return;
        }
        let step = this.#step(this.#iterator);
        if (isPromiseLike(step)) step = await step;
        if (this.#finished) return;
        if (step.done) {
          this.#finished = true;
          this.#sink!.end();
          this.#onFinish("ended");
          return;
        }
        this.#credit--;
        this.#sink!.item(step.value);
      }
    } catch (error) {
      if (this.#finished) return;
      this.#finished = true;
      this.#onFinish("failed", error);
    } finally {
      this.#running = false;
    }
  }
}

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as PromiseLike<T> | null)?.then === "function";
}

function ignore(): void {}
