/**
 * Lifeguard-style self-awareness: a node that notices it is itself slow (its timers fire late, its event loop is
 * backed up) widens its own timeouts instead of accusing others, whose silence may only be its own lateness.
 * `multiplier` is 1 when healthy and grows with recent timer lateness (at most `max`).
 */
export class LocalHealth {
  readonly #intervalMs: number;
  readonly #max: number;
  #score = 0;
  #expected = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(intervalMs = 100, max = 8) {
    this.#intervalMs = intervalMs;
    this.#max = max;
  }

  start(): void {
    this.#expected = performance.now() + this.#intervalMs;
    this.#timer = setInterval(() => this.#tick(), this.#intervalMs);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
  }

  /** How much to widen timeouts now. */
  get multiplier(): number {
    return 1 + Math.min(this.#max - 1, this.#score);
  }

  /** Recent event-loop lag, in ms (for load reports). */
  get lagMs(): number {
    return this.#score * this.#intervalMs;
  }

  #tick(): void {
    const now = performance.now();
    const late = Math.max(0, now - this.#expected);
    this.#expected = now + this.#intervalMs;
    // Late by a whole interval or more: score up fast; on time: decay.
    this.#score = Math.max(0, this.#score * 0.8 + late / this.#intervalMs - 0.05);
  }
}
