import { every, realClock, type Clock } from "../util/clock.js";

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
  #stopTimer: (() => void) | undefined;
  readonly #clock: Clock;

  constructor(intervalMs = 100, max = 8, clock: Clock = realClock) {
    this.#intervalMs = intervalMs;
    this.#max = max;
    this.#clock = clock;
  }

  start(): void {
    this.#expected = this.#clock.now() + this.#intervalMs;
    this.#stopTimer = every(this.#clock, this.#intervalMs, () => this.#tick());
  }

  stop(): void {
    this.#stopTimer?.();
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
    const now = this.#clock.now();
    const late = Math.max(0, now - this.#expected);
    this.#expected = now + this.#intervalMs;
    // Late by a whole interval or more: score up fast; on time: decay.
    this.#score = Math.max(0, this.#score * 0.8 + late / this.#intervalMs - 0.05);
  }
}
