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
