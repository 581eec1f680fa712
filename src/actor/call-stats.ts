/**
 * Calls, errors and call latency per actor class on one node (the system actor's `getMetrics().classes`, the seed's
 * `/metrics`). One object per class, shared by its actors' cells and kept after they stop, so the counts only grow.
 */

/** Upper bounds (ms) of the latency buckets; a last bucket takes the rest. Few buckets: one comparison for most calls. */
export const LATENCY_BOUNDS_MS: readonly number[] = [1, 5, 25, 100, 500, 2_500];

/**
 * One call in `TIMED_EVERY` per actor is timed (its first call among them). A clock read costs about a fifth of a
 * local call, and a call needs two: timing every call would slow the local call path measurably.
 */
export const TIMED_EVERY = 8;
/** `processed & TIMED_MASK === 1` picks the timed calls (`TIMED_EVERY` is a power of two). */
export const TIMED_MASK = TIMED_EVERY - 1;

export class CallStats {
  readonly className: string;
  /** Calls started (taken from the mailbox and dispatched to a method). */
  calls = 0;
  /** Calls that failed (a thrown error, a rejected promise, a failed stream). */
  errors = 0;
  /** Timed calls per latency bucket (`LATENCY_BOUNDS_MS`, then the rest). */
  readonly latency = new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0);
  latencySumMs = 0;

  constructor(className: string) {
    this.className = className;
  }

  /** A timed call took `ms` (from its method's start to its result; for a stream, until the method returned it). */
  observe(ms: number): void {
    this.latencySumMs += ms;
    let i = 0;
    while (i < LATENCY_BOUNDS_MS.length && ms > LATENCY_BOUNDS_MS[i]!) i++;
    this.latency[i]!++;
  }
}
