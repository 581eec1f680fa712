/** Longest delay timers take (2^31 − 1 ms, about 24.8 days); longer ones fire at once. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/**
 * `AbortSignal.timeout(ms)` for computed delays: `AbortSignal.timeout` throws a `RangeError` for a fraction (a
 * probe timeout stretched by a lag multiplier, three quarters of one), which made every such probe fail at once
 * and set off waves of false suspicions. Rounded up, and clamped to what timers take.
 */
export function timeoutSignal(ms: number): AbortSignal {
  return AbortSignal.timeout(Number.isFinite(ms) ? Math.min(MAX_DELAY_MS, Math.max(0, Math.ceil(ms))) : MAX_DELAY_MS);
}

/** How late a timer may fire before its loop counts as having been blocked. */
const LAG_SLACK_MS = 100;

/**
 * Calls `fn` once `ms` of this event loop's own time has passed. A timer that fires late by more than 100 ms means
 * the loop was blocked meanwhile — on a machine too busy to run it (a hundred nodes joining on two cores), where a
 * peer's answer may already be waiting unread — so it is re-armed for the time lost, up to `maxMs` after the start
 * in all. On time, it is a plain timeout. Returns the cancel.
 */
export function lagTolerantTimeout(fn: () => void, ms: number, maxMs = 4 * ms): () => void {
  const start = performance.now();
  let due = start + ms;
  let timer: ReturnType<typeof setTimeout>;
  const arm = (delay: number): void => {
    timer = setTimeout(fire, Math.max(0, Math.ceil(delay)));
    (timer as { unref?: () => void }).unref?.(); // the connection or call it guards keeps the process alive, not this
  };
  const fire = (): void => {
    const now = performance.now();
    const late = now - due;
    const limit = start + maxMs;
    if (late > LAG_SLACK_MS && now < limit) {
      due = Math.min(now + late, limit);
      arm(due - now);
      return;
    }
    fn();
  };
  arm(ms);
  return () => clearTimeout(timer);
}

/** An `AbortSignal` that aborts (a `TimeoutError`, as `AbortSignal.timeout`'s) after `lagTolerantTimeout(ms, maxMs)`. */
export function lagTolerantSignal(ms: number, maxMs = 4 * ms): AbortSignal {
  const controller = new AbortController();
  lagTolerantTimeout(() => controller.abort(new DOMException("The operation was aborted due to timeout", "TimeoutError")), ms, maxMs);
  return controller.signal;
}

/**
 * `promise`, or a rejection with `expired()` after `ms` (clamped to what timers take; `promise` goes on, its own
 * outcome then unobserved).
 */
export function within<V>(promise: Promise<V>, ms: number, expired: () => Error): Promise<V> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(expired()), Number.isFinite(ms) ? Math.min(MAX_DELAY_MS, Math.max(0, Math.ceil(ms))) : MAX_DELAY_MS);
    promise.then(
      (value) => (clearTimeout(timer), resolve(value)),
      (error: unknown) => (clearTimeout(timer), reject(error)),
    );
  });
}
