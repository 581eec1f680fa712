/**
 * The last `capacity` distinct values added, for "seen before?" checks on a hot path: the oldest is forgotten in
 * O(1) through a ring of insertion order. (Evicting with `set.delete(set.values().next().value)` looks O(1) but is
 * not in V8: after many deletions at a Set's head, iterating from its start walks over their holes — measured 4×
 * slower at 4,096 entries.)
 */
export class RecentSet<T> {
  readonly #values = new Set<T>();
  readonly #ring: Array<T | undefined>;
  #next = 0;

  constructor(capacity: number) {
    this.#ring = new Array<T | undefined>(Math.max(1, capacity));
  }

  has(value: T): boolean {
    return this.#values.has(value);
  }

  /** Adds `value` (forgetting the oldest when full); false when it was there already. */
  add(value: T): boolean {
    if (this.#values.has(value)) return false;
    const oldest = this.#ring[this.#next];
    if (oldest !== undefined) this.#values.delete(oldest);
    this.#ring[this.#next] = value;
    this.#next = (this.#next + 1) % this.#ring.length;
    this.#values.add(value);
    return true;
  }

  get size(): number {
    return this.#values.size;
  }
}
