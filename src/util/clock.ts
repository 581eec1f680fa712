/**
 * Time as protocol logic sees it: passed in, so that membership and failure detection run on a simulated clock
 * in tests (thousands of members, minutes of protocol time, no sleeps) and on the real one in nodes.
 */
export interface Clock {
  /** Milliseconds on a monotonic clock (`performance.now()` for the real one). */
  now(): number;
  /** Runs `fn` once after `ms`; the handle cancels it. Real timers are unref'd: they never keep a process up. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
}

/** An opaque timer handle of a `Clock`. */
export type TimerHandle = { readonly __timer: unique symbol } | object;

export const realClock: Clock = {
  now: () => performance.now(),
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, ms);
    (timer as { unref?: () => void }).unref?.();
    return timer as unknown as TimerHandle;
  },
  clearTimeout(handle) {
    if (handle !== undefined) clearTimeout(handle as unknown as ReturnType<typeof setTimeout>);
  },
};

/** Calls `fn` every `ms` on `clock` until the returned function is called. */
export function every(clock: Clock, ms: number, fn: () => void): () => void {
  let handle: TimerHandle | undefined;
  let stopped = false;
  const tick = (): void => {
    if (stopped) return;
    handle = clock.setTimeout(tick, ms);
    fn();
  };
  handle = clock.setTimeout(tick, ms);
  return () => {
    stopped = true;
    clock.clearTimeout(handle);
  };
}
