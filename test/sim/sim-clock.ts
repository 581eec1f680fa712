/**
 * A simulated `Clock`: a timer queue (a binary heap keyed by due time, then by insertion order) that `runFor` and
 * `runUntil` advance timer by timer. Time moves only when a timer fires, so minutes of protocol time take as
 * long as the work they contain, and no test sleeps.
 *
 * Protocol code awaits promises (a host's answers, a publish); those answers are resolved by sim timers, and
 * their continuations must run before the next timer fires, at the time the answer came, as they would on a real
 * event loop (where microtasks drain after every timer callback). So after each timer the queue waits for a
 * `process.nextTick`: Node runs it only once the microtask queue is empty, continuations of continuations
 * included, so every chain of awaits the timer started has run (or is waiting on a later timer). A full event-loop
 * turn (`setImmediate`) every `yieldEvery` timers lets I/O (the test runner's output) through.
 */
import type { Clock, TimerHandle } from "../../src/util/clock.js";

interface Timer {
  at: number;
  seq: number;
  fn: (() => void) | undefined;
}

/** Thrown by `runFor`/`runUntil` when a timer callback throws (the first error; the clock stops there). */
export class SimTimerError extends Error {}

export class SimClock implements Clock {
  #now = 0;
  #seq = 0;
  readonly #heap: Timer[] = [];
  #fired = 0;
  #running = false;
  /** Timers run in all. */
  get fired(): number {
    return this.#fired;
  }
  /** Timers waiting (cancelled ones included until they reach the top). */
  get pending(): number {
    return this.#heap.length;
  }

  /** @param yieldEvery an event-loop turn after this many timers. */
  constructor(readonly yieldEvery = 1_000) {}

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    const timer: Timer = { at: this.#now + delay, seq: this.#seq++, fn };
    this.#push(timer);
    return timer;
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle !== undefined) (handle as Timer).fn = undefined;
  }

  /** Whether a handle's timer is still to fire (not fired, not cleared). */
  isPending(handle: TimerHandle | undefined): boolean {
    return handle !== undefined && (handle as Timer).fn !== undefined;
  }

  /** Runs every timer due within `ms` from now, then sets the clock to now + `ms`. */
  async runFor(ms: number): Promise<void> {
    const until = this.#now + ms;
    await this.#run(until, undefined, 0);
    this.#now = Math.max(this.#now, until);
  }

  /**
   * Runs timers until `predicate` holds (checked before the first timer, then whenever time has moved by
   * `checkEveryMs` or more) or `maxMs` have passed; returns whether it held. The clock stops at the first
   * check that saw it hold.
   */
  async runUntil(predicate: () => boolean, maxMs: number, checkEveryMs = 0): Promise<boolean> {
    if (predicate()) return true;
    const until = this.#now + maxMs;
    const held = await this.#run(until, predicate, checkEveryMs);
    if (!held) this.#now = Math.max(this.#now, until);
    return held;
  }

  async #run(until: number, predicate: (() => boolean) | undefined, checkEveryMs: number): Promise<boolean> {
    if (this.#running) throw new Error("the sim clock is already running (runFor/runUntil do not nest)");
    this.#running = true;
    try {
      let sinceYield = 0;
      let lastCheck = this.#now;
      await drained(); // continuations of whatever the caller did before running the clock
      for (;;) {
        const top = this.#peek();
        if (top === undefined || top.at > until) return false;
        this.#pop();
        const fn = top.fn!;
        top.fn = undefined;
        this.#now = top.at;
        this.#fired++;
        try {
          fn();
        } catch (error) {
          throw new SimTimerError(`a timer callback threw at sim time ${this.#now} ms: ${(error as Error)?.stack ?? String(error)}`);
        }
        if (++sinceYield >= this.yieldEvery) {
          sinceYield = 0;
          await new Promise((resolve) => setImmediate(resolve));
        } else {
          await drained();
        }
        const next = this.#peek();
        if (predicate !== undefined && (next === undefined || next.at > this.#now) && this.#now - lastCheck >= checkEveryMs) {
          lastCheck = this.#now;
          if (predicate()) return true;
        }
      }
    } finally {
      this.#running = false;
    }
  }

  /** The next live timer (cancelled ones are dropped from the top). */
  #peek(): Timer | undefined {
    while (this.#heap.length > 0 && this.#heap[0]!.fn === undefined) this.#pop();
    return this.#heap[0];
  }

  #push(timer: Timer): void {
    const heap = this.#heap;
    heap.push(timer);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(timer, heap[parent]!)) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = timer;
  }

  #pop(): Timer | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last !== undefined) {
      let i = 0;
      const n = heap.length;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= n) break;
        const right = left + 1;
        const child = right < n && before(heap[right]!, heap[left]!) ? right : left;
        if (!before(heap[child]!, last)) break;
        heap[i] = heap[child]!;
        i = child;
      }
      heap[i] = last;
    }
    return top;
  }
}

const before = (a: Timer, b: Timer): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq);

/**
 * Resolves once every microtask queued so far, and every one they queue, has run: Node runs a `nextTick`
 * callback only when the microtask queue is empty.
 */
const drained = (): Promise<void> => new Promise((resolve) => process.nextTick(resolve));
