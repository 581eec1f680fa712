/**
 * A FIFO queue on a power-of-two ring buffer: O(1) push and shift without the array shrinking that
 * `shift()`/`length = 0` cost on every message of a hot mailbox.
 */
export class Deque<T> {
  #items: Array<T | undefined> = new Array(16);
  #mask = 15;
  #head = 0;
  #tail = 0;

  get length(): number {
    return this.#tail - this.#head;
  }

  push(item: T): void {
    if (this.#tail - this.#head > this.#mask) this.#grow();
    this.#items[this.#tail++ & this.#mask] = item;
  }

  shift(): T | undefined {
    if (this.#head === this.#tail) return undefined;
    const index = this.#head++ & this.#mask;
    const item = this.#items[index];
    this.#items[index] = undefined;
    if (this.#head === this.#tail) this.#head = this.#tail = 0;
    return item;
  }

  peek(): T | undefined {
    return this.#head === this.#tail ? undefined : this.#items[this.#head & this.#mask];
  }

  /** Removes and returns everything, oldest first. */
  drain(): T[] {
    const out: T[] = [];
    for (let item = this.shift(); item !== undefined; item = this.shift()) out.push(item);
    return out;
  }

  #grow(): void {
    const size = this.#mask + 1;
    const next = new Array<T | undefined>(size * 2);
    for (let i = 0; i < size; i++) next[i] = this.#items[(this.#head + i) & this.#mask];
    this.#items = next;
    this.#mask = size * 2 - 1;
    this.#tail = size;
    this.#head = 0;
  }
}
